"""The tamper-evident audit log: every entry commits to the previous one by SHA-256.

Editing or deleting a past entry changes its hash, which no longer matches the ``prev_hash`` of the next
entry (or the head), so ``verify`` finds it. The head row is locked while linking, so the chain is a
line even with several replicas writing to one PostgreSQL database.

A change does not take that lock: its transaction records its entries unlinked (``record``: their content
fixed, in ``audit_pending``), atomic with the change, and the process's ``Chainer`` links them into the
chain within about 50 milliseconds of the commit, in batches, in the order they were recorded (``link``). So
concurrent changes commit side by side (PostgreSQL's group commit shares their fsync) instead of one after
the other behind the head. The window: an entry not linked yet is not covered by the chain's hashes, and
is only as safe as any row of the database; ``verify`` reports how many are pending, and the auditor's
calls, a pruning and a deletion certificate link them first (``link_all``, ``chain_head``). A crash
between a commit and its linking leaves the entries pending; the next chainer to start links them.

Entries are kept 3 years (Reg. (EU) 2023/969 Art. 25, rule RETENTION_AUDIT_LOG), then ``prune`` deletes
the older ones and keeps a checkpoint: the seq and hash of the last pruned entry, when and by whom. The
first kept entry links to the checkpoint's hash, and the pruning is itself an entry naming the checkpoint
(``PRUNED`` with ``audit_checkpoint:<seq>`` and the hash), so ``verify`` proves the remaining chain
continuous from the checkpoint, and a checkpoint changed afterwards no longer matches either.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import (
    JSON,
    BigInteger,
    Delete,
    Insert,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from jitlib.actors import SYSTEM
from jitlib.clock import as_utc
from jitlib.db import Database, RuntimeTables
from jitlib.errors import bounded
from jitlib.sqlexec import CompiledInsert, CompiledSelect, CompiledUpdate

logger = logging.getLogger(__name__)

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

    @classmethod
    def by_system(cls, operation: str, record_type: str, record_id: str, workspace_id: str) -> AuditEvent:
        """What the platform itself did (a consumer, a start-up step, a background job), as ``actors.SYSTEM``."""
        system = (SYSTEM.user_id, SYSTEM.username, SYSTEM.jurisdiction)
        return cls(operation, *system, record_type, record_id, workspace_id)


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


def entry_hash(prev_hash: str, seq: int, occurred_at: datetime, time_zone: str, event: AuditEvent) -> str:
    return _hash(prev_hash, seq, occurred_at, time_zone, vars(event))


#: What ``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` makes for each entry,
#: with one encoder instead of one made per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(prev_hash: str, seq: int, occurred_at: datetime, time_zone: str, fields: Mapping[str, Any]) -> str:
    """An entry's hash from its audited ``fields`` (an event's, or an entry's content as ``_content`` makes it)."""
    body = {
        "prev": prev_hash,
        "seq": seq,
        "at": as_utc(occurred_at).isoformat(timespec="microseconds"),
        "tz": time_zone,
        "user_id": fields["user_id"],
        "username": fields["username"],
        "jurisdiction": fields["jurisdiction"],
        "operation": fields["operation"],
        "record_type": fields["record_type"],
        "record_id": fields["record_id"],
        "workspace_id": fields["workspace_id"],
        "outcome": fields["outcome"],
    }
    return hashlib.sha256(_CANONICAL.encode(body).encode()).hexdigest()


#: How many pending entries one linking transaction takes at most.
LINK_BATCH = 500

#: Set in a session's ``info`` by ``record``: its commit wakes the process's ``Chainer``.
PENDING = "jit_audit_pending"


#: An entry's audited fields in the order of its columns (what ``_content`` gives after the time).
_FIELDS = ("user_id", "username", "jurisdiction", "operation", "record_type", "record_id", "workspace_id", "outcome")


def _content(ev: AuditEvent, log: Table, occurred_at: datetime, time_zone: str = "UTC") -> dict[str, Any]:
    """An entry's content: every column but its place in the chain (seq, prev_hash, hash), each audited
    field bounded (``_limits``), read from ``ev`` into the row at once (no bounded copy of the event made
    first: every change records one)."""
    limits = _limits(log)
    content: dict[str, Any] = {"occurred_at": occurred_at, "time_zone": time_zone}
    for name in _FIELDS:
        value = getattr(ev, name)
        limit = limits[name]
        content[name] = value if len(value) <= limit else bounded(value, limit)
    return content


