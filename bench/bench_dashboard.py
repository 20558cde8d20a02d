"""Responsiveness of the dashboard's network page: the bundled atlas (66 items) against a 5,000-item
user atlas.

Usage::

    python bench/bench_dashboard.py              # both atlases, 3 repeats
    python bench/bench_dashboard.py --items 10000 --repeats 5

Measures, per atlas: building ``/api/v1/views/network`` (the service, cold: the measures behind
the colours included; later calls are cached per atlas version), its JSON size,
and in headless chromium (Debian's, through Playwright) the time from opening ``#/network`` to the
graph drawn (cytoscape, preset layout by stage), and the time to apply a stage filter and a
country filter (until the next frame is painted). The 5,000-item atlas is synthetic: the bundled
atlas with generated items (random stage, three producer countries, two inputs of the previous
stage each); its ``/views/network`` answer is built by the same service and handed to the page
through Playwright's request routing, so the page code measured is the real one. Also the
chokepoints page on the bundled atlas (every lane routed, cold; its JSON; the map drawn). JSON
sizes are as the API sends them (compact). ``--views MODULE`` times another version of
``paxsilica.services.views`` (an earlier one copied beside it) for a before/after. Only loopback
addresses are contacted. Prints a Markdown table; paste it into bench/RESULTS.md ("dashboard").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import machine  # one machine description for every bench script
from paxsilica.atlas import bundled_atlas
from paxsilica.services import ServiceContext


def synthetic_atlas(n: int, seed: int = 7):  # type: ignore[no-untyped-def]
    """The bundled atlas with ``n`` generated items in place of its own (benchmark data only)."""
    base = bundled_atlas()
    rng = np.random.default_rng(seed)
    stages = list(dict.fromkeys(base["items"]["stage"]))
    countries = sorted(set(base["production"]["producer"]) - {"ROW", "OTHER"} & set(base["countries"]["iso3"]))
    stage_of = rng.integers(0, len(stages), n)
    ids = [f"syn_{i:05d}" for i in range(n)]
    items = pd.DataFrame({"item": ids, "name": [f"Synthetic item {i}" for i in range(n)],
                          "stage": [stages[k] for k in stage_of], "unit": "t"})
    src = str(base["sources"]["source"].iloc[0])
    prod = []
    for i in ids:
        cs = rng.choice(countries, 3, replace=False)
        sh = rng.dirichlet(np.ones(3)) * 100
        prod += [{"item": i, "producer": c, "producer_type": "country", "country": c, "year": 2023,
                  "share": float(s), "source": src} for c, s in zip(cs, sh, strict=True)]
    by_stage: dict[int, list[str]] = {}
    for i, k in zip(ids, stage_of, strict=True):
        by_stage.setdefault(int(k), []).append(i)
    rec = []
    for i, k in zip(ids, stage_of, strict=True):
        prev = by_stage.get(int(k) - 1, [])
        for j in (rng.choice(prev, min(2, len(prev)), replace=False) if prev else []):
            rec.append({"item": i, "input": str(j), "dependent_share": 0.5, "rationale": "synthetic", "source": src})
    typed = {
        "items": items,
        "production": pd.DataFrame(prod).astype({"year": "Int64"}),
        "recipes": pd.DataFrame(rec),
    }
    return base.replace(**{t: df.reindex(columns=base[t].columns) for t, df in typed.items()})


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(folder: Path) -> tuple[str, object]:
    import uvicorn

    from paxsilica.server.app import create_app
    from paxsilica.server.settings import Settings
    from paxsilica.server.testing import seed

    app = create_app(Settings.from_env(db_url=f"sqlite:///{folder / 's.db'}", files_dir=folder / "files",
                                       argon2_fast=True, rate_per_minute=100_000, secret="bench-" + "x" * 32),
                     start_workers=False)
    app.state.store.upgrade()
    seed(app.state.store)
    port = _port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", srv


FRAME = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def browser_times(page, payload: str | None, repeats: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median milliseconds: open the network page, a stage filter, a country filter."""
    page.unroute("**/api/v1/views/network*")
    if payload is not None:
        page.route("**/api/v1/views/network*", lambda r: r.fulfill(status=200, body=payload,
                                                                     content_type="application/json"))
    opened, stage, country = [], [], []
    for _ in range(repeats):
        page.evaluate("() => { document.body.dataset.ready = ''; location.hash = '#/plans'; }")
        page.wait_for_function("() => document.body.dataset.ready === '#/plans'", timeout=120_000)
        t0 = page.evaluate("() => performance.now()")
        page.evaluate("() => { document.body.dataset.ready = ''; location.hash = '#/network'; }")
        page.wait_for_function("() => document.body.dataset.ready === '#/network'", timeout=120_000)
        opened.append(page.evaluate(FRAME) - t0)
        for box, value, out in (("#f-stage", "equipment", stage), ("#f-country", "CHN", country)):
            t0 = page.evaluate("() => performance.now()")
            if box == "#f-stage":
                page.select_option(box, value)
            else:
                page.fill(box, value)
            out.append(page.evaluate(FRAME) - t0)
        page.select_option("#f-stage", "")
        page.fill("#f-country", "")
    return {"open_ms": float(np.median(opened)), "stage_filter_ms": float(np.median(stage)),
            "country_filter_ms": float(np.median(country))}


