"""Part B of ENGINE.md: analytic cases by hand, and each extension on a network small enough to check."""

from __future__ import annotations

import numpy as np
import pytest

from paxsilica.errors import InputError
from paxsilica.sim import (
    ConsumerSplit,
    Extensions,
    FirmShocks,
    Scenario,
    Schedule,
    SupplyNetwork,
    cyber_incident_profile,
    recovery_profile,
    simulate,
)
from paxsilica.sim.network import random_network

OUTAGE = Scenario(capacity=Schedule([0], [0.0]))  # firm 0 fully down from step 0, for good


def chain(k: int, lead: int = 1) -> SupplyNetwork:
    """Firm 0 -> 1 -> ... -> k-1 (100 per step), the last firm sells 100 to final demand."""
    fd = [0.0] * (k - 1) + [100.0]
    return SupplyNetwork.from_arrays(list(range(k - 1)), list(range(1, k)), [100.0] * (k - 1),
                                     final_demand=fd, lead_time=lead)


@pytest.mark.parametrize("n", [1, 3, 15])
@pytest.mark.parametrize("mode", ["reference", "extended"])
def test_chain_survives_n_days_then_fails(n: int, mode: str) -> None:
    # The target holds n days of its input. Upstream stops at step 0; deliveries stop arriving at
    # step 1; the stock (n at step 0) falls by one day per step, so output is whole for steps
    # 0..n-1 (time-to-survive = n) and zero from step n on.
    ext = Extensions() if mode == "extended" else None
    r = simulate(chain(2), OUTAGE, steps=n + 5, inventory_days=n, extensions=ext, record_firms=True)
    target = r.firm_production[1:, 1]
    assert target[:n].tolist() == [100.0] * n
    assert target[n:].tolist() == [0.0] * 5
    assert r.final_demand[1:].tolist() == [100.0] * n + [0.0] * 5


def test_three_tier_chain_survives_2n_days() -> None:
    # the middle firm keeps producing for n steps from its own stock; its last shipment (step n-1)
    # arrives at step n, so the target's stock only starts falling at step n+1: whole for 2n steps
    n = 4
    r = simulate(chain(3), OUTAGE, steps=3 * n, inventory_days=n, record_firms=True)
    target = r.firm_production[1:, 2]
    assert target[: 2 * n].tolist() == [100.0] * (2 * n)
    assert target[2 * n] == 0.0


@pytest.mark.parametrize("lead", [1, 2, 4])
def test_chain_with_lead_time_survives_n_plus_pipeline(lead: int) -> None:
    # shipments already in transit keep arriving for `lead` steps: whole for n + lead - 1 steps
    n = 5
    r = simulate(chain(2, lead), OUTAGE, steps=n + lead + 3, inventory_days=n,
                 extensions=Extensions(lead_times=True), record_firms=True)
    target = r.firm_production[1:, 1]
    survive = n + lead - 1
    assert target[:survive].tolist() == [100.0] * survive
    assert target[survive] == 0.0


def test_stockpile_extends_survival() -> None:
    # a reserve of r days tops the working stock up to n while it lasts: whole for n + r steps
    n, reserve = 5, 3
    r = simulate(chain(2), OUTAGE, steps=n + reserve + 3, inventory_days=n,
                 extensions=Extensions(stockpile_days=reserve), record_firms=True)
    target = r.firm_production[1:, 1]
    assert target[: n + reserve].tolist() == [100.0] * (n + reserve)
    assert target[n + reserve] == 0.0


def test_stockpile_release_day_and_rate() -> None:
    n = 5
    late = simulate(chain(2), OUTAGE, steps=15, inventory_days=n, record_firms=True,
                    extensions=Extensions(stockpile_days=3, stockpile_release_day=100))
    assert late.firm_production[1:, 1][n] == 0.0  # reserve never released
    slow = simulate(chain(2), OUTAGE, steps=15, inventory_days=n, record_firms=True, record_links=True,
                    extensions=Extensions(stockpile_days=3, stockpile_release_rate=0.5))
    # half a day per step: the working stock goes 5, 4.5, 4, 3.5, 3, 2.5, 2 (reserve empty), 1, 0
    np.testing.assert_allclose(slow.link_stock[1:10, 0], 100.0 * np.array([5, 4.5, 4, 3.5, 3, 2.5, 2, 1, 0]))
    target = slow.firm_production[1:, 1]
    assert target[:8].tolist() == [100.0] * 8
    assert target[8] == 0.0


