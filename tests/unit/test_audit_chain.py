"""The audit chain detects an edited, deleted or truncated entry (SQLite in a temp file)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from jitlib import audit, db
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


# -- the process's cached head (audit.HeadCache) ---------------------------------------------------------


def _cached(url: str) -> db.Database:
    database = db.Database(url)
    database.info[audit.HEAD_CACHE] = audit.HeadCache()
    return database


def _statements(database: db.Database) -> list[str]:
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    return seen


async def _two_writers(url: str) -> tuple[audit.ChainReport, list[str]]:
    first, second = _cached(url), _cached(url)
    try:
        seen = _statements(first)
        await first.write(lambda s: audit.append(s, RUNTIME, [_event(0)], NOW))
        seen.clear()
        await first.write(lambda s: audit.append(s, RUNTIME, [_event(1)], NOW))
        warm = list(seen)
        # Another process (a replica on the same database) appends: the first one's cached head is stale.
        await second.write(lambda s: audit.append(s, RUNTIME, [_event(2)], NOW))
        await first.write(lambda s: audit.append(s, RUNTIME, [_event(3)], NOW))
        await second.write(lambda s: audit.append(s, RUNTIME, [_event(4)], NOW))
        return await first.read(lambda s: audit.verify(s, RUNTIME)), warm
    finally:
        first.dispose()
        second.dispose()


def test_an_append_after_another_process_appended_links_to_the_real_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    report, warm = asyncio.run(_two_writers(url))
    assert report.intact and report.entries_checked == 5 and report.head_seq == 5
    # With its head cached, an append moves the head (checking it) and inserts the entry: no locked read.
    assert warm == ["UPDATE", "INSERT"]


async def _rolled_back(url: str) -> audit.ChainReport:
    database = _cached(url)
    try:
        await database.write(lambda s: audit.append(s, RUNTIME, [_event(0)], NOW))

        def append_then_fail(s: Session) -> None:
            audit.append(s, RUNTIME, [_event(1)], NOW)
            raise RuntimeError("the change failed after its audit entry")

        with pytest.raises(RuntimeError):
            await database.write(append_then_fail)
        await database.write(lambda s: audit.append(s, RUNTIME, [_event(2)], NOW))
        return await database.read(lambda s: audit.verify(s, RUNTIME))
    finally:
        database.dispose()


def test_an_append_after_a_rolled_back_one_links_to_the_committed_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.migrate(MIGRATIONS, url)
    report = asyncio.run(_rolled_back(url))
    assert report.intact and report.entries_checked == 2 and report.head_seq == 2
