"""A preservation order's user notice, pure: what a valid notice is at creation and on change (the rule shared
with evidence requests, ``jitlib.usernotice``), who changes it, when its suppression shows lapsed, and the
warnings of the end of its non-disclosure order (PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jit.preservation.v1 import preservation_pb2 as pb
from jitlib import usernotice
from jitlib.actors import Actor
from jitlib.mapping import dt_to_ts
from jitlib.principal import Principal
from services.preservation import domain, providers
from services.preservation.domain import NewOrder, OrderState, Rules, Target, TransitionInput
from services.preservation.mapping import new_order_from_pb, order_answer, order_from_pb, order_to_pb, transition_input

T0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
D, H = timedelta(days=1), timedelta(hours=1)
UNTIL = T0 + 30 * D
NL = Actor("u-nl", "nl-prosecutor", "NL")
RULES = Rules(providers=providers.load())
OFFSETS = domain.NOTICE_OFFSETS
ORDER_ID = "01935c4e-0000-7000-8000-000000000001"


def cmd(status: str = "", until: datetime | None = None) -> NewOrder:
    return NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis="EPOC_PR",
        provider_id="socialnet-ie",
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER",),
        description="",
        restricted=True,
        user_notice_status=status,
        user_notice_suppressed_until=until,
    )


def order(
    status: str = "SUPPRESSED", until: datetime | None = UNTIL, state: OrderState = OrderState.DRAFT
) -> domain.Order:
    created = domain.create(cmd(status, until), order_id=ORDER_ID, actor=NL, now=T0)
    if state is OrderState.DRAFT:
        return created
    return step(created, "issue", T0)


def step(o: domain.Order, action: str, now: datetime, **kw: object) -> domain.Order:
    return domain.apply(o, action, TransitionInput(**kw), actor=NL, now=now, rule=RULES.clock_for(o))  # type: ignore[arg-type]


def fields(violations: list[domain.FieldViolation]) -> set[str]:
    return {v.field for v in violations}


# ---- at creation ------------------------------------------------------------------------------------


def test_a_new_order_s_notice_is_pending_unless_said_and_a_suppression_keeps_its_end() -> None:
    assert order(status="", until=None).user_notice_status == "PENDING"
    suppressed = order()
    assert (suppressed.user_notice_status, suppressed.user_notice_suppressed_until) == ("SUPPRESSED", UNTIL)


@pytest.mark.parametrize(
    ("status", "until", "refused"),
    [
        ("", None, set()),
        ("PENDING", None, set()),
        ("SENT", None, set()),
        ("NOT_APPLICABLE", None, set()),
        ("SUPPRESSED", T0 + D, set()),
        ("SUPPRESSED", None, {"user_notice_suppressed_until"}),  # a non-disclosure order has an end
        ("SUPPRESSED", T0 - H, {"user_notice_suppressed_until"}),  # in the future
        ("SUPPRESSED", T0 + usernotice.MAX_SUPPRESSION + D, {"user_notice_suppressed_until"}),  # bounded
        ("PENDING", T0 + D, {"user_notice_suppressed_until"}),  # only with SUPPRESSED
        ("UNSPECIFIED", None, {"user_notice_status"}),
    ],
)
def test_a_new_order_s_notice_is_validated_as_an_evidence_request_s(
    status: str, until: datetime | None, refused: set[str]
) -> None:
    assert fields(domain.new_notice_violations(cmd(status, until), T0)) == refused


def test_an_unknown_notice_status_on_the_wire_names_its_field_once() -> None:
    request = pb.CreateOrderRequest(user_notice_status=99)  # type: ignore[arg-type]
    parsed = new_order_from_pb(request)
    assert "user_notice_status" in parsed.unknown_enums
    assert domain.new_notice_violations(parsed, T0) == []  # named by new_order_violations, not twice
    assert "user_notice_status" in fields(domain.new_order_violations(parsed, RULES.providers))


def test_the_wire_s_notice_is_read_at_creation_and_on_change() -> None:
    request = pb.CreateOrderRequest(
        user_notice_status=pb.USER_NOTICE_STATUS_SUPPRESSED, user_notice_suppressed_until=dt_to_ts(UNTIL)
    )
    parsed = new_order_from_pb(request)
    assert (parsed.user_notice_status, parsed.user_notice_suppressed_until) == ("SUPPRESSED", UNTIL)
    assert new_order_from_pb(pb.CreateOrderRequest()).user_notice_status == ""
    data = transition_input(pb.UpdateUserNoticeRequest(status=pb.USER_NOTICE_STATUS_SENT))
    assert (data.user_notice_status, data.user_notice_suppressed_until) == ("SENT", None)
    assert transition_input(pb.LiftOrderRequest(reason="x")).user_notice_status == ""


# ---- a change of the notice --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "until", "refused"),
    [
        ("SUPPRESSED", T0 + 10 * D, set()),
        ("SENT", None, set()),
        ("SUPPRESSED", None, {"suppressed_until"}),
        ("SUPPRESSED", T0 - D, {"suppressed_until"}),
        ("SENT", T0 + D, {"suppressed_until"}),
        ("UNSPECIFIED", None, {"status"}),
    ],
)
def test_a_change_of_the_notice_is_validated_naming_its_field(
    status: str, until: datetime | None, refused: set[str]
) -> None:
    data = TransitionInput(user_notice_status=status, user_notice_suppressed_until=until)
    assert fields(domain.transition_violations("update_user_notice", data, T0)) == refused


@pytest.mark.parametrize("state", list(OrderState))
def test_a_change_of_the_notice_keeps_the_order_s_state_and_clock(state: OrderState) -> None:
    issued = replace(order(state=OrderState.ISSUED), state=state)
    renewed = step(issued, "update_user_notice", T0 + D, user_notice_status="SUPPRESSED",
                   user_notice_suppressed_until=UNTIL + 60 * D)  # fmt: skip
    assert renewed.state is state and renewed.version == issued.version + 1
    assert (renewed.expires_at, renewed.extension_deadline) == (issued.expires_at, issued.extension_deadline)
    assert (renewed.user_notice_status, renewed.user_notice_suppressed_until) == ("SUPPRESSED", UNTIL + 60 * D)


def test_a_retry_of_the_same_notice_is_unchanged() -> None:
    o = order()
    assert domain.notice_unchanged(
        o, TransitionInput(user_notice_status="SUPPRESSED", user_notice_suppressed_until=UNTIL)
    )
    assert not domain.notice_unchanged(o, TransitionInput(user_notice_status="SUPPRESSED",
                                                          user_notice_suppressed_until=UNTIL + D))  # fmt: skip
    assert not domain.notice_unchanged(o, TransitionInput(user_notice_status="SENT"))


def _principal(jurisdiction: str, role: str) -> Principal:
    return Principal(f"u-{role}", role, jurisdiction, frozenset({role}), frozenset({"jit-demo"}))


def test_preservation_user_notice_suppression_lapses_changed_by_the_issuer_s_prosecutor_alone() -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: only the issuing side's prosecutor changes the notice; its
    police liaison takes the order's other steps."""
    o = order(state=OrderState.ISSUED)
    rule = RULES.clock_for(o)
    assert "update_user_notice" in domain.allowed_actions(o, _principal("NL", "prosecutor"), rule, T0)
    liaison = domain.allowed_actions(o, _principal("NL", "police_liaison"), rule, T0)
    assert "update_user_notice" not in liaison and "confirm" in liaison
    assert "update_user_notice" not in domain.allowed_actions(o, _principal("IE", "prosecutor"), rule, T0)


