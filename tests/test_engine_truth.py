"""Part B extensions for reproducing real disruptions: per-link stock, per-firm ramps, substitution,
per-scenario parameters, amounts and final demand, early exit. Hand cases and exact properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.sim import ConsumerSplit, Extensions, Scenario, Schedule, SupplyNetwork, simulate
from paxsilica.sim.network import random_network

SERIES = ("production", "value_added", "final_demand", "final_demand_requested", "firm_production",
          "firm_final_demand", "firm_capacity", "link_deliveries", "link_stock", "sector_production",
          "consumer_final_demand", "consumer_final_demand_requested")
RECORD = dict(record_firms=True, record_links=True, record_sectors=True)
STRICT = dict(settle_tol=0.0, early_exit=False)  # nothing reset, every step computed


def same(a, b, rows=None) -> None:  # type: ignore[no-untyped-def]
    """Every recorded series of two results equal bit for bit (optionally row ``rows`` of a batch)."""
    for k in SERIES:
        u, v = getattr(a, k), getattr(b, k)
        if u is None or v is None:
            assert u is None and v is None, k
            continue
        u = u if rows is None else u[rows]
        assert np.array_equal(u, v), k


def lead_net(seed: int = 1, n: int = 60, m: int = 240) -> SupplyNetwork:
    base = random_network(n, m, 6, seed=seed)
    rng = np.random.default_rng(seed)
    return SupplyNetwork.from_arrays(base.supplier, base.client, base.amount, final_demand=base.final_demand,
                                     sector=base.sector, lead_time=rng.integers(1, 6, base.n_links),
                                     capacity_headroom=0.3)


# ------------------------------------------------------------------------ no phantom crises
@pytest.mark.parametrize("n_days", [1, 2, 15, 60])
@pytest.mark.parametrize("more", [False, True])
def test_no_shock_is_exactly_the_baseline_for_365_steps(n_days: int, more: bool) -> None:
    net = lead_net()
    ext = Extensions(lead_times=more, resourcing=more, substitution=np.full(net.n_links, 0.5) if more else None,
                     substitution_days=10, **STRICT)
    r = simulate(net, steps=365, inventory_days=n_days, extensions=ext, record_firms=True, record_links=True)
    assert np.all(r.production == r.production[0])
    assert np.all(r.firm_production == net.baseline_output)
    assert np.all(r.link_stock == n_days * net.amount)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.booleans(), st.booleans(), st.booleans())
def test_no_shock_with_per_link_days_is_exact(seed: int, lead: bool, res: bool, sub: bool) -> None:
    net = lead_net(seed % 1000, 40, 160)
    rng = np.random.default_rng(seed)
    n_l = rng.uniform(1.0, 90.0, net.n_links)
    ext = Extensions(inventory_days=n_l, lead_times=lead, resourcing=res,
                     substitution=rng.uniform(0, 1, net.n_links) if sub else None, **STRICT)
    r = simulate(net, steps=365, extensions=ext, record_firms=True, record_links=True)
    assert np.all(r.firm_production == net.baseline_output)
    assert np.all(r.link_stock == n_l * net.amount)


@pytest.mark.parametrize("bad", [0.0, 0.5, np.array([1.0, 0.99])])
def test_less_than_one_day_of_stock_is_refused(bad: object) -> None:
    net = SupplyNetwork.from_arrays([0, 1], [2, 2], [60.0, 40.0], final_demand=[0, 0, 100.0], sector=[0, 0, 1])
    with pytest.raises(InputError, match="at least one day of stock"):
        if np.ndim(bad):
            simulate(net, steps=3, extensions=Extensions(inventory_days=bad))
        else:
            simulate(net, steps=3, inventory_days=bad, extensions=Extensions())


# ------------------------------------------------------------------------ per-link stock: a worked case
def wafers() -> SupplyNetwork:
    """Chip (TWN, firm 2) needs wafers (sector 0): 60 from JPN (firm 0), 40 from CHN (firm 1)."""
    return SupplyNetwork.from_arrays([0, 1], [2, 2], [60.0, 40.0], final_demand=[0.0, 0.0, 100.0],
                                     sector=[0, 0, 1])


@pytest.mark.parametrize("n_jpn, n_chn", [(10.0, 20.0), (5.0, 30.0), (20.0, 2.0), (1.0, 90.0)])
def test_wafer_ban_with_per_link_days(n_jpn: float, n_chn: float) -> None:
    # The segment target is n_seg = 0.6 n_JPN + 0.4 n_CHN days. A ban on JPN's wafers (link 0) from
    # step 0: CHN at capacity still delivers 40 a step, the chip uses 100 while whole, so its stock
    # is n_seg − 0.6 t days after the update of step t; the Leontief limit binds below one day:
    # whole for K = ⌊(n_seg − 1)/0.6⌋ + 1 steps, then sbar_K = n_seg − 0.6 K (< 1) that step, then 40.
    net = wafers()
    n_seg = 0.6 * n_jpn + 0.4 * n_chn
    K = int(np.floor((n_seg - 1) / 0.6)) + 1
    ban = Scenario(link_capacity=Schedule(net.links_of(suppliers=[0]), [0.0]))
    r = simulate(net, ban, steps=K + 10, extensions=Extensions(inventory_days=[n_jpn, n_chn]), record_firms=True,
                 record_links=True)
    chip = r.firm_production[1:, 2]
    assert chip[:K] == pytest.approx([100.0] * K, rel=1e-12)
    assert chip[K] == pytest.approx(100.0 * (n_seg - 0.6 * K), rel=1e-9)
    assert chip[K + 1:] == pytest.approx([40.0] * 9, rel=1e-9)
    assert np.all(r.link_stock >= 0)


def test_per_link_days_draw_in_proportion_to_fill() -> None:
    # JPN's link holds 1 day, CHN's 90. Capacity of CHN cut to 0 from step 0: the chip draws from each
    # link in proportion to its fill (s/n), and a link never gives more than it holds; the segment
    # total falls by exactly 0.4 (CHN's share) a step while the chip is whole.
    net = wafers()
    r = simulate(net, Scenario(capacity=Schedule([1], [0.0])), steps=30,
                 extensions=Extensions(inventory_days=[1.0, 90.0]), record_firms=True, record_links=True)
    stock = r.link_stock[1:]
    assert np.all(stock >= 0)
    seg_days = stock.sum(axis=1) / 100.0
    assert seg_days[:25] == pytest.approx(36.6 - 0.4 * np.arange(25), rel=1e-12)
    assert np.all(r.firm_production[1:26, 2] == pytest.approx(100.0, rel=1e-12))


# ------------------------------------------------------------------------ substitution: hand cases
def one_supplier() -> SupplyNetwork:
    return SupplyNetwork.from_arrays([0], [1], [100.0], final_demand=[0.0, 100.0])


def hand_substitution(n: float, supply: float, steps: int, sig_bar: float = 0.5, days: float = 10) -> list[float]:
    """The recurrence of docs/engine.md, by hand: the supplier ships ``supply`` (of the baseline) from
    step 0; stock s_t = s_{t−1} + supply_{t−1} − x_{t−1}(1 − σ_{t−1}); the client is short from step 1
    (s_1 < n), so σ_t = min(σ̄, t·σ̄/days); x_t = min(1, s_t/(1 − σ_t))."""
    s, x, sig, out = float(n), 1.0, 0.0, []
    for t in range(steps):
        if t > 0:
            s = max(s + (1.0 if t == 1 else supply) - x * (1.0 - sig) - (1.0 - supply if t == 1 else 0.0), 0.0)
            sig = min(sig_bar, sig + sig_bar / days) if s < n else max(0.0, sig - sig_bar / days)
        x = min(1.0, s / (1.0 - sig))
        out.append(100.0 * x)
    return out


def test_substitution_stretches_the_stock_of_a_cut_client() -> None:
    # One supplier cut fully from step 0, n = 5, σ̄ = 0.5 over 10 days. By hand: s = 5, 4, 3.05,
    # 2.15, 1.30, 0.50, 0 at steps 0..6 and σ = 0, .05, .10, …: whole for steps 0..4 (as without
    # substitution), 0.5/0.75 = 2/3 at step 5 (instead of 0), then nothing: a client that needs
    # (1 − σ) of an input per unit still makes nothing without any.
    cut = Scenario(capacity=Schedule([0], [0.0]))
    ext = Extensions(inventory_days=5.0, substitution=[0.5], substitution_days=10)
    r = simulate(one_supplier(), cut, steps=10, extensions=ext, record_firms=True)
    got = r.firm_production[1:, 1]
    assert got == pytest.approx([100.0] * 5 + [200.0 / 3] + [0.0] * 4, rel=1e-12, abs=1e-9)
    assert got == pytest.approx(hand_substitution(5, 0.0, 10), rel=1e-12, abs=1e-9)
    plain = simulate(one_supplier(), cut, steps=10, inventory_days=5, extensions=Extensions(), record_firms=True)
    assert plain.firm_production[1:, 1].tolist() == [100.0] * 5 + [0.0] * 5


def test_substitution_raises_the_floor_of_a_half_supplied_client() -> None:
    # The supplier runs at half capacity from step 0 (its only client is the client), n = 3.
    # Without substitution: stock 3 − 0.5 t, whole for steps 0..4, then 50 for good. With σ̄ = 0.5
    # over 10 days the client needs 1 − σ per unit; by hand (see hand_substitution) it is whole for
    # steps 0..6, dips to 0.55/0.65, 0.5/0.6, 0.5/0.55 at steps 7..9 and is whole again from step 10,
    # when it needs exactly the half it gets: the floor rises from 50 to 100.
    half = Scenario(capacity=Schedule([0], [0.5]))
    ext = Extensions(inventory_days=3.0, substitution=[0.5], substitution_days=10)
    r = simulate(one_supplier(), half, steps=40, extensions=ext, record_firms=True)
    got = r.firm_production[1:, 1]
    hand = hand_substitution(3, 0.5, 40)
    assert got == pytest.approx(hand, rel=1e-9)
    assert got[7:10] == pytest.approx([100 * 0.55 / 0.65, 100 * 0.5 / 0.6, 100 * 0.5 / 0.55], rel=1e-9)
    assert got[10:] == pytest.approx([100.0] * 30, rel=1e-9)
    plain = simulate(one_supplier(), half, steps=40, inventory_days=3, extensions=Extensions(), record_firms=True)
    assert plain.firm_production[1:, 1] == pytest.approx([100.0] * 5 + [50.0] * 35, rel=1e-9)


def test_substitution_falls_back_and_the_run_settles() -> None:
    # the supplier comes back at step 40; the client rebuilds its stock, σ falls back at the same
    # rate, and the whole state returns exactly to the baseline
    net = SupplyNetwork.from_arrays([0], [1], [100.0], final_demand=[10.0, 100.0], capacity_headroom=0.5)
    back = Scenario(capacity=Schedule([0], np.r_[np.full(40, 0.5), 1.0][:, None]))
    ext = Extensions(inventory_days=3.0, substitution=[0.5], substitution_days=10, resourcing=True)
    r = simulate(net, back, steps=300, extensions=ext, record_firms=True, record_links=True)
    assert np.all(r.firm_production[-50:] == net.baseline_output)
    assert np.all(r.link_stock[-50:] == 3.0 * net.amount)
    assert r.parameters["steps_run"] < 300


def test_zero_substitution_is_bit_identical() -> None:
    net = lead_net(3)
    scen = Scenario(capacity=Schedule([0, 5, 9], [[0.0, 0.2, 0.5]] * 20 + [[1.0, 1.0, 1.0]]))
    base = Extensions(lead_times=True, resourcing=True, ramp_days=5)
    zero = Extensions(lead_times=True, resourcing=True, ramp_days=5, substitution=np.zeros(net.n_links))
    same(simulate(net, scen, steps=120, extensions=base, **RECORD),
         simulate(net, scen, steps=120, extensions=zero, **RECORD))


# ------------------------------------------------------------------------ per-firm ramp
def test_per_firm_ramp_equal_to_scalar_is_bit_identical_and_zero_ramps_at_once() -> None:
    # two suppliers of 50 (firms 0 and 1), 0 cut for good, 1 with 120 % headroom
    net = SupplyNetwork.from_arrays([0, 1], [2, 2], [50.0, 50.0], final_demand=[0.0, 0.0, 100.0],
                                    sector=[0, 0, 1], capacity_headroom=[0.0, 1.2, 0.0])
    cut = Scenario(capacity=Schedule([0], [0.0]))
    scalar = simulate(net, cut, steps=40, extensions=Extensions(resourcing=True, ramp_days=12), **RECORD)
    arr = simulate(net, cut, steps=40, extensions=Extensions(resourcing=True, ramp_days=np.full(3, 12)), **RECORD)
    same(scalar, arr)
    # firm 1 with no ramp: full headroom at once, so it takes over the whole 100 from step 0
    fast = simulate(net, cut, steps=40, extensions=Extensions(resourcing=True, ramp_days=[12, 0, 12]),
                    record_firms=True)
    assert fast.firm_production[1, 1] == pytest.approx(100.0)
    assert scalar.firm_production[1, 1] == pytest.approx(50.0)
    assert np.all(fast.firm_production[1:, 2] == pytest.approx(100.0))


# ------------------------------------------------------------------------ batch = sequential
def batch_case() -> tuple[SupplyNetwork, list[Scenario], dict, ConsumerSplit]:  # type: ignore[type-arg]
    net = lead_net(7, 80, 320)
    n, m, B = net.n_firms, net.n_links, 4
    rng = np.random.default_rng(7)
    big = np.argsort(-net.baseline_output)[:6]
    scen = [Scenario(capacity=Schedule(big[:3], np.r_[np.full((30, 3), 0.2), np.ones((1, 3))])),
            Scenario(link_capacity=Schedule(net.links_of(suppliers=big[3:5]), np.r_[np.zeros((45, 1)),
                                                                                 np.ones((1, 1))]
                                            .repeat(net.links_of(suppliers=big[3:5]).size, axis=1))),
            Scenario(capacity=Schedule(big[:3], [0.5, 0.7, 0.1])),
            Scenario()]
    per = dict(inventory_days=rng.uniform(1, 40, (B, m)), ramp_days=rng.integers(0, 20, (B, n)),
               substitution=rng.uniform(0, 0.6, (B, m)), substitution_days=rng.uniform(0, 30, (B, m)),
               capacity_headroom=rng.uniform(0, 0.5, (B, n)))
    over = dict(amounts=net.amount * rng.uniform(0.5, 1.5, (B, m)),
                final_demand=net.final_demand * rng.uniform(0.0, 2.0, (B, n)))
    cons = ConsumerSplit(np.arange(n), np.arange(n) % 3, np.full(n, 0.8), ["a", "b", "c"])
    return net, scen, {**per, **over}, cons


@pytest.mark.parametrize("rationing", ["proportional", "priority"])
@pytest.mark.parametrize("which", ["inventory_days", "ramp_days", "substitution", "capacity_headroom",
                                   "amounts", "final_demand", "all"])
def test_batched_equals_sequential_for_each_new_parameter(rationing: str, which: str) -> None:
    net, scen, per, cons = batch_case()
    keys = list(per) if which == "all" else [which] + (["substitution"] if which == "substitution_days" else [])
    if which == "substitution":
        keys.append("substitution_days")
    ext_keys = {k for k in keys if k not in ("amounts", "final_demand")}
    over_keys = {k for k in keys if k in ("amounts", "final_demand")}

    def run(rows: object, sc: object) -> object:
        ext = Extensions(lead_times=True, resourcing=True, consumers=cons, stockpile_days=2.0,
                         **{k: per[k][rows] for k in ext_keys})
        return simulate(net, sc, steps=90, rationing=rationing, extensions=ext,
                        **{k: per[k][rows] for k in over_keys}, **RECORD)

    batch = run(slice(None), scen)
    for b, sc in enumerate(scen):
        same(batch, run(b, sc), rows=b)


def test_batch_members_settle_on_their_own() -> None:
    # a scenario back at baseline settles even while another of the batch is still shocked
    net = lead_net(2)
    short = Scenario(capacity=Schedule([0], np.r_[np.zeros(5), 1.0][:, None]))
    long = Scenario(capacity=Schedule([0], [0.0]))
    ext = Extensions(lead_times=True, resourcing=True)
    batch = simulate(net, [short, long], steps=200, extensions=ext, **RECORD)
    same(batch, simulate(net, short, steps=200, extensions=ext, **RECORD), rows=0)
    same(batch, simulate(net, long, steps=200, extensions=ext, **RECORD), rows=1)


def test_per_scenario_parameters_must_match_the_batch() -> None:
    net = wafers()
    with pytest.raises(InputError, match="inventory_days"):
        simulate(net, [Scenario()] * 3, steps=2, extensions=Extensions(inventory_days=np.full((2, 2), 5.0)))
    with pytest.raises(InputError, match="amounts"):
        simulate(net, steps=2, extensions=Extensions(), amounts=[1.0, -1.0])
    with pytest.raises(InputError, match="extended"):
        simulate(net, steps=2, final_demand=[0.0, 0.0, 50.0])
    with pytest.raises(InputError, match="substitution"):
        simulate(net, steps=2, extensions=Extensions(substitution=[1.5, 0.0]))


def test_per_scenario_amounts_and_final_demand_keep_the_equilibrium_exact() -> None:
    net = lead_net(5)
    rng = np.random.default_rng(5)
    B = 3
    amounts = net.amount * rng.uniform(0.2, 3.0, (B, net.n_links))
    fd = net.final_demand * rng.uniform(0.0, 3.0, (B, net.n_firms))
    r = simulate(net, [Scenario()] * B, steps=200, extensions=Extensions(lead_times=True, resourcing=True, **STRICT),
                 amounts=amounts, final_demand=fd, record_firms=True)
    for b in range(B):
        pbar = fd[b] + np.bincount(net.supplier, weights=amounts[b], minlength=net.n_firms)
        assert np.all(r.firm_production[b] == pbar)


# ------------------------------------------------------------------------ early exit
@pytest.mark.parametrize("rationing", ["proportional", "priority"])
def test_early_exit_equals_the_full_run(rationing: str) -> None:
    net, scen, per, cons = batch_case()
    scen = [scen[0], scen[1], scen[3]]
    days = np.random.default_rng(3).uniform(1.0, 8.0, (3, net.n_links))  # short stocks settle sooner
    kw = dict(lead_times=True, resourcing=True, consumers=cons, stockpile_days=3.0, inventory_days=days,
              substitution=per["substitution"][:3], capacity_headroom=0.5)
    full = simulate(net, scen, steps=365, rationing=rationing, extensions=Extensions(early_exit=False, **kw), **RECORD)
    fast = simulate(net, scen, steps=365, rationing=rationing, extensions=Extensions(**kw), **RECORD)
    same(full, fast)
    assert full.parameters["steps_run"] == 365
    assert fast.parameters["steps_run"] < 365


def test_no_shock_run_exits_at_once() -> None:
    r = simulate(lead_net(), steps=365, extensions=Extensions(lead_times=True))
    assert r.parameters["steps_run"] <= 2
    assert np.all(r.production == r.production[0])


# ------------------------------------------------------------------------ steady-state exit
def tree() -> SupplyNetwork:
    """Raw 0, 1 -> part 2 (one sector from both); 2 and part 3 -> products 4 and 5; lead times 1-4."""
    return SupplyNetwork.from_arrays([0, 1, 2, 3, 2, 3], [2, 2, 4, 4, 5, 5], [60.0, 40.0, 50.0, 30.0, 50.0, 30.0],
                                     final_demand=[0, 0, 0, 0, 80.0, 90.0], sector=[0, 0, 1, 2, 3, 3],
                                     lead_time=[1, 3, 2, 1, 4, 2], capacity_headroom=0.2)


STEADY_CASES = {
    "outage": Scenario(capacity=Schedule([0], [[1.0], [1.0], [0.7]]), name="outage"),  # permanent, from step 2
    "link_cap": Scenario(link_capacity=Schedule([3], [[1.0], [0.5]]), name="link_cap"),  # permanent licence cap
    "none": Scenario(name="none"),
}
STEADY_EXT = {
    "plain": dict(),
    "lead": dict(lead_times=True),
    "lead+res": dict(lead_times=True, resourcing=True, ramp_days=5),
    "lead+sub": dict(lead_times=True, substitution=np.full(6, 0.3), substitution_days=10),
}


def rel_diff(a, b) -> float:  # type: ignore[no-untyped-def]
    worst = 0.0
    for k in SERIES:
        u, v = getattr(a, k), getattr(b, k)
        if u is None:
            continue
        worst = max(worst, float(np.max(np.abs(u - v) / np.maximum(np.abs(u), 1e-300), initial=0.0)))
    return worst


@pytest.mark.parametrize("rationing", ["proportional", "priority"])
@pytest.mark.parametrize("ext", list(STEADY_EXT))
@pytest.mark.parametrize("case", list(STEADY_CASES))
def test_steady_exit_equals_the_full_run(case: str, ext: str, rationing: str) -> None:
    net, sc, kw = tree(), STEADY_CASES[case], STEADY_EXT[ext]
    full = simulate(net, sc, steps=365, rationing=rationing, extensions=Extensions(early_exit=False, **kw), **RECORD)
    off = simulate(net, sc, steps=365, rationing=rationing, extensions=Extensions(steady_tol=0.0, **kw), **RECORD)
    fast = simulate(net, sc, steps=365, rationing=rationing, extensions=Extensions(**kw), **RECORD)
    same(full, off)  # steady_tol = 0: bit for bit the stepped run
    assert full.parameters["steps_run"] == 365
    assert fast.parameters["extensions"]["steady_tol"] == 1e-10
    # within the documented bound (steady_tol x remaining steps, relative) and far below it
    assert rel_diff(full, fast) <= 1e-8
    if case == "none":
        assert fast.parameters["steps_run"] <= 2
    elif ext in ("plain", "lead"):  # these settle to their new steady state well within the horizon
        assert fast.parameters["steps_run"] < 365


def test_steady_exit_on_a_longer_horizon_with_a_batch() -> None:
    # each scenario of a batch freezes on its own: the batch equals its single runs bit for bit
    net = tree()
    scen = list(STEADY_CASES.values())
    ext = Extensions(lead_times=True, inventory_days=np.array([[4.0] * 6, [9.0] * 6, [15.0] * 6]))
    batch = simulate(net, scen, steps=600, extensions=ext, **RECORD)
    steps = []
    for b, sc in enumerate(scen):
        one = simulate(net, sc, steps=600, extensions=Extensions(lead_times=True, inventory_days=ext.inventory_days[b]),
                       **RECORD)
        same(batch, one, rows=b)
        steps.append(one.parameters["steps_run"])
        full = simulate(net, sc, steps=600, extensions=Extensions(lead_times=True, early_exit=False,
                                                                 inventory_days=ext.inventory_days[b]), **RECORD)
        assert rel_diff(full, one) <= 1e-8
    assert batch.parameters["steps_run"] == max(steps) < 600


def test_steady_exit_waits_for_a_schedule_that_still_moves() -> None:
    # steady for a while under a cap that is lifted at step 300: no exit before the lift
    net = tree()
    sc = Scenario(link_capacity=Schedule([3], np.r_[np.ones(1), np.full(299, 0.5), np.ones(1)][:, None]))
    full = simulate(net, sc, steps=365, extensions=Extensions(early_exit=False), **RECORD)
    fast = simulate(net, sc, steps=365, extensions=Extensions(), **RECORD)
    assert rel_diff(full, fast) <= 1e-8
    assert fast.firm_production[-1, 4] == pytest.approx(net.baseline_output[4], rel=1e-9)


def test_steady_tol_is_checked() -> None:
    with pytest.raises(InputError, match="steady_tol"):
        simulate(tree(), steps=3, extensions=Extensions(steady_tol=-1.0))


@pytest.mark.parametrize("rationing", ["proportional", "priority"])
def test_batched_priority_classes_with_per_scenario_amounts_equal_single_runs(rationing: str) -> None:
    # the vectorised class and water-filling rationing (running sums restart per scenario)
    net, scen, per, cons = batch_case()
    lp = (np.arange(net.n_links) % 3 == 0).astype(np.int64)

    def run(rows: object, sc: object) -> object:
        ext = Extensions(lead_times=True, resourcing=True, consumers=cons, consumer_priority=[0, 1, 1],
                         link_priority=lp, inventory_days=per["inventory_days"][rows])
        return simulate(net, sc, steps=80, rationing=rationing, extensions=ext, amounts=per["amounts"][rows],
                        final_demand=per["final_demand"][rows], **RECORD)

    batch = run(slice(None), scen)
    for b, sc in enumerate(scen):
        same(batch, run(b, sc), rows=b)
