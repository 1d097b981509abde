"""A window of tasks or of evidence requests on PostgreSQL is walked in id order on the workspace's id index,
which carries the window's column and the READ rule's (revisions tasks 0015, evidence 0027): PostgreSQL's
own plan of each page's statement, custom (its values known) and generic (what a statement prepared by the
driver after five runs may be planned as once and kept), over 20,000 rows whose statistics the planner has.
No timing involved (bench/lists.py measures the pages over 100,000 records; bench/README.md, Lists, the
fifteenth pass: a generic plan that sorted the whole window cost 8-13 ms a page)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg.sql import Literal
from sqlalchemy import Integer, String, cast, func, insert, literal, null, select, text
from sqlalchemy.orm import Session

from jitlib import sqlexec
from jitlib.clock import Window
from jitlib.db import Database
from services.evidence import store as evidence
from services.evidence.app import MIGRATIONS as EVIDENCE
from services.evidence.domain import State
from services.tasks import store as tasks
from services.tasks.app import MIGRATIONS as TASKS
from services.tasks.domain import TaskState
from tests.unit.test_list_pages import NOW, SCOPE, VICTIM, WS, database, new_request, new_task

ROWS = 20_000
WORKSPACES = frozenset({WS})


def copies(db: Database, table: Any, window_column: str, days: int) -> None:
    """``ROWS`` rows of ``table`` copied from its one row, each of its own id and request, a third of them
    open to the workspace, their ``window_column`` spread over ``days`` days, without the sealed text and
    answer that the copied row's id seals (a page reads such a row by id, its text empty); then ANALYZE, as
    autovacuum would after such a load."""
    g = func.generate_series(1, ROWS).table_valued("n").render_derived(name="g")
    n = g.c.n
    varied = {
        "id": func.lpad(cast(n, String), 36, "0"),
        "request_id": func.concat("copy-", cast(n, String)),
        "restricted": (n % 3) != 0,
        **{c: null() for c in ("sealed", "sealed_terms", "answer") if c in table.c},
        window_column: literal(NOW) + func.make_interval(0, 0, 0, cast(n % days, Integer), 0, 0, cast(n, Integer)),
    }
    names = [c.name for c in table.columns]
    source = select(*(varied.get(c, table.c[c]) for c in names)).select_from(table).join(g, text("true"))
    with db.engine.begin() as conn:
        conn.execute(insert(table).from_select(names, source))
        conn.exec_driver_sql(f"ANALYZE {table.name}")


def _statement(db: Database, page: Callable[[Session], Any]) -> tuple[str, list[Any]]:
    """The statement that read ``page``'s rows (the last one with a LIMIT it ran), its parameters numbered
    as a prepared statement's, and their values."""
    seen: list[tuple[str, Any]] = []
    token = sqlexec.executed.set(seen)
    try:
        with Session(db.engine, info=db.info) as s:
            page(s)
    finally:
        sqlexec.executed.reset(token)
    sql, args = [(q, a) for q, a in seen if "LIMIT" in q][-1]
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", sql)
    return numbered, [args[name] for name in names]


def _explained(db: Database, page: Callable[[Session], Any], modes: list[str], *, runs: int = 0) -> list[str]:
    """EXPLAIN of ``page``'s statement prepared as the driver prepares it, under each of ``modes`` (of
    ``plan_cache_mode``), each after ``runs`` executions of it under that mode."""
    numbered, values = _statement(db, page)
    out = []
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur:
            literals = ", ".join(Literal(v).as_string(raw) for v in values)  # EXPLAIN binds no parameters
            for mode in modes:
                cur.execute(f"PREPARE page({', '.join(map(_pg_type, values))}) AS {numbered}")
                cur.execute(f"SET plan_cache_mode = {mode}")
                for _ in range(runs):
                    cur.execute(f"EXECUTE page({literals})")
                cur.execute(f"EXPLAIN EXECUTE page({literals})")
                out.append("\n".join(r[0] for r in cur.fetchall()))
                cur.execute("DEALLOCATE page")
        conn.rollback()
    return out


def plans(db: Database, page: Callable[[Session], Any]) -> tuple[str, str]:
    """PostgreSQL's custom and generic plans of the statement that read ``page``'s rows, as EXPLAIN prints
    them."""
    custom, generic = _explained(db, page, ["force_custom_plan", "force_generic_plan"])
    return custom, generic


