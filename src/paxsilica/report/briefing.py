"""The briefing: compute every measure for one coalition and target, then render HTML or Markdown.

:func:`build_briefing` is pure (Atlas + parameters -> :class:`Briefing` of DataFrames);
:func:`render_html` and :func:`render_markdown` turn a Briefing into one self-contained document
(inline CSS and SVG, no scripts, no external requests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..atlas import STAGES, Atlas
from ..atlas.schema import STAGE_ORDER
from ..bands import DEFAULT_DRAWS
from ..metrics import (
    DEFAULT_COALITION,
    DEFAULT_TARGET,
    DEPENDENCY_SHARE,
    SPOF_HHI,
    SPOF_TOP_SHARE,
    STALE_YEARS,
    bottlenecks,
    coalition_bottlenecks,
    coalition_by_stage,
    coalition_exposure,
    coalition_whatif,
    coercion_risk,
    concentration,
    country_knockouts,
    import_risk,
    latest_production,
    members,
    partners,
    restriction_events,
    supply_risk,
    tier_of,
)
from ..metrics._common import (
    country_names,
    governance,
    parse_codes,
    require_countries,
    require_group,
    require_item,
)
from ..stress import (
    DEFAULT_INVENTORY_DAYS,
    DEFAULT_TAU_DAYS,
    SURVIVE_THRESHOLD,
    Prepared,
    run_library,
)
from ..stress.run import warm_engine


@dataclass
class Briefing:
    """Everything the briefing shows, as data (DataFrames use fractions for shares)."""

    atlas_name: str
    atlas_version: str
    code_version: str
    generated: str
    coalition: str
    date: str | None
    target: str
    target_name: str
    for_iso3: str | None
    add: tuple[str, ...]
    members: tuple[str, ...]
    concentration: pd.DataFrame
    exposure: pd.DataFrame
    by_stage: pd.DataFrame
    bottlenecks: pd.DataFrame
    country_knockouts: pd.DataFrame
    coalition_bottlenecks: pd.DataFrame
    whatif: pd.DataFrame | None
    supply_risk: pd.DataFrame
    import_risk: pd.DataFrame
    dangers: pd.DataFrame
    production: pd.DataFrame
    sources: pd.DataFrame
    names: dict[str, str] = field(default_factory=dict)
    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    governance: dict[str, float] = field(default_factory=dict)
    item_sources: dict[str, str] = field(default_factory=dict)
    item_names: dict[str, str] = field(default_factory=dict)
    stress: pd.DataFrame | None = None
    """Built-in stress scenarios' results (:func:`paxsilica.stress.run_library`), None when not run."""
    stress_parameters: dict[str, Any] = field(default_factory=dict)
    partners: tuple[str, ...] = ()
    """Partner tier: the coalition's guests and members of the ``allies`` groups."""
    allies: tuple[str, ...] = ()
    coercion: pd.DataFrame | None = None
    """Per item coercion risk (:func:`paxsilica.metrics.coercion_risk`)."""
    restrictions: pd.DataFrame | None = None
    """Restriction events on record (:func:`paxsilica.metrics.restriction_events`)."""
    plans: dict[str, Any] | None = None
    """The "Plans" section (:func:`paxsilica.planning.briefing.build_plans`), None when not built."""
    risk: Any = None
    """The "Risk" section (:class:`paxsilica.montecarlo.briefing.RiskSection`), None when not run."""

    @property
    def spofs(self) -> pd.DataFrame:
        """Items flagged as single points of failure, most concentrated first."""
        e = self.exposure
        return e[e["spof"]].sort_values(["top1_share", "hhi"], ascending=False, kind="mergesort")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (records per table) for the API's twin of the briefing."""
        def rec(df: pd.DataFrame | None) -> list[dict]:
            if df is None:
                return []
            return df.astype(object).where(df.notna(), None).to_dict("records")
        meta = {k: getattr(self, k) for k in ("atlas_name", "atlas_version", "code_version",
                                              "generated", "coalition", "date", "target",
                                              "target_name", "for_iso3")}
        meta.update(add=list(self.add), members=list(self.members), partners=list(self.partners),
                    allies=list(self.allies))
        tables = {k: rec(getattr(self, k)) for k in (
            "dangers", "exposure", "by_stage", "bottlenecks", "country_knockouts",
            "coalition_bottlenecks", "whatif", "supply_risk", "import_risk", "sources",
            "coercion", "restrictions")}
        return {"meta": meta, **tables, "stress": stress_records(self.stress),
                "stress_parameters": dict(self.stress_parameters), "plans": self.plans,
                "risk": None if self.risk is None else self.risk.to_record()}


