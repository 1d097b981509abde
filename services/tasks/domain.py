"""Task rules, pure: the state machine, who acts on which side, and what a valid new task is.

No I/O here: the servicer loads and stores, this module decides. Every function takes ``now`` explicitly.

Tasks rest on no legal text: the state machine is DOMAIN.md's GUESS, with what practitioners do besides
(``jitlib.legal``'s task rows): the issuer renegotiates the terms of its request (TASK_RENEGOTIATION), the
addressee hands an accepted task back (TASK_HAND_BACK).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from jitlib import legal, validate
from jitlib.actors import Actor, Versioned, changed, created_record
from jitlib.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jitlib.fields import same_fields
from jitlib.ids import is_uuid
from jitlib.jurisdictions import is_jurisdiction
from jitlib.policy import (
    TASK_RULES,
    AccessParties,
    Operation,
    RecordAccess,
    former_members,
    offers_by_state,
    permitted,
)
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
    HANDED_BACK = "HANDED_BACK"


#: States in which work is still expected: the ones a task can be overdue or cancelled in.
OPEN_STATES = frozenset(
    {
        TaskState.PROPOSED,
        TaskState.ASSIGNED,
        TaskState.DECLINED,
        TaskState.ACCEPTED,
        TaskState.IN_PROGRESS,
        TaskState.BLOCKED,
        TaskState.HANDED_BACK,
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
class Task(Versioned, AccessParties):
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
    #: Why the issuer last changed ``due_at`` or ``priority`` (renegotiate).
    terms_reason: str = ""
    #: The victims the task concerns, by pseudonym (``validate.VICTIM_REF``), never by words about them.
    victim_refs: tuple[str, ...] = ()

    def access(self) -> RecordAccess:
        return RecordAccess.of(self, addressee=self.assignee_jurisdiction)

    def is_overdue(self, now: datetime) -> bool:
        """Derived, never stored: the due date has passed and work is still expected."""
        return overdue(self.due_at, self.state, now)


def overdue(due_at: datetime | None, state: TaskState, now: datetime) -> bool:
    """``Task.is_overdue`` of a task due at ``due_at`` in ``state`` (a list's stored answers, ``offered``)."""
    return due_at is not None and due_at < now and state in OPEN_STATES


@dataclass(frozen=True)
class Transition:
    action: str
    #: Past-tense event name, also the last token of the NATS subject.
    event: str
    operation: Operation
    sources: frozenset[TaskState]
    #: None: the task stays in its state (renegotiate changes its terms, not where it stands).
    target: TaskState | None
    needs_reason: bool = False
    needs_outcome: bool = False


def _t(
    action: str, event: str, op: Operation, sources: set[TaskState], target: TaskState | None, **kw: bool
) -> Transition:
    return Transition(action, event, op, frozenset(sources), target, **kw)


ISSUER = Operation.ISSUER_ACT
ADDRESSEE = Operation.ADDRESSEE_ACT
S = TaskState
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("assign", "assigned", ISSUER, {S.PROPOSED, S.DECLINED, S.HANDED_BACK}, S.ASSIGNED),
        _t("accept", "accepted", ADDRESSEE, {S.ASSIGNED}, S.ACCEPTED),
        _t("decline", "declined", ADDRESSEE, {S.ASSIGNED}, S.DECLINED, needs_reason=True),
        _t("start", "started", ADDRESSEE, {S.ACCEPTED}, S.IN_PROGRESS),
        _t("block", "blocked", ADDRESSEE, {S.IN_PROGRESS}, S.BLOCKED, needs_reason=True),
        _t("unblock", "unblocked", ADDRESSEE, {S.BLOCKED}, S.IN_PROGRESS),
        _t("complete", "completed", ADDRESSEE, {S.IN_PROGRESS}, S.DONE, needs_outcome=True),
        # TASK_HAND_BACK: the addressee gives back what it accepted; the issuer assigns it again or cancels.
        _t(
            "hand_back",
            "handed_back",
            ADDRESSEE,
            {S.ACCEPTED, S.IN_PROGRESS, S.BLOCKED},
            S.HANDED_BACK,
            needs_reason=True,
        ),
        _t("verify", "verified", ISSUER, {S.DONE}, S.VERIFIED),
        _t("reopen", "reopened", ISSUER, {S.DONE}, S.IN_PROGRESS, needs_reason=True),
        # TASK_RENEGOTIATION: the issuer's new due date and/or priority, with a reason, in any open state.
        _t("renegotiate", "renegotiated", ISSUER, set(OPEN_STATES), None, needs_reason=True),
        # TASK_FOLLOW_UP_CLOSES: the system closes a follow-up task its order's events made moot (done).
        _t("resolve", "resolved", ISSUER, {*OPEN_STATES, S.DONE}, S.VERIFIED, needs_outcome=True),
        _t("cancel", "cancelled", ISSUER, set(OPEN_STATES), S.CANCELLED, needs_reason=True),
    )
}
#: Transitions only the system takes (a follow-up task's closure): no RPC, never in ``allowed_actions``.
SYSTEM_ONLY = frozenset({"resolve"})
#: The table for a task whose assignee was taken out of its workspace (``assignee_taken_out``): its users can
#: no longer act on it, so its issuer takes it back, assigning it to a current member from any open state,
#: an accepted or started one included (``jitlib.legal`` JIT_MEMBER_TAKEN_OUT, TASK_TAKEN_BACK).
TAKEN_OUT_TRANSITIONS: dict[str, Transition] = {
    **TRANSITIONS,
    "assign": replace(TRANSITIONS["assign"], sources=frozenset(OPEN_STATES)),
}


