"""The briefing's "Plans" section: what to do, and against what (built here, shown by the briefing).

:func:`build_plans` runs four small plans on the built-in stress scenarios for the coalition — CVaR
sourcing, the stockpile for a 1 % tolerance in every scenario (without the stress check, which the
``paxsilica plan stockpile`` command runs), the three most valuable partners and the k-worst
disruptions for k = 1-3 — and returns plain, formatted data. The briefing (:mod:`paxsilica.report.briefing`)
keeps it in ``Briefing.plans`` and renders it with ``templates/plans.html.j2`` or :func:`plans_markdown`.

Examples
--------
>>> plans_markdown(None)
[]
>>> plans_markdown({"error": "no production rows"})[-1]
'Not computed: no production rows.'
"""

from __future__ import annotations

from typing import Any

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET

__all__ = ["PLANS_METHOD", "build_plans", "plans_markdown"]

PLANS_METHOD = (
    "Plans are linear and mixed-integer programs solved with HiGHS (docs/planning.md). Sourcing minimizes the "
    "CVaR at 95 % of the coalition's shortfall at the target over the built-in scenarios (Rockafellar & "
    "Uryasev 2000), with at most 65 % from one source (EU CRMA benchmark) where capacity allows; the stockpile "
    "is the cheapest stock keeping the shortfall at or under 1 % in every scenario (holding cost 25 % of value a "
    "year, an assumption, range 15-35 %); partner value is the CVaR removed if a country joins; the worst case "
    "is a network-interdiction MILP (Wood 1993; Brown et al. 2006) over sites, countries and chokepoints.")


def _pct(v: float) -> str:
    return f"{100 * float(v):.1f} %"


def build_plans(atlas: Any, coalition: str = DEFAULT_COALITION, target: str = DEFAULT_TARGET,
                scenarios: list[str] | None = None, partners_top: int = 3) -> dict[str, Any]:
    """The section's data: ``sourcing``, ``stockpile``, ``partners``, ``worst`` (rows of strings),
    ``headline`` sentences, ``scenarios`` (label) and ``notes``; ``{"error": reason}`` when the atlas
    cannot carry a plan (the briefing says so instead of failing)."""
    from ..errors import PaxsilicaError

    try:
        return _build(atlas, coalition, target, scenarios, partners_top)
    except PaxsilicaError as e:
        return {"error": e.message, "method": PLANS_METHOD}


def _build(atlas: Any, coalition: str, target: str, scenarios: list[str] | None, partners_top: int) -> dict[str, Any]:
    from .base import supply_base
    from .interdiction import atlas_network, k_worst
    from .partners import partner_value
    from .scenarios import library_set, unavailability
    from .sourcing import optimize_sourcing
    from .stockpile import size_stockpile

    sset = library_set(scenarios)
    base = supply_base(atlas, coalition, coalition=coalition, target=target)
    u = unavailability(sset, base.sources, base.countries, atlas, base.hits, base.group_members)
    sp = optimize_sourcing(base.sources, u, prob=sset.prob, alpha=0.95, scenario_ids=sset.scenarios)
    mix = sp.mix.assign(delta=sp.mix["planned"] - sp.mix["current"])
    moves = mix[mix["delta"].abs() > 1e-4].reindex(mix["delta"].abs().sort_values(ascending=False).index).head(8)
    st = size_stockpile(base.sources, u, prob=sset.prob, horizon=sset.horizon, tolerance=0.01,
                        scenario_ids=sset.scenarios)
    stock = st.stock[st.stock["days"] > 0].sort_values("days", ascending=False).head(8)
    pv = partner_value(atlas, sset, coalition=coalition, target=target, top=partners_top, alpha=0.95, base=base)
    net, wnotes = atlas_network(atlas, target)
    worst = k_worst(net, (1, 2, 3), time_limit=30.0)
    b, a = sp.summary["before"], sp.summary["after"]
    headline = [
        f"Sourcing: the CVaR (95 %) of the coalition's shortfall falls from {_pct(b['cvar'])} to {_pct(a['cvar'])} "
        f"and the expected shortfall from {_pct(b['expected'])} to {_pct(a['expected'])} over {len(sset)} scenarios.",
        f"Stockpile: {int((st.stock['days'] > 0).sum())} item(s), worst-case shortfall from "
        f"{_pct(st.summary['before']['worst'])} to {_pct(st.summary['after']['worst'])}.",
    ]
    if len(pv):
        headline.append(f"Most valuable partner: {pv['name'].iloc[0]} (CVaR {_pct(pv['cvar_before'].iloc[0])} -> "
                        f"{_pct(pv['cvar_join'].iloc[0])} if it joins).")
    if len(worst):
        headline.append(f"Worst single disruption: {worst['attacks'].iloc[0]} ({_pct(worst['loss'].iloc[0])} of the "
                        "target).")
    return {
        "scenarios": (f"the {len(sset)} built-in stress scenarios" if scenarios is None
                      else ", ".join(sset.scenarios)), "headline": headline, "method": PLANS_METHOD,
        "sourcing": [{"item": r.item, "producer": r.producer, "current": _pct(r.current), "planned": _pct(r.planned)}
                     for r in moves.itertuples()],
        "stockpile": [{"item": r.item, "days": f"{r.days:.1f}", "cost": f"{r.cost:.3g}"} for r in stock.itertuples()],
        "stock_cost": f"{st.summary['cost']:.3g} {st.summary['cost_unit']}",
        "partners": [{"rank": int(r.rank), "name": r.name, "cvar_before": _pct(r.cvar_before),
                      "cvar_join": _pct(r.cvar_join), "reason": r.reason} for r in pv.itertuples()],
        "worst": [{"k": int(r.k), "loss": _pct(r.loss), "attacks": r.attacks} for r in worst.itertuples()],
        "notes": list(base.notes) + list(sp.notes) + list(wnotes),
    }


def plans_markdown(plans: dict[str, Any] | None) -> list[str]:
    """The section as Markdown lines (empty when there is no section)."""
    if not plans:
        return []
    if "error" in plans:
        return ["", "## Plans", "", f"Not computed: {plans['error']}."]
    L = ["", "## Plans", "", f"Scenarios: {plans['scenarios']}.", ""] + [f"- {h}" for h in plans["headline"]]

    def table(title: str, rows: list[dict[str, Any]], cols: list[str]) -> None:
        if not rows:
            return
        L.extend(["", f"### {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)])
        L.extend("| " + " | ".join(str(r[c]).replace("|", "\\|") for c in cols) + " |" for r in rows)

    table("Sourcing changes (largest first)", plans["sourcing"], ["item", "producer", "current", "planned"])
    table(f"Stockpile (cost {plans['stock_cost']})", plans["stockpile"], ["item", "days", "cost"])
    table("Partners", plans["partners"], ["rank", "name", "cvar_before", "cvar_join", "reason"])
    table("Worst case", plans["worst"], ["k", "loss", "attacks"])
    L += ["", plans["method"]]
    return L
