"""Replicas of another node's evidence requests (jitlib.replicas): the request read back from the state
its events carry, and stored with the owner's deadlines, without alerts of this node's own; and the
replica of a preservation order, from its events handled several to a transaction (``events.ORDER_BATCH``);
an item that arrives before its request waits for it; a node outside the workspace destroys its copies."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from google.protobuf import any_pb2
from sqlalchemy import create_engine, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as pb
from jit.preservation.v1 import preservation_pb2 as ppb
from jitlib import crypto, replicas, sealing
from jitlib.actors import Actor
from jitlib.clock import ManualClock
from jitlib.policy import VisibilityScope
from jitlib.retention_sweep import RetentionSweep
from jitlib.runtime import Runtime
from services.evidence import app, custody, domain, events, store
from services.evidence.deadlines import Deadline, DeadlineKind
from services.evidence.domain import EvidenceItem, ItemReplica, NewRequest, State, Target, TransitionInput
from services.evidence.mapping import item_to_pb, micros, request_from_pb, request_to_pb

# Microseconds on purpose: a Timestamp keeps them.
T0 = datetime(2026, 9, 7, 9, 0, 0, 123456, tzinfo=UTC)  # after Reg. 2023/1543 applies (Art. 34(2))
NL = Actor("u-nl", "nl-prosecutor", "NL")
DE = Actor("u-de", "de-liaison", "DE")
IE = Actor("u-ie", "ie-prosecutor", "IE")
MEMBERS = frozenset({"NL", "DE", "IE", "FR"})


def _new(**over: object) -> NewRequest:
    fields: dict[str, object] = dict(
        request_id="0190f7a0-0000-7000-8000-000000000001",
        workspace_id="jit-demo",
        legal_basis="EIO",
        epoc_procedure="",
        issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
        addressee_kind="MEMBER_STATE",
        addressee_jurisdiction="DE",
        provider_name="",
        data_categories=("SUBSCRIBER", "TRAFFIC"),
        targets=(
            Target("ACCOUNT_HANDLE", "@harasser_x", "instagram"),
            Target("EMAIL", "harasser@example.org"),
        ),
        offence_category="CYBERSTALKING",
        urgency="URGENT",
        title="Identify the holder of @harasser_x",
        description="Subscriber and traffic data, 1 Jan to 1 Mar 2026.",
        restricted=True,
        shared_with=("FR",),
    )
    fields.update(over)
    return NewRequest(**fields)  # type: ignore[arg-type]


def _epoc_to_ie(procedure: str, **over: object) -> NewRequest:
    """NL's European Production Order under ``procedure`` for content, to a provider established in IE, open
    to its workspace."""
    fields: dict[str, object] = dict(
        legal_basis="EPOC",
        epoc_procedure=procedure,
        addressee_kind="SERVICE_PROVIDER",
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        data_categories=("CONTENT",),
        restricted=False,
        shared_with=(),
    )
    return _new(**{**fields, **over})


def _run(
    r: domain.EvidenceRequest, actor: Actor, at: datetime, *actions: str, **data: object
) -> domain.EvidenceRequest:
    for action in actions:
        r = domain.apply(r, action, TransitionInput(**data), actor=actor, now=at)  # type: ignore[arg-type]
    return r


def eio() -> domain.EvidenceRequest:
    """An EIO to DE, acknowledged and its decision deadline extended (Art. 12(5)): the deadlines running
    are the extended decision and none other."""
    r = domain.create(_new(), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=T0)
    r = _run(r, NL, T0, "issue")
    r = _run(r, DE, T0 + timedelta(hours=3), "acknowledge", received_at=T0 + timedelta(hours=1))
    return _run(r, DE, T0 + timedelta(days=2), "extend_decision", reason="the case file is voluminous")


def epoc() -> domain.EvidenceRequest:
    """An emergency EPOC with notification of IE to a provider established there, in execution: an 8-hour
    production deadline and the enforcing state's 96-hour objection window."""
    cmd = _new(
        legal_basis="EPOC",
        epoc_procedure="EMERGENCY_WITH_NOTIFICATION",
        addressee_kind="SERVICE_PROVIDER",
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        data_categories=("CONTENT",),
        urgency="EMERGENCY",
        user_notice_status="SUPPRESSED",
        user_notice_suppressed_until=T0 + timedelta(days=180),
        preservation_order_id="0190f7a0-0000-7000-8000-0000000000bb",
    )
    r = domain.create(cmd, request_id="0190f7a0-0000-7000-8000-0000000000cc", actor=NL, now=T0)
    r = _run(r, NL, T0, "issue")
    r = _run(r, NL, T0 + timedelta(hours=1), "acknowledge")
    return _run(r, IE, T0 + timedelta(hours=2), "open_review", "conclude_review", reason="no ground raised")


