"""The filters of ListTasks and ListRequests are answered from their indexes: SQLite's own plan of each
page's query (no timing involved; bench/lists.py measures them over 100,000 records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from jitlib import db as jitlib_db
from jitlib import sqlexec
from jitlib.clock import Window
from jitlib.db import migrate
from jitlib.policy import VisibilityScope
from services.evidence import store as evidence
from services.evidence.app import MIGRATIONS as EVIDENCE
from services.tasks import store as tasks
from services.tasks.app import MIGRATIONS as TASKS

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SCOPE = VisibilityScope(frozenset({"jit-a"}), "NL", True)
WORKSPACES = frozenset({"jit-a"})


def page_plans(tmp_path: Path, migrations: Path, page: Any, *, queries: list[str] | None = None) -> list[str]:
    """SQLite's plan of each page query ``page(session)`` runs (the ones in id order with a LIMIT), in turn;
    their SQL appended to ``queries`` when given."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(migrations, url)
    engine = create_engine(url)
    seen: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append((a[2], a[3])))
    token = sqlexec.executed.set(seen)  # the page's rows are read below SQLAlchemy's execution
    try:
        with engine.connect() as conn, Session(conn) as session:
            page(session)
            pages = [(q, p) for q, p in seen if "LIMIT" in q and "ORDER BY" in q]
            if queries is not None:
                queries += [q for q, _ in pages]
            plans = [conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all() for sql, params in pages]
            return ["\n".join(str(r[-1]) for r in rows) for rows in plans]
    finally:
        sqlexec.executed.reset(token)
        engine.dispose()


def page_plan(tmp_path: Path, migrations: Path, page: Any) -> str:
    """SQLite's plan of the page query that gave ``page(session)``'s page (the last one it ran)."""
    return page_plans(tmp_path, migrations, page)[-1]


def test_a_deadline_window_of_requests_is_chosen_from_its_covering_index(tmp_path: Path) -> None:
    """The window's candidates are found, tested for visibility (restricted, addressed to the caller) and
    sorted by id on the index alone, never read from the table (revision 0018)."""
    flt = evidence.RequestFilter(deadline_before=NOW + timedelta(days=7))
    text = page_plan(
        tmp_path, EVIDENCE, lambda s: evidence.list_answered(s, SCOPE, WORKSPACES, flt, after_id="", limit=51)
    )
    assert "COVERING INDEX ix_evidence_requests_workspace_deadline_visible" in text, text
    assert "SCAN evidence_requests" not in text, text


@pytest.mark.parametrize("deep", [False, True])
def test_a_due_window_of_tasks_is_chosen_from_its_covering_index(tmp_path: Path, deep: bool) -> None:
    """A window holding few tasks (here none), on its first page and after a cursor alike: the cursor does
    not make SQLite walk the whole workspace in id order instead (``RecordTable._window_page``)."""
    after = "01935c4e-0000-7000-8000-000000000001" if deep else ""
    flt = tasks.TaskFilter(due=Window(NOW + timedelta(days=30), NOW + timedelta(days=44)))
    text = page_plan(
        tmp_path, TASKS, lambda s: tasks.list_answered(s, SCOPE, WORKSPACES, flt, now=NOW, after_id=after, limit=51)
    )
    assert "COVERING INDEX ix_tasks_workspace_due_visible" in text, text
    assert "SCAN tasks" not in text, text


@pytest.mark.parametrize("deep", [False, True])
def test_a_large_window_is_walked_in_id_order_first(tmp_path: Path, deep: bool, monkeypatch: Any) -> None:
    """A window counted as large (here: any) is walked on the workspace's id index, the window and
    ``restricted`` tested on that index without reading the table (revision 0015), before its own index
    sorts it (here: the walk finds nothing, so both run)."""
    monkeypatch.setattr(jitlib_db, "_SMALL_WINDOW", 0)
    after = "01935c4e-0000-7000-8000-000000000001" if deep else ""
    flt = tasks.TaskFilter(due=Window(NOW + timedelta(days=30), NOW + timedelta(days=44)))
    queries: list[str] = []
    walked, sorted_ = page_plans(
        tmp_path,
        TASKS,
        lambda s: tasks.list_answered(s, SCOPE, WORKSPACES, flt, now=NOW, after_id=after, limit=51),
        queries=queries,
    )
    walk = "(workspace_id=? AND id>?)" if deep else "(workspace_id=?)"
    assert f"COVERING INDEX ix_tasks_workspace_walk {walk}" in walked, walked
    assert "TEMP B-TREE" not in walked and "SCAN tasks" not in walked, walked
    assert "COVERING INDEX ix_tasks_workspace_due_visible" in sorted_, sorted_
    # The walk compares the due dates without the column's NUMERIC affinity; the sort seeks on them.
    assert "+ tasks.due_at >= ?" in queries[0] and "+ tasks.due_at < ?" in queries[0], queries[0]
    assert "+ tasks.due_at" not in queries[1] and "tasks.due_at >= ?" in queries[1], queries[1]