def record(session: Session, tables: RuntimeTables, events: Sequence[AuditEvent], now: datetime) -> None:
    """Record entries inside the caller's transaction, so they commit or vanish with the change, but not
    linked yet: no lock is taken, and concurrent changes commit side by side. The process's ``Chainer``,
    woken by the commit, links them into the chain (``link``) within about 50 milliseconds; until then they
    are in ``audit_pending``, which ``verify`` counts and the auditor's calls link first."""
    if not events:
        return
    log = tables.audit_log
    rows = [_content(ev, log, now) for ev in events]
    _insert(tables.audit_pending).execute(session, rows)
    session.info[PENDING] = True


def append(session: Session, tables: RuntimeTables, events: Sequence[AuditEvent], now: datetime) -> None:
    """Append entries linked at once, inside the caller's transaction, holding the chain's head until it
    commits: for the rare writes that must know their place in the chain (a pruning's entry, a deletion
    certificate's, right after the head it names). A user's change uses ``record``."""
    if not events:
        return
    log = tables.audit_log
    _link_after(session, tables, _lock_head(session, tables), [_content(ev, log, now) for ev in events])


def _lock_head(session: Session, tables: RuntimeTables) -> tuple[bool, int, str]:
    """The head (whether its row exists, seq, hash), locked until the end of the transaction: one
    linking at a time, across every process on the database (SQLite: the writer's lock already)."""
    rows = _head_for_update(tables.audit_head).rows(session)
    return (True, rows[0][0], rows[0][1]) if rows else (False, 0, GENESIS)


def _link_after(
    session: Session, tables: RuntimeTables, locked: tuple[bool, int, str], contents: Sequence[dict[str, Any]]
) -> tuple[int, str]:
    """Link ``contents`` in order after the locked head; the new head."""
    exists = locked[0]
    rows, seq, prev = _chained(locked, contents)
    if not exists:
        session.execute(tables.audit_head.insert().values(id=HEAD_ID, seq=seq, hash=prev))
    else:
        _head_update(tables.audit_head).execute(session, HEAD_ID, {"seq": seq, "hash": prev})
    _insert(tables.audit_log).execute(session, rows)
    return seq, prev


def _chained(
    locked: tuple[bool, int, str], contents: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int, str]:
    """The rows of ``contents`` linked in order after the head ``locked``, and the new head's seq and hash."""
    _, seq, prev = locked
    rows = []
    for content in contents:
        seq += 1
        h = _hash(prev, seq, content["occurred_at"], content["time_zone"], content)
        rows.append({**content, "seq": seq, "prev_hash": prev, "hash": h})
        prev = h
    return rows, seq, prev


def link(session: Session, tables: RuntimeTables, limit: int = LINK_BATCH, *, scan: bool = True) -> int:
    """Link up to ``limit`` recorded entries into the chain, in the order they were recorded (their id),
    inside the caller's transaction: they move from ``audit_pending`` to ``audit_log`` with their seq and
    hashes. Returns how many. ``scan``: look first, without a lock, whether any is pending (none: no lock
    is taken); a linker woken by a commit knows some are and skips that read."""
    pending = tables.audit_pending
    if scan and session.execute(_any_pending(pending)).first() is None:
        return 0
    locked = _lock_head(session, tables)
    # Read after the lock: what another linker moved while this one waited is no longer pending.
    read = _oldest_pending(pending, limit)
    rows = read.converted(session, {})
    if not rows:
        return 0
    names = read.names[1:]  # the id first, then the entry's content
    contents = [dict(zip(names, r[1:], strict=True)) for r in rows]
    ids = [r[0] for r in rows]
    dialect = session.get_bind().dialect.name
    if locked[0] and dialect == "postgresql":
        _move_linked(session, tables, locked, contents, ids)
        return len(rows)
    _link_after(session, tables, locked, contents)
    if dialect == "sqlite":
        # SQLite has one writer, this linking (BEGIN IMMEDIATE): every entry pending up to the last one read
        # was read, so they go by one bound, not a list of ids (an IN list rendered for its length).
        session.execute(_pending_delete_through(pending), {"last": ids[-1]})
    else:
        session.execute(_pending_delete(pending), {"ids": ids})
    return len(rows)


