"""The preservation clocks of issue 15 through the real services: an EPOC-PR's 60 days run from the
provider's receipt (warned about and expired without a confirmation), and a production request that the
evidence service reports refused, withdrawn or not executed gives the order its clock back, with one
warning to the issuer.

The preservation service runs on a ManualClock the test moves; the evidence service runs beside it on the
same NATS (it emits, preservation consumes). Nothing asserts on wall-clock durations."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as epb
from jit.evidence.v1 import evidence_pb2_grpc
from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.bus import stream_for
from jitlib.clock import Clock, ManualClock
from jitlib.ids import new_id
from jitlib.periods import period_end
from services.evidence.app import EvidenceSettings
from services.evidence.app import spec as evidence_spec
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, error_reason, eventually, md, rid
from tests.harness import start_service as start_any
from tests.integration.preservation.conftest import (
    DAY,
    WS,
    Client,
    Launcher,
    publish,
    scan_now,
    stream_envelopes,
    ts,
)

pytestmark = pytest.mark.integration
WARN_TYPE = "jit.preservation.v1.PreservationOrderExpiryWarning"


def manual_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


def at(stamp: Any) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def warnings_of(url: str, order_id: str) -> list[pb.ExpiryWarning]:
    out = []
    for env in stream_envelopes(url, "JIT_PRESERVATION", "jit.preservation.*.expiry_warning"):
        if env.aggregate_id == order_id:
            assert env.type == WARN_TYPE
            w = pb.ExpiryWarning()
            assert env.state.Unpack(w)
            out.append(w)
    return out


def events_of(url: str, order_id: str) -> list[str]:
    return [
        e.type for e in stream_envelopes(url, "JIT_PRESERVATION", "jit.preservation.NL.*") if e.aggregate_id == order_id
    ]


# ---- item 5: the EPOC-PR's 60 days run from receipt ------------------------------------------------------


def test_epoc_pr_clock_from_receipt_warns_and_expires_an_order_never_confirmed(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    """EPOC_PR_CLOCK_FROM_RECEIPT (Reg. (EU) 2023/1543 Art. 11(1)): sent, received an hour later as the
    issuer records, never confirmed: the expiry is on the order from ISSUED, each warning is sent once and
    the order expires; a confirmation of another order does not move its expiry. The 60 days end with their
    last day in Dublin, or the next working day there (EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS: the
    provider, socialnet-ie, is established in IE)."""
    clock = manual_clock()
    svc = launcher.start(fresh_db_url(), clock=clock, scan_interval_seconds=3600)
    client = Client(svc, tokens)
    t0 = clock.now()
    order = client.create(legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    issue = pb.IssueOrderRequest(id=order.id)
    issue.issued_at.CopyFrom(ts(t0 - 2 * timedelta(hours=1)))
    issue.received_at.CopyFrom(ts(t0 - timedelta(hours=1)))
    issued = client.call("nl-liaison", "IssueOrder", issue).order
    expiry = period_end(t0 - timedelta(hours=1), 60 * DAY, "IE")
    assert expiry >= t0 - timedelta(hours=2) + 60 * DAY
    assert issued.state == pb.PRESERVATION_ORDER_STATE_ISSUED
    assert at(issued.received_at) == t0 - timedelta(hours=1) and at(issued.expires_at) == expiry
    assert at(issued.extension_deadline) == expiry and "extend" in issued.allowed_actions

    other = client.create(legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    other_issued = client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=other.id)).order
    clock.advance(10 * DAY)
    other_confirmed = client.call("nl-liaison", "ConfirmOrder", pb.ConfirmOrderRequest(id=other.id)).order
    assert other_confirmed.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED
    assert other_confirmed.expires_at == other_issued.expires_at  # the confirmation moves nothing

    while clock.now() <= expiry + DAY:  # to a day after the expiry, a day at a time
        clock.advance(DAY)
        scan_now(svc)
    got = eventually(lambda: (lambda w: w if len(w) >= 4 else None)(warnings_of(pnats.url, order.id)), timeout=30)
    assert [(w.offset_seconds, w.first, w.kind) for w in got] == [
        (14 * 86400, True, pb.WARNING_KIND_BEFORE_EXPIRY),
        (7 * 86400, False, pb.WARNING_KIND_BEFORE_EXPIRY),
        (48 * 3600, False, pb.WARNING_KIND_BEFORE_EXPIRY),
        (0, False, pb.WARNING_KIND_AT_EXPIRY),
    ]
    assert {at(w.expires_at) for w in got} == {expiry}
    assert [w.order.state for w in got][:3] == [pb.PRESERVATION_ORDER_STATE_ISSUED] * 3
    final = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert final.state == pb.PRESERVATION_ORDER_STATE_EXPIRED
    assert events_of(pnats.url, order.id).count("jit.preservation.v1.PreservationOrderExpired") == 1


def test_a_stated_receipt_is_bounded_and_a_refused_one_writes_nothing(client_p: Client) -> None:
    """EPOC_PR_CLOCK_FROM_RECEIPT: the receipt is not before the issue, not in the future, not after the
    confirmation; INVALID_ARGUMENT names received_at where the request alone shows it, FAILED_PRECONDITION
    RECEIVED_BEFORE_ISSUE where the stored issue time does; nothing changes."""
    now = datetime.now(UTC)
    order = client_p.create(legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    for issued_at, received_at in ((now - DAY, now - 2 * DAY), (now - DAY, now + 2 * DAY)):
        bad = pb.IssueOrderRequest(id=order.id)
        bad.issued_at.CopyFrom(ts(issued_at))
        bad.received_at.CopyFrom(ts(received_at))
        with pytest.raises(grpc.RpcError) as info:
            client_p.call("nl-liaison", "IssueOrder", bad)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "received_at" in str(info.value.details())
    issue = pb.IssueOrderRequest(id=order.id)
    issue.issued_at.CopyFrom(ts(now - DAY))
    issued = client_p.call("nl-liaison", "IssueOrder", issue).order
    assert issued.version == order.version + 1 and at(issued.received_at) == now - DAY
    early = pb.ConfirmOrderRequest(id=order.id)
    early.received_at.CopyFrom(ts(now - 2 * DAY))
    early.confirmed_at.CopyFrom(ts(now - timedelta(hours=1)))
    with pytest.raises(grpc.RpcError) as info:
        client_p.call("nl-liaison", "ConfirmOrder", early)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(info.value) == "RECEIVED_BEFORE_ISSUE"
    stated = pb.ConfirmOrderRequest(id=order.id)
    stated.received_at.CopyFrom(ts(now - timedelta(hours=20)))
    confirmed = client_p.call("nl-liaison", "ConfirmOrder", stated).order
    assert confirmed.version == issued.version + 1  # the refused confirmation wrote nothing
    # counted again from it, as EU law counts the days in the provider's establishment (IE)
    assert at(confirmed.expires_at) == period_end(now - timedelta(hours=20), 60 * DAY, "IE")


@pytest.fixture
def client_p(preservation_svc: RunningService, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


# ---- item 6: a failed production request gives the clock back --------------------------------------------


def _start_evidence(
    launcher: Launcher, db_url: str, request: pytest.FixtureRequest, tmp_path_factory: Any, clock: Clock | None = None
) -> RunningService:
    """An evidence service on the preservation tests' NATS, with its own database on the module's backend:
    it emits the production requests' events that the preservation service consumes. ``clock``: the one
    the test moves, shared with its preservation service (a production request counts when it was issued,
    on the evidence service's clock)."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('evidence-p') / 'evidence.db'}"
    else:
        url = str(request.getfixturevalue("postgres").create_database(f"evidence_p_{uuid.uuid4().hex[:10]}"))
    settings = EvidenceSettings(
        listen="127.0.0.1:0",
        database_url=url,
        consumer_group=f"evidence-{uuid.uuid4().hex[:8]}",
        blob_dir=str(tmp_path_factory.mktemp("evidence-p-blobs")),
        kek=SecretStr(base64.b64encode(os.urandom(32)).decode()),
    )
    kw: dict[str, Any] = {"clock": clock} if clock is not None else {}
    svc = start_any(evidence_spec(settings), settings, launcher.common, **kw)
    wait_for_workspace(svc, WS)
    return svc


@pytest.fixture(scope="module")
def evidence_p(launcher: Launcher, db_url: str, request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Any]:
    svc = _start_evidence(launcher, db_url, request, tmp_path_factory)
    yield svc
    svc.stop()


@pytest.fixture
def evidence_on(
    launcher: Launcher, db_url: str, request: pytest.FixtureRequest, tmp_path_factory: Any
) -> Iterator[Callable[[Clock], RunningService]]:
    """An evidence service of its own on the test's clock (stopped at the test's end)."""
    started: list[RunningService] = []

    def start(clock: Clock) -> RunningService:
        started.append(_start_evidence(launcher, db_url, request, tmp_path_factory, clock))
        return started[-1]

    yield start
    for svc in started:
        svc.stop()


class Evidence:
    def __init__(self, svc: RunningService, tokens: Any) -> None:
        self.stub = evidence_pb2_grpc.EvidenceServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=30).request

    def production_request(self, order_id: str) -> epb.EvidenceRequest:
        """An EIO from NL to DE asking for what ``order_id`` preserves, linked to it (once the evidence
        service has heard of the order from its events)."""

        def create() -> epb.EvidenceRequest | None:
            req = epb.CreateRequestRequest(
                request_id=rid(),
                workspace_id=WS,
                legal_basis=epb.LEGAL_BASIS_EIO,
                issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
                addressee_kind=epb.ADDRESSEE_KIND_MEMBER_STATE,
                addressee_jurisdiction="DE",
                data_categories=[epb.DATA_CATEGORY_SUBSCRIBER],
                targets=[epb.TargetIdentifier(type=epb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
                offence_category=epb.OFFENCE_CATEGORY_CYBERSTALKING,
                urgency=epb.URGENCY_NORMAL,
                title="Subscriber data of @harasser_x",
                preservation_order_id=order_id,
            )
            try:
                return self.call("nl-prosecutor", "CreateRequest", req)
            except grpc.RpcError as exc:
                if error_reason(exc) != "PRESERVATION_ORDER_NOT_LINKABLE":
                    raise
                return None  # the order's events have not reached the evidence service yet

        return eventually(create, timeout=30)


#: The demo register's provider established in DE, where the production requests below (EIOs to DE) are
#: addressed: only a request for the preserved data where they are is the order's production request
#: (PRESERVATION_PRODUCTION_REQUEST_FOR_THE_PRESERVED_DATA).
DE_PROVIDER = "videohost-de"


def _order_when(client: Client, order_id: str, state: int) -> pb.PreservationOrder:
    def get() -> pb.PreservationOrder | None:
        o = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order_id)).order
        return o if o.state == state else None

    return eventually(get, timeout=30)


