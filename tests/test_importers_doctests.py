"""The examples in the importers' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["paxsilica.countries", "paxsilica.importers", "paxsilica.importers._common", "paxsilica.importers.usgs",
           "paxsilica.importers.wmd", "paxsilica.importers.wgi", "paxsilica.importers.baci",
           "paxsilica.importers.epoch", "paxsilica.importers.cset", "paxsilica.importers.firms"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