def every_field(r: domain.EvidenceRequest) -> domain.EvidenceRequest:
    """``r`` with every optional field set (not a state the machine reaches, but every field mapped), one
    deadline counted in working days, and held as a replica."""
    working = Deadline(DeadlineKind.EXECUTE, T0 + timedelta(days=40), "test rule", T0, working_days=True)
    return replace(
        r,
        preservation_order_id=r.preservation_order_id or "0190f7a0-0000-7000-8000-0000000000dd",
        user_notice_suppressed_until=T0 + timedelta(days=30),
        decided_at=T0 + timedelta(days=3),
        state_reason="partly executed: the rest follows",
        refusal_ground="FUNDAMENTAL_RIGHTS",
        non_execution_reason="DATA_NOT_HELD",
        decision_extended=True,
        postponed_until=T0 + timedelta(days=20),
        postponed_from="IN_EXECUTION",
        postponed_at=T0 + timedelta(days=5),
        decision_suspended_seconds=3 * 86400,
        execution_suspended_seconds=3600,
        delay=domain.Delay(DeadlineKind.EXECUTE, "the server is seized", T0 + timedelta(days=100), T0, DE),
        items_restricted_at=T0 + timedelta(days=6),
        victim_refs=("V-NL-0001", "V-NL-0002"),
        listed_offence="COMPUTER_RELATED_CRIME",
        max_sentence_months=36,
        deadlines=(*r.deadlines, working),
        replicated_at=T0 + timedelta(days=4),
        decided_categories=(
            domain.CategoryOutcome(r.data_categories[0], domain.CategoryState.REFUSED, "NE_BIS_IN_IDEM", T0),
        ),
        refusals=(domain.Refusal(1, "NE_BIS_IN_IDEM", (r.data_categories[0],), T0, True),),
        submission=2,
    )


@pytest.mark.parametrize("build", [eio, epoc], ids=["eio", "epoc"])
def test_a_request_reads_back_from_its_message(build: Callable[[], domain.EvidenceRequest]) -> None:
    r = build()
    assert r.deadlines, "a request with running deadlines"
    assert request_from_pb(request_to_pb(r, T0)) == r


@pytest.mark.parametrize("build", [eio, epoc], ids=["eio", "epoc"])
def test_every_field_reads_back_but_whether_this_node_holds_a_replica(
    build: Callable[[], domain.EvidenceRequest],
) -> None:
    r = every_field(build())
    msg = request_to_pb(r, T0 + timedelta(days=365))  # every deadline overdue by then: derived, not read
    assert msg.HasField("replica") and all(d.overdue for d in msg.deadlines)
    assert request_from_pb(msg) == replace(r, replicated_at=None)


def test_the_deadlines_are_the_owners_not_computed_again() -> None:
    r = eio()
    assert [d.kind for d in r.deadlines] == [DeadlineKind.DECIDE]
    assert "extended under" in r.deadlines[0].source
    owners = (Deadline(DeadlineKind.DECIDE, T0 + timedelta(days=45), "the owner's rule", T0),)
    assert request_from_pb(request_to_pb(replace(r, deadlines=owners), T0)).deadlines == owners


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", 99),
        ("state", pb.EVIDENCE_REQUEST_STATE_UNSPECIFIED),
        ("legal_basis", 99),
        ("legal_basis", pb.LEGAL_BASIS_UNSPECIFIED),
        ("epoc_procedure", 99),
        ("addressee_kind", 99),
        ("offence_category", 99),
        ("urgency", 99),
        ("user_notice_status", 99),
        ("refusal_ground", 99),
        ("non_execution_reason", 99),
    ],
)
def test_an_enum_this_build_does_not_know_is_refused(field: str, value: int) -> None:
    msg = request_to_pb(epoc(), T0)
    setattr(msg, field, value)
    with pytest.raises(ValueError, match=field):
        request_from_pb(msg)


def test_an_unknown_value_in_a_list_or_a_deadline_is_refused() -> None:
    for mutate in (
        lambda m: m.data_categories.append(99),
        lambda m: setattr(m.targets[0], "type", 99),
        lambda m: setattr(m.deadlines[0], "kind", 99),
        lambda m: m.deadlines[0].ClearField("due_at"),
    ):
        msg = request_to_pb(epoc(), T0)
        mutate(msg)
        with pytest.raises(ValueError):
            request_from_pb(msg)


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