def chokepoints_times(page, payload: str, repeats: int) -> float:  # type: ignore[no-untyped-def]
    """Median milliseconds from opening ``#/chokepoints`` (its answer ``payload``) to the map painted."""
    page.unroute("**/api/v1/views/chokepoints*")
    page.route("**/api/v1/views/chokepoints*", lambda r: r.fulfill(status=200, body=payload,
                                                                     content_type="application/json"))
    opened = []
    for _ in range(repeats):
        page.evaluate("() => { document.body.dataset.ready = ''; location.hash = '#/keys'; }")
        page.wait_for_function("() => document.body.dataset.ready === '#/keys'", timeout=120_000)
        t0 = page.evaluate("() => performance.now()")
        page.evaluate("() => { document.body.dataset.ready = ''; location.hash = '#/chokepoints'; }")
        page.wait_for_function("() => document.body.dataset.ready === '#/chokepoints'", timeout=120_000)
        opened.append(page.evaluate(FRAME) - t0)
    return float(np.median(opened))


def compact(view: dict) -> str:
    """The JSON as the API sends it (FastAPI's JSONResponse: no spaces)."""
    return json.dumps(view, separators=(",", ":"), ensure_ascii=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--views", default="paxsilica.services.views",
                    help="the views module to time (e.g. an earlier version copied beside it, for a before/after)")
    args = ap.parse_args()
    import importlib

    sviews = importlib.import_module(args.views)
    from playwright.sync_api import sync_playwright

    from paxsilica.server.testing import PASSWORD

    atlases = {"bundled ai-stack": None, f"synthetic {args.items:,} items": synthetic_atlas(args.items)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        base, srv = _serve(Path(tmp))
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                     args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(base + "/dashboard/")
        page.fill("#username", "a_viewer")
        page.fill("#password", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_function("() => document.body.dataset.ready === '#/overview'", timeout=120_000)
        for label, atlas in atlases.items():
            ctx = ServiceContext(source=atlas, validate=False) if atlas is not None else ServiceContext()
            ctx.atlas()  # read (bundled) before the clock starts
            t0 = time.perf_counter()
            view = sviews.network_view(ctx)  # cold: the measures behind the colours, then the graph
            build = time.perf_counter() - t0
            payload = compact(view)
            times = browser_times(page, payload if atlas is not None else None, args.repeats)
            rows.append({"atlas": label, "nodes": len(view["nodes"]), "edges": len(view["edges"]),
                         "json_kb": len(payload) / 1024, "service_ms": build * 1000, **times})
        # the chokepoints page on the bundled atlas: every lane routed (cold), its JSON, the map drawn
        ctx = ServiceContext()
        ctx.atlas()
        t0 = time.perf_counter()
        cview = sviews.chokepoints_view(ctx, None)
        cbuild = time.perf_counter() - t0
        cpayload = compact(cview)
        copen = chokepoints_times(page, cpayload, args.repeats)
        browser.close()
        srv.should_exit = True  # type: ignore[attr-defined]
    print(f"machine: {machine()}; date: {dt.date.today().isoformat()}; chromium headless 1920x1080; "
          f"median of {args.repeats}\n")
    print("| atlas | nodes | edges | JSON (KiB) | service, cold (ms) | open page (ms) | stage filter (ms) | country filter (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['atlas']} | {r['nodes']:,} | {r['edges']:,} | {r['json_kb']:.0f} | {r['service_ms']:.0f} | "
              f"{r['open_ms']:.0f} | {r['stage_filter_ms']:.0f} | {r['country_filter_ms']:.0f} |")
    b, s = rows
    print(f"\nratios (synthetic / bundled): open page {s['open_ms'] / b['open_ms']:.1f}x, "
          f"stage filter {s['stage_filter_ms'] / b['stage_filter_ms']:.1f}x, "
          f"country filter {s['country_filter_ms'] / b['country_filter_ms']:.1f}x")
    print("\n| page (bundled atlas) | lanes | JSON (KiB) | service, cold (ms) | open page (ms) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| chokepoints | {len(cview['lanes']):,} | {len(cpayload) / 1024:.0f} | {cbuild * 1000:.0f} | {copen:.0f} |")


if __name__ == "__main__":
    main()
