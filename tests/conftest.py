"""Shared fixtures: tiny atlases whose answers are known by hand, and the shared reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from paxsilica.atlas import Atlas

# CI explores a fixed, reproducible set of examples (a red CI run can be replayed); locally every run
# draws new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def tiny_frames() -> dict[str, pd.DataFrame]:
    """A two-stage chain: ore (CHN 60 %, AUS 40 %) → chip (TWN 100 %) → datacentre (USA 100 %).

    Knocking out CHN's ore loses 60 % of the chip and, since the data centre needs the chip
    entirely, 60 % of the data-centre output.
    """
    return {
        "sources": pd.DataFrame(
            {"source": ["test"], "publisher": ["paxsilica tests"], "title": ["hand-made"], "year": [2026],
             "licence": ["CC0"], "kind": ["estimate"]}
        ),
        "countries": pd.DataFrame(
            {"iso3": ["CHN", "AUS", "TWN", "USA", "JPN"],
             "name": ["China", "Australia", "Taiwan", "United States", "Japan"],
             "governance_risk": [5.67, 2.0, 2.6, 2.8, 2.3]}
        ),
        "groups": pd.DataFrame(
            {"group": ["pax_silica", "pax_silica", "pax_silica"], "iso3": ["USA", "AUS", "JPN"],
             "joined": ["2025-12-12", "2025-12-12", "2025-12-12"], "source": ["test"] * 3}
        ),
        "items": pd.DataFrame(
            {"item": ["ore", "chip", "datacentre"], "name": ["Ore", "Chip", "Data centre"],
             "stage": ["raw_material", "fabrication", "infrastructure"], "unit": ["t", "units", "MW"]}
        ),
        "production": pd.DataFrame(
            {"item": ["ore", "ore", "chip", "datacentre"], "producer": ["CHN", "AUS", "TWN", "USA"],
             "producer_type": ["country"] * 4, "year": [2023] * 4, "share": [60.0, 40.0, 100.0, 100.0],
             "source": ["test"] * 4}
        ),
        "recipes": pd.DataFrame(
            {"item": ["chip", "datacentre"], "input": ["ore", "chip"], "dependent_share": [1.0, 1.0],
             "rationale": ["chips need ore", "data centres need chips"], "source": ["test", "test"]}
        ),
    }


@pytest.fixture
def tiny_atlas() -> Atlas:
    """The two-stage chain of :func:`tiny_frames` as an Atlas."""
    return Atlas.from_frames(tiny_frames(), name="tiny")


def require_shared(path: Path = SHARED_DATA) -> Path:
    """``path`` inside the shared reference data; skip where it is absent, but fail in CI (CI has it)."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared reference data not found at {path}")
        pytest.skip(f"shared reference data not found at {path}")
    return path


@pytest.fixture
def shared_data() -> Path:
    """The real public reference data beside the project (``../shared/data``)."""
    return require_shared(SHARED_DATA)


@pytest.fixture(scope="module")
def bundled():  # type: ignore[no-untyped-def]
    """The Monte Carlo model of the bundled atlas's default target (365 days) and the default catalogue."""
    from paxsilica.atlas.io import bundled_atlas
    from paxsilica.montecarlo import load_catalogue
    from paxsilica.montecarlo.model import TargetModel

    cat = load_catalogue()
    return TargetModel(bundled_atlas(), "ai_datacenter_capacity", cat, 365, inventory_days=15.0, tau_days=6.0), cat
