"""The task state machine of DOMAIN.md: every legal transition listed by hand, every other
(state, action) pair refused with FAILED_PRECONDITION; renegotiating the terms, handing a task back, and
the follow-up tasks of preservation orders (their wording per legal basis, and their closure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jitlib import legal
from jitlib.actors import Actor
from jitlib.errors import FailedPrecondition, InvalidArgument
from jitlib.policy import Members
from jitlib.principal import Principal
from services.tasks import domain
from services.tasks.domain import NewTask, OrderFacts, TaskState, TransitionInput

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ISSUER = Actor("u-nl", "nl-prosecutor", "NL")
ADDRESSEE = Actor("u-de", "de-liaison", "DE")
MEMBERS = frozenset({"NL", "DE", "IE"})
S = TaskState

OPEN = (S.PROPOSED, S.ASSIGNED, S.DECLINED, S.ACCEPTED, S.IN_PROGRESS, S.BLOCKED, S.HANDED_BACK)
LEGAL = {
    (S.PROPOSED, "assign"): S.ASSIGNED,
    (S.DECLINED, "assign"): S.ASSIGNED,
    (S.HANDED_BACK, "assign"): S.ASSIGNED,
    (S.ASSIGNED, "accept"): S.ACCEPTED,
    (S.ASSIGNED, "decline"): S.DECLINED,
    (S.ACCEPTED, "start"): S.IN_PROGRESS,
    (S.IN_PROGRESS, "block"): S.BLOCKED,
    (S.BLOCKED, "unblock"): S.IN_PROGRESS,
    (S.IN_PROGRESS, "complete"): S.DONE,
    (S.DONE, "verify"): S.VERIFIED,
    (S.DONE, "reopen"): S.IN_PROGRESS,
    **{(s, "hand_back"): S.HANDED_BACK for s in (S.ACCEPTED, S.IN_PROGRESS, S.BLOCKED)},
    **{(s, "renegotiate"): s for s in OPEN},
    **{(s, "resolve"): S.VERIFIED for s in (*OPEN, S.DONE)},
    **{(s, "cancel"): S.CANCELLED for s in OPEN},
}
INPUT = TransitionInput(reason="because", outcome="account holder identified", priority="URGENT")


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
    assert issuer_side == {"assign", "verify", "reopen", "renegotiate", "resolve", "cancel"}
    assert {"resolve"} == domain.SYSTEM_ONLY


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


@pytest.mark.parametrize("action", ["decline", "block", "hand_back", "reopen", "cancel"])
def test_transitions_that_need_a_reason(action: str) -> None:
    t = domain.TRANSITIONS[action]
    assert [v.field for v in domain.transition_violations(t, TransitionInput(), NOW)] == ["reason"]


def test_complete_needs_an_outcome() -> None:
    t = domain.TRANSITIONS["complete"]
    assert [v.field for v in domain.transition_violations(t, TransitionInput(), NOW)] == ["outcome"]


# ---- renegotiating the terms, handing back ------------------------------------------------------------


def renegotiate(task: domain.Task, **terms: object) -> domain.Task:
    data = TransitionInput(reason="the provider answers late", **terms)  # type: ignore[arg-type]
    assert domain.transition_violations(domain.TRANSITIONS["renegotiate"], data, NOW) == []
    return domain.apply(task, "renegotiate", data, actor=ISSUER, now=NOW, members=MEMBERS)


def test_task_renegotiation_changes_due_date_and_priority_with_a_reason_in_place() -> None:
    """TASK_RENEGOTIATION (GUESS, no legal text): the issuer's new due date and/or priority, with a reason,
    in any open state; the state stays, the version moves; overdue follows the new due date."""
    assert domain.TRANSITIONS["renegotiate"].operation is domain.ISSUER
    assert legal.source("TASK_RENEGOTIATION").startswith("GUESS")
    task = task_in(S.BLOCKED)
    later = NOW + timedelta(days=30)
    moved = renegotiate(task, due_at=later, priority="URGENT")
    assert (moved.state, moved.due_at, moved.priority) == (S.BLOCKED, later, "URGENT")
    assert moved.terms_reason == "the provider answers late" and moved.state_reason == task.state_reason
    assert moved.version == task.version + 1 and moved.updated_by == ISSUER
    assert task.is_overdue(NOW + timedelta(days=11)) and not moved.is_overdue(NOW + timedelta(days=11))
    assert renegotiate(task, priority="LOW").due_at == task.due_at  # one term alone
    assert renegotiate(task, clear_due_at=True).due_at is None
    for state in (S.DONE, S.VERIFIED, S.CANCELLED):
        with pytest.raises(FailedPrecondition) as info:
            renegotiate(task_in(state), priority="LOW")
        assert info.value.reason == "ILLEGAL_TRANSITION"


def test_task_renegotiation_that_changes_nothing_is_refused() -> None:
    """TASK_RENEGOTIATION: the same due date and priority again is FAILED_PRECONDITION NO_CHANGE."""
    task = task_in(S.ASSIGNED)
    with pytest.raises(FailedPrecondition) as info:
        renegotiate(task, due_at=task.due_at, priority=task.priority)
    assert info.value.reason == "NO_CHANGE"


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({}, "due_at"),
        ({"due_at": NOW - timedelta(minutes=1)}, "due_at"),
        ({"due_at": NOW + timedelta(days=3000)}, "due_at"),
        ({"due_at": NOW + timedelta(days=3), "clear_due_at": True}, "clear_due_at"),
        ({"priority": "?"}, "priority"),
        ({"priority": "urgent"}, "priority"),
    ],
)
def test_bad_renegotiation_names_the_field(terms: dict[str, object], field: str) -> None:
    data = TransitionInput(reason="why", **terms)  # type: ignore[arg-type]
    assert field in {v.field for v in domain.transition_violations(domain.TRANSITIONS["renegotiate"], data, NOW)}
    no_reason = TransitionInput(priority="LOW")
    assert [v.field for v in domain.transition_violations(domain.TRANSITIONS["renegotiate"], no_reason, NOW)] == [
        "reason"
    ]


def test_task_hand_back_returns_an_accepted_task_to_its_issuer() -> None:
    """TASK_HAND_BACK (GUESS, no legal text): the addressee hands back an accepted, started or blocked task
    with a reason; the issuer sees HANDED_BACK and assigns it again (here to another member) or cancels."""
    assert domain.TRANSITIONS["hand_back"].operation is domain.ADDRESSEE
    blocked = domain.apply(
        task_in(S.IN_PROGRESS),
        "block",
        TransitionInput(reason="waiting", blocked_by=(domain.Link("TASK", "01935c4e-0000-7000-8000-0000000000bb"),)),
        actor=ADDRESSEE,
        now=NOW,
        members=MEMBERS,
    )
    back = domain.apply(
        blocked, "hand_back", TransitionInput(reason="not our law"), actor=ADDRESSEE, now=NOW, members=MEMBERS
    )
    assert back.state is S.HANDED_BACK and back.state_reason == "not our law" and back.blocked_by == ()
    assert back.state in domain.OPEN_STATES and back.is_overdue(NOW + timedelta(days=11))
    again = domain.apply(back, "assign", TransitionInput(new_assignee="IE"), actor=ISSUER, now=NOW, members=MEMBERS)
    assert again.state is S.ASSIGNED and again.assignee_jurisdiction == "IE"
    with pytest.raises(FailedPrecondition):
        domain.apply(task_in(S.ASSIGNED), "hand_back", INPUT, actor=ADDRESSEE, now=NOW, members=MEMBERS)


#: The workspace once DE was taken out of it (``jit admin workspace remove-member``), as the directory holds it.
DE_OUT = Members({"NL", "IE"}, {"DE"})


@pytest.mark.parametrize("state", list(TaskState))
def test_task_taken_back_from_a_member_taken_out_in_any_open_state(state: TaskState) -> None:
    """TASK_TAKEN_BACK (GUESS, no legal text) and JIT_MEMBER_TAKEN_OUT: once DE, the assignee, was taken
    out of the workspace, its issuer assigns the task to a current member from any open state (an accepted
    or started one included), the reason recorded, a blocked task's waits dropped; never back to DE nor to
    a non-member; a closed task stays closed. While DE is a member, only the usual states allow it."""
    task = replace(task_in(state), blocked_by=(domain.Link("TASK", "01935c4e-0000-7000-8000-0000000000bb"),))
    assert domain.assignee_taken_out("DE", DE_OUT) and not domain.assignee_taken_out("DE", MEMBERS)
    data = TransitionInput(new_assignee="IE", reason="DE left the JIT; IE's police hold the same logs")
    if state not in domain.OPEN_STATES:
        with pytest.raises(FailedPrecondition) as info:
            domain.apply(task, "assign", data, actor=ISSUER, now=NOW, members=DE_OUT)
        assert info.value.reason == "ILLEGAL_TRANSITION"
        return
    moved = domain.apply(task, "assign", data, actor=ISSUER, now=NOW, members=DE_OUT)
    assert moved.state is S.ASSIGNED and moved.assignee_jurisdiction == "IE" and moved.version == task.version + 1
    assert moved.state_reason == data.reason and moved.blocked_by == ()
    silent = domain.apply(task, "assign", TransitionInput(new_assignee="IE"), actor=ISSUER, now=NOW, members=DE_OUT)
    assert silent.state_reason == "DE was taken out of the workspace: taken back by the issuer"
    for to in ("", "DE", "FR"):
        with pytest.raises(InvalidArgument) as bad:
            domain.apply(task, "assign", TransitionInput(new_assignee=to), actor=ISSUER, now=NOW, members=DE_OUT)
        assert [v.field for v in bad.value.violations] == ["assignee_jurisdiction"]
    if (state, "assign") not in LEGAL:
        with pytest.raises(FailedPrecondition) as info:
            domain.apply(task, "assign", data, actor=ISSUER, now=NOW, members=MEMBERS)
        assert info.value.reason == "ILLEGAL_TRANSITION"


def test_task_taken_back_is_offered_to_the_issuer_only_when_the_assignee_was_taken_out() -> None:
    """TASK_TAKEN_BACK: ``allowed_actions`` reads the same table as ``apply`` (``domain.transitions``): an
    accepted task shows its issuer "assign" only once its assignee was taken out."""
    task = task_in(S.ACCEPTED)
    nl = Principal("u-nl", "nl-prosecutor", "NL", frozenset({"prosecutor"}), frozenset({"jit-demo"}))
    assert domain.allowed_actions(task, nl) == ("renegotiate", "cancel")
    assert domain.allowed_actions(task, nl, taken_out=True) == ("assign", "renegotiate", "cancel")
    assert domain.refusal(task, "assign") is not None and domain.refusal(task, "assign", taken_out=True) is None


# ---- follow-up tasks of preservation orders ------------------------------------------------------------

ORDER_ID = "0193a000-0000-7000-8000-0000000000cc"
EXPIRES = NOW + timedelta(days=14)


def order(basis: str, **over: object) -> OrderFacts:
    base: dict[str, object] = dict(
        id=ORDER_ID,
        provider_id="socialnet-ie",
        legal_basis=basis,
        state="CONFIRMED",
        expires_at=EXPIRES,
        extension_count=0,
        extension_deadline=EXPIRES,
    )
    base.update(over)
    return OrderFacts(**base)  # type: ignore[arg-type]


def test_epoc_pr_one_extension_follow_up_offers_it_only_once() -> None:
    """EPOC_PR_ONE_EXTENSION (Reg. (EU) 2023/1543 Art. 11(1)): before its one extension the follow-up
    says "Extend or request production"; after it, or once the time to ask has passed, it asks for
    production and says why, citing Art. 11(1)."""
    first = domain.follow_up_text(order("EPOC_PR"), EXPIRES, NOW)
    assert first is not None and first.title == f"Extend or request production: preservation order {ORDER_ID}"
    assert legal.source("EPOC_PR_ONE_EXTENSION") in first.description
    used = domain.follow_up_text(
        order("EPOC_PR", state="EXTENDED", extension_count=1, extension_deadline=None), EXPIRES, NOW
    )
    assert used is not None and "Extend" not in used.title
    assert used.title == f"Request production before expiry: preservation order {ORDER_ID}"
    assert "its one extension was used" in used.description and "Art. 11(1)" in used.description
    late = domain.follow_up_text(order("EPOC_PR", extension_deadline=NOW - timedelta(hours=1)), EXPIRES, NOW)
    assert late is not None and "Extend" not in late.title and "had to be asked by" in late.description


def test_budapest_art29_not_extended_follow_up_asks_for_the_mla_request() -> None:
    """BUDAPEST_ART29_NOT_EXTENDED (CETS 185 Art. 29(7)): a Budapest Art. 29 preservation is never offered
    an extension; its follow-up asks for the MLA production request, citing Art. 29(7)."""
    text = domain.follow_up_text(order("BUDAPEST_ART29", extension_deadline=None), EXPIRES, NOW)
    assert text is not None and "Extend" not in text.title and "extend" not in text.title
    assert text.title == f"Request production by mutual legal assistance: preservation order {ORDER_ID}"
    assert "Art. 29(7)" in text.description and "not extended" in text.description


def test_provider_extension_per_guideline_decides_the_follow_up() -> None:
    """PROVIDER_EXTENSION_PER_GUIDELINE (the provider's law-enforcement guideline): a provider with
    extension_days 0 (no extension deadline) is not asked to extend; one that extends is."""
    none = domain.follow_up_text(order("PROVIDER_VOLUNTARY", extension_deadline=None), EXPIRES, NOW)
    assert none is not None and "Extend" not in none.title
    assert "the provider does not extend" in none.description and "guideline" in none.description
    some = domain.follow_up_text(
        order("PROVIDER_VOLUNTARY", extension_deadline=EXPIRES - timedelta(days=7)), EXPIRES, NOW
    )
    assert some is not None and some.title.startswith("Extend or request production")


def test_no_follow_up_for_an_order_already_over_and_pending_production_is_not_asked_again() -> None:
    assert domain.follow_up_text(order("EPOC_PR", state="EXPIRED"), EXPIRES, NOW) is None
    pending = domain.follow_up_text(order("NATIONAL", state="PRODUCTION_REQUESTED"), EXPIRES, NOW)
    assert pending is not None and pending.title.startswith("Extend while production is pending")
    ends = domain.follow_up_text(order("NATIONAL", state="PRODUCTION_REQUESTED", extension_deadline=None), EXPIRES, NOW)
    assert ends is not None and "Extend" not in ends.title and "request production" not in ends.description


@pytest.mark.parametrize(
    ("event", "over", "action", "words"),
    [
        ("extended", {"state": "EXTENDED", "expires_at": EXPIRES + timedelta(days=30)}, "resolve", "extension"),
        ("production_requested", {"state": "PRODUCTION_REQUESTED", "expires_at": None}, "resolve", "until production"),
        ("produced", {"state": "PRODUCED", "expires_at": None}, "resolve", "produced"),
        ("lifted", {"state": "LIFTED"}, "cancel", "lifted"),
        ("expired", {"state": "EXPIRED"}, "cancel", "expired"),
        ("not_executed", {"state": "NOT_EXECUTED"}, "cancel", "did not execute"),
    ],
)
def test_task_follow_up_closes_on_the_orders_events(
    event: str, over: dict[str, object], action: str, words: str
) -> None:
    """TASK_FOLLOW_UP_CLOSES (GUESS): done (VERIFIED) when the order is extended, kept until production or
    produced; cancelled as no longer needed when it is lifted, expires or is not executed; the outcome or
    reason names the event."""
    closure = domain.follow_up_closure(event, order("EPOC_PR", **over), "evt-1")
    assert closure is not None and closure.action == action and words in closure.text
    assert f"(preservation order event {event}, evt-1)" in closure.text
    assert closure.earlier_expiries_only == (event == "extended")
    task = task_in(S.ASSIGNED)
    data = TransitionInput(outcome=closure.text) if action == "resolve" else TransitionInput(reason=closure.text)
    t = domain.TRANSITIONS[action]
    assert domain.transition_violations(t, data, NOW) == []
    closed = domain.apply(task, action, data, actor=ISSUER, now=NOW, members=MEMBERS)
    assert closed.state is (S.VERIFIED if action == "resolve" else S.CANCELLED)


def test_a_production_request_that_leaves_the_clock_running_keeps_the_follow_up_open() -> None:
    assert (
        domain.follow_up_closure("production_requested", order("NATIONAL", state="PRODUCTION_REQUESTED"), "e") is None
    )
    assert domain.follow_up_closure("confirmed", order("EPOC_PR"), "e") is None
