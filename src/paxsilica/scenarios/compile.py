"""Scenario + network (+ lanes) → the engine's schedules (:class:`paxsilica.sim.Scenario`, ``Extensions``).

How each shock becomes arrays (days are turned into steps of ``step`` days; a factor at step ``t`` is
the profile's value on day ``t·step``):

- ``export_ban``: links of the items from the exporter's site to client sites in the banned
  destinations (``all``: every other country and ``ROW``; ``outside: GROUP``: countries not in the
  group — members on the ban's start date when the scenario has a ``reference_date``, else every
  member ever listed; a list: those countries, groups expanded) are capped at
  ``licence`` of their baseline amount from ``start`` to ``end``. Domestic links are never capped.
- ``blockade``: every link into (``inbound``) and out of the country, except domestic ones, capped at
  ``licence``.
- ``chokepoint_closure``: lanes through the chokepoint are recomputed with it closed
  (:func:`paxsilica.logistics.lane_table`). ``mode: cut`` or a lane with no remaining sea route → link
  cap 0 for the closure; ``mode: reroute`` → the link's lead time becomes the rerouted one for the
  closure (engine lead-time schedule), routed around every closure of the scenario that overlaps it in
  time. Without lane data every affected link is cut.
- ``site_outage`` / ``disaster`` / ``cyber_incident``: capacity factor ``1 - loss·remaining(t)`` of
  the sites hit, with the recovery profile of :class:`~paxsilica.scenarios.schema.Recovery` (a cyber
  incident is a full outage for ``duration`` days followed by its restore profile). Several shocks
  on one site: the lowest factor holds.
- ``demand_surge``: sites of the item with final demand get a demand factor. For an intermediate
  item (no final demand in the network) the extra demand comes from buyers outside the modelled
  chain; with proportional rationing at capacity the chain then receives ``1/factor`` of its orders, so
  the item's outgoing links are capped at ``min(1, (1 + headroom)/factor)`` (headroom only when
  re-sourcing is on) — an approximation, documented in ``docs/scenarios.md``.

Policies: ``rationing`` → the engine's rule; ``resourcing``/``ramp_up_days``/``surge_capacity`` →
``Extensions(resourcing, ramp_days, capacity_headroom)`` (headroom from the atlas's capacity/quantity
where known, else ``surge_capacity``); ``stockpile_release`` → ``Extensions.stockpile_days`` from atlas
``stocks`` on the links of the released items (and holders), released from the earliest ``start``;
``coalition_first: GROUP`` → priority classes in rationing: a short supplier serves the claims of the
group's members (links whose client site is in a member country, members' final demand) before anyone
else's; membership on ``reference_date`` when the scenario has one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..network.build import MERGE_SHARE, SiteIndex, compute_lanes, lead_steps
from .schema import (
    Blockade,
    ChokepointClosure,
    CyberIncident,
    DemandSurge,
    Disaster,
    ExportBan,
    Recovery,
    Scenario,
    SiteOutage,
)


@dataclass(frozen=True)
class CompiledScenario:
    """What the engine needs for one scenario, plus a table of what each shock touched.

    Attributes
    ----------
    scenario : Scenario
    engine_scenario : paxsilica.sim.Scenario
    extensions : paxsilica.sim.Extensions
    rationing : str
    steps, step_days : int
    effects : DataFrame
        One row per shock: ``shock`` (position), ``type``, ``what``, ``sites``, ``links``,
        ``start_step``, ``end_step``.
    notes : tuple of str
    """

    scenario: Scenario
    engine_scenario: Any
    extensions: Any
    rationing: str
    steps: int
    step_days: int
    effects: pd.DataFrame
    notes: tuple[str, ...] = field(default=())
    outside: tuple[bool, ...] = field(default=())
    """Per consumer group of ``extensions.consumers``: True for the outside-use groups."""


def _members(atlas: Any, on: str | None = None) -> dict[str, set[str]]:
    """Members of each group; with a date ``on`` (ISO), only those joined on or before it and not
    yet left (blank dates: always a member)."""
    g = atlas["groups"]
    out: dict[str, set[str]] = {}
    for grp, iso, joined, left in zip(g["group"], g["iso3"], g["joined"], g["left"], strict=True):
        if on is not None:
            if isinstance(joined, str) and joined and joined > on:
                continue
            if isinstance(left, str) and left and left <= on:
                continue
        out.setdefault(str(grp), set()).add(str(iso))
    return out


def _firm_countries(atlas: Any, firm: str) -> set[str]:
    """Countries where a firm produces (``production.country`` of its rows), else its headquarters."""
    prod = atlas["production"]
    fc = {str(c) for c in prod.loc[prod["producer"] == firm, "country"].dropna()}
    if not fc:
        firms = atlas["firms"]
        fc = {str(c) for c in firms.loc[firms["firm"] == firm, "country"].dropna()}
    return fc


def _date_of(scenario: Scenario, day: int) -> str | None:
    if scenario.reference_date is None:
        return None
    import datetime as dt

    return (dt.date.fromisoformat(scenario.reference_date) + dt.timedelta(days=day)).isoformat()


def _days(steps: int, step_days: int) -> np.ndarray:
    return np.arange(steps, dtype=float) * step_days


def _capacity_profile(days: np.ndarray, start: int, loss: float, rec: Recovery, outage: int = 0) -> np.ndarray:
    f = np.ones(days.size)
    for k, d in enumerate(days):
        if d < start:
            continue
        u = d - start
        if u < outage:
            f[k] = 1.0 - loss
        else:
            f[k] = 1.0 - loss * rec.remaining_loss(u - outage)
    return f


def _window(days: np.ndarray, start: int, end: int | None) -> np.ndarray:
    on = days >= start
    if end is not None:
        on &= days < end
    return on


class _Acc:
    """Accumulates per-entity factor columns, combined by minimum."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.cols: dict[int, np.ndarray] = {}

    def apply(self, ids: Iterable[int], col: np.ndarray) -> None:
        for i in ids:
            i = int(i)
            cur = self.cols.get(i)
            self.cols[i] = col.copy() if cur is None else np.minimum(cur, col)

    def schedule(self) -> Any:
        from ..sim import Schedule

        if not self.cols:
            return None
        idx = np.array(sorted(self.cols), dtype=np.int64)
        vals = np.column_stack([self.cols[i] for i in idx]) if self.steps else np.ones((1, idx.size))
        return Schedule(idx, vals)


