"""``paxsilica sim``: run the simulation engine on users' own data.

``paxsilica sim generate --firms N --links M [--seed S] [--shocks K] --out DIR`` draws a seeded
synthetic multi-tier firm network (:mod:`paxsilica.sim.generate`) and writes it in those formats.

``paxsilica sim firms LINKS FINAL_DEMAND INITIAL SECTORS --out DIR`` reads the reference simulator's
text formats (docs/engine.md) and writes ``production.txt``, ``value_added.txt`` and ``final_demand.txt``
(``t value`` per line from t = -1, ``%.17g``), plus ``firm_production.txt`` with ``--per-firm``.
"""

from __future__ import annotations

import json
import math
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError

# The engine, the text readers and the generator are imported inside the commands: `paxsilica sim
# firms` is timed as a whole process (interpreter start included), and `--help` needs none of them.
MAX_HORIZON_DAYS = 7_305
"""At most 20 years of days (the same bound as ``paxsilica.scenarios.schema.MAX_HORIZON_DAYS``,
repeated here so that the command does not import the scenario schema; a test keeps them equal)."""

app = typer.Typer(help="Simulate shock propagation in production networks.", no_args_is_help=True)


@app.callback()
def _sim() -> None:
    """Simulate shock propagation in production networks (docs/engine.md)."""


class RationingChoice(StrEnum):
    """Rationing rule of short suppliers."""

    proportional = "proportional"
    priority = "priority"


class ArithmeticChoice(StrEnum):
    """Arithmetic of the run."""

    relative = "relative"
    reference = "reference"




def _check_memory(n_firms: int, n_links: int, steps: int, per_firm: bool) -> None:
    """Refuse a run whose arrays would not fit in this machine's memory, with the numbers.

    The estimate counts the engine's state (about 40 arrays the size of the links and 40 the size of
    the firms, 8 bytes each, from the step's passes in :func:`paxsilica.sim.simulate`) and, with
    ``--per-firm``, the three recorded firm series (steps + 1 rows each).
    """
    need = 8 * (40 * n_links + 40 * n_firms) + (8 * 3 * (steps + 1) * n_firms if per_firm else 0)
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return  # the platform does not say: nothing to compare with
    if need > have:
        raise InputError(f"this run needs about {need / 2**30:.1f} GiB of memory ({n_firms:,} firms, "
                         f"{n_links:,} links, {steps:,} steps{', per firm' if per_firm else ''}); "
                         f"this machine has {have / 2**30:.1f} GiB: use fewer steps or drop --per-firm")


