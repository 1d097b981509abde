"""Replicas of another node's preservation orders (jitlib.replicas): the order read back from the state its
events carry, with the owner's expiry and extensions, and stored without a warning schedule of this node's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import preservation_pb2 as pb
from jitlib import crypto, replicas, sealing
from jitlib.actors import Actor
from jitlib.clock import ManualClock
from jitlib.policy import VisibilityScope
from services.preservation import app, domain, events, providers, store
from services.preservation.domain import LegalBasis, NationalRule, NewOrder, OrderState, Rules, Target, TransitionInput
from services.preservation.mapping import order_from_pb, order_to_pb, warning_to_pb

# Microseconds on purpose: a Timestamp keeps them.
T0 = datetime(2026, 9, 7, 9, 0, 0, 123456, tzinfo=UTC)  # once Reg. (EU) 2023/1543 applies
NL = Actor("u-nl", "nl-liaison", "NL")
OVERDUE_AFTER = timedelta(days=3)
MEMBERS = frozenset({"NL", "DE", "IE"})
#: The owner's node: its national law keeps data 45 days, extended by 15 days twice at most.
OWNER_RULES = Rules(
    providers=providers.load(), national=NationalRule(period_days=45, extension_days=15, max_extensions=2)
)


def _order(basis: LegalBasis, *actions: str) -> domain.Order:
    cmd = NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=basis.value,
        provider_id="socialnet-ie",
        targets=(Target("URL", "https://socialnet.example/p/1"), Target("ACCOUNT_HANDLE", "@harasser_x")),
        data_categories=("SUBSCRIBER", "CONTENT"),
        description="Posts and subscriber data of @harasser_x",
        restricted=True,
        shared_with=("IE",),
    )
    order = domain.create(cmd, order_id="01935c4e-0000-7000-8000-000000000001", actor=NL, now=T0)
    data = TransitionInput(confirmed_at=T0 + timedelta(hours=2), provider_reference="SN-2026-0042")
    for i, action in enumerate(actions):
        at = T0 + timedelta(days=i)
        order = domain.apply(order, action, data, actor=NL, now=at, rule=OWNER_RULES.clock_for(order))
    return order


def confirmed() -> domain.Order:
    return _order(LegalBasis.EPOC_PR, "issue", "confirm")


def extended() -> domain.Order:
    """Under the owner's national law: confirmed, then extended once (another extension still possible)."""
    return _order(LegalBasis.NATIONAL, "issue", "confirm", "extend")


def every_field(order: domain.Order) -> domain.Order:
    """``order`` with every optional field set (not a state the machine reaches, but every field mapped),
    held as a replica."""
    return replace(
        order,
        state_reason="the provider holds no content",
        not_executed_reason="DATA_NOT_HELD",
        follow_up_request_id="0190f7a0-0000-7000-8000-0000000000aa",
        produced_at=T0 + timedelta(days=9),
        replicated_at=T0 + timedelta(days=10),
        clock_stopped_at=T0 + timedelta(days=8),
        clock_remaining_seconds=0,
        victim_refs=("V-NL-0001", "V-NL-0002"),
    )


@pytest.mark.parametrize("build", [confirmed, extended], ids=["confirmed", "extended"])
def test_an_order_reads_back_from_its_message_with_the_owners_expiry(build: Callable[[], domain.Order]) -> None:
    order = build()
    assert order.expires_at is not None and order.extension_deadline is not None
    back = order_from_pb(order_to_pb(order, T0, OVERDUE_AFTER))
    # clock_started_at only schedules the owner's expiry warnings: it is not in the message.
    assert order.clock_started_at is not None and back.clock_started_at is None
    assert back == replace(order, clock_started_at=None)


def test_the_expiry_and_extensions_are_the_owners_not_this_nodes() -> None:
    order = extended()
    # The owner's national clock runs from receipt (NATIONAL_CLOCK_FROM_RECEIPT): the issue, at T0.
    assert (order.state, order.extension_count, order.received_at) == (OrderState.EXTENDED, 1, T0)
    assert order.expires_at == T0 + timedelta(days=45 + 15)
    # This node's national law (90 days, 90 more) is not applied to another node's order.
    back = order_from_pb(order_to_pb(order, T0, OVERDUE_AFTER))
    assert (back.expires_at, back.extension_deadline, back.extension_count) == (
        order.expires_at,
        order.extension_deadline,
        1,
    )


