"""Two linkers of the audit chain (two replicas' chainers on one database) never interleave: while changes
keep recording entries, both link concurrently, and every entry ends in the chain exactly once, the chain
intact (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy import select

from jitlib import audit, db
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ENTRIES = 240


def _event(i: int) -> audit.AuditEvent:
    return audit.AuditEvent("/jit.tasks.v1.TaskService/CreateTask", f"u{i}", "nl", "NL", "task", f"r{i}", "jit-x")


def test_two_chainers_on_one_database_never_interleave_and_link_each_entry_once(db_url: str) -> None:
    db.migrate(MIGRATIONS, db_url)
    writer, first, second = db.Database(db_url), db.Database(db_url), db.Database(db_url)
    done = threading.Event()
    linked: dict[str, int] = {"first": 0, "second": 0}
    errors: list[tuple[str, BaseException]] = []

    def record() -> None:
        try:
            i = k = 0
            while i < ENTRIES:  # changes of one to three entries
                batch = [_event(j) for j in range(i, min(i + 1 + k % 3, ENTRIES))]
                writer.write_sync(lambda s, b=batch: audit.record(s, RUNTIME, b, NOW))
                i, k = i + len(batch), k + 1
        except BaseException as exc:
            errors.append(("record", exc))
        finally:
            done.set()

    def chain(name: str, database: db.Database) -> None:
        try:
            while True:
                finished = done.is_set()
                n = database.write_sync(lambda s: audit.link(s, RUNTIME, limit=7))
                linked[name] += n
                if finished and database.write_sync(lambda s: audit.pending_count(s, RUNTIME)) == 0:
                    return
                if n == 0:
                    # A service's chainer waits for a wake when nothing is pending; two that spun here
                    # would hold SQLite's write lock almost all the time and starve the recording writer
                    # past its busy timeout ("database is locked" under a loaded CI run).
                    time.sleep(0.002)
        except BaseException as exc:
            errors.append((name, exc))

    threads = [
        threading.Thread(target=record),
        threading.Thread(target=chain, args=("first", first)),
        threading.Thread(target=chain, args=("second", second)),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        log = RUNTIME.audit_log
        ids = writer.write_sync(lambda s: list(s.execute(select(log.c.record_id)).scalars()))
        report = writer.write_sync(lambda s: audit.verify(s, RUNTIME))
    finally:
        for d in (writer, first, second):
            d.dispose()
    assert Counter(ids) == Counter(f"r{i}" for i in range(ENTRIES))
    assert linked["first"] + linked["second"] == ENTRIES
    assert report.intact and report.entries_checked == ENTRIES and report.head_seq == ENTRIES and report.pending == 0


def test_a_linking_moves_its_entries_in_one_statement_on_postgresql(db_url: str, spans: Any) -> None:
    """On PostgreSQL the linked rows, the new head and the pending rows' deletion go out as one statement
    after the head's lock and the read of what is pending (3 statements; SQLite: 5), the chain intact."""
    db.migrate(MIGRATIONS, db_url)
    database = db.Database(db_url)
    tracer = trace.get_tracer("test")
    counts = []

    def moved(first: int) -> list[audit.AuditEvent]:
        return [
            audit.AuditEvent("/jit.tasks.v1.TaskService/CreateTask", "u", "nl", "NL", "task", f"m{i}", "x")
            for i in range(first, first + 5)
        ]

    try:
        database.write_sync(lambda s: audit.link_all(s, RUNTIME))  # what an earlier test left
        start = database.write_sync(lambda s: audit.verify(s, RUNTIME)).head_seq
        for first in (0, 5, 10):
            database.write_sync(lambda s, f=first: audit.record(s, RUNTIME, moved(f), NOW))
            with tracer.start_as_current_span("linking") as outer:
                assert database.write_sync(lambda s: audit.link(s, RUNTIME, scan=False)) == 5
            trace_id = outer.get_span_context().trace_id
            (write,) = [
                x for x in spans.get_finished_spans() if x.context.trace_id == trace_id and x.name == "db write"
            ]
            counts.append(write.attributes["db.statement_count"])
        report = database.write_sync(lambda s: audit.verify(s, RUNTIME))
        log = RUNTIME.audit_log
        ids = database.write_sync(lambda s: list(s.execute(select(log.c.record_id).where(log.c.seq > start)).scalars()))
    finally:
        database.dispose()
    assert counts == ([5, 5, 5] if database.sqlite else [3, 3, 3])
    assert report.intact and report.head_seq == start + 15 and report.pending == 0
    assert ids == [f"m{i}" for i in range(15)]  # in the order they were recorded


def test_linked_entries_keep_their_text_and_time_exactly(db_url: str) -> None:
    """What a linking writes is what was recorded, to the character and the microsecond: quotes, backslashes
    and letters outside ASCII in the audited fields, a time with microseconds (on PostgreSQL the linked rows
    go out as JSON text, ``audit._moving``); the chain verifies intact."""
    db.migrate(MIGRATIONS, db_url)
    database = db.Database(db_url)
    at = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)
    names = ['Zoë "de" O\'Brien', "back\\slash", "東京 ñ\ttab"]
    events = [
        audit.AuditEvent("/jit.tasks.v1.TaskService/CreateTask", f"t{i}", name, "NL", "task", f"q{i}", "jit-x")
        for i, name in enumerate(names)
    ]
    try:
        database.write_sync(lambda s: audit.link_all(s, RUNTIME))  # what an earlier test left
        start = database.write_sync(lambda s: audit.verify(s, RUNTIME)).head_seq
        database.write_sync(lambda s: audit.record(s, RUNTIME, events, at))
        assert database.write_sync(lambda s: audit.link(s, RUNTIME, scan=False)) == 3
        log = RUNTIME.audit_log
        rows = database.write_sync(
            lambda s: s.execute(
                select(log.c.username, log.c.record_id, log.c.occurred_at).where(log.c.seq > start).order_by(log.c.seq)
            ).all()
        )
        report = database.write_sync(lambda s: audit.verify(s, RUNTIME))
    finally:
        database.dispose()
    assert [(r.username, r.record_id) for r in rows] == [(name, f"q{i}") for i, name in enumerate(names)]
    assert [r.occurred_at.replace(tzinfo=UTC) for r in rows] == [at, at, at]
    assert report.intact and report.head_seq == start + 3 and report.pending == 0
