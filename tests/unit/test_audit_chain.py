"""The audit chain detects an edited, deleted or truncated entry (SQLite in a temp file)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, update

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