@pytest.mark.parametrize("build", [confirmed, extended], ids=["confirmed", "extended"])
def test_every_field_reads_back_but_whether_this_node_holds_a_replica(build: Callable[[], domain.Order]) -> None:
    order = every_field(build())
    msg = order_to_pb(order, T0 + timedelta(days=30), OVERDUE_AFTER)
    assert msg.HasField("replica")
    assert order_from_pb(msg) == replace(order, replicated_at=None, clock_started_at=None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", 99),
        ("state", pb.PRESERVATION_ORDER_STATE_UNSPECIFIED),
        ("legal_basis", 99),
        ("legal_basis", pb.LEGAL_BASIS_UNSPECIFIED),
        ("not_executed_reason", 99),
    ],
)
def test_an_enum_this_build_does_not_know_is_refused(field: str, value: int) -> None:
    msg = order_to_pb(confirmed(), T0, OVERDUE_AFTER)
    setattr(msg, field, value)
    with pytest.raises(ValueError, match=field):
        order_from_pb(msg)


def test_an_unknown_value_in_a_list_is_refused() -> None:
    for mutate in (
        lambda m: m.data_categories.append(99),
        lambda m: setattr(m.targets[0], "kind", 99),
        lambda m: setattr(m.targets[0], "kind", pb.TARGET_KIND_UNSPECIFIED),
    ):
        msg = order_to_pb(confirmed(), T0, OVERDUE_AFTER)
        mutate(msg)
        with pytest.raises(ValueError):
            order_from_pb(msg)


# -- stored as a replica ----------------------------------------------------------------------------


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}  # the service's content keys, as the bootstrap installs them
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    with Session(engine, info=info) as s, s.begin():
        yield s
    engine.dispose()


def _event(order: domain.Order, event: str) -> Envelope:
    state = order_to_pb(order, order.updated_at, OVERDUE_AFTER)
    return events.envelope(order, state, events.event_type(event), MEMBERS, order.updated_at)


def _parties(session: Session, order_id: str) -> set[str]:
    c = store.PARTIES.table.c
    return set(session.scalars(select(c.jurisdiction).where(store.PARTIES.key == order_id)))


def test_a_replica_has_no_warning_schedule_and_takes_the_owners_expiry(session: Session) -> None:
    clock = ManualClock(T0 + timedelta(days=1))
    order = confirmed()
    assert domain.next_alert_at(order, OWNER_RULES.offsets) is not None  # the owner's node warns
    assert replicas.apply(app.REPLICAS, clock, session, _event(order, "confirmed"))
    assert store.get(session, order.id) == replace(order, clock_started_at=None, replicated_at=clock.now())
    assert _parties(session, order.id) == {"NL", "IE"}
    assert store.next_alert_of(session, order.id) is None
    assert store.due_for_alert(session, T0 + timedelta(days=400), 100) == []

    # The owner's clock expires the order: the replica takes the new state from the owner's event.
    at = order.expires_at
    assert at is not None
    expired = domain.apply(
        order,
        "expire",
        TransitionInput(reason="preservation period ended"),
        actor=NL,
        now=at,
        rule=OWNER_RULES.clock_for(order),
    )
    clock.advance(timedelta(days=60))
    assert replicas.apply(app.REPLICAS, clock, session, _event(expired, "expired"))
    held = store.get(session, order.id)
    assert held == replace(expired, clock_started_at=None, replicated_at=clock.now())
    assert held is not None and held.state is OrderState.EXPIRED
    # A repeated or overtaken event changes nothing.
    assert not replicas.apply(app.REPLICAS, clock, session, _event(order, "confirmed"))
    assert store.get(session, order.id) == held


