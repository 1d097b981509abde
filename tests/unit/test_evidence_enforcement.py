"""The enforcement of a European Production Order by the enforcing state (Reg. (EU) 2023/1543 Art. 16): the
issuer's prosecutor transfers an order the provider did not comply with, the enforcing state decides on its
recognition within 5 of its working days, and reads the request (not its items) from the transfer on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import legal
from jitlib.actors import Actor
from jitlib.errors import FailedPrecondition, InvalidArgument
from jitlib.policy import (
    EVIDENCE_ENFORCEMENT_RULES,
    EVIDENCE_ITEM_RULES,
    Decision,
    Operation,
    decide,
)
from jitlib.principal import Principal
from services.evidence import domain
from services.evidence.deadlines import Clocks, DeadlineKind, compute, enforcement, period_end
from services.evidence.mapping import request_from_pb, request_to_pb

# Thursday 22 October 2026, 10:00 in Dublin (UTC+1 until the 25th): the Monday after, 26 October, is a public
# holiday in Ireland (the October bank holiday), not in Germany.
T0 = datetime(2026, 10, 22, 9, 0, tzinfo=UTC)
D = timedelta(days=1)
NL = Actor("u1", "nl-prosecutor", "NL")
IE = Actor("u2", "ie-prosecutor", "IE")
WS = "jit-demo"
RID = "0190f7a0-0000-7000-8000-0000000000e1"


def _new(procedure: str = "STANDARD", basis: str = "EPOC", addressee: str = "IE") -> domain.NewRequest:
    return domain.NewRequest(
        request_id=RID,
        workspace_id=WS,
        legal_basis=basis,
        epoc_procedure=procedure if basis == "EPOC" else "",
        issuing_authority="OM Amsterdam",
        addressee_kind="SERVICE_PROVIDER" if basis == "EPOC" else "MEMBER_STATE",
        addressee_jurisdiction=addressee,
        provider_name="SocialNet Ireland Ltd" if basis == "EPOC" else "",
        data_categories=("SUBSCRIBER", "TRAFFIC"),
        targets=(domain.Target("ACCOUNT_HANDLE", "@harasser_x", "socialnet"),),
        offence_category="CYBERSTALKING",
        urgency="NORMAL",
        title="Identify the holder",
        description="",
        restricted=True,
        user_notice_status="PENDING" if basis == "EPOC" else "NOT_APPLICABLE",
        user_notice_suppressed_until=None,
    )


def issued(procedure: str = "STANDARD", basis: str = "EPOC", at: datetime = T0 - 12 * D) -> domain.EvidenceRequest:
    r = domain.create(_new(procedure, basis), request_id=RID, actor=NL, now=at)
    return domain.apply(r, "issue", domain.TransitionInput(), actor=NL, now=at)


def act(
    r: domain.EvidenceRequest, action: str, now: datetime = T0, who: Actor = NL, **kw: str | int
) -> domain.EvidenceRequest:
    if action == "recognise_enforcement":
        kw.setdefault("compliance_days", 10)  # required of the RPC (``transition_violations``)
    return domain.apply(r, action, domain.TransitionInput(**kw), actor=who, now=now)  # type: ignore[arg-type]


def who(role: str, jurisdiction: str, member: bool = True) -> Principal:
    return Principal(
        user_id=f"{role}-{jurisdiction}",
        username=f"{jurisdiction.lower()}-{role}",
        jurisdiction=jurisdiction,
        roles=frozenset({role}),
        workspaces=frozenset({WS}) if member else frozenset(),
    )


# -- the deadline ------------------------------------------------------------------------------------------


def test_epoc_enforcement_recognition_within_5_working_days_of_the_enforcing_state() -> None:
    """EPOC_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS: 5 working days from receipt in the enforcing state's
    calendar: from Thursday 22 October 2026, Ireland skips the weekend and its bank holiday of Monday 26
    October (the 5th working day is Friday 30, the period ends at its end in Dublin, UTC+0 by then); Germany,
    which works that Monday, ends a day earlier (Thursday 29 at midnight in Berlin)."""
    ie = enforcement(
        Clocks("EPOC", "STANDARD", "IN_ENFORCEMENT", T0, None, enforcing_jurisdiction="IE", enforcement_requested_at=T0)
    )
    de = enforcement(
        Clocks("EPOC", "STANDARD", "IN_ENFORCEMENT", T0, None, enforcing_jurisdiction="DE", enforcement_requested_at=T0)
    )
    assert ie is not None and de is not None
    assert ie.due_at == datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
    assert de.due_at == datetime(2026, 10, 29, 23, 0, tzinfo=UTC)
    assert ie.kind is DeadlineKind.ENFORCEMENT and ie.working_days and ie.counted_from == T0
    assert ie.source == legal.source("EPOC_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS")
    # Only while the enforcing state has to decide.
    assert (
        enforcement(
            Clocks(
                "EPOC", "STANDARD", "IN_EXECUTION", T0, None, enforcing_jurisdiction="IE", enforcement_requested_at=T0
            )
        )
        is None
    )


def test_a_transfer_starts_the_enforcement_deadline_and_a_decision_ends_it() -> None:
    r = act(issued(), "transfer_for_enforcement")
    assert r.state is domain.State.IN_ENFORCEMENT
    assert (r.enforcing_jurisdiction, r.enforcement_requested_at) == ("IE", T0)
    assert [d.kind for d in r.deadlines] == [DeadlineKind.ENFORCEMENT]  # the provider's PRODUCE no longer runs
    assert r.deadlines[0].due_at == datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
    recognised = act(r, "recognise_enforcement", T0 + D, IE)
    assert DeadlineKind.ENFORCEMENT not in {d.kind for d in recognised.deadlines}
    assert recognised.enforcement_decided_at == T0 + D


# -- the transitions ---------------------------------------------------------------------------------------


def test_epoc_enforcement_transfer_only_once_the_provider_failed_to_comply() -> None:
    """EPOC_ENFORCEMENT_TRANSFER: before the provider's 10 days passed, a transfer is PRODUCTION_DEADLINE_RUNNING
    (nothing changes); after them, or at once once it reported the order not executed, it is transferred."""
    fresh = issued(at=T0 - 2 * D)
    with pytest.raises(FailedPrecondition) as e:
        act(fresh, "transfer_for_enforcement")
    assert e.value.reason == "PRODUCTION_DEADLINE_RUNNING"
    assert "transfer_for_enforcement" not in domain.allowed_actions(fresh, who("prosecutor", "NL"), T0)
    end = domain.deadlines.window_end(fresh.clocks(), DeadlineKind.PRODUCE)
    assert end is not None and end in domain.clock_ends(fresh)  # a list's schedule turns there
    assert act(fresh, "transfer_for_enforcement", end).state is domain.State.IN_ENFORCEMENT
    not_executed = act(fresh, "report_not_executed", non_execution_reason="DATA_NOT_HELD")
    assert act(not_executed, "transfer_for_enforcement").state is domain.State.IN_ENFORCEMENT
    acknowledged = act(issued(), "acknowledge")
    executing = act(acknowledged, "start_execution")
    partly = act(executing, "partially_execute", data_categories=("SUBSCRIBER",))  # type: ignore[arg-type]
    for r in (issued(), acknowledged, executing, partly):
        assert act(r, "transfer_for_enforcement").state is domain.State.IN_ENFORCEMENT, r.state
    done = act(executing, "complete")
    with pytest.raises(FailedPrecondition) as e:
        act(done, "transfer_for_enforcement")
    assert e.value.reason == "ILLEGAL_TRANSITION"


def test_only_a_european_production_order_is_transferred_for_enforcement() -> None:
    eio = issued(basis="EIO")
    with pytest.raises(FailedPrecondition) as e:
        act(eio, "transfer_for_enforcement", T0 + 100 * D)
    assert e.value.reason == "EPOC_ONLY"


@pytest.mark.parametrize(
    ("procedure", "given", "why"),
    [
        ("STANDARD", "NL", "is the issuing state"),
        ("STANDARD", "DK", "bound by Reg. (EU) 2023/1543"),
        ("WITH_NOTIFICATION", "DE", "notified of this order, IE"),
    ],
)
def test_the_enforcing_state_given_is_validated_and_nothing_changes(procedure: str, given: str, why: str) -> None:
    r = issued(procedure)
    with pytest.raises(InvalidArgument) as e:
        act(r, "transfer_for_enforcement", enforcing_jurisdiction=given)
    (v,) = e.value.violations
    assert v.field == "enforcing_jurisdiction" and why in v.description
    t = domain.TRANSITIONS["transfer_for_enforcement"]
    (bad,) = domain.transition_violations(t, domain.TransitionInput(enforcing_jurisdiction="ireland"), T0)
    assert bad.field == "enforcing_jurisdiction" and "ireland" not in bad.description


def test_a_legal_representative_elsewhere_may_be_named_the_enforcing_state() -> None:
    r = act(issued(), "transfer_for_enforcement", enforcing_jurisdiction="DE")
    assert r.enforcing_jurisdiction == "DE"


def test_epoc_enforcement_recognised_returns_the_request_to_execution() -> None:
    """EPOC_ENFORCEMENT_RECOGNISED: back to IN_EXECUTION, or PARTIALLY_EXECUTED when a category was delivered
    before the transfer; the provider's delivery is then recorded as before."""
    r = act(issued(), "transfer_for_enforcement")
    assert act(r, "recognise_enforcement", who=IE).state is domain.State.IN_EXECUTION
    partly = act(
        act(act(issued(), "acknowledge"), "start_execution"), "partially_execute", data_categories=("SUBSCRIBER",)
    )  # type: ignore[arg-type]
    back = act(act(partly, "transfer_for_enforcement"), "recognise_enforcement", who=IE)
    assert back.state is domain.State.PARTIALLY_EXECUTED
    assert domain.receiving(back)
    assert act(back, "complete").state is domain.State.EXECUTED


