"""Evidence-request rules: the state machine, who acts on which side, and input validation (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jitlib.actors import Actor
from jitlib.errors import FailedPrecondition, InvalidArgument
from jitlib.policy import Operation
from jitlib.principal import Principal
from services.evidence import custody, deadlines, domain
from services.evidence.deadlines import DeadlineKind
from services.evidence.domain import Consent, NewItem, NewRequest, State, Target, TransitionInput

NOW = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday, after Reg. 2023/1543 applies (Art. 34(2))
NL = Actor("u1", "nl-prosecutor", "NL")
DE = Actor("u2", "de-liaison", "DE")


def new(**over: object) -> NewRequest:
    fields: dict[str, object] = dict(
        request_id="0190f7a0-0000-7000-8000-000000000001",
        workspace_id="jit-demo",
        legal_basis="EIO",
        epoc_procedure="",
        issuing_authority="OM Amsterdam",
        addressee_kind="MEMBER_STATE",
        addressee_jurisdiction="DE",
        provider_name="",
        data_categories=("SUBSCRIBER",),
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x", "instagram"),),
        offence_category="CYBERSTALKING",
        urgency="NORMAL",
        title="Identify the holder",
        description="",
        restricted=True,
    )
    fields.update(over)
    return NewRequest(**fields)  # type: ignore[arg-type]


def make(**over: object) -> domain.EvidenceRequest:
    return domain.create(new(**over), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=NOW)


def run(r: domain.EvidenceRequest, *actions: str, **data: object) -> domain.EvidenceRequest:
    for a in actions:
        r = domain.apply(r, a, TransitionInput(**data), actor=NL, now=NOW)  # type: ignore[arg-type]
    return r


def test_an_eio_goes_from_draft_to_closed() -> None:
    r = run(make(), "issue", "acknowledge", "start_execution", "partially_execute", "complete", "close")
    assert r.state is State.CLOSED and r.version == 7


def test_issuing_starts_the_clocks_and_closing_stops_them() -> None:
    r = run(make(), "issue")
    assert {d.kind for d in r.deadlines} == {DeadlineKind.ACKNOWLEDGE, DeadlineKind.DECIDE}
    assert r.received_at == NOW
    r = run(r, "acknowledge", "start_execution")
    assert [d.kind for d in r.deadlines] == [DeadlineKind.EXECUTE]
    # 90 days from Monday 7 September: Sunday 6 December, so the end of Monday 7 December in Germany (CET).
    assert r.deadlines[0].due_at == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    assert run(r, "complete", "close").deadlines == ()


def test_acknowledging_with_a_receipt_time_recomputes_from_it() -> None:
    r = run(
        make(
            legal_basis="EPOC",
            epoc_procedure="STANDARD",
            addressee_kind="SERVICE_PROVIDER",
            provider_name="Meta Platforms Ireland",
            addressee_jurisdiction="IE",
        ),
        "issue",
    )
    later = NOW + timedelta(hours=5)
    r = domain.apply(r, "acknowledge", TransitionInput(received_at=later), actor=NL, now=later)
    assert r.deadlines[0].counted_from == later
    assert r.deadlines[0].due_at == datetime(2026, 9, 17, 23, 0, tzinfo=UTC)  # the end of 17 September, Dublin


def test_acknowledging_late_without_a_receipt_time_keeps_the_deadlines_of_the_issued_request() -> None:
    """Deadlines run from receipt, recorded when the request was issued (delivered with it): the executing
    state acknowledging on day 31 without stating a receipt time gets no new 30 days to decide, and the
    decision deadline it let pass stays passed."""
    issued = run(make(), "issue")
    (_, decide) = issued.deadlines
    assert decide.kind is DeadlineKind.DECIDE and decide.counted_from == NOW
    r = at(issued, NOW + timedelta(days=31), "acknowledge")
    assert r.received_at == NOW
    assert [(d.kind, d.due_at) for d in r.deadlines] == [(DeadlineKind.DECIDE, decide.due_at)]


@pytest.mark.parametrize(
    ("state_actions", "action"),
    [
        ((), "acknowledge"),
        (("issue",), "complete"),
        (("issue", "acknowledge", "start_execution", "complete", "close"), "withdraw"),
        (("issue",), "close"),
    ],
)
def test_illegal_transitions_are_refused(state_actions: tuple[str, ...], action: str) -> None:
    r = run(make(), *state_actions)
    with pytest.raises(FailedPrecondition) as info:
        domain.apply(r, action, TransitionInput(reason="x"), actor=NL, now=NOW)
    assert info.value.reason == "ILLEGAL_TRANSITION"


def test_review_exists_only_for_an_epoc_with_notification() -> None:
    with pytest.raises(FailedPrecondition) as info:
        run(make(), "issue", "acknowledge", "open_review")
    assert info.value.reason == "NO_REVIEW"
    epoc = make(
        legal_basis="EPOC",
        epoc_procedure="WITH_NOTIFICATION",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="Meta",
        addressee_jurisdiction="IE",
        data_categories=("CONTENT",),
    )
    with pytest.raises(FailedPrecondition) as info:
        run(epoc, "issue", "acknowledge", "start_execution")
    assert info.value.reason == "REVIEW_REQUIRED"
    r = run(epoc, "issue", "acknowledge", "open_review", "conclude_review")
    assert r.state is State.IN_EXECUTION


def test_emergency_epoc_with_notification_can_be_objected_to_after_execution() -> None:
    r = make(
        legal_basis="EPOC",
        epoc_procedure="EMERGENCY_WITH_NOTIFICATION",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="Meta",
        addressee_jurisdiction="IE",
        urgency="",
    )
    assert r.urgency == "EMERGENCY"
    r = run(r, "issue", "acknowledge", "start_execution", "complete")
    r = run(r, "refuse", reason="manifest breach", refusal_ground="FUNDAMENTAL_RIGHTS")
    assert r.state is State.REFUSED and r.refusal_ground == "FUNDAMENTAL_RIGHTS"


def notified_epoc(procedure: str = "WITH_NOTIFICATION") -> domain.EvidenceRequest:
    return make(
        legal_basis="EPOC",
        epoc_procedure=procedure,
        addressee_kind="SERVICE_PROVIDER",
        provider_name="Meta",
        addressee_jurisdiction="IE",
        data_categories=("CONTENT",),
        urgency="",
    )


#: The end of the notified enforcing state's 10 days from receipt at NOW (Monday 7 September): the end of
#: Thursday 17 September in Dublin (Reg. 1182/71 Art. 3).
REVIEW_END = datetime(2026, 9, 17, 23, 0, tzinfo=UTC)


def at(r: domain.EvidenceRequest, when: datetime, action: str, **data: object) -> domain.EvidenceRequest:
    return domain.apply(r, action, TransitionInput(**data), actor=NL, now=when)  # type: ignore[arg-type]


ISSUER = Principal("u1", "nl-prosecutor", "NL", frozenset({"prosecutor"}), frozenset({"jit-demo"}))
ENFORCING = Principal("u3", "ie-prosecutor", "IE", frozenset({"prosecutor"}), frozenset({"jit-demo"}))
EXECUTING = Principal("u2", "de-prosecutor", "DE", frozenset({"prosecutor"}), frozenset({"jit-demo"}))


@pytest.mark.parametrize("reviewed", [False, True], ids=["review never opened", "review opened, never concluded"])
def test_epoc_silence_is_consent_once_the_ten_days_pass(reviewed: bool) -> None:
    """EPOC_SILENCE_IS_CONSENT (Reg. (EU) 2023/1543 Art. 10(2)): when the notified enforcing state raises
    no ground within 10 days of receipt, the issuer records the provider's execution and delivery; before,
    it is refused with the moment the window ends."""
    r = run(notified_epoc(), "issue", "acknowledge", *(["open_review"] if reviewed else []))
    end = REVIEW_END
    assert domain.review_window_end(r) == end
    before = end - timedelta(seconds=1)
    with pytest.raises(FailedPrecondition) as info:
        at(r, before, "start_execution")
    assert info.value.reason == "REVIEW_REQUIRED"
    assert end.isoformat() in info.value.message and "Art. 10(2)" in info.value.message
    assert "start_execution" not in domain.allowed_actions(r, ISSUER, before)
    assert "start_execution" in domain.allowed_actions(r, ISSUER, end)
    r = at(r, end, "start_execution")
    assert r.state is State.IN_EXECUTION
    # The review window is over; the data is due at its end (Art. 10(2)) until delivered.
    assert [d.kind for d in r.deadlines] == [DeadlineKind.PRODUCE]
    assert "upload_item" in domain.allowed_actions(r, ISSUER, end)
    r = at(r, end + timedelta(hours=1), "complete", reason="data received from the provider")
    assert r.state is State.EXECUTED and r.deadlines == ()


def test_epoc_silence_is_consent_so_a_ground_raised_after_ten_days_is_refused() -> None:
    """EPOC_SILENCE_IS_CONSENT (Reg. (EU) 2023/1543 Art. 12(1)): the enforcing state raises a ground within
    10 days of receipt; after them the order proceeds and a ground is refused, naming the rule."""
    r = run(notified_epoc(), "issue", "acknowledge", "open_review")
    end = REVIEW_END
    last = end - timedelta(seconds=1)
    assert "refuse" in domain.allowed_actions(r, ENFORCING, last)
    assert "refuse" not in domain.allowed_actions(r, ENFORCING, end)
    with pytest.raises(FailedPrecondition) as info:
        at(r, end, "refuse", reason="late", refusal_ground="NE_BIS_IN_IDEM")
    assert info.value.reason == "REVIEW_WINDOW_PASSED" and "Art. 10(2), 12(1)" in info.value.message
    refused = at(r, last, "refuse", reason="in time", refusal_ground="NE_BIS_IN_IDEM")
    assert refused.state is State.REFUSED


def test_a_review_window_ending_on_a_saturday_runs_to_the_end_of_the_next_working_day() -> None:
    """EPOC_SILENCE_IS_CONSENT, with the 10 days counted as Reg. 1182/71 Art. 3 counts them in Ireland: the
    notification received on Wednesday 9 September at 15:00 UTC, the 10th day is Saturday 19 September, so
    the window runs to the end of Monday 21. A ground raised that Monday morning is in time, and until the
    window ends the issuer may not record the provider's execution."""
    received = datetime(2026, 9, 9, 15, 0, tzinfo=UTC)
    r = at(at(notified_epoc(), received, "issue"), received + timedelta(hours=1), "acknowledge")
    monday = datetime(2026, 9, 21, 10, 0, tzinfo=UTC)
    assert domain.review_window_end(r) == datetime(2026, 9, 21, 23, 0, tzinfo=UTC)
    assert domain.refusal(r, "refuse", monday) is None
    held = domain.refusal(r, "start_execution", monday)
    assert held is not None and held.reason == "REVIEW_REQUIRED"