@pytest.mark.parametrize("deep", [False, True])
def test_a_large_deadline_window_is_walked_on_the_workspace_index(tmp_path: Path, deep: bool, monkeypatch: Any) -> None:
    """Requests the same way: the deadline window and the READ rule's ``restricted`` and
    ``addressee_reader`` tested on the workspace's id index (revision 0027)."""
    monkeypatch.setattr(jitlib_db, "_SMALL_WINDOW", 0)
    after = "01935c4e-0000-7000-8000-000000000001" if deep else ""
    flt = evidence.RequestFilter(deadline_before=NOW + timedelta(days=7))
    queries: list[str] = []
    walked, sorted_ = page_plans(
        tmp_path,
        EVIDENCE,
        lambda s: evidence.list_answered(s, SCOPE, WORKSPACES, flt, after_id=after, limit=51),
        queries=queries,
    )
    assert "+ evidence_requests.next_deadline_at < ?" in queries[0], queries[0]
    walk = "(workspace_id=? AND id>?)" if deep else "(workspace_id=?)"
    assert f"COVERING INDEX ix_evidence_requests_workspace_walk {walk}" in walked, walked
    assert "TEMP B-TREE" not in walked and "SCAN evidence_requests" not in walked, walked
    assert "COVERING INDEX ix_evidence_requests_workspace_deadline_visible" in sorted_, sorted_


@pytest.mark.parametrize("deep", [False, True])
def test_a_page_of_tasks_is_read_in_id_order_from_the_workspace_index(tmp_path: Path, deep: bool) -> None:
    """The first page and a deep one (after an id) alike: no sort, no scan of the table."""
    after = "01935c4e-0000-7000-8000-000000000001" if deep else ""
    flt = tasks.TaskFilter()
    text = page_plan(
        tmp_path, TASKS, lambda s: tasks.list_answered(s, SCOPE, WORKSPACES, flt, now=NOW, after_id=after, limit=51)
    )
    assert "ix_tasks_workspace_walk (workspace_id=?" in text, text
    assert "TEMP B-TREE" not in text and "SCAN tasks" not in text, text


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize(
    ("migrations", "victims", "table", "page"),
    [
        pytest.param(
            TASKS,
            "ix_task_victims_victim_task (victim_ref=? AND task_id>?)",
            "tasks",
            lambda after: (
                lambda s: tasks.list_answered(
                    s, SCOPE, WORKSPACES, tasks.TaskFilter(victim_ref="V-NL-0007"), now=NOW, after_id=after, limit=51
                )
            ),
            id="tasks",
        ),
        pytest.param(
            EVIDENCE,
            "ix_evidence_request_victims_victim_request (victim_ref=? AND request_id>?)",
            "evidence_requests",
            lambda after: (
                lambda s: evidence.list_answered(
                    s, SCOPE, WORKSPACES, evidence.RequestFilter(victim_ref="V-NL-0007"), after_id=after, limit=51
                )
            ),
            id="requests",
        ),
    ],
)
def test_a_victims_records_are_found_from_the_victims_index(
    tmp_path: Path, migrations: Path, victims: str, table: str, page: Any, deep: bool
) -> None:
    """A list of one victim's records, its first page and a deep one alike: the victim's ids after the
    cursor come from the victims' index (revisions tasks 0016, evidence 0028), in id order, and each is read
    by id; the workspace is not walked from the cursor, nor the records' lists of victims tested one by one."""
    after = "01935c4e-0000-7000-8000-000000000001" if deep else ""
    text = page_plan(tmp_path, migrations, page(after))
    assert f"COVERING INDEX {victims}" in text, text
    assert f"ix_{table}_workspace_walk (workspace_id=? AND id=?)" in text, text
    assert "TEMP B-TREE" not in text and f"SCAN {table}" not in text and "id>?)" not in text.split("LIST")[0], text