def _lane_keys(links: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """(exporter, importer, item) of the lanes of the masked links: their lane ends (``lane_from`` /
    ``lane_to``, where rest-of-world sites ship from their largest actual trader)."""
    f = links["lane_from"] if "lane_from" in links.columns else links["exporter"]
    t = links["lane_to"] if "lane_to" in links.columns else links["importer"]
    return pd.DataFrame({"exporter": f[mask].astype(str).to_numpy(), "importer": t[mask].astype(str).to_numpy(),
                         "item": links.loc[mask, "item"].astype(str).to_numpy()})


def _closed_with(scenario: Scenario, s: ChokepointClosure) -> frozenset[str]:
    """The chokepoint of ``s`` and every other closure of the scenario overlapping it in time (a
    rerouted lane must avoid all of them)."""
    end = s.end_day()
    out = {s.chokepoint}
    for o in scenario.shocks:
        if isinstance(o, ChokepointClosure):
            o_end = o.end_day()
            if (end is None or o.start < end) and (o_end is None or s.start < o_end):
                out.add(o.chokepoint)
    return frozenset(out)


def _coalition_first(
    inside: set[str], network: Any, sites: pd.DataFrame, links: pd.DataFrame, canon: np.ndarray,
    consumer_names: list[str] | None,
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Priority classes for coalition-first rationing: members' claims (class 0) before others' (1).

    A link's class is that of its client site's country; a consumer group's, that of its country;
    final demand left unattributed to a group (rest of the world) is served last.
    """
    client_country = sites["country"].astype(object).to_numpy()[links["client"].to_numpy(np.int64)]
    prio = np.ones(network.amount.shape[0], np.int64)
    prio[canon] = np.where(np.isin(client_country, sorted(inside)), 0, 1)
    cons = None if consumer_names is None else np.array([0 if c in inside else 1 for c in consumer_names],
                                                        np.int64)
    return prio, cons, 1


DEFAULT_RAMP_DAYS = 30
"""Days to bring spare capacity online where neither the atlas nor the scenario says (assumption)."""
OUTSIDE = "outside"
OUTSIDE_LOW = "outside_low"
"""Consumer groups of the uses outside the AI chain: those that pay as much as the chain, and the
low-value ones cut first under willingness-to-pay allocation."""


def _control_shares(sites: pd.DataFrame, links: pd.DataFrame) -> list[dict[str, float]]:
    """Per link: the controllers of its supplier site and their shares (empty without data)."""
    if "controllers" not in sites.columns:
        return []
    parsed: dict[str, dict[str, float]] = {}
    out = []
    col = sites["controllers"].astype(str).to_numpy()
    for s in links["supplier"].to_numpy(np.int64):
        text = col[s]
        if text not in parsed:
            d: dict[str, float] = {}
            for part in text.split(";") if text and text != "nan" else []:
                c, _, v = part.partition(":")
                d[c] = float(v)
            parsed[text] = d
        out.append(parsed[text])
    return out


def _consumer_split(index: SiteIndex, atlas: Any) -> tuple[Any, list[str], np.ndarray, np.ndarray]:
    """Final demand by consumer group: the target's consumers, and each site's outside uses split
    into high-value (``outside``) and low-value (``outside_low``) by the item's ``low_value_share``."""
    from ..sim import ConsumerSplit

    sites = index.sites
    fin = index.final
    fd_site = sites["final_demand"].to_numpy(float)
    cnames = list(dict.fromkeys(fin["consumer"].astype(str)))
    firm = fin["site"].to_numpy(np.int64).tolist()
    cons = [cnames.index(c) for c in fin["consumer"].astype(str)]
    share = (fin["amount"].to_numpy(float) / np.where(fd_site[fin["site"].to_numpy(np.int64)] > 0,
                                                     fd_site[fin["site"].to_numpy(np.int64)], 1.0)).tolist()
    if "outside_demand" in sites.columns:
        od = sites["outside_demand"].to_numpy(float)
        has = np.flatnonzero(od > 0)
        if has.size:
            cnames += [OUTSIDE, OUTSIDE_LOW]
            k_hi, k_lo = len(cnames) - 2, len(cnames) - 1
            dyn = index.dynamics
            for i in has:
                lam = float(dyn.value(str(sites.at[i, "item"]), "low_value_share",
                                      holder=str(sites.at[i, "country"]), default=0.0) or 0.0)
                lam = min(max(lam, 0.0), 1.0)
                part = od[i] / fd_site[i]
                for k_, sh in ((k_hi, (1.0 - lam) * part), (k_lo, lam * part)):
                    if sh > 0:
                        firm.append(int(i))
                        cons.append(k_)
                        share.append(float(sh))
    is_outside = np.array([c in (OUTSIDE, OUTSIDE_LOW) for c in cnames], bool)
    low = np.array([c == OUTSIDE_LOW for c in cnames], bool)
    if not firm:
        return None, cnames, is_outside, low
    return (ConsumerSplit(np.array(firm, np.int64), np.array(cons, np.int64), np.array(share), cnames),
            cnames, is_outside, low)


def compile_scenario(
    scenario: Scenario,
    network: Any,
    index: SiteIndex,
    atlas: Any,
    *,
    steps: int | None = None,
    lanes_under: Any = None,
    inventory_days: float = 15.0,
) -> CompiledScenario:
    """Turn a scenario into the engine's schedules for a network built by :func:`build_network`.

    Parameters
    ----------
    scenario : Scenario
    network : SupplyNetwork
    index : SiteIndex
    atlas : Atlas
        For group membership, regions, firms and lanes under closures.
    steps : int, optional
        Steps to compile (default: the scenario's horizon in steps).
    lanes_under : callable, optional
        ``lanes_under(closed: frozenset) -> DataFrame`` giving the lane table under a closure set
        (default: :func:`paxsilica.network.build.compute_lanes`); tests pass a hand table.
    inventory_days : float
        Working stock in days where the atlas's ``dynamics`` give none for a link.

    Raises
    ------
    ValidationError
        When a shock or policy would touch nothing (no site, no link, a start after the run, a
        stockpile release without stocks), naming the scenario file, the shock and the reason.

    Returns
    -------
    CompiledScenario
    """
    from ..sim import Extensions
    from ..sim import Scenario as EngineScenario

    step_days = scenario.step
    steps = scenario.steps if steps is None else int(steps)
    days = _days(steps, step_days)
    sites, links = index.sites, index.links
    canon = network.link_positions(links["link"].to_numpy(np.int64)) if len(links) else np.zeros(0, np.int64)
    real_link = ~links["virtual"].to_numpy(bool)
    real_site = ~sites["virtual"].to_numpy(bool)
    members = _members(atlas)
    countries_t = atlas["countries"]
    region_of = dict(zip(countries_t["iso3"], countries_t["region"], strict=True))
    notes: list[str] = []
    cap = _Acc(steps)
    lcap = _Acc(steps)
    lead: dict[int, np.ndarray] = {}
    dem = _Acc(steps)
    effects: list[dict[str, Any]] = []
    exporter = links["exporter"].astype(str).to_numpy()
    importer = links["importer"].astype(str).to_numpy()
    litem = links["item"].astype(str).to_numpy()
    sitem = sites["item"].astype(str).to_numpy()
    scountry = sites["country"].astype(str).to_numpy()
    sprod = sites["producer"].astype(str).to_numpy()
    # a ROW client site has importer "" : outside every country and group
    cross = real_link & (exporter != importer)

    from ..errors import Problem

    failures: list[Problem] = []

    def fail_path(path: tuple, reason: str) -> None:
        line = scenario.lines.get(path) if scenario.lines else None
        failures.append(Problem(scenario.file, line, ".".join(map(str, path)), reason))

    def fail(i: int, field_: str | None, reason: str) -> None:
        fail_path(("shocks", i) + ((field_,) if field_ else ()), reason)

    def record(i: int, s: Any, what: str, n_sites: int, n_links: int, end: int | None) -> None:
        effects.append({"shock": i, "type": s.type, "what": what, "sites": n_sites, "links": n_links,
                        "start_step": s.start // step_days,
                        "end_step": None if end is None else -(-end // step_days)})

    wtp = scenario.policies.allocation == "willingness_to_pay"
    # share of each link's supplier output controlled by a country (made-in country where none given)
    ctrl_share = _control_shares(sites, links)
    o_sup = sites["outside_share"].to_numpy(float)[links["supplier"].to_numpy(np.int64)] \
        if "outside_share" in sites.columns else np.zeros(len(links))
    shortened = steps < scenario.steps
    for i, s in enumerate(scenario.shocks):
        if s.start >= steps * step_days:
            if shortened:  # the caller cut the run short (e.g. --steps): say so, it is not the file's fault
                notes.append(f"shock {i} ({s.type}) starts on day {s.start}, after the shortened run of "
                             f"{steps * step_days} days, and is left out")
                continue
            fail(i, "start", f"the {s.type} starts on day {s.start}, after the run's {steps * step_days} days: "
                              "it would touch nothing (shorten the start or lengthen the horizon)")
            continue
        if isinstance(s, ExportBan):
            items = set(litem) if "all" in s.items else set(s.items)
            dom = importer != s.exporter
            made = cross & (exporter == s.exporter)
            share = np.array([d.get(s.exporter, 0.0) for d in ctrl_share]) if ctrl_share else np.zeros(len(links))
            share = np.where(made, 1.0, share)
            hit = real_link & dom & (share > 0) & np.isin(litem, list(items))
            if s.destinations.kind == "outside":
                inside = _members(atlas, _date_of(scenario, s.start)).get(s.destinations.group or "", set())
                hit &= ~np.isin(importer, list(inside))
            elif s.destinations.kind == "list":
                dest: set[str] = set()
                for c in s.destinations.countries:
                    dest |= members.get(c, {c})
                hit &= np.isin(importer, list(dest))
            on = _window(days, s.start, s.end)
            # licensed volumes: under willingness to pay they go to the chain's (high-value) buyers first,
            # so the chain keeps min(1, licence / its share of the exporter's sales); else licence for all
            lic = np.full(len(links), s.licence)
            if wtp and s.licence > 0:
                lic = np.minimum(1.0, s.licence / np.maximum(1.0 - o_sup, 1e-9))
            cap_l = 1.0 - share * (1.0 - lic)  # a controller's share of the site is what the ban covers
            for li in np.flatnonzero(hit):
                lcap.apply([canon[li]], np.where(on, cap_l[li], 1.0))
            record(i, s, f"{s.exporter} → {s.destinations.describe()}: {', '.join(sorted(items))} "
                   f"at {s.licence:g} of baseline" + (" (licences to the chain first)" if wtp and s.licence > 0 else ""),
                   0, int(hit.sum()), s.end)
        elif isinstance(s, Blockade):
            hit = cross & ((exporter == s.country) | ((importer == s.country) & s.inbound))
            col = np.where(_window(days, s.start, s.end), s.licence, 1.0)
            lcap.apply(canon[hit], col)
            record(i, s, f"{s.country} blockaded at {s.licence:g} of baseline", 0, int(hit.sum()), s.end)
        elif isinstance(s, ChokepointClosure):
            cps = links["chokepoints"].astype(str).to_numpy()
            through = real_link & np.array([s.chokepoint in c.split(";") for c in cps], dtype=bool)
            end = s.end_day()
            on = _window(days, s.start, end)
            n_cut = n_re = 0
            if through.any():
                table = None
                if s.mode == "reroute":
                    pairs = _lane_keys(links, through).drop_duplicates()
                    closed = _closed_with(scenario, s)
                    table = (lanes_under(closed) if lanes_under is not None
                             else compute_lanes(atlas, pairs, closed, notes))
                if table is None:
                    if s.mode == "reroute":
                        notes.append(f"shock {i}: no lanes under the closure of {s.chokepoint}; its links are cut")
                    lcap.apply(canon[through], np.where(on, 0.0, 1.0))
                    n_cut = int(through.sum())
                else:
                    key = ["exporter", "importer"] + (["item"] if "item" in table.columns else [])
                    t = table.drop_duplicates(key)
                    li_all = np.flatnonzero(through)
                    # one merge instead of a lookup per link (same rows: keys are unique after the dedup)
                    left = _lane_keys(links, through)[key].reset_index(drop=True)
                    right = t[key].astype(str).assign(_days=t["days"].astype("float64").to_numpy(),
                                                      _cut=(t["cut"].to_numpy(dtype=object) if "cut" in t.columns
                                                            else np.zeros(len(t), dtype=object)),
                                                      _hit=True)
                    m = left.merge(right, on=key, how="left", sort=False)
                    hit = m["_hit"].eq(True).to_numpy(dtype=bool)
                    days_v = m["_days"].to_numpy(dtype=float)
                    cut_v = np.array([bool(v) for v in m["_cut"].to_numpy(dtype=object)], dtype=bool)
                    is_cut = ~hit | cut_v | ~np.isfinite(days_v)
                    if is_cut.any():
                        lcap.apply(canon[li_all[is_cut]], np.where(on, 0.0, 1.0))
                    n_cut = int(is_cut.sum())
                    ok = ~is_cut
                    new = lead_steps(np.where(ok, days_v, 0.0), step_days)
                    base = links["lead_steps"].to_numpy(np.int64)[li_all]
                    for li, nw, bs in zip(li_all[ok & (new != base)].tolist(), new[ok & (new != base)].tolist(),
                                          base[ok & (new != base)].tolist(), strict=True):
                        col = np.where(on, float(nw), float(bs))
                        old = lead.get(int(canon[li]))
                        lead[int(canon[li])] = col if old is None else np.maximum(old, col)
                        n_re += 1
            record(i, s, f"{s.chokepoint} closed ({s.mode}): {n_cut} links cut, {n_re} rerouted", 0,
                   n_cut + n_re, end)
        elif isinstance(s, SiteOutage):
            where_p = (sprod == s.producer) | (scountry == s.producer)
            if not where_p.any():  # a firm: its production countries (else headquarters)
                where_p = np.isin(scountry, list(_firm_countries(atlas, s.producer)))
            hit = np.flatnonzero(real_site & (sitem == s.item) & where_p)
            cap.apply(hit, _capacity_profile(days, s.start, s.loss, s.recovery))
            record(i, s, f"{s.item}@{s.producer} loses {s.loss:g} ({s.recovery.profile})", hit.size, 0, None)
        elif isinstance(s, CyberIncident):
            where = real_site.copy()
            if s.item is not None:
                where &= sitem == s.item
            if s.producer is not None:
                where &= (sprod == s.producer) | (scountry == s.producer)
            if s.firm is not None:
                prod = atlas["production"]
                made = set(prod.loc[prod["producer"] == s.firm, "item"].dropna())
                where &= np.isin(scountry, list(_firm_countries(atlas, s.firm)))
                if s.item is None and made:
                    where &= np.isin(sitem, list(made))
            hit = np.flatnonzero(where)
            cap.apply(hit, _capacity_profile(days, s.start, s.loss, s.restore, outage=s.duration))
            record(i, s, f"cyber incident, {s.duration} days full outage", hit.size, 0, None)
        elif isinstance(s, Disaster):
            ctry = {s.country} if s.country else {c for c, r in region_of.items() if r == s.region}
            where = real_site & np.isin(scountry, list(ctry))
            if s.items is not None:
                where &= np.isin(sitem, list(s.items))
            hit = np.flatnonzero(where)
            cap.apply(hit, _capacity_profile(days, s.start, s.severity, s.recovery))
            record(i, s, f"{s.country or s.region}: severity {s.severity:g}", hit.size, 0, None)
        elif isinstance(s, DemandSurge):
            on = _window(days, s.start, s.end)
            fd = sites["final_demand"].to_numpy(float)
            base = sites["baseline"].to_numpy(float)
            with_fd = np.flatnonzero(real_site & (sitem == s.item) & (fd > 0))
            if with_fd.size:
                # demand for the item (all its uses) x factor: the extra comes as final demand, so a
                # site whose final demand is only part of its output scales that part up accordingly
                fac = 1.0 + (s.factor - 1.0) * base[with_fd] / fd[with_fd]
                for k_, site in enumerate(with_fd):
                    dem.apply([site], np.where(on, fac[k_], 1.0))
                record(i, s, f"demand for {s.item} x{s.factor:g}", with_fd.size, 0, s.end)
            else:
                head = 0.0
                if scenario.policies.resourcing:
                    h = sites.loc[real_site & (sitem == s.item), "capacity_headroom"].astype(float)
                    head = float(np.nan_to_num(h.fillna(scenario.policies.surge_capacity)).min(initial=0.0)) \
                        if len(h) else 0.0
                frac = min(1.0, (1.0 + head) / s.factor) if s.factor > 0 else 1.0
                hit = real_link & (litem == s.item)
                lcap.apply(canon[hit], np.where(on, frac, 1.0))
                notes.append(f"shock {i}: {s.item} has no final demand in the network; the surge is applied "
                             f"as a cap of {frac:.3g} on its deliveries to the chain")
                record(i, s, f"outside demand for {s.item} x{s.factor:g} (chain gets {frac:.3g})", 0,
                       int(hit.sum()), s.end)
    from ..sim import Schedule

    lead_sched = None
    if lead:
        idx = np.array(sorted(lead), dtype=np.int64)
        lead_sched = Schedule(idx, np.column_stack([lead[k] for k in idx]))
    engine_scenario = EngineScenario(capacity=cap.schedule(), link_capacity=lcap.schedule(),
                                     lead_time=lead_sched, demand_factor=dem.schedule(), name=scenario.name)

    pol = scenario.policies
    head = sites["capacity_headroom"].to_numpy(float)
    head = np.where(np.isnan(head), pol.surge_capacity or 0.0, head)
    head = np.where(real_site, head, 0.0)
    if "ramp_days" in sites.columns and pol.ramp_up_days is None:
        ramp_d = sites["ramp_days"].to_numpy(float)
        ramp_d = np.where(np.isnan(ramp_d), DEFAULT_RAMP_DAYS, ramp_d)
    else:
        ramp_d = np.full(len(sites), float(DEFAULT_RAMP_DAYS if pol.ramp_up_days is None else pol.ramp_up_days))
    ramp_steps = np.maximum(np.ceil(ramp_d / step_days - 1e-9), 0).astype(np.int64)
    inv_days = float(inventory_days)
    if "inventory_days" in links.columns:
        inv_l = links["inventory_days"].to_numpy(float)
        inv_l = np.where(np.isnan(inv_l), inv_days, inv_l)
    else:
        inv_l = np.full(len(links), inv_days)
    inv_steps = np.zeros(network.n_links)
    inv_steps[canon] = np.maximum(inv_l / step_days, 1.0)
    sub = sub_days = None
    if "substitution" in links.columns and np.any(links["substitution"].to_numpy(float) > 0):
        sub = np.zeros(network.n_links)
        sub[canon] = links["substitution"].to_numpy(float)
        sub_days = np.ones(network.n_links)
        sub_days[canon] = np.maximum(links["substitution_days"].to_numpy(float) / step_days, 1.0)
    stock = None
    release_day = 0
    if pol.stockpile_release:
        sd = np.zeros(network.n_links)
        for j_rel, rel in enumerate(pol.stockpile_release):
            hit = real_link & (litem == rel.item) & ~np.isnan(links["stock_days"].to_numpy(float))
            if rel.holder is not None:
                hit &= np.isin(importer, list(members.get(rel.holder, {rel.holder})))
            if not hit.any():
                fail_path(("policies", "stockpile_release", j_rel),
                          f"stockpile release of {rel.item}" + (f" held by {rel.holder}" if rel.holder else "")
                          + ": the atlas has no stocks of it for the network's clients, so it would release nothing")
            sd[canon[hit]] = np.maximum(sd[canon[hit]], links.loc[hit, "stock_days"].to_numpy(float) / step_days)
        release_day = min(r.start for r in pol.stockpile_release) // step_days
        stock = sd if sd.any() else None
    consumers, cnames, is_outside, low = _consumer_split(index, atlas)
    link_prio = cons_prio = fd_prio = None
    if pol.coalition_first:
        link_prio, cons_prio, fd_prio = _coalition_first(
            _members(atlas, scenario.reference_date).get(pol.coalition_first, set()),
            network, sites, links, canon, cnames if consumers is not None else None)
        if cons_prio is not None:  # outside uses: with the non-members; low-value ones after everyone
            cons_prio = np.where(is_outside, 1, cons_prio)
            if wtp:
                cons_prio = np.where(low, 2, cons_prio)
    elif wtp and consumers is not None and low.any():
        cons_prio = np.where(low, 1, 0).astype(np.int64)
        fd_prio = 0
    uses_lead = bool(np.any(network.lead_time > 1) or lead_sched is not None)
    ext = Extensions(lead_times=uses_lead, resourcing=pol.resourcing, ramp_days=ramp_steps,
                     capacity_headroom=head, stockpile_days=stock, stockpile_release_day=int(release_day),
                     consumers=consumers, link_priority=link_prio, consumer_priority=cons_prio,
                     final_demand_priority=fd_prio, inventory_days=inv_steps,
                     substitution=sub, substitution_days=sub_days)
    eff = pd.DataFrame(effects, columns=["shock", "type", "what", "sites", "links", "start_step", "end_step"])
    site_countries = set(scountry)
    for e in effects:
        if e["sites"] == 0 and e["links"] == 0:
            sh = scenario.shocks[int(e["shock"])]
            who = getattr(sh, "exporter", None) or getattr(sh, "producer", None) or getattr(sh, "country", None)
            hint = ""
            if isinstance(who, str) and who not in site_countries:
                hint = (f" ({who} has no site of its own in this network: producers below "
                        f"{MERGE_SHARE:.1%} of an item's output are part of its rest-of-world site)")
            fail(int(e["shock"]), None, f"the {e['type']} ({e['what']}) touches no site and no link of this "
                                        f"network, so it would change nothing{hint}")
    if failures:
        from ..errors import ValidationError

        raise ValidationError(failures, f"scenario {scenario.file} does not act on this network")
    return CompiledScenario(scenario, engine_scenario, ext, pol.rationing, steps, step_days, eff, tuple(notes),
                            outside=tuple(bool(x) for x in is_outside))