def two_suppliers(headroom: float = 1.2) -> SupplyNetwork:
    """S1 (0) and S2 (1), same sector, each deliver 50 to K (2), which sells 100 to final demand."""
    return SupplyNetwork.from_arrays([0, 1], [2, 2], [50.0, 50.0], final_demand=[0.0, 0.0, 100.0],
                                     sector=[0, 0, 1], sector_names=["input", "product"],
                                     capacity_headroom=[0.0, headroom, 0.0])


def test_resourcing_two_suppliers_loss_is_the_hand_computed_area() -> None:
    # S1 is cut at step 0. K moves S1's orders to S2, which has 120 % headroom reached linearly
    # over 12 steps of excess demand: S2 can make 50 + 5t at step t (t <= 12), up to 110.
    # K needs 100 a step, so the sector supply falls short by 50 - 5t for t = 0..9:
    # area = sum_{t=0}^{9} (50 - 5t) = 500 - 225 = 275. K's stock (15 days) covers it: K is whole.
    ext = Extensions(resourcing=True, ramp_days=12)
    r = simulate(two_suppliers(), OUTAGE, steps=200, extensions=ext, record_firms=True)
    s2 = r.firm_production[1:, 1]
    np.testing.assert_allclose(s2[:13], 50.0 + 5.0 * np.arange(13))
    shortfall = np.maximum(0.0, 100.0 - s2)
    assert shortfall.sum() == pytest.approx(275.0, abs=1e-9)
    assert np.all(s2[10:] >= 100.0 - 1e-9)  # recovered after the ramp-up
    assert r.firm_production[1:, 2].tolist() == [100.0] * 200
    assert r.firm_production[1:, 0].tolist() == [0.0] * 200
    # once K's stock is rebuilt, S2 alone supplies K's 100 a step
    assert s2[-1] == pytest.approx(100.0, rel=1e-9)


def test_without_resourcing_the_client_runs_dry() -> None:
    r = simulate(two_suppliers(), OUTAGE, steps=60, extensions=Extensions(), record_firms=True)
    assert r.firm_production[1:, 1].max() == pytest.approx(50.0)  # no headroom used
    assert r.firm_production[-1, 2] < 100.0


def test_export_ban_on_a_link_equals_cutting_the_supplier_for_that_client() -> None:
    net = two_suppliers()
    ban = Scenario(link_capacity=Schedule(net.links_of(suppliers=[0], clients=[2]), [0.0]))
    ext = Extensions(resourcing=True, ramp_days=12)
    a = simulate(net, ban, steps=40, extensions=ext, record_firms=True)
    b = simulate(net, OUTAGE, steps=40, extensions=ext, record_firms=True)
    np.testing.assert_allclose(a.firm_production[:, 1:], b.firm_production[:, 1:])
    assert a.firm_production[1:, 0].tolist() == [0.0] * 40  # S1 has nobody to sell to


def test_licence_cap_limits_the_link() -> None:
    net = two_suppliers()
    cap = Scenario(link_capacity=Schedule(net.links_of(suppliers=[0]), [0.4]))
    r = simulate(net, cap, steps=20, extensions=Extensions(), record_links=True)
    k = int(net.links_of(suppliers=[0])[0])
    assert r.link_deliveries[1:, k].max() == pytest.approx(0.4 * 50.0)


def test_demand_surge_is_capped_by_capacity_and_reported() -> None:
    net = SupplyNetwork.from_arrays([0], [1], [50.0], final_demand=[50.0, 100.0])
    surge = Scenario(demand_factor=Schedule([1], [[1.0], [1.5], [1.5], [1.0]]))
    r = simulate(net, surge, steps=6, extensions=Extensions(), record_firms=True)
    assert r.final_demand_requested[1:].tolist() == [150.0, 200.0, 200.0, 150.0, 150.0, 150.0]
    assert np.all(r.firm_production[:, 1] <= 100.0 + 1e-9)  # no headroom: capacity is baseline
    assert r.final_demand[2] < r.final_demand_requested[2]


def test_final_demand_by_consumer() -> None:
    net = SupplyNetwork.from_arrays([0], [1], [100.0], final_demand=[0.0, 100.0])
    cons = ConsumerSplit([1, 1], [0, 1], [0.25, 0.75], ["USA", "JPN"])
    sc = Scenario(capacity=Schedule([0], [0.5]))
    r = simulate(net, sc, steps=60, extensions=Extensions(consumers=cons))
    assert r.consumer_final_demand[0].tolist() == [25.0, 75.0]
    np.testing.assert_allclose(r.consumer_final_demand.sum(axis=1), r.final_demand)
    np.testing.assert_allclose(r.consumer_final_demand[:, 0] * 3, r.consumer_final_demand[:, 1])
    assert r.consumer_final_demand[-1, 0] == pytest.approx(12.5)


