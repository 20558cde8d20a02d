"""The dashboard in a real browser: Debian's chromium, headless, driven by Playwright
(``executable_path``; never a downloaded browser), against a real uvicorn server on a free
loopback port with a fresh SQLite store and the seeded organisations of
:mod:`paxsilica.server.testing`.

Skips only when chromium, Playwright or the dashboard's npm assets are missing AND ``CI`` is not
set; in CI they fail instead. One server and one browser serve the whole module (a few minutes
at most); screenshots go to pytest's tmp folder (a few were copied by hand into ``docs/img/``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from paxsilica.server.testing import PASSWORD, in_ci

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"laptop": (1280, 800), "desktop": (1920, 1080)}


def _missing() -> list[str]:
    from paxsilica.server.dashboard import missing_assets

    out = []
    if shutil.which("chromium") is None:
        out.append("chromium (scripts/browser_install)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        out.append("playwright (pip install -e .[test])")
    if missing_assets():
        out.append("dashboard assets (scripts/setup)")
    if not AXE.is_file():
        out.append("axe-core (scripts/setup: npm ci in web/)")
    return out


MISSING = _missing()
if MISSING:
    if in_ci():
        pytest.fail(f"the dashboard's browser tests must run in CI; missing: {', '.join(MISSING)}",
                    pytrace=False)
    pytest.skip(f"missing: {', '.join(MISSING)}", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server (its own thread) on a fresh SQLite store; its base URL."""
    import uvicorn

    from paxsilica.server.app import create_app
    from paxsilica.server.settings import Settings
    from paxsilica.server.testing import seed

    folder = tmp_path_factory.mktemp("dash")
    settings = Settings.from_env(db_url=f"sqlite:///{folder / 'service.db'}", files_dir=folder / "files",
                                 argon2_fast=True, rate_per_minute=100_000, secret="test-secret-" + "x" * 32)
    app = create_app(settings)
    app.state.store.upgrade()
    seed(app.state.store)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < end and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@dataclasses.dataclass
class Tab:
    page: Page
    base: str
    outside: list[str]
    shots: Path
    errors: list[str] = dataclasses.field(default_factory=list)

    def go(self, hash_: str, timeout: float = 120_000) -> None:
        self.page.evaluate("""h => { document.body.dataset.ready = '';
            if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
            else location.hash = h; }""", hash_)
        self.ready(hash_, timeout)

    def ready(self, hash_: str, timeout: float = 120_000) -> None:
        self.page.wait_for_function("h => document.body.dataset.ready === h", arg=hash_, timeout=timeout)

    def shot(self, name: str) -> Path:
        path = self.shots / f"dashboard-{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def axe_critical(self) -> list[dict]:
        """axe-core (from web/node_modules) run in the page: its critical violations."""
        if not self.page.evaluate("() => !!window.axe"):
            self.page.add_script_tag(content=AXE.read_text("utf-8"))
        res = self.page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]}
                for v in res if v.get("impact") == "critical"]


@contextlib.contextmanager
def tab(browser, server: str, shots: Path, size: str = "laptop", user: str | None = "a_admin") -> Iterator[Tab]:  # type: ignore[no-untyped-def]
    w, h = SIZES[size]
    # bypass_csp only so that the test can inject axe-core; the page's own CSP is checked in
    # tests/test_dashboard_api.py
    ctx = browser.new_context(viewport={"width": w, "height": h}, bypass_csp=True)
    outside: list[str] = []

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        host = urlparse(route.request.url).hostname
        if host not in ("127.0.0.1", "localhost"):
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    ctx.route("**/*", guard)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    t = Tab(page, server, outside, shots)
    page.on("pageerror", lambda e: t.errors.append(str(e)))
    page.goto(server + "/dashboard/")
    if user:
        login(t, user)
    try:
        yield t
    finally:
        ctx.close()


def login(t: Tab, user: str, password: str = PASSWORD) -> None:
    t.page.fill("#username", user)
    t.page.fill("#password", password)
    t.page.click("#login button[type=submit]")
    t.ready("#/overview")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _token(server: str, user: str) -> str:
    import httpx

    r = httpx.post(server + "/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


PAGES = ["#/overview", "#/item/gallium", "#/network", "#/chokepoints", "#/chokepoints/hormuz", "#/scenarios",
         "#/backtests", "#/uploads", "#/keys", "#/audit", "#/plans", "#/montecarlo"]


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_loads_offline_and_accessible(browser, server: str, shots: Path, size: str) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots, size) as t:
        for h in PAGES:
            t.go(h)
            title = t.page.locator("main h1").inner_text()
            assert title not in ("Error", "404 — not found"), (h, t.page.locator("main").inner_text()[:300])
            assert t.page.locator("main .error").count() == 0, h
            # fits the window: no sideways scrolling of the page itself
            assert t.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), h
            assert t.axe_critical() == [], h
            t.shot(f"{size}-{h.strip('#/').replace('/', '-') or 'overview'}")
        assert t.outside == [], t.outside
        assert t.errors == []


