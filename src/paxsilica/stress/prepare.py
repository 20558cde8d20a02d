"""Prepare: atlas + scenario → what one engine run needs (site index, network, compiled schedules, draws).

:class:`Prepared` holds the network of one atlas for one (target, consumers, year) and is shared by
every scenario run on it; :meth:`Prepared.job` checks nothing, it compiles one scenario on that network
into a :class:`Job` (the unit the runner executes, in this process or in a worker).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from ..errors import InputError, ValidationError
from ..network.build import SiteIndex, build_index, lead_steps, to_supply_network
from ..scenarios.compile import CompiledScenario, compile_scenario
from ..scenarios.schema import Scenario, check_against_atlas


@dataclass(frozen=True)
class Job:
    """One scenario compiled on a prepared network: what the runner executes.

    ``draws`` are the band draws of the network's parameters (``None``: the central values only).
    """

    scenario: Scenario
    net: Any
    index: SiteIndex
    comp: CompiledScenario
    draws: Any = None


class Prepared:
    """The network of one atlas for one (target, consumers, year), shared by the scenarios run on it.

    The site index is built once (with one-day steps); other step lengths only change the links' lead
    times in steps (:func:`paxsilica.network.build.lead_steps` of the same lane days), and a scenario's
    surge capacity only the engine network's default headroom, so both are derived, not rebuilt.
    """

    def __init__(self, atlas: Any, *, target: str, consumers: Any, year: int | None,
                 lanes: pd.DataFrame | None, version: str | None = None) -> None:
        self.atlas = atlas
        self.version = str(getattr(atlas, "version", "")) if version is None else version
        self.target = target
        self._args = {"target": target, "consumers": consumers, "year": year, "lanes": lanes}
        self._index: dict[int, SiteIndex] = {}
        self._net: dict[tuple[int, float | None], Any] = {}
        self._draws: dict[tuple, Any] = {}

    def index(self, step_days: int) -> SiteIndex:
        if step_days not in self._index:
            if not self._index:
                self._index[1] = build_index(self.atlas, step_days=1, atlas_version=self.version, **self._args)
            base = self._index[1]
            if step_days not in self._index:
                links = base.links.assign(lead_steps=lead_steps(base.links["lead_days"].to_numpy(dtype=float),
                                                                step_days))
                self._index[step_days] = replace(base, links=links, step_days=step_days)
        return self._index[step_days]

    def network(self, step_days: int, surge_capacity: float | None) -> tuple[Any, SiteIndex]:
        index = self.index(step_days)
        key = (step_days, surge_capacity)
        if key not in self._net:
            self._net[key] = to_supply_network(index, surge_capacity=surge_capacity)
        return self._net[key], index

    def draws(self, step_days: int, surge_capacity: float | None, n: int, seed: int) -> Any:
        """Band draws of the network's parameters (shared by every scenario on it)."""
        from ..bands import make_draws

        key = (step_days, surge_capacity, n, seed)
        if key not in self._draws:
            net, index = self.network(step_days, surge_capacity)
            self._draws[key] = make_draws(index, net, n, seed)
        return self._draws[key]

    def job(self, scenario: Scenario, *, steps: int | None, lanes_under: Any, inventory_days: float,
            bands: int = 0, seed: int | None = None) -> Job:
        """Compile ``scenario`` on this network (with ``bands`` draws when asked) into a :class:`Job`."""
        net, index = self.network(scenario.step, scenario.policies.surge_capacity)
        comp = compile_scenario(scenario, net, index, self.atlas, steps=steps, lanes_under=lanes_under,
                                inventory_days=inventory_days)
        draws = None
        if bands:
            draws = self.draws(scenario.step, scenario.policies.surge_capacity, int(bands), band_seed(seed))
        return Job(scenario, net, index, comp, draws)


def band_seed(seed: int | None) -> int:
    """The seed of the band draws (default :data:`paxsilica.bands.DEFAULT_SEED`)."""
    from ..bands import DEFAULT_SEED

    return DEFAULT_SEED if seed is None else int(seed)


def check_fit(scenario: Scenario, atlas: Any) -> None:
    """Raise :class:`ValidationError` when the scenario names what the atlas does not have."""
    problems = check_against_atlas(scenario, atlas)
    if problems:
        raise ValidationError(problems, f"scenario {scenario.file} does not fit atlas {getattr(atlas, 'name', '')}")


def check_parameters(inventory_days: float, tau_days: float) -> None:
    """Refuse an inventory under one day or a non-positive adjustment time (:class:`InputError`)."""
    if not (inventory_days >= 1 and math.isfinite(inventory_days)) or not (tau_days > 0 and math.isfinite(tau_days)):
        raise InputError("inventory days must be at least 1 (a client consumes a day's need from the stock it "
                         f"held before the day's deliveries) and tau > 0; got {inventory_days:g} and {tau_days:g}")