def _production_ended(url: str, order_id: str) -> list[pb.ExpiryWarning]:
    return [w for w in warnings_of(url, order_id) if w.kind == pb.WARNING_KIND_PRODUCTION_ENDED]


def test_preservation_clock_resumes_after_failed_production_refused_by_the_executing_state(
    launcher: Launcher,
    fresh_db_url: Callable[[], str],
    evidence_on: Callable[[Clock], RunningService],
    tokens: Any,
    pnats: Any,
) -> None:
    """EPOC_PR_PRESERVED_UNTIL_PRODUCTION (Reg. (EU) 2023/1543 Art. 11(2)) then
    PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION (Art. 11(1)-(3); GUESS): an EPOC-PR's clock stops
    20 days into the 60 (counted to the end of their last day in Berlin, or the next working day there:
    EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS) when NL issues the EIO that asks for production, keeping the
    time left; past the original 60 days it does not expire; DE refuses the EIO, and the order is CONFIRMED
    again with that time from the refusal, one resumed event and one warning to the issuer, also when the
    refusal is delivered again; it then expires when that time is over."""
    clock = manual_clock()
    svc = launcher.start(fresh_db_url(), clock=clock, scan_interval_seconds=3600)
    client, evidence = Client(svc, tokens), Evidence(evidence_on(clock), tokens)
    order = client.confirmed(legal_basis=pb.LEGAL_BASIS_EPOC_PR, provider_id=DE_PROVIDER)
    t0 = at(order.received_at)
    expiry = period_end(t0, 60 * DAY, "DE")
    assert at(order.expires_at) == expiry
    production = evidence.production_request(order.id)
    left = expiry - (clock.now() + 20 * DAY)

    clock.advance(20 * DAY)
    evidence.call("nl-prosecutor", "IssueRequest", epb.IssueRequestRequest(id=production.id))
    stopped = _order_when(client, order.id, pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED)
    assert stopped.follow_up_request_id == production.id and not stopped.HasField("expires_at")
    assert at(stopped.clock_stopped_at) == clock.now() and stopped.clock_remaining_seconds == left.total_seconds()
    assert "extend" not in stopped.allowed_actions

    clock.advance(50 * DAY)  # 70 days after receipt: the 60 would be over, but the clock stopped
    scan_now(svc)
    refused_at = clock.now()
    evidence.call("de-liaison", "AcknowledgeRequest", epb.AcknowledgeRequestRequest(id=production.id))
    evidence.call(
        "de-prosecutor",
        "RefuseRequest",
        epb.RefuseRequestRequest(
            id=production.id, ground=epb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE, detail="the account is a journalist's"
        ),
    )
    resumed = _order_when(client, order.id, pb.PRESERVATION_ORDER_STATE_CONFIRMED)
    assert at(resumed.expires_at) == refused_at + left
    assert not resumed.HasField("clock_stopped_at") and "extend" in resumed.allowed_actions
    (warning,) = eventually(lambda: _production_ended(pnats.url, order.id) or None, timeout=30)
    assert warning.first and warning.production_request_id == production.id
    assert warning.production_outcome == pb.PRODUCTION_OUTCOME_REFUSED
    assert at(warning.expires_at) == refused_at + left and warning.offset_seconds == left.total_seconds()
    assert warning.reason.startswith("the production request was refused; preservation runs again until")
    assert "Art. 11(1)-(3)" in warning.reason

    # The refusal again: the same event (redelivered), and a copy with a new id.
    refusals = [
        e
        for e in stream_envelopes(pnats.url, "JIT_EVIDENCE", "jit.evidence.NL.*")
        if e.aggregate_id == production.id and e.type.endswith("Refused")
    ]
    assert len(refusals) == 1
    subject = "jit.evidence.NL.refused"
    publish(pnats.url, stream_for("evidence"), subject, refusals[0].SerializeToString(), new_id())
    copy = Envelope()
    copy.CopyFrom(refusals[0])
    copy.id = new_id()
    publish(pnats.url, stream_for("evidence"), subject, copy.SerializeToString(), copy.id)
    marker = client.confirmed()  # a later change on the same stream, seen after both
    _order_when(client, marker.id, pb.PRESERVATION_ORDER_STATE_CONFIRMED)
    eventually(lambda: _inbox_has(svc, copy.id), timeout=30)
    again = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert again.version == resumed.version
    assert len(_production_ended(pnats.url, order.id)) == 1
    assert events_of(pnats.url, order.id).count("jit.preservation.v1.PreservationOrderResumed") == 1

    clock.advance(left)
    scan_now(svc)
    _order_when(client, order.id, pb.PRESERVATION_ORDER_STATE_EXPIRED)