def test_epoc_enforcement_refusal_grounds_are_a_closed_list() -> None:
    """EPOC_ENFORCEMENT_REFUSAL_GROUNDS: a ground is required, one of Art. 16(4); the request ends NOT_ENFORCED
    with it."""
    r = act(issued(), "transfer_for_enforcement")
    t = domain.TRANSITIONS["refuse_enforcement"]
    names = {v.field for v in domain.transition_violations(t, domain.TransitionInput(reason="facts"), T0)}
    assert names == {"ground"}
    assert {v.field for v in domain.transition_violations(t, domain.TransitionInput(), T0)} == {"ground", "detail"}
    with pytest.raises(InvalidArgument):
        act(r, "refuse_enforcement", who=IE, reason="facts", enforcement_ground="NE_BIS_IN_IDEM")
    out = act(r, "refuse_enforcement", who=IE, reason="facts", enforcement_ground="SERVICE_NOT_COVERED")
    assert (out.state, out.enforcement_refusal_ground) == (domain.State.NOT_ENFORCED, "SERVICE_NOT_COVERED")
    assert out.deadlines == ()
    assert tuple(g.removeprefix("ENFORCEMENT_REFUSAL_GROUND_") for g in pb.EnforcementRefusalGround.keys()[1:]) == (
        legal.ENFORCEMENT_REFUSAL_GROUNDS
    )
    for action in ("recognise_enforcement", "refuse_enforcement"):
        with pytest.raises(FailedPrecondition):
            act(out, action, who=IE, reason="again", enforcement_ground="SERVICE_NOT_COVERED")


