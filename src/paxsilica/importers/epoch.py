"""Importer placeholder (being written)."""

from __future__ import annotations

from paxsilica.errors import InputError

from ._common import Option

OPTIONS: tuple[Option, ...] = ()


def run(paths, **options):
    """Not implemented yet."""
    raise InputError("the epoch importer is not available yet")
