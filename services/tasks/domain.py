"""Task rules, pure: the state machine, who acts on which side, and what a valid new task is.

No I/O here: the servicer loads and stores, this module decides. Every function takes ``now`` explicitly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from jitlib import validate
from jitlib.actors import Actor, Versioned, changed, created_record
from jitlib.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jitlib.ids import is_uuid
from jitlib.jurisdictions import is_jurisdiction
from jitlib.policy import TASK_RULES, Operation, RecordAccess, permitted
from jitlib.principal import Principal

OUTCOME_MAX = 10_000
LINKS_MAX = 50


class TaskState(enum.StrEnum):
    PROPOSED = "PROPOSED"
    ASSIGNED = "ASSIGNED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    IN_PROGRESS = "IN_PROGRESS"
    BLOCKED = "BLOCKED"
    DONE = "DONE"
    VERIFIED = "VERIFIED"
    CANCELLED = "CANCELLED"


#: States in which work is still expected: the ones a task can be overdue or cancelled in.
OPEN_STATES = frozenset(
    {
        TaskState.PROPOSED,
        TaskState.ASSIGNED,
        TaskState.DECLINED,
        TaskState.ACCEPTED,
        TaskState.IN_PROGRESS,
        TaskState.BLOCKED,
    }
)

KINDS = frozenset(
    {
        "IDENTIFY_ACCOUNT_HOLDER",
        "OBTAIN_EVIDENCE",
        "PRESERVE_DATA",
        "HEAR_WITNESS",
        "SEARCH_AND_SEIZURE",
        "ANALYSE",
        "VICTIM_SUPPORT",
        "FOLLOW_UP",
        "OTHER",
    }
)
PRIORITIES = frozenset({"LOW", "NORMAL", "HIGH", "URGENT"})
LINK_KINDS = frozenset({"TASK", "EVIDENCE_REQUEST", "PRESERVATION_ORDER", "EVIDENCE_ITEM", "CHANNEL"})


@dataclass(frozen=True)
class Link:
    kind: str
    id: str


@dataclass(frozen=True)
class Task(Versioned):
    id: str
    workspace_id: str
    title: str
    description: str
    kind: str
    origin_jurisdiction: str
    assignee_jurisdiction: str
    priority: str
    due_at: datetime | None
    restricted: bool
    shared_with: tuple[str, ...]
    links: tuple[Link, ...]
    state: TaskState
    state_reason: str = ""
    outcome: str = ""
    blocked_by: tuple[Link, ...] = ()

    def access(self) -> RecordAccess:
        return RecordAccess.of(self, addressee=self.assignee_jurisdiction)

    @property
    def parties(self) -> frozenset[str]:
        return self.access().parties

    def is_overdue(self, now: datetime) -> bool:
        """Derived, never stored: the due date has passed and work is still expected."""
        return self.due_at is not None and self.due_at < now and self.state in OPEN_STATES


@dataclass(frozen=True)
class Transition:
    action: str
    #: Past-tense event name, also the last token of the NATS subject.
    event: str
    operation: Operation
    sources: frozenset[TaskState]
    target: TaskState
    needs_reason: bool = False
    needs_outcome: bool = False


def _t(action: str, event: str, op: Operation, sources: set[TaskState], target: TaskState, **kw: bool) -> Transition:
    return Transition(action, event, op, frozenset(sources), target, **kw)


ISSUER = Operation.ISSUER_ACT
ADDRESSEE = Operation.ADDRESSEE_ACT
S = TaskState
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("assign", "assigned", ISSUER, {S.PROPOSED, S.DECLINED}, S.ASSIGNED),
        _t("accept", "accepted", ADDRESSEE, {S.ASSIGNED}, S.ACCEPTED),
        _t("decline", "declined", ADDRESSEE, {S.ASSIGNED}, S.DECLINED, needs_reason=True),
        _t("start", "started", ADDRESSEE, {S.ACCEPTED}, S.IN_PROGRESS),
        _t("block", "blocked", ADDRESSEE, {S.IN_PROGRESS}, S.BLOCKED, needs_reason=True),
        _t("unblock", "unblocked", ADDRESSEE, {S.BLOCKED}, S.IN_PROGRESS),
        _t("complete", "completed", ADDRESSEE, {S.IN_PROGRESS}, S.DONE, needs_outcome=True),
        _t("verify", "verified", ISSUER, {S.DONE}, S.VERIFIED),
        _t("reopen", "reopened", ISSUER, {S.DONE}, S.IN_PROGRESS, needs_reason=True),
        _t("cancel", "cancelled", ISSUER, set(OPEN_STATES), S.CANCELLED, needs_reason=True),
    )
}


@dataclass(frozen=True)
class TransitionInput:
    reason: str = ""
    outcome: str = ""
    blocked_by: tuple[Link, ...] = ()
    new_assignee: str = ""


def link_violations(field_name: str, links: tuple[Link, ...]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if len(links) > LINKS_MAX:
        out.append(FieldViolation(field_name, f"at most {LINKS_MAX} links"))
    for i, link in enumerate(links[:LINKS_MAX]):
        if link.kind not in LINK_KINDS:
            out.append(FieldViolation(f"{field_name}[{i}].kind", "must be a known record kind"))
        if not is_uuid(link.id):
            out.append(FieldViolation(f"{field_name}[{i}].id", "must be a UUID"))
    return out


def transition_violations(t: Transition, data: TransitionInput) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    out += validate.text("reason", data.reason, required=t.needs_reason, maximum=validate.REASON_MAX)
    out += validate.text("outcome", data.outcome, required=t.needs_outcome, maximum=OUTCOME_MAX)
    if t.action == "block":
        out += link_violations("blocked_by", data.blocked_by)
    if data.new_assignee and (t.action != "assign" or not is_jurisdiction(data.new_assignee)):
        out.append(FieldViolation("assignee_jurisdiction", "must be a jurisdiction code (ISO 3166-1 alpha-2)"))
    return out


def refusal(task: Task, action: str) -> FailedPrecondition | None:
    """Why the task's state does not allow ``action`` now (None when it does): what ``apply`` checks before
    it changes anything, and what ``allowed_actions`` asks."""
    t = TRANSITIONS[action]
    if task.state in t.sources:
        return None
    return FailedPrecondition(
        "ILLEGAL_TRANSITION",
        f"cannot {action} a task that is {task.state.value}",
        {"action": action, "state": task.state.value, "allowed_from": ",".join(sorted(s.value for s in t.sources))},
    )


def allowed_actions(task: Task, principal: Principal) -> tuple[str, ...]:
    """The transitions ``principal`` may take on ``task`` now, in the table's order: the policy allows the
    transition's side (its ``operation``, as the servicer asks it) and the task's state allows it
    (``refusal``). What the task's message tells its caller (``allowed_actions``)."""
    candidates = ((t.action, t.operation, TASK_RULES) for t in TRANSITIONS.values() if refusal(task, t.action) is None)
    return permitted(principal, task.access(), candidates)


