"""The compiled extended step (sim/kernel.py) against the numpy step it replaces.

Both paths must give the same results to rounding (1e-9 relative to a series' scale), a batch must
still equal its sequential runs, and a run without a shock must stay exactly at the baseline.
Where numba is missing the comparisons skip, except in CI (CI installs it).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.sim import ConsumerSplit, Extensions, Scenario, Schedule, SupplyNetwork, simulate
from paxsilica.sim import kernel as K

needs_numba = pytest.mark.skipif(not K.AVAILABLE and not os.environ.get("CI"),
                                 reason="numba not installed (the numpy step is used)")

SERIES = ("production", "value_added", "final_demand", "final_demand_requested", "firm_production",
          "firm_final_demand", "firm_capacity", "link_deliveries", "link_stock", "consumer_final_demand")


def assert_same(a, b, rtol: float = 1e-9) -> None:  # type: ignore[no-untyped-def]
    """Every recorded series equal to ``rtol`` times the series' largest value (per scenario)."""
    for f in SERIES:
        va, vb = getattr(a, f), getattr(b, f)
        if va is None:
            assert vb is None, f
            continue
        scale = np.maximum(np.abs(va).max(axis=tuple(range(1, va.ndim)) if a.batched else None,
                                          keepdims=True), 1e-300)
        err = np.abs(va - vb) / scale
        assert float(err.max(initial=0.0)) <= rtol, f"{f}: max relative difference {err.max():.2e}"
    assert a.parameters["steps_run"] == b.parameters["steps_run"]


@st.composite
def cases(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    n = draw(st.integers(2, 7))
    pairs = [(j, i) for j in range(n) for i in range(n)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=3 * n, unique=True))
    m = len(chosen)
    amounts = draw(st.lists(st.floats(0.1, 100.0), min_size=m, max_size=m))
    fd = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.1, 100.0)), min_size=n, max_size=n))
    sector = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    lead = draw(st.lists(st.integers(1, 4), min_size=m, max_size=m))
    net = SupplyNetwork.from_arrays([p[0] for p in chosen], [p[1] for p in chosen], amounts, n_firms=n,
                                    final_demand=fd, sector=sector, sector_names=["a", "b", "c"],
                                    lead_time=lead, capacity_headroom=[0.2] * n)
    m = net.n_links
    steps = draw(st.integers(1, 40))
    firm = draw(st.integers(0, n - 1))
    loss = draw(st.floats(0.0, 1.0))
    prof = np.ones((steps, 1))
    start, stop = draw(st.integers(0, steps)), draw(st.integers(0, steps))
    prof[start:max(start, stop)] = 1.0 - loss
    kw: dict = {"capacity": Schedule([firm], prof)}
    if draw(st.booleans()):
        kw["link_capacity"] = Schedule([draw(st.integers(0, m - 1))], [[draw(st.sampled_from([0.0, 0.5]))]])
    if draw(st.booleans()):
        kw["demand_factor"] = Schedule([draw(st.integers(0, n - 1))], [[draw(st.floats(0.5, 2.0))]])
    lead_times = draw(st.booleans())
    if lead_times and draw(st.booleans()):
        kw["lead_time"] = Schedule([draw(st.integers(0, m - 1))], [[draw(st.integers(1, 6))]])
    rationing = draw(st.sampled_from(["proportional", "priority"]))
    # re-sourcing under the priority rule only on the stress library (test below): its ramp clock
    # (y > 1) and fill test (fill >= 1) are thresholds, and the two steps may order tied claimants of
    # the water-filling differently (last-bit differences), which on a small network can tip one
    ext: dict = {"lead_times": lead_times, "resourcing": draw(st.booleans()) and rationing == "proportional",
                 "ramp_days": draw(st.sampled_from([0, 5])),
                 "order_target": draw(st.sampled_from(["baseline", "output"])),
                 "early_exit": draw(st.booleans())}
    if draw(st.booleans()):
        ext["inventory_days"] = np.array(draw(st.lists(st.floats(1.0, 20.0), min_size=m, max_size=m)))
    if draw(st.booleans()):
        ext["substitution"] = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=m, max_size=m)))
        ext["substitution_days"] = draw(st.sampled_from([0.0, 10.0]))
    if draw(st.booleans()):
        ext["stockpile_days"] = draw(st.floats(0.0, 10.0))
        ext["stockpile_release_day"] = draw(st.integers(0, 5))
        ext["stockpile_release_rate"] = draw(st.sampled_from([np.inf, 0.5]))
    if draw(st.booleans()):  # two consumer groups, the second served last
        ext["consumers"] = ConsumerSplit(np.repeat(np.arange(n), 2), np.tile([0, 1], n), [0.5] * (2 * n),
                                         ["first", "last"])
        ext["consumer_priority"] = [0, 1]
    if draw(st.booleans()):
        ext["link_priority"] = np.array(draw(st.lists(st.integers(0, 2), min_size=m, max_size=m)))
    return net, Scenario(**kw), steps, rationing, Extensions(**ext)