def stress_records(table: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """The stress table as JSON-ready records (``level``: list of floats; ``None`` for missing).

    ``None`` when the scenarios were not run (``--no-scenarios``).
    """
    if table is None:
        return None
    out = []
    for r in table.to_dict("records"):
        row: dict[str, Any] = {}
        for k, v in r.items():
            if isinstance(v, np.ndarray):
                v = [float(x) for x in v]
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not np.isfinite(v):
                v = None
            elif v is pd.NA:
                v = None
            row[k] = v
        out.append(row)
    return out


def build_briefing(atlas: Atlas, for_iso3: str | None = None, coalition: str = DEFAULT_COALITION,
                   date: str | dt.date | None = None, target: str = DEFAULT_TARGET,
                   add: Iterable[str] | str | None = (), top: int = 10,
                   generated: str | None = None, scenarios: Any = None, steps: int | None = None,
                   progress: Any = None, allies: Iterable[str] | str | None = (),
                   bands: int = DEFAULT_DRAWS, plans: bool = False, risk: Any = None) -> Briefing:
    """Compute every measure the briefing shows.

    Parameters
    ----------
    atlas : Atlas
    for_iso3 : str, optional
        Country the briefing is written for: adds its producer position, its knock-out cost and
        (with trade data) its import risk.
    coalition : str
        Group id in ``groups`` (default ``pax_silica``), membership as of ``date``. An unknown id
        raises NotFoundError, unless ``add`` is given (a hypothetical coalition).
    date : str or date, optional
        ``YYYY-MM-DD``; default: latest membership (no ``left`` date).
    target : str
        Item whose supply is protected (default ``ai_datacenter_capacity``).
    add : iso3 codes
        Hypothetical new members for the what-if section.
    top : int
        Length of the "most dangerous dependencies" list.
    generated : str, optional
        Date printed as the generation date (default: today).
    scenarios : True, list of names/paths/Scenario, or None
        Stress scenarios for the "Stress tests" section: ``True`` runs every built-in, a list those
        (:func:`paxsilica.stress.run_library`); ``None`` or ``False`` (default) leaves the section out.
        A scenario that does not fit the atlas is listed with the reason instead of its results.
    steps : int, optional
        Steps for every scenario (default: each scenario's horizon).
    bands : int
        Seeded draws of the stress model's parameter ranges for the uncertainty band of every stress
        result (:mod:`paxsilica.bands`; 0: central values only).
    progress : callable, optional
        Called with each scenario's name as it runs.
    allies : group ids
        Groups whose members count as partners (with the coalition's guests), e.g. ``oecd``.
    plans : bool
        Add the "Plans" section (:mod:`paxsilica.planning.briefing`; default False).
    risk : bool, dict or None
        The "Risk" section (:func:`paxsilica.montecarlo.briefing.risk_section`): ``True`` a default run,
        a dict its options (``draws``, ``seed``, ``run_dir``); ``None`` or ``False`` leaves it out.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"items": pd.DataFrame({"item": ["dc"], "name": ["DC"],
    ...     "stage": ["infrastructure"], "unit": ["MW"]})})
    >>> build_briefing(a, target="dc", coalition="my_group", add="USA").dangers.empty
    True
    """
    require_item(atlas, target)
    version = atlas.version
    if not parse_codes(add) or coalition in set(atlas["groups"]["group"].dropna().astype(str)):
        require_group(atlas, coalition)
    ally_list = tuple(dict.fromkeys(a.strip() for a in (allies.split(",") if isinstance(allies, str)
                                                         else (allies or ())) if a and a.strip()))
    for g in ally_list:
        require_group(atlas, g)
    for_iso3 = for_iso3.strip().upper() if for_iso3 else None
    if for_iso3:
        require_countries(atlas, for_iso3)
    require_countries(atlas, add)
    # the Plans section needs only the atlas: it is computed in a side process from the start, beside
    # the measures and the stress tests below (2 cores: the sections' CPU time overlaps). The views both
    # ask for are made first, so the child inherits them (atlas.memo) instead of computing them again.
    if plans:
        latest_production(atlas)
        country_knockouts(atlas, target, coalition=None)
    plans_part = Side(lambda: _plans(atlas, coalition, target)) if plans else None
    date_s = None if date is None else str(date)
    added = parse_codes(add)
    mem = members(atlas, coalition, date)
    par = partners(atlas, coalition, date, ally_list, member_set=mem)
    conc = concentration(atlas)
    expo = coalition_exposure(atlas, coalition, date, allies=ally_list)
    coer = coercion_risk(atlas, date)
    bott = bottlenecks(atlas, target)
    knock = country_knockouts(atlas, target, coalition=coalition, date=date)
    cb = coalition_bottlenecks(atlas, coalition, date, added, target)
    whatif = coalition_whatif(atlas, added, coalition, date) if added else None
    sr = supply_risk(atlas)
    ir = import_risk(atlas, [for_iso3]) if for_iso3 else import_risk(atlas, [])
    names = country_names(atlas)
    gov = governance(atlas)
    items = atlas["items"].drop_duplicates("item").set_index("item")
    target_name = str(items["name"].get(target, target))

    # Loss at the target when the item's top / largest-outside producer stops.
    loss_of = {(r.item, r.producer): float(r.loss) for r in bott.itertuples(index=False)}
    expo = expo.assign(
        top1_loss=[loss_of.get((i, p), 0.0) for i, p in zip(expo["item"], expo["top1"], strict=True)],
        outside_loss=[loss_of.get((i, p), 0.0)
                      for i, p in zip(expo["item"], expo["largest_outside"], strict=True)],
        hhi_wgi=expo["item"].map(conc.set_index("item")["hhi_wgi"]) if len(conc) else np.nan,
        stale=expo["item"].map(conc.set_index("item")["stale"]).fillna(False).astype(bool)
        if len(conc) else False,
        coercion_risk=expo["item"].map(coer.set_index("item")["coercion_risk"]) if len(coer) else np.nan,
    )
    dangers = expo[expo["largest_outside"].notna() & (expo["largest_outside_share"] > 0)].copy()
    dangers["governance_risk"] = dangers["largest_outside"].map(gov)
    dangers = dangers.sort_values(["outside_loss", "largest_outside_share", "item"],
                                  ascending=[False, False, True], kind="mergesort").head(top)
    dangers = dangers.reset_index(drop=True)

    stress = None
    stress_params: dict[str, Any] = {}
    # one network for the stress tests and the risk section (building it is seconds)
    prepared = Prepared(atlas, target=target, consumers="producers", year=None, lanes=None, version=version)
    risk_part = None
    if risk is not None and risk is not False:
        from ..montecarlo.briefing import risk_section

        kw = risk if isinstance(risk, dict) else {}
        if not kw.get("run_dir"):  # the default run's draws: in a side process sharing the built network
            prepared.network(1, None)
            warm_engine(prepared=prepared)  # the engine's compiled code, loaded once for every forked process
        risk_part = Side(lambda: risk_section(atlas, target, atlas_version=version, prepared=prepared, **kw),
                         fork=not kw.get("run_dir"))
    try:
        if scenarios is not None and scenarios is not False:
            stress = run_library(atlas, None if scenarios is True else list(scenarios), target=target, steps=steps,
                                 errors="note", progress=progress, atlas_version=version, bands=bands,
                                 prepared=prepared)
            stress_params = {"steps": steps, "inventory_days": DEFAULT_INVENTORY_DAYS,
                             "tau_days": DEFAULT_TAU_DAYS, "survive_threshold": SURVIVE_THRESHOLD,
                             "consumers": "producers", "bands": bands}
        risk_part = risk_part() if risk_part is not None else None
        plans_part = plans_part() if plans_part is not None else None
    except BaseException:
        for part in (risk_part, plans_part):
            if isinstance(part, Side):
                part.cancel()
        raise
    prod = latest_production(atlas)
    c = atlas["countries"]
    points = {str(i): (float(la), float(lo)) for i, la, lo in zip(c["iso3"], c["lat"], c["lon"], strict=True)
              if isinstance(i, str) and pd.notna(la) and pd.notna(lo)}
    return Briefing(
        atlas_name=atlas.name, atlas_version=version, code_version=__version__,
        generated=generated or dt.date.today().isoformat(), coalition=coalition, date=date_s,
        target=target, target_name=target_name, for_iso3=for_iso3, add=added,
        members=tuple(sorted(mem)), concentration=conc, exposure=expo,
        by_stage=coalition_by_stage(expo), bottlenecks=bott, country_knockouts=knock,
        coalition_bottlenecks=cb, whatif=whatif, supply_risk=sr, import_risk=ir, dangers=dangers,
        production=prod, sources=cited_sources(atlas), names=names, points=points, governance=gov,
        item_sources=item_sources(atlas), item_names={str(k): str(v) for k, v in items["name"].items()},
        stress=stress, stress_parameters=stress_params, partners=tuple(sorted(par)), allies=ally_list,
        coercion=coer, restrictions=restriction_events(atlas, date), risk=risk_part,
        plans=plans_part,
    )


class Side:
    """Start ``fn()`` in a forked process (it inherits this one's memory: nothing is pickled on the way
    in); calling the returned object waits for the result.

    The result comes back pickled. When the child fails (an error, or it died), ``fn()`` is run again in
    this process, so the caller gets the same result or the same error as without the side process.
    Where fork is not available (or ``fork=False``), ``fn()`` runs when its result is asked for.
    ``cancel()`` stops the child (the caller failed and will not ask). The child is a daemon: it cannot
    outlive this process.

    Examples
    --------
    >>> Side(lambda: 6 * 7)()
    42
    """

    def __init__(self, fn: Callable[[], Any], fork: bool = True) -> None:
        import multiprocessing as mp

        self.fn = fn
        self.proc: Any = None
        try:
            ctx = mp.get_context("fork") if fork else None
        except ValueError:
            ctx = None
        if ctx is None:
            return
        self.recv, send = ctx.Pipe(duplex=False)
        recv = self.recv

        def child() -> None:
            recv.close()
            try:
                out: Any = ("ok", fn())
            except BaseException:  # the parent recomputes it, and raises the error with its own traceback
                out = ("failed", None)
            try:
                send.send(out)
            except Exception:  # an unpicklable result: the parent recomputes it
                send.send(("failed", None))
            send.close()

        self.proc = ctx.Process(target=child, daemon=True)
        self.proc.start()
        send.close()

    def __call__(self) -> Any:
        if self.proc is None:
            return self.fn()
        try:
            kind, value = self.recv.recv()
        except EOFError:  # the child died
            kind, value = "failed", None
        finally:
            self.recv.close()
            self.proc.join()
            self.proc = None
        return value if kind == "ok" else self.fn()

    def cancel(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.join()
            self.recv.close()
            self.proc = None


def _plans(atlas: Atlas, coalition: str, target: str) -> dict[str, Any]:
    from ..planning.briefing import build_plans  # the section is built by the planning package

    return build_plans(atlas, coalition, target)


def cited_sources(atlas: Atlas) -> pd.DataFrame:
    """Every source the atlas's rows cite, with how many rows of which table cite it."""
    uses: dict[str, dict[str, int]] = {}
    for table in ("production", "recipes", "groups", "countries", "items", "trade", "firms",
                  "facilities", "stocks", "restrictions"):
        df = atlas[table]
        if "source" not in df.columns or df.empty:
            continue
        for s, n in df["source"].dropna().astype(str).value_counts().items():
            for one in str(s).split(";"):
                one = one.strip()
                if one:
                    uses.setdefault(one, {})[table] = uses.setdefault(one, {}).get(table, 0) + int(n)
    src = atlas["sources"].drop_duplicates("source").set_index("source")
    rows = []
    for sid in sorted(uses):
        r = src.loc[sid] if sid in src.index else None
        def g(col: str, r: Any = r) -> Any:
            if r is None or col not in r.index or pd.isna(r[col]):
                return None
            return r[col]
        rows.append({"source": sid, "publisher": g("publisher"), "title": g("title"),
                     "table": g("table"), "year": g("year"), "url": g("url"),
                     "licence": g("licence"), "accessed": g("accessed"), "kind": g("kind"),
                     "used_by": ", ".join(f"{t} ({n})" for t, n in uses[sid].items()),
                     "known": r is not None})
    return pd.DataFrame(rows, columns=["source", "publisher", "title", "table", "year", "url",
                                       "licence", "accessed", "kind", "used_by", "known"])


# --------------------------------------------------------------------------------------------
# Rendering


def pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
        return "–"
    p = 100 * float(x)
    return f"{p:.0f}%" if p >= 9.95 or p == 0 else f"{p:.1f}%"


def num(x: Any, digits: int = 0) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{float(x):,.{digits}f}"


def _summary_points(b: Briefing) -> list[str]:
    e = b.exposure
    out = []
    n_mem = len(b.members)
    when = f"as of {b.date}" if b.date else "latest membership"
    if len(e):
        out.append(
            f"The {b.coalition} coalition ({n_mem} members, {when}) produces on average "
            f"{pct(e['coalition_share'].mean())} of the {len(e)} items with production data; "
            f"{int(e['spof'].sum())} items are single points of failure; "
            f"{int(e['nonmember_dependency'].sum())} depend for at least half their supply on one "
            f"non-member, {int(e['other_dependency'].sum())} of them on a supplier that is neither a "
            f"member nor a partner ({_partner_text(b)}).")
    k = b.country_knockouts
    if len(k):
        worst = k.head(3)
        out.append("Static worst case — if one country's output of every item stopped at once, with no "
                   f"inventories and no re-sourcing, {b.target_name} would lose: " + "; ".join(
                       f"{r.name} {pct(r.loss)}" + ("" if r.member else " (outside the coalition)")
                       for r in worst.itertuples()) + ". " + STATIC_VS_DYNAMIC)
    cb = b.coalition_bottlenecks
    if len(cb):
        r = cb.iloc[0]
        out.append(f"If every producer outside the coalition (and the unattributed rest of the world) "
                   f"stopped supplying, {b.target_name} would lose {pct(r['autarky_loss'])} of its "
                   f"output (static, before inventories and substitution).")
        if len(cb) > 1:
            r2 = cb.iloc[1]
            out.append(f"{r2['scenario'][:1].upper()}{r2['scenario'][1:]}: that loss becomes {pct(r2['autarky_loss'])}; "
                       f"the worst single outsider becomes {_txt(r2['worst_outsider'])} "
                       f"({pct(r2['worst_outsider_loss'])}).")
    st = b.stress
    if st is not None and st["loss_pct"].notna().any():
        ran = st[st["loss_pct"].notna()]
        w = ran.loc[ran["loss_pct"].astype(float).idxmax()]
        hit = int((ran["loss_pct"].astype(float) > 0.01).sum())
        if float(w["loss_pct"]) > 0.01:
            out.append(f"Stress tests: {hit} of {len(ran)} built-in scenarios cut {b.target_name}. The worst, "
                       f"{_scenario_title(w['name'], b.names.values())}, loses {w['loss_pct']:.1f} % of demand over "
                       f"{w['horizon_days']} days (lowest level {pct(w['min_level'])}; "
                       f"{_survive_text(w['time_to_survive_days'])} before it falls below "
                       f"{pct(SURVIVE_THRESHOLD)}).")
        else:
            out.append(f"Stress tests: none of the {len(ran)} built-in scenarios cuts {b.target_name} by more "
                       "than 0.01 % of demand over its horizon (inventories and re-sourcing absorb them).")
    d = b.dangers
    if len(d):
        r = d.iloc[0]
        out.append(f"Most dangerous dependency: {r['name']} — {r['largest_outside_name']} holds "
                   f"{pct(r['largest_outside_share'])} of world output; losing it costs "
                   f"{pct(r['outside_loss'])} of {b.target_name}.")
    return out


STATIC_VS_DYNAMIC = (
    "This is an upper bound of the first shock, not a forecast: the stress tests below let "
    "inventories, spare capacity and re-sourcing absorb part of a cut over time, so their losses are "
    "smaller.")
"""One sentence on why the static knock-out loss exceeds the stress tests' dynamic loss."""


def _partner_text(b: Briefing) -> str:
    who = ", ".join(b.names.get(c, c) for c in b.partners) or "none"
    groups = f"{b.coalition}_guests" + "".join(f", {a}" for a in b.allies)
    return f"partners: {who} — from {groups}"


def item_label(item: Any, item_names: dict[str, str], fallback: Any = None) -> str:
    """The display name of ``item``: its name in the atlas, else ``fallback``, else the id itself.

    Examples
    --------
    >>> item_label("euv_lithography", {"euv_lithography": "EUV lithography"}, "euv_lithography")
    'EUV lithography'
    >>> item_label("x", {}, "X ray")
    'X ray'
    """
    key = str(item)
    name = item_names.get(key)
    if isinstance(name, str) and name.strip() and name != "nan":
        return name
    return str(fallback) if _present(fallback) else key


def named_path(path: Any, item_names: dict[str, str]) -> str:
    """A binding chain of item ids as names: ``ai_servers <- ai_accelerators`` -> ``AI servers ‹
    AI accelerators``.

    Examples
    --------
    >>> named_path("dc <- chip", {"dc": "Data centres", "chip": "Chips"})
    'Data centres ‹ Chips'
    """
    if not _present(path):
        return ""
    return " ‹ ".join(item_names.get(p.strip(), p.strip()) for p in str(path).split("<-"))


_TITLE_WORDS = {"hbm": "HBM", "euv": "EUV", "duv": "DUV", "lng": "LNG", "ai": "AI", "us": "US", "eu": "EU",
                "red": "Red", "sea": "Sea", "strait": "Strait", "hormuz": "Hormuz", "suez": "Suez"}


def _scenario_title(name: str, names: Iterable[str] = ()) -> str:
    """A scenario id as a heading: ``hbm_demand_surge`` → ``HBM demand surge``; country names (from
    ``names``) and a few acronyms and places are capitalised.

    Examples
    --------
    >>> _scenario_title("neon_shortage_ukraine", ["Ukraine"])
    'Neon shortage Ukraine'
    """
    proper = {n.lower(): n for n in names if isinstance(n, str) and " " not in n}
    words = [proper.get(w, _TITLE_WORDS.get(w, w)) for w in str(name).split("_")]
    t = " ".join(words)
    return t[:1].upper() + t[1:]


def _loss_text(v: float) -> str:
    if v <= 0:
        return "0 %"
    if v < 0.01:
        return "< 0.01 %"
    return f"{v:.2f} %" if v < 1 else f"{v:.1f} %"


def _survive_text(days: Any) -> str:
    return "never falls below the threshold" if days is None else f"{int(days)} days"


def _days_or(v: Any, none: str) -> str:
    return none if v is None or (isinstance(v, float) and np.isnan(v)) else f"{int(v)} days"


def _stress_rows(b: Briefing, svg: bool = True) -> list[dict[str, Any]]:
    """Formatted rows of the stress table, worst loss first (scenarios not run last)."""
    from .svg import sparkline

    st = b.stress
    if st is None:
        return []
    rows = []
    order = st.assign(_k=st["loss_pct"].astype(float).fillna(-1.0)).sort_values(
        ["_k", "scenario"], ascending=[False, True], kind="mergesort")
    for r in order.to_dict("records"):
        ran = r["loss_pct"] is not None and r["loss_pct"] == r["loss_pct"]
        tts, ttr = r["time_to_survive_days"], r["time_to_recover_days"]
        first = r["first_shock_day"]
        items = [x.strip() for x in str(r["most_affected_items"] or "").split(",") if x.strip()]
        level = r["level"] if isinstance(r["level"], np.ndarray) else np.zeros(0)
        title = _scenario_title(r["name"], b.names.values())
        bd = r.get("bands") if isinstance(r.get("bands"), dict) else {}
        checks = r.get("checks") if isinstance(r.get("checks"), list) else []
        rows.append({
            "scenario": r["scenario"], "title": title, "description": r["description"],
            "ran": ran, "note": r["note"] or "",
            "loss": _loss_text(float(r["loss_pct"])) if ran else "–",
            "band": _band_text(bd.get("loss_pct")) if ran and bd else "",
            "additions": _loss_text(float(r["lost_additions_pct"])) if ran else "–",
            "operation": _loss_text(float(r["lost_operation_pct"])) if ran else "–",
            "drivers": "; ".join(d["parameter"] for d in bd.get("drivers", [])) if bd else "",
            "checks": [{"of": _check_label(c["of"], b.item_names), "range": f"{_num2(c['min'])}–{_num2(c['max'])} %"
                        if c["measure"] == "loss_pct" else f"{_num2(c['min'])}–{_num2(c['max'])}",
                        "model": _loss_text(float(c["model"])) if c.get("model") is not None else "–",
                        "ok": bool(c["ok"]), "kind": c["kind"]} for c in checks],
            "min_level": pct(r["min_level"]) if ran else "–",
            "tts": ("unlimited" if tts is None else f"{int(tts)} days") if ran else "–",
            "ttr": ("–" if tts is None else _days_or(ttr, f"not within {r['horizon_days']} days")) if ran else "–",
            "first_shock_day": first, "horizon_days": r["horizon_days"],
            "affected": ", ".join(b.item_names.get(i, i) for i in items) or ("none" if ran else "–"),
            "affected_ids": items,
            "spark": sparkline(level, int(r["step_days"] or 1), title=title)
            if svg and ran and level.size else "",
        })
    return rows


def _band_text(band: Any) -> str:
    if not band or band[0] is None or band[0] != band[0]:
        return ""
    return f"{_loss_text(float(band[0]))} – {_loss_text(float(band[1]))}"


def _num2(v: Any) -> str:
    return "–" if v is None else (f"{float(v):g}")


def _check_label(of: str, names: dict[str, str]) -> str:
    """A backtest check's subject in words: ``item:neon`` -> ``Neon``, ``target`` -> ``AI compute``."""
    if of == "target":
        return "AI compute"
    kind, _, name = of.partition(":")
    if kind == "item":
        return names.get(name, name)
    if kind == "site":
        it, _, c = name.partition("@")
        return f"{names.get(it, it)} in {c}"
    return name


def _scenario_sources(b: Briefing) -> list[dict[str, Any]]:
    st = b.stress
    if st is None:
        return []
    return [{"title": _scenario_title(r["name"], b.names.values()), "scenario": r["scenario"], "sources": list(r["sources"] or ())}
            for r in st.to_dict("records") if r["sources"]]


def _focus(b: Briefing) -> dict[str, Any] | None:
    c = b.for_iso3
    if not c:
        return None
    prod = b.production[b.production["country"] == c]
    items = b.exposure.set_index("item")
    rows = []
    for r in prod.sort_values("share", ascending=False).itertuples():
        rank = int((b.production[(b.production["item"] == r.item) & ~b.production["rest"]]["share"]
                    > r.share).sum()) + 1
        rows.append({"item": r.item, "name": items["name"].get(r.item, r.item) if len(items) else r.item,
                     "share": pct(r.share), "rank": rank,
                     "loss": pct(b.bottlenecks[(b.bottlenecks["item"] == r.item)
                                                & (b.bottlenecks["producer"] == r.producer)]["loss"].max())
                     if len(b.bottlenecks) else "–"})
    k = b.country_knockouts
    kr = k[k["country"] == c]
    ir = b.import_risk
    produced = {r["item"]: r["share"] for r in rows}
    imports, own = [], []
    for r in ir.itertuples():
        if r.item in produced and (pd.isna(r.import_reliance) or r.import_reliance < 0.05):
            # a producer covering its own use: its few imports say nothing about dependence
            own.append(f"{r.name} (produces {produced[r.item]} of world output"
                       + (", imports under 5 % of its supply)" if pd.notna(r.import_reliance) else
                          "; import reliance not computed: production and trade in different units)"))
            continue
        imports.append({"name": r.name, "reliance": pct(r.import_reliance), "top": r.top_supplier,
                        "top_name": b.names.get(r.top_supplier, r.top_supplier),
                        "top_share": pct(r.top_supplier_share), "risk": num(r.import_risk, 3),
                        "measure": r.measure,
                        "sort": -1.0 if pd.isna(r.import_risk) else float(r.import_risk)})
    imports.sort(key=lambda x: -x["sort"])
    return {
        "iso3": c, "name": b.names.get(c, c), "member": c in b.members,
        "tier": "member" if c in b.members else ("partner" if c in b.partners else "other"),
        "governance": num(b.governance.get(c), 1),
        "produces": rows,
        "knockout_loss": pct(kr["loss"].iloc[0]) if len(kr) else "0%",
        "knockout_path": named_path(kr["path"].iloc[0], b.item_names) if len(kr) else "",
        "imports": imports, "own_supply": own,
    }


def briefing_context(b: Briefing, maps: int = 6) -> dict[str, Any]:
    """Plain, formatted values for the templates (shared by HTML and Markdown)."""
    from .svg import (
        MEMBER,
        OUTSIDE,
        UNKNOWN,
        choropleth,
        hbar_chart,
        stacked_share_bars,
        world_defs,
    )

    e = b.exposure
    conc = b.concentration.set_index("item") if len(b.concentration) else b.concentration
    src_by_item = b.item_sources
    prod_all = b.production
    mem = set(b.members)
    par = set(b.partners)

    dangers = [{
        "rank": i + 1, "item": r.item, "name": r.name, "stage": r.stage,
        "producer": r.largest_outside, "producer_name": r.largest_outside_name,
        "tier": r.largest_outside_tier or "other",
        "share": pct(r.largest_outside_share), "governance": num(r.governance_risk, 1),
        "coercion": num(r.coercion_risk, 2), "loss": pct(r.outside_loss),
        "coalition": pct(r.coalition_share), "flags": _flags(r.spof), "year": r.year,
        "stale": bool(r.stale),
    } for i, r in enumerate(b.dangers.itertuples())]

    spofs = [{"item": r.item, "name": r.name, "stage": r.stage, "top1": r.top1,
              "top1_name": b.names.get(r.top1, r.top1), "share": pct(r.top1_share),
              "hhi": num(r.hhi), "member": r.top1 in mem, "tier": r.top1_tier or "other",
              "loss": pct(r.top1_loss), "year": r.year, "stale": bool(r.stale)}
             for r in b.spofs.itertuples()]

    stages = []
    for stage in STAGE_ORDER:
        g = e[e["stage"] == stage]
        if g.empty:
            continue
        rows = []
        for r in g.itertuples():
            cr = conc.loc[r.item] if r.item in conc.index else None
            rows.append({
                "item": r.item, "name": r.name, "year": r.year,
                "top3": cr["top3"] if cr is not None else "", "hhi": num(r.hhi),
                "hhi_upper": num(cr["hhi_upper"]) if cr is not None else "–",
                "hhi_wgi": num(cr["hhi_wgi"], 2) if cr is not None else "–",
                "coalition": pct(r.coalition_share), "rest": pct(r.rest_share),
                "outside": f"{r.largest_outside} {pct(r.largest_outside_share)}" if _present(r.largest_outside) else "–",
                "tier": r.largest_outside_tier or "", "stale": bool(r.stale),
                "coercion": num(r.coercion_risk, 2),
                "flags": _flags(r.spof), "loss": pct(r.top1_loss),
                "sources": src_by_item.get(r.item, ""),
            })
        stages.append({"stage": stage, "description": STAGES.get(stage, ""), "rows": rows})

    # charts
    bs = b.by_stage
    stage_chart = ""
    if len(bs):
        unknown = [float(e[e["stage"] == s]["rest_share"].mean()) for s in bs["stage"]]
        parts = [[c, max(0.0, 1 - c - u), u] for c, u in zip(bs["coalition_share_mean"], unknown, strict=True)]
        stage_chart = stacked_share_bars(
            [s.replace("_", " ") for s in bs["stage"]], parts, [MEMBER, OUTSIDE, UNKNOWN],
            ["coalition", "outside (named)", "rest of world (unattributed)"],
            title="Coalition coverage by stage (mean over items)")
    bt = b.bottlenecks.head(15)
    bott_chart = hbar_chart(
        [f"{item_label(r.item, b.item_names, r.name)} — {b.names.get(r.producer, r.producer)}"
         for r in bt.itertuples()], list(bt["loss"]),
        [TIER_COLOURS[tier_of(r.producer_country, mem, par) or "other"] for r in bt.itertuples()],
        title=f"Loss of {b.target_name} per single knock-out", vmax=1.0,
        notes=[named_path(r.path, b.item_names) for r in bt.itertuples()]) if len(bt) else ""
    kn = b.country_knockouts.head(12)
    knock_chart = hbar_chart(
        [str(r.name) for r in kn.itertuples()], list(kn["loss"]),
        [TIER_COLOURS[tier_of(r.country, mem, par) or "other"] for r in kn.itertuples()],
        title=f"Loss of {b.target_name} if one country stops", vmax=1.0,
        notes=[named_path(r.path, b.item_names) for r in kn.itertuples()]) if len(kn) else ""

    map_items = list(dict.fromkeys(list(b.dangers["item"]) + list(b.spofs["item"])))[:maps]
    map_list = []
    for item in map_items:
        p = prod_all[(prod_all["item"] == item) & ~prod_all["rest"]]
        shares = {str(c): float(s) for c, s in zip(p["country"], p["share"], strict=True) if isinstance(c, str)}
        r = e[e["item"] == item].iloc[0]
        map_list.append({"item": item, "name": r["name"], "year": r["year"],
                         "svg": choropleth(shares, f"Producer shares: {r['name']}", b.names, b.points,
                                           highlight=mem & set(shares)),
                         "caption": f"{r['name']} ({r['year']}): coalition {pct(r['coalition_share'])}, "
                                    + (f"largest outside {r['largest_outside']} "
                                       f"{pct(r['largest_outside_share'])}, "
                                       if _present(r["largest_outside"]) else "no named producer outside, ")
                                    + f"unattributed rest {pct(r['rest_share'])}."})

    sr = b.supply_risk
    sr_rows = [{"name": r.name, "hhi_wgi": num(r.hhi_wgi_gs, 2), "hhi_wgi_eu": num(r.hhi_wgi_eu, 2),
                "eol": pct(r.eol_rir),
                "si": num(r.substitution_index, 2), "ir": pct(r.import_reliance_eu),
                "sr": num(r.sr, 2), "proxy": num(r.sr_gs_proxy, 2), "bound": num(r.sr_gs_bound, 2),
                "critical": "yes" if r.sr_critical is True else ("–" if pd.isna(r.sr_critical) else "no"),
                "missing": (r.missing or "").replace(";", ", ")}
               for r in sr.sort_values(["sr_gs_bound", "item"], ascending=[False, True]).itertuples()]
    sr_missing = None
    if len(sr) and sr["sr"].isna().all() and sr["sr_gs_proxy"].isna().all():
        counts = {}
        for m in sr["missing"].fillna(""):
            for x in str(m).split(";"):
                if x:
                    counts[x] = counts.get(x, 0) + 1
        sr_missing = ", ".join(f"{SR_INPUTS.get(k, k)} for {v} of {len(sr)} items"
                               for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))

    whatif = None
    if b.whatif is not None:
        w = b.whatif
        whatif = {"rows": [{"name": r.name, "before": pct(r.coalition_share_before),
                            "after": pct(r.coalition_share_after), "gain": pct(r.gain),
                            "coercive": f"{'yes' if r.nonmember_dependency_before else 'no'} → "
                                        f"{'yes' if r.nonmember_dependency_after else 'no'}",
                            "outside": f"{_txt(r.largest_outside_before)} → {_txt(r.largest_outside_after)}"}
                           for r in w[w["gain"] > 0].itertuples()],
                  "n_coercive_before": int(w["nonmember_dependency_before"].sum()),
                  "n_coercive_after": int(w["nonmember_dependency_after"].sum())}

    return {
        "b": b, "title": f"AI supply-chain security briefing — {b.coalition}",
        "summary": _summary_points(b), "dangers": dangers, "spofs": spofs, "stages": stages,
        "by_stage": [{"stage": r.stage.replace("_", " "), "n": r.n_items,
                      "mean": pct(r.coalition_share_mean), "min": pct(r.coalition_share_min),
                      "weakest": b.item_names.get(r.weakest_item, r.weakest_item), "n_spof": r.n_spof,
                      "n_coercive": r.n_nonmember_dependency, "n_other": r.n_other_dependency}
                     for r in bs.itertuples()],
        "stage_chart": stage_chart, "bott_chart": bott_chart, "knock_chart": knock_chart,
        "world_defs": world_defs() if map_list else "", "maps": map_list,
        "bottlenecks": [{"rank": r.rank, "name": item_label(r.item, b.item_names, r.name), "item": r.item, "producer": r.producer,
                         "producer_name": b.names.get(r.producer, r.producer),
                         "member": r.producer_country in mem,
                         "tier": tier_of(r.producer_country, mem, par) or "other", "share": pct(r.producer_share),
                         "loss": pct(r.loss), "path": named_path(r.path, b.item_names)}
                        for r in b.bottlenecks.head(25).itertuples()],
        "knockouts": [{"rank": r.rank, "country": r.country, "name": r.name, "member": r.member,
                       "tier": tier_of(r.country, mem, par) or "other",
                       "loss": pct(r.loss), "n_items": r.n_items,
                       "largest": b.item_names.get(r.largest_item, r.largest_item),
                       "largest_share": pct(r.largest_item_share), "path": named_path(r.path, b.item_names)}
                      for r in b.country_knockouts.head(15).itertuples()],
        "coalition_bottlenecks": [{"scenario": r.scenario, "n": r.n_members, "autarky": pct(r.autarky_loss),
                                   "worst": _txt(r.worst_outsider), "worst_loss": pct(r.worst_outsider_loss),
                                   "n10": r.n_outsiders_over_10pct}
                                  for r in b.coalition_bottlenecks.itertuples()],
        "whatif": whatif, "supply_risk": sr_rows, "sr_missing": sr_missing, "focus": _focus(b),
        "partners": ", ".join(b.partners) or "none", "partner_groups": _partner_text(b),
        "static_vs_dynamic": STATIC_VS_DYNAMIC, "stale_years": STALE_YEARS,
        "restrictions": [{"country": b.names.get(r.country, r.country), "item": b.item_names.get(r.item, r.item),
                          "announced": r.announced, "kind": r.kind if _present(r.kind) else "",
                          "in_force": "yes" if r.in_force else "no",
                          "targets": r.targets if _present(r.targets) else "all", "source": r.source}
                         for r in (b.restrictions if b.restrictions is not None else pd.DataFrame()).itertuples()],
        "stress": _stress_rows(b, svg=maps > 0) if b.stress is not None else None,
        "scenario_sources": _scenario_sources(b), "stress_method": STRESS_METHOD,
        "stress_steps": b.stress_parameters.get("steps"),
        "stress_inventory_days": num(b.stress_parameters.get("inventory_days")),
        "stress_bands": b.stress_parameters.get("bands", 0), "plans": b.plans,
        "risk_html": b.risk.html() if b.risk is not None else "",
        "sources": [{k: ("" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                     for k, v in r.items()} for r in b.sources.to_dict("records")],
        "members": ", ".join(b.members) or "none",
        "thresholds": {"spof_share": pct(SPOF_TOP_SHARE), "spof_hhi": num(SPOF_HHI),
                       "coercive": pct(DEPENDENCY_SHARE)},
    }


def _txt(v: Any) -> str:
    return str(v) if _present(v) else "–"


def _present(v: Any) -> bool:
    return v is not None and v is not pd.NA and not (isinstance(v, float) and np.isnan(v)) and v != ""


def _flags(spof: bool) -> str:
    return "SPOF" if spof else ""


TIER_COLOURS = {"member": "#2b6cb0", "partner": "#6b8fb3", "other": "#c53030"}
"""Chart colours of the supplier tiers (partners a muted blue, never the red of the other tier)."""
SR_INPUTS = {"hhi_wgi_eu_sourcing": "EU sourcing shares", "import_reliance_eu": "EU import reliance",
             "eol_rir": "end-of-life recycling input rate", "substitution_index": "substitution index"}


def item_sources(atlas: Atlas) -> dict[str, str]:
    """Source ids behind each item's latest production figures (shown in the stage tables)."""
    prod = atlas["production"]
    out: dict[str, str] = {}
    if len(prod):
        latest = prod.groupby("item")["year"].transform("max")
        p = prod[prod["year"] == latest]
        for item, g in p.groupby("item"):
            out[str(item)] = ", ".join(sorted(set(g["source"].dropna().astype(str))))
    return out


def render_html(b: Briefing) -> str:
    """The briefing as one self-contained HTML document (inline CSS and SVG; no scripts)."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(loader=PackageLoader("paxsilica.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    ctx = briefing_context(b)
    for k in ("stage_chart", "bott_chart", "knock_chart", "world_defs", "risk_html"):
        ctx[k] = Markup(ctx[k])
    for m in ctx["maps"]:
        m["svg"] = Markup(m["svg"])
    for r in ctx["stress"] or []:
        r["spark"] = Markup(r["spark"])
    return env.get_template("briefing.html.j2").render(**ctx)


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def render_markdown(b: Briefing) -> str:
    """The briefing as Markdown text (same content as the HTML, without maps and charts)."""
    ctx = briefing_context(b, maps=0)
    L: list[str] = [f"# {ctx['title']}", ""]
    L.append(f"Atlas `{b.atlas_name}` version `{b.atlas_version}` · paxsilica {b.code_version} · "
             f"generated {b.generated} · target: {b.target_name} (`{b.target}`) · coalition "
             f"`{b.coalition}` {'as of ' + b.date if b.date else '(latest membership)'}: {ctx['members']}"
             + (f" · for {b.for_iso3}" if b.for_iso3 else ""))
    if ctx["focus"]:
        f = ctx["focus"]
        L += ["", f"## Country focus: {f['name']} ({f['iso3']})", "",
              f"Supplier tier: {f['tier']} · governance risk {f['governance']}/10 · "
              f"losing its output would cost {f['knockout_loss']} of {b.target_name}"
              + (f" (binding chain: {f['knockout_path']})" if f["knockout_path"] else "") + ".", ""]
        if f["produces"]:
            L.append(_md_table(["item", "world share", "rank", "target loss if lost"],
                               [[p["name"], p["share"], p["rank"], p["loss"]] for p in f["produces"]]))
        if f["own_supply"]:
            L += ["", "Supplies itself: " + "; ".join(f["own_supply"]) + "."]
        if f["imports"]:
            L += ["", _md_table(["item", "import reliance", "top supplier", "import risk"],
                                [[i["name"], i["reliance"], f"{i['top_name']} {i['top_share']}", i["risk"]]
                                 for i in f["imports"]])]
    L += ["", "## Executive summary", ""] + [f"- {s}" for s in ctx["summary"]]
    L += ["", "### The ten most dangerous dependencies", "",
          "Each item's largest producer outside the coalition, ranked by the loss of the target if it "
          "stopped supplying, then by its share.", ""]
    L.append(_md_table(["#", "item", "stage", "outside producer", "tier", "share", "governance risk",
                        "coercion risk", "target loss", "coalition share", "flags"],
                       [[d["rank"], d["name"] + (f" ({d['year']}, old)" if d["stale"] else ""), d["stage"],
                         d["producer_name"], d["tier"], d["share"], d["governance"], d["coercion"], d["loss"],
                         d["coalition"], d["flags"]] for d in ctx["dangers"]]))
    L += ["", "### Single points of failure", ""]
    L.append(_md_table(["item", "stage", "top producer", "share", "HHI", "in coalition", "target loss"],
                       [[s["name"], s["stage"], f"{s['top1_name']} ({s['top1']})", s["share"], s["hhi"],
                         "yes" if s["member"] else "no", s["loss"]] for s in ctx["spofs"]]))
    L += ["", "### Coalition coverage by stage", ""]
    L.append(_md_table(["stage", "items", "mean coalition share", "min", "weakest item", "SPOF",
                        "non-member ≥ 50 %", "other tier ≥ 50 %"],
                       [[r["stage"], r["n"], r["mean"], r["min"], r["weakest"], r["n_spof"],
                         r["n_coercive"], r["n_other"]] for r in ctx["by_stage"]]))
    L += ["", f"## Bottlenecks of {b.target_name}", ""]
    L.append(_md_table(["#", "item", "producer", "share", "target loss", "binding chain"],
                       [[r["rank"], r["name"], r["producer"], r["share"], r["loss"], r["path"]]
                        for r in ctx["bottlenecks"]]))
    if ctx["stress"] is not None:
        L += ["", "## Stress tests", "",
              f"The built-in scenarios run through the dynamic production-network model on this atlas, worst "
              f"first. {b.target_name} is installed capacity (a stock): AI compute lost is the installed "
              "capacity that could not run over the horizon, over what would have run; it splits into lost "
              "additions (capacity not delivered or installed) and lost operation (installed capacity without "
              f"its daily inputs). Band: 5th–95th percentile over {ctx['stress_bands']} seeded draws of the "
              "parameter ranges. Time to survive: days from day 0 until running capacity first falls below "
              "99 % of its baseline path; time to recover: days from then until it stays at or above 99 %.", ""]
        L.append(_md_table(["scenario", "days", "AI compute lost", "band", "lost additions / operation",
                            "lowest level", "time to survive", "time to recover", "most affected items",
                            "backtest", "description"],
                           [[r["title"], r["horizon_days"] if r["horizon_days"] is not None else "–", r["loss"],
                             r["band"] or "–", f"{r['additions']} / {r['operation']}", r["min_level"],
                             r["tts"] + (f" (shock on day {r['first_shock_day']})"
                                         if r["ran"] and r["first_shock_day"] else ""),
                             r["ttr"], r["affected"],
                             "; ".join(f"{c['of']} {c['model']} in {c['range']} {'in' if c['ok'] else 'OUT'}"
                                       for c in r["checks"]) or "–",
                             r["description"] + (f" — {r['note']}" if r["note"] else "")]
                            for r in ctx["stress"]]))
    if b.risk is not None:
        L += b.risk.markdown()
    L += ["", "### Whole-country knock-outs", ""]
    L.append(_md_table(["#", "country", "member", "target loss", "items", "largest share"],
                       [[r["rank"], f"{r['name']} ({r['country']})", "yes" if r["member"] else "no",
                         r["loss"], r["n_items"], f"{r['largest']} {r['largest_share']}"]
                        for r in ctx["knockouts"]]))
    L += ["", "### Coalition scenarios", ""]
    L.append(_md_table(["scenario", "members", "loss if only members supply", "worst outsider",
                        "its loss", "outsiders > 10 %"],
                       [[r["scenario"], r["n"], r["autarky"], r["worst"], r["worst_loss"], r["n10"]]
                        for r in ctx["coalition_bottlenecks"]]))
    if ctx["whatif"]:
        w = ctx["whatif"]
        L += ["", f"### What if {', '.join(b.add)} joined", "",
              f"Dependencies on one non-member (≥ 50 %): {w['n_coercive_before']} → {w['n_coercive_after']}.", ""]
        L.append(_md_table(["item", "coalition share before", "after", "gain", "non-member ≥ 50 %",
                            "largest outside"],
                           [[r["name"], r["before"], r["after"], r["gain"], r["coercive"], r["outside"]]
                            for r in w["rows"]]))
    L += ["", "## Per-stage tables", ""]
    for s in ctx["stages"]:
        L += [f"### {s['stage'].replace('_', ' ').capitalize()}", "", s["description"], ""]
        L.append(_md_table(["item", "year", "top 3", "HHI", "HHI (ROW as one)", "HHI·WGI",
                            "coalition", "unattributed", "largest outside", "flags",
                            "target loss (top producer)", "sources"],
                           [[r["name"], r["year"], r["top3"], r["hhi"], r["hhi_upper"], r["hhi_wgi"],
                             r["coalition"], r["rest"], r["outside"], r["flags"], r["loss"], r["sources"]]
                            for r in s["rows"]]))
        L.append("")
    L += ["## EU supply risk", ""]
    if ctx["sr_missing"]:
        L.append("Not computed for any item: the EU formula needs " + ctx["sr_missing"] + " (missing). "
                 "`paxsilica risk items --eu-sr` lists the inputs that exist.")
    else:
        L.append(_md_table(["item", "HHI_WGI (GS)", "HHI_WGI (EU)", "EoL-RIR", "SI_SR", "IR (EU)", "SR",
                            "SR (GS proxy)", "SR bound", "SR ≥ 1", "missing inputs"],
                           [[r["name"], r["hhi_wgi"], r["hhi_wgi_eu"], r["eol"], r["si"], r["ir"], r["sr"], r["proxy"],
                             r["bound"], r["critical"], r["missing"]] for r in ctx["supply_risk"]]))
    from ..planning.briefing import plans_markdown

    L += plans_markdown(b.plans)
    L += ["", "## Methodology", "", METHODOLOGY_MD]
    if ctx["stress"] is not None:
        L += ["- **Stress tests**: " + STRESS_METHOD]
    L += ["", "## Sources", ""]
    for s in ctx["sources"]:
        parts = [f"**{s['source']}**", s["publisher"], f"*{s['title']}*" if s["title"] else "",
                 s["table"], str(s["year"]), s["url"], f"licence: {s['licence']}" if s["licence"] else "",
                 f"accessed {s['accessed']}" if s["accessed"] else "", s["kind"],
                 f"used by {s['used_by']}", "" if s["known"] else "(not in the sources table)"]
        L.append("- " + ". ".join(p for p in parts if p))
    if ctx["scenario_sources"]:
        L += ["", "### Stress scenarios", ""]
        for s in ctx["scenario_sources"]:
            L.append(f"- **{s['title']}** (`{s['scenario']}`): " + "; ".join(s["sources"]))
    return "\n".join(L) + "\n"


STRESS_METHOD = (
    "The stress tests simulate each scenario day by day on the atlas's network of sites (item × producing "
    "country) with the adaptive input-output model of Hallegatte (2008, Risk Analysis 28(3)) as run on "
    "firm networks by Inoue & Todo (2019, Nature Sustainability 2): every site keeps a working stock of each "
    "input (days of use cited per item in the atlas's dynamics table), orders to restore it, produces no more "
    "than its capacity and its scarcest input allow and rations a shortfall among its claimants, with "
    "paxsilica's extensions for sea-lane lead times, export caps and closures, demand outside the AI chain "
    "(cut first where it pays less: willingness to pay), spare capacity with a ramp-up, substitution and "
    "recycling, and stockpile release (docs/engine.md). AI data-centre capacity is a stock that deliveries "
    "add to and retirements take from; running it needs power every day (docs/scenarios.md). Time to "
    "survive is how long the running capacity stays at or above 99 % of its baseline path, counted "
    "from day 0 of the scenario (a shock may start later; \"unlimited\": it never fell below), and time to "
    "recover how long it then takes to get back to 99 % for good (\"not within N days\": not by the end of "
    "the horizon). The results are model outcomes under each scenario's stated assumptions, not forecasts."
)


METHODOLOGY_MD = """\
- **Shares** are each item's latest year at country level; the unattributed rest-of-world row (ROW) is
  left out of concentration measures (HHI is a lower bound; "HHI (ROW as one)" the upper bound) and
  counts *outside* the coalition (coalition share is a lower bound).
- **HHI** = Σ sᵢ² with shares in percent (0–10,000). **HHI·WGI** = Σ sᵢ²·WGIᵢ with shares as fractions
  and WGI rescaled 0 (best) – 10 (worst) as in the EU criticality method (European Commission 2017).
- **EU supply risk** SR = [HHI_WGI,GS·IR/2 + HHI_WGI,EU·(1 − IR/2)]·(1 − EoL_RIR)·SI_SR (European
  Commission 2017; 2023 CRM study). SR is shown only where every input exists; the GS proxy assumes the
  EU sources like the world (then IR drops out); the SR bound is that proxy at the worst case of a
  missing EoL-RIR (0) or SI_SR (1). Missing inputs are listed, not invented.
- **Single point of failure**: top producer ≥ 65 % (the EU Critical Raw Materials Act's benchmark for
  reliance on one third country) or HHI ≥ 2,500. **Dependency on a non-member**: one producer outside
  the coalition holds ≥ 50 %.
- **Supplier tiers**: *member* (signatory on the date), *partner* (the coalition's guests and members of
  the ally groups named with `--allies`), *other*. A dependency on a partner is not a coercion risk.
- **Coercion risk** (0–1): Σ share × governance risk/10 × record, where record is 1 if the supplier has
  restricted exports of that item (the atlas's dated, cited `restrictions` table), 0.5 if it restricted
  other items, 0 otherwise.
- **Data vintage**: figures more than 5 years old are marked "old" wherever shown.
- **Bottlenecks**: static propagation through the recipe graph. Availability of item j:
  aⱼ = min(ownⱼ, minᵢ [1 − dᵢⱼ·(1 − aᵢ)]) with dᵢⱼ the part of j's output that needs input i; items are
  evaluated upstream to downstream; loss = 1 − a_target. No inventories, no substitution, scarce inputs
  go to surviving capacity: losses are a first-order, short-run picture.
- **Import risk** (with trade data): HHI·Σᵢ gᵢ·fᵢ/(p + F), GeoPolRisk after Gemechu et al. (2016) and
  Santillán-Saldivar et al. (2021), in tons (flows without a quantity valued at the item's unit value),
  domestic production p in the denominator; an exporter without a governance figure gets its region's
  median.
"""
