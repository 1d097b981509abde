"""Persistence of tasks (SQLAlchemy 2). Tables, and the queries the servicer needs; no business rules."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Index, LargeBinary, String, Text, bindparam, exists, literal, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jit.tasks.v1 import tasks_pb2
from jitlib.answers import Answers
from jitlib.clock import Window, as_utc_or_none
from jitlib.db import TS, RecordColumns, RecordFields, RecordTable, listed
from jitlib.fields import same_fields
from jitlib.policy import RecordAccess, VisibilityScope
from jitlib.sealing import SealedText
from jitlib.tables import ServiceBase
from jitlib.visibility import BoundFilter, PartyIndex, VictimIndex
from services.tasks.domain import OPEN_STATES, Link, Task, TaskState
from services.tasks.mapping import ANSWER_FORM, task_answer


class Base(ServiceBase, DeclarativeBase, victims=True, withdrawals=True):
    """The tasks' tables, and jitlib's (``Base.tables``): the task text is sealed per workspace, tasks name
    victims by pseudonym, and a peer's task reassigned away from this node's country leaves a tombstone."""


RUNTIME, VICTIMS, TOMBSTONES = Base.tables.runtime, Base.tables.victims, Base.tables.replica_tombstones


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
    #: The free text above (title, description, state reason, outcome), sealed under the workspace's
    #: content key; their own columns stay empty (NULL: a row from before sealing, sealed at start).
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Why the issuer last renegotiated the due date or priority; sealed in ``sealed_terms`` (its own
    #: column: the fields sealed together are bound into ``sealed``, which rows before it cannot change).
    terms_reason: Mapped[str] = mapped_column(Text, server_default="")
    sealed_terms: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The victims the task concerns, comma-separated pseudonyms (``V-NL-0007``): in clear, as they are
    #: no words about the victim and lists filter by them; who they are is in the victims service alone.
    victim_refs: Mapped[str] = mapped_column(Text, server_default="")
    #: The task as ``ListTasks`` answers it, sealed (``ANSWERS``, revision 0014); NULL until written.
    answer: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The jurisdictions party to the task, each between commas (``,DE,NL,``; revision 0017), written with
    #: its ``task_parties`` rows: what a PostgreSQL page tests for the READ rule (``PartyIndex`` ``listed``).
    parties: Mapped[str] = mapped_column(Text, server_default="")

    __table_args__ = (
        # A List's filters in its id order (revision 0009): a state, and a due window (covering, with the
        # visibility test's ``restricted``).
        Index("ix_tasks_workspace_state_id", "workspace_id", "state", "id"),
        Index("ix_tasks_workspace_due_visible", "workspace_id", "due_at", "restricted", "id"),
        # The rows whose answer is still to be written (few: those of before revision 0014), for the fill job.
        Index(
            "ix_tasks_answer_missing",
            "id",
            sqlite_where=text("answer IS NULL"),
            postgresql_where=text("answer IS NULL"),
        ),
    )


#: What users write about a task, sealed at rest.
SEALED = SealedText(TaskRow, ("title", "description", "state_reason", "outcome"))
SEALED_TERMS = SealedText(TaskRow, ("terms_reason",), column="sealed_terms")


class _BothSealed:
    """Each write seals the task's text into both sealed columns."""

    def seal_columns(
        self, session: Session, columns: dict[str, object], record_id: str, workspace_id: str
    ) -> dict[str, object]:
        columns = SEALED.seal_columns(session, columns, record_id, workspace_id)
        return SEALED_TERMS.seal_columns(session, columns, record_id, workspace_id)


#: One row per jurisdiction party to a task: the visibility index of restricted ones.
#: One row per victim a task names: a victim's tasks without testing every task's list (revision 0016).
VICTIMS_NAMED = VictimIndex.declare(TaskRow, "task_victims", key="task_id", index="ix_task_victims_victim_task")
PARTIES = PartyIndex.declare(
    TaskRow,
    "task_parties",
    key="task_id",
    index="ix_task_parties_jurisdiction_task",
    victims=VICTIMS_NAMED,
    listed="parties",
)


def _links_to_json(links: tuple[Link, ...]) -> str:
    if not links:  # most tasks link nothing: json.dumps([]), without the encoder
        return "[]"
    return json.dumps([[link.kind, link.id] for link in links])


def _links_from_json(text: str) -> tuple[Link, ...]:
    if not text or text == "[]":  # most tasks link nothing: no parse for each of a page's tasks
        return ()
    return tuple(Link(k, i) for k, i in json.loads(text))


#: The fields of a task kept in columns of the same name (and those every record has).
FIELDS = RecordFields(
    same=(
        "title",
        "description",
        "kind",
        "assignee_jurisdiction",
        "priority",
        "state_reason",
        "outcome",
        "terms_reason",
    ),
    times=("due_at",),
    enums={"state": TaskState},
    lists=("victim_refs",),
)


def to_domain(row: TaskRow) -> Task:
    return FIELDS.load(Task, row, links=_links_from_json(row.links), blocked_by=_links_from_json(row.blocked_by))


def _columns(task: Task) -> dict[str, object]:
    return {
        **FIELDS.write(task),
        "links": _links_to_json(task.links),
        "blocked_by": _links_to_json(task.blocked_by),
    }


#: Each task as ``ListTasks`` answers it, written with its row (``jitlib.answers``).
ANSWERS = Answers(
    TaskRow,
    tasks_pb2.Task,
    lambda task: task_answer(task).SerializeToString(),
    form=ANSWER_FORM,
    load=lambda _session, rows: [to_domain(r) for r in rows],
)

