"""The firm-level text formats of ENGINE.md (the reference simulator's files).

One record per line, fields separated by whitespace; firm ids and sector codes are integers:

- links: ``supplier client amount``
- final demand: ``firm amount`` (firms not listed: 0)
- initial production: ``firm amount`` (accepted for compatibility; validated, not used)
- sectors: ``firm sector [sales]`` (defines the firm set and its order; ``sales`` unused)
- shocks: ``firm delta [day]`` (delta in [0, 1], day >= 0, default 0)

Outputs: per series a line ``-1 value`` for the setup state then ``t value`` per step, values
printed with 17 significant digits (``%.17g``).

Reading is fast (numpy's C reader; pandas' for files whose lines differ in their optional fields)
and, when a file is malformed, a second careful pass finds the first bad line and raises
:class:`paxsilica.errors.InputError` naming the file, line and field.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fsutil import atomic_write
from .engine import FirmShocks
from .network import SupplyNetwork

__all__ = [
    "FirmFiles",
    "read_firm_files",
    "read_network",
    "read_shocks",
    "write_firm_production",
    "write_network_files",
    "write_series",
]

_INT, _FLOAT = "int", "float"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
"""Firm ids and sectors are stored as int64: a 20-digit id is refused, not wrapped or crashed on."""


def _scan(path: Path, fields: list[tuple[str, str]], n_required: int,
          check: Callable[[dict[str, object]], tuple[str, str] | None] | None = None) -> None:
    """Careful pass over a file: raise InputError at the first bad line (file, line, field)."""
    name = str(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < n_required or len(parts) > len(fields):
                want = (f"{n_required}" if n_required == len(fields) else f"{n_required} to {len(fields)}")
                raise InputError(f"expected {want} fields ({' '.join(f for f, _ in fields)}), got {len(parts)}",
                                 file=name, row=lineno)
            rec: dict[str, object] = {}
            for (fname, kind), tok in zip(fields, parts, strict=False):
                try:
                    if not tok.isascii():  # Python's int() and float() take "０" or "٣" as digits; the format does not
                        raise ValueError
                    if kind == _INT:
                        rec[fname] = int(tok)
                        if not _INT64_MIN <= rec[fname] <= _INT64_MAX:
                            raise InputError(f"{tok!r} is outside the 64-bit integer range "
                                             f"[{_INT64_MIN}, {_INT64_MAX}]", file=name, row=lineno,
                                             column=fname)
                    else:
                        v = float(tok)
                        if not math.isfinite(v):
                            raise ValueError
                        rec[fname] = v
                except ValueError:
                    what = "an integer" if kind == _INT else "a finite number"
                    raise InputError(f"{tok!r} is not {what}", file=name, row=lineno, column=fname) from None
            if check is not None:
                bad = check(rec)
                if bad is not None:
                    raise InputError(bad[1], file=name, row=lineno, column=bad[0])
    raise InputError("cannot be read", file=name)  # the fast reader failed though every line looks fine


def _read_pandas(path: Path, fields: list[tuple[str, str]], n_required: int,
                 check: Callable[[dict[str, object]], tuple[str, str] | None] | None = None) -> dict[str, np.ndarray]:
    """The tolerant reader (pandas' C parser): files whose lines do not all have the same fields."""
    import pandas as pd

    names = [f for f, _ in fields]
    dtypes = {f: (np.int64 if k == _INT else np.float64) for f, k in fields[:n_required]}
    for f, _ in fields[n_required:]:
        dtypes[f] = np.float64  # optional ints may be missing (NaN); checked below
    try:
        with warnings.catch_warnings():
            # "nan" or "inf" in an integer column is a cast warning in pandas: a bad line all the same
            warnings.simplefilter("error", RuntimeWarning)
            df = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype=dtypes, engine="c",
                             skip_blank_lines=True, comment=None, on_bad_lines="error")
    except (ValueError, OverflowError, RuntimeWarning, pd.errors.ParserError, UnicodeDecodeError):
        _scan(path, fields, n_required, check)
        raise  # pragma: no cover - _scan always raises
    except pd.errors.EmptyDataError:
        return {f: np.zeros(0, dtypes[f]) for f in names}
    if not isinstance(df.index, pd.RangeIndex):  # more fields than names on every line
        _scan(path, fields, n_required, check)
    return {f: df[f].to_numpy() for f in names}