def _inbox_has(svc: RunningService, event_id: str) -> bool:
    from sqlalchemy import select

    from services.preservation.store import RUNTIME

    query = select(RUNTIME.inbox.c.event_id).where(RUNTIME.inbox.c.event_id == event_id)
    return svc.loop.run(svc.rt.read(lambda s: s.scalar(query))) is not None


def test_provider_voluntary_clock_runs_during_production_and_a_withdrawal_warns_the_issuer(
    launcher: Launcher, fresh_db_url: Callable[[], str], evidence_p: RunningService, tokens: Any, pnats: Any
) -> None:
    """PROVIDER_VOLUNTARY_CLOCK_RUNS_DURING_PRODUCTION (GUESS: the providers' guidelines): while the EIO is
    pending the provider's 90 days run on and their warning is sent; NL withdraws the EIO and the order is
    CONFIRMED again with the same expiry, the issuer told that preservation still runs until then
    (PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION)."""
    clock = manual_clock()
    svc = launcher.start(fresh_db_url(), clock=clock, scan_interval_seconds=3600)
    client, evidence = Client(svc, tokens), Evidence(evidence_p, tokens)
    order = client.confirmed(provider_id=DE_PROVIDER)  # 90 days from the confirmation
    production = evidence.production_request(order.id)
    evidence.call("nl-prosecutor", "IssueRequest", epb.IssueRequestRequest(id=production.id))
    pending = _order_when(client, order.id, pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED)
    assert pending.expires_at == order.expires_at and not pending.HasField("clock_stopped_at")

    clock.advance(77 * DAY)  # 13 days left: the 14-day warning
    scan_now(svc)
    first = eventually(lambda: warnings_of(pnats.url, order.id) or None, timeout=30)
    assert [(w.kind, w.offset_seconds) for w in first] == [(pb.WARNING_KIND_BEFORE_EXPIRY, 14 * 86400)]
    assert first[0].order.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED

    evidence.call("nl-prosecutor", "WithdrawRequest", epb.WithdrawRequestRequest(id=production.id, reason="moot"))
    back = _order_when(client, order.id, pb.PRESERVATION_ORDER_STATE_CONFIRMED)
    assert back.expires_at == order.expires_at
    (warning,) = eventually(lambda: _production_ended(pnats.url, order.id) or None, timeout=30)
    assert warning.production_outcome == pb.PRODUCTION_OUTCOME_WITHDRAWN and warning.expires_at == order.expires_at
    assert warning.reason.startswith("the production request was withdrawn; preservation still runs until")


