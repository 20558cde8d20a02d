"""Risk measures of a discrete loss distribution: expectation, value-at-risk and CVaR.

``CVaR_α(L) = min_η η + E[(L − η)⁺] / (1 − α)`` (Rockafellar & Uryasev 2000); the minimum is reached
at ``η = VaR_α``, the smallest loss ``l`` with ``P(L ≤ l) ≥ α``. At ``α = 0`` CVaR is the expectation,
as ``α → 1`` it tends to the worst loss (``α = 1`` is taken as the worst loss).

Examples
--------
>>> import numpy as np
>>> L = np.array([0.0, 0.1, 0.2, 0.5])
>>> var(L, alpha=0.75), cvar(L, alpha=0.75), cvar(L, alpha=0.0), cvar(L, alpha=1.0)
(0.2, 0.5, 0.2, 0.5)
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["check_alpha", "cvar", "expectation", "var"]

_EPS = 1e-12


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float in [0, 1], else :class:`~paxsilica.errors.InputError`."""
    a = float(alpha)
    if not 0.0 <= a <= 1.0 or a != a:
        raise InputError(f"alpha must be in [0, 1], got {alpha}", column="alpha")
    return a


def _p(losses: np.ndarray, prob: np.ndarray | None) -> np.ndarray:
    if prob is None:
        return np.full(len(losses), 1.0 / len(losses))
    p = np.asarray(prob, float)
    return p / p.sum()


def expectation(losses: np.ndarray, prob: np.ndarray | None = None) -> float:
    """Probability-weighted mean loss."""
    losses = np.asarray(losses, float)
    return float(np.dot(_p(losses, prob), losses))


def var(losses: np.ndarray, alpha: float, prob: np.ndarray | None = None) -> float:
    """Value-at-risk: the smallest loss ``l`` with ``P(L ≤ l) ≥ α``."""
    losses = np.asarray(losses, float)
    a = check_alpha(alpha)
    p = _p(losses, prob)
    order = np.argsort(losses, kind="stable")
    cum = np.cumsum(p[order])
    k = int(np.searchsorted(cum, a - _EPS, side="left"))
    return float(losses[order][min(k, len(losses) - 1)])


def cvar(losses: np.ndarray, alpha: float, prob: np.ndarray | None = None) -> float:
    """Conditional value-at-risk at level ``α`` (mean of the worst ``1 − α`` of the distribution)."""
    losses = np.asarray(losses, float)
    a = check_alpha(alpha)
    if a >= 1.0 - _EPS:
        return float(losses.max())
    p = _p(losses, prob)
    v = var(losses, a, p)
    return float(v + np.dot(p, np.maximum(losses - v, 0.0)) / (1.0 - a))
