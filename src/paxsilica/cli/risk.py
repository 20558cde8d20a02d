"""``paxsilica risk``: the metric tables (items, bottlenecks, coalition) as table, CSV or JSON.

The tables are computed by :mod:`paxsilica.services.measures`; this module parses options, picks
and rounds the columns shown in table format, and prints.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..services import measures
from ..services.measures import BottlenecksRequest, CoalitionRequest, ItemsRequest
from .common import OutputFormat, console, context, current_atlas, emit

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
Top = Annotated[int | None, typer.Option("--top", min=0, help="Rows shown in table format (default: all).")]


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
    view = ("import" if consumer else "coercion" if coercion else "eu" if eu else "stages" if stages
            else "items")
    res = measures.items(context(current_atlas()),
                ItemsRequest(view, coalition, date, add, LevelChoice(level).value, allies, consumer,
                             MethodChoice(method).value))
    df = res.table
    if fmt == OutputFormat.table:
        df = _table_view(res.kind, df)
    emit(df, fmt, title=res.title, max_rows=top)
    if fmt == OutputFormat.table and res.kind == "items":
        console.print("[dim]tier: member / partner (guests, --allies) / other; other ≥ 50% = one supplier "
                      "of the other tier holds half; stale = figure more than 5 years old[/dim]")


def _table_view(kind: str, df):  # type: ignore[no-untyped-def]
    """The columns of an items listing shown in table format, rounded."""
    if kind == "import":
        df = _pctcols(df[["item", "year", "import_risk", "import_reliance", "top_supplier",
                          "top_supplier_share", "imports", "hhi", "gov_imputed"]],
                      ["import_reliance", "top_supplier_share"])
        return df.rename(columns={"imports": "imports_t"})
    if kind == "coercion":
        return _pctcols(df[["item", "coercion_risk", "top_coercer", "top_coercer_share", "restricted_by"]],
                        ["top_coercer_share"])
    if kind == "eu":
        df = df[["item", "sr", "sr_gs_bound", "hhi_wgi_gs", "hhi_wgi_eu", "import_reliance_eu", "eol_rir",
                 "substitution_index", "missing"]].round(3)
        df["missing"] = df["missing"].str.replace("hhi_wgi_eu_sourcing", "eu_sourcing").str.replace(";", " ")
        return df
    if kind == "stages":
        return _pctcols(df[["stage", "n_items", "hhi_mean", "hhi_max", "n_spof", "coalition_share_mean",
                            "coalition_share_min", "n_nonmember_dependency", "n_other_dependency"]],
                        ["coalition_share_mean", "coalition_share_min"])
    return _pctcols(df[["item", "year", "top1", "top1_share", "hhi", "coalition_share", "largest_outside",
                        "largest_outside_tier", "largest_outside_share", "spof", "other_dependency",
                        "stale", "hhi_wgi"]],
                    ["top1_share", "coalition_share", "largest_outside_share"])


@app.command("bottlenecks")
def bottlenecks_cmd(fmt: Fmt = OutputFormat.table, target: Target = DEFAULT_TARGET,
                    level: Level = LevelChoice.country,
                    top: Annotated[int, typer.Option("--top", min=0, help="Rows shown in table format.")] = 30,
                    coalition: Coalition = DEFAULT_COALITION,
                    date: Date = None, add: Add = "",
                    countries: Annotated[bool, typer.Option("--countries", help="Whole-country knock-outs instead.")] = False,
                    ) -> None:
    """Rank knock-outs upstream of the target by the share of the target's output lost."""
    res = measures.bottlenecks(context(current_atlas()),
                      BottlenecksRequest(target, LevelChoice(level).value, countries, coalition, date, add))
    df = res.table
    if fmt == OutputFormat.table:
        pc = ["loss", "largest_item_share"] if countries else ["producer_share", "loss"]
        df = _pctcols(df.drop(columns=[c for c in ("name", "stage", "producer_country") if c in df]), pc)
    emit(df, fmt, title=res.title, max_rows=top if fmt == OutputFormat.table else None)


@app.command("coalition")
def coalition_cmd(fmt: Fmt = OutputFormat.table, coalition: Coalition = DEFAULT_COALITION,
                  date: Date = None, add: Add = "", target: Target = DEFAULT_TARGET,
                  level: Level = LevelChoice.country, top: Top = None, allies: Allies = "") -> None:
    """Coalition share per item and flags; with --add, the what-if before/after and bottleneck losses."""
    table = fmt == OutputFormat.table
    res = measures.coalition(context(current_atlas()),
                    CoalitionRequest(coalition, date, add, target, LevelChoice(level).value, allies,
                                     with_bottlenecks=table))
    if res.kind == "whatif":
        w = res.table
        emit(_pctcols(w.drop(columns=["name", "stage"]),
                      ["coalition_share_before", "coalition_share_after", "gain"])
             if table else w, fmt, title=res.title, max_rows=top)
        if table:
            emit(_pctcols(res.extra["bottlenecks"], ["autarky_loss", "worst_outsider_loss"]), fmt,
                 title=f"Bottleneck losses of {target}")
        return
    e = res.table
    if table:
        e = _pctcols(e[["item", "coalition_share", "partner_share", "largest_outside", "largest_outside_tier",
                        "largest_outside_share", "rest_share", "spof", "other_dependency"]],
                     ["coalition_share", "partner_share", "rest_share", "largest_outside_share"])
    emit(e, fmt, title=res.title, max_rows=top)
    if table:
        console.print("[dim]shares in %; spof = top producer ≥ 65 % or HHI ≥ 2,500; tier: member / "
                      "partner (guests, --allies) / other; other ≥ 50% = one other-tier supplier holds half[/dim]")