def test_a_budapest_preservation_resumes_when_the_mla_request_is_not_executed(
    launcher: Launcher,
    fresh_db_url: Callable[[], str],
    evidence_on: Callable[[Clock], RunningService],
    tokens: Any,
    pnats: Any,
) -> None:
    """BUDAPEST_ART29_PRESERVED_PENDING_DECISION (CETS 185 Art. 29(7)) and
    PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION: not executed by DE, the order gets back the 55 days
    it had left; a refusal of another request that the order does not wait for changes nothing."""
    clock = manual_clock()
    svc = launcher.start(fresh_db_url(), clock=clock, scan_interval_seconds=3600)
    client, evidence = Client(svc, tokens), Evidence(evidence_on(clock), tokens)
    order = client.confirmed(legal_basis=pb.LEGAL_BASIS_BUDAPEST_ART29, provider_id=DE_PROVIDER)
    production = evidence.production_request(order.id)
    clock.advance(5 * DAY)
    evidence.call("nl-prosecutor", "IssueRequest", epb.IssueRequestRequest(id=production.id))
    stopped = _order_when(client, order.id, pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED)
    assert stopped.clock_remaining_seconds == 55 * 86400
    clock.advance(100 * DAY)
    failed_at = clock.now()
    evidence.call(
        "de-prosecutor",
        "ReportNotExecuted",
        epb.ReportNotExecutedRequest(id=production.id, reason=epb.NON_EXECUTION_REASON_DATA_NOT_HELD),
    )
    back = _order_when(client, order.id, pb.PRESERVATION_ORDER_STATE_CONFIRMED)
    assert at(back.expires_at) == failed_at + 55 * DAY
    (warning,) = eventually(lambda: _production_ended(pnats.url, order.id) or None, timeout=30)
    assert warning.production_outcome == pb.PRODUCTION_OUTCOME_NOT_EXECUTED