def test_a_review_concluded_early_lets_the_epoc_proceed_at_once() -> None:
    """EPOC_SILENCE_IS_CONSENT: the enforcing state that confirms before the 10 days end that it raises no
    ground lets the order proceed at once (Reg. (EU) 2023/1543 Art. 10(2), second sentence)."""
    r = run(notified_epoc(), "issue", "acknowledge", "open_review")
    r = at(r, NOW + timedelta(days=1), "conclude_review")
    assert r.state is State.IN_EXECUTION


def test_an_emergency_under_review_is_executed_at_once() -> None:
    """An emergency EPOC is executed within 8 hours whatever the enforcing state's review (Reg. (EU)
    2023/1543 Art. 10(4)); only a non-emergency notified EPOC waits for the 10 days."""
    r = run(notified_epoc("EMERGENCY_WITH_NOTIFICATION"), "issue", "acknowledge", "open_review")
    assert at(r, NOW + timedelta(hours=1), "start_execution").state is State.IN_EXECUTION


def received_item(received_at: datetime) -> domain.EvidenceItem:
    return domain.EvidenceItem(
        id="0190f7a0-0000-7000-8000-0000000000e1",
        workspace_id="jit-demo",
        evidence_request_id="0190f7a0-0000-7000-8000-0000000000aa",
        origin_jurisdiction="IE",
        media_type="application/json",
        size_bytes=10,
        sha256="0" * 64,
        filename="export.json",
        description="",
        conditions="",
        consents=(),
        received_by=NL,
        received_at=received_at,
        blob_key="k",
    )