# ---- lapsed when read --------------------------------------------------------------------------------


def test_preservation_user_notice_suppression_lapses_at_its_end_whatever_the_state() -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: derived when read, from its end on; never for a notice
    that is not suppressed."""
    o = order(state=OrderState.ISSUED)
    assert not domain.suppression_lapsed(o, UNTIL - timedelta(seconds=1))
    assert domain.suppression_lapsed(o, UNTIL) and domain.suppression_lapsed(o, UNTIL + 90 * D)
    assert domain.suppression_lapsed(replace(o, state=OrderState.LIFTED), UNTIL + D)
    sent = step(o, "update_user_notice", T0 + D, user_notice_status="SENT")
    assert not domain.suppression_lapsed(sent, UNTIL + D)


def test_an_order_s_message_shows_the_lapse_when_read_and_its_stored_answer_never() -> None:
    o = order(state=OrderState.ISSUED)
    before, after = order_to_pb(o, UNTIL - H, D), order_to_pb(o, UNTIL, D)
    assert before.user_notice_status == pb.USER_NOTICE_STATUS_SUPPRESSED and not before.user_notice_suppression_lapsed
    assert after.user_notice_suppression_lapsed
    assert after.user_notice_suppressed_until.ToDatetime(tzinfo=UTC) == UNTIL
    stored = pb.PreservationOrder.FromString(order_answer(o))
    assert stored.user_notice_status == pb.USER_NOTICE_STATUS_SUPPRESSED and not stored.user_notice_suppression_lapsed


def test_a_replica_keeps_its_owner_s_notice_and_an_older_owner_s_is_pending() -> None:
    o = order(state=OrderState.ISSUED)
    back = order_from_pb(order_to_pb(o, T0, D))
    assert (back.user_notice_status, back.user_notice_suppressed_until) == ("SUPPRESSED", UNTIL)
    older = order_to_pb(o, T0, D)
    older.ClearField("user_notice_status")
    older.ClearField("user_notice_suppressed_until")
    assert order_from_pb(older).user_notice_status == "PENDING"


# ---- the warnings of its end -------------------------------------------------------------------------


def test_a_draft_s_suppression_is_warned_of_once_issued() -> None:
    """The provider has not received a draft: no warning until it is issued (``notice_plan_changed``)."""
    draft = order()
    assert domain.next_notice_alert_at(draft, OFFSETS, since=T0) is None
    issued = step(draft, "issue", T0)
    assert domain.notice_plan_changed(draft, issued)
    assert domain.next_notice_alert_at(issued, OFFSETS, since=T0) == UNTIL - 48 * H
    assert not domain.notice_plan_changed(issued, step(issued, "confirm", T0 + D))


def test_preservation_user_notice_suppression_lapses_warned_48_and_8_hours_before_and_at_its_end() -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: the scan finds each warning when due, each with its own key
    (the order, the offset, the end), and the next one is planned after it."""
    o = order(state=OrderState.ISSUED)
    first = domain.next_notice_alert_at(o, OFFSETS, since=T0)
    assert first == UNTIL - 48 * H
    assert domain.due_notice_warnings([(o.id, UNTIL, first)], OFFSETS, UNTIL - 49 * H) == []
    found = domain.due_notice_warnings([(o.id, UNTIL, first)], OFFSETS, UNTIL - 48 * H)
    assert [(k, at) for k, at, _ in found] == [(f"{o.id}:notice:172800:{UNTIL.isoformat()}", UNTIL - 48 * H)]
    assert domain.next_notice_alert_at(o, OFFSETS, after=UNTIL - 48 * H) == UNTIL - 8 * H
    assert domain.next_notice_alert_at(o, OFFSETS, after=UNTIL - 8 * H) == UNTIL
    assert domain.next_notice_alert_at(o, OFFSETS, after=UNTIL) is None
    # A service down through all three sends them all at its next scan, in due order.
    late = domain.due_notice_warnings([(o.id, UNTIL, first)], OFFSETS, UNTIL + D)
    assert [p.offset for _, _, p in late] == [48 * H, 8 * H, timedelta(0)]