# ---- the start's recount of the EPOC-PR clocks stored with the former count ----------------------------


def test_epoc_pr_period_counted_as_eu_law_counts_for_an_order_stored_before_at_the_next_start(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any
) -> None:
    """EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS for an order an older version stored (receipt + 60 x 24 h): the
    service's start moves its expiry and extension deadline to the end of the last day in Dublin (or the next
    working day there) before it serves, once (services.preservation.recount); a later start, finding the
    count recorded, moves nothing (not even an expiry written the old way since)."""
    from dataclasses import replace

    from sqlalchemy import update

    from jitlib import db, sealing
    from jitlib.actors import Actor
    from services.preservation import domain, providers, store
    from services.preservation.app import MIGRATIONS, PreservationSettings
    from tests.harness import suite_kek_file

    url = fresh_db_url()
    clock = manual_clock()
    common = launcher.common
    if common.kek_file is None and not common.kek.get_secret_value():
        common = common.model_copy(update={"kek_file": suite_kek_file()})
    db.migrate(MIGRATIONS, url)
    database = db.Database(url)
    sealing.install(
        database.info, store.Base.metadata, PreservationSettings(database_url=url).kek_ring(common, "preservation")
    )
    received = clock.now() - 10 * DAY
    old_expiry, new_expiry = received + 60 * DAY, period_end(received, 60 * DAY, "IE")
    rules = domain.Rules(providers=providers.load())
    cmd = domain.NewOrder(
        request_id=new_id(),
        workspace_id=WS,
        legal_basis="EPOC_PR",
        provider_id="socialnet-ie",
        targets=(domain.Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER",),
        description="",
        restricted=True,
    )
    nl = Actor("u-nl", "nl-liaison", "NL")
    draft = domain.create(cmd, order_id=new_id(), actor=nl, now=received)
    former = replace(rules.clock_for(draft), counted_in=None)  # the count of the older version
    order = domain.apply(draft, "issue", domain.TransitionInput(), actor=nl, now=received, rule=former)
    assert order.expires_at == old_expiry != new_expiry

    def older_version(session: Any) -> None:
        store.ORDERS.insert(session, order, request_id=cmd.request_id, request_digest="")
        store.set_next_alert(session, order.id, domain.next_alert_at(order, rules.offsets, after=clock.now()))

    database.write_sync(older_version)

    svc = launcher.start(url, clock=clock, scan_interval_seconds=3600)
    got = Client(svc, tokens).call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert (at(got.expires_at), at(got.extension_deadline)) == (new_expiry, new_expiry)
    assert got.version == order.version and got.state == pb.PRESERVATION_ORDER_STATE_ISSUED
    listed = Client(svc, tokens).call("nl-liaison", "ListOrders", pb.ListOrdersRequest(workspace_id=WS)).orders
    assert [at(o.expires_at) for o in listed if o.id == order.id] == [new_expiry]
    launcher.stop(svc)

    def written_the_old_way(session: Any) -> None:
        session.execute(update(store.OrderRow).where(store.OrderRow.id == order.id).values(expires_at=old_expiry))

    database.write_sync(written_the_old_way)
    database.dispose()
    again = launcher.start(url, clock=clock, scan_interval_seconds=3600)
    got = Client(again, tokens).call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert at(got.expires_at) == old_expiry
