"""Stress runs on tiny atlases whose answers are worked out by hand; results record their versions."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from paxsilica.errors import ValidationError
from paxsilica.network import tiny_atlas
from paxsilica.scenarios import parse_scenario
from paxsilica.stress import run_stress, save_result

BAN = "name: ban\ndescription: full ban on {who}'s {item}\nhorizon: {h}\nsources: [hand]\nshocks:\n" \
      "  - {{type: export_ban, exporter: {who}, items: [{item}], start: 0{extra}}}\n"


def ban(who: str = "JPN", item: str = "wafer", h: int = 40, extra: str = "") -> object:
    return parse_scenario(BAN.format(who=who, item=item, h=h, extra=extra), file="ban.yaml")


def levels(r) -> list[float]:
    """Delivered over requested additions of the target per step (for a flow target: the target level)."""
    return [round(v, 9) for v in r.additions_series()["level"]]


def tts(r) -> int | None:
    """Time to survive of the additions (the hand derivations are about deliveries)."""
    from paxsilica.stress import _tts_ttr

    return _tts_ttr(np.array(levels(r)), 1)[0]


def test_full_ban_on_the_60_percent_supplier_by_hand() -> None:
    # chip (TWN) needs 100 wafers a day: JPN 60, CHN 40; n days of wafer stock (10 → 1000).
    # From step 1 JPN's wafers stop arriving: stock after the update of step t is 1000 - 60 t while
    # output is full. The Leontief limit binds once less than one day (100) is left: 1000 - 60 t >= 100
    # holds up to t = 15, so the chip is whole for 16 steps (t = 0..15) and from step 16 makes what
    # CHN delivers: 40 %.
    r = run_stress(ban(), tiny_atlas(), target="chip", inventory_days=10)
    assert levels(r) == [1.0] * 16 + [0.4] * 24
    s = r.summary
    assert s["time_to_survive_days"] == 16 and s["time_to_recover_days"] is None
    assert s["loss_pct"] == pytest.approx(100 * 24 * 0.6 / 40)
    assert s["lost_units"] == pytest.approx(24 * 60.0)
    assert s["most_affected_items"][:1] == ["wafer"]
    # with n = 4: 400 - 60 t >= 100 up to t = 5 → whole for 6 steps
    r4 = run_stress(ban(), tiny_atlas(), target="chip", inventory_days=4)
    assert r4.summary["time_to_survive_days"] == 6


def test_two_tiers_and_lead_time(tiny_atlas) -> None:
    # ore (CHN 60 %) → chip (TWN) → datacentre (USA), 10 days of stock at each tier.
    # Chip is whole for 16 steps (as above); its 40 % output reaches the data centre one lead time later,
    # whose chip stock then falls by 60 a step: whole for 16 more steps with one-step lanes.
    one_day = pd.DataFrame({"exporter": ["CHN", "AUS", "TWN"], "importer": ["TWN", "TWN", "USA"],
                            "days": [1.0, 1.0, 1.0], "chokepoints": ["", "", ""]})
    r = run_stress(ban("CHN", "ore", 60), tiny_atlas, target="datacentre", inventory_days=10, lanes=one_day)
    assert tts(r) == 32
    assert levels(r)[32:] == [0.4] * 28
    # a 3-day lane for chips delays the data centre's fall by the 2 extra days in transit
    three = one_day.assign(days=[1.0, 1.0, 3.0])
    r3 = run_stress(ban("CHN", "ore", 60), tiny_atlas, target="datacentre", inventory_days=10, lanes=three)
    assert tts(r3) == 34
    # the data centre is installed capacity: additions lost from day 32 lower the stock from then on, so
    # the capacity that runs falls later and by less than the additions (paxsilica.capacity)
    assert r.summary["time_to_survive_days"] > 32 and r.summary["min_level"] > 0.4
    assert r.summary["loss_pct"] == pytest.approx(r.summary["lost_additions_pct"])
    assert r.summary["lost_operation_pct"] == 0.0


def test_licence_destinations_and_recovery(tiny_atlas) -> None:
    one_day = pd.DataFrame({"exporter": ["CHN", "AUS", "TWN"], "importer": ["TWN", "TWN", "USA"],
                            "days": [1.0] * 3, "chokepoints": [""] * 3})
    # ban only towards USA: TWN (the ore client) is not hit, so the ban touches nothing: an error naming
    # the file, the shock and the reason, not a silent zero
    with pytest.raises(ValidationError, match=r"ban.yaml, row 6, column 'shocks.0'.*touches no site and no link"):
        run_stress(ban("CHN", "ore", 30, ", destinations: [USA]"), tiny_atlas, target="datacentre", lanes=one_day)
    # a 50 % licence on 60 % of supply, 10 days of stock: chip whole while 1000 - 30 t >= 100 (t <= 30)
    r = run_stress(ban("CHN", "ore", 40, ", licence: 0.5"), tiny_atlas, target="chip", inventory_days=10,
                   lanes=one_day)
    assert r.summary["time_to_survive_days"] == 31
    assert levels(r)[31:] == [0.7] * 9
    # a ban that ends: recovery measured from the first step below 99 %
    r = run_stress(ban("CHN", "ore", 80, ", end: 20"), tiny_atlas, target="chip", inventory_days=5,
                   lanes=one_day)
    tts, ttr = r.summary["time_to_survive_days"], r.summary["time_to_recover_days"]
    lv = np.array(levels(r))
    assert tts == 7 and lv[tts] < 0.99 and ttr is not None  # 500 - 60 t >= 100 up to t = 6
    assert (lv[tts + ttr:] >= 0.99).all() and lv[tts + ttr - 1] < 0.99


def test_site_outage_cyber_and_demand_surge(tiny_atlas) -> None:
    one_day = pd.DataFrame({"exporter": ["CHN", "AUS", "TWN"], "importer": ["TWN", "TWN", "USA"],
                            "days": [1.0] * 3, "chokepoints": [""] * 3})
    cyber = parse_scenario("name: c\ndescription: d\nhorizon: 60\nshocks:\n  - {type: cyber_incident, item: chip, "
                           "producer: TWN, duration: 14, start: 0, restore: {profile: linear, days: 3}}\n")
    r = run_stress(cyber, tiny_atlas, target="datacentre", inventory_days=10, lanes=one_day)
    # the data centre's 10 days of chips run out before the 14-day outage ends, then additions recover;
    # the installed stock stays below its baseline path by the additions it missed
    add = np.array(levels(r))
    assert add.min() == pytest.approx(0.0) and add[-1] == 1.0
    assert 0.9 < r.summary["min_level"] < 1.0 and r.summary["time_to_recover_days"] is None
    surge = parse_scenario("name: s\ndescription: d\nhorizon: 20\nshocks:\n  - {type: demand_surge, item: datacentre, "
                           "factor: 1.5, start: 0}\n")
    r = run_stress(surge, tiny_atlas, target="datacentre", lanes=one_day)
    # no headroom: 100 delivered of 150 asked
    assert min(levels(r)) == pytest.approx(2 / 3)
    assert tts(r) == 0


def test_chokepoint_cut_with_hand_lanes(tiny_atlas) -> None:
    lanes = pd.DataFrame({"exporter": ["CHN", "AUS", "TWN"], "importer": ["TWN", "TWN", "USA"],
                          "days": [1.0] * 3, "chokepoints": ["taiwan_strait", "", ""]})
    cps = pd.DataFrame({"chokepoint": ["taiwan_strait"], "name": ["Taiwan Strait"], "lat": [24.3], "lon": [119.7],
                        "source": ["test"]})
    atlas = tiny_atlas.replace(chokepoints=cps)
    s = parse_scenario("name: k\ndescription: d\nhorizon: 40\nshocks:\n  - {type: chokepoint_closure, "
                       "chokepoint: taiwan_strait, start: 0, mode: cut}\n")
    r = run_stress(s, atlas, target="chip", inventory_days=10, lanes=lanes)
    assert r.effects.loc[0, "links"] == 1
    assert r.summary["time_to_survive_days"] == 16
    # rerouting: the same lane 5 days longer → lead-time schedule, a gap in arrivals, no lasting loss
    longer = lanes.assign(days=[6.0, 1.0, 1.0])
    s2 = parse_scenario("name: k\ndescription: d\nhorizon: 40\nshocks:\n  - {type: chokepoint_closure, "
                        "chokepoint: taiwan_strait, start: 0, duration: 20}\n")
    r2 = run_stress(s2, atlas, target="chip", inventory_days=10, lanes=lanes, lanes_under=lambda closed: longer)
    assert "1 rerouted" in r2.effects.loc[0, "what"]
    assert r2.summary["time_to_survive_days"] is None


def test_result_records_versions_and_saves(tmp_path) -> None:
    atlas = tiny_atlas()
    r = run_stress(ban(), atlas, target="chip", inventory_days=10, for_country="TWN")
    m = r.metadata
    assert m["atlas_version"] == atlas.version and m["atlas_name"] == "tiny"
    assert m["scenario"]["name"] == "ban" and m["scenario"]["shocks"][0]["exporter"] == "JPN"
    assert m["parameters"]["inventory_days"] == 10 and m["parameters"]["engine"]["rationing"] == "proportional"
    assert isinstance(m["code_version"], str) and m["code_version"]
    assert r.summary["focus"]["consumer"]["loss_pct"] == pytest.approx(36.0)
    paths = save_result(r, tmp_path / "out")
    series = pd.read_parquet(paths["series"])
    assert set(series["kind"]) == {"target", "additions", "item", "consumer", "site"}
    with duckdb.connect(str(paths["duckdb"])) as con:
        run = con.execute("SELECT scenario, atlas_version, code_version FROM runs").fetchone()
        n = con.execute("SELECT count(*) FROM series WHERE kind = 'target'").fetchone()[0]
    assert run == ("ban", atlas.version, m["code_version"]) and n == 41
    summary = json.loads(paths["summary"].read_text())
    assert summary["summary"]["time_to_survive_days"] == 16
    html = paths["chart"].read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html
    assert "src=" not in html and "<link" not in html  # self-contained: nothing loaded from elsewhere


def test_builtin_runs_on_bundled_atlas() -> None:
    from paxsilica.atlas import bundled_atlas
    from paxsilica.stress import run_library

    atlas = bundled_atlas()
    table = run_library(atlas, ["advanced_fab_cyber_incident"], steps=20)
    row = table.iloc[0]
    assert row["scenario"] == "advanced_fab_cyber_incident" and row["atlas_version"] == atlas.version
    assert 0.0 <= row["loss_pct"] <= 100.0


def test_stockpile_release_and_blockade_by_hand() -> None:
    stocks = pd.DataFrame({"holder": ["TWN"], "item": ["wafer"], "days_of_cover": [30.0], "source": ["hand"]})
    atlas = tiny_atlas().replace(stocks=stocks)
    base = BAN.format(who="JPN", item="wafer", h=80, extra="")
    # held back: the reserve is not drawn, same as without stocks
    r = run_stress(parse_scenario(base), atlas, target="chip", inventory_days=10)
    assert r.summary["time_to_survive_days"] == 16
    # released: 30 days of both wafer links (30·60 + 30·40 = 3000) cover the 60-a-day gap for 50 more steps
    r = run_stress(parse_scenario(base + "policies:\n  stockpile_release: [wafer]\n"), atlas, target="chip",
                   inventory_days=10)
    assert r.summary["time_to_survive_days"] == 66
    # a blockade of Taiwan cuts both wafer links: 1000 - 100 t >= 100 up to t = 9 → whole for 10 steps
    s = parse_scenario("name: b\ndescription: d\nhorizon: 40\nshocks:\n  - {type: blockade, country: TWN, start: 0, "
                       "end: 30}\n")
    r = run_stress(s, tiny_atlas(), target="chip", inventory_days=10)
    assert r.summary["time_to_survive_days"] == 10 and r.summary["min_level"] == 0.0
    assert r.summary["time_to_recover_days"] is not None


def test_outside_group_uses_membership_on_the_date(tiny_atlas) -> None:
    # pax_silica (USA, AUS, JPN) joined 2025-12-12 in the test atlas; TWN, the ore client, is never a member
    one_day = pd.DataFrame({"exporter": ["CHN", "AUS", "TWN"], "importer": ["TWN", "TWN", "USA"],
                            "days": [1.0] * 3, "chokepoints": [""] * 3})
    text = ("name: g\ndescription: d\nhorizon: 30\n{ref}shocks:\n  - {{type: export_ban, exporter: TWN, items: [chip], "
            "destinations: {{outside: pax_silica}}}}\n")
    with pytest.raises(ValidationError, match="touches no site and no link"):  # USA is a member: nothing banned
        run_stress(parse_scenario(text.format(ref="")), tiny_atlas, target="datacentre", lanes=one_day)
    r = run_stress(parse_scenario(text.format(ref="reference_date: '2024-01-01'\n")), tiny_atlas,
                   target="datacentre", lanes=one_day)
    assert r.effects.loc[0, "links"] == 1  # before USA joined: banned


def test_coalition_first_serves_members_before_others() -> None:
    # chip made half in TWN, half in USA, both on wafers from JPN (60 %) and CHN (40 %); JPN's wafers
    # stop. CHN's wafers are all delivered either way (same total loss), but with coalition_first the
    # club's member (TWN) is served before USA instead of both getting the same fill.
    from paxsilica.network import build_network
    from paxsilica.scenarios.compile import compile_scenario

    prod = pd.DataFrame({"item": ["chip", "chip", "wafer", "wafer"], "producer": ["TWN", "USA", "JPN", "CHN"],
                         "producer_type": ["country"] * 4, "year": [2023] * 4,
                         "share": [50.0, 50.0, 60.0, 40.0], "source": ["hand"] * 4})
    atlas = tiny_atlas().replace(production=prod,
                                 groups=pd.DataFrame({"group": ["club"], "iso3": ["TWN"], "source": ["hand"]}))
    text = ("name: ban\ndescription: d\nhorizon: 60\nsources: [hand]\nshocks:\n"
            "  - {type: export_ban, exporter: JPN, items: [wafer], start: 0}\n")
    plain = run_stress(parse_scenario(text, file="a.yaml"), atlas, target="chip", inventory_days=5)
    first = run_stress(parse_scenario(text + "policies: {coalition_first: club}\n", file="b.yaml"), atlas,
                       target="chip", inventory_days=5)
    lv0 = plain.consumers.set_index("consumer")["min_level"]
    lv1 = first.consumers.set_index("consumer")["min_level"]
    assert lv0["TWN"] == pytest.approx(lv0["USA"])
    assert lv1["TWN"] > lv0["TWN"] and lv1["USA"] < lv0["USA"] and lv1["TWN"] > lv1["USA"]
    assert first.summary["loss_pct"] == pytest.approx(plain.summary["loss_pct"], rel=1e-9)
    # the classes: links into TWN's chip site are class 0, into USA's class 1
    net, index = build_network(atlas, target="chip")
    comp = compile_scenario(parse_scenario(text + "policies: {coalition_first: club}\n", file="b.yaml"),
                            net, index, atlas)
    links = index.links
    canon = net.link_positions(links["link"].to_numpy(np.int64))
    country = index.sites["country"].to_numpy(object)[links["client"].to_numpy(np.int64)]
    classes = comp.extensions.link_priority[canon]
    assert set(classes[country == "TWN"]) == {0} and set(classes[country == "USA"]) == {1}


def test_regional_disaster_skips_countries_without_a_region() -> None:
    # the bundled atlas has countries whose region is missing; a disaster by region must run (a
    # missing region is no region, not an error) and hit exactly the sites of that region's countries
    from paxsilica.atlas import bundled_atlas

    atlas = bundled_atlas()
    countries = atlas["countries"]
    assert countries["region"].isna().any()
    sc = parse_scenario("name: q\ndescription: d\nhorizon: 20\nshocks:\n  - {type: disaster, region: "
                        "East Asia & Pacific, severity: 0.5, start: 0}\n", file="q.yaml")
    r = run_stress(sc, atlas, target="ai_datacenter_capacity", steps=20)
    from paxsilica.network import build_index

    region = set(countries.loc[countries["region"] == "East Asia & Pacific", "iso3"])
    sites = build_index(atlas, target="ai_datacenter_capacity").sites
    real = sites[~sites["virtual"].astype(bool)]
    expected = int(real["country"].isin(region).sum())
    assert expected > 0 and int(r.effects["sites"].sum()) == expected
