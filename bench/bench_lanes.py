"""Benchmark: sea lanes of the bundled atlas, cold (empty cache) and warm.

Usage::

    python bench/bench_lanes.py            # bundled atlas (+ a dense all-pairs stress case)
    python bench/bench_lanes.py --pairs 60 # stress case size: all pairs among 60 countries' ports

Cold = a fresh empty cache folder, nothing in memory, searoute's graph not yet loaded.
Results go to stdout; copy them into bench/RESULTS.md (section "logistics").
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def _fresh(cache: Path) -> None:
    from paxsilica.logistics import cache as cache_mod
    from paxsilica.logistics import network

    cache_mod.clear_memory()
    network._sea_network.cache_clear()
    for f in cache.glob("*"):
        f.unlink()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=60, help="countries in the all-pairs stress case")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="paxsilica-bench-"))
    os.environ["PAXSILICA_CACHE_DIR"] = str(tmp)
    cache = tmp / "lanes"
    cache.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    import searoute

    from paxsilica.atlas import bundled_atlas
    from paxsilica.logistics import (
        CLOSURE_PRESETS,
        chokepoint_ranking,
        lane_table,
        lanes,
        main_port_table,
        network_pairs,
        unique_lanes,
    )

    atlas = bundled_atlas()
    t_import = time.perf_counter() - t0
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if len(atlas["ports"]) == 0 and (shared / "nga-world-port-index").is_dir():
        # the bundled atlas has no ports yet: take them (and the chokepoints) from the shared data
        from paxsilica.importers import chokepoints as cp_importer
        from paxsilica.importers import wpi

        ports = wpi.run(shared / "nga-world-port-index" / "wpi_slim.csv")["ports"]
        cps = cp_importer.run(shared / "chokepoints-handcompiled" / "maritime_chokepoints.csv")["chokepoints"]
        atlas = atlas.replace(ports=ports, chokepoints=cps)
        print("bundled atlas had no ports: WPI + chokepoints imported from ../shared/data")
    print(f"python {platform.python_version()}, searoute {searoute.__version__}, cpu {os.cpu_count()}")
    print(f"import + bundled atlas: {t_import:.2f} s")
    pairs = network_pairs(atlas)
    print(f"bundled atlas: {len(atlas['ports'])} ports, {len(atlas['chokepoints'])} chokepoints, "
          f"{len(pairs)} flows (item, exporter, importer)")

    def timed(label: str, fn):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        print(f"{label}: {dt:.2f} s")
        return out, dt

    if len(atlas["ports"]) and len(pairs):
        _fresh(cache)
        u, cold = timed("cold: all distinct sea lanes, baseline", lambda: unique_lanes(atlas))
        print(f"  {len(u)} distinct sea lanes, {int(u['cut'].sum())} cut, {int((u['status'] == 'no_port').sum())} no port")
        _, cold_all = timed("cold: every flow's lane (lanes(), incl. air/local)", lambda: lanes(atlas))
        for name, cs in CLOSURE_PRESETS.items():
            timed(f"cold: closure {name}", lambda cs=cs: unique_lanes(atlas, cs))
        _fresh(cache)
        timed("cold total: baseline + 8 preset closures", lambda: [unique_lanes(atlas)] + [
            unique_lanes(atlas, cs) for cs in CLOSURE_PRESETS.values()])
        from paxsilica.logistics import cache as cache_mod

        cache_mod.clear_memory()
        timed("warm (disk cache, new process state): baseline + 8 closures", lambda: [unique_lanes(atlas)] + [
            unique_lanes(atlas, cs) for cs in CLOSURE_PRESETS.values()])
        timed("warm (memory): lanes() again", lambda: lanes(atlas))
        timed("chokepoint_ranking over every chokepoint (cache warm for baseline)",
              lambda: chokepoint_ranking(atlas))
    else:
        print("bundled atlas has no ports or no flows: only the stress case runs")

    # stress: all ordered pairs among the first N countries having a main port
    mp = main_port_table(atlas)
    if len(mp) == 0:
        print("no ports: stress case skipped")
        return
    cs = mp["iso3"].tolist()[: args.pairs]
    all_pairs = [(a, b) for a in cs for b in cs if a != b]
    _fresh(cache)
    t, dt = timed(f"cold stress: {len(all_pairs)} lanes among {len(cs)} countries", lambda: lane_table(atlas, all_pairs))
    _, dt2 = timed("cold stress: same lanes with red_sea closed (baseline cached)",
                   lambda: lane_table(atlas, all_pairs, CLOSURE_PRESETS["red_sea"]))
    from paxsilica.logistics import cache as cache_mod

    cache_mod.clear_memory()
    timed("warm stress (from disk): baseline", lambda: lane_table(atlas, all_pairs))
    size = sum(f.stat().st_size for f in cache.glob("*.json"))
    print(f"cache size: {size / 1e6:.1f} MB in {len(list(cache.glob('*.json')))} files")


if __name__ == "__main__":
    main()
