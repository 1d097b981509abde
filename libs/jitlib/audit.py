"""The tamper-evident audit log: every entry commits to the previous one by SHA-256.

Editing or deleting a past entry changes its hash, which no longer matches the ``prev_hash`` of the next
entry (or the head), so ``verify`` finds it. The head row is locked while appending, so the chain is a
line even with several replicas writing to one PostgreSQL database.

Entries are kept 3 years (Reg. (EU) 2023/969 Art. 25, rule RETENTION_AUDIT_LOG), then ``prune`` deletes
the older ones and keeps a checkpoint: the seq and hash of the last pruned entry, when and by whom. The
first kept entry links to the checkpoint's hash, and the pruning is itself an entry naming the checkpoint
(``PRUNED`` with ``audit_checkpoint:<seq>`` and the hash), so ``verify`` proves the remaining chain
continuous from the checkpoint, and a checkpoint changed afterwards no longer matches either.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, Update, bindparam, delete, func, select, update
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
    # The head this process last wrote, when it still is the head: the update below then both checks that
    # and takes the head's lock, one statement instead of a locked read and an update. Anyone else's append
    # (another replica, a rolled-back transaction of ours) changed it, and the update matches no row.
    cache: HeadCache | None = session.info.get(HEAD_CACHE)
    held = cache.head if cache is not None else None
    row: Any = None
    if held is not None:
        seq, prev = held
    else:
        row = session.execute(_head_for_update(head_t)).one_or_none()
        seq, prev = (row.seq, row.hash) if row is not None else (0, GENESIS)
    start_seq, start_hash = seq, prev
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
    if held is not None:
        moved = session.execute(
            _head_update_if(head_t), {"new_seq": seq, "new_hash": prev, "old_seq": start_seq, "old_hash": start_hash}
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            cache.head = None  # type: ignore[union-attr]
            append(session, tables, events, now)  # from the head as it is now (locked, read again)
            return
    elif row is None:
        session.execute(head_t.insert().values(id=HEAD_ID, seq=seq, hash=prev))
    else:
        session.execute(_head_update(head_t), {"new_seq": seq, "new_hash": prev})
    session.execute(tables.audit_log.insert(), rows)
    if cache is not None:
        cache.head = (seq, prev)


#: The key of the database's ``HeadCache`` in its sessions' ``info`` (``jitlib.db.Database`` puts one there).
HEAD_CACHE = "jit_audit_head"


class HeadCache:
    """The chain head this process appended last, (seq, hash), or None: a guess that ``append`` checks
    in the same statement that moves the head, so a stale one costs a read and is never trusted."""

    def __init__(self) -> None:
        self.head: tuple[int, str] | None = None


@functools.cache
def _head_update_if(head_t: Table) -> Update:
    return (
        update(head_t)
        .where(head_t.c.id == HEAD_ID, head_t.c.seq == bindparam("old_seq"), head_t.c.hash == bindparam("old_hash"))
        .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
    )


@functools.cache
def _head_for_update(head_t: Table) -> Select[Any]:
    # Built once: the chain head is read on every audited change.
    return select(head_t.c.seq, head_t.c.hash).where(head_t.c.id == HEAD_ID).with_for_update()


@functools.cache
def _head_update(head_t: Table) -> Update:
    return update(head_t).where(head_t.c.id == HEAD_ID).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))


@dataclass(frozen=True)
class Checkpoint:
    """Where the chain starts once older entries were pruned: the last pruned entry's seq and hash."""

    seq: int
    hash: str
    pruned_at: datetime
    pruned_by: str
    #: How many entries every pruning so far deleted, together.
    entries_pruned: int


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    entries_checked: int
    first_bad_seq: int = 0
    problem: str = ""
    head_hash: str = GENESIS
    head_seq: int = 0
    #: The checkpoint the chain was verified from (None: from its first entry).
    checkpoint: Checkpoint | None = None


#: The operation of the entry a pruning appends; its record names the checkpoint.
PRUNED = "jit.retention/PruneAuditLog"
CHECKPOINT_RECORD = "audit_checkpoint"
CHECKPOINT_ID = 1


def checkpoint(session: Session, tables: RuntimeTables) -> Checkpoint | None:
    t = tables.audit_checkpoint
    row = session.execute(select(t).where(t.c.id == CHECKPOINT_ID)).mappings().one_or_none()
    if row is None:
        return None
    return Checkpoint(row["seq"], row["hash"], as_utc(row["pruned_at"]), row["pruned_by"], row["entries_pruned"])


def head(session: Session, tables: RuntimeTables) -> tuple[int, str]:
    """The chain's head: its last entry's seq and hash ((0, GENESIS) for an empty chain)."""
    row = session.execute(select(tables.audit_head.c.seq, tables.audit_head.c.hash)).one_or_none()
    return (row.seq, row.hash) if row is not None else (0, GENESIS)


@dataclass(frozen=True)
class PruneReport:
    pruned: int
    checkpoint: Checkpoint | None
    problem: str = ""


