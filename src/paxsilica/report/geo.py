"""Offline world geometry for the briefing's choropleth maps.

The geometry is Natural Earth 1:110m admin-0 countries (public domain), taken from the npm package
``world-atlas`` 2.0.2 (ISC) and pre-projected into SVG path strings by
``scripts/make_world_geometry.py``. See ``paxsilica/data/geo/SOURCE.txt``.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

# Equal Earth projection (Šavrič, Patterson & Jenny 2018), chosen because areas stay true, which
# matters when a choropleth colours countries by share.
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M = math.sqrt(3) / 2
SCALE = 1000 / (2 * 2.7066297319215575)
"""Pixels per projected unit: the full world (±180°) is 1000 px wide."""


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    """Project degrees to SVG pixels (x right, y down; origin at lon 0, lat 0).

    Examples
    --------
    >>> equal_earth(0.0, 0.0)
    (0.0, -0.0)
    >>> round(equal_earth(180.0, 0.0)[0])
    500
    """
    lam = math.radians(lon)
    theta = math.asin(_M * math.sin(math.radians(lat)))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * math.cos(theta) / (_M * (_A1 + 3 * _A2 * t2 + t6 * (7 * _A3 + 9 * _A4 * t2)))
    y = theta * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))
    return x * SCALE, -y * SCALE


@lru_cache(maxsize=1)
def world_geometry() -> dict[str, Any]:
    """The packaged world geometry: ``{"viewbox": [x, y, w, h], "countries": {iso3: {name, d}}}``.

    Examples
    --------
    >>> "CHN" in world_geometry()["countries"]
    True
    """
    text = resources.files("paxsilica").joinpath("data/geo/world-110m.json").read_text("utf-8")
    return json.loads(text)
