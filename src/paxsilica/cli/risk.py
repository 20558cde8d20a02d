"""``paxsilica risk``: the metric tables (items, bottlenecks, coalition) as table, CSV or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ..metrics import (
    DEFAULT_COALITION,
    DEFAULT_TARGET,
    bottlenecks,
    coalition_bottlenecks,
    coalition_by_stage,
    coalition_exposure,
    coalition_whatif,
    coercion_risk,
    concentration,
    country_knockouts,
    import_risk,
    stage_concentration,
    supply_risk,
)
from ..metrics._common import parse_codes, require_countries, require_group, require_item
from .common import OutputFormat, console, current_atlas, emit

app = typer.Typer(help="Concentration, coalition exposure and bottlenecks of the AI stack.",
                  no_args_is_help=True)


class LevelChoice(StrEnum):
    """Production level."""

    country = "country"
    firm = "firm"


class MethodChoice(StrEnum):
    """Exporter instability of the import risk."""

    wgi_mean = "wgi_mean"
    geopolrisk = "geopolrisk"


Fmt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")]
Coalition = Annotated[str, typer.Option("--coalition", help="Coalition group id.")]
Date = Annotated[str | None, typer.Option("--date", help="Membership as of YYYY-MM-DD (default: latest).")]
Add = Annotated[str, typer.Option("--add", help="What-if: countries joining (ISO3), e.g. NLD,TWN,IND.")]
Allies = Annotated[str, typer.Option("--allies", help="Groups whose members count as partners, e.g. oecd,eu27,g7 "
                                     "(the coalition's guests always do).")]
Target = Annotated[str, typer.Option("--target", help="Target item of the bottleneck analysis.")]
Level = Annotated[LevelChoice, typer.Option("--level", help="country or firm.")]
Top = Annotated[int | None, typer.Option("--top", help="Rows shown in table format (default: all).")]


def _pctcols(df, cols):  # type: ignore[no-untyped-def]
    """Round fraction columns for display in table format only."""
    df = df.copy()
    for c in ("hhi", "hhi_upper", "hhi_max", "hhi_mean"):
        if c in df:
            df[c] = df[c].astype("float64").round().astype("Int64")
    for c in ("hhi_wgi",):
        if c in df:
            df[c] = df[c].astype("float64").round(2)
    for c in cols:
        if c in df:
            df[c] = (100 * df[c].astype("float64")).round(1)
    return df.rename(columns={c: f"{c}_%" for c in cols if c in df})


def _check(atlas, coalition: str | None = None, add: str = "", allies: str = "",  # type: ignore[no-untyped-def]
           target: str | None = None) -> tuple[str, ...]:
    if coalition is not None and not (parse_codes(add) and coalition not in
                                      set(atlas["groups"]["group"].dropna().astype(str))):
        require_group(atlas, coalition)
    require_countries(atlas, add)
    groups = tuple(g.strip() for g in allies.split(",") if g.strip())
    for g in groups:
        require_group(atlas, g)
    if target is not None:
        require_item(atlas, target)
    return groups


@app.command("items")
def items_cmd(fmt: Fmt = OutputFormat.table, coalition: Coalition = DEFAULT_COALITION,
              date: Date = None, add: Add = "", level: Level = LevelChoice.country, top: Top = None,
              allies: Allies = "",
              stages: Annotated[bool, typer.Option("--stages", help="Aggregate per stage.")] = False,
              eu: Annotated[bool, typer.Option("--eu-sr", help="EU supply-risk table instead.")] = False,
              consumer: Annotated[str | None, typer.Option("--consumer", help="Import risk of this country (ISO3; needs trade data).")] = None,
              method: Annotated[MethodChoice, typer.Option("--method", help="Import risk: wgi_mean (governance "
                                                           "risk) or geopolrisk (political stability, as published).")]
              = MethodChoice.wgi_mean,
              coercion: Annotated[bool, typer.Option("--coercion", help="Coercion-risk table instead.")] = False,
              ) -> None:
    """Per item: HHI, top producers, governance-weighted HHI, coalition share, supplier tier and flags."""
    atlas = current_atlas()
    groups = _check(atlas, coalition, add, allies)
    lv = LevelChoice(level).value
    if consumer:
        (code,) = require_countries(atlas, consumer, "country") or ("",)
        df = import_risk(atlas, [code], method=MethodChoice(method).value)
        if fmt == OutputFormat.table:
            df = _pctcols(df[["item", "year", "import_risk", "import_reliance", "top_supplier",
                              "top_supplier_share", "imports", "hhi", "gov_imputed"]],
                          ["import_reliance", "top_supplier_share"])
            df = df.rename(columns={"imports": "imports_t"})
        emit(df, fmt, title=f"Import risk of {code} ({MethodChoice(method).value})", max_rows=top)
        return
    if coercion:
        df = coercion_risk(atlas, date)
        if fmt == OutputFormat.table:
            df = _pctcols(df[["item", "coercion_risk", "top_coercer", "top_coercer_share", "restricted_by"]],
                          ["top_coercer_share"])
        emit(df, fmt, title="Coercion risk (governance × restriction record)", max_rows=top)
        return
    if eu:
        df = supply_risk(atlas)
        if fmt == OutputFormat.table:
            df = df[["item", "sr", "sr_gs_bound", "hhi_wgi_gs", "hhi_wgi_eu", "import_reliance_eu", "eol_rir",
                     "substitution_index", "missing"]].round(3)
            df["missing"] = df["missing"].str.replace("hhi_wgi_eu_sourcing", "eu_sourcing").str.replace(";", " ")
        emit(df, fmt, title="EU supply risk (SR)", max_rows=top)
        return
    if stages:
        c = stage_concentration(atlas, lv)
        e = coalition_by_stage(coalition_exposure(atlas, coalition, date, add, lv, allies=groups))
        df = c.merge(e.drop(columns=["n_items", "n_spof"]), on="stage", how="left")
        if fmt == OutputFormat.table:
            df = _pctcols(df[["stage", "n_items", "hhi_mean", "hhi_max", "n_spof", "coalition_share_mean",
                              "coalition_share_min", "n_nonmember_dependency", "n_other_dependency"]],
                          ["coalition_share_mean", "coalition_share_min"])
        emit(df, fmt, title="Per stage", max_rows=top)
        return
    c = concentration(atlas, lv)
    e = coalition_exposure(atlas, coalition, date, add, lv, allies=groups)
    df = c.merge(e[["item", "coalition_share", "largest_outside", "largest_outside_share",
                    "largest_outside_tier", "nonmember_dependency", "other_dependency"]],
                 on="item", how="left")
    if fmt == OutputFormat.table:
        df = _pctcols(df[["item", "year", "top1", "top1_share", "hhi", "coalition_share", "largest_outside",
                          "largest_outside_tier", "largest_outside_share", "spof", "other_dependency",
                          "stale", "hhi_wgi"]],
                      ["top1_share", "coalition_share", "largest_outside_share"])
    emit(df, fmt, title=f"Items ({lv} level; coalition {coalition})", max_rows=top)
    if fmt == OutputFormat.table:
        console.print("[dim]tier: member / partner (guests, --allies) / other; other ≥ 50% = one supplier "
                      "of the other tier holds half; stale = figure more than 5 years old[/dim]")


@app.command("bottlenecks")
def bottlenecks_cmd(fmt: Fmt = OutputFormat.table, target: Target = DEFAULT_TARGET,
                    level: Level = LevelChoice.country,
                    top: Annotated[int, typer.Option("--top", help="Rows shown in table format.")] = 30,
                    coalition: Coalition = DEFAULT_COALITION,
                    date: Date = None, add: Add = "",
                    countries: Annotated[bool, typer.Option("--countries", help="Whole-country knock-outs instead.")] = False,
                    ) -> None:
    """Rank knock-outs upstream of the target by the share of the target's output lost."""
    atlas = current_atlas()
    _check(atlas, coalition if countries else None, add, target=target)
    lv = LevelChoice(level).value
    if countries:
        df = country_knockouts(atlas, target, lv, coalition=coalition, date=date, add=add)
        pc = ["loss", "largest_item_share"]
        title = f"Whole-country knock-outs: loss of {target}"
    else:
        df = bottlenecks(atlas, target, lv)
        pc = ["producer_share", "loss"]
        title = f"Single knock-outs: loss of {target}"
    if fmt == OutputFormat.table:
        df = _pctcols(df.drop(columns=[c for c in ("name", "stage", "producer_country") if c in df]), pc)
    emit(df, fmt, title=title,
         max_rows=top if fmt == OutputFormat.table else None)


