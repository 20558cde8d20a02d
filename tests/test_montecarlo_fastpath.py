"""The Monte Carlo model's fast path (templates per effect, columns combined per draw) gives exactly the
columns of compiling the events' shocks directly (``compile_shocks``, the scenario compiler's ``apply``
of every shock into one Build): every hazard of the default catalogue on the bundled atlas, single
events and draws whose closures overlap, and random events on the tiny atlas (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.montecarlo import parse_catalogue
from paxsilica.montecarlo.draw import Event
from paxsilica.montecarlo.model import TargetModel
from paxsilica.network.build import tiny_atlas
from tests.test_montecarlo_run import TINY

FIELDS = (("capacity", "cap"), ("link_capacity", "lcap"), ("demand_factor", "dem"), ("lead_time", "lead"))


def _event(cat, i: int, start: int, duration: int, severity: float) -> Event:  # type: ignore[no-untyped-def]
    h = cat.hazards[i]
    return Event(i, h.id, h.kind, start, duration, severity, h.effects)


def _assert_direct(model: TargetModel, events: list[Event]) -> None:
    """The draw's engine scenario against its shocks compiled together, column by column, bit for bit."""
    shocks = tuple(s for e in events for s in model.event_shocks(e))
    fast = model.engine_scenario(events)
    if not shocks:
        assert fast is None
        return
    direct = model.compile_shocks(shocks)
    for field, part in FIELDS:
        cols, sched = getattr(direct, part), getattr(fast, field)
        assert (sched is None) == (not cols), field
        if sched is None:
            continue
        idx = sorted(cols)
        assert sched.index.dtype == np.int64 and sched.index.tolist() == idx, field
        ref = np.column_stack([cols[i] for i in idx])
        assert sched.values.dtype == ref.dtype and sched.values.shape == ref.shape, field
        assert sched.values.flags.c_contiguous, field
        assert np.array_equal(sched.values, ref), field


def test_every_default_hazard_alone_equals_its_direct_compilation(bundled) -> None:  # type: ignore[no-untyped-def]
    model, cat = bundled
    rng = np.random.default_rng(7)
    acting = 0
    for i, h in enumerate(cat.hazards):
        for _ in range(4):  # drawn as the run draws them (duration, severity), at a random start
            ev = _event(cat, i, int(rng.integers(0, 365)), int(min(max(round(h.duration.sample(rng)), 1), 36_525)),
                        float(min(max(h.severity.sample(rng), 0.0), 1.0)))
            _assert_direct(model, [ev])
            acting += bool(model.active.get(i))
    assert acting >= 4 * (len(cat.hazards) - 2)  # nearly every hazard acts on this network


def test_draws_with_overlapping_closures_equal_their_direct_compilation(bundled) -> None:  # type: ignore[no-untyped-def]
    """Closures of different events overlapping in time: each rerouted lane avoids every closure open
    with it (the templates per closure set), mixed with bans, outages and quakes."""
    model, cat = bundled
    closures = [i for i, h in enumerate(cat.hazards) if any(e.type == "chokepoint_closure" for e in h.effects)]
    others = [i for i in range(len(cat.hazards)) if i not in closures]
    rng = np.random.default_rng(11)
    for _ in range(12):
        picks = list(rng.choice(closures, size=3, replace=True)) + list(rng.choice(others, size=2))
        base = int(rng.integers(0, 300))
        evs = [_event(cat, int(i), base + int(rng.integers(0, 20)), int(rng.integers(1, 90)), float(rng.random()))
               for i in picks]
        _assert_direct(model, sorted(evs, key=lambda e: e.hazard))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 89), st.integers(1, 120), st.floats(0.0, 1.0)),
                min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_random_events_on_the_tiny_atlas_equal_their_direct_compilation(tiny, events) -> None:  # type: ignore[no-untyped-def]
    model, cat = tiny
    _assert_direct(model, [_event(cat, i, s, d, v) for i, s, d, v in events])


def test_a_one_day_horizon_takes_the_direct_path(tiny_atlas_) -> None:  # type: ignore[no-untyped-def]
    """Without two steps there is no on/off template: every effect is compiled for its event."""
    atlas, cat = tiny_atlas_
    model = TargetModel(atlas, "chip", cat, 1, inventory_days=10.0, tau_days=6.0)
    _assert_direct(model, [_event(cat, 0, 0, 5, 0.4), _event(cat, 3, 0, 30, 0.7), _event(cat, 1, 0, 3, 0.5)])


@pytest.fixture(scope="module")
def tiny_atlas_():  # type: ignore[no-untyped-def]
    return tiny_atlas(), parse_catalogue(TINY, file="tiny.yaml")


@pytest.fixture(scope="module")
def tiny(tiny_atlas_):  # type: ignore[no-untyped-def]
    atlas, cat = tiny_atlas_
    return TargetModel(atlas, "chip", cat, 90, inventory_days=10.0, tau_days=6.0), cat
