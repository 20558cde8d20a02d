"""Write the model's backtest results into docs/backtests.md (between the model markers).

    python scripts/backtest_table.py [--bands 32]

Runs :func:`paxsilica.backtest.run_backtests` on the bundled atlas and replaces the block between
``<!-- model:begin -->`` and ``<!-- model:end -->`` with a table: each check, its range, the model's
central value, its band and the verdict, stamped with the date, the atlas version and the code version.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "backtests.md"
BEGIN, END = "<!-- model:begin -->", "<!-- model:end -->"


def _n(v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{float(v):.2f}"  # type: ignore[arg-type]


def table_markdown(bands: int) -> str:
    from paxsilica.atlas import bundled_atlas
    from paxsilica.backtest import run_backtests
    from paxsilica.stress import code_version

    atlas = bundled_atlas()
    t = run_backtests(atlas, bands=bands)
    lines = [BEGIN, "",
             f"Model results on the bundled atlas `{atlas.name}` {atlas.version}, code {code_version()}, "
             f"{dt.date.today().isoformat()}; band: 5th–95th percentile over {bands} seeded draws of the "
             "parameter ranges (`paxsilica backtest` prints the same table). "
             f"**{int(t['ok'].sum())} of {len(t)} checks in range.**", "",
             "| scenario | check | kind | range | model | band | verdict |", "|---|---|---|---|---|---|---|"]
    for r in t.itertuples(index=False):
        check = r.of if r.measure == "loss_pct" else f"{r.of} {r.measure}"
        lines.append(f"| `{r.scenario}` | {check} | {r.kind} | {_n(r.min)}–{_n(r.max)} | {_n(r.model)} | "
                     f"{_n(r.band_low)}–{_n(r.band_high)} | {'in' if r.ok else '**out**'} |")
    lines += ["", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bands", type=int, default=32)
    args = ap.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        print(f"{DOC}: markers {BEGIN} / {END} not found", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + table_markdown(args.bands) + tail
    fd, tmp = tempfile.mkstemp(prefix=".backtests.", dir=DOC.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(new)
    os.chmod(tmp, 0o644)
    os.replace(tmp, DOC)
    print(f"written: {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