def test_epoc_emergency_objection_within_96_hours_is_honoured_after_closing() -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 10(4), 12(1)): the enforcing state objects 95 hours
    after receipt, after the data was delivered and the request closed: the request is refused and what was
    received is restricted (kept, not downloaded or exported), for everyone."""
    r = run(notified_epoc("EMERGENCY_WITH_NOTIFICATION"), "issue", "acknowledge", "start_execution", "complete")
    r = at(r, NOW + timedelta(hours=10), "close")
    assert r.state is State.CLOSED
    assert [d.kind for d in r.deadlines] == [DeadlineKind.OBJECTION]  # the window runs after closing too
    objection = NOW + timedelta(hours=95)
    assert "refuse" in domain.allowed_actions(r, ENFORCING, objection)
    refused = domain.apply(
        r, "refuse", TransitionInput(reason="journalist's sources", refusal_ground="IMMUNITY_OR_PRIVILEGE"),
        actor=Actor("u3", "ie-prosecutor", "IE"), now=objection,
    )  # fmt: skip
    assert refused.state is State.REFUSED and refused.items_restricted_at == objection
    received, later = received_item(NOW + timedelta(hours=5)), received_item(objection + timedelta(hours=1))
    assert domain.item_restricted(received, refused) and not domain.item_restricted(later, refused)
    problem = domain.content_refusal(received, refused, "downloaded")
    assert problem is not None and problem.reason == "ITEM_RESTRICTED" and "Art. 10(4)" in problem.message
    assert domain.content_refusal(received, r, "downloaded") is None  # not before the objection
    assert "IE objected (IMMUNITY_OR_PRIVILEGE)" in domain.restriction_purpose(refused)


def test_epoc_emergency_objection_after_96_hours_is_refused() -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 12(1)): a ground raised more than 96 hours after
    receipt of an emergency EPOC is refused with a reason code and the rule; nothing is restricted."""
    r = run(notified_epoc("EMERGENCY_WITH_NOTIFICATION"), "issue", "acknowledge", "start_execution", "complete")
    end = NOW + timedelta(hours=97)  # 96 hours from the full hour after receipt (Reg. 1182/71 Art. 3(1))
    assert domain.objection_window_end(r) == end
    assert "refuse" in domain.allowed_actions(r, ENFORCING, end - timedelta(seconds=1))
    assert "refuse" not in domain.allowed_actions(r, ENFORCING, end)
    with pytest.raises(FailedPrecondition) as info:
        at(r, end, "refuse", reason="late", refusal_ground="FUNDAMENTAL_RIGHTS")
    assert info.value.reason == "OBJECTION_WINDOW_PASSED" and "Art. 10(4), 12(1)" in info.value.message
    # Before any data was received, an objection refuses without restricting anything.
    early = run(notified_epoc("EMERGENCY_WITH_NOTIFICATION"), "issue", "acknowledge")
    refused = at(early, NOW + timedelta(hours=1), "refuse", reason="x", refusal_ground="FUNDAMENTAL_RIGHTS")
    assert refused.state is State.REFUSED and refused.items_restricted_at is None


