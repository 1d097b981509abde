"""The enforcement of a European Preservation Order by the enforcing state (Reg. (EU) 2023/1543 Art. 16), pure:
when the issuer may transfer it, to which state, who decides, what the decision does, the enforcing state's 5
working days and their warnings, and who reads the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitlib import legal
from jitlib.errors import FailedPrecondition, InvalidArgument
from jitlib.periods import enforcement_decision_due, period_end
from jitlib.policy import Decision, Operation, decide
from jitlib.principal import Principal
from services.preservation import domain
from services.preservation.domain import LegalBasis, OrderState, TransitionInput
from tests.unit.test_preservation_rules import NL, RULES, T0, D, new_order, step

OVERDUE = timedelta(days=3)


def issued(basis: LegalBasis = LegalBasis.EPOC_PR) -> domain.Order:
    return step(new_order(basis), "issue", T0)


def who(jurisdiction: str, role: str, workspaces: frozenset[str] = frozenset({"jit-demo"})) -> Principal:
    return Principal(
        f"u-{jurisdiction}-{role}", f"{jurisdiction.lower()}-{role}", jurisdiction, frozenset({role}), workspaces
    )


def actions(order: domain.Order, p: Principal, now: object) -> tuple[str, ...]:
    return domain.allowed_actions(order, p, RULES.clock_for(order), now, overdue_after=OVERDUE)  # type: ignore[arg-type]


def transfer(order: domain.Order, now: object, **kw: object) -> domain.Order:
    return domain.apply(
        order,
        "transfer_for_enforcement",
        TransitionInput(**kw),  # type: ignore[arg-type]
        actor=NL,
        now=now,  # type: ignore[arg-type]
        rule=RULES.clock_for(order),
        overdue_after=OVERDUE,
    )


def test_epoc_pr_enforcement_transfer_only_once_the_provider_is_in_default() -> None:
    """EPOC_PR_ENFORCEMENT_TRANSFER: an issued EPOC-PR is transferred only once unconfirmed past the node's
    confirmation delay (PROVIDER_NOT_IN_DEFAULT before), one recorded not executed at once; to the provider's
    establishment (IE) by default; another basis is EPOC_PR_ONLY; a confirmed order is ILLEGAL_TRANSITION."""
    order = issued()
    with pytest.raises(FailedPrecondition) as info:
        transfer(order, T0 + OVERDUE)
    assert info.value.reason == "PROVIDER_NOT_IN_DEFAULT" and "confirmation_due" in info.value.metadata
    moved = transfer(order, T0 + OVERDUE + timedelta(minutes=1), reason="no confirmation")
    assert (moved.state, moved.enforcing_jurisdiction) == (OrderState.IN_ENFORCEMENT, "IE")
    assert moved.enforcement_requested_at == T0 + OVERDUE + timedelta(minutes=1) and moved.state_reason

    not_executed = step(order, "record_not_executed", T0 + D, not_executed_reason="OTHER")
    assert transfer(not_executed, T0 + D).state is OrderState.IN_ENFORCEMENT

    for basis in (LegalBasis.NATIONAL, LegalBasis.BUDAPEST_ART29):
        with pytest.raises(FailedPrecondition) as info:
            transfer(issued(basis), T0 + 10 * D)
        assert info.value.reason == "EPOC_PR_ONLY"
    with pytest.raises(FailedPrecondition) as info:
        transfer(step(order, "confirm", T0 + D), T0 + 10 * D)
    assert info.value.reason == "ILLEGAL_TRANSITION"


def test_epoc_pr_enforcement_transfer_names_a_bound_state_other_than_the_issuers() -> None:
    """EPOC_PR_ENFORCEMENT_TRANSFER: the enforcing state given is well formed (before any load), not the
    issuer's own and bound by the Regulation (not DK); each refused naming enforcing_jurisdiction."""
    bad = domain.transition_violations(
        "transfer_for_enforcement", TransitionInput(enforcing_jurisdiction="ireland"), T0
    )
    assert [v.field for v in bad] == ["enforcing_jurisdiction"]
    for given in ("NL", "DK"):
        with pytest.raises(InvalidArgument) as info:
            transfer(issued(), T0 + 10 * D, enforcing_jurisdiction=given)
        assert [v.field for v in info.value.violations] == ["enforcing_jurisdiction"]
    assert transfer(issued(), T0 + 10 * D, enforcing_jurisdiction="DE").enforcing_jurisdiction == "DE"