def test_a_suppression_set_late_skips_the_warnings_whose_moment_passed_but_never_its_end() -> None:
    o = order(state=OrderState.ISSUED)
    assert domain.next_notice_alert_at(o, OFFSETS, since=UNTIL - 10 * H) == UNTIL - 8 * H
    assert domain.next_notice_alert_at(o, OFFSETS, since=UNTIL - H) == UNTIL
    assert domain.next_notice_alert_at(o, OFFSETS, since=UNTIL + D) == UNTIL  # issued after it lapsed


def test_a_notice_warning_is_never_the_first_of_an_expiry_and_says_what_to_do() -> None:
    o = order(state=OrderState.ISSUED)
    ending = domain.notice_warning(o, OFFSETS, 8 * H)
    lapsed = domain.notice_warning(o, OFFSETS, timedelta(0))
    assert ending is not None and lapsed is not None
    assert not ending.first and not lapsed.first and not lapsed.at_expiry  # no follow-up task, never expires it
    assert (ending.due_at, ending.expires_at) == (UNTIL - 8 * H, UNTIL)
    assert "ends in 8 hours" in ending.reason and "renew it" in ending.reason
    assert "ended at" in lapsed.reason and "PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES" not in lapsed.reason
    assert "Art. 13" in lapsed.reason
    assert domain.notice_warning(o, OFFSETS, 7 * H) is None  # not of its schedule
    assert domain.notice_warning(step(o, "update_user_notice", T0, user_notice_status="SENT"), OFFSETS, 8 * H) is None


def test_a_renewal_plans_a_new_series_and_other_changes_leave_it() -> None:
    o = order(state=OrderState.ISSUED)
    renewed = step(o, "update_user_notice", T0 + D, user_notice_status="SUPPRESSED",
                   user_notice_suppressed_until=UNTIL + 60 * D)  # fmt: skip
    assert domain.notice_plan_changed(o, renewed)
    assert domain.next_notice_alert_at(renewed, OFFSETS, since=T0 + D) == UNTIL + 60 * D - 48 * H
    lifted = step(o, "lift", T0 + D, reason="no longer needed")
    assert not domain.notice_plan_changed(o, lifted)
