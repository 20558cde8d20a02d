"""Atlas → network: link amounts computable by hand, flows conserved, dependent shares, lanes, stocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.atlas import Atlas
from paxsilica.errors import NotFoundError
from paxsilica.network import build_index, build_network, tiny_atlas


def conserved(index) -> float:
    s, links = index.sites, index.links
    out = links.groupby("supplier")["amount"].sum().reindex(s.index, fill_value=0.0)
    return float(np.abs(s["baseline"] - s["final_demand"] - out).max())


def test_two_stage_chain_by_hand() -> None:
    net, ix = build_network(tiny_atlas(), target="chip")
    amounts = {(r.item, r.exporter): r.amount for r in ix.links.itertuples()}
    # chip (TWN, 100 units of final demand) needs wafer 1:1; wafer JPN 60 %, CHN 40 %
    assert amounts == pytest.approx({("wafer", "JPN"): 60.0, ("wafer", "CHN"): 40.0})
    assert net.baseline_output.tolist() == pytest.approx([100.0, 60.0, 40.0])
    assert ix.final.to_dict("records") == [{"site": 0, "consumer": "TWN", "amount": 100.0}]
    assert conserved(ix) < 1e-9
    assert list(net.sector_names) == ["chip", "wafer"]
    assert net.firm_ids.tolist() == ["chip@TWN", "wafer@JPN", "wafer@CHN"]


def test_three_stage_chain(tiny_atlas) -> None:
    net, ix = build_network(tiny_atlas, target="datacentre")
    s = ix.sites.set_index(["item", "producer"])["baseline"]
    assert s[("datacentre", "USA")] == pytest.approx(100.0)
    assert s[("chip", "TWN")] == pytest.approx(100.0)
    assert s[("ore", "CHN")] == pytest.approx(60.0) and s[("ore", "AUS")] == pytest.approx(40.0)
    assert conserved(ix) < 1e-9


def frames_with(**over):
    a = tiny_atlas()
    frames = {t: a[t] for t in a}
    frames.update(over)
    return Atlas.from_frames(frames, name="t")


def test_dependent_share_below_one_gets_virtual_no_need_supplier() -> None:
    a = tiny_atlas()
    rec = a["recipes"].assign(dependent_share=[0.5])
    net, ix = build_network(frames_with(recipes=rec), target="chip")
    real = ix.links[~ix.links["virtual"]]
    assert dict(zip(real["exporter"], real["amount"], strict=True)) == pytest.approx({"JPN": 30.0, "CHN": 20.0})
    virt = ix.links[ix.links["virtual"]]
    assert virt["amount"].tolist() == pytest.approx([50.0])
    vsite = ix.sites.loc[virt["supplier"].iloc[0]]
    assert bool(vsite["virtual"]) and vsite["item"] == "wafer" and vsite["baseline"] == pytest.approx(50.0)
    # the virtual supplier is in the input's sector, so the client's wafer need is 100 in all
    assert net.sector[int(virt["supplier"].iloc[0])] == net.sector[1]
    assert conserved(ix) < 1e-9


def test_trade_shares_shape_the_sourcing() -> None:
    a = tiny_atlas()
    prod = pd.concat([a["production"], pd.DataFrame({
        "item": ["chip"], "producer": ["KOR"], "producer_type": ["country"], "year": [2023], "share": [50.0],
        "source": ["hand"]})], ignore_index=True)
    prod.loc[prod["item"].eq("chip") & prod["producer"].eq("TWN"), "share"] = 50.0
    countries = pd.concat([a["countries"], pd.DataFrame({"iso3": ["KOR"], "name": ["Korea"]})], ignore_index=True)
    # Taiwan imports wafers only from Japan; Korea from both, equally
    trade = pd.DataFrame({"item": ["wafer"] * 3, "exporter": ["JPN", "JPN", "CHN"], "importer": ["TWN", "KOR", "KOR"],
                          "year": [2023] * 3, "quantity": [10.0, 5.0, 5.0], "source": ["hand"] * 3})
    _, ix = build_network(frames_with(production=prod, countries=countries, trade=trade), target="chip")
    amt = {(r.exporter, r.importer): r.amount for r in ix.links.itertuples()}
    # rows: TWN and KOR need 50 each; columns: JPN 60, CHN 40. TWN takes all from JPN (50), so KOR
    # takes the remaining 10 from JPN and 40 from CHN.
    assert amt[("JPN", "TWN")] == pytest.approx(50.0, abs=1e-4)
    assert amt.get(("CHN", "TWN"), 0.0) == pytest.approx(0.0, abs=1e-4)
    assert amt[("JPN", "KOR")] == pytest.approx(10.0, abs=1e-4)
    assert amt[("CHN", "KOR")] == pytest.approx(40.0, abs=1e-4)
    assert conserved(ix) < 1e-9


def test_lanes_and_stocks_attach() -> None:
    stocks = pd.DataFrame({"holder": ["TWN"], "item": ["wafer"], "days_of_cover": [30.0], "source": ["hand"]})
    lanes = pd.DataFrame({"exporter": ["JPN", "CHN"], "importer": ["TWN", "TWN"], "days": [4.5, 2.0],
                          "chokepoints": ["", "taiwan_strait"]})
    net, ix = build_network(frames_with(stocks=stocks), target="chip", lanes=lanes)
    by_exp = ix.links.set_index("exporter")
    assert by_exp.loc["JPN", "lead_steps"] == 5 and by_exp.loc["CHN", "lead_steps"] == 2
    assert by_exp.loc["CHN", "chokepoints"] == "taiwan_strait"
    assert by_exp["stock_days"].tolist() == [30.0, 30.0]
    assert sorted(net.lead_time.tolist()) == [2, 5]
    _, ix2 = build_network(frames_with(stocks=stocks), target="chip", lanes=lanes, step_days=7)
    assert ix2.links["lead_steps"].tolist() == [1, 1]


def test_firm_rows_become_country_sites_and_consumers() -> None:
    a = tiny_atlas()
    prod = a["production"][a["production"]["item"] != "chip"]
    prod = pd.concat([prod, pd.DataFrame({
        "item": ["chip", "chip", "chip"], "producer": ["tsmc", "samsung", "OTHER"],
        "producer_type": ["firm", "firm", "rest_of_world"], "year": [2023] * 3, "share": [70.0, 20.0, 10.0],
        "source": ["hand"] * 3})], ignore_index=True)
    countries = pd.concat([a["countries"], pd.DataFrame({"iso3": ["KOR"], "name": ["Korea"]})], ignore_index=True)
    firms = pd.DataFrame({"firm": ["tsmc", "samsung"], "name": ["TSMC", "Samsung"], "country": ["TWN", "KOR"]})
    ix = build_index(frames_with(production=prod, countries=countries, firms=firms), target="chip")
    s = ix.sites[ix.sites["item"] == "chip"].set_index("producer")["baseline"]
    assert s.to_dict() == pytest.approx({"TWN": 70.0, "KOR": 20.0, "ROW": 10.0})
    assert set(ix.final["consumer"]) == {"TWN", "KOR", "ROW"}
    _, ix_w = build_network(tiny_atlas(), target="chip", consumers="world")
    assert ix_w.final["consumer"].tolist() == ["WORLD"]


def test_unknown_target() -> None:
    with pytest.raises(NotFoundError, match="did you mean"):
        build_network(tiny_atlas(), target="chips")


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(1.0, 100.0), min_size=2, max_size=4), st.floats(0.05, 1.0), st.floats(0.05, 1.0))
def test_flows_conserved_random_shares(shares, ds1, ds2) -> None:
    prods = ["JPN", "CHN", "USA", "AUS"][: len(shares)]
    items = pd.DataFrame({"item": ["dc", "chip", "ore"], "name": ["d", "c", "o"],
                          "stage": ["infrastructure", "fabrication", "raw_material"], "unit": ["MW", "units", "t"]})
    prod = pd.DataFrame({"item": ["dc", "chip"] + ["ore"] * len(prods), "producer": ["USA", "TWN"] + prods,
                         "producer_type": "country", "year": 2023, "share": [100.0, 100.0] + shares, "source": "h"})
    rec = pd.DataFrame({"item": ["dc", "chip", "dc"], "input": ["chip", "ore", "ore"],
                        "dependent_share": [ds1, ds2, 0.1], "rationale": "r", "source": "h"})
    countries = pd.DataFrame({"iso3": ["USA", "TWN", "JPN", "CHN", "AUS"], "name": list("abcde")})
    a = Atlas.from_frames({"items": items, "production": prod, "recipes": rec, "countries": countries})
    ix = build_index(a, target="dc", prune=0.0, merge=0.0)  # exact fit (pruning, merging tested apart)
    assert conserved(ix) < 1e-9
    # world output of ore = what its users' dependent parts need: ds2*W(chip) + 0.1*W(dc), W(chip) = ds1*100
    ore = ix.sites.loc[(ix.sites["item"] == "ore") & ~ix.sites["virtual"], "baseline"].sum()
    assert ore == pytest.approx(ds2 * ds1 * 100.0 + 0.1 * 100.0)
    tot = sum(shares)
    got = ix.sites[(ix.sites["item"] == "ore") & ~ix.sites["virtual"]].set_index("producer")["baseline"] / ore
    for p, sh in zip(prods, shares, strict=True):
        assert got[p] == pytest.approx(sh / tot, rel=1e-6)


def test_pruning_drops_slivers_and_keeps_needs_exact() -> None:
    # wafers from JPN 1.5 %, CHN 98.5 %: the JPN sliver (below 2 % of the client's need) is dropped and
    # CHN takes its part; the client's need stays exact, and the largest supplier is always kept
    a = tiny_atlas()
    prod = a["production"].copy()
    prod.loc[prod["producer"] == "JPN", "share"] = 1.5
    prod.loc[prod["producer"] == "CHN", "share"] = 98.5
    full = build_index(frames_with(production=prod), target="chip", prune=0.0, merge=0.0)
    cut = build_index(frames_with(production=prod), target="chip", merge=0.0)
    assert sorted(full.links["exporter"]) == ["CHN", "JPN"]
    assert cut.links["exporter"].tolist() == ["CHN"]
    assert cut.links["amount"].sum() == pytest.approx(100.0)
    assert conserved(cut) < 1e-9


def test_small_producers_are_merged_into_rest_of_world() -> None:
    # wafer: JPN 99.6 %, CHN 0.4 % -> CHN (below 1 %) becomes part of the ROW site, with its share
    a = tiny_atlas()
    prod = a["production"].copy()
    prod.loc[prod["producer"] == "JPN", "share"] = 99.6
    prod.loc[prod["producer"] == "CHN", "share"] = 0.4
    ix = build_index(frames_with(production=prod), target="chip", prune=0.0)
    w = ix.sites[(ix.sites["item"] == "wafer") & ~ix.sites["virtual"]].set_index("producer")["share"]
    assert w.to_dict() == pytest.approx({"JPN": 0.996, "ROW": 0.004})
    full = build_index(frames_with(production=prod), target="chip", prune=0.0, merge=0.0)
    assert set(full.sites.loc[full.sites["item"] == "wafer", "producer"]) == {"JPN", "CHN"}