def test_the_issuer_may_withdraw_a_transferred_order() -> None:
    r = act(issued(), "transfer_for_enforcement")
    assert act(r, "withdraw", reason="no longer needed").state is domain.State.WITHDRAWN


# -- who sees and acts ------------------------------------------------------------------------------------


def test_epoc_enforcing_state_sees_the_order_not_its_items() -> None:
    """EPOC_ENFORCING_STATE_SEES_THE_ORDER: a restricted EPOC without notification is not seen by Ireland (the
    provider's establishment) until it is transferred there; then Ireland, outside the workspace, reads it
    and its prosecutor decides, never its police liaison; the items keep the parties they had."""
    before = issued()
    ie_prosecutor = who("prosecutor", "IE", member=False)
    ie_liaison = who("police_liaison", "IE", member=False)
    assert decide(ie_prosecutor, Operation.READ, record=before.access()) is Decision.NOT_FOUND
    r = act(before, "transfer_for_enforcement")
    assert decide(ie_prosecutor, Operation.READ, record=r.access()) is Decision.ALLOW
    assert r.access().outside_reader == "IE" and "IE" in r.parties
    assert domain.allowed_actions(r, ie_prosecutor, T0) == ("recognise_enforcement", "refuse_enforcement")
    assert domain.allowed_actions(r, ie_liaison, T0) == ()
    assert domain.allowed_actions(r, who("police_liaison", "NL"), T0) == ()
    # The items: not Ireland's.
    assert r.item_access() == before.access()
    assert decide(ie_prosecutor, Operation.READ, EVIDENCE_ITEM_RULES, record=r.item_access()) is Decision.NOT_FOUND
    recognised = act(r, "recognise_enforcement", who=IE)
    assert "upload_item" not in domain.allowed_actions(recognised, ie_prosecutor, T0)
    assert "upload_item" in domain.allowed_actions(recognised, who("police_liaison", "NL"), T0)
    # The issuer's transfer: a prosecutor's.
    fresh = issued()
    assert "transfer_for_enforcement" in domain.allowed_actions(fresh, who("prosecutor", "NL"), T0)
    assert "transfer_for_enforcement" not in domain.allowed_actions(fresh, who("police_liaison", "NL"), T0)