def _event(r: domain.EvidenceRequest, event: str) -> Envelope:
    return events.request_envelope(r, request_to_pb(r, r.updated_at), event, MEMBERS, r.updated_at)


def _parties(session: Session, request_id: str) -> set[str]:
    c = store.PARTIES.table.c
    return set(session.scalars(select(c.jurisdiction).where(store.PARTIES.key == request_id)))


def test_a_replica_holds_the_owners_deadlines_and_sends_no_alert(session: Session) -> None:
    clock = ManualClock(T0 + timedelta(days=3))
    issued = _run(
        domain.create(_new(), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=T0), NL, T0, "issue"
    )
    assert replicas.apply(app.REPLICAS, clock, session, _event(issued, "issued"))
    held = store.get(session, issued.id)
    assert held == replace(issued, replicated_at=clock.now())
    assert {d.kind for d in held.deadlines} == {DeadlineKind.ACKNOWLEDGE, DeadlineKind.DECIDE}
    assert _parties(session, issued.id) == {"NL", "DE", "FR"}
    # The owner's node warns of its deadlines; this node's scanner finds nothing to send.
    assert store.due_deadlines(session, T0 + timedelta(days=400)) == []

    later = eio()
    clock.advance(timedelta(days=1))
    assert replicas.apply(app.REPLICAS, clock, session, _event(later, "decision_deadline_extended"))
    held = store.get(session, later.id)
    assert held == replace(later, replicated_at=clock.now())
    assert [d.kind for d in held.deadlines] == [DeadlineKind.DECIDE]
    assert store.due_deadlines(session, T0 + timedelta(days=400)) == []

    # An event overtaken by a newer one changes nothing.
    assert not replicas.apply(app.REPLICAS, clock, session, _event(issued, "issued"))
    assert store.get(session, later.id) == held


def test_the_owners_alerts_and_item_events_pass_by_a_replica(session: Session) -> None:
    clock = ManualClock(T0)
    r = eio()
    assert replicas.apply(app.REPLICAS, clock, session, _event(r, "acknowledged"))
    alert = pb.DeadlineAlert(
        request=request_to_pb(replace(r, version=r.version + 1), T0),
        deadline=request_to_pb(r, T0).deadlines[0],
        passed=True,
    )
    envelope = events.alert_envelope(replace(r, version=r.version + 1), alert, MEMBERS, T0)
    assert not replicas.apply(app.REPLICAS, clock, session, envelope)
    item = EvidenceItem(
        id="0190f7a0-0000-7000-8000-0000000000ee",
        workspace_id=r.workspace_id,
        evidence_request_id=r.id,
        origin_jurisdiction="DE",
        media_type="application/pdf",
        size_bytes=3,
        sha256="0" * 64,
        filename="answer.pdf",
        description="",
        conditions="",
        consents=(),
        received_by=DE,
        received_at=T0,
        blob_key="k",
    )
    envelope = events.item_envelope(item, r, item_to_pb(item, 1), "item_received", MEMBERS, DE, 1, T0)
    assert not replicas.apply(app.REPLICAS, clock, session, envelope)
    assert store.get(session, r.id) == replace(r, replicated_at=T0)
    assert r.state is State.ACKNOWLEDGED


def test_a_request_s_listed_offence_and_maximum_sentence_are_stored_and_read_back(session: Session) -> None:
    """LISTED_OFFENCE_INDICATION: the listed offence and the maximum sentence are kept in the request's
    columns (revision 0031): a replica written from its event reads back with them."""
    clock = ManualClock(T0)
    r = replace(eio(), listed_offence="RACISM_AND_XENOPHOBIA", max_sentence_months=48)
    assert replicas.apply(app.REPLICAS, clock, session, _event(r, "acknowledged"))
    held = store.get(session, r.id)
    assert held == replace(r, replicated_at=T0)
    assert (held.listed_offence, held.max_sentence_months) == ("RACISM_AND_XENOPHOBIA", 48)


ORDER_ID = "0190f7a0-0000-7000-8000-0000000000bb"


def _order_event(version: int, follow_up: str) -> Envelope:
    order = ppb.PreservationOrder(
        id=ORDER_ID,
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        state=ppb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED,
        version=version,
        follow_up_request_id=follow_up,
    )
    packed = any_pb2.Any()
    packed.Pack(order)
    return Envelope(
        id=f"0190f7a0-0000-7000-8000-00000000010{version}",
        type="jit.preservation.v1.PreservationOrderProduction_requested",
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        aggregate_type="preservation_order",
        aggregate_id=ORDER_ID,
        aggregate_version=version,
        state=packed,
    )