def transitions(taken_out: bool) -> dict[str, Transition]:
    """The transition table of a task whose assignee was (``taken_out``) or was not taken out of its
    workspace: what ``refusal``, ``apply`` and ``allowed_actions`` all read."""
    return TAKEN_OUT_TRANSITIONS if taken_out else TRANSITIONS


def assignee_taken_out(assignee: str, members: Iterable[str]) -> bool:
    """Whether ``assignee`` was taken out of the workspace whose ``members`` (``policy.Members``) these are
    (JIT_MEMBER_TAKEN_OUT); never for a workspace this node does not know yet (a plain set)."""
    return assignee in former_members(members)


def follow_up_opened(issuer: str, members: Iterable[str]) -> bool:
    """Whether a preservation order's expiry opens a follow-up task for its issuing jurisdiction (its origin,
    the task's assignee and issuer): not once ``issuer`` was taken out of the workspace whose ``members`` these
    are (TASK_FOLLOW_UP_NOT_FOR_FORMER_MEMBER: nobody left in the JIT may extend the order or ask for its
    production, and nobody could take the task back); always for a workspace this node does not know yet."""
    return not assignee_taken_out(issuer, members)


@dataclass(frozen=True)
class TransitionInput:
    reason: str = ""
    outcome: str = ""
    blocked_by: tuple[Link, ...] = ()
    new_assignee: str = ""
    #: renegotiate: the new due date (None: unchanged, unless ``clear_due_at``) and priority ("": unchanged;
    #: "?" for a value the proto enum does not know).
    due_at: datetime | None = None
    clear_due_at: bool = False
    priority: str = ""


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


def transition_violations(t: Transition, data: TransitionInput, now: datetime) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    out += validate.text("reason", data.reason, required=t.needs_reason, maximum=validate.REASON_MAX)
    out += validate.text("outcome", data.outcome, required=t.needs_outcome, maximum=OUTCOME_MAX)
    if t.action == "block":
        out += link_violations("blocked_by", data.blocked_by)
    if data.new_assignee and (t.action != "assign" or not is_jurisdiction(data.new_assignee)):
        out.append(FieldViolation("assignee_jurisdiction", "must be a jurisdiction code (ISO 3166-1 alpha-2)"))
    if t.action == "renegotiate":
        out += terms_violations(data, now)
    return out


def terms_violations(data: TransitionInput, now: datetime) -> list[FieldViolation]:
    """A renegotiation's new terms: at least one of them, a due date ahead and bounded, a known priority."""
    out: list[FieldViolation] = []
    if data.due_at is None and not data.clear_due_at and not data.priority:
        out.append(FieldViolation("due_at", "give a new due_at, clear_due_at or a new priority"))
    if data.due_at is not None and data.clear_due_at:
        out.append(FieldViolation("clear_due_at", "give due_at or clear_due_at, not both"))
    out += validate.future_date("due_at", data.due_at, now)
    if data.priority and data.priority not in PRIORITIES:
        out.append(FieldViolation("priority", "must be LOW, NORMAL, HIGH or URGENT"))
    return out