def test_postponement_is_for_an_eio_only() -> None:
    r = run(make(), "issue", "acknowledge", "postpone", reason="would harm a domestic investigation")
    assert r.state is State.POSTPONED and r.deadlines == ()
    assert run(r, "resume").state is State.ACKNOWLEDGED
    mla = run(make(legal_basis="MLA"), "issue", "acknowledge")
    with pytest.raises(FailedPrecondition) as info:
        run(mla, "postpone", reason="x")
    assert info.value.reason == "EIO_ONLY"


def test_eio_postponement_before_recognition_resumes_with_the_decision_days_left() -> None:
    """EIO_POSTPONEMENT (Directive 2014/41/EU Art. 15, 12(3)): an EIO postponed before the recognition
    decision resumes before it (ACKNOWLEDGED), and its 30 days count on from the resumption with the days
    that were left when it was postponed."""
    r = run(make(), "issue", "acknowledge")
    assert [(d.kind, d.due_at) for d in r.deadlines] == [
        (DeadlineKind.DECIDE, datetime(2026, 10, 7, 22, 0, tzinfo=UTC))
    ]
    r = at(r, NOW + timedelta(days=10), "postpone", reason="a domestic search is pending")
    assert r.state is State.POSTPONED and r.postponed_from == "ACKNOWLEDGED" and r.deadlines == ()
    assert domain.allowed_actions(
        r, Principal("u2", "de-liaison", "DE", frozenset({"police_liaison"}), frozenset({"jit-demo"})), NOW
    ) == ("resume",)
    r = at(r, NOW + timedelta(days=25), "resume")
    assert r.state is State.ACKNOWLEDGED and r.postponed_from == "" and r.postponed_at is None
    (decide,) = r.deadlines
    assert decide.kind is DeadlineKind.DECIDE
    # The 20 days left, from the resumption: counted as if received 15 days later (22 September), to the end
    # of Thursday 22 October in Germany.
    assert decide.due_at == datetime(2026, 10, 22, 22, 0, tzinfo=UTC)
    assert "suspended 15d" in decide.source and "Art. 15" in decide.source
    # The decision can be taken and the execution deadline runs from it as always: 90 days from 3 October
    # end on New Year's Day 2027, a holiday, then a weekend: the end of Monday 4 January.
    r = at(r, NOW + timedelta(days=26), "start_execution")
    assert [(d.kind, d.due_at) for d in r.deadlines] == [
        (DeadlineKind.EXECUTE, datetime(2027, 1, 4, 23, 0, tzinfo=UTC))
    ]