def test_cyber_incident_profile_and_run() -> None:
    prof = cyber_incident_profile(10, start=2, outage_days=3, restore="linear", restore_days=2)
    assert prof.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    net = SupplyNetwork.from_arrays([0], [1], [100.0], final_demand=[0.0, 100.0])
    r = simulate(net, Scenario(capacity=Schedule([0], prof[:, None])), steps=10, inventory_days=2,
                 extensions=Extensions(), record_firms=True)
    assert r.firm_production[1:, 0].tolist()[:3] == [100.0, 100.0, 0.0]


def test_recovery_profile_kinds() -> None:
    assert recovery_profile(5, loss=0.5, kind="linear", duration=2).tolist() == [0.5, 0.75, 1.0, 1.0, 1.0]
    assert recovery_profile(4, loss=0.5, kind="step", duration=2).tolist() == [0.5, 0.5, 1.0, 1.0]
    np.testing.assert_allclose(recovery_profile(3, loss=0.8, kind="exponential", duration=1), [0.2, 0.6, 0.8])
    assert recovery_profile(3, loss=0.5, kind="permanent", start=1).tolist() == [1.0, 0.5, 0.5]
    with pytest.raises(InputError):
        recovery_profile(3, loss=1.5)
    with pytest.raises(InputError):
        recovery_profile(3, loss=0.5, kind="exponential")


def test_linear_profile_equals_reference_recovery() -> None:
    net = random_network(200, 800, 5, seed=4)
    big = int(np.argmax(net.baseline_output))
    a = simulate(net, FirmShocks([big], [0.6], [2]), steps=20, recovery_days=5)
    prof = recovery_profile(20, loss=0.6, start=2, kind="linear", duration=5)
    b = simulate(net, Scenario(capacity=Schedule([big], prof[:, None])), steps=20)
    np.testing.assert_allclose(a.production, b.production, rtol=1e-12)


def test_extended_mode_settles_after_full_recovery() -> None:
    """Three large firms lose 80 % and recover over 20 steps; lead times, re-sourcing, stockpiles on.

    Production returns to the baseline (no oscillation into new crises). Stocks drawn down upstream
    of suppliers without spare capacity can only be rebuilt with headroom: without it they stay
    below target while production is back; with it the whole state reaches the baseline and is
    then set to it exactly (settle_tol)."""
    net = random_network(2000, 10000, 20, seed=3)
    big = np.argsort(-net.baseline_output)[:3]
    shocks = FirmShocks(big, [0.8, 0.8, 0.8])
    base = np.broadcast_to(net.baseline_output, (100, 2000))
    for headroom in (0.0, 0.5):
        ext = Extensions(lead_times=True, resourcing=True, ramp_days=5, stockpile_days=2.0,
                         capacity_headroom=headroom)
        r = simulate(net, shocks, steps=365, recovery_days=20, extensions=ext, record_firms=True,
                     record_links=True)
        assert r.production[1:20].min() < 0.95 * r.production[0]
        np.testing.assert_allclose(r.firm_production[-100:], base, rtol=1e-9)
        stock_gap = net.amount * 15.0 - r.link_stock[-1]
        if headroom == 0.0:
            assert stock_gap.max() > 1e-3 * net.amount.min()  # still refilling, slowly
        else:
            # exactly on the baseline at the end: production and every stock
            np.testing.assert_array_equal(r.firm_production[-2:], base[:2])
            np.testing.assert_array_equal(r.link_stock[-2:], np.broadcast_to(net.amount * 15.0, (2, net.n_links)))


def test_lead_time_schedule_reroute_delays_deliveries() -> None:
    net = chain(2)
    sc = Scenario(lead_time=Schedule([0], [[3.0], [3.0], [1.0]]))  # two shipments take the long way
    r = simulate(net, sc, steps=10, inventory_days=5, extensions=Extensions(lead_times=True),
                 record_links=True, record_firms=True)
    assert r.firm_production[1:, 1].tolist() == [100.0] * 10  # the stock bridges the gap
    assert r.link_stock[3, 0] < 500.0  # a dip while the rerouted shipments are at sea