def test_an_enforcing_state_already_notified_keeps_its_view() -> None:
    r = act(issued("WITH_NOTIFICATION"), "transfer_for_enforcement")
    assert r.enforcing_jurisdiction == "IE"
    assert r.access() == r.item_access() == issued("WITH_NOTIFICATION").access()


@pytest.mark.parametrize("role", ["prosecutor", "police_liaison", "participant"])
def test_the_enforcement_rules_are_a_prosecutor_s_on_either_side(role: str) -> None:
    r = act(issued(), "transfer_for_enforcement")
    for jurisdiction, op in (("NL", Operation.ISSUER_ACT), ("IE", Operation.ADDRESSEE_ACT)):
        p = who(role, jurisdiction, member=jurisdiction == "NL")
        want = Decision.ALLOW if role == "prosecutor" else Decision.DENY
        assert decide(p, op, EVIDENCE_ENFORCEMENT_RULES, record=r.access()) is want, (role, jurisdiction)
    assert decide(who(role, "DE"), Operation.ADDRESSEE_ACT, EVIDENCE_ENFORCEMENT_RULES, record=r.access()) in (
        Decision.NOT_FOUND,
        Decision.DENY,
    )


def test_the_enforcement_fields_go_both_ways_through_the_message() -> None:
    r = act(
        act(issued(), "transfer_for_enforcement", enforcing_jurisdiction="DE"),
        "refuse_enforcement",
        T0 + D,
        IE,
        reason="facts",
        enforcement_ground="DATA_NOT_STORED",
    )
    msg = request_to_pb(r, T0 + D)
    assert msg.state == pb.EVIDENCE_REQUEST_STATE_NOT_ENFORCED
    assert msg.enforcing_jurisdiction == "DE"
    assert msg.enforcement_refusal_ground == pb.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED
    back = request_from_pb(msg)
    for name in (
        "enforcing_jurisdiction",
        "enforcement_requested_at",
        "enforcement_decided_at",
        "enforcement_refusal_ground",
        "state",
    ):
        assert getattr(back, name) == getattr(r, name), name
    assert replace(back, deadlines=()).access() == r.access()


def test_the_cli_shows_the_transfer_and_the_enforcing_state_s_decision() -> None:
    """`jit evidence request show`: where and when the order was transferred, and the decision (awaited,
    recognised, or refused on its ground of Art. 16(4))."""
    from jitcli.evidence_cmd import enforcement_text

    r = act(issued(), "transfer_for_enforcement")
    assert "transferred to IE 2026-10-22 09:00 UTC" in enforcement_text(request_to_pb(r, T0))
    assert "awaited" in enforcement_text(request_to_pb(r, T0))
    ok = act(r, "recognise_enforcement", T0 + D, IE)
    assert "recognised 2026-10-23 09:00 UTC: the provider is required to comply" in enforcement_text(
        request_to_pb(ok, T0 + D)
    )
    no = act(r, "refuse_enforcement", T0 + D, IE, reason="facts", enforcement_ground="FUNDAMENTAL_RIGHTS")
    assert "recognition refused 2026-10-23 09:00 UTC: fundamental-rights (Art. 16(4))" in enforcement_text(
        request_to_pb(no, T0 + D)
    )