def _move_linked(
    session: Session,
    tables: RuntimeTables,
    locked: tuple[bool, int, str],
    contents: Sequence[dict[str, Any]],
    ids: list[int],
) -> None:
    """PostgreSQL: the linked rows into ``audit_log``, the new head, and the pending rows they were deleted,
    in one statement (``_moving``) instead of three round trips; in the caller's transaction, which holds
    the head's lock."""
    rows, seq, prev = _chained(locked, contents)
    log = tables.audit_log
    linked = json.dumps([{c.name: row[c.name] for c in log.c} for row in rows], default=_iso, ensure_ascii=False)
    params = {"rows": linked, "ids": ids, "new_seq": seq, "new_hash": prev, "head_id": HEAD_ID}
    session.execute(_moving(log, tables.audit_head, tables.audit_pending), params)


def _iso(value: object) -> str:
    """A linked row's time as JSON text (ISO 8601 with its offset, to the microsecond): PostgreSQL reads it
    back into the same ``timestamptz``."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column of an audit entry")


@functools.cache
def _moving(log: Table, head: Table, pending: Table) -> Insert:
    """One statement that deletes the linked entries from ``pending``, moves the head and inserts the
    linked rows, given as one JSON array of them (one statement's text whatever the batch's size; read into
    the log's own row type by ``json_populate_recordset``, so one parameter to send instead of an array
    per column, which psycopg dumps element by element in Python)."""
    names = [c.name for c in log.c]
    rows = func.json_populate_recordset(literal_column(f"NULL::{log.name}"), cast(bindparam("rows", type_=Text), JSON))
    linked: Select[Any] = select(*(literal_column(n) for n in names)).select_from(rows.alias("linked"))
    moved = delete(pending).where(pending.c.id == any_(cast(bindparam("ids"), ARRAY(BigInteger)))).cte("moved")
    moved_head = (
        update(head)
        .where(head.c.id == bindparam("head_id"))
        .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
        .cte("moved_head")
    )
    return insert(log).from_select(names, linked).add_cte(moved).add_cte(moved_head)


def link_all(session: Session, tables: RuntimeTables) -> int:
    """Link every recorded entry (``link`` in batches, in one transaction); how many."""
    total = 0
    while (n := link(session, tables)) == LINK_BATCH:
        total += n
    return total + n


def chain_head(session: Session, tables: RuntimeTables) -> tuple[int, str]:
    """The head once every entry committed so far is linked, locked until the caller's transaction ends:
    what a deletion certificate names, its own entry (``append``) then right after it."""
    link_all(session, tables)
    _, seq, prev = _lock_head(session, tables)
    return seq, prev


def pending_count(session: Session, tables: RuntimeTables) -> int:
    """How many recorded entries are not linked yet."""
    return int(session.execute(select(func.count()).select_from(tables.audit_pending)).scalar() or 0)


class Chainer:
    """Links the entries that changes record unlinked (``record``) into the chain: a task on the service's
    event loop, like the outbox relay. The commit of a change that recorded entries wakes it (from the
    thread that committed; ``jitlib.db.Database.on_commit``); it waits ``linger_seconds`` so that the
    commits of a burst, or of the 10 to 50 changes made one after the other meanwhile, are linked together
    (a linking transaction costs about what a change does), then links them in batches of ``batch``
    (woken, it knows entries are pending and reads no more to find out). A scan every
    ``poll_seconds`` while idle, and one at start, links what no wake announced: a process that crashed
    between its commit and the linking, another replica's entries. Linkers never interleave: each takes
    the head's lock (SQLite: the one writer) before reading what is pending."""

    def __init__(
        self,
        database: Database,
        tables: RuntimeTables,
        *,
        linger_seconds: float = 0.05,
        poll_seconds: float = 1.0,
        batch: int = LINK_BATCH,
    ) -> None:
        self._db = database
        self._tables = tables
        self._linger = linger_seconds
        self._poll = poll_seconds
        self._batch = batch
        self._wakeup = asyncio.Event()
        #: A wake asked and not yet taken by the next linking: the commits of a burst (from worker threads,
        #: each an ``after_commit``) ask the loop once, not once each (``wake``).
        self._asked = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        database.on_commit(self._committed)

    def _committed(self, session: Session) -> None:
        if session.info.pop(PENDING, False):
            self.wake()

    def wake(self) -> None:
        """Link soon: entries were recorded and committed (callable from any thread). Once asked, a wake
        is not asked again until the next linking takes it (``_run`` clears ``_asked`` before it reads
        what is pending, so what committed before a skipped wake is read by that linking): a call to the
        loop from a worker thread writes to its wake-up socket, which lets go of the GIL."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not started: its first scan finds them
        if self._asked:
            return
        self._asked = True
        if threading.get_ident() == self._thread:
            self._wakeup.set()
        else:
            loop.call_soon_threadsafe(self._wakeup.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._task = asyncio.create_task(self._run(), name="audit-chainer")

    async def stop(self) -> None:
        """Stop, after one last linking of what is pending (bounded in time)."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout=3.0)
        self._loop = None

    async def link_pending(self, *, scan: bool = True) -> int:
        """One linking transaction (at most ``batch`` entries); how many it linked (``scan``: see ``link``)."""
        batch = self._batch
        with suppress_instrumentation():  # the chainer's own work is not a caller's span
            return await self._db.write(lambda s: link(s, self._tables, batch, scan=scan))

    async def flush(self, *, scan: bool = True) -> int:
        """Link everything pending now (the auditor's calls, before they read the chain); how many."""
        total = 0
        while (n := await self.link_pending(scan=scan)) == self._batch:
            total += n
        return total + n

    async def _run(self) -> None:
        woken = False  # the first pass scans: what a crash or another process left
        while not self._stopping:
            self._wakeup.clear()
            self._asked = False  # before the linking reads: a commit from now on asks again
            try:
                await self.flush(scan=not woken)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("audit chainer error; retrying")
                await asyncio.sleep(1.0)
                continue
            try:
                async with asyncio.timeout(self._poll):  # not wait_for: no task of its own per wake
                    await self._wakeup.wait()
                woken = True
            except TimeoutError:
                woken = False
                continue
            if self._linger and not self._stopping:
                await asyncio.sleep(self._linger)  # let a burst's commits gather into one linking


