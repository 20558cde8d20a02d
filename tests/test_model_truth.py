"""The stress model's truth: outside demand and who is cut, AI compute as a stock, capital goods, made-in
vs controlled-by, declared sourcing, power by country, bands, loud failures — each on a hand-sized atlas
whose answer is worked out here — and the no-shock baseline at every allowed inventory setting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paxsilica.atlas import Atlas
from paxsilica.capacity import capacity_stock, flow_stock
from paxsilica.errors import InputError, ValidationError
from paxsilica.network import build_index, build_network, tiny_atlas
from paxsilica.network.build import index_flows
from paxsilica.network.dynamics import Dynamics
from paxsilica.scenarios import parse_scenario
from paxsilica.stress import run_stress


def with_tables(base: Atlas, **over: pd.DataFrame) -> Atlas:
    frames = {t: base[t] for t in base}
    frames.update(over)
    return Atlas.from_frames(frames, name="t")


def dyn(rows: list[tuple]) -> pd.DataFrame:
    """Dynamics rows (item, parameter, value[, client, holder, low, high])."""
    out = []
    for r in rows:
        item, param, value, *rest = r
        client, holder, low, high = (list(rest) + [None, None, None, None])[:4]
        out.append({"item": item, "parameter": param, "client": client, "holder": holder, "value": value,
                    "low": low, "high": high, "source": "hand"})
    return pd.DataFrame(out)


BAN = ("name: ban\ndescription: d\nhorizon: {h}\nsources: [hand]\n{pol}shocks:\n"
       "  - {{type: export_ban, exporter: JPN, items: [wafer], start: 0}}\n")


def ban(h: int = 80, pol: str = "") -> object:
    return parse_scenario(BAN.format(h=h, pol=pol), file="ban.yaml")


def last_chip_level(r) -> float:
    s = r.series
    return float(s[(s["kind"] == "item") & (s["name"] == "chip")]["level"].iloc[-1])


# --------------------------------------------------------------------------- outside demand


def test_outside_demand_keeps_shares_and_sits_at_the_suppliers() -> None:
    # wafer: half of world output serves uses outside the chain -> world output 200 for a chain need of 100,
    # JPN 60 % = 120 (60 to the chip, 60 outside), CHN 80 (40 + 40)
    a = with_tables(tiny_atlas(), dynamics=dyn([("wafer", "outside_share", 0.5)]))
    ix = build_index(a, target="chip")
    s = ix.sites.set_index(["item", "producer"])
    assert s.loc[("wafer", "JPN"), "baseline"] == pytest.approx(120.0)
    assert s.loc[("wafer", "CHN"), "outside_demand"] == pytest.approx(40.0)
    assert ix.links["amount"].sum() == pytest.approx(100.0)


def test_who_is_cut_decides_what_the_chain_keeps() -> None:
    # JPN's wafers are banned; the chip moves its 60 to CHN (capacity 80, no spare), whose other claims are
    # outside uses of 40, all low-value. Willingness to pay: the chain outbids them and gets all 80 (level
    # 0.8 once the chip's stock is gone), outside uses nothing. Proportional: CHN is short for everyone, so
    # the chip keeps less than 0.8 but at least CHN's own 40 % of its need.
    a = with_tables(tiny_atlas(), dynamics=dyn([("wafer", "outside_share", 0.5), ("wafer", "low_value_share", 1.0)]))
    wtp = run_stress(ban(pol="policies: {allocation: willingness_to_pay}\n"), a, target="chip", inventory_days=5)
    prop = run_stress(ban(pol="policies: {allocation: proportional}\n"), a, target="chip", inventory_days=5)
    assert last_chip_level(wtp) == pytest.approx(0.8, rel=1e-6)
    assert 0.4 <= last_chip_level(prop) < 0.8 - 0.05
    # and willingness to pay never leaves the chain worse off than proportional rationing
    assert wtp.summary["loss_pct"] < prop.summary["loss_pct"]


def test_licences_go_to_the_chain_first_under_willingness_to_pay() -> None:
    # a 25 % licence on JPN's wafers, whose sales are half outside uses: the chain's buyers keep
    # min(1, 0.25 / 0.5) = 0.5 of their JPN flow (60 -> 30) under willingness to pay, 0.25 (15) otherwise
    a = with_tables(tiny_atlas(), dynamics=dyn([("wafer", "outside_share", 0.5)]))
    text = ("name: lic\ndescription: d\nhorizon: 20\nsources: [hand]\n{pol}shocks:\n"
            "  - {{type: export_ban, exporter: JPN, items: [wafer], start: 0, licence: 0.25}}\n")
    for pol, cap in (("", 0.5), ("policies: {allocation: proportional, resourcing: false}\n", 0.25)):
        net, ix = build_network(a, target="chip")
        from paxsilica.scenarios.compile import compile_scenario

        comp = compile_scenario(parse_scenario(text.format(pol=pol)), net, ix, a)
        sched = comp.engine_scenario.link_capacity
        assert sched.values[0].tolist() == pytest.approx([cap])


# --------------------------------------------------------------------------- AI compute as a stock


def test_capacity_stock_by_hand() -> None:
    # no growth, a 1-year life, 10 steps of 36.5 days: K0 = a * 10 / 1, r = K0 / 10 = a. Additions stop
    # in steps 2 and 3: the stock is 1 a lower from step 2 and 2 a lower from step 3 on; power is short
    # (half) in step 5 only.
    a = np.ones((10, 1))
    d = a.copy()
    d[2:4] = 0.0
    u = np.ones((10, 1))
    u[5] = 0.5
    s = capacity_stock(a, d, u, step_days=36.5, growth=0.0, life_years=1.0)
    kb = 10.0 * np.ones(10)  # K0 + cumsum(a - r) = 10
    assert s.baseline[:, 0].tolist() == pytest.approx(kb.tolist())
    k = kb - np.array([0, 0, 1, 2, 2, 2, 2, 2, 2, 2])
    assert s.installed[:, 0].tolist() == pytest.approx(k.tolist())
    assert s.lost_additions_pct == pytest.approx(100 * (kb - k).sum() / kb.sum())
    assert s.lost_operation_pct == pytest.approx(100 * 0.5 * k[5] / kb.sum())
    assert s.loss_pct == pytest.approx(s.lost_additions_pct + s.lost_operation_pct)
    # a flow target: what is not delivered is what is lost
    assert flow_stock(a, d).loss_pct == pytest.approx(20.0)


def stock_atlas() -> Atlas:
    """dc (infrastructure, USA) <- chip (TWN), and dc needs power (``electricity``) to run (operating)."""
    a = tiny_atlas()
    items = pd.DataFrame({"item": ["chip", "wafer", "dc", "electricity"], "name": ["Chip", "Wafer", "DC", "Power"],
                          "stage": ["fabrication", "refined_material", "infrastructure", "energy"],
                          "unit": ["units", "wafers_300mm_eq", "MW", "TWh"],
                          "transport_mode": [None, None, "local", "grid"]})
    prod = pd.concat([a["production"], pd.DataFrame({
        "item": ["dc", "electricity"], "producer": ["USA", "USA"], "producer_type": ["country"] * 2,
        "year": [2023] * 2, "share": [100.0, 100.0], "source": ["hand"] * 2})], ignore_index=True)
    rec = pd.DataFrame({"item": ["chip", "dc", "dc"], "input": ["wafer", "chip", "electricity"],
                        "dependent_share": [1.0, 1.0, 1.0], "use": ["material", "material", "operating"],
                        "rationale": ["r"] * 3, "source": ["hand"] * 3})
    return with_tables(a, items=items, production=prod, recipes=rec,
                       dynamics=dyn([("dc", "installed_growth", 0.0), ("dc", "service_life_years", 1.0),
                                     ("electricity", "outside_share", 0.9)]))


def test_lost_additions_and_lost_operation_are_told_apart() -> None:
    a = stock_atlas()
    ix = build_index(a, target="dc")
    assert set(ix.sites["kind"]) >= {"site", "operation"}
    # a power cut hits operation, not additions; a wafer ban hits additions, not operation
    cut = parse_scenario("name: p\ndescription: d\nhorizon: 40\nsources: [hand]\nshocks:\n"
                         "  - {type: site_outage, item: electricity, producer: USA, loss: 0.5, start: 0, "
                         "recovery: none}\n")
    r = run_stress(cut, a, target="dc", inventory_days=2)
    assert r.summary["lost_operation_pct"] > 1.0 and r.summary["lost_additions_pct"] == pytest.approx(0.0, abs=1e-9)
    r2 = run_stress(ban(40), a, target="dc", inventory_days=2)
    assert r2.summary["lost_additions_pct"] > 0.0 and r2.summary["lost_operation_pct"] == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- capital goods


def test_capital_goods_delay_capacity_additions_not_output() -> None:
    a = tiny_atlas()
    items = pd.concat([a["items"], pd.DataFrame({"item": ["tool"], "name": ["Tool"], "stage": ["equipment"],
                                                 "unit": ["units"]})], ignore_index=True)
    prod = pd.concat([a["production"], pd.DataFrame({"item": ["tool"], "producer": ["JPN"], "producer_type": ["country"],
                                                     "year": [2023], "share": [100.0], "source": ["hand"]})],
                     ignore_index=True)
    rec = pd.concat([a["recipes"], pd.DataFrame({"item": ["chip"], "input": ["tool"], "dependent_share": [1.0],
                                                 "use": ["capital"], "rationale": ["r"], "source": ["hand"]})],
                    ignore_index=True)
    at = with_tables(a, items=items, production=prod, recipes=rec)
    s = parse_scenario("name: t\ndescription: d\nhorizon: 60\nsources: [hand]\nshocks:\n"
                       "  - {type: export_ban, exporter: JPN, items: [tool], start: 0}\n")
    r = run_stress(s, at, target="chip", inventory_days=5)
    assert r.summary["loss_pct"] == pytest.approx(0.0, abs=1e-9)  # installed tools keep running
    caps = {c["item"]: c["capacity_additions_loss_pct"] for c in r.summary["capacity_additions"]}
    assert caps["chip"] > 50.0  # the chip's capacity additions stop once the tool stock is gone


# --------------------------------------------------------------------------- made in / controlled by


def test_export_ban_reaches_sites_a_country_controls() -> None:
    # chips are made in TWN, 75 % by a US-controlled firm, and bought by JPN's data centres: a US ban on
    # chips caps the TWN -> JPN link at 1 - 0.75 = 0.25 (the US-controlled part), though nothing leaves the US
    items = pd.DataFrame({"item": ["chip", "dc"], "name": ["Chip", "DC"], "stage": ["accelerator", "system"],
                          "unit": ["units", "units"]})
    prod = pd.DataFrame({"item": ["chip", "chip", "dc"], "producer": ["nv", "OTHER", "JPN"],
                         "producer_type": ["firm", "rest_of_world", "country"], "country": ["TWN", None, "JPN"],
                         "controlled_by": ["USA", None, None], "year": [2023] * 3, "share": [75.0, 25.0, 100.0],
                         "source": ["hand"] * 3})
    a = Atlas.from_frames({
        "items": items, "production": prod,
        "countries": pd.DataFrame({"iso3": ["TWN", "USA", "JPN"], "name": ["Taiwan", "USA", "Japan"]}),
        "firms": pd.DataFrame({"firm": ["nv"], "name": ["NV"], "country": ["USA"], "source": ["hand"]}),
        "recipes": pd.DataFrame({"item": ["dc"], "input": ["chip"], "dependent_share": [1.0], "rationale": ["r"],
                                 "source": ["hand"]})}, name="ctrl")
    from paxsilica.scenarios.compile import compile_scenario

    net, ix = build_network(a, target="dc")
    twn = ix.sites[(ix.sites["item"] == "chip") & (ix.sites["producer"] == "TWN")].iloc[0]
    assert twn["controllers"] == "USA:1"  # the ROW part (OTHER) is its own site
    s = parse_scenario("name: b\ndescription: d\nhorizon: 10\nsources: [hand]\nshocks:\n"
                       "  - {type: export_ban, exporter: USA, items: [chip], start: 0}\n")
    comp = compile_scenario(s, net, ix, a)
    sched = comp.engine_scenario.link_capacity
    links = ix.links.set_index("link")
    canon = net.link_positions(ix.links["link"].to_numpy(np.int64))
    capped = {int(np.flatnonzero(canon == c)[0]) for c in sched.index}
    assert {links.loc[k, "exporter"] for k in capped} == {"TWN"}
    assert sched.values[0].tolist() == pytest.approx([0.0])  # TWN's chips are all US-controlled here


# --------------------------------------------------------------------------- declared sourcing


def test_declared_sourcing_overrides_fitted_shares() -> None:
    # without a declaration TWN's chip takes wafers 60/40 from JPN/CHN; declared 100 % from CHN
    a = with_tables(tiny_atlas(), sourcing=pd.DataFrame({"item": ["wafer"], "client_item": ["chip"],
                                                         "client": [None], "supplier": ["CHN"],
                                                         "share": [100.0], "source": ["hand"]}))
    ix = build_index(a, target="chip")
    real = ix.links[~ix.links["virtual"]]
    assert dict(zip(real["exporter"], real["amount"], strict=True)) == pytest.approx({"CHN": 100.0})


# --------------------------------------------------------------------------- power by country


def test_power_draws_gas_and_lng_by_the_country_mix() -> None:
    a = stock_atlas()
    items = pd.concat([a["items"], pd.DataFrame({"item": ["lng"], "name": ["LNG"], "stage": ["energy"],
                                                 "unit": ["t"], "transport_mode": ["sea"]})], ignore_index=True)
    prod = pd.concat([a["production"], pd.DataFrame({"item": ["lng"], "producer": ["JPN"],
                                                     "producer_type": ["country"], "year": [2023], "share": [100.0],
                                                     "source": ["hand"]})], ignore_index=True)
    rec = pd.concat([a["recipes"], pd.DataFrame({"item": ["electricity"], "input": ["lng"], "dependent_share": [0.05],
                                                 "use": ["material"], "rationale": ["r"], "source": ["hand"]})],
                    ignore_index=True)
    pm = pd.DataFrame({"country": ["USA"], "gas_share": [0.4], "lng_share": [0.5], "storage_days": [11.0],
                       "source": ["hand"]})
    at = with_tables(a, items=items, production=prod, recipes=rec, power_mix=pm)
    ix = build_index(at, target="dc")
    lk = ix.links[(ix.links["item"] == "lng") & ~ix.links["virtual"]].iloc[0]
    assert lk["ds"] == pytest.approx(0.2)  # 40 % gas x 50 % of it LNG
    assert lk["inventory_days"] == pytest.approx(11.0)


# --------------------------------------------------------------------------- dynamics lookup and draws


def test_most_specific_dynamics_row_wins_and_draws_stay_in_range() -> None:
    d = Dynamics(dyn([("neon", "inventory_days", 30.0, None, None, 10.0, 60.0),
                      ("neon", "inventory_days", 90.0, "dram", None, 60.0, 120.0),
                      ("neon", "inventory_days", 45.0, None, "TWN", 30.0, 50.0),
                      ("neon", "inventory_days", 7.0, "dram", "TWN")]))
    assert d.value("neon", "inventory_days", client="dram", holder="TWN") == 7.0
    assert d.value("neon", "inventory_days", client="dram", holder="KOR") == 90.0
    assert d.value("neon", "inventory_days", client="nand", holder="TWN") == 45.0
    assert d.value("neon", "inventory_days", client="nand") == 30.0
    draws = d.draws(50, seed=3)
    assert draws[0][("neon", "inventory_days", "", "")] == 30.0  # draw 0: the central values
    vals = np.array([x[("neon", "inventory_days", "dram", "")] for x in draws])
    assert vals.min() >= 60.0 and vals.max() <= 120.0 and vals.std() > 5.0
    assert d.draws(5, seed=3) == d.draws(5, seed=3)  # seeded


def test_band_draws_share_topology_and_draw_zero_is_central() -> None:
    a = with_tables(tiny_atlas(), dynamics=dyn([("wafer", "outside_share", 0.5, None, None, 0.2, 0.8),
                                                ("wafer", "inventory_days", 10.0, None, None, 5.0, 20.0)]))
    ix = build_index(a, target="chip")
    f0 = index_flows(ix)
    assert f0.amount.tolist() == pytest.approx(ix.links["amount"].tolist())
    f1 = index_flows(ix, {("wafer", "outside_share", "", ""): 0.8})
    assert f1.amount.tolist() == pytest.approx(f0.amount.tolist())  # the chain's need does not change
    assert f1.outside_demand.sum() == pytest.approx(100.0 * 0.8 / 0.2)
    r = run_stress(ban(60), a, target="chip", bands=16, seed=7)
    b = r.summary["bands"]
    plain = run_stress(ban(60), a, target="chip")
    assert r.summary["loss_pct"] == pytest.approx(plain.summary["loss_pct"], rel=1e-9)  # draw 0 = central
    assert b["loss_pct"][0] <= b["loss_pct"][1] and b["draws"] == 16
    assert run_stress(ban(60), a, target="chip", bands=16, seed=7).summary["bands"] == b


# --------------------------------------------------------------------------- loud failures, baselines


def test_policy_that_touches_nothing_is_an_error() -> None:
    s = parse_scenario("name: s\ndescription: d\nhorizon: 30\nsources: [hand]\nshocks:\n"
                       "  - {type: export_ban, exporter: JPN, items: [wafer], start: 0}\n"
                       "policies:\n  stockpile_release: [{item: wafer, start: 0}]\n", file="s.yaml")
    with pytest.raises(ValidationError, match=r"s.yaml, row 8, column 'policies.stockpile_release.0'.*no stocks"):
        run_stress(s, tiny_atlas(), target="chip")


def test_inventory_below_one_day_is_refused() -> None:
    with pytest.raises(InputError, match="at least 1"):
        run_stress(ban(), tiny_atlas(), target="chip", inventory_days=0.5)


@pytest.mark.parametrize("days", [1.0, 2.0, 15.0, 60.0])
def test_no_shock_loses_nothing_on_the_bundled_atlas(days: float) -> None:
    # every link at the same stock (the atlas's own days replaced), every mechanism on
    from dataclasses import replace

    from paxsilica.atlas import bundled_atlas
    from paxsilica.scenarios.compile import compile_scenario
    from paxsilica.sim import simulate

    atlas = bundled_atlas()
    net, ix = build_network(atlas)
    quiet = parse_scenario("name: q\ndescription: nothing happens\nhorizon: 365\nsources: [hand]\n")
    comp = compile_scenario(quiet, net, ix, atlas)
    ext = replace(comp.extensions, inventory_days=np.full(net.n_links, days))
    res = simulate(net, comp.engine_scenario, steps=365, mode="extended", extensions=ext, record_firms=True,
                   inventory_days=days)
    assert np.abs(res.firm_production - net.baseline_output[None, :]).max() <= 1e-9 * net.baseline_output.max()
    assert np.abs(res.final_demand - res.final_demand_requested).max() == 0.0


def test_drivers_name_the_parameter_that_moves_the_loss_and_not_chance_ones() -> None:
    from paxsilica.bands import Draws, drivers

    rng = np.random.default_rng(0)
    n = 33
    keys = [("x", "inventory_days", "", "")] + [(f"noise{k}", "spare_capacity", "", "") for k in range(200)]
    draws = [{k: float(rng.random()) for k in keys} for _ in range(n)]
    loss = [10.0 - 8.0 * d[keys[0]] + 0.2 * rng.random() for d in draws]  # driven by x's stock
    d = Draws(draws, *(np.zeros((n, 1)) for _ in range(8)))
    got = drivers(d, loss)
    assert [g["parameter"] for g in got] == ["inventory_days of x"] and got[0]["rho"] < -0.9
    assert drivers(d, [float(rng.random()) for _ in range(n)]) == []  # pure noise: no driver named
