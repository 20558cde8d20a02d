"""A Monte Carlo draw starts at its first shocked day: the same losses as a run from day 0.

Before its first shock a draw's run is on the baseline, so :class:`TargetModel` starts the engine there
(``shift_ok``) and pads the series with baseline rows. The engine is invariant to a shift of time, so the
losses are the same **bit for bit**, with re-sourcing on or off: its ramp clock counts excess demand from
``kernel.RAMP_EXCESS`` on, so rounding-level excess on a quiet baseline no longer ramps spare capacity up
(``test_a_quiet_baseline_keeps_its_capacity``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.montecarlo import parse_catalogue
from paxsilica.montecarlo.draw import draw_events
from paxsilica.montecarlo.model import TargetModel, first_shocked_day, shifted, start_groups
from paxsilica.network.build import tiny_atlas
from paxsilica.sim import Scenario, Schedule, SupplyNetwork, simulate
from tests.test_montecarlo_run import TINY

HORIZON = 90


@given(st.integers(0, 30), st.integers(1, 40), st.sampled_from(["capacity", "link_capacity", "demand_factor"]))
@settings(max_examples=40, deadline=None)
def test_first_shocked_day_is_the_first_row_off_baseline(k: int, rows: int, kind: str) -> None:
    net = SupplyNetwork.from_arrays([0, 1], [1, 2], [1.0, 1.0], final_demand=[0.0, 0.0, 1.0])
    v = np.ones((rows, 2))
    if k < rows:
        v[k:, 1] = 0.5
    s = Scenario(**{kind: Schedule([0, 1], v)})
    assert first_shocked_day(s, net, 50) == (k if k < rows else 50)
    if k < rows:  # the shifted schedule starts with the shock
        cut = getattr(shifted(s, k), kind)
        assert cut.values[0, 1] == 0.5 and cut.values.shape[0] == rows - k


def test_lead_times_at_their_own_value_are_the_baseline() -> None:
    net = SupplyNetwork.from_arrays([0], [1], [1.0], final_demand=[0.0, 1.0], lead_time=[3])
    lead = np.full((10, 1), 3.0)
    lead[6:] = 5.0
    assert first_shocked_day(Scenario(lead_time=Schedule([0], lead)), net, 10) == 6


def _draws(cat, n: int, horizon: int) -> list:  # type: ignore[no-untyped-def]
    return [draw_events(cat, 5, d, horizon) for d in range(n)]


def _both(model: TargetModel, draws: list) -> tuple[np.ndarray, np.ndarray]:
    model.shift_ok = False
    day0 = model.losses(draws)
    model.shift_ok = True
    return day0, model.losses(draws)


def _no_resourcing(model: TargetModel, draws: list) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_both` with re-sourcing off (the engine is then invariant to a shift of time)."""
    keep = model.extensions
    model.extensions = dataclasses.replace(keep, resourcing=False)
    try:
        return _both(model, draws)
    finally:
        model.extensions, model.shift_ok = keep, True


def test_tiny_atlas_same_losses_as_from_day_zero() -> None:
    cat = parse_catalogue(TINY, file="tiny.yaml")
    model = TargetModel(tiny_atlas(), "chip", cat, HORIZON, inventory_days=10.0, tau_days=6.0)
    draws = _draws(cat, 24, HORIZON)
    starts = [first_shocked_day(s, model.net, HORIZON) for s in map(model.engine_scenario, draws) if s is not None]
    assert max(starts) > 10  # some draws do start late: the comparison is not of day-0 runs only
    # some engine call holds draws of different first days (it starts at the earliest of them)
    assert any(len({starts[k] for k in ks}) > 1 for _t, ks in start_groups(starts, HORIZON))
    day0, late = _both(model, draws)
    assert day0[:, 0].max() > 0.01 and np.array_equal(late, day0)
    day0, late = _no_resourcing(model, draws)
    assert day0[:, 0].max() > 0.01 and np.array_equal(late, day0)


def test_bundled_atlas_same_losses_as_from_day_zero(bundled) -> None:  # type: ignore[no-untyped-def]
    model, cat = bundled
    # the 8 busiest of 40 draws (most events), so that the comparison is about draws with losses
    # whatever the catalogue's rates: a quiet year compares zero with zero
    pool = _draws(cat, 40, 365)
    draws = sorted(pool, key=len, reverse=True)[:8]
    day0, late = _both(model, draws)
    assert (day0[:, 0] > 0).sum() >= 3 and day0[:, 0].max() > 1e-3
    assert np.array_equal(late, day0)  # re-sourcing on (the default): exact too
    day0, late = _no_resourcing(model, draws)
    assert (day0[:, 0] > 0).sum() >= 3 and np.array_equal(late, day0)


def test_a_quiet_baseline_keeps_its_capacity(bundled) -> None:  # type: ignore[no-untyped-def]
    """Why the shift is exact with re-sourcing on: on an unshocked run no site's ramp clock ticks, so no
    capacity grows though nothing happens (before ``kernel.RAMP_EXCESS``, rounding-level excess demand
    ramped up the spare capacity of 6 of the bundled atlas's 637 sites), in both steps."""
    model, _cat = bundled
    ext = dataclasses.replace(model.extensions, resourcing=True)
    for kernel in ("numba", "numpy"):
        r = simulate(model.net, [Scenario()], steps=30, rationing=model.comp.rationing,
                     inventory_days=model.inventory_days, tau=model.tau_days, mode="extended", extensions=ext,
                     record_firms=True, kernel=kernel)
        cap = r.firm_capacity[0]
        assert np.array_equal(cap, np.broadcast_to(cap[0], cap.shape)), kernel


def _cost(groups: list[tuple[int, list[int]]], steps: int, fixed: float) -> float:
    return sum((steps - t) * (fixed + len(ks)) for t, ks in groups)


def _partitions(items: list[int]):  # type: ignore[no-untyped-def]
    """Every set partition of ``items`` (Bell numbers: 203 for 6 items)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for p in _partitions(rest):
        yield [[first], *p]
        for i in range(len(p)):
            yield [*p[:i], [first, *p[i]], *p[i + 1:]]


@given(st.lists(st.integers(0, 99), max_size=6), st.sampled_from([0.0, 0.5, 1.5, 10.0]))
@settings(max_examples=150, deadline=None)
def test_start_groups_is_a_least_cost_grouping(starts: list[int], fixed: float) -> None:
    """Every draw in exactly one call, no call after a member's first day, and no grouping of the draws
    (all set partitions, by brute force) costs less."""
    steps = 100
    groups = start_groups(starts, steps, fixed)
    assert sorted(k for _t, ks in groups for k in ks) == list(range(len(starts)))
    assert all(t == min(starts[k] for k in ks) for t, ks in groups)
    best = min(_cost([(min(starts[k] for k in p), p) for p in part], steps, fixed)
               for part in _partitions(list(range(len(starts)))))
    assert _cost(groups, steps, fixed) <= best + 1e-9