def _allows(task: Task, action: str, taken_out: bool = False) -> bool:
    """Whether the task's state allows ``action`` (``refusal``'s test, without building the refusal)."""
    return task.state in transitions(taken_out)[action].sources


def refusal(task: Task, action: str, taken_out: bool = False) -> FailedPrecondition | None:
    """Why the task's state does not allow ``action`` now (None when it does): what ``apply`` checks before
    it changes anything, and what ``allowed_actions`` asks. ``taken_out``: the task's assignee was taken
    out of its workspace (``assignee_taken_out``), which lets its issuer assign it from any open state."""
    t = transitions(taken_out)[action]
    if _allows(task, action, taken_out):
        return None
    return FailedPrecondition(
        "ILLEGAL_TRANSITION",
        f"cannot {action.replace('_', ' ')} a task that is {task.state.value}",
        {"action": action, "state": task.state.value, "allowed_from": ",".join(sorted(s.value for s in t.sources))},
    )


def allowed_actions(task: Task, principal: Principal, taken_out: bool = False) -> tuple[str, ...]:
    """The transitions ``principal`` may take on ``task`` now, in the table's order: the policy allows the
    transition's side (its ``operation``, as the servicer asks it) and the task's state allows it
    (``refusal``'s test, worked out once per state: a list asks it of every task on a page, so no refusal
    is built); never one only the system takes (``SYSTEM_ONLY``). ``taken_out``: as ``refusal``'s. What the
    task's message tells its caller (``allowed_actions``)."""
    return offered(task.state, task.access(), principal, taken_out)


def offered(state: TaskState, access: RecordAccess, principal: Principal, taken_out: bool = False) -> tuple[str, ...]:
    """``allowed_actions`` of a task in ``state`` whose policy facts are ``access`` (``Task.access``) and whose
    assignee was or was not ``taken_out``: a list answers a task kept in its answered form
    (``store.list_answered``) from these alone."""
    return permitted(principal, access, _OFFERED[taken_out][state])


#: Per whether the assignee was taken out, then per state, the transitions it allows that a caller may take
#: (``allowed_actions``), in the table's order, each with the operation and rules its RPC is decided by:
#: worked out once, not for each task of a page.
_OFFERED = {
    taken_out: {
        state: tuple(offer for _, offer in pairs)
        for state, pairs in offers_by_state(
            transitions(taken_out).values(), TaskState, TASK_RULES, leave_out=SYSTEM_ONLY
        ).items()
    }
    for taken_out in (False, True)
}


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
    taken_out = assignee_taken_out(task.assignee_jurisdiction, members)
    t = transitions(taken_out)[action]
    problem = refusal(task, action, taken_out)
    if problem is not None:
        raise problem
    changes: dict[str, object] = {}
    # Assigned again to the same country or another, the assignee is a member: not one taken out of the
    # workspace since (jitlib.legal JIT_MEMBER_TAKEN_OUT).
    assignee = (data.new_assignee or task.assignee_jurisdiction) if t.action == "assign" else ""
    if assignee and assignee in former_members(members):
        raise InvalidArgument.one(
            "assignee_jurisdiction", f"{assignee} was taken out of the workspace: name a current member"
        )
    if assignee and assignee not in members:
        raise InvalidArgument.one("assignee_jurisdiction", f"{assignee} is not a member of the workspace")
    if assignee and assignee != task.assignee_jurisdiction:
        changes["assignee_jurisdiction"] = assignee
    if t.action == "assign" and taken_out:
        # Taken back (TASK_TAKEN_BACK): why, in the record, even when the issuer gave no reason; what the
        # old assignee's work was blocked on is not the new one's.
        changes["blocked_by"] = ()
        if not data.reason:
            data = replace(
                data, reason=f"{task.assignee_jurisdiction} was taken out of the workspace: taken back by the issuer"
            )
    if t.action == "renegotiate":
        return changed(task, actor, now, **_new_terms(task, data))
    if t.needs_reason or t.action in ("assign", "accept", "start", "unblock", "verify"):
        changes["state_reason"] = data.reason
    if t.action == "block":
        changes["blocked_by"] = data.blocked_by
    if t.action in ("unblock", "hand_back", "resolve"):
        changes["blocked_by"] = ()
    if t.action in ("complete", "resolve"):
        changes["outcome"] = data.outcome
    return changed(task, actor, now, state=t.target, **changes)


