"""Conversions between the jit.tasks.v1 messages and the domain types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2
from jitlib.mapping import RecordMapping, enum_name, ts_fields_or_none, ts_to_dt
from services.tasks.domain import Link, NewTask, Task, TaskState, TransitionInput

_LINK_PREFIX = "RECORD_KIND_"
#: The fields every task message has, with its state, both ways.
TASK_FIELDS = RecordMapping(tasks_pb2.TaskState, "TASK_STATE_", TaskState, "task state")


def links_from_pb(refs: object) -> tuple[Link, ...]:
    out = []
    for ref in refs:  # type: ignore[attr-defined]
        kind = enum_name(common_pb2.RecordKind, ref.kind, _LINK_PREFIX) or "UNKNOWN"
        out.append(Link(kind, ref.id))
    return tuple(out)


def links_to_pb(links: tuple[Link, ...]) -> list[common_pb2.RecordRef]:
    return [common_pb2.RecordRef(kind=_LINK_PREFIX + lk.kind, id=lk.id) for lk in links]


def new_task_from_pb(req: tasks_pb2.CreateTaskRequest) -> NewTask:
    unknown = []
    kind = enum_name(tasks_pb2.TaskKind, req.kind, "TASK_KIND_")
    if kind is None:
        unknown.append("kind")
    priority = enum_name(tasks_pb2.TaskPriority, req.priority, "TASK_PRIORITY_")
    if priority is None:
        unknown.append("priority")
    elif priority == "UNSPECIFIED":
        priority = "NORMAL"
    record = TASK_FIELDS.new_from_pb(req, unknown)
    return NewTask(
        **record,
        title=req.title,
        description=req.description,
        kind=kind or "",
        assignee_jurisdiction=req.assignee_jurisdiction,
        priority=priority or "",
        due_at=ts_to_dt(req.due_at, req.HasField("due_at")),
        links=links_from_pb(req.links),
        proposal_only=req.proposal_only,
        unknown_enums=tuple(unknown),
        victim_refs=tuple(req.victim_refs),
    )


def task_to_pb(task: Task, now: datetime, allowed_actions: Sequence[str] = ()) -> tasks_pb2.Task:
    """The task as a message; ``allowed_actions`` only in an answer to a caller (``domain.allowed_actions``),
    never in an event's state."""
    return tasks_pb2.Task(**task_fields(task, now, allowed_actions))


def task_fields(
    task: Task, now: datetime | None, allowed_actions: Sequence[str] = (), *, assignee_taken_out: bool = False
) -> dict[str, Any]:
    """The fields of ``task_to_pb``: a list's page makes each task in its answer (``tasks.add(**fields)``),
    not made and then copied in. ``now`` None: without ``overdue`` (``task_answer``). ``assignee_taken_out``
    only in an answer to a caller, as ``allowed_actions``: derived from the directory when read."""
    fields = TASK_FIELDS.to_pb(task)
    fields.update(
        title=task.title,
        description=task.description,
        kind="TASK_KIND_" + task.kind,
        assignee_jurisdiction=task.assignee_jurisdiction,
        priority="TASK_PRIORITY_" + task.priority,
        links=links_to_pb(task.links) if task.links else None,
        state_reason=task.state_reason,
        overdue=task.is_overdue(now) if now is not None else None,
        outcome=task.outcome,
        blocked_by=links_to_pb(task.blocked_by) if task.blocked_by else None,
        allowed_actions=allowed_actions or None,
        assignee_taken_out=assignee_taken_out or None,
        terms_reason=task.terms_reason,
        victim_refs=task.victim_refs or None,
        due_at=ts_fields_or_none(task.due_at),
    )
    return fields


#: The number of the form ``task_answer`` makes: change it with ``task_fields`` (a field added or computed
#: otherwise), with a migration that empties ``tasks.answer`` (``jitlib.answers``).
ANSWER_FORM = 1


def task_answer(task: Task) -> tasks_pb2.Task:
    """The task as ``ListTasks`` answers it, less the caller's ``allowed_actions`` and the clock's
    ``overdue`` (the page adds them): kept with its row (``store.ANSWERS``)."""
    return tasks_pb2.Task(**task_fields(task, None))


def task_from_pb(msg: tasks_pb2.Task) -> Task:
    """A task from the state its events carry (a replica of another node's task)."""
    return Task(
        **TASK_FIELDS.from_pb(msg),
        title=msg.title,
        description=msg.description,
        kind=enum_name(tasks_pb2.TaskKind, msg.kind, "TASK_KIND_") or "UNSPECIFIED",
        assignee_jurisdiction=msg.assignee_jurisdiction,
        priority=enum_name(tasks_pb2.TaskPriority, msg.priority, "TASK_PRIORITY_") or "NORMAL",
        due_at=ts_to_dt(msg.due_at, msg.HasField("due_at")),
        links=links_from_pb(msg.links),
        state_reason=msg.state_reason,
        outcome=msg.outcome,
        blocked_by=links_from_pb(msg.blocked_by),
        terms_reason=msg.terms_reason,
        victim_refs=tuple(msg.victim_refs),
    )


def transition_input(request: Any) -> TransitionInput:
    """The transition data any of the transition request messages carries (fields by name)."""
    fields = request.DESCRIPTOR.fields_by_name
    priority = ""
    if "priority" in fields:
        name = enum_name(tasks_pb2.TaskPriority, request.priority, "TASK_PRIORITY_")
        priority = "?" if name is None else ("" if name == "UNSPECIFIED" else name)
    return TransitionInput(
        reason=request.reason if "reason" in fields else "",
        outcome=request.outcome if "outcome" in fields else "",
        blocked_by=links_from_pb(request.blocked_by) if "blocked_by" in fields else (),
        new_assignee=request.assignee_jurisdiction if "assignee_jurisdiction" in fields else "",
        due_at=ts_to_dt(request.due_at, request.HasField("due_at")) if "due_at" in fields else None,
        clear_due_at=bool(request.clear_due_at) if "clear_due_at" in fields else False,
        priority=priority,
    )