def _is_ascii(path: Path, chunk: int = 1 << 23) -> bool:
    """True when every byte of the file is ASCII (read in 8 MiB chunks; stops at the first other)."""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            if not block.isascii():
                return False
    return True


def _read_exact(path: Path, fields: list[tuple[str, str]], ascii_only: bool) -> dict[str, np.ndarray] | None:
    """Fast strict read (numpy's C reader): every line has exactly ``fields``; None if any does not.

    numpy's reader refuses what the careful pass refuses (a non-integer or out-of-range id, a
    wrong field count, "nan" in an integer column), and it does not need pandas, whose import
    alone cost more than reading a 500k-link file.

    Only ASCII files are given to it: its integer parser (numpy 2.4) hands code points above 255
    to C's ``isdigit``, which indexes its table out of bounds — a code point such as U+D8437 in an
    id crashed the process (segmentation fault, found by tests/test_fuzz_inputs.py) and "🙂" was
    read as the id 128530 (numpy pull request 31586 describes the cause; not merged). Any other
    file goes to the careful reader, which locates what is wrong (``ascii_only``: the caller's
    :func:`_is_ascii` of the file, read once for both of :func:`_read`'s attempts).
    """
    if not ascii_only:
        return None
    dtype = [(f, np.int64 if k == _INT else np.float64) for f, k in fields]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "input contained no data" is left to the tolerant reader
            arr = np.loadtxt(path, dtype=dtype, comments=None, ndmin=1, encoding="utf-8")
    except (ValueError, OverflowError, UserWarning, UnicodeDecodeError):
        return None
    return {f: np.ascontiguousarray(arr[f]) for f, _ in fields}