def test_eio_postponement_in_execution_resumes_with_the_execution_days_left() -> None:
    """EIO_POSTPONEMENT (Directive 2014/41/EU Art. 15, 12(4)): postponed in execution, twice, an EIO resumes
    in execution and its 90 days run later by the time it was postponed; the decision's extension stays."""
    r = run(make(), "issue", "acknowledge", "extend_decision", reason="complex")
    r = at(r, NOW + timedelta(days=1), "start_execution")
    r = at(r, NOW + timedelta(days=31), "postpone", reason="the data is used in a domestic trial")
    assert r.postponed_from == "IN_EXECUTION"
    r = at(r, NOW + timedelta(days=41), "resume")
    r = at(r, NOW + timedelta(days=50), "postpone", reason="again")
    r = at(r, NOW + timedelta(days=52), "resume")
    assert r.state is State.IN_EXECUTION and r.execution_suspended_seconds == 12 * 86400
    (execute,) = r.deadlines
    # 90 days from 20 September (decided on the 8th, 12 days held): Saturday 19 December, then Monday 21.
    assert execute.due_at == datetime(2026, 12, 21, 23, 0, tzinfo=UTC) and "suspended 12d" in execute.source


def test_a_request_postponed_before_the_resume_state_was_stored_resumes_by_its_decision() -> None:
    """EIO_POSTPONEMENT: a request postponed before ``postponed_from`` was stored (the migration fills it; a
    replica of an older node may lack it) resumes in execution when the decision was taken, else before."""
    postponed = run(make(), "issue", "acknowledge", "postpone", reason="x")
    legacy = replace(postponed, postponed_from="", postponed_at=None)
    assert run(legacy, "resume").state is State.ACKNOWLEDGED
    decided = replace(legacy, decided_at=NOW)
    assert run(decided, "resume").state is State.IN_EXECUTION


def test_eio_postponement_and_delay_do_not_carry_over_a_resubmission() -> None:
    """EIO_POSTPONEMENT and EIO_DELAY_NOTICE end with the submission they were about: a refused EIO,
    clarified and resubmitted, runs its clocks afresh (REQUEST_RESUBMISSION), with no suspended time and no
    notified delay."""
    r = run(make(), "issue", "acknowledge")
    r = at(r, NOW + timedelta(days=1), "postpone", reason="x")
    r = at(r, NOW + timedelta(days=4), "resume")
    r = at(r, NOW + timedelta(days=5), "notify_delay", reason="busy", expected_at=NOW + timedelta(days=60))
    assert r.decision_suspended_seconds == 3 * 86400 and r.delay is not None
    r = at(r, NOW + timedelta(days=6), "refuse", reason="tried", refusal_ground="NE_BIS_IN_IDEM")
    again = at(r, NOW + timedelta(days=7), "resubmit", reason="other acts")
    assert again.decision_suspended_seconds == 0 and again.delay is None and again.postponed_from == ""
    decide = next(d for d in again.deadlines if d.kind is DeadlineKind.DECIDE)
    assert decide.due_at == datetime(2026, 10, 14, 22, 0, tzinfo=UTC) and "suspended" not in decide.source


