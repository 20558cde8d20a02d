"""paxsilica: security of the supply chains behind AI — map, measure, stress-test and plan.

Examples
--------
>>> import paxsilica
>>> isinstance(paxsilica.__version__, str)
True
"""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # the version is looked up on first use: importlib.metadata costs ~70 ms at every start of the CLI
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("paxsilica")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        v = "0.0.0+unknown"
    globals()["__version__"] = v
    return v