def test_two_order_events_of_one_batch_link_the_request_once_and_the_later_version_stays(session: Session) -> None:
    """The consumer of order events handles several in one transaction: each event's handling sees what the
    ones before it wrote, as if each had its own. Two events of one order naming a request as its follow-up:
    the first links the request, the second finds it linked and moves the replica on, without a second link
    (a stale read of the request would try to link it again against a version gone, and fail the batch)."""
    r = domain.create(_new(), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=T0)
    store.REQUESTS.insert(session, r, request_id=r.id, request_digest="")
    # The session holds the request's row object, as anything read earlier in the transaction may: without a
    # fresh read, the second event would see the request as it was before the first linked it.
    held = session.get(store.RequestRow, r.id)
    handle = events.order_handler(store.RUNTIME, ManualClock(T0), lambda _ws: MEMBERS)
    handle(session, _order_event(5, r.id))
    handle(session, _order_event(6, r.id))  # the same transaction, as in a batch
    linked, order = store.get(session, r.id), store.get_order(session, ORDER_ID)
    assert linked is not None and order is not None
    assert linked.preservation_order_id == ORDER_ID and linked.version == r.version + 1
    assert order.version == 6
    outbox = store.RUNTIME.outbox
    sent = select(func.count()).select_from(outbox).where(outbox.c.subject == "jit.evidence.NL.order_linked")
    assert session.scalar(sent) == 1
    assert held is not None and held.version == r.version + 1  # read again, not the object as it was


def test_a_requests_view_shows_the_order_it_names_else_the_first_naming_it_and_its_item_count(
    session: Session,
) -> None:
    """What a full view of a request reads (``store.linked_order_and_items``, on the transaction's cursor):
    the order the request names; else the order that names the request as its follow-up, the first by id
    when several do; and how many items it received. Each order read back as it was stored."""
    r = domain.create(_new(), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=T0)
    store.REQUESTS.insert(session, r, request_id=r.id, request_digest="")
    assert store.linked_order_and_items(session, r) == (None, 0)

    def order(n: int, follow_up: str, **over: object) -> domain.OrderReplica:
        fields: dict[str, object] = dict(
            id=f"0190f7a0-0000-7000-8000-0000000002{n:02d}",
            workspace_id="jit-demo",
            state=ppb.PRESERVATION_ORDER_STATE_CONFIRMED,
            expires_at=T0 + timedelta(days=90 + n),
            version=n,
            follow_up_request_id=follow_up,
            origin_jurisdiction="NL",
        )
        fields.update(over)
        return domain.OrderReplica(**fields)  # type: ignore[arg-type]

    other = order(1, "0190f7a0-0000-7000-8000-0000000000ff", restricted=False)
    later, first = order(9, r.id), order(5, r.id, shared_with=("DE", "FR"), expires_at=None)
    for o in (other, later, first):  # the later id written first: the first by id is still the one shown
        assert store.upsert_order(session, o, None, T0)
    assert store.linked_order_and_items(session, r) == (first, 0)
    assert store.order_naming(session, other.id) is None
    # The order the request names comes first, whoever names the request.
    assert store.linked_order_and_items(session, replace(r, preservation_order_id=other.id)) == (other, 0)
    assert store.get_order(session, "0190f7a0-0000-7000-8000-000000000300") is None
    assert store.orders_by_id(session, {other.id, first.id, "0190f7a0-0000-7000-8000-000000000300"}) == {
        other.id: other,
        first.id: first,
    }

    s = domain.create(
        _new(request_id="0190f7a0-0000-7000-8000-000000000002"), request_id=other.follow_up_request_id, actor=NL, now=T0
    )
    store.REQUESTS.insert(session, s, request_id=s.id, request_digest="")
    for n, request in ((1, r), (2, r), (3, s)):
        item = replace(_de_item(request), id=f"0190f7a0-0000-7000-8000-0000000003{n:02d}", blob_key=f"k{n}")
        store.insert_item(session, item, f"upload-{n}")
    assert store.linked_order_and_items(session, r) == (first, 2)
    assert store.item_count(session, s.id) == 1