@app.command("firms")
def firms_cmd(
    links: Annotated[Path, typer.Argument(help="Links file: 'supplier client amount' per line.",
                                          show_default=False)],
    final_demand: Annotated[Path, typer.Argument(help="Final demand file: 'firm amount'.", show_default=False)],
    initial: Annotated[Path, typer.Argument(help="Initial production file: 'firm amount' (checked, not used).",
                                            show_default=False)],
    sectors: Annotated[Path, typer.Argument(help="Sectors file: 'firm sector sales' (sales optional, unused); defines the firms.",
                                            show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for the output series (created).",
                                      show_default=False)],
    shocks: Annotated[Path | None, typer.Option("--shocks", help="Shocks file: 'firm delta day' (day optional, default 0).",
                                                show_default=False)] = None,
    steps: Annotated[int, typer.Option("--steps", min=0, max=MAX_HORIZON_DAYS,
                                                  help="Number of steps (at most 20 years of days).")] = 30,
    rationing: Annotated[RationingChoice, typer.Option("--rationing", help="Rationing rule.")] =
        RationingChoice.proportional,
    inventory_days: Annotated[float, typer.Option("--inventory-days", min=0.0, help="Target inventory n (days).")] = 15.0,
    tau: Annotated[float, typer.Option("--tau", help="Inventory adjustment time τ (> 0).")] = 6.0,
    recovery_days: Annotated[float | None, typer.Option(
        "--recovery-days",
        help="Linear recovery over C steps (default: permanent shocks).", show_default=False)] = None,
    per_firm: Annotated[bool, typer.Option("--per-firm", help="Also write firm_production.txt ('t firm value').")] = False,
    arithmetic: Annotated[ArithmeticChoice, typer.Option(
        "--arithmetic", help="relative (exact equilibrium) or reference (the reference simulator's rounding).")] =
        ArithmeticChoice.relative,
) -> None:
    """Run the firm-level engine (Inoue & Todo's model; docs/engine.md) on text files and write the per-step series."""
    from ..fsutil import atomic_write
    from ..sim.engine import simulate
    from ..sim.textio import FirmFiles, read_firm_files, write_firm_production, write_series

    if not math.isfinite(inventory_days):
        raise InputError(f"--inventory-days must be a finite number of days, got {inventory_days}")
    if not (math.isfinite(tau) and tau > 0):
        raise InputError(f"--tau must be a finite number > 0, got {tau}")
    net, shock = read_firm_files(FirmFiles(links, final_demand, initial, sectors, shocks))
    _check_memory(net.n_firms, net.n_links, steps, per_firm)
    result = simulate(net, shock, steps=steps, rationing=rationing.value, inventory_days=inventory_days,
                      tau=tau, recovery_days=recovery_days, record_firms=per_firm,
                      arithmetic=arithmetic.value)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", file=str(out)) from None
    write_series(out / "production.txt", result.step, result.production)
    write_series(out / "value_added.txt", result.step, result.value_added)
    write_series(out / "final_demand.txt", result.step, result.final_demand)
    if per_firm and result.firm_production is not None:
        write_firm_production(out / "firm_production.txt", result.step, net.firm_ids, result.firm_production)
    params = dict(result.parameters, links=str(links), final_demand=str(final_demand),
                  initial_production=str(initial), sectors=str(sectors),
                  shocks=None if shocks is None else str(shocks))
    atomic_write(out / "parameters.json", json.dumps(params, indent=1, default=str) + "\n")
    typer.echo(f"{net.n_firms} firms, {net.n_links} links, {steps} steps: "
               f"production {result.production[0]:.6g} -> {result.production[-1]:.6g}; "
               f"series written to {out}")


@app.command("generate")
def generate_cmd(
    firms: Annotated[int, typer.Option("--firms", min=2, help="Number of firms.", show_default=False)],
    links: Annotated[int, typer.Option("--links", min=1, help="Number of links (distinct, no self-loops).",
                                       show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for the text files (created; files replaced).",
                                      show_default=False)],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed: the same seed gives the same network.")] = 0,
    sectors: Annotated[int, typer.Option("--sectors", min=2, help="Number of sectors (spread over 5 tiers).")] = 50,
    shocks: Annotated[int, typer.Option("--shocks", min=0,
                                        help="Also write shocks.txt: this many firms among the 100 largest "
                                             "lose 30-90 % of capacity from day 0.")] = 0,
) -> None:
    """Draw a seeded synthetic multi-tier firm network and write it in the engine's text formats.

    Heavy-tailed degrees, sectors in tiers, final demand and a country per firm (docs/engine.md,
    "Synthetic networks"); the files are what `paxsilica sim firms` reads.
    """
    from ..sim.generate import generate_network, write_generated

    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder", file=str(out))
    g = generate_network(firms, links, seed=seed, n_sectors=sectors, n_shocks=shocks)
    paths = write_generated(g, out)
    st: dict = g.parameters["stats"]  # type: ignore[assignment]
    run = (f"paxsilica sim firms {paths['links']} {paths['final_demand']} {paths['initial_production']} "
           f"{paths['sectors']}" + (f" --shocks {paths['shocks']}" if "shocks" in paths else "") + " --out OUT")
    typer.echo(f"{firms} firms, {links} links (out-degree max {st['out_degree_max']}, mean "
               f"{st['out_degree_mean']:.2f}; in-degree max {st['in_degree_max']}), seed {seed}: written to {out}\n"
               f"run it: {run}")