def apply(
    task: Task,
    action: str,
    data: TransitionInput,
    *,
    actor: Actor,
    now: datetime,
    members: frozenset[str],
) -> Task:
    """Apply a transition; raises FailedPrecondition when the task's state does not allow it.

    Input must have passed ``transition_violations``; who may act is decided by the policy before.
    """
    t = TRANSITIONS[action]
    problem = refusal(task, action)
    if problem is not None:
        raise problem
    changes: dict[str, object] = {}
    if t.action == "assign" and data.new_assignee and data.new_assignee != task.assignee_jurisdiction:
        if data.new_assignee not in members:
            raise InvalidArgument.one("assignee_jurisdiction", f"{data.new_assignee} is not a member of the workspace")
        changes["assignee_jurisdiction"] = data.new_assignee
    if t.needs_reason or t.action in ("assign", "accept", "start", "unblock", "verify"):
        changes["state_reason"] = data.reason
    if t.action == "block":
        changes["blocked_by"] = data.blocked_by
    if t.action == "unblock":
        changes["blocked_by"] = ()
    if t.action == "complete":
        changes["outcome"] = data.outcome
    return changed(task, actor, now, state=t.target, **changes)


@dataclass(frozen=True)
class NewTask:
    request_id: str
    workspace_id: str
    title: str
    description: str
    kind: str
    assignee_jurisdiction: str
    priority: str
    due_at: datetime | None
    restricted: bool
    shared_with: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    proposal_only: bool = False
    #: Set when a proto enum value was not one we know (so the field can be named in the error).
    unknown_enums: tuple[str, ...] = field(default=())


def new_task_violations(cmd: NewTask, now: datetime) -> list[FieldViolation]:
    """Checks that need no database: formats, lengths, ranges."""
    out: list[FieldViolation] = []
    out += validate.request_id(cmd.request_id)
    out += validate.workspace_id("workspace_id", cmd.workspace_id)
    out += validate.text("title", cmd.title, required=True, maximum=validate.TITLE_MAX)
    out += validate.text("description", cmd.description, required=False, maximum=validate.DESCRIPTION_MAX)
    for name in cmd.unknown_enums:
        out.append(FieldViolation(name, "has an unknown value"))
    if cmd.kind not in KINDS and "kind" not in cmd.unknown_enums:
        out.append(FieldViolation("kind", "is required"))
    if cmd.priority not in PRIORITIES and "priority" not in cmd.unknown_enums:
        out.append(FieldViolation("priority", "must be LOW, NORMAL, HIGH or URGENT"))
    if not cmd.assignee_jurisdiction:
        out.append(FieldViolation("assignee_jurisdiction", "is required"))
    elif not is_jurisdiction(cmd.assignee_jurisdiction):
        out.append(FieldViolation("assignee_jurisdiction", "must be an ISO 3166-1 alpha-2 code or EU body code"))
    out += validate.future_date("due_at", cmd.due_at, now)
    out += validate.shared_with(cmd.shared_with, restricted=cmd.restricted, record="task")
    out += link_violations("links", cmd.links)
    return out


def membership_violations(cmd: NewTask, members: frozenset[str]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if cmd.assignee_jurisdiction and cmd.assignee_jurisdiction not in members:
        out.append(
            FieldViolation("assignee_jurisdiction", f"{cmd.assignee_jurisdiction} is not a member of the workspace")
        )
    out += validate.members("shared_with", cmd.shared_with, members)
    return out


def create(cmd: NewTask, *, task_id: str, actor: Actor, now: datetime) -> Task:
    return Task(
        **created_record(cmd, record_id=task_id, actor=actor, now=now),
        title=cmd.title.strip(),
        description=cmd.description,
        kind=cmd.kind,
        assignee_jurisdiction=cmd.assignee_jurisdiction,
        priority=cmd.priority,
        due_at=cmd.due_at,
        links=cmd.links,
        state=TaskState.PROPOSED if cmd.proposal_only else TaskState.ASSIGNED,
    )
