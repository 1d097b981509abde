"""The audit chain detects an edited, deleted or truncated entry (SQLite in a temp file)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from jitlib import audit, db, sqlexec
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _event(i: int) -> audit.AuditEvent:
    return audit.AuditEvent(
        operation="/jit.tasks.v1.TaskService/CreateTask",
        user_id=f"u{i}",
        username="nl-prosecutor",
        jurisdiction="NL",
        record_type="task",
        record_id=f"r{i}",
        workspace_id="jit-demo",
    )


async def _scenario(url: str, tamper: str) -> audit.ChainReport:
    database = db.Database(url)
    log = RUNTIME.audit_log
    try:
        for i in range(5):
            await database.write(lambda s, i=i: audit.append(s, RUNTIME, [_event(i)], NOW))
        if tamper == "edit":
            await database.write(lambda s: s.execute(update(log).where(log.c.seq == 3).values(username="x")))
        elif tamper == "delete":
            await database.write(lambda s: s.execute(delete(log).where(log.c.seq == 2)))
        elif tamper == "truncate":
            await database.write(lambda s: s.execute(delete(log).where(log.c.seq == 5)))
        return await database.read(lambda s: audit.verify(s, RUNTIME))
    finally:
        database.dispose()


def run(tmp_path: Path, tamper: str) -> audit.ChainReport:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    return asyncio.run(_scenario(url, tamper))


def test_untouched_chain_verifies(tmp_path: Path) -> None:
    report = run(tmp_path, "none")
    assert report.intact and report.entries_checked == 5


def test_edited_entry_is_detected(tmp_path: Path) -> None:
    report = run(tmp_path, "edit")
    assert not report.intact and report.first_bad_seq == 3


def test_deleted_entry_is_detected(tmp_path: Path) -> None:
    report = run(tmp_path, "delete")
    assert not report.intact and report.first_bad_seq == 2


def test_truncated_tail_is_detected(tmp_path: Path) -> None:
    report = run(tmp_path, "truncate")
    assert not report.intact and "removed" in report.problem


def test_an_oversized_field_is_bounded_and_the_chain_still_verifies(tmp_path: Path) -> None:
    """A refusal may name what a caller sent: several MiB of id must not land in the log (issue: audit
    flooding)."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)

    async def scenario() -> tuple[audit.ChainReport, int]:
        database = db.Database(url)
        try:
            huge = audit.AuditEvent(**{**_event(0).__dict__, "record_id": "x" * (4 * 1024 * 1024)})
            await database.write(lambda s: audit.append(s, RUNTIME, [huge], NOW))
            stored = await database.read(lambda s: s.execute(select(RUNTIME.audit_log.c.record_id)).scalar_one())
            return await database.read(lambda s: audit.verify(s, RUNTIME)), len(stored)
        finally:
            database.dispose()

    report, stored_len = asyncio.run(scenario())
    assert report.intact
    assert stored_len == RUNTIME.audit_log.c.record_id.type.length == 64


def test_verification_streams_the_chain_in_bounded_memory(tmp_path: Path) -> None:
    """Verifying does not load the whole log: peak Python memory stays far below the log's size."""
    import tracemalloc

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    wide = [
        audit.AuditEvent(**{**_event(i).__dict__, "record_id": f"{i}-" + "y" * 60, "username": "u" * 250})
        for i in range(6000)
    ]

    async def scenario() -> audit.ChainReport:
        database = db.Database(url)
        try:
            for start in range(0, len(wide), 1000):
                await database.write(lambda s, start=start: audit.append(s, RUNTIME, wide[start : start + 1000], NOW))
            tracemalloc.start()
            report = await database.read(lambda s: audit.verify(s, RUNTIME))
            return report
        finally:
            database.dispose()

    report = asyncio.run(scenario())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.intact and report.entries_checked == 6000
    # 6000 entries of about 0.7 KiB each: loading them at once would take several MiB.
    assert peak < 3 * 1024 * 1024, peak


# -- pruning after 3 years (rule RETENTION_AUDIT_LOG) ---------------------------------------------------

OPERATOR = audit.AuditEvent("", "system", "jit-system", "SYSTEM", "", "", "")


