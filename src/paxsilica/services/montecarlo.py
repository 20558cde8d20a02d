"""Monte Carlo service: a loss distribution from a hazard catalogue, what the shells call.

:func:`run_montecarlo` checks the request (targets known to the atlas, the catalogue's names known to
it, sane numbers), runs :func:`paxsilica.montecarlo.run_montecarlo` (in process, on a LocalCluster or on
an existing Dask cluster) and, with ``out``, writes the run folder
(:func:`paxsilica.montecarlo.save_run`). :func:`catalogue_table` lists a catalogue's hazards. Nothing
here prints.

Examples
--------
>>> from paxsilica.services.context import ServiceContext
>>> t = catalogue_table(CatalogueRequest(), ServiceContext(validate=False))
>>> "taiwan_blockade" in t.table["hazard"].tolist()
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..constants import DEFAULT_TARGET
from ..montecarlo import load_catalogue
from ..montecarlo.catalogue import Catalogue, validate_catalogue
from ..montecarlo.record import check_out_dir, run_json, save_run
from ..montecarlo.run import (
    DEFAULT_BATCH,
    DEFAULT_DRAWS,
    DEFAULT_HORIZON_DAYS,
    DEFAULT_LEVELS,
    DEFAULT_SEED,
    DEFAULT_THRESHOLDS,
    MonteCarloResult,
)
from ..serialize import records
from .context import ServiceContext
from .results import TableResult

__all__ = ["CatalogueRequest", "MonteCarloRequest", "MonteCarloResponse", "catalogue_table", "run_montecarlo"]


@dataclass(frozen=True)
class MonteCarloRequest:
    """A Monte Carlo run (see :func:`paxsilica.montecarlo.run_montecarlo` for the fields).

    ``catalogue``: a YAML path (default: the bundled catalogue); ``out``: the folder to write (none:
    nothing written); ``force``: replace a folder that is not a previous run.
    """

    draws: int = DEFAULT_DRAWS
    catalogue: str | Path | None = None
    seed: int = DEFAULT_SEED
    horizon_days: int = DEFAULT_HORIZON_DAYS
    targets: tuple[str, ...] = (DEFAULT_TARGET,)
    levels: tuple[float, ...] = DEFAULT_LEVELS
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    workers: int | None = None
    scheduler: str | None = None
    batch_size: int = DEFAULT_BATCH
    out: str | Path | None = None
    force: bool = False


@dataclass(frozen=True)
class MonteCarloResponse:
    """The run's result and, when written, its folder."""

    result: MonteCarloResult
    folder: Path | None = None

    @property
    def complete(self) -> bool:
        return self.result.complete

    def tables(self) -> dict[str, pd.DataFrame]:
        r = self.result
        return {"summary": r.summary, "contributions": r.contributions, "losses": r.losses, "events": r.events}

    def to_record(self) -> dict[str, Any]:
        r = self.result
        return {"run": run_json(r), "folder": None if self.folder is None else str(self.folder),
                "summary": records(r.summary), "contributions": records(r.contributions)}


def _catalogue(ctx: ServiceContext, path: str | Path | None) -> Catalogue:
    """The catalogue, read once per (file content) and context."""
    cache = ctx.cache("montecarlo.catalogue")
    key = None if path is None else str(Path(path).resolve())
    cat = load_catalogue(path)
    hit = cache.get(key)
    if hit is not None and hit.sha256 == cat.sha256:
        return hit
    cache[key] = cat
    return cat


def run_montecarlo(req: MonteCarloRequest, ctx: ServiceContext,
                   progress: Callable[[int, int], None] | None = None) -> MonteCarloResponse:
    """Run the Monte Carlo of ``req`` on the context's atlas (and write ``req.out``).

    Raises
    ------
    NotFoundError
        A target the atlas does not have (with close matches).
    ValidationError
        The catalogue is not valid, or names what the atlas does not have (file, line and field).
    InputError
        Bad numbers, an unreachable scheduler, an output folder that is not a run.
    """
    from ..metrics._common import did_you_mean
    from ..montecarlo import run_montecarlo as model_run

    atlas = ctx.atlas()
    items = set(atlas["items"]["item"].dropna().astype(str))
    for t in req.targets:
        if t not in items:
            raise did_you_mean(t, sorted(items), "target item")
    cat = validate_catalogue(_catalogue(ctx, req.catalogue), atlas)
    if req.out is not None:
        check_out_dir(req.out, force=req.force)
    inline = req.workers is None and not req.scheduler
    result = model_run(atlas, cat, draws=req.draws, seed=req.seed, horizon_days=req.horizon_days,
                       targets=req.targets, levels=req.levels, thresholds=req.thresholds,
                       batch_size=req.batch_size, workers=req.workers, scheduler=req.scheduler,
                       atlas_version=ctx.atlas_version(), progress=progress,
                       cache=ctx.cache("montecarlo.models") if inline else None)
    folder = save_run(result, req.out, force=req.force) if req.out is not None else None
    return MonteCarloResponse(result, folder)


@dataclass(frozen=True)
class CatalogueRequest:
    """A hazard catalogue to list (default: the bundled one)."""

    catalogue: str | Path | None = None


def catalogue_table(req: CatalogueRequest, ctx: ServiceContext) -> TableResult:
    """The catalogue's hazards: kind, rate or probability and range, duration and severity, source."""
    cat = _catalogue(ctx, req.catalogue)
    return TableResult(cat.table(), title=f"hazard catalogue {cat.name}", meta={"file": cat.file,
                                                                               "sha256": cat.sha256})
