"""The briefing's side processes (report.briefing.Side): the same result or error as computing in place."""

from __future__ import annotations

import os

import pytest

from paxsilica.errors import InputError
from paxsilica.report.briefing import Side


def test_the_result_comes_from_the_child() -> None:
    assert Side(os.getpid)() != os.getpid()  # computed in another process
    assert Side(lambda: {"a": [1, 2.5]})() == {"a": [1, 2.5]}


def test_an_error_in_the_child_is_raised_here() -> None:
    def bad() -> None:
        raise InputError("no such thing", file="x.yaml", row=3)

    with pytest.raises(InputError) as e:
        Side(bad)()
    assert e.value.file == "x.yaml" and e.value.row == 3


def test_an_unpicklable_result_is_computed_here() -> None:
    f = Side(lambda: (lambda: os.getpid()))()  # a lambda cannot come back through the pipe
    assert f() == os.getpid()


def test_without_fork_it_runs_when_asked_and_cancel_stops_the_child() -> None:
    calls: list[int] = []
    s = Side(lambda: calls.append(1) or 7, fork=False)
    assert calls == [] and s() == 7 and calls == [1]
    slow = Side(lambda: __import__("time").sleep(30))
    slow.cancel()
    assert slow.proc is None