async def _pruned(url: str, tamper: str = "") -> tuple[audit.PruneReport, audit.ChainReport]:
    database = db.Database(url)
    log = RUNTIME.audit_log
    try:
        old = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(4):
            await database.write(lambda s, i=i: audit.append(s, RUNTIME, [_event(i)], old))
        await database.write(lambda s: audit.append(s, RUNTIME, [_event(9)], NOW))
        now = datetime(2029, 6, 1, tzinfo=UTC)
        cutoff = datetime(2026, 6, 1, tzinfo=UTC)
        report = await database.write(lambda s: audit.prune(s, RUNTIME, cutoff, now, OPERATOR))
        await database.write(lambda s: audit.append(s, RUNTIME, [_event(10)], now))
        cp = RUNTIME.audit_checkpoint
        if tamper == "checkpoint-hash":
            await database.write(lambda s: s.execute(update(cp).values(hash="f" * 64)))
        elif tamper == "checkpoint-seq":  # one more entry pruned by hand, the checkpoint moved past it
            first = await database.read(lambda s: s.execute(select(log).where(log.c.seq == 5)).mappings().one())
            await database.write(lambda s: s.execute(delete(log).where(log.c.seq == 5)))
            await database.write(lambda s: s.execute(update(cp).values(seq=5, hash=first["hash"])))
        chain = await database.read(lambda s: audit.verify(s, RUNTIME))
        return report, chain
    finally:
        database.dispose()


