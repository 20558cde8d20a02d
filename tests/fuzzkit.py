"""What the fuzz suites (``tests/test_fuzz_*.py``) share: case budgets, a per-case timeout, the outcome
classifier and the guard that fails a case when the CLI's internal-error handler is reached.

Budgets: with ``CI`` set (CI=true) every suite runs its full, fixed-seed profile (derandomized by
``tests/conftest.py``), more than 2,000 cases in all; locally a tenth of it with fresh random
examples. ``PAXSILICA_FUZZ_SCALE`` multiplies the budgets (e.g. 0.02 for a smoke run, 1 for the CI
profile on a laptop).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from collections.abc import Iterator

from hypothesis import HealthCheck, settings

FULL = bool(os.environ.get("CI"))
SCALE = float(os.environ.get("PAXSILICA_FUZZ_SCALE", "1" if FULL else "0.1"))

CASE_SECONDS = 20.0
"""A case that runs longer than this is a hang (every input here is small)."""

OUTCOMES: Counter[str] = Counter()
"""Every case's outcome by suite and kind (``atlas-csv:error``, ``cli:ok``, ...), printed at the end."""


def budget(full: int) -> settings:
    """Hypothesis settings for a suite whose CI profile runs ``full`` cases."""
    n = max(5, round(full * SCALE))
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


class Hang(Exception):
    """A case did not finish within :data:`CASE_SECONDS`."""


@contextlib.contextmanager
def time_limit(seconds: float = CASE_SECONDS) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread when the block takes longer than ``seconds``.

    SIGALRM interrupts a blocking read too (a FIFO named like a table): Python retries the system
    call after running the handler, and the handler raises.
    """
    def on_alarm(signum, frame):
        raise Hang(f"case still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def record(suite: str, outcome: str) -> None:
    OUTCOMES[f"{suite}:{outcome}"] += 1


def located(message: str, *names: str) -> bool:
    """True when an error message says where: one of ``names`` (a file, an option, a field) appears."""
    low = message.lower()
    return any(n and n.lower() in low for n in names)



def summary() -> str:
    """The outcome counts so far, one line (for a failing case's message or a debugging print)."""
    rows = ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items()))
    return f"fuzz outcomes ({sum(OUTCOMES.values())} cases): {rows}"