def test_the_owners_expiry_warnings_pass_by_a_replica(session: Session) -> None:
    clock = ManualClock(T0)
    order = confirmed()
    assert replicas.apply(app.REPLICAS, clock, session, _event(order, "confirmed"))
    warning = domain.warning_schedule(order, OWNER_RULES.offsets)[0]
    state = warning_to_pb(order_to_pb(order, T0, OVERDUE_AFTER), warning)
    envelope = events.envelope(order, state, events.WARNING_TYPE, MEMBERS, warning.due_at)
    assert not replicas.apply(app.REPLICAS, clock, session, envelope)
    assert store.get(session, order.id) == replace(order, clock_started_at=None, replicated_at=T0)


def test_the_warning_scan_is_one_statement_a_kind_and_loads_no_order(session: Session) -> None:
    """The scan of an owned order with a warning due: one SELECT of plain columns for the expiries' warnings,
    one for the warnings of the end of a non-disclosure order and one for those of an enforcing state's
    deadline, no ORM object made (so no sealed text opened), and the warning of the order's schedule, with its
    key and due time."""
    order = confirmed()
    store.ORDERS.insert(session, order, request_id="0f1e2d3c-4b5a-4968-8776-655443322110", request_digest="0" * 64)
    store.set_next_alert(session, order.id, domain.next_alert_at(order, OWNER_RULES.offsets))
    session.flush()
    session.expunge_all()
    first = domain.warning_schedule(order, OWNER_RULES.offsets)[0]
    statements: list[str] = []  # what SQLite itself runs (the scan's statement goes below SQLAlchemy)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    driver.set_trace_callback(statements.append)
    try:
        alerts = events.scan(OWNER_RULES, 500)(session, first.due_at)
    finally:
        driver.set_trace_callback(None)
    assert [(key, due_at) for key, due_at, _ in alerts] == [(first.key(order.id), first.due_at)]
    assert domain.DueWarning(*alerts[0][2]) == domain.DueWarning(order.id, first.offset, first.expires_at)
    assert len(statements) == 3 and all(s.lstrip().upper().startswith("SELECT") for s in statements), statements
    assert len(session.identity_map) == 0


# -- listed from its stored answer ------------------------------------------------------------------

IE_SCOPE = VisibilityScope(workspaces=frozenset({"jit-demo"}), jurisdiction="IE", may_read_content=True)


def _listed(session: Session) -> list[store.Listed]:
    return store.list_answered(session, IE_SCOPE, frozenset({"jit-demo"}), store.OrderFilter(), after=None, limit=10)


def _listed_as_held(session: Session, clock: ManualClock, state: OrderState) -> None:
    held = store.get(session, confirmed().id)
    assert held is not None and (held.state, held.replicated_at) == (state, clock.now())
    (row,) = _listed(session)
    assert row.order is None and row.answer is not None, "answered from its row, not its stored answer"
    assert (row.state, row.expires_at, row.extension_count) == (held.state, held.expires_at, held.extension_count)
    listed = pb.PreservationOrder.FromString(row.answer)
    assert listed.HasField("replica")
    assert listed == order_to_pb(held, clock.now(), OVERDUE_AFTER)


def test_a_replica_is_listed_from_its_stored_answer_as_this_node_holds_it(session: Session) -> None:
    """``ListOrders`` on the node holding a replica answers it from the answer written with the replica
    (not from its row), and that answer is the replica's message as this node gives it (``replica`` set,
    the owner's expiry), after the owner's later change as after its creation."""
    clock = ManualClock(T0 + timedelta(days=1))
    order = confirmed()
    assert replicas.apply(app.REPLICAS, clock, session, _event(order, "confirmed"))
    _listed_as_held(session, clock, OrderState.CONFIRMED)
    at = order.expires_at
    assert at is not None
    expired = domain.apply(
        order, "expire", TransitionInput(reason="period ended"), actor=NL, now=at, rule=OWNER_RULES.clock_for(order)
    )
    clock.advance(timedelta(days=60))
    assert replicas.apply(app.REPLICAS, clock, session, _event(expired, "expired"))
    _listed_as_held(session, clock, OrderState.EXPIRED)