def test_eio_delay_notice_is_shown_and_the_legal_deadline_does_not_move() -> None:
    """EIO_DELAY_NOTICE (Directive 2014/41/EU Art. 12(6)): the executing state that cannot execute in the 90
    days says why and when it expects to; the request shows it, the legal deadline stays where it was."""
    r = run(make(), "issue", "acknowledge", "start_execution")
    before = r.deadlines
    expected = NOW + timedelta(days=120)
    r2 = domain.apply(
        r, "notify_delay", TransitionInput(reason="the server is abroad", expected_at=expected), actor=DE, now=NOW
    )
    assert r2.state is State.IN_EXECUTION and r2.version == r.version + 1 and r2.deadlines == before
    assert r2.delay == domain.Delay(DeadlineKind.EXECUTE, "the server is abroad", expected, NOW, DE)
    # Before the decision, the delay is the decision's (Art. 12(5)).
    acked = run(make(), "issue", "acknowledge")
    d = domain.apply(acked, "notify_delay", TransitionInput(reason="r", expected_at=expected), actor=DE, now=NOW)
    assert d.delay is not None and d.delay.deadline is DeadlineKind.DECIDE


@pytest.mark.parametrize(
    ("expected", "field"),
    [
        (None, "expected_at"),
        (NOW - timedelta(seconds=1), "expected_at"),
        (NOW + timedelta(days=366), "expected_at"),
    ],
)
def test_eio_delay_notice_needs_a_date_ahead_within_a_year(expected: datetime | None, field: str) -> None:
    """EIO_DELAY_NOTICE: the date expected is required, in the future and at most a year ahead; a reason too."""
    t = domain.TRANSITIONS["notify_delay"]
    found = domain.transition_violations(t, TransitionInput(reason="why", expected_at=expected), NOW)
    assert [v.field for v in found] == [field]
    assert [
        v.field for v in domain.transition_violations(t, TransitionInput(expected_at=NOW + timedelta(days=1)), NOW)
    ] == ["reason"]


def test_eio_delay_notice_is_for_a_running_eio_deadline_only() -> None:
    """EIO_DELAY_NOTICE: an EIO only, and while its decision or execution deadline runs."""
    mla = run(make(legal_basis="MLA"), "issue", "acknowledge", "start_execution")
    with pytest.raises(FailedPrecondition) as info:
        run(mla, "notify_delay", reason="x", expected_at=NOW + timedelta(days=5))
    assert info.value.reason == "EIO_ONLY" and "Art. 12(5), 12(6)" in info.value.message
    postponed = run(make(), "issue", "acknowledge", "postpone", reason="x")
    with pytest.raises(FailedPrecondition) as info:
        run(postponed, "notify_delay", reason="x", expected_at=NOW + timedelta(days=5))
    assert info.value.reason == "ILLEGAL_TRANSITION"


def test_the_eio_decision_deadline_is_extended_once() -> None:
    """EIO_DECISION_EXTENSION (Directive 2014/41/EU Art. 12(5)): once, and only once."""
    r = run(make(), "issue", "acknowledge", "extend_decision", reason="complex case")
    assert r.state is State.ACKNOWLEDGED and r.decision_extended
    with pytest.raises(FailedPrecondition) as info:
        run(r, "extend_decision", reason="again")
    assert info.value.reason == "ALREADY_EXTENDED"


def test_the_eio_decision_deadline_is_extended_only_before_its_30_days_end() -> None:
    """EIO_DECISION_EXTENSION (Directive 2014/41/EU Art. 12(5)): the limit "may be extended" while it runs;
    asked after the 30 days passed (here on day 45) it is refused, naming the rule and when they ended, and
    the overdue decision deadline stays where it was."""
    r = run(make(), "issue", "acknowledge")
    (decide,) = r.deadlines
    end = deadlines.window_end(r.clocks(), DeadlineKind.DECIDE)
    assert end == decide.due_at
    assert "extend_decision" in domain.allowed_actions(r, EXECUTING, end - timedelta(seconds=1))
    late = NOW + timedelta(days=45)
    assert "extend_decision" not in domain.allowed_actions(r, EXECUTING, late)
    with pytest.raises(FailedPrecondition) as info:
        at(r, late, "extend_decision", reason="complex case")
    assert info.value.reason == "EXTENSION_TOO_LATE"
    assert end.isoformat() in info.value.message and "Art. 12(5)" in info.value.message
    assert at(r, end - timedelta(seconds=1), "extend_decision", reason="complex case").decision_extended