def _new_terms(task: Task, data: TransitionInput) -> dict[str, object]:
    """The changes of a renegotiation: the new due date and priority, and why. A renegotiation that
    changes neither is refused (NO_CHANGE): it would publish an event that says nothing."""
    due = None if data.clear_due_at else (data.due_at or task.due_at)
    priority = data.priority or task.priority
    if due == task.due_at and priority == task.priority:
        raise FailedPrecondition(
            "NO_CHANGE",
            "the task already has this due date and priority",
            {"action": "renegotiate", "priority": task.priority},
        )
    return {"due_at": due, "priority": priority, "terms_reason": data.reason}


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
    victim_refs: tuple[str, ...] = ()


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
    out += validate.victim_refs(cmd.victim_refs)
    return out


def membership_violations(cmd: NewTask, members: frozenset[str], lead: str = "") -> list[FieldViolation]:
    """What the workspace (its ``members``, its ``lead``) refuses of a new task."""
    out: list[FieldViolation] = validate.victim_refs_of_workspace(cmd.victim_refs, lead)
    if cmd.assignee_jurisdiction and cmd.assignee_jurisdiction not in members:
        out.append(
            FieldViolation("assignee_jurisdiction", f"{cmd.assignee_jurisdiction} is not a member of the workspace")
        )
    out += validate.members("shared_with", cmd.shared_with, members)
    return out


def create(cmd: NewTask, *, task_id: str, actor: Actor, now: datetime) -> Task:
    return Task(
        **created_record(cmd, record_id=task_id, actor=actor, now=now),
        **same_fields(cmd, "description kind assignee_jurisdiction priority due_at links victim_refs"),
        title=cmd.title.strip(),
        state=TaskState.PROPOSED if cmd.proposal_only else TaskState.ASSIGNED,
    )


# ---- follow-up tasks of preservation orders (follow_up.py reads the events, this decides) -------------

#: The preservation events that may close a follow-up task (the last token of their subjects).
CLOSING_EVENTS = frozenset({"extended", "production_requested", "produced", "lifted", "expired", "not_executed"})
#: Order states in which nothing is left to follow up: no follow-up task is opened for them.
_ORDER_FINAL = frozenset({"PRODUCED", "EXPIRED", "LIFTED", "NOT_EXECUTED"})


@dataclass(frozen=True)
class OrderFacts:
    """What a preservation order's event says of the order, as far as its follow-up task needs it."""

    id: str
    provider_id: str
    #: EPOC_PR, BUDAPEST_ART29, PROVIDER_VOLUNTARY or NATIONAL.
    legal_basis: str
    #: The order's state name (ISSUED, CONFIRMED, EXTENDED, PRODUCTION_REQUESTED, ...).
    state: str
    expires_at: datetime | None
    extension_count: int
    #: The last instant an extension of the current expiry may be asked (None: none is possible): the
    #: preservation service computes it from the order's legal basis and provider.
    extension_deadline: datetime | None


@dataclass(frozen=True)
class FollowUpText:
    title: str
    description: str


