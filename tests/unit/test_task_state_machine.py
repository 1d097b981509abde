"""The task state machine of DOMAIN.md: every legal transition listed by hand, every other
(state, action) pair refused with FAILED_PRECONDITION."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitlib.actors import Actor
from jitlib.errors import FailedPrecondition, InvalidArgument
from services.tasks import domain
from services.tasks.domain import NewTask, TaskState, TransitionInput

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ISSUER = Actor("u-nl", "nl-prosecutor", "NL")
ADDRESSEE = Actor("u-de", "de-liaison", "DE")
MEMBERS = frozenset({"NL", "DE", "IE"})
S = TaskState

LEGAL = {
    (S.PROPOSED, "assign"): S.ASSIGNED,
    (S.DECLINED, "assign"): S.ASSIGNED,
    (S.ASSIGNED, "accept"): S.ACCEPTED,
    (S.ASSIGNED, "decline"): S.DECLINED,
    (S.ACCEPTED, "start"): S.IN_PROGRESS,
    (S.IN_PROGRESS, "block"): S.BLOCKED,
    (S.BLOCKED, "unblock"): S.IN_PROGRESS,
    (S.IN_PROGRESS, "complete"): S.DONE,
    (S.DONE, "verify"): S.VERIFIED,
    (S.DONE, "reopen"): S.IN_PROGRESS,
    **{(s, "cancel"): S.CANCELLED for s in (S.PROPOSED, S.ASSIGNED, S.DECLINED, S.ACCEPTED, S.IN_PROGRESS, S.BLOCKED)},
}
INPUT = TransitionInput(reason="because", outcome="account holder identified")


def new_cmd(**over: object) -> NewTask:
    base = dict(
        request_id="01935c4e-0000-7000-8000-000000000001",
        workspace_id="jit-demo",
        title="Identify the holder",
        description="",
        kind="IDENTIFY_ACCOUNT_HOLDER",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=NOW + timedelta(days=10),
        restricted=True,
    )
    base.update(over)
    return NewTask(**base)  # type: ignore[arg-type]


def task_in(state: TaskState) -> domain.Task:
    t = domain.create(new_cmd(), task_id="01935c4e-0000-7000-8000-0000000000aa", actor=ISSUER, now=NOW)
    from dataclasses import replace

    return replace(t, state=state)


@pytest.mark.parametrize("state", list(TaskState))
@pytest.mark.parametrize("action", sorted(domain.TRANSITIONS))
def test_transition_table(state: TaskState, action: str) -> None:
    task = task_in(state)
    if (state, action) in LEGAL:
        after = domain.apply(task, action, INPUT, actor=ADDRESSEE, now=NOW, members=MEMBERS)
        assert after.state is LEGAL[(state, action)]
        assert after.version == task.version + 1
        assert after.updated_by == ADDRESSEE
    else:
        with pytest.raises(FailedPrecondition) as info:
            domain.apply(task, action, INPUT, actor=ADDRESSEE, now=NOW, members=MEMBERS)
        assert info.value.reason == "ILLEGAL_TRANSITION"


def test_sides_follow_the_domain() -> None:
    issuer_side = {a for a, t in domain.TRANSITIONS.items() if t.operation.value == "issuer_act"}
    assert issuer_side == {"assign", "verify", "reopen", "cancel"}


def test_create_assigns_unless_proposal_only() -> None:
    assert domain.create(new_cmd(), task_id="x", actor=ISSUER, now=NOW).state is S.ASSIGNED
    assert domain.create(new_cmd(proposal_only=True), task_id="x", actor=ISSUER, now=NOW).state is S.PROPOSED


def test_overdue_is_derived_from_due_at_and_open_state() -> None:
    task = task_in(S.IN_PROGRESS)
    assert not task.is_overdue(NOW)
    assert task.is_overdue(NOW + timedelta(days=11))
    assert not task_in(S.DONE).is_overdue(NOW + timedelta(days=11))


def test_reassign_after_decline_requires_a_member() -> None:
    task = task_in(S.DECLINED)
    moved = domain.apply(task, "assign", TransitionInput(new_assignee="IE"), actor=ISSUER, now=NOW, members=MEMBERS)
    assert moved.assignee_jurisdiction == "IE"
    with pytest.raises(InvalidArgument):
        domain.apply(task, "assign", TransitionInput(new_assignee="FR"), actor=ISSUER, now=NOW, members=MEMBERS)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 10_001}, "description"),
        ({"request_id": "not-a-uuid"}, "request_id"),
        ({"workspace_id": "Bad Id!"}, "workspace_id"),
        ({"kind": ""}, "kind"),
        ({"assignee_jurisdiction": ""}, "assignee_jurisdiction"),
        ({"assignee_jurisdiction": "Germany"}, "assignee_jurisdiction"),
        ({"due_at": NOW - timedelta(minutes=1)}, "due_at"),
        ({"due_at": NOW + timedelta(days=3000)}, "due_at"),
        ({"shared_with": ("ie",)}, "shared_with[0]"),
        ({"shared_with": ("IE",), "restricted": False}, "shared_with"),
        ({"links": (domain.Link("TASK", "nope"),)}, "links[0].id"),
        ({"title": "bell\x07"}, "title"),
    ],
)
def test_bad_new_task_names_the_field(over: dict[str, object], field: str) -> None:
    violations = domain.new_task_violations(new_cmd(**over), NOW)
    assert field in {v.field for v in violations}


def test_valid_new_task_has_no_violations() -> None:
    assert domain.new_task_violations(new_cmd(), NOW) == []
    assert domain.membership_violations(new_cmd(), MEMBERS) == []
    assert [v.field for v in domain.membership_violations(new_cmd(assignee_jurisdiction="FR"), MEMBERS)] == [
        "assignee_jurisdiction"
    ]


@pytest.mark.parametrize("action", ["decline", "block", "reopen", "cancel"])
def test_transitions_that_need_a_reason(action: str) -> None:
    t = domain.TRANSITIONS[action]
    assert [v.field for v in domain.transition_violations(t, TransitionInput())] == ["reason"]


def test_complete_needs_an_outcome() -> None:
    t = domain.TRANSITIONS["complete"]
    assert [v.field for v in domain.transition_violations(t, TransitionInput())] == ["outcome"]