@needs_numba
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_kernel_equals_numpy_step(case) -> None:  # type: ignore[no-untyped-def]
    net, scen, steps, rationing, ext = case
    kw = dict(steps=steps, rationing=rationing, extensions=ext, record_firms=True, record_links=True)
    assert_same(simulate(net, scen, kernel="numpy", **kw), simulate(net, scen, kernel="numba", **kw))
    # a batch of two different scenarios equals its single runs (the kernel computes each on its own)
    batch = simulate(net, [scen, Scenario()], kernel="numba", **kw)
    single = simulate(net, scen, kernel="numba", **kw)
    np.testing.assert_array_equal(batch.production[0], single.production)


@needs_numba
@settings(max_examples=60, deadline=None)
@given(cases())
def test_kernel_no_shock_stays_at_baseline(case) -> None:  # type: ignore[no-untyped-def]
    """Part C: without a shock the output stays at the baseline (ENGINE.md: to 1e-9; both steps hold
    it to the last bits), and the compiled step gives exactly the numpy step's numbers."""
    net, _, steps, rationing, ext = case
    kw = dict(steps=steps, rationing=rationing, extensions=ext, record_firms=True)
    r = simulate(net, Scenario(), kernel="numba", **kw)
    base = np.broadcast_to(net.baseline_output, (steps + 1, net.n_firms))
    np.testing.assert_allclose(r.firm_production, base, rtol=1e-12, atol=0)
    np.testing.assert_allclose(r.production, net.baseline_output.sum(), rtol=1e-12, atol=0)
    ref = simulate(net, Scenario(), kernel="numpy", **kw)
    np.testing.assert_array_equal(r.firm_production, ref.firm_production)


@needs_numba
@pytest.mark.slow
def test_kernel_equals_numpy_step_on_the_stress_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every built-in scenario's batched engine call (central run and band draws) through both steps."""
    import paxsilica.sim as sim
    from paxsilica.atlas import bundled_atlas
    from paxsilica.stress import run_library

    real = sim.simulate
    seen: list[str] = []

    def both(net, scen, **kw):  # type: ignore[no-untyped-def]
        kw.pop("kernel", None)
        a = real(net, scen, kernel="numpy", **kw)
        b = real(net, scen, kernel="numba", **kw)
        assert_same(a, b)
        seen.append(kw.get("rationing", "proportional"))
        return b

    monkeypatch.setattr(sim, "simulate", both)
    table = run_library(bundled_atlas(), bands=2, workers=1, steps=90)
    assert len(table) >= 10
    assert len(seen) >= 10 and "priority" in seen and "proportional" in seen  # the runner called us


def test_kernel_choice() -> None:
    assert K.kernel_choice("numpy") is False
    with pytest.raises(InputError, match="unknown kernel"):
        K.kernel_choice("fast")
    net = SupplyNetwork.from_arrays([0], [1], [1.0], final_demand=[0.0, 1.0])
    with pytest.raises(InputError, match="unknown kernel"):
        simulate(net, steps=1, extensions=Extensions(), kernel="fast")  # type: ignore[arg-type]


def test_environment_selects_the_numpy_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAXSILICA_KERNEL", "numpy")
    assert K.kernel_choice("auto") is False
    monkeypatch.setenv("PAXSILICA_KERNEL", "turbo")
    with pytest.raises(InputError, match="PAXSILICA_KERNEL"):
        K.kernel_choice("auto")