# -- after recognition: the provider's deadline to comply ----------------------------------------------------


def test_epoc_enforcement_compliance_deadline_replaces_the_provider_s_first_deadline() -> None:
    """EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: recognising the order on Friday 23 October 2026, Ireland gives the
    provider 10 days, counted from then in its calendar; the provider's PRODUCE deadline, long passed, no longer
    runs nor shows overdue (in the request's view, its list answer and after a replica's round trip)."""
    transferred = act(issued(), "transfer_for_enforcement")
    recognised = act(transferred, "recognise_enforcement", T0 + D, IE, compliance_days=10)
    assert recognised.compliance_days == 10
    (comply,) = recognised.deadlines
    assert comply.kind is DeadlineKind.COMPLIANCE and not comply.working_days and comply.counted_from == T0 + D
    assert comply.due_at == period_end(T0 + D, 10 * D, "IE")
    assert comply.source == legal.source("EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE")
    shown = request_to_pb(recognised, T0 + 2 * D)
    assert [(d.kind, d.overdue) for d in shown.deadlines] == [(pb.DEADLINE_KIND_COMPLIANCE, False)]
    assert shown.compliance_days == 10 and shown.next_deadline_at.ToDatetime(tzinfo=UTC) == comply.due_at
    assert request_from_pb(shown).compliance_days == 10
    # A delivery under enforcement keeps it running until the request is executed.
    partly = act(recognised, "partially_execute", T0 + 2 * D, data_categories=("SUBSCRIBER",))  # type: ignore[arg-type]
    assert [d.kind for d in partly.deadlines] == [DeadlineKind.COMPLIANCE]
    assert act(partly, "complete", T0 + 3 * D).deadlines == ()


@pytest.mark.parametrize("days", [0, -1, 91])
def test_a_recognition_needs_the_days_to_comply_and_writes_nothing_without_them(days: int) -> None:
    """EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: the enforcing state sets a deadline (1 to 90 days); without it,
    INVALID_ARGUMENT on compliance_days, checked before anything is read or changed."""
    t = domain.TRANSITIONS["recognise_enforcement"]
    (bad,) = domain.transition_violations(t, domain.TransitionInput(compliance_days=days), T0)
    assert bad.field == "compliance_days" and "1 to 90" in bad.description and "Art. 16(3)" in bad.description
    assert domain.transition_violations(t, domain.TransitionInput(compliance_days=90), T0) == []
    other = domain.TRANSITIONS["refuse_enforcement"]
    fields = {v.field for v in domain.transition_violations(other, domain.TransitionInput(), T0)}
    assert "compliance_days" not in fields


def test_epoc_enforcement_not_transferred_again_once_recognised() -> None:
    """EPOC_ENFORCEMENT_NOT_TRANSFERRED_AGAIN, EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: once the enforcing state
    recognised the order, the issuer does not transfer it again: not before the deadline it set, not after it
    (the provider still silent), not once the provider reported it not executed; nothing changes. The provider's
    late delivery is still recorded. A list's schedule does not turn at that deadline for a transfer."""
    recognised = act(act(issued(), "transfer_for_enforcement"), "recognise_enforcement", T0 + D, IE, compliance_days=5)
    end = period_end(T0 + D, 5 * D, "IE")
    not_executed = act(recognised, "report_not_executed", end + D, non_execution_reason="DATA_NOT_HELD")
    for r, now in ((recognised, T0 + 2 * D), (recognised, end), (recognised, end + 30 * D), (not_executed, end + D)):
        with pytest.raises(FailedPrecondition) as e:
            act(r, "transfer_for_enforcement", now)
        assert e.value.reason == "ENFORCEMENT_ALREADY_RECOGNISED", (r.state, now)
        assert "IE recognised this order" in e.value.message and "Art. 16" in e.value.message
        assert "transfer_for_enforcement" not in domain.allowed_actions(r, who("prosecutor", "NL"), now)
    assert end not in domain.clock_ends(recognised)
    late = act(recognised, "complete", end + 3 * D)
    assert (late.state, late.deadlines) == (domain.State.EXECUTED, ())
    # A refused order, clarified and resubmitted, is a new receipt: its new deadline passed, it is transferred.
    fresh = replace(recognised, state=domain.State.ISSUED, received_at=T0 + 3 * D)
    produce_end = domain.deadlines.production_end(fresh.clocks())
    assert produce_end is not None and produce_end in domain.clock_ends(fresh)
    assert act(fresh, "transfer_for_enforcement", produce_end).state is domain.State.IN_ENFORCEMENT


