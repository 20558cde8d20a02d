"""Synthetic firm networks (paxsilica.sim.generate), `paxsilica sim generate`, and the lazy CLI start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from paxsilica.cli.main import app as root_app
from paxsilica.errors import InputError
from paxsilica.sim import simulate
from paxsilica.sim.generate import country_weights, generate_network, write_generated
from paxsilica.sim.textio import FirmFiles, read_firm_files


def test_same_seed_same_network_other_seed_another() -> None:
    a = generate_network(3000, 12000, seed=5, n_shocks=3)
    b = generate_network(3000, 12000, seed=5, n_shocks=3)
    c = generate_network(3000, 12000, seed=6, n_shocks=3)
    for f in ("supplier", "client", "amount", "final_demand", "sector"):
        np.testing.assert_array_equal(getattr(a.network, f), getattr(b.network, f))
    np.testing.assert_array_equal(a.country, b.country)
    np.testing.assert_array_equal(a.shocks.firm, b.shocks.firm)
    np.testing.assert_array_equal(a.shocks.delta, b.shocks.delta)
    assert not np.array_equal(a.network.amount, c.network.amount)


def test_degrees_are_heavy_tailed_and_links_go_up_the_tiers() -> None:
    g = generate_network(20_000, 100_000, seed=1)
    net = g.network
    out_deg = np.bincount(net.supplier, minlength=net.n_firms)
    in_deg = np.bincount(net.client, minlength=net.n_firms)
    assert out_deg.mean() == pytest.approx(5.0)
    assert out_deg.max() > 50 * out_deg.mean()  # hubs: a Pareto tail, not a Poisson one
    assert in_deg.max() > 10 * in_deg.mean()
    assert in_deg.max() < out_deg.max()  # in-degrees less skewed (client weight size^0.6)
    # top 1 % of suppliers hold a large share of the links (under 2 % for a uniform draw)
    top = np.sort(out_deg)[::-1][: net.n_firms // 100].sum() / net.n_links
    assert top > 0.15
    t_sup, t_cli = g.tier[net.supplier], g.tier[net.client]
    assert np.all(in_deg[g.tier == 0] == 0)  # tier 0: raw materials, no supplier in the network
    assert np.mean(t_sup < t_cli) > 0.8
    assert np.mean(t_sup == t_cli) == pytest.approx(0.1, abs=0.03)
    assert np.mean(t_sup > t_cli) == 0.0
    # final demand rises with the tier (final goods are consumed, raw materials used)
    fd = [np.median(net.final_demand[g.tier == k]) for k in range(5)]
    assert fd == sorted(fd)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(20, 400), st.integers(1, 6), st.integers(0, 2**31))
def test_exact_size_no_self_loops_no_duplicates(n, per, seed) -> None:  # type: ignore[no-untyped-def]
    m = n * per // 2 + 1
    g = generate_network(n, m, seed=seed)
    net = g.network
    assert (net.n_firms, net.n_links) == (n, m)
    assert np.all(net.supplier != net.client)
    assert np.unique(net.supplier.astype(np.int64) * n + net.client).size == m
    assert np.all(net.baseline_output > 0)  # every firm sells to final demand
    assert np.all(net.amount > 0)
    assert set(np.unique(g.country)) <= set(country_weights()[0])


def test_country_weights_are_the_atlas_production_shares() -> None:
    codes, w, source = country_weights()
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w > 0) and len(set(codes)) == codes.size
    assert "CHN" in codes[:3]  # the largest producer of the atlas's minerals and materials
    assert "atlas" in source
    g = generate_network(50_000, 100_000, seed=3)
    share = np.mean(g.country == codes[0])
    # a binomial draw of 50,000 firms: within 5 standard errors of the weight
    assert abs(share - w[0]) < 5 * np.sqrt(w[0] * (1 - w[0]) / 50_000)


def test_written_files_read_back_exactly(tmp_path: Path) -> None:
    g = generate_network(2000, 8000, seed=9, n_shocks=4)
    paths = write_generated(g, tmp_path / "net")
    net, shocks = read_firm_files(FirmFiles(paths["links"], paths["final_demand"], paths["initial_production"],
                                            paths["sectors"], paths["shocks"]))
    for f in ("supplier", "client", "amount", "final_demand", "sector", "baseline_output"):
        np.testing.assert_array_equal(getattr(net, f), getattr(g.network, f))  # shortest exact floats
    np.testing.assert_array_equal(shocks.firm, g.shocks.firm)
    np.testing.assert_array_equal(shocks.delta, g.shocks.delta)
    meta = json.loads(paths["metadata"].read_text())
    assert meta["seed"] == 9 and meta["n_links"] == 8000
    assert meta["stats"]["firms_without_supplier"] == int((np.bincount(net.client, minlength=2000) == 0).sum())
    lines = paths["countries"].read_text().splitlines()
    assert len(lines) == 2000 and lines[0].split()[0] == "1"


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
@pytest.mark.parametrize("rationing", ["proportional", "priority"])
def test_unshocked_generated_network_stays_at_baseline(kernel: str, rationing: str) -> None:
    net = generate_network(5000, 25000, seed=4).network
    r = simulate(net, None, steps=365, rationing=rationing, kernel=kernel)
    assert np.all(r.production == r.production[0])
    assert np.all(r.final_demand == r.final_demand[0])


def test_shocked_generated_network_loses_output() -> None:
    g = generate_network(5000, 25000, seed=4, n_shocks=3)
    r = simulate(g.network, g.shocks, steps=60)
    assert r.production[-1] < r.production[0] * (1 - 1e-3)
    assert np.all(r.production <= r.production[0] * (1 + 1e-12))


def test_impossible_sizes_are_clear_errors() -> None:
    with pytest.raises(InputError, match="distinct links"):
        generate_network(10, 100, seed=0)
    with pytest.raises(InputError, match="--firms"):
        generate_network(1, 1)
    with pytest.raises(InputError, match="n_sectors"):
        generate_network(100, 100, n_sectors=2)


def test_cli_generate_then_sim_firms(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "net"
    r = runner.invoke(root_app, ["sim", "generate", "--firms", "500", "--links", "2000", "--seed", "3",
                                 "--shocks", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "paxsilica sim firms" in r.output
    res = tmp_path / "res"
    r = runner.invoke(root_app, ["sim", "firms", str(out / "links.txt"), str(out / "final_demand.txt"),
                                 str(out / "initial_production.txt"), str(out / "sectors.txt"),
                                 "--shocks", str(out / "shocks.txt"), "--steps", "20", "--out", str(res)])
    assert r.exit_code == 0, r.output
    series = [float(line.split()[1]) for line in (res / "production.txt").read_text().splitlines()]
    assert len(series) == 21 and series[-1] < series[0]
    # the same seed writes the same files
    again = tmp_path / "again"
    runner.invoke(root_app, ["sim", "generate", "--firms", "500", "--links", "2000", "--seed", "3",
                             "--shocks", "2", "--out", str(again)])
    assert (again / "links.txt").read_bytes() == (out / "links.txt").read_bytes()


def test_cli_generate_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    f = tmp_path / "file"
    f.write_text("x")
    r = runner.invoke(root_app, ["sim", "generate", "--firms", "10", "--links", "20", "--out", str(f)])
    assert r.exit_code == 1 and "must be a folder" in r.output
    r = runner.invoke(root_app, ["sim", "generate", "--firms", "10", "--links", "100", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "distinct links" in r.output
    r = runner.invoke(root_app, ["sim", "generate", "--firms", "1", "--links", "5", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2


def test_cli_horizon_bound_is_the_scenarios_one() -> None:
    from paxsilica.cli import sim as cli_sim
    from paxsilica.scenarios.schema import MAX_HORIZON_DAYS

    assert cli_sim.MAX_HORIZON_DAYS == MAX_HORIZON_DAYS


def test_cli_imports_only_the_command_it_runs() -> None:
    """`paxsilica sim ...` does not import the services, pandas or the other sub-commands; the
    command list (--help) still shows every sub-command."""
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom paxsilica.cli.main import app\n"
            "r = CliRunner().invoke(app, ['sim', 'generate', '--help'])\nassert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in ('pandas', 'scipy', 'paxsilica.services', 'paxsilica.cli.risk', "
            "'paxsilica.cli.common', 'paxsilica.sim.engine') if m in sys.modules))\n"
            "r = CliRunner().invoke(app, ['--help'])\n"
            "print(all(c in r.output for c in ('atlas', 'risk', 'sim', 'stress', 'scenarios', 'serve', 'user')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True"


def test_cli_lazy_group_finds_commands_of_renamed_modules() -> None:
    runner = CliRunner()
    for cmd in (["stress", "--help"], ["user", "--help"], ["atlas", "--help"], ["version"]):
        r = runner.invoke(root_app, cmd)
        assert r.exit_code == 0, (cmd, r.output)
    r = runner.invoke(root_app, ["nope"])
    assert r.exit_code == 2 and "No such command" in r.output
