"""Monte Carlo risk: seeded years of events from a hazard catalogue, run through the stress model.

- :mod:`~paxsilica.montecarlo.catalogue`: the hazard catalogue (YAML, errors naming file, line, field);
- :mod:`~paxsilica.montecarlo.draw`: each draw's events from its own seed, and the shocks they cause;
- :mod:`~paxsilica.montecarlo.model`: events → the engine's schedules → one batched engine call → losses;
- :mod:`~paxsilica.montecarlo.risk`: expected loss, VaR, ES, exceedance, Euler allocation, standard errors;
- :mod:`~paxsilica.montecarlo.run`: batches in process or on Dask, the tail's drivers, the result;
- :mod:`~paxsilica.montecarlo.record`: the run folder (Parquet, DuckDB, JSON, HTML) and :func:`load_run`;
- :mod:`~paxsilica.montecarlo.briefing`: the briefing's "Risk" section.

Shells call :mod:`paxsilica.services.montecarlo`, not this package. The method is in docs/montecarlo.md.
"""

from .catalogue import Catalogue, Hazard, default_catalogue_path, load_catalogue, parse_catalogue
from .record import MonteCarloRun, load_run, save_run
from .run import MonteCarloResult, run_montecarlo

__all__ = ["Catalogue", "Hazard", "MonteCarloResult", "MonteCarloRun", "default_catalogue_path", "load_catalogue",
           "load_run", "parse_catalogue", "run_montecarlo", "save_run"]
