"""The append-only, hash-chained audit log.

Each entry's ``hash`` is ``sha256(prev_hash + canonical JSON of the entry)``, where the canonical
JSON has sorted keys, no spaces and holds every field but the two hashes. ``audit_head`` keeps the
last sequence number and hash: a deleted entry breaks the sequence or the link, an edited entry
no longer matches its hash, and a removed tail no longer matches the head.

Examples
--------
>>> entry_hash("0" * 64, {"seq": 1, "action": "login"})[:12]
'5b9e8ea1170f'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""


def canonical(fields: dict[str, Any]) -> str:
    """Sorted keys, compact separators, UTF-8 kept: the same bytes on every database.

    Examples
    --------
    >>> canonical({"b": 1, "a": "é"})
    '{"a":"é","b":1}'
    """
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The hash of an entry given the previous one."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _fields(e: AuditEntry) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "actor": e.actor, "org_id": e.org_id, "action": e.action,
            "target": e.target, "detail": json.loads(e.detail), "client": e.client}


def append(session: Session, *, actor: str, org_id: int | None, action: str, target: str = "",
           detail: dict[str, Any] | None = None, client: str = "") -> AuditEntry:
    """Add an entry in the session's transaction (committed, or rolled back, with the action).

    The head row is updated first: on PostgreSQL that locks it, on SQLite the write transaction
    already holds the database, so two appends can never link to the same previous entry.
    """
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    session.refresh(head)
    entry = AuditEntry(seq=head.seq, at=utcnow().isoformat(timespec="microseconds"), actor=actor,
                       org_id=org_id, action=action, target=target,
                       detail=canonical(detail or {}), client=client[:100], prev_hash=head.hash, hash="")
    entry.hash = entry_hash(head.hash, _fields(entry))
    head.hash = entry.hash
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`verify`: ``ok``, entries checked, and the first problems found."""

    ok: bool
    entries: int
    head: str
    problems: tuple[str, ...]


def verify(session: Session, limit: int = 20) -> Verdict:
    """Walk the whole chain and report every break (at most ``limit`` messages)."""
    problems: list[str] = []
    prev, expected_seq, n = GENESIS, 1, 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for e in rows:
        n += 1
        if e.seq != expected_seq:
            problems.append(f"entry {expected_seq}" + (f"..{e.seq - 1}" if e.seq - 1 > expected_seq else "")
                            + " missing (deleted)")
        if e.prev_hash != prev:
            problems.append(f"entry {e.seq}: does not link to the entry before it")
        if entry_hash(e.prev_hash, _fields(e)) != e.hash:
            problems.append(f"entry {e.seq}: content does not match its hash (edited)")
        prev, expected_seq = e.hash, e.seq + 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    if head.seq != expected_seq - 1 or head.hash != prev:
        problems.append(f"the log ends at entry {expected_seq - 1} but the head records entry {head.seq} "
                        "(entries removed from the end, or the head edited)")
    return Verdict(not problems, n, head.hash, tuple(problems[:limit]))
