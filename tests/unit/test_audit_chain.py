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
    return audit.AuditEvent(operation="/jit.tasks.v1.TaskService/CreateTask", user_id=f"u{i}", username="nl-prosecutor",
                            jurisdiction="NL", record_type="task", record_id=f"r{i}", workspace_id="jit-demo")


async def _scenario(url: str, tamper: str) -> audit.ChainReport:
    engine = db.create_engine(url)
    sessions = db.sessionmaker(engine)
    try:
        for i in range(5):
            async with sessions.begin() as s:
                await audit.append(s, RUNTIME, [_event(i)], NOW)
        log = RUNTIME.audit_log
        async with sessions.begin() as s:
            if tamper == "edit":
                await s.execute(update(log).where(log.c.seq == 3).values(username="someone-else"))
            elif tamper == "delete":
                await s.execute(delete(log).where(log.c.seq == 2))
            elif tamper == "truncate":
                await s.execute(delete(log).where(log.c.seq == 5))
        async with sessions() as s:
            return await audit.verify(s, RUNTIME)
    finally:
        await engine.dispose()


def run(tmp_path: Path, tamper: str) -> audit.ChainReport:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
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