def test_a_provider_answers_through_the_issuer_and_the_notified_state_reviews() -> None:
    provider = make(
        legal_basis="EPOC",
        epoc_procedure="WITH_NOTIFICATION",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="Meta",
        addressee_jurisdiction="IE",
    )
    member = make()
    t = domain.TRANSITIONS
    assert domain.operation_for(t["acknowledge"], provider) is Operation.ISSUER_ACT
    assert domain.operation_for(t["acknowledge"], member) is Operation.ADDRESSEE_ACT
    assert domain.operation_for(t["conclude_review"], provider) is Operation.ADDRESSEE_ACT
    assert provider.parties == {"NL", "IE"}
    silent = make(
        legal_basis="EPOC",
        epoc_procedure="STANDARD",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="Meta",
        addressee_jurisdiction="IE",
    )
    assert silent.parties == {"NL"}  # no notification: the establishment state does not see it


def test_a_valid_request_has_no_violations() -> None:
    assert domain.new_request_violations(new(), "NL", NOW) == []


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"legal_basis": ""}, "legal_basis"),
        ({"legal_basis": "EPOC", "addressee_kind": "SERVICE_PROVIDER", "provider_name": "Meta"}, "epoc_procedure"),
        ({"epoc_procedure": "STANDARD"}, "epoc_procedure"),
        ({"addressee_kind": "SERVICE_PROVIDER", "provider_name": "Meta"}, "addressee_kind"),
        ({"addressee_jurisdiction": "NL"}, "addressee_jurisdiction"),
        ({"addressee_jurisdiction": "Germany"}, "addressee_jurisdiction"),
        ({"data_categories": ()}, "data_categories"),
        ({"data_categories": ("SUBSCRIBER", "SUBSCRIBER")}, "data_categories"),
        ({"targets": ()}, "targets"),
        ({"targets": (Target("URL", "javascript:alert(1)"),)}, "targets[0].value"),
        ({"targets": (Target("PHONE_NUMBER", "0612345678"),)}, "targets[0].value"),
        ({"targets": (Target("EMAIL", "not-an-email"),)}, "targets[0].value"),
        ({"targets": (Target("ACCOUNT_HANDLE", "has space"),)}, "targets[0].value"),
        ({"targets": (Target("EMAIL", "a@b.example", "instagram"),)}, "targets[0].platform"),
        ({"offence_category": ""}, "offence_category"),
        ({"title": "  "}, "title"),
        ({"issuing_authority": ""}, "issuing_authority"),
        ({"shared_with": ("IE",), "restricted": False}, "shared_with"),
        ({"preservation_order_id": "nope"}, "preservation_order_id"),
        ({"user_notice_status": "SUPPRESSED"}, "user_notice_status"),
        ({"request_id": "1"}, "request_id"),
    ],
)
def test_bad_input_names_the_field(over: dict[str, object], field: str) -> None:
    fields = {v.field for v in domain.new_request_violations(new(**over), "NL", NOW)}
    assert field in fields


def test_a_suppressed_notice_needs_a_future_date() -> None:
    provider = dict(
        legal_basis="VOLUNTARY",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="X Corp",
        addressee_jurisdiction="IE",
        user_notice_status="SUPPRESSED",
    )
    fields = {v.field for v in domain.new_request_violations(new(**provider), "NL", NOW)}
    assert "user_notice_suppressed_until" in fields
    ok = new(**provider, user_notice_suppressed_until=NOW + timedelta(days=90))
    assert domain.new_request_violations(ok, "NL", NOW) == []


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("ACCOUNT_HANDLE", "@harasser_x"),
        ("URL", "https://example.org/p/123?x=1"),
        ("PHONE_NUMBER", "+31612345678"),
        ("EMAIL", "someone@example.org"),
    ],
)
def test_typed_targets_accept_good_values(type_: str, value: str) -> None:
    assert domain.target_violations(0, Target(type_, value)) == []


@pytest.mark.parametrize(
    "value",
    [
        "http://[evil",
        "https://a.example/\x1b]0;pwned\x07\x1b[2J\x00",
        "https://a.example/\u202egpj.exe",
        "https://a.example/x\n",
    ],
)
def test_a_url_target_that_does_not_parse_or_holds_control_characters_is_refused_by_name(value: str) -> None:
    assert [v.field for v in domain.target_violations(0, Target("URL", value))] == ["targets[0].value"]


# -- dates a user states, and ids: bounded (issue 9) ------------------------------------------------