def test_fallback_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numba, ``auto`` runs the numpy step and ``numba`` is a clear error."""
    monkeypatch.setattr(K, "AVAILABLE", False)
    monkeypatch.delenv("PAXSILICA_KERNEL", raising=False)
    assert K.kernel_choice("auto") is False
    with pytest.raises(InputError, match="needs the numba package"):
        K.kernel_choice("numba")
    net = SupplyNetwork.from_arrays([0, 1], [1, 0], [1.0, 1.0], final_demand=[1.0, 1.0])
    r = simulate(net, Scenario(capacity=Schedule([0], [0.5])), steps=5, extensions=Extensions(resourcing=True))
    assert r.production[-1] < r.production[0]


@needs_numba
@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2**32 - 1))
def test_recorded_sums_are_numpys_pairwise_sums(n: int, seed: int) -> None:
    """The compiled recording sums each draw's products as ``v.sum(axis=1)`` sums a row (numpy's
    pairwise summation), every draw at once over the rows, so the compiled path records the numpy
    path's bits; checked on values spread over 10 decades, each of the four sums on its own values
    (the other factor 1, so the products are the values)."""
    rng = np.random.default_rng(seed)
    B = 3
    v = rng.standard_normal((4, B, n)) * 10.0 ** rng.uniform(-5, 5, (4, B, n))
    ones = np.ones((n, B))
    # x·p̄, x·w, served·c, dfac·c: x = ones with p̄, w as the values; served and dfac the values, c = 1
    x, pbar, vw = ones, np.ascontiguousarray(v[0].T), np.ascontiguousarray(v[1].T)
    served, dfac = np.ascontiguousarray(v[2].T), np.ascontiguousarray(v[3].T)
    want = v.sum(axis=2)
    K.compiled_helpers()
    fns = [K._pairwise_rows] + ([K._pairwise_rows.py_func] if n <= 400 else [])  # the Python form walks the same tree
    for fn in fns:
        fl, fv, r = np.zeros((64, 3), np.int64), np.empty((64, 4, B)), np.empty((4, 8, B))
        fn(x, pbar, vw, served, ones, dfac, True, n, r, fl, fv)
        assert (fv[-1] == want).all()


@needs_numba
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.data())
def test_recording_a_subset_of_firms_gives_their_columns(case, data) -> None:  # type: ignore[no-untyped-def]
    """``record_firms=`` an index array keeps exactly those firms' columns of the full recording, in
    its order, in both steps; ``firm_series`` keeps the series asked for, the others are None."""
    net, scen, steps, rationing, ext = case
    idx = np.array(data.draw(st.lists(st.integers(0, net.n_firms - 1), max_size=net.n_firms, unique=True)), np.int64)
    series = data.draw(st.lists(st.sampled_from(["production", "final_demand", "capacity"]), min_size=1,
                                unique=True))
    names = {"production": "firm_production", "final_demand": "firm_final_demand", "capacity": "firm_capacity"}
    for kernel in ("numba", "numpy"):
        kw = dict(steps=steps, rationing=rationing, extensions=ext, kernel=kernel)
        full = simulate(net, [scen, Scenario()], record_firms=True, **kw)
        part = simulate(net, [scen, Scenario()], record_firms=idx, firm_series=series, **kw)
        assert np.array_equal(part.firm_index, idx)
        for key, f in names.items():
            if key in series:
                np.testing.assert_array_equal(getattr(part, f), getattr(full, f)[..., idx])
            else:
                assert getattr(part, f) is None
        np.testing.assert_array_equal(part.production, full.production)


def test_record_firms_errors() -> None:
    net = SupplyNetwork.from_arrays([0], [1], [1.0], final_demand=[0.0, 1.0])
    with pytest.raises(InputError, match="out of range"):
        simulate(net, steps=1, extensions=Extensions(), record_firms=[2])
    with pytest.raises(InputError, match="firm indices"):
        simulate(net, steps=1, extensions=Extensions(), record_firms=[[0]])
    with pytest.raises(InputError, match="unknown series 'output'"):
        simulate(net, steps=1, extensions=Extensions(), record_firms=True, firm_series=["output"])


@needs_numba
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_compiled_loop_in_chunks_equals_one_call(case) -> None:  # type: ignore[no-untyped-def]
    """Schedules too large for one table run the compiled loop in chunks of steps (each with its
    rows): the same bits as one call over the whole horizon."""
    from paxsilica.sim import engine as eng

    net, scen, steps, rationing, ext = case
    kw = dict(steps=steps, rationing=rationing, extensions=ext, record_firms=True, record_links=True,
              kernel="numba")
    whole = simulate(net, [scen, Scenario()], **kw)
    keep = eng._Sparse.TABLE_MAX
    eng._Sparse.TABLE_MAX = 3  # at most a step or so per chunk
    try:
        chunked = simulate(net, [scen, Scenario()], **kw)
    finally:
        eng._Sparse.TABLE_MAX = keep
    for f in SERIES:
        a, b = getattr(whole, f), getattr(chunked, f)
        assert (a is None and b is None) or np.array_equal(a, b), f
    assert whole.parameters["steps_run"] == chunked.parameters["steps_run"]


@needs_numba
def test_warm_up_compiles_the_signature_every_caller_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """``scripts/setup``'s warm-up (one draw, two firms) must compile the very specialisation that the
    stress library (33 draws, bands) and the Monte Carlo runs call: numba compiles one per combination
    of argument types, read-only flags included, and each costs about half a minute on first use (the
    first briefing after a fresh install paid it when one-draw parameters came read-only and batched
    ones writeable)."""
    import numba

    from paxsilica.atlas.io import bundled_atlas
    from paxsilica.montecarlo import load_catalogue, run_montecarlo
    from paxsilica.stress import run_library

    loop = K.compiled_loop()
    seen: list[tuple[str, tuple]] = []
    who = ["warm-up"]

    def spy(*args):  # type: ignore[no-untyped-def]
        seen.append((who[0], tuple(numba.typeof(a) for a in args)))
        return loop(*args)

    monkeypatch.setattr(K, "compiled_loop", lambda: spy)
    K.warm_up()
    atlas = bundled_atlas()
    who[0] = "library"
    run_library(atlas, ["neon_shortage_ukraine", "hormuz_closure"], bands=3, workers=1, steps=40)
    who[0] = "montecarlo"
    run_montecarlo(atlas, load_catalogue(), draws=6, batch_size=3, horizon_days=40)
    types = {who: t for who, t in seen}
    assert set(types) == {"warm-up", "library", "montecarlo"}
    for who, t in seen:
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(types["warm-up"], t, strict=True)) if a != b]
        assert not diff, f"{who}: typed differently from the warm-up's call (argument, warm-up, {who}): {diff}"