def test_epoc_pr_clock_runs_during_enforcement() -> None:
    """EPOC_PR_CLOCK_RUNS_DURING_ENFORCEMENT: in enforcement the 60 days from receipt run on (warned, extended
    in place, expired); an order transferred once they ended is PRESERVATION_EXPIRED."""
    order = issued()
    moved = transfer(order, T0 + 10 * D)
    assert moved.clock_runs() and moved.expires_at == order.expires_at
    extended = step(moved, "extend", T0 + 20 * D)
    assert extended.state is OrderState.IN_ENFORCEMENT and extended.extension_count == 1
    assert step(moved, "expire", T0 + 61 * D).state is OrderState.EXPIRED
    assert order.expires_at is not None
    not_executed = step(order, "record_not_executed", T0 + D, not_executed_reason="OTHER")
    with pytest.raises(FailedPrecondition) as info:
        transfer(not_executed, order.expires_at)
    assert info.value.reason == "PRESERVATION_EXPIRED"


def test_epoc_pr_enforcement_recognised_and_epoc_pr_enforcement_not_transferred_again() -> None:
    """EPOC_PR_ENFORCEMENT_RECOGNISED: recognised, the order is ISSUED again (its confirmation recorded as
    before); EPOC_PR_ENFORCEMENT_NOT_TRANSFERRED_AGAIN: not transferred again, even once recorded not executed
    again. Refused on a ground of the shared closed list (EPOC_ENFORCEMENT_REFUSAL_GROUNDS), it is NOT_ENFORCED
    and ends there; without a ground, or with one not on the list, INVALID_ARGUMENT naming ground."""
    moved = transfer(issued(), T0 + 10 * D)
    recognised = step(moved, "recognise_enforcement", T0 + 11 * D)
    assert (recognised.state, recognised.enforcement_decided_at) == (OrderState.ISSUED, T0 + 11 * D)
    assert step(recognised, "confirm", T0 + 12 * D).state is OrderState.CONFIRMED
    for again in (recognised, step(recognised, "record_not_executed", T0 + 12 * D, not_executed_reason="OTHER")):
        with pytest.raises(FailedPrecondition) as info:
            transfer(again, T0 + 13 * D)
        assert info.value.reason == "ENFORCEMENT_ALREADY_RECOGNISED"
        assert info.value.metadata["enforcing_jurisdiction"] == "IE"

    for ground in ("", "UNKNOWN"):
        bad = domain.transition_violations("refuse_enforcement", TransitionInput(enforcement_ground=ground), T0)
        assert [v.field for v in bad] == ["ground"]
    ground = legal.ENFORCEMENT_REFUSAL_GROUNDS[3]
    assert not domain.transition_violations("refuse_enforcement", TransitionInput(enforcement_ground=ground), T0)
    refused = step(moved, "refuse_enforcement", T0 + 11 * D, enforcement_ground=ground, reason="nothing stored")
    assert (refused.state, refused.enforcement_refusal_ground) == (OrderState.NOT_ENFORCED, ground)
    assert not refused.clock_runs() and actions(refused, who("NL", "prosecutor"), T0 + 12 * D) == (
        "update_user_notice",
    )


def test_epoc_pr_enforcing_state_sees_the_order() -> None:
    """EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER: the enforcing state reads the restricted order only from its
    transfer on, from outside the workspace too; its prosecutor alone decides (a liaison of either side may
    not); the issuer's prosecutor alone transfers."""
    order = issued()
    outside = who("IE", "prosecutor", frozenset())
    assert decide(outside, Operation.READ, record=order.access()) is Decision.NOT_FOUND
    late = T0 + 10 * D
    assert actions(order, who("NL", "prosecutor"), late)[-2:] == ("update_user_notice", "transfer_for_enforcement")
    assert "transfer_for_enforcement" not in actions(order, who("NL", "police_liaison"), late)
    assert "transfer_for_enforcement" not in actions(order, who("NL", "prosecutor"), T0 + D)
    moved = transfer(order, late)
    assert moved.access().outside_reader == "IE"
    assert decide(outside, Operation.READ, record=moved.access()) is Decision.ALLOW
    assert actions(moved, outside, late) == ("recognise_enforcement", "refuse_enforcement")
    assert actions(moved, who("IE", "police_liaison"), late) == ()
    assert "recognise_enforcement" not in actions(moved, who("NL", "prosecutor"), late)
    assert decide(who("DE", "prosecutor"), Operation.READ, record=moved.access()) is Decision.NOT_FOUND


