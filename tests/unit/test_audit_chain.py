"""The audit chain detects an edited, deleted or truncated entry (SQLite in a temp file)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select, update

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
