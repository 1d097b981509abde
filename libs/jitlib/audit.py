"""The tamper-evident audit log: every entry commits to the previous one by SHA-256.

Editing or deleting a past entry changes its hash, which no longer matches the ``prev_hash`` of the next
entry (or the head), so ``verify`` finds it. The head row is locked while appending, so the chain is a
line even with several replicas writing to one PostgreSQL database.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, Update, bindparam, select, update
from sqlalchemy.orm import Session

from jitlib.clock import as_utc
from jitlib.db import RuntimeTables
from jitlib.errors import bounded

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class AuditEvent:
    """One operation to record (the chain fields are added when it is appended)."""

    operation: str
    user_id: str
    username: str
    jurisdiction: str
    record_type: str
    record_id: str
    workspace_id: str
    outcome: str = "ok"


#: The most characters an audited field keeps when its column sets no length. Ids and names are far
#: shorter; a refusal may name what a caller sent, and the log must be neither flooded nor made too heavy
#: to verify (nor refused by a database that enforces its column lengths).
FIELD_MAX = 256


@functools.cache
def _limits(log: Table) -> dict[str, int]:
    """How many characters each audited field keeps: its column's length, at most ``FIELD_MAX``."""
    return {
        name: min(getattr(log.c[name].type, "length", None) or FIELD_MAX, FIELD_MAX)
        for name in AuditEvent.__dataclass_fields__
    }


def _bounded(ev: AuditEvent, log: Table) -> AuditEvent:
    return AuditEvent(**{name: bounded(getattr(ev, name), limit) for name, limit in _limits(log).items()})


def entry_hash(prev_hash: str, seq: int, occurred_at: datetime, time_zone: str, event: AuditEvent) -> str:
    body = {
        "prev": prev_hash,
        "seq": seq,
        "at": as_utc(occurred_at).isoformat(timespec="microseconds"),
        "tz": time_zone,
        "user_id": event.user_id,
        "username": event.username,
        "jurisdiction": event.jurisdiction,
        "operation": event.operation,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "workspace_id": event.workspace_id,
        "outcome": event.outcome,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(session: Session, tables: RuntimeTables, events: Sequence[AuditEvent], now: datetime) -> None:
    """Append entries inside the caller's transaction (so they commit or vanish with the change)."""
    if not events:
        return
    head_t = tables.audit_head
    row = session.execute(_head_for_update(head_t)).one_or_none()
    seq, prev = (row.seq, row.hash) if row is not None else (0, GENESIS)
    rows = []
    for ev in events:
        ev = _bounded(ev, tables.audit_log)
        seq += 1
        h = entry_hash(prev, seq, now, "UTC", ev)
        rows.append(
            {
                "seq": seq,
                "occurred_at": now,
                "time_zone": "UTC",
                "user_id": ev.user_id,
                "username": ev.username,
                "jurisdiction": ev.jurisdiction,
                "operation": ev.operation,
                "record_type": ev.record_type,
                "record_id": ev.record_id,
                "workspace_id": ev.workspace_id,
                "outcome": ev.outcome,
                "prev_hash": prev,
                "hash": h,
            }
        )
        prev = h
    session.execute(tables.audit_log.insert(), rows)
    if row is None:
        session.execute(head_t.insert().values(id=HEAD_ID, seq=seq, hash=prev))
    else:
        session.execute(_head_update(head_t), {"new_seq": seq, "new_hash": prev})


@functools.cache
def _head_for_update(head_t: Table) -> Select[Any]:
    # Built once: the chain head is read on every audited change.
    return select(head_t.c.seq, head_t.c.hash).where(head_t.c.id == HEAD_ID).with_for_update()


@functools.cache
def _head_update(head_t: Table) -> Update:
    return update(head_t).where(head_t.c.id == HEAD_ID).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    entries_checked: int
    first_bad_seq: int = 0
    problem: str = ""
    head_hash: str = GENESIS


def verify(session: Session, tables: RuntimeTables, batch: int = 200) -> ChainReport:
    """Recompute every entry's hash in order and compare links, sequence numbers and the head.

    Entries are streamed ``batch`` at a time (a server-side cursor on PostgreSQL), so memory stays
    bounded by a few entries whatever the length of the chain; the fields of an entry are bounded when
    it is appended (``FIELD_MAX``)."""
    log = tables.audit_log
    prev = GENESIS
    expected_seq = 1
    checked = 0
    rows = session.execute(select(log).order_by(log.c.seq).execution_options(yield_per=batch)).mappings()
    for r in rows:
        if r["seq"] != expected_seq:
            return ChainReport(False, checked, expected_seq, f"entry {expected_seq} is missing", prev)
        if r["prev_hash"] != prev:
            return ChainReport(False, checked, r["seq"], "link to the previous entry is broken", prev)
        ev = AuditEvent(
            operation=r["operation"],
            user_id=r["user_id"],
            username=r["username"],
            jurisdiction=r["jurisdiction"],
            record_type=r["record_type"],
            record_id=r["record_id"],
            workspace_id=r["workspace_id"],
            outcome=r["outcome"],
        )
        if entry_hash(prev, r["seq"], r["occurred_at"], r["time_zone"], ev) != r["hash"]:
            return ChainReport(False, checked, r["seq"], "entry content does not match its hash", prev)
        prev = r["hash"]
        expected_seq += 1
        checked += 1
    head = (session.execute(select(tables.audit_head.c.seq, tables.audit_head.c.hash))).one_or_none()
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if head_seq != checked or head_hash != prev:
        return ChainReport(False, checked, checked + 1, "entries after the last one were removed", prev)
    return ChainReport(True, checked, 0, "", prev)
