"""The dashboard's JSON twins: each page's data, through :mod:`paxsilica.services.views`.

The router (``routers/views.py``) authenticates and scopes; this module builds the service
context (the public atlas, the caller's organisation, the server's ``ServiceStore``) and calls
the services, exactly as :mod:`paxsilica.server.domain` does for the other endpoints.

Examples
--------
>>> v = network(None, org="ministry_a")
>>> len(v["nodes"]) > 20
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..services import views as svc
from . import domain

TOP_ITEMS = 5
"""Most affected items drawn beside the target on a run's chart."""

MC_CACHED = 32
"""Monte Carlo runs whose page data the server keeps per organisation."""


def _ctx(atlas_path: str | None, org: str | None) -> Any:
    # the public views are the same for every organisation: one cache for all (org=None); only a
    # run's series, which may use an organisation's uploads, is kept per organisation
    del org
    domain.public_atlas(atlas_path)  # validated once per version; an invalid one is refused here
    return domain.context(path=atlas_path, org=None)


def overview(atlas_path: str | None, org: str | None, coalition: str | None = None) -> dict[str, Any]:
    """Coverage by stage and top dependencies per tier (the router adds the latest runs)."""
    return svc.overview(_ctx(atlas_path, org), coalition or DEFAULT_COALITION)


def item(atlas_path: str | None, org: str | None, item_id: str, coalition: str | None = None) -> dict[str, Any]:
    """One item's map, producers and dependencies."""
    return svc.item_view(_ctx(atlas_path, org), item_id, coalition or DEFAULT_COALITION)


def network(atlas_path: str | None, org: str | None, coalition: str | None = None) -> dict[str, Any]:
    """The supply graph."""
    return svc.network_view(_ctx(atlas_path, org), coalition or DEFAULT_COALITION)


def chokepoints(atlas_path: str | None, org: str | None, closed: str | None) -> dict[str, Any]:
    """Lanes, chokepoints and a closure's effect."""
    return svc.chokepoints_view(_ctx(atlas_path, org), closed)


def backtests(atlas_path: str | None, org: str | None) -> dict[str, Any]:
    """Model against observed for the reference events."""
    return svc.backtests_view(_ctx(atlas_path, org))


def world() -> dict[str, Any]:
    """Country shapes (pre-projected SVG paths)."""
    return svc.world()


def run_series(atlas_path: str | None, org: str | None, run_id: str, params: dict[str, Any],
               scenario_yaml: str, uploads: list[tuple[str, Path]]) -> dict[str, Any]:
    """Per-step series of a finished run (target and the most affected items), for its chart.

    The stored result holds the run's tables but not its per-step series; the series are
    recomputed here, at central values, with the run's own scenario, uploads and parameters (the
    engine is deterministic, so they are the run's central series), once per run, and kept in
    the organisation's cache (a few kB a run). The band shown with them is the stored run's.
    """
    from ..scenarios import parse_scenario
    from ..services import stress as stress_service

    public = domain.public_atlas(atlas_path)
    atlas = domain.overlay(public, uploads)
    ctx = domain.context(atlas if uploads else None, org=org, path=None if uploads else atlas_path)
    cache = ctx.cache("views.run_series")
    if run_id in cache:
        return cache[run_id]
    scenario = parse_scenario(scenario_yaml, file=f"{params.get('scenario', 'scenario')}.yaml")
    req = stress_service.StressRequest(scenario, target=params.get("target") or DEFAULT_TARGET,
                                       steps=params.get("steps"), for_country=params.get("for_country"))
    run = stress_service.run_stress(req, ctx).run
    cache[run_id] = out = svc.run_series(run, TOP_ITEMS)
    return out


def run_lanes(atlas_path: str | None, org: str | None, scenario_yaml: str, name: str) -> dict[str, Any]:
    """The lanes a run's scenario touches (rerouted, cut, blocked), on the public atlas's lanes."""
    from ..scenarios import parse_scenario

    scenario = parse_scenario(scenario_yaml, file=f"{name or 'scenario'}.yaml")
    return svc.run_lanes(_ctx(atlas_path, org), scenario)


def montecarlo(files_dir: Path, org_id: int, run_id: str, stored: dict[str, Any], sha: str | None) -> dict[str, Any]:
    """A finished Monte Carlo run's page data, read from its run folder once per run (and result
    hash) and kept in the server's cache (a folder of 100,000 draws takes a second to read)."""
    from .runs import montecarlo_folder

    # not tied to an atlas version: a run's folder never changes once its row is done
    cache = domain.STORE.cache("runs", f"org:{org_id}", "views.montecarlo")
    key = (run_id, sha)
    if key not in cache:
        while len(cache) >= MC_CACHED:  # bounded: the oldest run read goes first
            cache.pop(next(iter(cache)), None)
        cache[key] = svc.montecarlo_view(montecarlo_folder(files_dir, org_id, run_id), stored)
    return cache[key]


def plan(stored: dict[str, Any]) -> dict[str, Any]:
    """A finished plan's page data (the stored result, shaped; never re-solved)."""
    return svc.plan_view(stored)
