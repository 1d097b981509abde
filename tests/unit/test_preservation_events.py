"""What the preservation service publishes, pure: subjects, event types, audience, the warning contract."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from jit.evidence.v1 import evidence_pb2 as epb
from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.actors import Actor
from services.preservation import domain, events, providers
from services.preservation.domain import LegalBasis, NewOrder, Rules, Target, TransitionInput
from services.preservation.mapping import order_to_pb, warning_to_pb

T0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday once Reg. (EU) 2023/1543 applies (EPOC-PRs are issued)
#: The 60 days of an EPOC-PR to socialnet-ie received at T0: to the end of Friday 6 November in Dublin (GMT).
EPOC_60 = datetime(2026, 11, 7, 0, 0, tzinfo=UTC)
D = timedelta(days=1)
NL = Actor("u-nl", "nl-liaison", "NL")
RULES = Rules(providers=providers.load())


def confirmed(restricted: bool = True, shared: tuple[str, ...] = ()) -> domain.Order:
    cmd = NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=LegalBasis.EPOC_PR.value,
        provider_id="socialnet-ie",
        targets=(Target("URL", "https://socialnet.example/p/1"),),
        data_categories=("CONTENT",),
        description="",
        restricted=restricted,
        shared_with=shared,
    )
    order = domain.create(cmd, order_id="01935c4e-0000-7000-8000-000000000001", actor=NL, now=T0)
    for action in ("issue", "confirm"):
        order = domain.apply(order, action, TransitionInput(), actor=NL, now=T0, rule=RULES.clock_for(order))
    return order


def test_subjects_and_types_follow_the_contract() -> None:
    order = confirmed()
    assert events.subject(order, "production_requested") == "jit.preservation.NL.production_requested"
    assert events.event_type("production_requested") == "jit.preservation.v1.PreservationOrderProductionRequested"
    assert events.event_type("not_executed") == "jit.preservation.v1.PreservationOrderNotExecuted"
    assert events.WARNING_TYPE == "jit.preservation.v1.PreservationOrderExpiryWarning"


def test_audience_is_the_parties_of_a_restricted_order_and_every_member_otherwise() -> None:
    members = frozenset({"NL", "DE", "IE", "EUROJUST"})

    def audience(order: domain.Order) -> list[str]:
        return list(events.envelope(order, order_to_pb(order, T0, timedelta(days=3)), "t", members, T0).audience)

    assert audience(confirmed(shared=("DE",))) == ["DE", "NL"]
    assert audience(confirmed(restricted=False)) == sorted(members)
    # A party that is not (or no longer) a member still hears of the order it is party to.
    outsider = replace(confirmed(restricted=False), origin_jurisdiction="FR")
    assert audience(outsider) == sorted(members | {"FR"})


def test_the_envelope_carries_the_order_and_who_changed_it() -> None:
    order = confirmed(shared=("DE",))
    state = order_to_pb(order, T0, timedelta(days=3))
    env = events.envelope(order, state, events.event_type("confirmed"), frozenset({"NL", "DE"}), T0)
    assert (env.type, env.workspace_id, env.origin_jurisdiction) == (
        "jit.preservation.v1.PreservationOrderConfirmed",
        "jit-demo",
        "NL",
    )
    assert (env.aggregate_type, env.aggregate_id, env.aggregate_version) == (events.RECORD, order.id, 3)
    assert (env.actor.user_id, env.actor.username, env.actor.jurisdiction) == ("u-nl", "nl-liaison", "NL")
    assert env.occurred_at.ToDatetime(tzinfo=UTC) == T0
    unpacked = pb.PreservationOrder()
    assert env.state.Unpack(unpacked) and unpacked == state


def test_the_contract_fields_of_the_order_message() -> None:
    order = replace(confirmed(), follow_up_request_id="01935c4e-0000-7000-8000-0000000000aa")
    msg = order_to_pb(order, T0, timedelta(days=3))
    fields = {f.number: f.name for f in pb.PreservationOrder.DESCRIPTOR.fields if f.number <= 9}
    assert fields == {
        1: "id",
        2: "workspace_id",
        3: "origin_jurisdiction",
        4: "state",
        5: "version",
        6: "expires_at",
        7: "follow_up_request_id",
        8: "visibility",
        9: "shared_with",
    }
    assert msg.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED and msg.version == 3
    assert msg.expires_at.ToDatetime(tzinfo=UTC) == EPOC_60


def test_the_expiry_warning_message() -> None:
    order = confirmed()
    first = domain.warning_schedule(order, RULES.offsets)[0]
    w = warning_to_pb(order_to_pb(order, T0, timedelta(days=3)), first)
    assert (w.offset_seconds, w.first, w.kind) == (14 * 86400, True, pb.WARNING_KIND_BEFORE_EXPIRY)
    assert w.due_at.ToDatetime(tzinfo=UTC) == EPOC_60 - timedelta(days=14)
    assert w.expires_at.ToDatetime(tzinfo=UTC) == EPOC_60
    assert (w.reason, w.production_request_id, w.production_outcome) == ("", "", pb.PRODUCTION_OUTCOME_UNSPECIFIED)
    numbers = {f.name: f.number for f in pb.ExpiryWarning.DESCRIPTOR.fields}
    assert numbers == {
        "order": 1,
        "offset_seconds": 2,
        "expires_at": 3,
        "first": 4,
        "due_at": 5,
        "kind": 6,
        "reason": 7,
        "production_request_id": 8,
        "production_outcome": 9,
    }
    assert first.key(order.id) == f"{order.id}:warn:1209600:{EPOC_60.isoformat()}"
    last = domain.warning_schedule(order, RULES.offsets)[-1]
    assert warning_to_pb(order_to_pb(order, T0, timedelta(days=3)), last).kind == pb.WARNING_KIND_AT_EXPIRY


def test_the_production_ended_warning_message() -> None:
    """PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION: the warning to the issuer is an ExpiryWarning of
    its own kind on the same subject and type, first of its expiry, naming the request and how it failed."""
    request = "01935c4e-0000-7000-8000-0000000000aa"
    order = confirmed()
    stopped = domain.apply(
        order,
        "request_production",
        TransitionInput(follow_up_request_id=request),
        actor=NL,
        now=T0 + timedelta(days=10),
        rule=RULES.clock_for(order),
    )
    at = T0 + timedelta(days=30)
    resumed = domain.apply(stopped, "resume", TransitionInput(), actor=NL, now=at, rule=RULES.clock_for(order))
    warning = domain.production_ended_warning(resumed, request, domain.ProductionOutcome.NOT_EXECUTED, at)
    assert warning is not None
    w = warning_to_pb(order_to_pb(resumed, at, timedelta(days=3)), warning)
    assert (w.kind, w.first, w.production_request_id) == (pb.WARNING_KIND_PRODUCTION_ENDED, True, request)
    assert w.production_outcome == pb.PRODUCTION_OUTCOME_NOT_EXECUTED
    left = EPOC_60 - (T0 + timedelta(days=10))
    assert w.expires_at.ToDatetime(tzinfo=UTC) == at + left and w.offset_seconds == left.total_seconds()
    assert w.reason.startswith("the production request was not executed; preservation runs again until")
    assert w.order.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED
    assert events.subject(resumed, events.WARNING_EVENT) == "jit.preservation.NL.expiry_warning"
    assert events.event_type("resumed") == "jit.preservation.v1.PreservationOrderResumed"


def test_the_production_not_counted_warning_message() -> None:
    """The issuer of an EPOC-PR is told, first of its expiry, that a linked request leaves its clock running."""
    order = confirmed()
    now = T0 + 10 * D
    w = domain.not_counted_warning(order, "01935c4e-0000-7000-8000-0000000000bb", "it is addressed to DE", now)
    assert w is not None
    msg = warning_to_pb(order_to_pb(order, now, timedelta(days=3)), w)
    assert (msg.kind, msg.first, msg.production_outcome) == (
        pb.WARNING_KIND_PRODUCTION_NOT_COUNTED,
        True,
        pb.PRODUCTION_OUTCOME_NOT_COUNTED,
    )
    assert msg.offset_seconds == (EPOC_60 - now).total_seconds()
    assert msg.production_request_id == "01935c4e-0000-7000-8000-0000000000bb"
    assert msg.reason.startswith("the linked evidence request does not keep the data preserved: it is addressed to DE")
    assert "preservation still ends 2026-11-07 00:00 UTC" in msg.reason
    assert msg.reason.endswith(
        "(Reg. (EU) 2023/1543 Art. 11(1); Budapest Convention (CETS 185) Art. 29(1), 29(7); GUESS: which "
        "instruments count as that request)"
    )
    stopped = replace(order, state=domain.OrderState.PRODUCTION_REQUESTED, expires_at=None)
    assert domain.not_counted_warning(stopped, "x", "why", now) is None


def test_the_production_not_counted_warning_goes_only_to_those_who_may_read_the_linked_request() -> None:
    """Access review: the warning's words name the linked request's instrument and addressee, and that a
    request is linked at all; a country that may read the order but not the request is not sent it (the
    order, workspace-visible here, is unchanged). The request's id is still marked for its audience."""
    order = confirmed(restricted=False)
    now = T0 + 10 * D
    members = frozenset({"NL", "DE", "IE", "FR"})
    request = "01935c4e-0000-7000-8000-0000000000bb"
    w = domain.not_counted_warning(order, request, "it is addressed to DE", now)
    assert w is not None
    state = warning_to_pb(order_to_pb(order, now, timedelta(days=3)), w)

    def facts(restricted: bool, shared: tuple[str, ...] = ()) -> str:
        return domain.follow_up_facts(
            origin="NL",
            addressee_kind="MEMBER_STATE",
            addressee="DE",
            legal_basis="EIO",
            epoc_procedure="UNSPECIFIED",
            restricted=restricted,
            shared_with=shared,
            version=2,
        )

    assert events.envelope(order, state, events.WARNING_TYPE, members, now).audience == ["DE", "FR", "IE", "NL"]
    cases = [(facts(True), ["DE", "NL"]), (facts(True, ("FR",)), ["DE", "FR", "NL"]), (facts(False), sorted(members))]
    for request_facts, told in cases:
        event = events.not_counted_envelope(order, state, members, now, request_facts)
        assert list(event.audience) == told
        assert [(f.path, list(f.audience)) for f in event.field_audiences] == [("production_request_id", told)]
    # Facts not known (named by hand): the order's issuing jurisdiction alone.
    assert list(events.not_counted_envelope(order, state, members, now, "").audience) == ["NL"]
    # A restricted order shared with FR, the request restricted to NL and DE: NL alone may read both.
    shared_order = confirmed(restricted=True, shared=("FR",))
    event = events.not_counted_envelope(shared_order, state, members, now, facts(True))
    assert list(event.audience) == ["NL"]


