"""Time-to-survive service: the ``paxsilica tts`` table of every (item, producer) node.

Examples
--------
>>> from paxsilica.services import ServiceContext
>>> res = time_to_survive(ServiceContext(), TtsRequest(ttr_days=30))
>>> int(res.table["rank"].iloc[0]), res.meta["target"]
(1, 'ai_datacenter_capacity')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from ..atlas import Atlas
from ..constants import DEFAULT_TARGET
from ..errors import InputError
from .context import ServiceContext
from .results import TableResult

__all__ = ["TTS_COLUMNS", "TtsRequest", "time_to_survive", "tts_report"]

TTS_COLUMNS = ["rank", "item", "producer", "share", "tts_days", "sustainable_fraction", "ttr_days",
               "impact_days", "lost_share", "rei", "stock_days", "stock_note"]
"""Columns of the time-to-survive table, in order."""


@dataclass(frozen=True)
class TtsRequest:
    """What to compute: see :func:`paxsilica.optimize.atlas_tts` for the model.

    Attributes
    ----------
    target : str
        Item whose baseline output is the demand.
    ttr_days : float
        Time-to-recover of every node, days.
    spare_capacity : float
        Spare capacity of every node, fraction of its baseline (what-if).
    stock_days : float
        Days of cover assumed for items without stock data.
    item : str, optional
        Keep only the nodes of this item (ranks stay those of the whole network).
    """

    target: str = DEFAULT_TARGET
    ttr_days: float = 30.0
    spare_capacity: float = 0.0
    stock_days: float = 0.0
    item: str | None = None


def tts_report(atlas: Atlas, target: str = DEFAULT_TARGET, ttr_days: float = 30.0, *,
               spare_capacity: float = 0.0, stock_days: float = 0.0, item: str | None = None) -> pd.DataFrame:
    """The time-to-survive table of ``atlas`` (``attrs["notes"]``: the adapter's assumptions).

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> df = tts_report(bundled_atlas(), ttr_days=30)
    >>> int(df["rank"].iloc[0])
    1
    """
    from ..optimize.atlas_tts import atlas_tts  # scipy.optimize loads only when this runs

    df = atlas_tts(atlas, target, ttr_days, spare_capacity=spare_capacity, default_stock_days=stock_days)
    notes = df.attrs.get("notes", [])
    if item is not None:
        df = df[df["item"] == item].reset_index(drop=True)
    out = df[TTS_COLUMNS]
    out.attrs["notes"] = list(notes)
    return out


def time_to_survive(ctx: ServiceContext, req: TtsRequest) -> TableResult:
    """Time-to-survive, impact over the time-to-recover and risk exposure of every node.

    Unknown target or item ids raise :class:`~paxsilica.errors.NotFoundError` with suggestions.
    """
    from ..metrics._common import did_you_mean, require_item

    atlas = ctx.atlas()
    known_items = set(atlas["items"]["item"].dropna().astype(str))
    if req.target not in known_items:
        raise did_you_mean(req.target, known_items, "target item")
    if req.item is not None:
        require_item(atlas, req.item)
    if req.ttr_days < 0:
        raise InputError(f"time-to-recover must be >= 0 days, got {req.ttr_days}")
    df = tts_report(atlas, req.target, req.ttr_days, spare_capacity=req.spare_capacity,
                    stock_days=req.stock_days, item=req.item)
    return TableResult(df, title=f"Time-to-survive / time-to-recover: {req.target}, TTR {req.ttr_days:g} days",
                       notes=tuple(df.attrs.get("notes", [])), meta=asdict(req))