def test_retention_audit_log_entries_older_than_the_cutoff_are_pruned_and_the_rest_verifies_from_a_checkpoint(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    report, chain = asyncio.run(_pruned(url))
    assert report.pruned == 4 and report.checkpoint is not None and report.checkpoint.seq == 4
    assert chain.intact, chain.problem
    # entry 5 (kept), the pruning's own entry (6) and one appended after it (7)
    assert chain.entries_checked == 3 and chain.head_seq == 7
    assert chain.checkpoint is not None and chain.checkpoint.seq == 4 and chain.checkpoint.pruned_by == "jit-system"
    assert chain.checkpoint.entries_pruned == 4


def test_a_pruning_is_itself_an_audit_entry_naming_the_checkpoint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    report, _ = asyncio.run(_pruned(url))
    assert report.checkpoint is not None

    async def entries() -> list[dict[str, object]]:
        database = db.Database(url)
        try:
            log = RUNTIME.audit_log
            return await database.read(lambda s: [dict(r) for r in s.execute(select(log)).mappings()])
        finally:
            database.dispose()

    rows = asyncio.run(entries())
    pruning = [r for r in rows if r["operation"] == audit.PRUNED]
    assert len(pruning) == 1
    assert pruning[0]["record_type"] == "audit_checkpoint:4" and pruning[0]["record_id"] == report.checkpoint.hash
    assert pruning[0]["username"] == "jit-system"


def test_a_tampered_checkpoint_hash_is_detected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    _, chain = asyncio.run(_pruned(url, "checkpoint-hash"))
    assert not chain.intact and "checkpoint" in chain.problem


def test_a_checkpoint_moved_past_entries_deleted_by_hand_is_detected(tmp_path: Path) -> None:
    """The link holds (the checkpoint has the deleted entry's real hash) but no pruning recorded it."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    _, chain = asyncio.run(_pruned(url, "checkpoint-seq"))
    assert not chain.intact and chain.problem == "the checkpoint is not the one the last pruning recorded"


def test_a_broken_chain_is_not_pruned(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)

    async def scenario() -> tuple[audit.PruneReport, int]:
        database = db.Database(url)
        log = RUNTIME.audit_log
        try:
            old = datetime(2026, 1, 1, tzinfo=UTC)
            for i in range(3):
                await database.write(lambda s, i=i: audit.append(s, RUNTIME, [_event(i)], old))
            await database.write(lambda s: s.execute(update(log).where(log.c.seq == 2).values(username="x")))
            report = await database.write(
                lambda s: audit.prune(s, RUNTIME, datetime(2027, 1, 1, tzinfo=UTC), NOW, OPERATOR)
            )
            left = await database.read(lambda s: len(s.execute(select(log)).all()))
            return report, left
        finally:
            database.dispose()

    report, left = asyncio.run(scenario())
    assert report.pruned == 0 and "broken at seq 2" in report.problem and left == 3


def test_nothing_older_than_the_cutoff_prunes_nothing_and_a_moved_checkpoint_stops_the_next_pruning(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    asyncio.run(_pruned(url, "checkpoint-seq"))

    async def again() -> tuple[audit.PruneReport, audit.PruneReport]:
        database = db.Database(url)
        try:
            later = datetime(2035, 1, 1, tzinfo=UTC)
            nothing = await database.write(
                lambda s: audit.prune(s, RUNTIME, datetime(2000, 1, 1, tzinfo=UTC), later, OPERATOR)
            )
            refused = await database.write(lambda s: audit.prune(s, RUNTIME, later, later, OPERATOR))
            return nothing, refused
        finally:
            database.dispose()

    nothing, refused = asyncio.run(again())
    assert nothing.pruned == 0 and not nothing.problem
    assert refused.pruned == 0 and refused.problem.startswith("the checkpoint is not the one the last pruning")


# -- entries recorded with their change, linked by the chainer (audit.record, audit.link) --------------


def _migrated(tmp_path: Path) -> db.Database:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    return db.Database(url)


def _record(database: db.Database, indices: range) -> None:
    """One change per entry, each recording it unlinked."""
    for i in indices:
        asyncio.run(database.write(lambda s, i=i: audit.record(s, RUNTIME, [_event(i)], NOW)))


def _statements(database: db.Database) -> list[str]:
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    return seen


def _linked_ids(database: db.Database) -> list[tuple[int, str]]:
    log = RUNTIME.audit_log
    return asyncio.run(
        database.read(lambda s: [tuple(r) for r in s.execute(select(log.c.seq, log.c.record_id).order_by(log.c.seq))])
    )


def test_a_change_records_its_entry_in_one_insert_without_touching_the_chain_head(tmp_path: Path) -> None:
    database = _migrated(tmp_path)
    try:
        seen = _statements(database)
        counted = [0]
        token = sqlexec.statements.set(counted)
        try:
            with Session(database.engine) as s, s.begin():
                audit.record(s, RUNTIME, [_event(0)], NOW)
        finally:
            sqlexec.statements.reset(token)
        # One statement (the INSERT, run on the driver's cursor: SQLAlchemy's execution sees none), no read
        # or update of the chain head.
        assert counted == [1] and seen == []
        report = asyncio.run(database.read(lambda s: audit.verify(s, RUNTIME)))
        # Not linked yet: the chain is intact and empty, and says one entry waits.
        assert report.intact and report.entries_checked == 0 and report.pending == 1
    finally:
        database.dispose()


def test_linking_moves_pending_entries_into_the_chain_in_the_order_they_were_recorded_in_batches(
    tmp_path: Path,
) -> None:
    database = _migrated(tmp_path)
    try:
        asyncio.run(database.write(lambda s: audit.append(s, RUNTIME, [_event(0)], NOW)))  # linked at once
        _record(database, range(1, 8))
        batches = [asyncio.run(database.write(lambda s: audit.link(s, RUNTIME, limit=3))) for _ in range(4)]
        assert batches == [3, 3, 1, 0]
        assert _linked_ids(database) == [(i + 1, f"r{i}") for i in range(8)]
        report = asyncio.run(database.read(lambda s: audit.verify(s, RUNTIME)))
        assert report.intact and report.entries_checked == 8 and report.head_seq == 8 and report.pending == 0
    finally:
        database.dispose()


def test_a_linked_entry_is_as_tamper_evident_as_one_appended_at_once(tmp_path: Path) -> None:
    database = _migrated(tmp_path)
    log = RUNTIME.audit_log
    try:
        _record(database, range(3))
        asyncio.run(database.write(lambda s: audit.link_all(s, RUNTIME)))
        asyncio.run(database.write(lambda s: s.execute(update(log).where(log.c.seq == 2).values(outcome="denied"))))
        report = asyncio.run(database.read(lambda s: audit.verify(s, RUNTIME)))
        assert not report.intact and report.first_bad_seq == 2
    finally:
        database.dispose()


def test_a_rolled_back_change_leaves_no_entry_and_wakes_no_chainer(tmp_path: Path) -> None:
    database = _migrated(tmp_path)
    woken: list[bool] = []
    database.on_commit(lambda s: woken.append(bool(s.info.get(audit.PENDING))))

    def record_then_fail(s: Session) -> None:
        audit.record(s, RUNTIME, [_event(1)], NOW)
        raise RuntimeError("the change failed after its audit entry")

    try:
        with pytest.raises(RuntimeError):
            asyncio.run(database.write(record_then_fail))
        asyncio.run(database.write(lambda s: audit.record(s, RUNTIME, [_event(2)], NOW)))
        assert woken == [True]
        assert asyncio.run(database.write(lambda s: audit.link_all(s, RUNTIME))) == 1
        assert _linked_ids(database) == [(1, "r2")]
    finally:
        database.dispose()


async def _until_linked(database: db.Database, chainer: audit.Chainer, count: int) -> int:
    """Wait (bounded) until ``count`` entries are in the chain; how many are."""
    log = RUNTIME.audit_log
    linked = 0
    for _ in range(500):
        linked = await database.read(lambda s: len(s.execute(select(log.c.seq)).all()))
        if linked >= count:
            break
        await asyncio.sleep(0.02)
    return linked


def test_the_commit_of_a_change_wakes_the_chainer_which_links_its_entries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)

    async def scenario() -> tuple[int, audit.ChainReport]:
        database = db.Database(url)
        # A poll far longer than the wait below: only the commit's wake can link in time.
        chainer = audit.Chainer(database, RUNTIME, poll_seconds=3600)
        chainer.start()
        try:
            await asyncio.sleep(0.05)  # its first scan (nothing pending yet) is done
            for i in range(5):
                await database.write(lambda s, i=i: audit.record(s, RUNTIME, [_event(i)], NOW))
            linked = await _until_linked(database, chainer, 5)
            return linked, await database.read(lambda s: audit.verify(s, RUNTIME))
        finally:
            await chainer.stop()
            database.dispose()

    linked, report = asyncio.run(scenario())
    assert linked == 5 and report.intact and report.pending == 0 and report.head_seq == 5


def test_a_burst_of_commits_from_worker_threads_asks_the_loop_once_a_linking_and_loses_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)

    def burst(database: db.Database, indices: range) -> None:
        for i in indices:  # each its own commit, on this thread (as PostgreSQL's worker threads commit)
            database.write_sync(lambda s, i=i: audit.record(s, RUNTIME, [_event(i)], NOW))

    async def scenario() -> tuple[list[int], audit.ChainReport]:
        database = db.Database(url)
        # Lingering a second after a wake: the burst's twenty commits all fall inside it.
        chainer = audit.Chainer(database, RUNTIME, linger_seconds=1.0, poll_seconds=3600)
        loop = asyncio.get_running_loop()
        asked: list[int] = []
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any, **kwargs: Any) -> Any:
            if callback == chainer._wakeup.set:
                asked.append(1)
            return call_soon_threadsafe(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        chainer.start()
        counts = []
        try:
            await asyncio.sleep(0.05)  # its first scan (nothing pending yet) is done
            for first in (0, 20):  # a burst, then another after the first was linked: asked again
                await asyncio.to_thread(burst, database, range(first, first + 20))
                assert await _until_linked(database, chainer, first + 20) == first + 20
                counts.append(len(asked))
            return counts, await database.read(lambda s: audit.verify(s, RUNTIME))
        finally:
            await chainer.stop()
            database.dispose()

    counts, report = asyncio.run(scenario())
    assert counts == [1, 2]
    assert report.intact and report.pending == 0 and report.head_seq == 40


def test_entries_a_crash_left_unlinked_are_linked_when_the_next_chainer_starts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    crashed = db.Database(url)  # committed its changes, never linked them (no chainer ran)
    _record(crashed, range(3))
    crashed.dispose()

    async def restart() -> int:
        database = db.Database(url)
        chainer = audit.Chainer(database, RUNTIME, poll_seconds=3600)
        chainer.start()
        try:
            return await _until_linked(database, chainer, 3)
        finally:
            await chainer.stop()
            database.dispose()

    assert asyncio.run(restart()) == 3
    after = db.Database(url)
    try:
        assert [r for _, r in _linked_ids(after)] == ["r0", "r1", "r2"]
    finally:
        after.dispose()


def test_a_certificate_names_the_head_with_every_committed_entry_linked_and_its_entry_comes_right_after(
    tmp_path: Path,
) -> None:
    database = _migrated(tmp_path)
    try:
        _record(database, range(2))

        def certify(s: Session) -> tuple[int, str]:
            head = audit.chain_head(s, RUNTIME)
            audit.append(s, RUNTIME, [_event(9)], NOW)
            return head

        seq, head_hash = asyncio.run(database.write(certify))
        assert seq == 2
        rows = asyncio.run(database.read(lambda s: s.execute(select(RUNTIME.audit_log)).mappings().all()))
        after = [r for r in rows if r["seq"] == seq + 1]
        assert after[0]["record_id"] == "r9" and after[0]["prev_hash"] == head_hash
    finally:
        database.dispose()


def test_verify_reads_one_snapshot_while_a_pruning_commits_from_another_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on PostgreSQL (``tests/integration/test_db_postgresql.py``): a pruning that commits after verify
    read the chain's head and before it reads the checkpoint is not seen; SQLite's read transaction reads
    one snapshot of the WAL."""
    database = _migrated(tmp_path)
    other = db.Database(str(database.engine.url))
    try:
        for i in range(6):
            asyncio.run(database.write(lambda s, i=i: audit.append(s, RUNTIME, [_event(i)], NOW)))
        verify_reads_one_snapshot_while_a_pruning_commits(database, other, monkeypatch, NOW + timedelta(days=1))
    finally:
        other.dispose()
        database.dispose()


def verify_reads_one_snapshot_while_a_pruning_commits(
    database: db.Database, other: db.Database, monkeypatch: pytest.MonkeyPatch, later: datetime
) -> None:
    """Both backends' check (a chain of 6 linked entries, all written before ``later``): the retention sweep
    prunes it from ``other`` after verify, a streamed read as the audit service runs it, read the chain's
    head and before it reads the checkpoint. Verify finds the chain as it was before the pruning, intact;
    the next verify reads the pruned chain whole."""
    real_checkpoint, started, pruned = audit.checkpoint, [], []

    def checkpoint_after_a_pruning(session: Session, tables: Any) -> audit.Checkpoint | None:
        if not started:  # the pruning reads the checkpoint too: through the real one
            started.append(True)
            # From a thread of its own, as another process's sweep: not inside this read unit.
            with ThreadPoolExecutor(1) as sweeper:
                sweep = sweeper.submit(other.write_sync, lambda s: audit.prune(s, RUNTIME, later, later, _event(99)))
                pruned.append(sweep.result())
        return real_checkpoint(session, tables)

    monkeypatch.setattr(audit, "checkpoint", checkpoint_after_a_pruning)
    report = asyncio.run(database.read(lambda s: audit.verify(s, RUNTIME), streamed=True))
    assert [p.pruned for p in pruned] == [6]
    assert report.intact, report
    assert report.head_seq == report.entries_checked == 6 and report.checkpoint is None
    monkeypatch.undo()
    after = asyncio.run(database.read(lambda s: audit.verify(s, RUNTIME), streamed=True))
    assert after.intact, after
    assert after.checkpoint is not None and after.checkpoint.seq == 6
    assert after.head_seq == 7 and after.entries_checked == 1


def test_a_verify_on_sqlite_leaves_the_event_loop_serving_and_the_writers_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auditor's verify walks the whole chain (about 1.2 s a 100,000 entries here). On SQLite it runs on
    a thread and a connection of its own: while it holds its snapshot, the event loop goes on serving and a
    write commits; the verify reports the chain as it was at its first statement, the next one the entry
    written meanwhile. (Inline on the loop, nothing else ran until it ended: the write never came.)"""
    database = _migrated(tmp_path)
    try:
        database.write_sync(lambda s: audit.record(s, RUNTIME, [_event(i) for i in range(2000)], NOW))
        database.write_sync(lambda s: audit.link_all(s, RUNTIME))
        real_checkpoint = audit.checkpoint
        written, waited = threading.Event(), []

        async def scenario() -> tuple[audit.ChainReport, int]:
            loop, began, ticks = asyncio.get_running_loop(), asyncio.Event(), [0]

            def checkpoint_after_a_write(session: Session, tables: Any) -> audit.Checkpoint | None:
                loop.call_soon_threadsafe(began.set)  # the head is read: the snapshot is taken
                waited.append(written.wait(timeout=10))
                return real_checkpoint(session, tables)

            monkeypatch.setattr(audit, "checkpoint", checkpoint_after_a_write)

            async def ticker() -> None:
                while True:
                    ticks[0] += 1
                    await asyncio.sleep(0)

            def walk(session: Session) -> tuple[audit.ChainReport, int]:
                start = ticks[0]
                return audit.verify(session, RUNTIME), ticks[0] - start

            ticking = asyncio.create_task(ticker())
            verifying = asyncio.create_task(database.read(walk, streamed=True))
            await began.wait()
            await database.write(lambda s: audit.record(s, RUNTIME, [_event(2000)], NOW))
            written.set()
            report, served = await verifying
            ticking.cancel()
            return report, served

        report, served = asyncio.run(scenario())
        assert waited == [True] and served > 0
        assert report.intact and report.entries_checked == 2000 and report.pending == 0
        monkeypatch.undo()
        again = asyncio.run(database.read(lambda s: audit.verify(s, RUNTIME), streamed=True))
        assert again.intact and again.entries_checked == 2000 and again.pending == 1
    finally:
        database.dispose()
