"""The offline dashboard: one HTML page, its own ES modules and CSS, and the npm libraries that
``scripts/setup`` copies into ``vendor/`` (``cytoscape``, ``uplot``; locked by
``web/package-lock.json``). Nothing is loaded from anywhere but this server.

Every page reads the same JSON the API serves (``/api/v1/views/*`` and the other endpoints);
the HTML itself is public (it holds no data), the data needs a login. See ``docs/dashboard.md``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

HERE = Path(__file__).parent
STATIC = HERE / "static"
VENDOR = HERE / "vendor"
VENDOR_FILES = ("cytoscape.esm.min.js", "uPlot.esm.js", "uPlot.min.css")
"""What ``scripts/setup`` copies from ``web/node_modules`` (the page needs all of them)."""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
"""Content-Security-Policy of the page: only this server's own scripts (no inline script, no
eval), so an injected string cannot run and nothing can be loaded from elsewhere."""

HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

MISSING = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>paxsilica dashboard</title></head>
<body><main><h1>The dashboard is not installed</h1>
<p>Its front-end libraries are missing ({missing}). Install them with <code>bash scripts/setup</code>
(it needs <code>npm</code>: on Debian, <code>apt-get install nodejs npm</code>), then restart
<code>paxsilica serve</code>.</p><p>The REST API works without them: <a href="/docs">/docs</a>.</p>
</main></body></html>"""


def missing_assets() -> list[str]:
    """Vendor files the dashboard needs and that are not installed.

    Examples
    --------
    >>> isinstance(missing_assets(), list)
    True
    """
    return [f for f in VENDOR_FILES if not (VENDOR / f).is_file()]


def install(app: FastAPI) -> None:
    """Add the dashboard's routes to ``app`` (outside the API schema: they serve files, not data)."""

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/dashboard/", status_code=307)

    @app.get("/dashboard", include_in_schema=False)
    @app.get("/dashboard/", include_in_schema=False)
    def page() -> Response:
        missing = missing_assets()
        if missing:
            return HTMLResponse(MISSING.format(missing=", ".join(missing)), status_code=503, headers=HEADERS)
        return HTMLResponse((STATIC / "index.html").read_text("utf-8"), headers=HEADERS)

    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.mount("/dashboard/vendor", StaticFiles(directory=VENDOR, check_dir=False), name="dashboard-vendor")