def test_item_map_draws_countries_and_toggles(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots) as t:
        t.go("#/item/gallium")
        paths = t.page.locator("#item-map path.country")
        assert paths.count() > 150  # every country of Natural Earth 1:110m drawn
        assert t.page.locator("#item-map path.country.member").count() > 5  # coalition members outlined
        china = t.page.locator('#item-map path[data-iso="CHN"]')
        assert china.get_attribute("fill") != "#e8e8e8"  # China makes most gallium
        # the shape really is painted: its box on screen has an area
        box = china.bounding_box()
        assert box is not None and box["width"] > 10 and box["height"] > 10
        rows = t.page.locator("main table").nth(0).locator("tbody tr")
        assert rows.count() >= 3
        t.shot("item")
        # AI accelerators are made in Taiwan (TSMC) for firms headquartered in the United States
        t.go("#/item/ai_accelerators")
        usa, twn = (t.page.locator(f'#item-map path[data-iso="{c}"]') for c in ("USA", "TWN"))
        assert usa.get_attribute("fill") == "#e8e8e8" and twn.get_attribute("fill") != "#e8e8e8"
        t.page.get_by_label("controlled by").check()
        expect(t.page.locator("#item-map svg")).to_have_attribute("aria-label", re.compile("controlled by"))
        assert usa.get_attribute("fill") != "#e8e8e8" and twn.get_attribute("fill") == "#e8e8e8"