def test_a_recognition_recorded_before_the_days_were_asked_has_no_deadline_invented() -> None:
    """EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: a request recognised before compliance_days existed (0, revision
    0037) shows no COMPLIANCE deadline, and its superseded PRODUCE no longer runs either (recounted at start)."""
    clocks = Clocks(
        "EPOC", "STANDARD", "IN_EXECUTION", T0 - 12 * D, None, jurisdiction="IE", enforcing_jurisdiction="IE",
        enforcement_requested_at=T0, enforcement_decided_at=T0 + D,
    )  # fmt: skip
    assert compute(clocks) == ()
    # Before any recognition, or decided before the (last) receipt: the PRODUCE deadline runs.
    assert [d.kind for d in compute(replace(clocks, enforcement_decided_at=None))] == [DeadlineKind.PRODUCE]
    resubmitted = replace(clocks, state="ISSUED", received_at=T0 + 2 * D, compliance_days=10)
    assert [d.kind for d in compute(resubmitted)] == [DeadlineKind.PRODUCE]


def test_the_cli_shows_the_days_the_enforcing_state_gave() -> None:
    from jitcli.evidence_cmd import enforcement_text

    ok = act(act(issued(), "transfer_for_enforcement"), "recognise_enforcement", T0 + D, IE, compliance_days=10)
    text = enforcement_text(request_to_pb(ok, T0 + D))
    assert "the provider is required to comply within 10 days" in text and "Art. 16(3)" in text


# -- an emergency order's 96 hours to object go on in enforcement ----------------------------------------------


def test_epoc_emergency_objection_during_enforcement_keeps_the_96_hours_running() -> None:
    """EPOC_EMERGENCY_OBJECTION_DURING_ENFORCEMENT: an emergency EPOC with notification to a provider in Ireland,
    past its 8 hours without the data, is transferred to Ireland (the notified state); its 96 hours to object
    still run and are still warned, and an objection within them is honoured: the request is refused and the
    data received before restricted. After them, an objection is OBJECTION_WINDOW_PASSED."""
    received = T0 - 10 * timedelta(hours=1)
    r = issued("EMERGENCY_WITH_NOTIFICATION", at=received)
    r = act(r, "acknowledge", received)
    r = act(r, "start_execution", received)
    r = act(r, "partially_execute", received + timedelta(hours=2), data_categories=("SUBSCRIBER",))  # type: ignore[arg-type]
    objection_end = domain.objection_window_end(r)
    assert objection_end is not None
    t = act(r, "transfer_for_enforcement")
    assert t.state is domain.State.IN_ENFORCEMENT
    assert {d.kind: d.due_at for d in t.deadlines}[DeadlineKind.OBJECTION] == objection_end
    ie = who("prosecutor", "IE", member=False)
    assert "refuse" in domain.allowed_actions(t, ie, objection_end - timedelta(seconds=1))
    objected = act(t, "refuse", T0 + D, IE, reason="journalist's sources", refusal_ground="IMMUNITY_OR_PRIVILEGE")
    assert objected.state is domain.State.REFUSED and objected.items_restricted_at == T0 + D
    # Also once recognition was refused: the 96 hours still run there.
    not_enforced = act(t, "refuse_enforcement", T0, IE, reason="facts", enforcement_ground="SERVICE_NOT_COVERED")
    assert [d.kind for d in not_enforced.deadlines] == [DeadlineKind.OBJECTION]
    assert "refuse" in domain.allowed_actions(not_enforced, ie, T0 + D)
    with pytest.raises(FailedPrecondition) as e:
        act(t, "refuse", objection_end, IE, reason="late", refusal_ground="FUNDAMENTAL_RIGHTS")
    assert e.value.reason == "OBJECTION_WINDOW_PASSED"