def follow_up_text(order: OrderFacts, expires: datetime, now: datetime) -> FollowUpText | None:
    """The title and description of the follow-up task of ``order``'s expiry at ``expires``, or None when
    the order is already over (expired, lifted, produced, not executed): nothing is left to follow up.

    "Extend" is offered only where the order's legal basis still allows an extension now: never under
    Budapest Art. 29 (BUDAPEST_ART29_NOT_EXTENDED), once under an EPOC-PR (EPOC_PR_ONE_EXTENSION), as the
    provider's guideline says for a voluntary preservation (PROVIDER_EXTENSION_PER_GUIDELINE)."""
    if order.state in _ORDER_FINAL:
        return None
    ref = f"preservation order {order.id}"
    head = f"The {ref} with provider {order.provider_id} expires at {expires.isoformat()}."
    pending = order.state == "PRODUCTION_REQUESTED"
    if order.legal_basis == "BUDAPEST_ART29":
        return FollowUpText(
            f"Request production by mutual legal assistance: {ref}",
            f"{head} A preservation under Budapest Art. 29 is not extended: it continues while a mutual legal "
            "assistance request for production of the data is decided. Send that request and link it to the "
            f"order before the expiry {legal.cite('BUDAPEST_ART29_NOT_EXTENDED')}.",
        )
    deadline = order.extension_deadline
    if deadline is not None and now <= deadline:
        how = f"Extend it (asked by {deadline.isoformat()}{_extension_source(order)})"
        if pending:
            return FollowUpText(f"Extend while production is pending: {ref}", f"{head} {how}.")
        return FollowUpText(f"Extend or request production: {ref}", f"{head} {how}, or request production.")
    why = _no_extension(order, now)
    if pending:
        return FollowUpText(
            f"Production pending, preservation ends at expiry: {ref}",
            f"{head} {why} Follow up the production request before the expiry.",
        )
    return FollowUpText(f"Request production before expiry: {ref}", f"{head} {why} Request production before it.")


def _extension_source(order: OrderFacts) -> str:
    if order.legal_basis == "EPOC_PR":
        return " " + legal.cite("EPOC_PR_ONE_EXTENSION")
    if order.legal_basis == "PROVIDER_VOLUNTARY":
        return " " + legal.cite("PROVIDER_EXTENSION_PER_GUIDELINE")
    return ""


def _no_extension(order: OrderFacts, now: datetime) -> str:
    """Why the order cannot be extended now, in one sentence with its source."""
    late = order.extension_deadline is not None and now > order.extension_deadline
    if order.legal_basis == "EPOC_PR":
        if late:
            assert order.extension_deadline is not None
            what = f"its one extension had to be asked by {order.extension_deadline.isoformat()}"
        elif order.extension_count:
            what = "its one extension was used"
        else:
            what = "no extension is possible now"
        source = legal.cite("EPOC_PR_ONE_EXTENSION")
        return f"A European Preservation Order is extended once, by 30 days: {what} {source}."
    if order.legal_basis == "PROVIDER_VOLUNTARY":
        if late:
            assert order.extension_deadline is not None
            what = f"an extension had to be asked by {order.extension_deadline.isoformat()}"
        elif order.extension_count:
            what = "the provider grants no further extension"
        else:
            what = "the provider does not extend a voluntary preservation"
        return f"No extension: {what} {legal.cite('PROVIDER_EXTENSION_PER_GUIDELINE')}."
    return "National law allows no further extension of this order now."


@dataclass(frozen=True)
class Closure:
    """How the system closes a follow-up task its order's event made moot (TASK_FOLLOW_UP_CLOSES)."""

    #: ``resolve`` (done: VERIFIED, ``text`` the outcome) or ``cancel`` (no longer needed, ``text`` the reason).
    action: str
    text: str
    #: The event closes every open follow-up task of the order, or only those of an earlier expiry
    #: (an extension: the follow-up of the new expiry, if any, stays).
    earlier_expiries_only: bool = False


def follow_up_closure(event: str, order: OrderFacts, event_id: str) -> Closure | None:
    """What the preservation event ``event`` (``event_id``) of ``order`` does to its open follow-up tasks
    (None: nothing). A production request closes them only when it stops the order's clock (preserved until
    production); where the clock runs on, the follow-up stays."""
    ref = f"(preservation order event {event}, {event_id})"
    if event == "extended":
        until = order.expires_at.isoformat() if order.expires_at else "a new expiry"
        return Closure("resolve", f"Done by the order's extension: preserved until {until} {ref}.", True)
    if event == "production_requested":
        if order.expires_at is not None:
            return None
        return Closure("resolve", f"Done: production was requested; the order is preserved until production {ref}.")
    if event == "produced":
        return Closure("resolve", f"Done: the preserved data was produced {ref}.")
    if event == "lifted":
        return Closure("cancel", f"No longer needed: the order was lifted {ref}.")
    if event == "expired":
        when = f" at {order.expires_at.isoformat()}" if order.expires_at else ""
        return Closure("cancel", f"No longer possible: the order expired{when}, nothing is left to extend {ref}.")
    if event == "not_executed":
        return Closure("cancel", f"No longer possible: the provider did not execute the order {ref}.")
    return None