def test_a_production_request_consumed_after_the_expiry_is_judged_when_it_was_issued() -> None:
    """PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY: the evidence consumer judges a linked request's
    event at the request's issue, not when it reads it: issued before the 60 days ended it moves the order
    even after the clock expired it (and produces it once executed); issued after, nothing moves."""
    order = confirmed()
    rule = RULES.clock_for(order)
    expired = domain.apply(order, "expire", TransitionInput(), actor=NL, now=T0 + 60 * D, rule=rule)
    late = T0 + 62 * D
    issued, executed = epb.EVIDENCE_REQUEST_STATE_ISSUED, epb.EVIDENCE_REQUEST_STATE_EXECUTED
    for o in (order, expired):
        assert events.production_steps(o, issued, T0 + 59 * D, rule, late) == ["request_production"]
        assert events.production_steps(o, executed, T0 + 59 * D, rule, late) == ["request_production", "mark_produced"]
        assert events.production_steps(o, issued, T0 + 61 * D, rule, late) == []
    # Without an issue time (an older event) it is judged when read, as before.
    assert events.production_steps(order, issued, None, rule, T0 + 59 * D) == ["request_production"]
    assert events.production_steps(order, issued, None, rule, late) == []
    assert events.production_steps(order, epb.EVIDENCE_REQUEST_STATE_REFUSED, None, rule, late) == ["resume"]