def prune(session: Session, tables: RuntimeTables, before: datetime, now: datetime, by: AuditEvent) -> PruneReport:
    """Delete the entries written before ``before`` (rule RETENTION_AUDIT_LOG), in the caller's transaction:
    only a leading run of entries, only when that run verifies from the checkpoint the last pruning
    recorded (never make a broken part vanish), and the checkpoint moves to the last one deleted. Appends
    the pruning's own entry (``by`` gives its actor; its operation and record are set here). Nothing
    older: nothing is done, no lock taken."""
    log = tables.audit_log
    # Only a leading run is pruned: when the chain's first entry is not that old, nothing is (one row read
    # by the primary key, no lock: the hourly sweep costs nothing while no entry is 3 years old).
    oldest = session.execute(select(log.c.occurred_at).order_by(log.c.seq).limit(1)).scalar()
    if oldest is None or as_utc(oldest) >= before:
        return PruneReport(0, checkpoint(session, tables))
    session.execute(_head_for_update(tables.audit_head)).one_or_none()  # one pruning or append at a time
    cp = checkpoint(session, tables)
    # In chain order, so the scan stops at the first entry kept (it reads about as many rows as it prunes).
    first_kept = session.execute(
        select(log.c.seq).where(log.c.occurred_at >= before).order_by(log.c.seq).limit(1)
    ).scalar()
    last = session.execute(select(func.max(log.c.seq))).scalar()
    if last is None:
        return PruneReport(0, cp)
    upto = (first_kept - 1) if first_kept is not None else last
    if upto <= (cp.seq if cp is not None else 0):
        return PruneReport(0, cp)
    # Only what is pruned is checked (bounded by an interval's entries), not the whole chain under the lock.
    walked = _walk(session, tables, cp, upto)
    if walked.problem:
        return PruneReport(0, cp, f"the chain is broken at seq {walked.bad_seq}: not pruned")
    if cp is not None:
        named = session.execute(
            select(log.c.record_type, log.c.record_id)
            .where(log.c.operation == PRUNED)
            .order_by(log.c.seq.desc())
            .limit(1)
        ).first()
        if named is None or tuple(named) != (f"{CHECKPOINT_RECORD}:{cp.seq}", cp.hash):
            return PruneReport(0, cp, "the checkpoint is not the one the last pruning recorded: not pruned")
    last_hash = walked.prev
    count: int = session.execute(delete(log).where(log.c.seq <= upto)).rowcount  # type: ignore[attr-defined]
    total = count + (cp.entries_pruned if cp is not None else 0)
    values = {
        "seq": upto,
        "hash": last_hash,
        "pruned_at": now,
        "pruned_by": bounded(by.username, 255),
        "entries_pruned": total,
    }
    t = tables.audit_checkpoint
    if cp is None:
        session.execute(t.insert().values(id=CHECKPOINT_ID, **values))
    else:
        session.execute(update(t).where(t.c.id == CHECKPOINT_ID).values(**values))
    entry = AuditEvent(
        operation=PRUNED,
        user_id=by.user_id,
        username=by.username,
        jurisdiction=by.jurisdiction,
        record_type=f"{CHECKPOINT_RECORD}:{upto}",
        record_id=last_hash,
        workspace_id="",
    )
    append(session, tables, [entry], now)
    return PruneReport(count, Checkpoint(upto, last_hash, now, values["pruned_by"], total))


@dataclass(frozen=True)
class _Walk:
    checked: int
    #: The last entry's hash (or the checkpoint's, when none was walked) and the next expected seq.
    prev: str
    next_seq: int
    bad_seq: int = 0
    problem: str = ""
    #: What the last pruning entry walked names: (record_type, record_id).
    named: tuple[str, str] | None = None


def _walk(session: Session, tables: RuntimeTables, cp: Checkpoint | None, upto: int | None, batch: int = 200) -> _Walk:
    """Recompute the entries' hashes in order from the checkpoint (up to ``upto``), checking links and seqs."""
    log = tables.audit_log
    prev = cp.hash if cp is not None else GENESIS
    expected = cp.seq + 1 if cp is not None else 1
    checked = 0
    named: tuple[str, str] | None = None
    query = select(log).order_by(log.c.seq)
    if upto is not None:
        query = query.where(log.c.seq <= upto)
    for r in session.execute(query.execution_options(yield_per=batch)).mappings():
        if r["seq"] != expected:
            return _Walk(checked, prev, expected, expected, f"entry {expected} is missing", named)
        if r["prev_hash"] != prev:
            what = "the checkpoint" if cp is not None and checked == 0 else "the previous entry"
            return _Walk(checked, prev, expected, r["seq"], f"link to {what} is broken", named)
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
            return _Walk(checked, prev, expected, r["seq"], "entry content does not match its hash", named)
        if ev.operation == PRUNED:
            named = (ev.record_type, ev.record_id)
        prev = r["hash"]
        expected += 1
        checked += 1
    return _Walk(checked, prev, expected, 0, "", named)


def verify(session: Session, tables: RuntimeTables, batch: int = 200) -> ChainReport:
    """Recompute every entry's hash in order and compare links, sequence numbers and the head; after a
    pruning, from the checkpoint, which the last pruning's entry must name.

    Entries are streamed ``batch`` at a time (a server-side cursor on PostgreSQL), so memory stays
    bounded by a few entries whatever the length of the chain; the fields of an entry are bounded when
    it is appended (``FIELD_MAX``)."""
    cp = checkpoint(session, tables)
    w = _walk(session, tables, cp, None, batch)
    if w.problem:
        return ChainReport(False, w.checked, w.bad_seq, w.problem, w.prev, 0, cp)
    if cp is not None and w.named != (f"{CHECKPOINT_RECORD}:{cp.seq}", cp.hash):
        return ChainReport(
            False, w.checked, cp.seq, "the checkpoint is not the one the last pruning recorded", w.prev, 0, cp
        )
    head_seq, head_hash = head(session, tables)
    if head_seq != w.next_seq - 1 or head_hash != w.prev:
        return ChainReport(False, w.checked, w.next_seq, "entries after the last one were removed", w.prev, 0, cp)
    return ChainReport(True, w.checked, 0, "", w.prev, head_seq, cp)
