"""``paxsilica risk``: the metric tables (items, bottlenecks, coalition) as table, CSV or JSON."""

from __future__ import annotations

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
    concentration,
    country_knockouts,
    import_risk,
    stage_concentration,
    supply_risk,
)
from ..metrics._common import parse_codes, require_group
from .common import OutputFormat, console, current_atlas, emit

app = typer.Typer(help="Concentration, coalition exposure and bottlenecks of the AI stack.",
                  no_args_is_help=True)

Fmt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")]
Coalition = Annotated[str, typer.Option("--coalition", help="Coalition group id.")]
Date = Annotated[str | None, typer.Option("--date", help="Membership as of YYYY-MM-DD (default: latest).")]
Add = Annotated[str, typer.Option("--add", help="What-if: countries joining, e.g. NLD,TWN,IND.")]
Target = Annotated[str, typer.Option("--target", help="Target item of the bottleneck analysis.")]
Level = Annotated[str, typer.Option("--level", help="country or firm.")]
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


@app.command("items")
def items_cmd(fmt: Fmt = OutputFormat.table, coalition: Coalition = DEFAULT_COALITION,
              date: Date = None, add: Add = "", level: Level = "country", top: Top = None,
              stages: Annotated[bool, typer.Option("--stages", help="Aggregate per stage.")] = False,
              eu: Annotated[bool, typer.Option("--eu-sr", help="EU supply-risk table instead.")] = False,
              consumer: Annotated[str | None, typer.Option("--consumer", help="Import risk of this country (needs trade data).")] = None,
              ) -> None:
    """Per item: HHI, top producers, governance-weighted HHI, coalition share and flags."""
    atlas = current_atlas()
    require_group(atlas, coalition)
    if consumer:
        df = import_risk(atlas, [consumer])
        if fmt == OutputFormat.table:
            df = _pctcols(df[["item", "year", "measure", "imports", "import_reliance", "top_supplier",
                              "top_supplier_share", "hhi", "import_risk"]],
                          ["import_reliance", "top_supplier_share"])
        emit(df, fmt, title=f"Import risk of {consumer.upper()}", max_rows=top)
        return
    if eu:
        df = supply_risk(atlas)
        if fmt == OutputFormat.table:
            df = df[["item", "hhi_wgi_gs", "hhi_wgi_eu", "import_reliance_eu", "eol_rir",
                     "substitution_index", "sr", "sr_gs_bound", "missing"]].round(3)
            df["missing"] = df["missing"].str.replace("hhi_wgi_eu_sourcing", "eu_sourcing")
        emit(df, fmt, title="EU supply risk (SR)", max_rows=top)
        return
    if stages:
        c = stage_concentration(atlas, level)
        e = coalition_by_stage(coalition_exposure(atlas, coalition, date, add, level))
        df = c.merge(e.drop(columns=["n_items", "n_spof"]), on="stage", how="left")
        emit(df if fmt != OutputFormat.table else _pctcols(df, ["coalition_share_mean", "coalition_share_min"]),
             fmt, title="Per stage", max_rows=top)
        return
    c = concentration(atlas, level)
    e = coalition_exposure(atlas, coalition, date, add, level)
    df = c.merge(e[["item", "coalition_share", "largest_outside", "largest_outside_share", "coercive"]],
                 on="item", how="left")
    if fmt == OutputFormat.table:
        df = _pctcols(df[["item", "top1", "top1_share", "hhi", "hhi_wgi", "coalition_share",
                          "largest_outside", "largest_outside_share", "spof", "coercive"]],
                      ["top1_share", "coalition_share", "largest_outside_share"])
    emit(df, fmt, title=f"Items ({level} level; coalition {coalition})", max_rows=top)


@app.command("bottlenecks")
def bottlenecks_cmd(fmt: Fmt = OutputFormat.table, target: Target = DEFAULT_TARGET,
                    level: Level = "country", top: Top = 30, coalition: Coalition = DEFAULT_COALITION,
                    date: Date = None, add: Add = "",
                    countries: Annotated[bool, typer.Option("--countries", help="Whole-country knock-outs instead.")] = False,
                    ) -> None:
    """Rank knock-outs upstream of the target by the share of the target's output lost."""
    atlas = current_atlas()
    if countries:
        require_group(atlas, coalition)
        df = country_knockouts(atlas, target, level, coalition=coalition, date=date, add=add)
        pc = ["loss", "largest_item_share"]
        title = f"Whole-country knock-outs: loss of {target}"
    else:
        df = bottlenecks(atlas, target, level)
        pc = ["producer_share", "loss"]
        title = f"Single knock-outs: loss of {target}"
    if fmt == OutputFormat.table:
        df = _pctcols(df.drop(columns=[c for c in ("name", "stage", "producer_country") if c in df]), pc)
    emit(df, fmt, title=title,
         max_rows=top if fmt == OutputFormat.table else None)


@app.command("coalition")
def coalition_cmd(fmt: Fmt = OutputFormat.table, coalition: Coalition = DEFAULT_COALITION,
                  date: Date = None, add: Add = "", target: Target = DEFAULT_TARGET,
                  level: Level = "country", top: Top = None) -> None:
    """Coalition share per item and flags; with --add, the what-if before/after and bottleneck losses."""
    atlas = current_atlas()
    require_group(atlas, coalition)
    if parse_codes(add):
        w = coalition_whatif(atlas, add, coalition, date, level)
        emit(_pctcols(w.drop(columns=["name", "stage"]),
                      ["coalition_share_before", "coalition_share_after", "gain"])
             if fmt == OutputFormat.table else w, fmt, title=f"What if {add} joined {coalition}",
             max_rows=top)
        if fmt == OutputFormat.table:
            cb = coalition_bottlenecks(atlas, coalition, date, add, target, level)
            emit(_pctcols(cb, ["autarky_loss", "worst_outsider_loss"]), fmt,
                 title=f"Bottleneck losses of {target}")
        return
    e = coalition_exposure(atlas, coalition, date, (), level)
    if fmt == OutputFormat.table:
        e = _pctcols(e[["item", "coalition_share", "rest_share", "largest_outside",
                        "largest_outside_share", "top1", "top1_share", "spof", "coercive"]],
                     ["coalition_share", "rest_share", "largest_outside_share", "top1_share"])
    emit(e, fmt, title=f"Coalition {coalition}" + (f" as of {date}" if date else ""), max_rows=top)
    if fmt == OutputFormat.table:
        console.print("[dim]shares in %; spof = top producer ≥ 65 % or HHI ≥ 2,500; coercive = a "
                      "non-member ≥ 50 %[/dim]")
