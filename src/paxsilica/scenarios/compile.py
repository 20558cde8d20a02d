"""Scenario + network (+ lanes) → the engine's schedules (:class:`paxsilica.sim.Scenario`, ``Extensions``).

Each shock type compiles itself: its ``apply`` method, beside its declaration in
:mod:`paxsilica.scenarios.declare`, is given a :class:`Build` (the network's arrays and the factor
accumulators). How each shock becomes arrays (days are turned into steps of ``step`` days; a factor at
step ``t`` is the profile's value on day ``t·step``):

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

from ..network.build import MERGE_SHARE, SiteIndex, compute_lanes
from .declare import ChokepointClosure, Recovery
from .schema import Scenario


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
    return closed_among(scenario.shocks, s)


def closed_among(shocks: Iterable[Any], s: ChokepointClosure) -> frozenset[str]:
    """The chokepoint of ``s`` and that of every closure among ``shocks`` overlapping it in time (what
    :func:`_closed_with` finds in a scenario; the Monte Carlo model asks it of a draw's shocks)."""
    end = s.end_day()
    out = {s.chokepoint}
    for o in shocks:
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


class Build:
    """What a shock needs to put itself into the engine's schedules (:meth:`Shock.apply`).

    The network's arrays (link ends and items, site items and countries, which links and sites are
    real), the accumulators of capacity, link capacity, lead-time and demand factors (combined by
    minimum, lead times by maximum), the effects table and the notes and failures of the compilation.
    """

    def __init__(self, scenario: Scenario, network: Any, index: SiteIndex, atlas: Any, steps: int,
                 lanes_under: Any) -> None:
        from ..errors import Problem

        self._problem = Problem
        self.scenario, self.network, self.index, self.atlas = scenario, network, index, atlas
        self.steps, self.step_days = steps, scenario.step
        self.days = _days(steps, scenario.step)
        self.lanes_under = lanes_under
        self.sites, self.links = sites, links = index.sites, index.links
        self.canon = network.link_positions(links["link"].to_numpy(np.int64)) if len(links) else np.zeros(0, np.int64)
        self.real_link = ~links["virtual"].to_numpy(bool)
        self.real_site = ~sites["virtual"].to_numpy(bool)
        self.members = _members(atlas)
        countries_t = atlas["countries"]
        # countries without a region (missing values) belong to none: ``NA == region`` cannot be tested
        self.region_of = {c: r for c, r in zip(countries_t["iso3"], countries_t["region"], strict=True)
                          if isinstance(r, str)}
        self.notes: list[str] = []
        self.cap, self.lcap, self.dem = _Acc(steps), _Acc(steps), _Acc(steps)
        self.lead: dict[int, np.ndarray] = {}
        self.effects: list[dict[str, Any]] = []
        self.failures: list[Any] = []
        self.exporter = links["exporter"].astype(str).to_numpy()
        self.importer = links["importer"].astype(str).to_numpy()
        self.litem = links["item"].astype(str).to_numpy()
        self.sitem = sites["item"].astype(str).to_numpy()
        self.scountry = sites["country"].astype(str).to_numpy()
        self.sprod = sites["producer"].astype(str).to_numpy()
        # a ROW client site has importer "" : outside every country and group
        self.cross = self.real_link & (self.exporter != self.importer)
        self.wtp = scenario.policies.allocation == "willingness_to_pay"
        # share of each link's supplier output controlled by a country (made-in country where none given)
        self.ctrl_share = _control_shares(sites, links)
        self._controlled: dict[str, np.ndarray] = {}
        self.o_sup = sites["outside_share"].to_numpy(float)[links["supplier"].to_numpy(np.int64)] \
            if "outside_share" in sites.columns else np.zeros(len(links))

    def fail_path(self, path: tuple, reason: str) -> None:
        """Note that what stands at ``path`` of the scenario would act on nothing."""
        sc = self.scenario
        line = sc.lines.get(path) if sc.lines else None
        self.failures.append(self._problem(sc.file, line, ".".join(map(str, path)), reason))

    def fail(self, i: int, field_: str | None, reason: str) -> None:
        self.fail_path(("shocks", i) + ((field_,) if field_ else ()), reason)

    def record(self, i: int, s: Any, what: str, n_sites: int, n_links: int, end: int | None) -> None:
        """One row of the effects table: what shock ``i`` touched."""
        sd = self.step_days
        self.effects.append({"shock": i, "type": s.type, "what": what, "sites": n_sites, "links": n_links,
                             "start_step": s.start // sd, "end_step": None if end is None else -(-end // sd)})

    def window(self, start: int, end: int | None) -> np.ndarray:
        """Steps whose day lies in ``[start, end)``."""
        return _window(self.days, start, end)

    def capacity_profile(self, start: int, loss: float, rec: Recovery, outage: int = 0) -> np.ndarray:
        """Capacity factor per step: ``1 - loss`` for ``outage`` days from ``start``, then recovering."""
        return _capacity_profile(self.days, start, loss, rec, outage)

    def members_on(self, day: int) -> dict[str, set[str]]:
        """Group members on scenario day ``day`` (every member ever listed without a reference date)."""
        return _members(self.atlas, _date_of(self.scenario, day))

    def firm_countries(self, firm: str) -> set[str]:
        return _firm_countries(self.atlas, firm)

    def controlled_share(self, country: str) -> np.ndarray:
        """Per link: the share of its supplier site's output that ``country`` controls (0 without
        data), looked up once per country (a Build reused for many shocks asks it again and again)."""
        got = self._controlled.get(country)
        if got is None:
            got = (np.array([d.get(country, 0.0) for d in self.ctrl_share]) if self.ctrl_share
                   else np.zeros(len(self.links)))
            self._controlled[country] = got
        return got

    def lane_keys(self, mask: np.ndarray) -> pd.DataFrame:
        return _lane_keys(self.links, mask)

    def lanes_closed(self, s: ChokepointClosure, through: np.ndarray) -> pd.DataFrame | None:
        """Lane table of the links ``through`` a closure, routed around every closure overlapping it."""
        closed = _closed_with(self.scenario, s)
        if self.lanes_under is not None:
            return self.lanes_under(closed)
        return compute_lanes(self.atlas, self.lane_keys(through).drop_duplicates(), closed, self.notes)


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
    b = Build(scenario, network, index, atlas, steps, lanes_under)
    for i, s in enumerate(scenario.shocks):
        if s.start >= steps * step_days:
            if steps < scenario.steps:  # the caller cut the run short (e.g. --steps): say so, not the file's fault
                b.notes.append(f"shock {i} ({s.type}) starts on day {s.start}, after the shortened run of "
                               f"{steps * step_days} days, and is left out")
                continue
            b.fail(i, "start", f"the {s.type} starts on day {s.start}, after the run's {steps * step_days} days: "
                               "it would touch nothing (shorten the start or lengthen the horizon)")
            continue
        s.apply(b, i)  # each shock type compiles itself (paxsilica.scenarios.declare)
    sites, links, canon, members = b.sites, b.links, b.canon, b.members
    real_site, real_link, litem, importer = b.real_site, b.real_link, b.litem, b.importer
    notes, effects, wtp, lead = b.notes, b.effects, b.wtp, b.lead
    cap, lcap, dem, scountry, fail, fail_path = b.cap, b.lcap, b.dem, b.scountry, b.fail, b.fail_path
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
    if b.failures:
        from ..errors import ValidationError

        raise ValidationError(b.failures, f"scenario {scenario.file} does not act on this network")
    return CompiledScenario(scenario, engine_scenario, ext, pol.rationing, steps, step_days, eff, tuple(notes),
                            outside=tuple(bool(x) for x in is_outside))
