"""One exception family for paxsilica.

Every error that comes from the user's input carries where it was found (file, row, column) and
what is wrong, so that shells can print a one-line message and exit with code 1 (CLI) or answer
with an HTTP 4xx (API) instead of showing a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in input data.

    Parameters
    ----------
    file : str
        File (or table) the problem was found in, e.g. ``"production.csv"``.
    row : int or None
        Line number in that file (the header is line 1, the first data row line 2; for a
        workbook the sheet row). ``None`` when the problem concerns the whole table.
    column : str or None
        Column (field) concerned, or ``None``.
    reason : str
        What is wrong, in words a data steward understands.

    Examples
    --------
    >>> str(Problem("items.csv", 4, "unit", "unknown unit 'tonnes'"))
    "items.csv, row 4, column 'unit': unknown unit 'tonnes'"
    """

    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.reason}"


class PaxsilicaError(Exception):
    """Base class of all errors paxsilica raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong.
    file, row, column : optional
        Where, when known.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        return str(Problem(self.file, self.row, self.column, self.message))


class InputError(PaxsilicaError):
    """A file or value given by the user cannot be read or makes no sense."""


class ValidationError(PaxsilicaError):
    """Several problems found at once (e.g. by :func:`paxsilica.atlas.validate`).

    Parameters
    ----------
    problems : list of Problem
        Every problem found, in file/row order.
    """

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = sorted(problems, key=_problem_sort_key)
        n = len(self.problems)
        head = message or f"{n} problem{'s' if n != 1 else ''} found"
        body = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = f"\n  ... and {n - 50} more" if n > 50 else ""
        super().__init__(f"{head}:\n{body}{more}" if n else head)


class NotFoundError(PaxsilicaError):
    """A named thing (table, item, scenario, country) does not exist."""


def _problem_sort_key(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, -1 if p.row is None else p.row, p.column or "", p.reason)
