"""paxsilica: security of the supply chains behind AI — map, measure, stress-test and plan.

Examples
--------
>>> import paxsilica
>>> isinstance(paxsilica.__version__, str)
True
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paxsilica")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