@functools.cache
def _insert(table: Table) -> CompiledInsert:
    return CompiledInsert(table)


@functools.cache
def _any_pending(pending: Table) -> Select[Any]:
    return select(pending.c.id).limit(1)


@functools.cache
def _oldest_pending(pending: Table, limit: int) -> CompiledSelect:
    """On the transaction's cursor: a linking reads up to ``limit`` rows, their values converted as SQLAlchemy's
    execution converts them, without its result set-up and a mapping per row."""
    return CompiledSelect(select(pending).order_by(pending.c.id).limit(limit))


@functools.cache
def _pending_delete(pending: Table) -> Delete:
    return delete(pending).where(pending.c.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _pending_delete_through(pending: Table) -> Delete:
    return delete(pending).where(pending.c.id <= bindparam("last"))


@functools.cache
def _head_for_update(head_t: Table) -> CompiledSelect:
    # Built once, run on the transaction's cursor: the chain head is read on every linking.
    return CompiledSelect(select(head_t.c.seq, head_t.c.hash).where(head_t.c.id == HEAD_ID).with_for_update())


@functools.cache
def _head_update(head_t: Table) -> CompiledUpdate:
    return CompiledUpdate(head_t, head_t.c.id)


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
    #: Entries recorded with their change and not linked into the chain yet (``record``), when verified.
    pending: int = 0


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
    _head_for_update(tables.audit_head).rows(session)  # one pruning or append at a time
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
    it is appended (``FIELD_MAX``).

    The head is read first and the walk stops at it, so entries a service's chainer links while the walk
    runs are left for the next verify, not taken for a chain cut short. Run as the audit service runs it
    (``Database.read`` ``streamed``: one snapshot, REPEATABLE READ on PostgreSQL), every statement reads
    the chain as it was at the first: a pruning that commits meanwhile is not seen either, and its new
    checkpoint is never read beside the head from before it (``tests/integration/test_db_postgresql.py``,
    ``tests/unit/test_audit_chain.py``)."""
    head_seq, head_hash = head(session, tables)
    cp = checkpoint(session, tables)
    pending = pending_count(session, tables)
    w = _walk(session, tables, cp, head_seq, batch)
    if w.problem:
        return ChainReport(False, w.checked, w.bad_seq, w.problem, w.prev, 0, cp, pending)
    if cp is not None and w.named != (f"{CHECKPOINT_RECORD}:{cp.seq}", cp.hash):
        return ChainReport(
            False, w.checked, cp.seq, "the checkpoint is not the one the last pruning recorded", w.prev, 0, cp, pending
        )
    if head_seq != w.next_seq - 1 or head_hash != w.prev:
        return ChainReport(
            False, w.checked, w.next_seq, "entries after the last one were removed", w.prev, 0, cp, pending
        )
    return ChainReport(True, w.checked, 0, "", w.prev, head_seq, cp, pending)