#: The tasks table: get, find_by_request, pages, and its writes: insert, update_if_version (the version
#: guard) and write_replica.
#: Its pages walked in id order test a due window and the READ rule's ``restricted`` on the workspace's
#: id index (revision 0015).
TASKS = RecordTable(
    TaskRow,
    PARTIES,
    _columns,
    lambda _session, row: to_domain(row),
    sealed=_BothSealed(),
    answers=ANSWERS,
    walked=("due_at", "restricted"),
)
get = TASKS.get
find_by_request = TASKS.find_by_request


@dataclass(frozen=True)
class TaskFilter:
    states: frozenset[TaskState] = frozenset()
    assignee_jurisdiction: str = ""
    origin_jurisdiction: str = ""
    overdue_only: bool = False
    #: When they are due.
    due: Window = field(default_factory=Window)
    victim_ref: str = ""
    #: Only tasks whose assignee was taken out of their workspace (``domain.assignee_taken_out``).
    assignee_taken_out: bool = False


class Listed(NamedTuple):
    """A task of a page as ``ListTasks`` answers it: its stored answer (``ANSWERS``) with what the page adds
    to it, or, where that does not open, the task read from its row (``task``; None too when it was deleted
    since the page was read: left out of the answer, counted for its token)."""

    id: str
    workspace_id: str
    state: TaskState
    due_at: datetime | None
    #: The policy's facts of the task (``Task.access``), from its columns.
    access: RecordAccess
    answer: bytes | None
    task: Task | None


#: The columns a page answered from ``ANSWERS`` reads besides the answer's own (``answered_page``).
_LISTED = ("origin_jurisdiction", "assignee_jurisdiction", "restricted", "shared_with", "state", "due_at")
_STATES = {s.value: s for s in TaskState}


def list_answered(
    session: Session,
    scope: VisibilityScope,
    workspace_ids: frozenset[str],
    flt: TaskFilter,
    *,
    now: datetime,
    after_id: str,
    limit: int,
) -> list[Listed]:
    """Tasks of ``workspace_ids`` the scope may see (the policy's READ rule as SQL), in id (creation) order,
    as their stored answers (``Listed``)."""
    bound = _bound(scope, workspace_ids, flt, now)
    out = []
    for r, answer, task in TASKS.answered_page(session, bound, after_id=after_id, limit=limit, columns=_LISTED):
        access = _listed_access(
            r.workspace_id, r.origin_jurisdiction, r.assignee_jurisdiction, r.restricted, r.shared_with
        )
        out.append(Listed(r.id, r.workspace_id, _STATES[r.state], as_utc_or_none(r.due_at), access, answer, task))
    return out


@functools.lru_cache(maxsize=4096)
def _listed_access(workspace_id: str, origin: str, assignee: str, restricted: bool, shared_with: str) -> RecordAccess:
    """A listed task's ``RecordAccess`` from its columns (``shared_with`` as stored), made once for each set
    of them: a page's tasks share a few (RecordAccess is immutable)."""
    return RecordAccess(workspace_id, origin, assignee, restricted, frozenset(listed(shared_with)))


def _bound(scope: VisibilityScope, workspace_ids: frozenset[str], flt: TaskFilter, now: datetime) -> BoundFilter:
    """The conditions of a list of tasks: the READ rule, then ``flt``'s."""
    equal = same_fields(flt, "assignee_jurisdiction origin_jurisdiction")
    bound = PARTIES.bound(scope, workspace_ids, flt.states, victim_ref=flt.victim_ref, **equal)
    if flt.overdue_only:
        bound.add(
            "overdue", lambda: [TaskRow.due_at < bindparam("now"), TaskRow.state.in_(_OPEN)], window=True, now=now
        )
    bound.add_window("due", TaskRow.due_at, flt.due)
    if flt.assignee_taken_out:
        bound.add("assignee_taken_out", _assignee_taken_out)
    return bound


def _assignee_taken_out() -> Any:
    """The condition "the task's assignee is among its workspace's former members", as the workspace
    directory's row holds them (``former_members``, comma-separated: ``domain.assignee_taken_out`` in SQL):
    one probe of the directory's primary key per candidate, in the page's own statement."""
    ws = RUNTIME.workspaces
    former = literal(",") + ws.c.former_members + literal(",")
    return exists().where(
        ws.c.id == TaskRow.workspace_id,
        former.like(literal("%,") + TaskRow.assignee_jurisdiction + literal(",%")),
    )


_OPEN = sorted(s.value for s in OPEN_STATES)


def follow_ups_of(
    session: Session,
    workspace_id: str,
    order_id: str,
    *,
    creator_id: str,
    states: frozenset[TaskState],
    except_request_id: str = "",
) -> list[Task]:
    """The follow-up tasks ``creator_id`` (the system) opened on this node for the preservation order
    ``order_id``, in ``states``, rows locked until the end of the transaction; not the one made by
    ``except_request_id``."""
    conditions = [
        TaskRow.workspace_id == workspace_id,
        TaskRow.kind == "FOLLOW_UP",
        TaskRow.created_by_id == creator_id,
        TaskRow.state.in_(sorted(s.value for s in states)),
        TaskRow.replicated_at.is_(None),
        TaskRow.links.contains(order_id),
    ]
    if except_request_id:
        conditions.append(TaskRow.request_id != except_request_id)
    rows = session.scalars(select(TaskRow).where(*conditions).order_by(TaskRow.id).with_for_update()).all()
    link = Link("PRESERVATION_ORDER", order_id)
    return [t for t in map(to_domain, rows) if link in t.links]