@app.command("coalition")
def coalition_cmd(fmt: Fmt = OutputFormat.table, coalition: Coalition = DEFAULT_COALITION,
                  date: Date = None, add: Add = "", target: Target = DEFAULT_TARGET,
                  level: Level = LevelChoice.country, top: Top = None, allies: Allies = "") -> None:
    """Coalition share per item and flags; with --add, the what-if before/after and bottleneck losses."""
    atlas = current_atlas()
    groups = _check(atlas, coalition, add, allies, target)
    lv = LevelChoice(level).value
    if parse_codes(add):
        w = coalition_whatif(atlas, add, coalition, date, lv, allies=groups)
        emit(_pctcols(w.drop(columns=["name", "stage"]),
                      ["coalition_share_before", "coalition_share_after", "gain"])
             if fmt == OutputFormat.table else w, fmt, title=f"What if {add} joined {coalition}",
             max_rows=top)
        if fmt == OutputFormat.table:
            cb = coalition_bottlenecks(atlas, coalition, date, add, target, lv)
            emit(_pctcols(cb, ["autarky_loss", "worst_outsider_loss"]), fmt,
                 title=f"Bottleneck losses of {target}")
        return
    e = coalition_exposure(atlas, coalition, date, (), lv, allies=groups)
    if fmt == OutputFormat.table:
        e = _pctcols(e[["item", "coalition_share", "partner_share", "largest_outside", "largest_outside_tier",
                        "largest_outside_share", "rest_share", "spof", "other_dependency"]],
                     ["coalition_share", "partner_share", "rest_share", "largest_outside_share"])
    emit(e, fmt, title=f"Coalition {coalition}" + (f" as of {date}" if date else ""), max_rows=top)
    if fmt == OutputFormat.table:
        console.print("[dim]shares in %; spof = top producer ≥ 65 % or HHI ≥ 2,500; tier: member / "
                      "partner (guests, --allies) / other; other ≥ 50% = one other-tier supplier holds half[/dim]")