def test_input_validation() -> None:
    net = chain(2)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        FirmShocks([0], [1.2])
    with pytest.raises(InputError, match="index out of range"):
        simulate(net, Scenario(capacity=Schedule([5], [0.5])), steps=2)
    with pytest.raises(InputError, match=r"\[0.0, 1.0\]"):
        simulate(net, Scenario(capacity=Schedule([0], [1.5])), steps=2)
    with pytest.raises(InputError, match="mode='extended'"):
        simulate(net, steps=2, mode="reference", extensions=Extensions())
    with pytest.raises(InputError, match="mode='extended'"):
        simulate(net, Scenario(link_capacity=Schedule([0], [0.0])), steps=2)
    with pytest.raises(InputError, match="lead_times"):
        simulate(net, Scenario(lead_time=Schedule([0], [2.0])), steps=2, extensions=Extensions())
    with pytest.raises(InputError, match="rationing"):
        simulate(net, steps=2, rationing="random")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="tau"):
        simulate(net, steps=2, tau=0)
    with pytest.raises(InputError, match="duplicate link"):
        SupplyNetwork.from_arrays([0, 0], [1, 1], [1.0, 2.0])
    with pytest.raises(InputError, match="amount must be > 0"):
        SupplyNetwork.from_arrays([0], [1], [0.0])


def test_network_layout() -> None:
    net = SupplyNetwork.from_arrays([2, 0, 1, 0], [0, 2, 2, 1], [1.0, 2.0, 3.0, 4.0], sector=[0, 1, 1],
                                    link_group=[7, 8, 9, 10])
    # canonical order: by client, then supplier sector, then supplier
    assert net.client.tolist() == [0, 1, 2, 2]
    assert net.supplier.tolist() == [2, 0, 0, 1]
    assert net.link_group.tolist() == [7, 10, 8, 9]
    assert net.original_link_index.tolist() == [0, 3, 1, 2]
    assert net.link_positions([1]).tolist() == [2]
    assert net.seg_start.tolist() == [0, 1, 2, 3]  # client 2 buys from sectors 0 and 1
    assert net.seg_amount.tolist() == [1.0, 4.0, 2.0, 3.0]
    assert net.baseline_output.tolist() == [6.0, 3.0, 1.0]
    assert net.by_supplier.tolist() == [1, 2, 3, 0]
    assert net.supplier_start.tolist() == [0, 2, 3, 4]


def test_edge_cases_empty_links_zero_steps_and_batch_records() -> None:
    alone = SupplyNetwork.from_arrays([], [], [], n_firms=3, final_demand=[1.0, 2.0, 3.0])
    for rationing in ("proportional", "priority"):
        r = simulate(alone, FirmShocks([0], [0.5]), steps=3, rationing=rationing)
        assert r.production.tolist() == [6.0, 5.5, 5.5, 5.5]
        r = simulate(alone, Scenario(capacity=Schedule([1], [0.0])), steps=2, rationing=rationing,
                     extensions=Extensions(resourcing=True, lead_times=True, stockpile_days=1.0))
        assert r.production.tolist() == [6.0, 4.0, 4.0]
    net = SupplyNetwork.from_arrays([0], [1], [1.0], final_demand=[0.0, 1.0], sector=[0, 0])
    r = simulate(net, steps=0)
    assert r.step.tolist() == [-1] and r.production.tolist() == [2.0]
    batch = [Scenario(), Scenario(shocks=FirmShocks([0], [1.0]))]
    rb = simulate(net, batch, steps=5, inventory_days=2, record_sectors=True, record_links=True, record_firms=True)
    assert rb.sector_production.shape == (2, 6, 1) and rb.link_stock.shape == (2, 6, 1)
    one = simulate(net, batch[1], steps=5, inventory_days=2, record_sectors=True)
    np.testing.assert_array_equal(rb.sector_production[1], one.sector_production)
    assert rb.production[1].tolist() == [2.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert rb.parameters["scenarios"] == ["", ""] and rb.batched


def test_extended_mode_with_output_target_matches_reference_on_single_supplier_sectors() -> None:
    # with one supplier per (client, sector), per-segment orders are per-link orders; with the
    # reference's stock target the extended mode then reproduces Part A
    net = SupplyNetwork.from_arrays([0, 1], [1, 0], [100.0, 100.0], final_demand=[100.0, 100.0])
    ref = simulate(net, FirmShocks([0], [0.1]), steps=12)
    ext = simulate(net, FirmShocks([0], [0.1]), steps=12, extensions=Extensions(order_target="output"))
    np.testing.assert_allclose(ext.production, ref.production, rtol=1e-14)
    base = simulate(net, FirmShocks([0], [0.1]), steps=12, extensions=Extensions())
    assert base.production[3] != pytest.approx(ref.production[3], rel=1e-6)  # the stable target differs
    assert ext.parameters["extensions"]["order_target"] == "output"
