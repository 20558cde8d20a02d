"""Uncertainty bands: a seeded sample of the stress model's parameter ranges, run as one engine batch.

Every parameter of the atlas ``dynamics`` table (inventories, outside shares, spare capacity,
ramp-up, substitution), every recipe ``dependent_share`` range and every power-mix range is drawn
from a triangular distribution on its low–high range with the central value as mode (draw 0 is the
central values, so the central result is one of the draws). The draws share the network's topology:
each draw's link amounts, final demands (outside uses), stocks, spare capacity, ramp times and
substitution become one row of a batched :func:`paxsilica.sim.simulate` call.

The band of a measure is its 5th–95th percentile over the draws; the parameters that drive it most
are those whose draws have the largest rank correlation (Spearman) with it, among those significant at
the 5 % level after a Bonferroni correction for the number of parameters drawn.

``low_value_share`` is held at its central value: it sets how each site's outside demand divides into
priority classes, which the engine takes once per batch.

Examples
--------
>>> band([1.0, 2.0, 3.0, 4.0, 5.0])
(1.2, 4.8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .network.build import SiteIndex, attach_link_dynamics, attach_site_dynamics, index_flows

DEFAULT_DRAWS = 32
"""Draws per band besides the central one (the issue's minimum is 32)."""
DEFAULT_SEED = 20260101
BAND_PERCENTILES = (5.0, 95.0)
DRIVER_ALPHA = 0.05
"""Significance level of a driver, Bonferroni-corrected for the number of parameters drawn."""
FIXED_PARAMETERS = frozenset({"low_value_share"})
"""Parameters held at their central value in bands (see the module docstring)."""


def band(values: Sequence[float]) -> tuple[float, float]:
    """The 5th and 95th percentiles of a measure over the draws."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if v.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(v, BAND_PERCENTILES)
    return (float(lo), float(hi))


@dataclass(frozen=True)
class Draws:
    """Per-draw engine inputs on one network (rows: draws; draw 0 is the central values).

    Attributes
    ----------
    draws : list of dict
        Parameter key -> value of each draw (keys as :class:`paxsilica.network.dynamics.Dynamics`).
    amounts : array (B, m)
        Link amounts in the engine's canonical link order.
    final_demand, baseline : arrays (B, n)
        Final demand (target, operation, outside uses) and baseline output per site.
    inventory_days, substitution, substitution_days : arrays (B, m) in days (NaN stock: run default)
    headroom, ramp_days : arrays (B, n) (NaN: the scenario's or the default)
    """

    draws: list[dict]
    amounts: np.ndarray
    final_demand: np.ndarray
    baseline: np.ndarray
    inventory_days: np.ndarray
    substitution: np.ndarray
    substitution_days: np.ndarray
    headroom: np.ndarray
    ramp_days: np.ndarray

    @property
    def n(self) -> int:
        return len(self.draws)

    def keys(self) -> list[tuple]:
        """Parameters that vary across the draws."""
        return list(self._ranked[0])

    @cached_property
    def _ranked(self) -> tuple[tuple[tuple, ...], np.ndarray]:
        # the varying parameters and their draws' ranks, made once: every scenario's drivers use them
        # (the draws are shared by all scenarios of a library run)
        if not self.draws:
            return (), np.zeros((0, 0))
        keys = tuple(k for k in self.draws[0] if len({round(float(d[k]), 12) for d in self.draws}) > 1)
        ranks = np.empty((len(keys), len(self.draws)))
        for j, k in enumerate(keys):
            ranks[j] = pd.Series(np.array([d[k] for d in self.draws], float)).rank().to_numpy()
        return keys, ranks


def make_draws(index: SiteIndex, network: Any, n_draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED) -> Draws:
    """``n_draws`` seeded draws (plus the central one) of every uncertain parameter of an index."""
    # the drivers' p-values need scipy.special: imported here, before the stress workers are forked from
    # this process, so that they inherit it instead of each importing it
    import scipy.special  # noqa: F401
    extra = {k: v for k, v in index.ranges.items()}
    draws = index.dynamics.draws(n_draws + 1, seed, extra=extra)
    draws = [{k: v for k, v in d.items() if k[1] not in FIXED_PARAMETERS} for d in draws]
    links, sites = index.links, index.sites
    canon = network.link_positions(links["link"].to_numpy(np.int64)) if len(links) else np.zeros(0, np.int64)
    m, n = network.n_links, len(sites)
    B = len(draws)
    amounts = np.empty((B, m))
    final = np.empty((B, n))
    base = np.empty((B, n))
    inv = np.empty((B, m))
    sub = np.empty((B, m))
    subd = np.empty((B, m))
    head = np.empty((B, n))
    ramp = np.empty((B, n))
    for b, d in enumerate(draws):
        f = index_flows(index, d if b else None)
        amounts[b, canon] = f.amount
        final[b] = f.final_demand
        base[b] = f.baseline
        dyn = index.dynamics.with_overrides(d) if b else index.dynamics
        ld = attach_link_dynamics(links, dyn, index.local_items) if b else links
        sd = attach_site_dynamics(sites, dyn) if b else sites
        inv[b, canon] = ld["inventory_days"].to_numpy(float)
        sub[b, canon] = ld["substitution"].to_numpy(float)
        subd[b, canon] = ld["substitution_days"].to_numpy(float)
        head[b] = sd["capacity_headroom"].to_numpy(float)
        ramp[b] = sd["ramp_days"].to_numpy(float)
    out = Draws(draws, amounts, final, base, inv, sub, subd, head, ramp)
    out._ranked  # noqa: B018  (made here once, inherited by the forked workers)
    return out


def batched_extensions(ext: Any, draws: Draws, *, step_days: int, inventory_days: float,
                       surge_capacity: float | None, ramp_up_days: int | None, virtual: np.ndarray) -> Any:
    """The compiled scenario's extensions with every drawn parameter as a (B, ·) array."""
    from .scenarios.compile import DEFAULT_RAMP_DAYS

    inv = np.where(np.isnan(draws.inventory_days), inventory_days, draws.inventory_days)
    inv = np.maximum(inv / step_days, 1.0)
    head = np.where(np.isnan(draws.headroom), surge_capacity or 0.0, draws.headroom)
    head = np.where(virtual[None, :], 0.0, head)
    if ramp_up_days is None:
        ramp_d = np.where(np.isnan(draws.ramp_days), DEFAULT_RAMP_DAYS, draws.ramp_days)
    else:
        ramp_d = np.full(draws.ramp_days.shape, float(ramp_up_days))
    ramp = np.maximum(np.ceil(ramp_d / step_days - 1e-9), 0).astype(np.int64)
    sub = draws.substitution if np.any(draws.substitution > 0) else None
    subd = np.maximum(draws.substitution_days / step_days, 1.0) if sub is not None else ext.substitution_days
    return replace(ext, inventory_days=inv, capacity_headroom=head, ramp_days=ramp, substitution=sub,
                   substitution_days=subd)


def drivers(draws: Draws, values: Sequence[float], top: int = 3) -> list[dict[str, Any]]:
    """The parameters whose draws correlate most (Spearman rank) with a measure over the draws.

    With hundreds of parameters some correlate by chance, so a parameter is named only when its
    correlation is significant at the 5 % level after a Bonferroni correction for the number of
    parameters drawn (about |rho| >= 0.65 for 33 draws and 400 parameters).
    """
    from statistics import NormalDist

    y = np.asarray(values, float)
    keys, ranks = draws._ranked
    if y.size < 4 or not np.all(np.isfinite(y)) or np.ptp(y) <= 1e-9 or not keys:
        return []
    ry = pd.Series(y).rank().to_numpy()
    n = y.size
    alpha = DRIVER_ALPHA / len(keys)
    # Student's t has heavier tails than the normal: |t| at or below the normal's critical value means
    # p >= alpha, so the exact p (scipy) is computed only for the few parameters above it
    z_crit = NormalDist().inv_cdf(1.0 - alpha / 2.0) * (1.0 - 1e-9)
    out = []
    for k, rx in zip(keys, ranks, strict=True):
        if np.ptp(rx) == 0:
            continue
        rho = float(np.corrcoef(rx, ry)[0, 1])
        if not np.isfinite(rho) or abs(rho) >= 1.0:
            p = 0.0 if np.isfinite(rho) else 1.0
        else:
            t = rho * np.sqrt((n - 2) / (1.0 - rho * rho))
            if abs(t) <= z_crit:
                continue
            # what scipy.stats.t.sf computes, without importing scipy.stats
            from scipy.special import stdtr

            p = float(2.0 * stdtr(n - 2, -abs(t)))
        if p < alpha:
            out.append({"parameter": describe_key(k), "rho": rho, "p": p})
    out.sort(key=lambda r: -abs(r["rho"]))
    return out[:top]


def describe_key(k: tuple) -> str:
    """A parameter key in words, e.g. ``inventory_days of neon (advanced_logic, TWN)``."""
    item, param, client, holder = (list(k) + ["", "", "", ""])[:4]
    where = ", ".join(x for x in (client, holder) if x)
    return f"{param} of {item}" + (f" ({where})" if where else "")