def test_epoc_pr_enforcement_recognition_within_5_working_days_warned_once_each() -> None:
    """EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS: the deadline is the evidence service's count (5
    working days of the enforcing state, ``jitlib.periods``); warned 48 h and 8 h before and when passed, each
    under its own key, never first; none once decided."""
    received = T0 + 4 * D  # Friday 11 September 2026
    moved = transfer(issued(), received)
    due = domain.enforcement_due_at(moved)
    assert due == enforcement_decision_due(received, "IE") == period_end(received, 5 * D, "IE", working_days=True)
    assert due == datetime(2026, 9, 18, 23, 0, tzinfo=UTC)  # the end of Friday 18 September in Dublin (UTC+1)
    offsets = domain.ENFORCEMENT_OFFSETS
    first = domain.next_enforcement_alert_at(moved, offsets)
    assert first == due - timedelta(hours=48)
    found = domain.due_enforcement_warnings([(moved.id, due, first)], offsets, due)
    assert [d.offset for _, _, d in found] == [timedelta(hours=48), timedelta(hours=8), timedelta(0)]
    assert len({key for key, _, _ in found}) == 3
    warnings = [domain.enforcement_warning(moved, offsets, d.offset) for _, _, d in found]
    assert all(w is not None and w.enforcement and not w.first and not w.at_expiry for w in warnings)
    assert warnings[-1] is not None and "ended" in warnings[-1].reason
    assert domain.next_enforcement_alert_at(moved, offsets, after=due) is None
    decided = step(moved, "recognise_enforcement", received + D)
    assert domain.enforcement_due_at(decided) is None and domain.enforcement_plan_changed(moved, decided)


def test_epoc_pr_enforcement_pending_during_production() -> None:
    """EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION: a production request linked while the order is in
    enforcement (the consumer's step, or MarkProductionRequested) stops its 60 days as from ISSUED; the enforcing
    state's deadline and warnings stay as planned (no new plan: none lost, none sent twice) and it may still
    decide; a failed request brings the order back to IN_ENFORCEMENT with the time that was left, undecided, and
    to ISSUED once recognised; a refusal meanwhile ends it. A production request never transferred is not
    decided on (ILLEGAL_TRANSITION)."""
    from jit.evidence.v1 import evidence_pb2 as epb
    from services.preservation import events

    moved = transfer(issued(), T0 + 10 * D)
    assert moved.expires_at is not None
    due = domain.enforcement_due_at(moved)
    assert events.production_steps(
        moved, epb.EVIDENCE_REQUEST_STATE_ISSUED, None, RULES.clock_for(moved), T0 + 11 * D
    ) == ["request_production"]
    asked = step(moved, "request_production", T0 + 11 * D, follow_up_request_id=domain_uuid())
    assert asked.state is OrderState.PRODUCTION_REQUESTED and not asked.clock_runs()
    assert asked.clock_remaining_seconds == int((moved.expires_at - (T0 + 11 * D)).total_seconds())
    assert domain.enforcement_due_at(asked) == due and not domain.enforcement_plan_changed(moved, asked)
    offsets = domain.ENFORCEMENT_OFFSETS
    assert domain.next_enforcement_alert_at(asked, offsets) == domain.next_enforcement_alert_at(moved, offsets)
    outside = who("IE", "prosecutor", frozenset())
    assert actions(asked, outside, T0 + 11 * D) == ("recognise_enforcement", "refuse_enforcement")
    assert "request_production" in actions(moved, who("NL", "prosecutor"), T0 + 11 * D)

    resumed = step(asked, "resume", T0 + 20 * D)
    assert resumed.state is OrderState.IN_ENFORCEMENT and resumed.enforcement_decided_at is None
    assert resumed.expires_at == T0 + 20 * D + timedelta(seconds=asked.clock_remaining_seconds or 0)
    assert domain.enforcement_due_at(resumed) == due and not domain.enforcement_plan_changed(asked, resumed)

    recognised = step(asked, "recognise_enforcement", T0 + 12 * D)
    assert recognised.state is OrderState.PRODUCTION_REQUESTED and recognised.enforcement_decided_at == T0 + 12 * D
    assert domain.enforcement_due_at(recognised) is None and domain.enforcement_plan_changed(asked, recognised)
    assert step(recognised, "resume", T0 + 20 * D).state is OrderState.ISSUED
    ground = legal.ENFORCEMENT_REFUSAL_GROUNDS[0]
    assert step(asked, "refuse_enforcement", T0 + 12 * D, enforcement_ground=ground).state is OrderState.NOT_ENFORCED

    for decided_or_never in (
        recognised,
        step(issued(), "request_production", T0 + D, follow_up_request_id=domain_uuid()),
    ):
        assert actions(decided_or_never, outside, T0 + 13 * D) == ()
        with pytest.raises(FailedPrecondition) as info:
            step(decided_or_never, "recognise_enforcement", T0 + 13 * D)
        assert info.value.reason == "ILLEGAL_TRANSITION"


def domain_uuid() -> str:
    return "0f1e2d3c-4b5a-4968-8776-655443322111"