def test_network_graph_has_nodes_filters_and_opens_items(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    n_items = len(httpx.get(server + "/api/v1/views/network",
                            headers={"Authorization": "Bearer " + _token(server, "a_viewer")}).json()["nodes"])
    with tab(browser, server, shots) as t:
        t.go("#/network")
        assert t.page.evaluate("() => window.__cy.nodes().length") == n_items
        assert t.page.evaluate("() => window.__cy.edges().length") > 0
        t.page.select_option("#f-stage", "raw_material")
        shown = t.page.evaluate("() => window.__cy.nodes().filter(n => !n.hasClass('hidden')).length")
        assert 0 < shown < n_items
        expect(t.page.locator("#graph-count")).to_have_text(f"{shown} of {n_items} items shown")
        t.page.select_option("#f-stage", "")
        t.page.fill("#f-country", "CHN")
        assert 0 < t.page.evaluate("() => window.__cy.nodes().filter(n => !n.hasClass('hidden')).length") < n_items
        t.page.fill("#f-country", "")
        t.shot("network")
        # a real click on a node's position on the canvas opens its item page
        node_id, x, y = t.page.evaluate("""() => { const n = window.__cy.nodes()[0];
            const p = n.renderedPosition(); const r = document.getElementById('graph').getBoundingClientRect();
            return [n.id(), r.left + p.x, r.top + p.y]; }""")
        t.page.mouse.click(x, y)
        t.ready(f"#/item/{node_id}")


def test_chokepoint_closure_toggle(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots) as t:
        t.go("#/chokepoints")
        assert t.page.locator("svg.map path.lane.open").count() > 100
        assert t.page.locator("svg.map path.lane.cut").count() == 0
        t.page.get_by_label("Strait of Hormuz").check()
        t.ready("#/chokepoints/hormuz")
        assert t.page.locator("circle.cp.closed").count() == 1
        assert t.page.locator("svg.map path.lane.cut").count() > 0
        assert "cut" in t.page.locator("#lane-counts").inner_text()
        expect(t.page.locator("main h2", has_text="Impact of the closure")).to_be_visible()
        t.shot("chokepoints-hormuz")
        t.page.get_by_label("Strait of Hormuz").uncheck()
        t.ready("#/chokepoints/")
        assert t.page.locator("svg.map path.lane.cut").count() == 0


def test_run_a_scenario_see_its_chart_and_compare(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots, user="a_analyst") as t:
        t.go("#/scenarios")
        t.page.select_option("#scenario", "hormuz_closure")
        t.page.click("#run")
        t.page.wait_for_url("**/dashboard/#/runs/*")
        first = t.page.url.rsplit("/", 1)[-1]
        t.page.wait_for_selector("#run-chart canvas", timeout=240_000)  # live progress, then the chart
        assert t.page.locator("main table").count() >= 2  # the summary and the time-to-survive table
        assert t.page.locator("#run-map path.country").count() > 150
        # the closure hits sites (Gulf helium, LNG …): some country is shaded on the map
        assert t.page.locator('#run-map path.country:not([fill="#e8e8e8"])').count() > 0
        t.shot("run")
        t.go("#/scenarios")
        t.page.select_option("#scenario", "hormuz_closure")
        t.page.click("#run")
        t.page.wait_for_function("u => !location.hash.endsWith(u) && location.hash.startsWith('#/runs/')", arg=first)
        t.page.wait_for_selector("#run-chart canvas", timeout=240_000)
        t.page.select_option("#compare-with", first)
        t.page.get_by_role("button", name="Compare").click()
        t.page.wait_for_function("() => document.querySelectorAll('main .chart canvas').length === 2",
                                 timeout=120_000)
        t.shot("compare")
        assert t.outside == []


def test_viewer_has_no_run_button(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots, user="a_viewer") as t:
        t.go("#/scenarios")
        assert t.page.locator("#scenario option").count() > 5
        assert t.page.locator("#run").count() == 0
        assert t.page.locator("#builder").count() == 0


def test_another_organisations_run_is_a_404_page(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    r = httpx.post(server + "/api/v1/runs", json={"scenario": "hormuz_closure", "steps": 1},
                   headers={"Authorization": "Bearer " + _token(server, "b_analyst")})
    assert r.status_code == 202, r.text
    with tab(browser, server, shots, user="a_admin") as t:
        t.go("#/runs/" + r.json()["id"])
        expect(t.page.locator("main h1")).to_have_text("404 — not found")
        expect(t.page.locator("#not-found")).to_contain_text("another organisation")


def test_keyboard_only_login_and_open_an_item(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots, user=None) as t:
        kb = t.page.keyboard
        assert t.page.evaluate("() => document.activeElement.id") == "username"
        kb.type("a_viewer")
        kb.press("Tab")
        kb.type(PASSWORD)
        kb.press("Enter")
        t.ready("#/overview")
        for _ in range(120):
            kb.press("Tab")
            if t.page.evaluate("() => (document.activeElement.getAttribute('href') || '').startsWith('#/item/')"):
                break
        else:
            raise AssertionError("no item link reachable with Tab")
        target = t.page.evaluate("() => document.activeElement.getAttribute('href')")
        kb.press("Enter")
        t.ready(target)
        assert t.page.locator("#item-map path.country").count() > 150


def test_scenario_from_a_file_and_from_the_form(browser, server: str, shots: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from paxsilica.server import domain

    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text(domain.builtin_yaml("hormuz_closure").replace("name: hormuz_closure", "name: uploaded_one", 1),
                         encoding="utf-8")
    with tab(browser, server, shots, user="a_analyst") as t:
        t.go("#/scenarios")
        t.page.set_input_files("#yaml-file", str(yaml_file))
        t.page.get_by_role("button", name="Upload and run").click()
        t.page.wait_for_url("**/dashboard/#/runs/*")
        expect(t.page.locator("main h1")).to_have_text("Run: uploaded_one")
        t.go("#/scenarios")
        t.page.fill("#f-name", "form_built")
        t.page.select_option("#f-type", "export_ban")
        t.page.fill("#f-item", "gallium")
        t.page.fill("#f-country", "CHN")
        t.page.fill("#f-end", "120")
        t.page.get_by_role("button", name="Save and run").click()
        t.page.wait_for_url("**/dashboard/#/runs/*")
        expect(t.page.locator("main h1")).to_have_text("Run: form_built")
        t.go("#/scenarios")
        assert t.page.locator("#scenario option", has_text="form_built (yours)").count() == 1


def _wait_done(server: str, token: str, rid: str, timeout: float = 300.0) -> dict:
    import httpx

    end = time.monotonic() + timeout
    r: dict = {}
    while time.monotonic() < end:
        r = httpx.get(f"{server}/api/v1/runs/{rid}", headers={"Authorization": "Bearer " + token}).json()
        if r["status"] in ("done", "failed", "cancelled"):
            return r
        time.sleep(0.5)
    raise AssertionError(f"run {rid} did not finish: {r}")


def test_montecarlo_page_submits_and_draws_the_curve(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots, user="a_analyst") as t:
        t.go("#/montecarlo")
        t.page.fill("#mc-draws", "12")
        t.page.fill("#mc-horizon", "365")
        t.page.fill("#mc-levels", "0.5, 0.9")
        t.page.click("#mc-run")
        t.page.wait_for_url("**/dashboard/#/montecarlo/*")
        t.page.wait_for_selector("#mc-curve-0 canvas", timeout=300_000)  # live progress, then the curve
        curve = t.page.evaluate("() => window.__charts['mc-curve-0'].data[1].length")
        assert curve >= 1
        expect(t.page.locator("#mc-risk-0 table")).to_contain_text("Expected shortfall")
        assert t.page.locator("main .warn").count() > 0  # 8 draws: the few-tail-draws warning is shown
        expect(t.page.locator("main h3", has_text="What drives the tail").first).to_be_visible()
        assert t.axe_critical() == []
        t.shot("montecarlo")
        rid = t.page.url.rsplit("/", 1)[-1]
        t.go("#/montecarlo")
        assert t.page.locator(f'main a[href="#/montecarlo/{rid}"]').count() == 1
        assert t.outside == [] and t.errors == []


def test_viewer_cannot_submit_montecarlo_or_plans(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots, user="a_viewer") as t:
        t.go("#/montecarlo")
        expect(t.page.locator("main h1")).to_have_text("Monte Carlo risk")
        assert t.page.locator("#mc-run").count() == 0 and t.page.locator("#mc-form").count() == 0
        t.go("#/plans")
        expect(t.page.locator("main h1")).to_have_text("Plans")
        assert t.page.locator("#plan-run").count() == 0 and t.page.locator("#plan-form").count() == 0


def test_another_organisations_montecarlo_run_is_a_404_page(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    r = httpx.post(server + "/api/v1/montecarlo", json={"draws": 2, "horizon_days": 10},
                   headers={"Authorization": "Bearer " + _token(server, "b_analyst")})
    assert r.status_code == 202, r.text
    with tab(browser, server, shots, user="a_admin") as t:
        for h in ("#/montecarlo/", "#/plans/"):
            t.go(h + r.json()["id"])
            expect(t.page.locator("main h1")).to_have_text("404 — not found")
            expect(t.page.locator("#not-found")).to_contain_text("another organisation")


def test_plans_page_solves_a_plan(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    with tab(browser, server, shots, user="a_analyst") as t:
        t.go("#/plans")
        t.page.select_option("#plan-model", "sourcing")
        t.page.fill("#p-items", "gallium, germanium")
        t.page.fill("#p-scenarios", "gallium_germanium_export_ban")
        t.page.click("#plan-run")
        t.page.wait_for_url("**/dashboard/#/plans/*")
        t.page.wait_for_selector("main h2:has-text('Risk before and after')", timeout=300_000)
        expect(t.page.locator("main h3", has_text="mix")).to_be_visible()
        mix = t.page.locator("main h3:has-text('mix') + .scroll tbody tr")
        assert mix.count() >= 2  # gallium's and germanium's producers
        expect(t.page.locator("main h2", has_text="explanation")).to_be_visible()
        assert t.axe_critical() == []
        t.shot("plan")
        # the form changes with the model: the worst case has no consumer or Monte Carlo run
        t.go("#/plans")
        t.page.select_option("#plan-model", "worst-case")
        assert t.page.locator("#p-k").count() == 1 and t.page.locator("#p-montecarlo_run").count() == 0
        assert t.outside == [] and t.errors == []


def test_run_chart_shades_the_per_step_band_and_maps_lanes(browser, server: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    token = _token(server, "a_analyst")
    r = httpx.post(server + "/api/v1/runs", json={"scenario": "hormuz_closure", "bands": 4, "steps": 90},
                   headers={"Authorization": "Bearer " + token})
    assert r.status_code == 202, r.text
    assert _wait_done(server, token, r.json()["id"])["status"] == "done"
    with tab(browser, server, shots, user="a_analyst") as t:
        t.go("#/runs/" + r.json()["id"])
        t.page.wait_for_selector("#run-chart canvas")
        assert t.page.get_attribute("#run-chart", "data-band") == "per-step"
        labels = t.page.evaluate("() => window.__charts['run-chart'].series.map(s => s.label)")
        assert "target band 5 %" in labels and "target band 95 %" in labels
        assert t.page.evaluate("() => window.__charts['run-chart'].bands.length") == 1
        assert t.page.locator("#run-map path.lane").count() > 0  # the lanes Hormuz's closure touches
        assert t.page.locator("#run-map circle.cp.closed").count() == 1
        t.shot("run-band")
        assert t.outside == [] and t.errors == []