def _read(path: Path, fields: list[tuple[str, str]], n_required: int,
          check: Callable[[dict[str, object]], tuple[str, str] | None] | None = None) -> dict[str, np.ndarray]:
    """Read a whitespace-separated file into typed columns (errors located by :func:`_scan`).

    Optional fields come back as float64 columns, NaN where a line leaves them out.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    names = [f for f, _ in fields]
    ascii_only = _is_ascii(path)
    cols = _read_exact(path, fields, ascii_only)
    if cols is None and n_required < len(fields):  # no line has the optional fields
        cols = _read_exact(path, fields[:n_required], ascii_only)
        if cols is not None:
            size = cols[names[0]].size
            cols.update({f: np.full(size, np.nan) for f in names[n_required:]})
    if cols is None:
        cols = _read_pandas(path, fields, n_required, check)
    for f in names[n_required:]:
        cols[f] = cols[f].astype(np.float64)
    size = cols[names[0]].size
    bad = np.zeros(size, bool)
    for f, k in fields:
        col = cols[f]
        if f in names[n_required:]:
            present = ~np.isnan(col)
            bad |= present & (~np.isfinite(col) if k == _FLOAT else (col != np.round(col)))
        elif k == _FLOAT:
            bad |= ~np.isfinite(col)
    if bad.any():
        _scan(path, fields, n_required, check)
    return cols


class _Ids:
    """Integer ids: positions of queried ids and the first repeated one (numpy only).

    Ids spanning a range not much wider than their count (the usual 0..n-1 or 1..n) are looked up
    in a table (one gather per query); others by binary search in the sorted ids.
    """

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        self.lo = int(ids.min()) if ids.size else 0
        span = int(ids.max()) - self.lo + 1 if ids.size else 0
        self.table: np.ndarray | None = None
        if 0 < span <= 4 * ids.size + 1024:
            table = np.full(span, -1, np.int64)
            table[ids - self.lo] = np.arange(ids.size)
            # with repeated ids the table holds the last: keep it only if every id got its own slot
            if np.count_nonzero(table >= 0) == ids.size:
                self.table = table
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        # ids lo, lo+1, ... in file order (the usual case): a position is the id minus lo
        self.consecutive = span == ids.size and bool(np.all(ids[1:] > ids[:-1]))

    def _sort(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sorted is None:
            order = np.argsort(self.ids, kind="stable")
            self._sorted = order, self.ids[order]
        return self._sorted

    def first_repeat(self) -> int | None:
        """Position (in the given order) of the first id seen before, or None."""
        if self.table is not None or self.ids.size < 2:
            return None
        order, srt = self._sort()
        rep = srt[1:] == srt[:-1]
        return int(order[1:][rep].min()) if rep.any() else None

    def positions(self, q: np.ndarray) -> np.ndarray:
        """Position of each id in ``q`` among the ids (-1: unknown)."""
        if self.ids.size == 0:
            return np.full(q.size, -1, np.int64)
        if self.consecutive:
            off = q - self.lo
            inside = (off >= 0) & (off < self.ids.size)
            return off if inside.all() else np.where(inside, off, -1)
        if self.table is not None:
            off = q - self.lo
            inside = (off >= 0) & (off < self.table.size)
            if inside.all():
                return self.table[off]
            return np.where(inside, self.table[np.where(inside, off, 0)], -1)
        order, srt = self._sort()
        at = np.minimum(np.searchsorted(srt, q), srt.size - 1)
        return np.where(srt[at] == q, order[at], -1)


def _first_repeat(values: np.ndarray) -> int | None:
    """Position of the first value seen before (an unstable sort first: repeats are rare)."""
    if values.size < 2:
        return None
    s = np.sort(values)
    if not (s[1:] == s[:-1]).any():
        return None
    order = np.argsort(values, kind="stable")
    srt = values[order]
    return int(order[1:][srt[1:] == srt[:-1]].min())


def read_network(
    links: str | Path,
    final_demand: str | Path,
    sectors: str | Path,
    initial_production: str | Path | None = None,
) -> SupplyNetwork:
    """Read the reference text files into a :class:`SupplyNetwork`.

    Firms are indexed in the order of the sectors file; ``firm_ids`` keeps their integer ids and
    ``sector_names`` the sector codes as text.

    Parameters
    ----------
    links, final_demand, sectors : path
        The three files that define the network.
    initial_production : path, optional
        Read and checked (known firms, finite amounts) but not used, as in the reference.

    Raises
    ------
    InputError
        With file, line and field for malformed lines, unknown firm ids, duplicate firms or links,
        non-positive link amounts and negative final demand.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "l").write_text("1 2 100\\n2 1 100\\n"); _ = (d / "c").write_text("1 100\\n2 100\\n")
    >>> _ = (d / "s").write_text("1 1 0\\n2 2 0\\n")
    >>> read_network(d / "l", d / "c", d / "s").baseline_output.tolist()
    [200.0, 200.0]
    """
    sec_path = Path(sectors)
    sec = _read(sec_path, [("firm", _INT), ("sector", _INT), ("sales", _FLOAT)], 2)
    ids = sec["firm"]
    firm_index = _Ids(ids)
    dup_row = firm_index.first_repeat()
    if dup_row is not None:
        _locate_row(sec_path, dup_row, "firm", f"firm {ids[dup_row]} is listed twice")
    n = ids.size
    uniques, codes = np.unique(sec["sector"], return_inverse=True)

    def lookup(path: Path, col: np.ndarray, name: str) -> np.ndarray:
        pos = firm_index.positions(col)
        if np.any(pos < 0):
            k = int(np.flatnonzero(pos < 0)[0])
            _locate_row(path, k, name, f"unknown firm id {col[k]} (not in {sec_path.name})")
        return pos

    link_path = Path(links)
    lk = _read(link_path, [("supplier", _INT), ("client", _INT), ("amount", _FLOAT)], 3)
    sup = lookup(link_path, lk["supplier"], "supplier")
    cli = lookup(link_path, lk["client"], "client")
    amt = lk["amount"]
    if np.any(amt <= 0):
        k = int(np.flatnonzero(amt <= 0)[0])
        _locate_row(link_path, k, "amount", f"amount must be > 0, got {amt[k]!r}")
    k_dup = _first_repeat(sup * np.int64(n) + cli)
    if k_dup is not None:
        _locate_row(link_path, k_dup, "client",
                    f"duplicate link from firm {ids[sup[k_dup]]} to firm {ids[cli[k_dup]]}")

    fd_path = Path(final_demand)
    fdf = _read(fd_path, [("firm", _INT), ("amount", _FLOAT)], 2)
    fpos = lookup(fd_path, fdf["firm"], "firm")
    famt = fdf["amount"]
    if np.any(famt < 0):
        k = int(np.flatnonzero(famt < 0)[0])
        _locate_row(fd_path, k, "amount", f"final demand must be >= 0, got {famt[k]!r}")
    k_dup = _first_repeat(fpos)
    if k_dup is not None:
        _locate_row(fd_path, k_dup, "firm", f"firm {ids[fpos[k_dup]]} is listed twice")
    c = np.zeros(n)
    c[fpos] = famt

    if initial_production is not None:
        ip_path = Path(initial_production)
        ip = _read(ip_path, [("firm", _INT), ("amount", _FLOAT)], 2)
        lookup(ip_path, ip["firm"], "firm")

    return SupplyNetwork.from_arrays(sup, cli, amt, n_firms=n, final_demand=c, sector=codes,
                                     sector_names=[str(u) for u in uniques], firm_ids=ids)


def _locate_row(path: Path, row: int, column: str, message: str) -> None:
    """Raise InputError for the ``row``-th record (0-based, blank lines skipped) of ``path``."""
    seen = -1
    lineno = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for k, line in enumerate(fh, start=1):
            if line.strip():
                seen += 1
                if seen == row:
                    lineno = k
                    break
    raise InputError(message, file=str(path), row=lineno, column=column)


def read_shocks(path: str | Path, network: SupplyNetwork) -> FirmShocks:
    """Read a shock file ``firm delta [day]`` against a network's firm ids.

    Raises
    ------
    InputError
        For malformed lines, unknown firms, delta outside [0, 1], negative days, a firm listed twice.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> net = SupplyNetwork.from_arrays([0], [1], [1.0], firm_ids=[7, 9])
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "shocks.txt"; _ = p.write_text("9 0.5 3\\n")
    >>> s = read_shocks(p, net); s.firm.tolist(), s.delta.tolist(), s.day.tolist()
    ([1], [0.5], [3])
    """
    path = Path(path)
    ids = np.asarray(network.firm_ids)
    known = _Ids(ids) if np.issubdtype(ids.dtype, np.integer) else None
    known_set: set[object] = set()

    def check(rec: dict[str, object]) -> tuple[str, str] | None:
        if not known_set:
            known_set.update(ids.tolist())
        if rec["firm"] not in known_set:
            return "firm", f"unknown firm id {rec['firm']}"
        delta = float(rec["delta"])  # type: ignore[arg-type]
        if not 0.0 <= delta <= 1.0:
            return "delta", f"delta must lie in [0, 1], got {delta!r}"
        if int(rec.get("day", 0)) < 0:  # type: ignore[call-overload]
            return "day", f"day must be >= 0, got {rec['day']}"
        return None

    fields = [("firm", _INT), ("delta", _FLOAT), ("day", _INT)]
    df = _read(path, fields, 2, check)
    firm = df["firm"]
    pos = known.positions(firm) if known is not None else np.full(firm.size, -1, np.int64)
    delta = df["delta"]
    day = df["day"]
    day = np.where(np.isnan(day), 0.0, day)
    bad = (pos < 0) | (delta < 0) | (delta > 1) | (day < 0)
    if bad.any():
        _scan(path, fields, 2, check)
    k_dup = _first_repeat(pos)
    if k_dup is not None:
        _locate_row(path, k_dup, "firm", f"firm {firm[k_dup]} is shocked twice")
    return FirmShocks(pos, delta, day.astype(np.int64))


@dataclass(frozen=True)
class FirmFiles:
    """Paths of the reference inputs, for :func:`read_firm_files`."""

    links: Path
    final_demand: Path
    initial_production: Path
    sectors: Path
    shocks: Path | None = None


def read_firm_files(files: FirmFiles) -> tuple[SupplyNetwork, FirmShocks | None]:
    """Read a complete reference input set: the network and, if given, the shocks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name, text in {"l": "1 2 5\\n", "c": "2 5\\n", "p": "1 5\\n2 5\\n", "s": "1 1\\n2 2\\n"}.items():
    ...     _ = (d / name).write_text(text)
    >>> net, shocks = read_firm_files(FirmFiles(d / "l", d / "c", d / "p", d / "s"))
    >>> net.n_links, shocks is None
    (1, True)
    """
    net = read_network(files.links, files.final_demand, files.sectors, files.initial_production)
    shocks = None if files.shocks is None else read_shocks(files.shocks, net)
    return net, shocks


def _fmt(values: Iterable[float]) -> list[str]:
    return [f"{v:.17g}" for v in values]


def write_series(path: str | Path, steps: np.ndarray, values: np.ndarray) -> None:
    """Write one series as ``t value`` lines (``%.17g``), the first being ``-1`` (setup state).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> write_series(p, np.array([-1, 0]), np.array([400.0, 380.0])); p.read_text()
    '-1 400\\n0 380\\n'
    """
    lines = [f"{int(t)} {v}" for t, v in zip(steps, _fmt(values), strict=True)]
    atomic_write(path, "\n".join(lines) + "\n")


def write_firm_production(path: str | Path, steps: np.ndarray, firm_ids: np.ndarray,
                          production: np.ndarray) -> None:
    """Write per-firm production as ``t firm value`` lines (``%.17g``), steps from -1.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "firms.txt"
    >>> write_firm_production(p, np.array([-1]), np.array([7, 9]), np.array([[1.5, 2.0]]))
    >>> p.read_text()
    '-1 7 1.5\\n-1 9 2\\n'
    """
    import pandas as pd  # only here: its import costs more than a whole 100k-firm run's reading

    t_len, n = production.shape
    df = pd.DataFrame({
        "t": np.repeat(np.asarray(steps, np.int64), n),
        "firm": np.tile(np.asarray(firm_ids), t_len),
        "value": production.ravel(),
    })
    atomic_write(path, lambda tmp: df.to_csv(tmp, sep=" ", header=False, index=False, float_format="%.17g",
                                             lineterminator="\n"))


_CHUNK = 1 << 20
"""Rows formatted per chunk by :func:`_write_columns` (bounds the text held in memory)."""


def _write_columns(path: Path, cols: list[np.ndarray]) -> Path:
    """Write columns as whitespace-separated lines, atomically; floats in their shortest exact form.

    ``repr`` of a float is the shortest text that reads back to the same double (exact, like
    ``%.17g``, and shorter); formatting in chunks of Python strings is about 4x faster than
    ``DataFrame.to_csv`` with a float format, which dominated writing a 5M-link network.
    """
    def fill(tmp: Path) -> None:
        n = len(cols[0]) if cols else 0
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for lo in range(0, n, _CHUNK):
                parts = [c[lo: lo + _CHUNK].tolist() for c in cols]
                fmt = [map(repr, v) if isinstance(v[0], float) else map(str, v) for v in parts]
                fh.write("\n".join(map(" ".join, zip(*fmt, strict=True))))
                fh.write("\n")

    atomic_write(path, fill)
    return path


def write_network_files(network: SupplyNetwork, folder: str | Path, shocks: FirmShocks | None = None) -> FirmFiles:
    """Write a network (and shocks) in the reference text formats; firm ids must be integers.

    Files: ``links.txt``, ``final_demand.txt``, ``initial_production.txt`` (p̄), ``sectors.txt``
    (sector code = position in ``sector_names``) and ``shocks.txt`` when given. Numbers are written
    in their shortest exact form (they read back to the same doubles), each file atomically.

    Examples
    --------
    >>> import tempfile
    >>> net = SupplyNetwork.from_arrays([0], [1], [2.5], final_demand=[0.0, 1.0], firm_ids=[10, 20])
    >>> files = write_network_files(net, tempfile.mkdtemp())
    >>> files.links.read_text()
    '10 20 2.5\\n'
    >>> read_network(files.links, files.final_demand, files.sectors).amount.tolist()
    [2.5]
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.asarray(network.firm_ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise InputError("the text formats need integer firm ids")
    ids = ids.astype(np.int64)

    def f64(v: np.ndarray) -> np.ndarray:
        return np.asarray(v, np.float64)

    links = _write_columns(folder / "links.txt", [ids[network.supplier], ids[network.client], f64(network.amount)])
    fd = network.final_demand > 0
    final = _write_columns(folder / "final_demand.txt", [ids[fd], f64(network.final_demand[fd])])
    initial = _write_columns(folder / "initial_production.txt", [ids, f64(network.baseline_output)])
    sectors = _write_columns(folder / "sectors.txt", [ids, np.asarray(network.sector, np.int64),
                                                      np.zeros(network.n_firms, np.int64)])
    shock_path = None
    if shocks is not None:
        shock_path = _write_columns(folder / "shocks.txt", [ids[shocks.firm], f64(shocks.delta),
                                                            np.asarray(shocks.day, np.int64)])
    return FirmFiles(links, final, initial, sectors, shock_path)
