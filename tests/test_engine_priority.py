"""Coalition-first priority rationing (Extensions.link_priority / consumer_priority): class 0 first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.sim import (
    ConsumerSplit,
    Extensions,
    FirmShocks,
    Scenario,
    Schedule,
    SupplyNetwork,
    simulate,
)
from paxsilica.sim.engine import _priority, _priority_classes, _ration_classes
from paxsilica.sim.network import random_network

RULES = ("proportional", "priority")


def one_supplier() -> SupplyNetwork:
    # supplier 0 (capacity 100) sells 50 to each of clients 1 and 2
    return SupplyNetwork.from_arrays([0, 0], [1, 2], [50.0, 50.0], final_demand=[0.0, 50.0, 50.0])


@pytest.mark.parametrize("rationing", RULES)
def test_hand_case_capacity_60_two_clients_of_50(rationing: str) -> None:
    net = one_supplier()
    cut = Scenario(capacity=Schedule([0], [0.6]))  # capacity 60 < demand 100
    coalition = np.where(np.isin(net.client, [1]), 0, 1)
    r = simulate(net, cut, steps=3, rationing=rationing, extensions=Extensions(link_priority=coalition),
                 record_links=True)
    to1, to2 = net.links_of(clients=[1])[0], net.links_of(clients=[2])[0]
    assert r.link_deliveries[1, to1] == 50.0  # the coalition client is served in full
    # the other gets what is left (relative arithmetic: 0.6 - 0.5 is 0.09999999999999998)
    assert r.link_deliveries[1, to2] == pytest.approx(10.0, rel=1e-14)
    plain = simulate(net, cut, steps=3, rationing=rationing, extensions=Extensions(), record_links=True)
    assert plain.link_deliveries[1].tolist() == [30.0, 30.0]


@pytest.mark.parametrize("rationing", RULES)
def test_classes_in_order_and_within_class_rule(rationing: str) -> None:
    # supplier 0 sells 40, 20, 40 to clients 1, 2, 3; classes 0, 0, 1
    net = SupplyNetwork.from_arrays([0, 0, 0], [1, 2, 3], [40.0, 20.0, 40.0], final_demand=[0.0, 1.0, 1.0, 1.0])
    cls = np.array([0, 0, 1])[net.original_link_index]
    for cap, want in ((0.7, [40.0, 20.0, 10.0]), (0.3, [20.0, 10.0, 0.0])):
        r = simulate(net, Scenario(capacity=Schedule([0], [cap])), steps=1, rationing=rationing,
                     extensions=Extensions(link_priority=cls), record_links=True)
        got = r.link_deliveries[1][net.link_positions([0, 1, 2])]
        np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("rationing", RULES)
def test_consumer_groups_coalition_first(rationing: str) -> None:
    net = SupplyNetwork.from_arrays([0], [1], [100.0], final_demand=[0.0, 100.0])
    cons = ConsumerSplit([1, 1], [0, 1], [0.25, 0.75], ["USA", "JPN"])
    sc = Scenario(capacity=Schedule([0], [0.5]))
    r = simulate(net, sc, steps=60, rationing=rationing,
                 extensions=Extensions(consumers=cons, consumer_priority=[0, 1]))
    assert r.consumer_final_demand[0].tolist() == [25.0, 75.0]
    np.testing.assert_allclose(r.consumer_final_demand.sum(axis=1), r.final_demand)
    assert r.consumer_final_demand[-1, 0] == pytest.approx(25.0)  # USA whole
    assert r.consumer_final_demand[-1, 1] == pytest.approx(25.0)  # JPN gets the other 25 of its 75
    # JPN first instead: it takes 50 of 75, USA nothing
    r2 = simulate(net, sc, steps=60, rationing=rationing,
                  extensions=Extensions(consumers=cons, consumer_priority=[1, 0]))
    assert r2.consumer_final_demand[-1].tolist() == pytest.approx([0.0, 50.0])


def test_final_demand_priority_and_the_unattributed_rest() -> None:
    net = SupplyNetwork.from_arrays([0], [1], [60.0], final_demand=[40.0, 60.0])
    sc = Scenario(capacity=Schedule([0], [0.5]))  # 50 for 60 to the client and 40 to final demand
    ext = Extensions(link_priority=[1], final_demand_priority=0)
    r = simulate(net, sc, steps=1, extensions=ext, record_links=True, record_firms=True)
    assert r.firm_final_demand[1, 0] == 40.0 and r.link_deliveries[1, 0] == pytest.approx(10.0, rel=1e-14)
    # by default final demand falls in the last class given: the link (class 0) goes first
    r = simulate(net, sc, steps=1, extensions=Extensions(link_priority=[0]), record_links=True)
    assert r.link_deliveries[1, 0] == pytest.approx(30.0)  # one class only: proportional, 50 · 60/100
    r = simulate(net, sc, steps=1, extensions=Extensions(link_priority=[0], final_demand_priority=1),
                 record_links=True)
    assert r.link_deliveries[1, 0] == 50.0
    # half of the firm's final demand to a coalition consumer (class 0), the rest to the default class 1
    cons = ConsumerSplit([0], [0], [0.5], ["coalition"])
    r = simulate(net, sc, steps=1, extensions=Extensions(consumers=cons, consumer_priority=[0],
                                                         link_priority=[1], final_demand_priority=1),
                 record_links=True, record_firms=True)
    assert r.consumer_final_demand[1].tolist() == [20.0]
    # class 1 is the link (60) and the other 20 of final demand: 30 left, shared 60:20
    assert r.link_deliveries[1, 0] == pytest.approx(22.5)
    assert r.firm_final_demand[1, 0] == pytest.approx(20.0 + 7.5)


def test_one_class_for_everyone_is_the_classless_run_bit_for_bit() -> None:
    net = random_network(300, 1500, 8, seed=11)
    big = np.argsort(-net.baseline_output)[:4]
    sc = Scenario(shocks=FirmShocks(big, [0.6, 0.9, 0.5, 1.0]))
    cons = ConsumerSplit(np.arange(net.n_firms), np.arange(net.n_firms) % 3, np.full(net.n_firms, 0.5),
                         ["a", "b", "c"])
    for rationing in RULES:
        base = simulate(net, sc, steps=40, rationing=rationing, record_firms=True, record_links=True,
                        extensions=Extensions(consumers=cons))
        for ext in (Extensions(consumers=cons, link_priority=np.full(net.n_links, 2)),
                    Extensions(consumers=cons, link_priority=np.full(net.n_links, 1), consumer_priority=[1, 1, 1],
                               final_demand_priority=1)):
            one = simulate(net, sc, steps=40, rationing=rationing, record_firms=True, record_links=True,
                           extensions=ext)
            for f in ("production", "final_demand", "firm_production", "link_deliveries", "consumer_final_demand"):
                np.testing.assert_array_equal(getattr(one, f), getattr(base, f))


@pytest.mark.parametrize("rationing", RULES)
def test_network_level_two_tiers(rationing: str) -> None:
    # supplier 0 sells 25 to each of 1..4; firm k in 1..4 sells 20 to 4 + k and 10 to final demand;
    # 1, 2, 5, 6 are the coalition. Supplier 0 keeps 60 % of its capacity (60 of 100 + 0 final).
    sup = [0, 0, 0, 0, 1, 2, 3, 4]
    cli = [1, 2, 3, 4, 5, 6, 7, 8]
    amt = [25.0] * 4 + [20.0] * 4
    fd = [0.0] + [10.0] * 4 + [20.0] * 4
    net = SupplyNetwork.from_arrays(sup, cli, amt, final_demand=fd)
    member = np.isin(np.arange(9), [1, 2, 5, 6])
    ext = Extensions(link_priority=np.where(member[net.client], 0, 1))
    sc = Scenario(capacity=Schedule([0], [0.6]))
    r = simulate(net, sc, steps=80, rationing=rationing, extensions=ext, record_firms=True, record_links=True)
    check_conservation(net, r, rationing)
    # the coalition's chain never notices; the others get the remaining 10 of 50 and run down
    np.testing.assert_allclose(r.firm_production[:, member], np.broadcast_to(net.baseline_output[member],
                                                                          (81, 4)), rtol=1e-12)
    out = net.baseline_output
    assert r.firm_production[-1, 3] == pytest.approx(0.2 * out[3], rel=1e-6)
    assert r.firm_production[-1, 7] < 0.3 * out[7]  # its stock of firm 3 output runs down
    plain = simulate(net, sc, steps=80, rationing=rationing, extensions=Extensions(), record_firms=True)
    assert plain.firm_production[-1, 1] == pytest.approx(0.6 * out[1], rel=1e-6)


def coalition_setup(n: int = 400, seed: int = 3) -> tuple[SupplyNetwork, np.ndarray, ConsumerSplit, Scenario]:
    net = random_network(n, 5 * n, 10, seed=seed)
    member = np.random.default_rng(seed).random(net.n_firms) < 0.4
    firms = np.arange(net.n_firms)
    # every firm sells half of its final demand to the coalition's consumers, half to the rest
    cons = ConsumerSplit(np.repeat(firms, 2), np.tile([0, 1], net.n_firms), np.full(2 * net.n_firms, 0.5),
                         ["coalition", "rest"])
    big = np.argsort(-net.baseline_output)[:5]
    sc = Scenario(capacity=Schedule(big, np.full(5, 0.3)), name="outage")
    return net, member, cons, sc


@pytest.mark.parametrize("rationing", RULES)
def test_network_level_random_coalition(rationing: str) -> None:
    net, member, cons, sc = coalition_setup()
    prio = Extensions(consumers=cons, link_priority=np.where(member[net.client], 0, 1), consumer_priority=[0, 1])
    r = simulate(net, sc, steps=60, rationing=rationing, extensions=prio, record_firms=True, record_links=True)
    check_conservation(net, r, rationing)
    coal, rest = r.consumer_final_demand[:, 0], r.consumer_final_demand[:, 1]
    # each firm sells the same baseline to both groups and serves the coalition first
    assert np.all(coal >= rest - 1e-9 * coal[0])
    assert (coal[0] - coal).sum() < (rest[0] - rest).sum()
    # (against the classless run the coalition does not necessarily lose less here: its firms also
    # buy from outsiders, whom coalition-first starves; see docs/engine.md)


def test_batched_equals_sequential_with_classes() -> None:
    net, member, cons, sc = coalition_setup(200, seed=4)
    net = SupplyNetwork.from_arrays(net.supplier, net.client, net.amount, n_firms=net.n_firms,
                                    final_demand=net.final_demand, sector=net.sector,
                                    lead_time=1 + np.arange(net.n_links) % 2, capacity_headroom=0.2)
    big = np.argsort(-net.baseline_output)
    scenarios = [sc, Scenario(shocks=FirmShocks(big[:2], [0.5, 1.0]), name="b"),
                 Scenario(link_capacity=Schedule(np.arange(0, 40), np.zeros(40)), name="c"), Scenario(name="none")]
    ext = Extensions(consumers=cons, link_priority=np.where(member[net.client], 0, 1), consumer_priority=[0, 1],
                     lead_times=True, resourcing=True, ramp_days=3, stockpile_days=1.0)
    for rationing in RULES:
        batch = simulate(net, scenarios, steps=25, rationing=rationing, extensions=ext, record_firms=True)
        for k, one_sc in enumerate(scenarios):
            one = simulate(net, one_sc, steps=25, rationing=rationing, extensions=ext, record_firms=True)
            np.testing.assert_array_equal(batch.firm_production[k], one.firm_production)
            np.testing.assert_array_equal(batch.consumer_final_demand[k], one.consumer_final_demand)


def test_priority_input_validation() -> None:
    net = one_supplier()
    sc = Scenario(capacity=Schedule([0], [0.6]))
    cons = ConsumerSplit([1, 1], [0, 1], [0.6, 0.6], ["a", "b"])
    bad = [
        Extensions(link_priority=[True, False]),  # booleans are ambiguous: class 0 is served first
        Extensions(link_priority=[0]),
        Extensions(link_priority=[0, -1]),
        Extensions(link_priority=[0.5, 1]),
        Extensions(consumer_priority=[0, 1]),  # needs consumers
        Extensions(consumers=cons, consumer_priority=[0]),
        Extensions(consumers=cons, consumer_priority=[0, 1]),  # shares of firm 1 sum to 1.2
        Extensions(final_demand_priority=-1),
    ]
    for ext in bad:
        with pytest.raises(InputError):
            simulate(net, sc, steps=2, extensions=ext)
    r = simulate(net, sc, steps=2, extensions=Extensions(link_priority=np.array([0.0, 1.0])))
    assert r.parameters["extensions"]["link_priority"] == {"0": 1, "1": 1}


# ------------------------------------------------------------------ properties
def check_conservation(net: SupplyNetwork, r, rationing: str) -> None:  # type: ignore[no-untyped-def]
    tol = 1e-9 * max(float(net.baseline_output.max()), 1.0)
    for t in range(1, r.step.size):
        out = np.bincount(net.supplier, weights=r.link_deliveries[t], minlength=net.n_firms) + r.firm_final_demand[t]
        if rationing == "proportional":
            np.testing.assert_allclose(out, r.firm_production[t], rtol=1e-9, atol=tol)
        else:
            assert np.all(out <= r.firm_production[t] + tol)
        assert np.all(r.link_deliveries[t] >= 0) and np.all(r.firm_final_demand[t] >= -tol)
    assert np.all(r.link_stock >= 0)
    assert np.all(r.firm_production <= r.firm_capacity + tol)


@st.composite
def class_cases(draw: st.DrawFn) -> tuple[SupplyNetwork, np.ndarray, ConsumerSplit, list[int], FirmShocks]:
    n = draw(st.integers(2, 7))
    pairs = [(j, i) for j in range(n) for i in range(n) if i != j]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=3 * n, unique=True))
    amounts = draw(st.lists(st.floats(0.1, 100.0), min_size=len(chosen), max_size=len(chosen)))
    fd = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.1, 100.0)), min_size=n, max_size=n))
    net = SupplyNetwork.from_arrays([p[0] for p in chosen], [p[1] for p in chosen], amounts, n_firms=n,
                                    final_demand=fd, sector=draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    cls = np.array(draw(st.lists(st.integers(0, 2), min_size=net.n_links, max_size=net.n_links)))
    share = draw(st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n))
    cons = ConsumerSplit(np.arange(n), np.arange(n) % 2, share, ["x", "y"])
    cons_cls = draw(st.lists(st.integers(0, 2), min_size=2, max_size=2))
    firms = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    delta = draw(st.lists(st.floats(0.1, 1.0), min_size=len(firms), max_size=len(firms)))
    return net, cls, cons, cons_cls, FirmShocks(firms, delta)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(class_cases(), st.sampled_from(RULES), st.booleans())
def test_conservation_with_classes(case, rationing, more) -> None:  # type: ignore[no-untyped-def]
    net, cls, cons, cons_cls, shocks = case
    ext = Extensions(link_priority=cls, consumers=cons, consumer_priority=cons_cls, resourcing=more,
                     lead_times=more, stockpile_days=1.0 if more else None)
    r = simulate(net, Scenario(shocks=shocks), steps=12, rationing=rationing, recovery_days=6, extensions=ext,
                 record_firms=True, record_links=True)
    check_conservation(net, r, rationing)
    assert np.all(r.consumer_final_demand.sum(axis=1) <= r.final_demand + 1e-9 * r.final_demand[0])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(class_cases(), st.sampled_from(RULES), st.integers(0, 2**32 - 1))
def test_one_rationing_step_serves_classes_in_order(case, rationing, seed) -> None:  # type: ignore[no-untyped-def]
    """The rationing step alone, on random orders and capacities: class k+1 gets nothing unless every
    claimant of classes <= k got all it asked; within a class the rule holds; totals are conserved."""
    net, cls, cons, cons_cls, _ = case
    pc = _priority_classes(Extensions(link_priority=cls, consumers=cons, consumer_priority=cons_cls), net, cons)
    if pc is None:
        return
    rng = np.random.default_rng(seed)
    n, m, K = net.n_firms, net.n_links, pc.k
    pbar = net.baseline_output
    safe = np.where(pbar > 0, pbar, 1.0)
    a_rel = net.amount / safe[net.supplier]
    c_rel = net.final_demand / safe
    o = rng.choice([0.0, 0.5, 1.0, 1.7], m) * rng.random(m)[None, :] * 2
    dfac = rng.choice([0.0, 1.0, 1.5], n)[None, :]
    y = np.bincount(net.supplier, weights=o[0] * a_rel, minlength=n)[None, :] + c_rel * dfac
    x = np.minimum(y, rng.random(n) * y * 1.2)

    def by_key(v: np.ndarray) -> np.ndarray:
        return np.bincount(pc.key, weights=v[0], minlength=n * K)[None, :]

    d, served, served_k = _ration_classes(x, y, o, dfac, a_rel, c_rel, net.supplier, pc, rationing, by_key)
    tol = 1e-12 * max(float(y.max()), 1.0)
    total = np.bincount(net.supplier, weights=d[0] * a_rel, minlength=n) + served[0] * c_rel
    if rationing == "proportional":
        np.testing.assert_allclose(total, x[0], rtol=1e-12, atol=tol)
    assert np.all(total <= x[0] + tol)
    assert np.all(d <= o + 1e-15) and np.all(d >= 0) and np.all(served_k <= dfac[..., None] + 1e-15)
    # per (supplier, class): asked, got
    fd_ask = c_rel[:, None] * pc.fd_frac * dfac[0][:, None]
    ask = np.bincount(pc.key, weights=o[0] * a_rel, minlength=n * K).reshape(n, K) + fd_ask
    got = np.bincount(pc.key, weights=d[0] * a_rel, minlength=n * K).reshape(n, K) + \
        c_rel[:, None] * pc.fd_frac * served_k[0]
    for k in range(1, K):
        gets = got[:, k] > tol
        full_before = np.all(got[:, :k] >= ask[:, :k] - 1e-9 * np.maximum(ask[:, :k], 1e-300), axis=1)
        assert np.all(full_before[gets])
    # within each class, the rule: proportional = one fill ratio per (supplier, class)
    if rationing == "proportional":
        ratio = got / np.where(ask > 0, ask, 1.0)
        link_ratio = np.where(o[0] > 0, d[0] / np.where(o[0] > 0, o[0], 1.0), np.nan)
        ok = ~np.isnan(link_ratio)
        np.testing.assert_allclose(link_ratio[ok], ratio.ravel()[pc.key][ok], rtol=1e-12, atol=1e-12)


def test_ration_classes_with_one_class_per_supplier_matches_the_classless_rules() -> None:
    # two suppliers, each selling only to clients of one class: classes change nothing within a supplier
    net = SupplyNetwork.from_arrays([0, 0, 1, 1], [2, 3, 4, 5], [10.0, 30.0, 20.0, 5.0],
                                    final_demand=[0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    cls = (net.supplier == 1).astype(np.int64)
    pc = _priority_classes(Extensions(link_priority=cls, final_demand_priority=0), net, None)
    assert pc is not None and pc.k == 2
    n, K = net.n_firms, pc.k
    a_rel = net.amount / np.where(net.baseline_output > 0, net.baseline_output, 1.0)[net.supplier]
    c_rel = np.zeros(n)
    o = np.array([[1.0, 2.0, 0.5, 1.2]])
    dfac = np.ones((1, n))
    y = np.bincount(net.supplier, weights=o[0] * a_rel, minlength=n)[None, :]
    x = 0.5 * y

    def by_key(v: np.ndarray) -> np.ndarray:
        return np.bincount(pc.key, weights=v[0], minlength=n * K)[None, :]

    d, _, _ = _ration_classes(x, y, o, dfac, a_rel, c_rel, net.supplier, pc, "priority", by_key)
    d0, _ = _priority(x, y, o, dfac, a_rel, c_rel, net.supplier, n, 1)
    np.testing.assert_allclose(d, d0, rtol=1e-15)
    d, _, _ = _ration_classes(x, y, o, dfac, a_rel, c_rel, net.supplier, pc, "proportional", by_key)
    np.testing.assert_allclose(d, 0.5 * o, rtol=1e-15)