def walk_condition(plan: str) -> str:
    """The condition a plan tests on the workspace's index (its ``Index Cond`` on ``workspace_id``)."""
    return next((line for line in plan.splitlines() if "Index Cond" in line and "workspace_id" in line), "")


def _pg_type(value: Any) -> str:
    """The PostgreSQL type a statement's parameter is prepared with, from its value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, datetime):
        return "timestamptz"
    return "text"


@pytest.fixture
def db_of(postgres: Any, tmp_path: Path) -> Any:
    made: list[Database] = []

    def make(migrations: Path, metadata: Any) -> Database:
        url = str(postgres.create_database(f"plans_{uuid.uuid4().hex[:12]}"))
        made.append(database(tmp_path, migrations, metadata, url))
        return made[-1]

    yield make
    for db in made:
        db.dispose()


@pytest.mark.parametrize("deep", [False, True])
def test_a_due_window_of_tasks_is_walked_on_the_workspace_index_in_either_plan(db_of: Any, deep: bool) -> None:
    """A 14-day window of tasks due over a year (about 4 % of them, as ``bench.lists`` asks): the walk
    in id order tests the window on the index, no task of the window is sorted."""
    db = db_of(TASKS, tasks.Base.metadata)
    db.write_sync(lambda s: tasks.TASKS.insert_many(s, [new_task(0, 1)]))
    copies(db, tasks.TaskRow.__table__, "due_at", 365)
    flt = tasks.TaskFilter(due=Window(NOW + timedelta(days=30), NOW + timedelta(days=44)))
    after = "0" * 30 + "010000" if deep else ""
    for plan in plans(db, lambda s: tasks.list_answered(s, SCOPE, WORKSPACES, flt, now=NOW, after_id=after, limit=51)):
        assert "Index Scan using ix_tasks_workspace_walk" in plan, plan
        assert "due_at >=" in walk_condition(plan), plan  # tested on the index, not on each row read
        assert "Sort" not in plan, plan


@pytest.mark.parametrize("deep", [False, True])
def test_a_deadline_window_of_requests_is_walked_on_the_workspace_index_in_either_plan(db_of: Any, deep: bool) -> None:
    """Requests whose next deadline falls within a week, of deadlines spread over 120 days."""
    db = db_of(EVIDENCE, evidence.Base.metadata)
    db.write_sync(lambda s: evidence.REQUESTS.insert_many(s, [new_request(0)]))
    copies(db, evidence.RequestRow.__table__, "next_deadline_at", 120)
    flt = evidence.RequestFilter(deadline_before=NOW + timedelta(days=7))
    after = "0" * 30 + "010000" if deep else ""
    for plan in plans(db, lambda s: evidence.list_answered(s, SCOPE, WORKSPACES, flt, after_id=after, limit=51)):
        assert "Index Scan using ix_evidence_requests_workspace_walk" in plan, plan
        assert "next_deadline_at <" in walk_condition(plan), plan
        assert "Sort" not in plan, plan


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("every", [4000, 2], ids=["named-by-few", "named-by-half"])
def test_a_victims_tasks_are_read_from_the_victims_index_in_either_plan(db_of: Any, deep: bool, every: int) -> None:
    """A victim named by 5 of 20,000 tasks, or by half of them (each task names another victim too, one of
    500 named by 40 tasks each): either plan reads the victim's task ids after the cursor from the victims'
    index (revision 0016) and each task by id, never walking the workspace (a test of each task's list of
    victims walked every task: 68 ms a page in 100,000; bench/README.md, Lists, the sixteenth pass); the
    ids of a victim named by many in id order, stopping at the page's end, none sorted."""
    db = db_of(TASKS, tasks.Base.metadata)
    db.write_sync(lambda s: tasks.TASKS.insert_many(s, [new_task(0, 1)]))
    copies(db, tasks.TaskRow.__table__, "due_at", 365)
    with db.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(select(tasks.TaskRow.id).order_by(tasks.TaskRow.id))]
        others = [{"task_id": i, "victim_ref": f"V-NL-{1000 + n % 500}"} for n, i in enumerate(ids)]  # 40 each
        mine = [{"task_id": i, "victim_ref": VICTIM} for i in ids[::every]]
        conn.execute(insert(tasks.VICTIMS_NAMED.table), others + mine)
        conn.exec_driver_sql("ANALYZE task_victims")
    flt = tasks.TaskFilter(victim_ref=VICTIM)
    after = "0" * 30 + "010000" if deep else ""
    for plan in plans(db, lambda s: tasks.list_answered(s, SCOPE, WORKSPACES, flt, now=NOW, after_id=after, limit=51)):
        assert "Scan on ix_task_victims_victim_task" in plan or "Scan using ix_task_victims_victim_task" in plan, plan
        assert "Seq Scan on tasks" not in plan, plan
        assert "ix_tasks_workspace_walk" not in plan or "= task_victims.task_id" in walk_condition(plan), plan
        if every == 2:  # the victim's 10,000 in id order, to the page's end: none sorted
            assert "Sort" not in plan, plan