def test_a_changes_delay_notice_is_written_when_new_kept_when_the_same_and_removed_when_gone(session: Session) -> None:
    """A change of a request keeps its delay row as the request has it (``store.update_if_version``, whose
    read of the stored notice runs on the transaction's cursor): written when new, left alone when the
    notice is the one stored, replaced by a later one, removed with the notice."""
    r = domain.create(_new(), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=T0)
    store.REQUESTS.insert(session, r, request_id=r.id, request_digest="")
    written: list[str] = []

    def writes_of_delays(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        verb = sql.split()[0].upper()
        if verb != "SELECT" and "evidence_delays" in sql:
            written.append(verb)

    sa_event.listen(session.get_bind(), "before_cursor_execute", writes_of_delays)
    first = domain.Delay(DeadlineKind.EXECUTE, "the server is seized", T0 + timedelta(days=100), T0, DE)
    later = domain.Delay(DeadlineKind.EXECUTE, "still seized", T0 + timedelta(days=130), T0 + timedelta(days=20), DE)
    current = r
    for delay, title, writes in (
        (first, r.title, ["INSERT"]),
        (first, "Identify the holder, again", []),  # the notice stored: not written again
        (later, "Identify the holder, again", ["DELETE", "INSERT"]),
        (None, "Identify the holder, again", ["DELETE"]),
    ):
        changed = replace(current, delay=delay, title=title, version=current.version + 1)
        written.clear()
        assert store.update_if_version(session, changed, current.version, {})
        assert written == writes
        held = store.get(session, r.id)
        assert held is not None and held.delay == delay
        current = changed


# -- an item that arrives before its request ------------------------------------------------------------


@contextmanager
def _node() -> Iterator[Session]:
    """A node's evidence database with its foreign keys enforced, as ``jitlib.db`` (and PostgreSQL) does."""
    engine = create_engine("sqlite://")

    @sa_event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    with Session(engine, info=info) as s, s.begin():
        yield s
    engine.dispose()


@pytest.fixture
def fk_session() -> Iterator[Session]:
    with _node() as s:
        yield s


def _de_item(r: domain.EvidenceRequest) -> EvidenceItem:
    return EvidenceItem(
        id="0190f7a0-0000-7000-8000-0000000000ee",
        workspace_id=r.workspace_id,
        evidence_request_id=r.id,
        origin_jurisdiction="DE",
        media_type="application/pdf",
        size_bytes=3,
        sha256="0" * 64,
        filename="answer.pdf",
        description="the subscriber's records",
        conditions="",
        consents=(),
        received_by=DE,
        received_at=T0,
        blob_key="k",
    )


def test_an_item_that_arrives_before_its_request_waits_for_it_and_is_applied_once(fk_session: Session) -> None:
    """FR's node: NL's request (from JIT_OUT_NL) and DE's item of it (from JIT_OUT_DE) come on two streams, in
    no order between them. The item, first, waits (its newer custody version kept) until the request is
    written, then is applied once; it was retried, then set aside for good."""
    clock = ManualClock(T0)
    r = eio()
    item = _de_item(r)

    def item_event(custody: int) -> Envelope:
        return events.item_envelope(item, r, item_to_pb(item, custody), "item_received", MEMBERS, DE, custody, T0, "DE")

    assert replicas.apply(app.ITEM_REPLICAS, clock, fk_session, item_event(2), "FR")
    replicas.apply(app.ITEM_REPLICAS, clock, fk_session, item_event(1), "FR")  # an older one, late: the newer stays
    assert store.get_item_replica(fk_session, item.id) is None  # not shown without its request

    clock.advance(timedelta(minutes=5))
    assert replicas.apply(app.REPLICAS, clock, fk_session, _event(r, "acknowledged"), "FR")
    held = store.get_item_replica(fk_session, item.id)
    assert held is not None and (held.version, held.item.description) == (2, "the subscriber's records")
    assert fk_session.scalar(select(func.count()).select_from(store.PendingItemRow)) == 0
    # A late copy of the item's first event changes nothing.
    assert not replicas.apply(app.ITEM_REPLICAS, clock, fk_session, item_event(1), "FR")
    assert [i.item.id for i in store.list_items(fk_session, r.id)] == [item.id]


def test_an_item_left_waiting_longer_than_the_federation_keeps_what_it_sent_is_let_go(fk_session: Session) -> None:
    clock = ManualClock(T0)
    r = eio()
    first = _de_item(r)
    env = events.item_envelope(first, r, item_to_pb(first, 1), "item_received", MEMBERS, DE, 1, T0, "DE")
    assert replicas.apply(app.ITEM_REPLICAS, clock, fk_session, env, "FR")
    clock.advance(timedelta(days=store.PARKED_DAYS + 1))
    other = replace(first, id="0190f7a0-0000-7000-8000-0000000000ef")
    env = events.item_envelope(other, r, item_to_pb(other, 1), "item_received", MEMBERS, DE, 1, T0, "DE")
    assert replicas.apply(app.ITEM_REPLICAS, clock, fk_session, env, "FR")
    waiting = fk_session.scalars(select(store.PendingItemRow.item_id)).all()
    assert waiting == [other.id]


# -- copies held for a workspace this node is not a member of ---------------------------------------------


def test_an_outside_addressees_copies_are_destroyed_by_its_sweep_the_retention_years_after_their_last_change(
    session: Session,
) -> None:
    """IE's node holds NL's EPOC of workspace nl-de-case (NL and DE), whose enforcing state IE is notified:
    the directory never announces that workspace to IE's node, yet its sweep destroys the copy when the
    retention years have passed since the last change NL sent."""
    cmd = _epoc_to_ie("WITH_NOTIFICATION", workspace_id="nl-de-case", urgency="NORMAL")
    r = _run(domain.create(cmd, request_id="0190f7a0-0000-7000-8000-0000000000cc", actor=NL, now=T0), NL, T0, "issue")
    env = events.request_envelope(r, request_to_pb(r, r.updated_at), "issued", frozenset({"NL", "DE"}), T0)
    assert "IE" in env.audience
    clock = ManualClock(T0)
    assert replicas.apply(app.REPLICAS, clock, session, env, "IE")
    rt = types.SimpleNamespace(name="evidence", content_keys=object(), tables=store.RUNTIME, clock=clock)
    sweep = RetentionSweep(rt, store.Base.metadata, [], default_years=2)

    clock.advance(timedelta(days=365 * 2 - 2))
    assert sweep.due(session) == []
    clock.advance(timedelta(days=5))
    assert sweep.due(session) == ["nl-de-case"]
    end = sweep._end_of(session, "nl-de-case")
    assert end is not None and "not a member" in end.why and T0.date().isoformat() in end.why


# -- sent to the node of a country that joins the workspace (jitlib.joining) --------------------------------


def _entry(action: custody.Action, at: datetime) -> custody.Entry:
    return custody.Entry(
        item_id="", seq=0, action=action, user_id=DE.user_id, username=DE.username, jurisdiction=DE.jurisdiction,
        at=at, purpose="", recipient="", sha256="0" * 64, prev_hash="",
    )  # fmt: skip


def test_a_joined_countrys_node_gets_the_items_this_node_holds_of_another_nodes_request(fk_session: Session) -> None:
    """DE's node holds NL's request (a replica) and the item DE received for it: the join's page of DE's items
    gives that item (not another node's item DE holds a copy of, nor another workspace's), its event from DE
    with the request's audience; the second pass only when its chain grew since. IE's node, given the item
    before the request, applies both."""
    r = eio()
    store.write_replica(fk_session, r, False)
    item = _de_item(r)
    store.insert_item(fk_session, item, "0190f7a0-0000-7000-8000-0000000000e1")
    store.append_custody(fk_session, item.id, _entry(custody.Action.RECEIVED, T0))
    copy = replace(_de_item(r), id="0190f7a0-0000-7000-8000-0000000000ef", received_by=IE, blob_key="")
    store.write_item_replica(fk_session, domain.ItemReplica(copy, 1), False)
    other = eio()
    other = replace(other, id="0190f7a0-0000-7000-8000-0000000000ab", workspace_id="other-ws")
    store.write_replica(fk_session, other, False)
    store.insert_item(
        fk_session,
        replace(_de_item(other), id="0190f7a0-0000-7000-8000-0000000000f0"),
        "0190f7a0-0000-7000-8000-0000000000e2",
    )
    requests, items = app._resends(cast(Runtime, None))
    assert [k.aggregate_type for k in (requests, items)] == ["evidence_request", "evidence_item"]
    assert requests.page(fk_session, "jit-demo", "DE", "", None, 10) == []  # NL's: NL's node sends it

    page = items.page(fk_session, "jit-demo", "DE", "", None, 10)
    assert [items.key(found) for found in page] == [item.id]
    assert items.page(fk_session, "jit-demo", "DE", item.id, None, 10) == []
    now = T0 + timedelta(days=3)
    subject, env = items.event(fk_session, page[0], MEMBERS, now)
    assert subject == "jit.evidence.NL.item_shared" and env.type == "jit.evidence.v1.EvidenceItemShared"
    assert (env.origin_jurisdiction, env.aggregate_id, env.aggregate_version) == ("DE", item.id, 1)
    assert list(env.audience) == sorted({"NL", "DE", "FR"})  # restricted: its parties, as its other events
    assert items.page(fk_session, "jit-demo", "DE", "", T0 + timedelta(hours=1), 10) == []
    store.append_custody(fk_session, item.id, _entry(custody.Action.ACCESSED, T0 + timedelta(hours=2)))
    again = items.page(fk_session, "jit-demo", "DE", "", T0 + timedelta(hours=1), 10)
    assert [(found.item.id, found.custody_seq) for found in again] == [(item.id, 2)]

    with _node() as ie:
        clock = ManualClock(now)
        _, env = items.event(fk_session, again[0], MEMBERS, now)
        assert replicas.apply(app.ITEM_REPLICAS, clock, ie, env, "FR")  # before its request: waits
        _, shared = app._shared_request(ie, r, MEMBERS, now)
        assert shared.type == "jit.evidence.v1.EvidenceRequestShared"
        assert replicas.apply(app.REPLICAS, clock, ie, shared, "FR")
        held = store.get_item_replica(ie, item.id)
        assert held is not None and held.version == 2


def test_a_consent_recorded_later_reaches_the_copies_of_the_item(fk_session: Session) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT on a federation: FR's node holds a copy of DE's item of NL's request; DE's
    prosecutor records DE's consent on DE's node (the holder), whose ``item_use_consented`` event, at the
    chain's new length, gives the copy the consent (without the recording user's retry key); a late copy of
    the item's first event takes it away no more."""
    clock = ManualClock(T0)
    r = eio()
    item = _de_item(r)
    assert replicas.apply(app.REPLICAS, clock, fk_session, _event(r, "acknowledged"), "FR")

    def item_event(it: EvidenceItem, seq: int, event: str) -> Envelope:
        return events.item_envelope(it, r, item_to_pb(it, seq), event, MEMBERS, DE, seq, T0, "DE")

    assert replicas.apply(app.ITEM_REPLICAS, clock, fk_session, item_event(item, 1, "item_received"), "FR")
    held = store.get_item_replica(fk_session, item.id)
    assert held is not None and held.item.consents == ()
    at = T0 + timedelta(days=21)
    consented = domain.record_consent(item, DE, "0190f7a0-0000-7000-8000-0000000000c1", "fraud in NL", "StA 1", at)
    assert replicas.apply(app.ITEM_REPLICAS, clock, fk_session, item_event(consented, 4, "item_use_consented"), "FR")
    held = store.get_item_replica(fk_session, item.id)
    assert held is not None and held.version == 4
    assert held.item.consents == (domain.Consent("fraud in NL", "DE", at, "StA 1"),)
    assert not replicas.apply(app.ITEM_REPLICAS, clock, fk_session, item_event(item, 1, "item_received"), "FR")
    assert store.get_item_replica(fk_session, item.id).item.consents == held.item.consents  # type: ignore[union-attr]


