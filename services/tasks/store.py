"""Persistence of tasks (SQLAlchemy 2). Tables, and the queries the servicer needs; no business rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Index,
    String,
    Text,
    and_,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jitlib.clock import as_utc_or_none
from jitlib.db import (
    TS,
    RecordColumns,
    RecordTable,
    new_metadata,
    record_columns,
    record_fields,
    record_indexes,
    runtime_tables,
)
from jitlib.policy import VisibilityScope
from jitlib.records import Stored
from jitlib.visibility import PartyIndex, visible_in
from services.tasks.domain import OPEN_STATES, Link, Task, TaskState


class Base(DeclarativeBase):
    metadata = new_metadata()


RUNTIME = runtime_tables(Base.metadata)


class TaskRow(RecordColumns, Base):
    __tablename__ = "tasks"

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    assignee_jurisdiction: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    links: Mapped[str] = mapped_column(Text)  # JSON [[kind, id], ...]
    blocked_by: Mapped[str] = mapped_column(Text)  # JSON [[kind, id], ...]
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        *record_indexes("tasks"),
        Index("ix_tasks_workspace_state", "workspace_id", "state"),
        Index("ix_tasks_workspace_due", "workspace_id", "due_at"),
    )


#: One row per jurisdiction party to a task: the visibility index of restricted ones.
PARTIES = PartyIndex.declare(
    Base.metadata, "task_parties", record_table="tasks", key="task_id", index="ix_task_parties_jurisdiction_task"
)


def _links_to_json(links: tuple[Link, ...]) -> str:
    return json.dumps([[link.kind, link.id] for link in links])


def _links_from_json(text: str) -> tuple[Link, ...]:
    return tuple(Link(k, i) for k, i in json.loads(text or "[]"))


def to_domain(row: TaskRow) -> Task:
    return Task(
        **record_fields(row),
        title=row.title,
        description=row.description,
        kind=row.kind,
        assignee_jurisdiction=row.assignee_jurisdiction,
        priority=row.priority,
        due_at=as_utc_or_none(row.due_at),
        links=_links_from_json(row.links),
        state=TaskState(row.state),
        state_reason=row.state_reason,
        outcome=row.outcome,
        blocked_by=_links_from_json(row.blocked_by),
    )


def _columns(task: Task) -> dict[str, object]:
    return {
        **record_columns(task),
        "title": task.title,
        "description": task.description,
        "kind": task.kind,
        "assignee_jurisdiction": task.assignee_jurisdiction,
        "priority": task.priority,
        "due_at": task.due_at,
        "links": _links_to_json(task.links),
        "blocked_by": _links_to_json(task.blocked_by),
        "state": task.state.value,
        "state_reason": task.state_reason,
        "outcome": task.outcome,
    }


def get(session: Session, task_id: str) -> Task | None:
    row = session.scalar(select(TaskRow).where(TaskRow.id == task_id))
    return to_domain(row) if row is not None else None


def find_by_request(session: Session, user_id: str, request_id: str) -> Stored[Task] | None:
    row = session.scalar(select(TaskRow).where(TaskRow.created_by_id == user_id, TaskRow.request_id == request_id))
    return Stored(to_domain(row), row.request_digest) if row is not None else None


#: The tasks table's writes: insert, update_if_version (the version guard) and write_replica.
TASKS = RecordTable(TaskRow, PARTIES, _columns)


#: How the tasks table answers the policy's READ rule.
VISIBILITY = PARTIES.terms(TaskRow.id, TaskRow.workspace_id, TaskRow.restricted.is_(False))


@dataclass(frozen=True)
class TaskFilter:
    states: frozenset[TaskState] = frozenset()
    assignee_jurisdiction: str = ""
    origin_jurisdiction: str = ""
    overdue_only: bool = False
    due_after: datetime | None = None
    due_before: datetime | None = None


def list_visible(
    session: Session,
    scope: VisibilityScope,
    workspace_ids: frozenset[str],
    flt: TaskFilter,
    *,
    now: datetime,
    after_id: str,
    limit: int,
) -> list[Task]:
    """Tasks of ``workspace_ids`` the scope may see (the policy's READ rule as SQL), in id (creation) order."""
    conditions = visible_in(TaskRow, scope, VISIBILITY, workspace_ids, flt.states)
    if flt.assignee_jurisdiction:
        conditions.append(TaskRow.assignee_jurisdiction == flt.assignee_jurisdiction)
    if flt.origin_jurisdiction:
        conditions.append(TaskRow.origin_jurisdiction == flt.origin_jurisdiction)
    if flt.overdue_only:
        conditions += [TaskRow.due_at < now, TaskRow.state.in_(sorted(s.value for s in OPEN_STATES))]
    if flt.due_after is not None:
        conditions.append(TaskRow.due_at >= flt.due_after)
    if flt.due_before is not None:
        conditions.append(TaskRow.due_at < flt.due_before)
    if after_id:
        conditions.append(TaskRow.id > after_id)
    rows = session.scalars(select(TaskRow).where(and_(*conditions)).order_by(TaskRow.id).limit(limit))
    return [to_domain(r) for r in rows]
