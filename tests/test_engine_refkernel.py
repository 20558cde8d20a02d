"""The compiled Part A step (paxsilica.sim.refkernel) against the numpy step of the reference mode.

Proportional rationing: the same numbers bit for bit (the same operations in the same order).
Priority rationing: the same to the last bits (claimants with equal ratios may be summed in another
order by the numpy step's unstable sort). The whole Part A suite also runs through the compiled
step with ``PAXSILICA_KERNEL=numba`` (see docs/engine.md, "Speed").
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.sim import FirmShocks, Scenario, SupplyNetwork, simulate
from paxsilica.sim.generate import generate_network
from paxsilica.sim.network import random_network
from paxsilica.sim.refkernel import AUTO_MIN_LINK_STEPS, reference_kernel_wanted

SERIES = ("production", "value_added", "final_demand", "firm_production", "firm_final_demand", "firm_capacity",
          "link_deliveries", "link_stock")


def both(net: SupplyNetwork, shocks: object, **kw: object) -> tuple[object, object]:
    a = simulate(net, shocks, kernel="numpy", record_firms=True, record_links=True, **kw)  # type: ignore[arg-type]
    b = simulate(net, shocks, kernel="numba", record_firms=True, record_links=True, **kw)  # type: ignore[arg-type]
    return a, b


def assert_same(a: object, b: object, rtol: float = 0.0) -> None:
    for f in SERIES:
        x, y = getattr(a, f), getattr(b, f)
        if rtol == 0.0:
            np.testing.assert_array_equal(x, y, err_msg=f)
        else:
            scale = np.maximum(np.abs(x).max(axis=-1, keepdims=True), 1e-300)
            assert float(np.max(np.abs(x - y) / scale)) <= rtol, f


def two_firms() -> SupplyNetwork:
    return SupplyNetwork.from_arrays([0, 1], [1, 0], [100.0, 100.0], final_demand=[100.0, 100.0], firm_ids=[1, 2])


def test_worked_example_through_the_compiled_step() -> None:
    a, b = both(two_firms(), FirmShocks([0], [0.1]), steps=12)
    assert_same(a, b)
    np.testing.assert_allclose(b.production, [400, 380, 343.33333333333337, 303.76492194674017, 251.7485460667279,
                                              231.01941128456284] + [200] * 7, rtol=1e-15)
    a, b = both(two_firms(), FirmShocks([0], [0.1]), steps=12, rationing="priority")
    assert_same(a, b, rtol=1e-15)
    np.testing.assert_allclose(b.production[3:6], [303.88888888888891, 251.8518518518519, 231.21913580246925],
                               rtol=1e-15)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 60), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31),
       st.floats(0.05, 1.0), st.sampled_from([None, 3.0, 10.0]),
       st.sampled_from([(15.0, 6.0), (2.0, 1.0), (30.0, 2.5)]))
def test_random_networks_proportional_bit_for_bit(n, per, n_sectors, seed, delta, recovery, nt) -> None:  # type: ignore[no-untyped-def]
    net = random_network(n, n * per, n_sectors, seed=seed)
    firm = int(np.argmax(net.baseline_output))
    a, b = both(net, FirmShocks([firm], [delta], [seed % 3]), steps=40, recovery_days=recovery,
                inventory_days=nt[0], tau=nt[1])
    assert_same(a, b)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 60), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31), st.floats(0.05, 1.0))
def test_random_networks_priority_to_rounding(n, per, n_sectors, seed, delta) -> None:  # type: ignore[no-untyped-def]
    net = random_network(n, n * per, n_sectors, seed=seed)
    big = np.argsort(-net.baseline_output)[:2]
    a, b = both(net, FirmShocks(big, [delta, delta / 2]), steps=40, rationing="priority")
    assert_same(a, b, rtol=1e-12)


def test_idle_firms_and_firms_without_suppliers() -> None:
    # firm 3 sells to nobody and has no final demand (p̄ = 0: idle), firm 0 buys nothing
    net = SupplyNetwork.from_arrays([0, 0, 1, 2, 1], [1, 2, 2, 1, 3], [5.0, 3.0, 2.0, 1.0, 4.0],
                                    final_demand=[1.0, 2.0, 6.0, 0.0], sector=[0, 1, 1, 2],
                                    sector_names=["a", "b", "c"])
    assert net.baseline_output[3] == 0.0
    for rationing in ("proportional", "priority"):
        a, b = both(net, FirmShocks([0, 2], [0.7, 0.4]), steps=50, rationing=rationing)
        assert_same(a, b, rtol=0.0 if rationing == "proportional" else 1e-13)
        assert np.all(b.firm_production[:, 3] == 0.0)


@pytest.mark.parametrize("rationing", ["proportional", "priority"])
def test_generated_network_both_rules(rationing: str) -> None:
    g = generate_network(20_000, 90_000, seed=2, n_shocks=3)
    a, b = both(g.network, g.shocks, steps=60, rationing=rationing)
    assert_same(a, b, rtol=0.0 if rationing == "proportional" else 1e-12)
    # the shock spreads: many suppliers short, so the water-filling ran on long claimant lists
    assert a.production[-1] < 0.95 * a.production[0]


@pytest.mark.parametrize("rationing", ["proportional", "priority"])
def test_batch_equals_single_runs_compiled(rationing: str) -> None:
    net = random_network(300, 1500, 8, seed=11)
    big = np.argsort(-net.baseline_output)[:3]
    scen = [Scenario(shocks=FirmShocks(big[:1], [0.6])), Scenario(shocks=FirmShocks(big[1:], [0.3, 0.9], [2, 0])),
            Scenario()]
    batch = simulate(net, scen, steps=45, rationing=rationing, kernel="numba", record_firms=True)
    for i, s in enumerate(scen):
        one = simulate(net, s, steps=45, rationing=rationing, kernel="numba", record_firms=True)
        np.testing.assert_array_equal(batch.production[i], one.production)
        np.testing.assert_array_equal(batch.firm_production[i], one.firm_production)
    np.testing.assert_array_equal(batch.production[2], np.full(46, batch.production[2, 0]))  # no shock: baseline


def test_conservation_and_capacity_in_the_compiled_step() -> None:
    net = random_network(400, 2400, 10, seed=5)
    big = np.argsort(-net.baseline_output)[:3]
    r = simulate(net, FirmShocks(big, [0.5, 0.8, 0.3]), steps=60, kernel="numba", record_firms=True,
                 rationing="priority")
    assert np.all(r.firm_production <= r.firm_capacity * (1 + 1e-12) + 1e-12)
    assert np.all(r.firm_final_demand <= net.final_demand * (1 + 1e-12))


def test_auto_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAXSILICA_KERNEL", raising=False)
    assert reference_kernel_wanted("auto", 1000, 30) is False
    assert reference_kernel_wanted("numpy", 10**7, 365) is False
    assert reference_kernel_wanted("numba", 10, 1) is True
    assert reference_kernel_wanted("auto", AUTO_MIN_LINK_STEPS, 1) is True
    monkeypatch.setenv("PAXSILICA_KERNEL", "numba")
    assert reference_kernel_wanted("auto", 10, 1) is True
    monkeypatch.setenv("PAXSILICA_KERNEL", "numpy")
    assert reference_kernel_wanted("auto", AUTO_MIN_LINK_STEPS, 1) is False


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 80), st.integers(1, 6), st.integers(0, 2**31), st.integers(0, 4),
       st.sampled_from(["proportional", "priority"]), st.booleans())
def test_supplier_buckets_change_no_bit(n, per, seed, shift, rationing, everyone) -> None:  # type: ignore[no-untyped-def]
    """The bucketed scatter and gather (large networks) give the direct loops' numbers bit for bit;
    forced here on small networks with buckets of 2^shift suppliers. Shocking every firm makes most
    suppliers short (the water-filling then reads the orders through the buckets)."""
    import paxsilica.sim.refkernel as rk

    net = random_network(n, n * per, 3, seed=seed)
    pos, sb, _ = rk.supplier_buckets(net.supplier, net.n_firms) or (None, None, None)
    assert pos is None  # small: direct loops
    shocks = FirmShocks(np.arange(n), np.full(n, 0.5)) if everyone else FirmShocks([0, n // 2], [0.6, 0.3])
    direct = simulate(net, shocks, steps=8, rationing=rationing, kernel="numba", record_firms=True)
    old = (rk.BUCKET_MIN_FIRMS, rk.BUCKET_SHIFT_MIN)
    try:
        rk.BUCKET_MIN_FIRMS, rk.BUCKET_SHIFT_MIN = 0, shift
        pos, sb, _ = rk.supplier_buckets(net.supplier, net.n_firms)
        # a permutation of the links, by bucket of suppliers, canonical order inside each bucket
        assert sorted(pos.tolist()) == list(range(net.n_links))
        assert np.array_equal(sb[pos], net.supplier)
        assert np.all(np.diff(sb >> max(shift, (net.n_firms - 1).bit_length() - 4)) >= 0)
        bucketed = simulate(net, shocks, steps=8, rationing=rationing, kernel="numba", record_firms=True)
    finally:
        rk.BUCKET_MIN_FIRMS, rk.BUCKET_SHIFT_MIN = old
    for f in ("production", "value_added", "firm_production", "firm_capacity"):
        np.testing.assert_array_equal(getattr(direct, f), getattr(bucketed, f), err_msg=f)