# -- listed from its stored answer ------------------------------------------------------------------

DE_SCOPE = VisibilityScope(workspaces=frozenset({"jit-demo"}), jurisdiction="DE", may_read_content=True)


def _listed_as_held(session: Session, clock: ManualClock, request_id: str) -> pb.EvidenceRequest:
    held = store.get(session, request_id)
    assert held is not None and held.replicated_at == clock.now()
    listed = store.list_answered(
        session, DE_SCOPE, frozenset({"jit-demo"}), store.RequestFilter(), after_id="", limit=10
    )
    (row,) = listed
    assert row.request is None and row.answer is not None, "answered from its row, not its stored answer"
    assert (row.state, row.origin_jurisdiction, row.access) == (held.state, "NL", held.access())
    message = pb.EvidenceRequest.FromString(row.answer.message(micros(clock.now()), "", ()))
    assert message == request_to_pb(held, clock.now(), hide_link=True) and message.HasField("replica")
    return message


def test_a_replica_is_listed_from_its_stored_answer_as_this_node_holds_it(session: Session) -> None:
    """``ListRequests`` on DE's node answers NL's request from the answer written with DE's copy (not from
    its row), and that answer is the copy's message as DE's node gives it (``replica`` set, the owner's
    deadlines, each overdue or not at the time asked), after NL's later change as after its creation."""
    clock = ManualClock(T0 + timedelta(days=10))
    issued = _run(
        domain.create(_new(), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=T0), NL, T0, "issue"
    )
    assert replicas.apply(app.REPLICAS, clock, session, _event(issued, "issued"))
    first = _listed_as_held(session, clock, issued.id)
    assert first.state == pb.EVIDENCE_REQUEST_STATE_ISSUED
    # The acknowledgement's deadline (7 days) has passed by then, the decision's (30) not.
    assert [d.overdue for d in first.deadlines] == [True, False]
    clock.advance(timedelta(days=1))
    assert replicas.apply(app.REPLICAS, clock, session, _event(eio(), "decision_deadline_extended"))
    assert _listed_as_held(session, clock, issued.id).state == pb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED


# -- an objection the owner recorded, on the node holding the items ------------------------------------


def _objected_epoc() -> tuple[domain.EvidenceRequest, domain.EvidenceRequest]:
    """NL's emergency EPOC to a provider established in IE, IE notified, in execution; and the same after
    IE's objection two hours later (refused, what was received until then restricted)."""
    cmd = _epoc_to_ie("EMERGENCY_WITH_NOTIFICATION", urgency="EMERGENCY")
    r = domain.create(cmd, request_id="0190f7a0-0000-7000-8000-0000000000dd", actor=NL, now=T0)
    r = _run(r, NL, T0, "issue", "acknowledge", "start_execution")
    objected = _run(
        r, IE, T0 + timedelta(hours=2), "refuse", reason="a journalist's", refusal_ground="IMMUNITY_OR_PRIVILEGE"
    )
    assert objected.items_restricted_at == T0 + timedelta(hours=2)
    return r, objected


def _ie_item(r: domain.EvidenceRequest, n: int, received_at: datetime, blob_key: str = "k") -> EvidenceItem:
    return replace(
        _de_item(r),
        id=f"0190f7a0-0000-7000-8000-0000000001{n:02d}",
        origin_jurisdiction="IE",
        received_by=IE,
        received_at=received_at,
        blob_key=blob_key,
    )