def test_a_receipt_before_the_request_was_issued_is_refused_and_changes_nothing() -> None:
    issued = run(make(), "issue")
    for when in (datetime(1970, 1, 1, tzinfo=UTC), NOW - timedelta(hours=1)):
        with pytest.raises(InvalidArgument) as info:
            domain.apply(issued, "acknowledge", TransitionInput(received_at=when), actor=DE, now=NOW)
        assert [v.field for v in info.value.violations] == ["received_at"]
    acked = domain.apply(issued, "acknowledge", TransitionInput(received_at=NOW), actor=DE, now=NOW)
    assert acked.received_at == NOW


@pytest.mark.parametrize(
    "when",
    [datetime(1970, 1, 1, tzinfo=UTC), datetime(2014, 12, 31, tzinfo=UTC), NOW - timedelta(days=3 * 365)],
)
def test_a_receipt_time_decades_or_years_back_is_refused_without_echo(when: datetime) -> None:
    t = domain.TRANSITIONS["acknowledge"]
    (v,) = domain.transition_violations(t, TransitionInput(received_at=when), NOW)
    assert v.field == "received_at" and str(when.year) not in v.description


def test_a_receipt_time_in_the_future_is_refused() -> None:
    t = domain.TRANSITIONS["acknowledge"]
    (v,) = domain.transition_violations(t, TransitionInput(received_at=NOW + timedelta(minutes=5)), NOW)
    assert v.field == "received_at"


def test_user_notice_suppression_is_bounded() -> None:
    t = domain.TRANSITIONS["update_user_notice"]
    far = datetime(9999, 1, 1, tzinfo=UTC)
    (v,) = domain.transition_violations(
        t, TransitionInput(user_notice_status="SUPPRESSED", user_notice_suppressed_until=far), NOW
    )
    assert v.field == "suppressed_until"
    ok = NOW + domain.MAX_SUPPRESSION - timedelta(days=1)
    assert (
        domain.transition_violations(
            t, TransitionInput(user_notice_status="SUPPRESSED", user_notice_suppressed_until=ok), NOW
        )
        == []
    )
    provider = new(
        legal_basis="VOLUNTARY",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="X Corp",
        addressee_jurisdiction="IE",
        user_notice_status="SUPPRESSED",
        user_notice_suppressed_until=far,
    )
    assert {v.field for v in domain.new_request_violations(provider, "NL", NOW)} == {"user_notice_suppressed_until"}


def _item(**over: object) -> NewItem:
    fields: dict[str, object] = dict(
        request_id="0190f7a0-0000-7000-8000-000000000002",
        evidence_request_id="0190f7a0-0000-7000-8000-0000000000aa",
        sha256="ab" * 32,
        size_bytes=10,
        media_type="image/jpeg",
        filename="a.jpg",
        description="",
        origin_jurisdiction="",
        conditions="",
    )
    fields.update(over)
    return NewItem(**fields)  # type: ignore[arg-type]


def test_a_consent_date_is_a_stated_past_date() -> None:
    assert domain.new_item_violations(_item(), NOW) == []
    for when in (datetime(1990, 1, 1, tzinfo=UTC), NOW + timedelta(days=1)):
        consent = Consent("prosecution in NL", "DE", when, "")
        fields = {v.field for v in domain.new_item_violations(_item(consents=(consent,)), NOW)}
        assert fields == {"metadata.use_conditions.consents[0].granted_at"}


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"request_id": "x" * 10_000}, "request_id"),
        ({"workspace_id": "x" * 10_000}, "workspace_id"),
        ({"preservation_order_id": "x" * 10_000}, "preservation_order_id"),
        ({"shared_with": ("X" * 10_000,)}, "shared_with[0]"),
        ({"addressee_jurisdiction": "X" * 10_000}, "addressee_jurisdiction"),
    ],
)
def test_a_huge_id_is_refused_without_echo(over: dict[str, object], field: str) -> None:
    found = {v.field: v.description for v in domain.new_request_violations(new(**over), "NL", NOW)}
    assert field in found and len(found[field]) < 200


def test_custody_events_are_exports_transfers_or_seals() -> None:
    assert domain.custody_event_violations(custody.Action.SEALED, "court file", "") == []
    assert {v.field for v in domain.custody_event_violations(custody.Action.EXPORTED, "court file", " ")} == {
        "recipient"
    }
    assert {v.field for v in domain.custody_event_violations(None, "", "x" * 1_000)} == {
        "action",
        "purpose",
        "recipient",
    }
