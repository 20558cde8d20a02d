"""Crash-safe writes: the one place paxsilica replaces a file or a folder.

Every writer (atlas export, briefing, GeoJSON, lanes cache, stress results, the service's stores)
goes through these functions, so a crash, a full disk or a SIGKILL at any moment leaves either the
old content or the new one, never half of either. The recipe is the POSIX one: write a temporary
sibling in the same folder (same file system, so the rename is atomic), flush it to disk, rename it
over the target, then flush the folder so the rename itself survives a power cut.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = atomic_write(d / "a.txt", "hello")
>>> p.read_text()
'hello'
>>> q = atomic_replace_dir(d / "out", lambda tmp: (tmp / "x.csv").write_text("1"))
>>> sorted(x.name for x in q.iterdir())
['x.csv']
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_replace_dir", "exchange_paths", "fsync_path", "shared_mode"]


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file or a folder entry to disk; silently skipped where the platform cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def shared_mode() -> int:
    """The mode a normal ``open()`` would give a new file (0666 less the umask).

    ``mkstemp`` creates files readable by their owner only; a report or a data file is meant to be
    shared as any other file the user writes.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike[str], content: str | bytes | Callable[[Path], None], *,
                 encoding: str = "utf-8", mode: int | None = None, make_parents: bool = True) -> Path:
    """Replace ``path`` by ``content`` in one step (temporary sibling, fsync, rename).

    Parameters
    ----------
    path : path-like
        The file to write (replaced if it exists; a symlink is replaced, not followed). An existing
        character device or named pipe (``/dev/null``, ``/dev/stdout``) is written to directly and
        never replaced; a socket or block device is refused with ``OSError``.
    content : str, bytes or callable
        Text (written with ``encoding``), bytes, or a function that writes the temporary file
        whose path it is given (for writers such as ``DataFrame.to_parquet``).
    mode : int, optional
        File mode; default: what ``open()`` would give (0666 less the umask).
    make_parents : bool
        Create missing parent folders (else a missing folder raises ``FileNotFoundError``).

    Returns
    -------
    Path
        The absolute path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(d / "b.bin", b"\\x00\\x01").stat().st_size
    2
    >>> atomic_write(d / "c.txt", lambda tmp: tmp.write_text("via a writer")).read_text()
    'via a writer'
    """
    target = Path(os.path.abspath(path))
    if _is_stream(target):
        # /dev/null, /dev/stdout, a named pipe: renaming over it would replace the device itself by
        # a regular file (as root, even /dev/null); a stream has no old content to protect
        with open(target, "wb") as f:
            f.write(content.encode(encoding) if isinstance(content, str) else
                    bytes(content) if not callable(content) else _via_temp(content))
        return target
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        if callable(content):
            os.close(fd)
            fd = -1
            content(tmp)
        else:
            data = content.encode(encoding) if isinstance(content, str) else bytes(content)
            with os.fdopen(fd, "wb") as f:
                fd = -1
                f.write(data)
        os.chmod(tmp, shared_mode() if mode is None else mode)
        fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(target.parent)
    return target


def _is_stream(target: Path) -> bool:
    """True for an existing character device or named pipe (followed through symbolic links)."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise OSError(errno.EINVAL, "not a regular file, folder or stream", str(target))
    return False


def _via_temp(write: Callable[[Path], None]) -> bytes:
    """What a file writer produces, read back from a private temporary file."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) / "out"
        write(tmp)
        return tmp.read_bytes()


def exchange_paths(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the platform or file system has no such call (the caller then falls back
    to two renames).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(e, os.strerror(e), str(b))


def atomic_replace_dir(target: str | os.PathLike[str], fill: Callable[[Path], object], *,
                       prefix: str = ".tmp.") -> Path:
    """Build a folder beside ``target`` with ``fill(tmp)``, then put it at ``target`` at once.

    Where the platform can exchange two paths atomically, a reader sees either the old folder or
    the new one at every moment; elsewhere the old one is moved aside first (a crash between the
    two renames leaves it beside the target under a ``{prefix}`` name, never deleted). If ``fill``
    fails, nothing at ``target`` changes and the temporary folder is removed.

    Parameters
    ----------
    target : path-like
        The folder to create or replace.
    fill : callable
        Writes the new content into the temporary folder it is given.
    prefix : str
        Name prefix of the temporary sibling (callers that clean up stale leftovers use their own).

    Returns
    -------
    Path
        The absolute path of the new folder.
    """
    target = Path(os.path.abspath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}{target.name}.", dir=target.parent))
    try:
        fill(tmp)
        for p in tmp.rglob("*"):
            if p.is_file() and not p.is_symlink():
                fsync_path(p)
        fsync_path(tmp)
        if not target.exists() and not target.is_symlink():
            os.replace(tmp, target)
        elif target.is_dir() and not target.is_symlink() and exchange_paths(tmp, target):
            shutil.rmtree(tmp, ignore_errors=True)  # ``tmp`` now holds the old content
        else:
            aside = target.with_name(f"{prefix}{target.name}.{secrets.token_hex(6)}.old")
            os.replace(target, aside)
            try:
                os.replace(tmp, target)
            except BaseException:
                if not target.exists():
                    os.replace(aside, target)
                raise
            if aside.is_dir() and not aside.is_symlink():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    aside.unlink()
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_path(target.parent)
    return target