def _chain(session: Session, item_id: str) -> list[tuple[str, str]]:
    return [(e.action.value, e.username) for e in store.custody_entries(session, item_id)]


def test_an_objection_restricts_the_items_held_here_once_by_the_system_and_tells_the_other_nodes(
    fk_session: Session,
) -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 10(4)): IE's node holds two items it received of
    NL's request, one before the objection and one after; NL's node holds one of its own, whose copy IE
    holds. Taking in NL's change that records IE's objection, IE's node writes a RESTRICTED entry, by the
    system, on its item received before, in its own chain, stages that item's ``item_restricted`` event
    (from IE, to the workspace) and audits it; not on the later one, not on NL's; and not again for the
    same objection."""
    before, objected = _objected_epoc()
    s = fk_session
    assert replicas.apply(app.REPLICAS, ManualClock(T0), s, _event(before, "execution_started"), "IE")
    earlier, later = _ie_item(before, 1, T0 + timedelta(hours=1)), _ie_item(before, 2, T0 + timedelta(hours=3))
    for item in (earlier, later):
        store.insert_item(s, item, f"upload-{item.id}")
        received = custody.Entry(
            item.id, 0, custody.Action.RECEIVED, IE.user_id, IE.username, "IE", item.received_at, "", "", item.sha256,
            "",
        )  # fmt: skip
        store.append_custody(s, item.id, received)
    nls = replace(_ie_item(before, 3, T0 + timedelta(hours=1), blob_key=""), received_by=NL, origin_jurisdiction="NL")
    store.write_item_replica(s, ItemReplica(nls, 1), False)
    now = T0 + timedelta(hours=2, minutes=5)

    assert events.restrict_held_items(s, store.RUNTIME, None, objected, MEMBERS, now) == 1
    assert _chain(s, earlier.id) == [("RECEIVED", "ie-prosecutor"), ("RESTRICTED", "jit-system")]
    (restricted,) = [e for e in store.custody_entries(s, earlier.id) if e.action is custody.Action.RESTRICTED]
    assert restricted.at == now and "IE objected (IMMUNITY_OR_PRIVILEGE)" in restricted.purpose
    assert _chain(s, later.id) == [("RECEIVED", "ie-prosecutor")]
    assert store.custody_entries(s, nls.id) == []
    outbox = s.execute(select(store.RUNTIME.outbox.c.subject, store.RUNTIME.outbox.c.event_type)).all()
    assert outbox == [("jit.evidence.NL.item_restricted", "jit.evidence.v1.EvidenceItemRestricted")]
    audited = s.scalars(select(store.RUNTIME.audit_pending.c.record_id)).all()
    assert audited == [earlier.id]
    # The same objection again (its event redelivered, or a later change of the request): nothing more.
    at = objected.items_restricted_at
    assert events.restrict_held_items(s, store.RUNTIME, at, objected, MEMBERS, now) == 0
    assert _chain(s, earlier.id) == [("RECEIVED", "ie-prosecutor"), ("RESTRICTED", "jit-system")]