@pytest.mark.parametrize("kind", ["tasks", "requests"])
def test_a_page_tests_the_callers_party_on_the_row_it_reads_in_either_plan(db_of: Any, kind: str) -> None:
    """A first page, a deep one and a page by state, of tasks or of requests (two thirds of them
    restricted): the READ rule's party test is on the row's own list of its parties (``PartyIndex``
    ``listed``), which the page reads anyway: no probe of the parties' table for each restricted row it
    passes (0.15-0.25 ms of a page of 50; bench/README.md, Lists, the twentieth pass); a window's page
    keeps the probe (the tests above: its walk on the workspace's index)."""
    if kind == "tasks":
        db = db_of(TASKS, tasks.Base.metadata)
        db.write_sync(lambda s: tasks.TASKS.insert_many(s, [new_task(0, 1)]))
        copies(db, tasks.TaskRow.__table__, "due_at", 365)
        state: Any = tasks.TaskFilter(states=frozenset({TaskState.ASSIGNED}))
        parties = "task_parties"

        def page(flt: Any, after: str) -> Callable[[Session], Any]:
            return lambda s: tasks.list_answered(s, SCOPE, WORKSPACES, flt, now=NOW, after_id=after, limit=51)

        filters: list[Any] = [tasks.TaskFilter(), state]
    else:
        db = db_of(EVIDENCE, evidence.Base.metadata)
        db.write_sync(lambda s: evidence.REQUESTS.insert_many(s, [new_request(0)]))
        copies(db, evidence.RequestRow.__table__, "next_deadline_at", 120)
        parties = "evidence_request_parties"

        def page(flt: Any, after: str) -> Callable[[Session], Any]:
            return lambda s: evidence.list_answered(s, SCOPE, WORKSPACES, flt, after_id=after, limit=51)

        filters = [evidence.RequestFilter(), evidence.RequestFilter(states=frozenset({State.DRAFT}))]
    for flt, after in [(filters[0], ""), (filters[0], "0" * 30 + "010000"), (filters[1], "")]:
        for plan in plans(db, page(flt, after)):
            assert "strpos(parties, " in plan, plan
            assert parties not in plan, plan
            assert "Sort" not in plan and "Seq Scan" not in plan, plan


def test_tasks_overdue_when_none_is_keep_their_custom_plan_once_the_driver_prepares_the_statement(db_of: Any) -> None:
    """Overdue only, when none of 20,000 tasks is (each due in the year ahead): its generic plan walks the
    whole workspace (bench/README.md, Lists, the fifteenth pass, over 100,000: 0.37 ms custom against 5.2
    generic). psycopg prepares a statement on its fifth run, and PostgreSQL's default ``plan_cache_mode``
    (``auto``) may then keep a generic plan for it; it does not here: after ten runs of the prepared
    statement it still plans each run for its values, as ``force_custom_plan`` does."""
    db = db_of(TASKS, tasks.Base.metadata)
    db.write_sync(lambda s: tasks.TASKS.insert_many(s, [new_task(0, 1)]))
    copies(db, tasks.TaskRow.__table__, "due_at", 365)
    flt = tasks.TaskFilter(overdue_only=True)

    def page(s: Session) -> Any:
        return tasks.list_answered(s, SCOPE, WORKSPACES, flt, now=NOW, after_id="", limit=51)

    custom, generic, auto = _explained(db, page, ["force_custom_plan", "force_generic_plan", "auto"], runs=10)
    assert "ix_tasks_workspace_walk" in generic and "$" in walk_condition(generic), generic  # what auto avoids
    assert "ix_tasks_workspace_walk" not in custom, custom
    assert auto == custom, (auto, custom)
