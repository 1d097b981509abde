"""The originating state's consent to another use of an evidence item (FD 2002/465 Art. 1(10)), recorded on an
item already received, when it is given; and where an item a provider delivers arose. Each module runs on
SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.audit.v1 import audit_pb2
from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as pb
from services.evidence.store import RUNTIME
from tests.harness import error_reason, eventually, field_violations, md, rid
from tests.integration.evidence.conftest import Client, now_utc
from tests.integration.evidence.test_evidence_items import upload
from tests.integration.evidence.test_evidence_requests import envelopes

pytestmark = pytest.mark.integration

CONSENTED = "jit.evidence.v1.EvidenceItemUseConsented"


def consent(item_id: str, purpose: str = "prosecution of a related fraud case", **over: Any) -> Any:
    request_id = over.pop("request_id", rid())
    return pb.RecordUseConsentRequest(request_id=request_id, item_id=item_id, purpose=purpose, **over)


def custody(client: Client, item_id: str) -> list[tuple[str, str, str]]:
    entries = client.call("nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item_id)).entries
    return [
        (pb.CustodyAction.Name(e.action).removeprefix("CUSTODY_ACTION_"), e.actor.username, e.purpose)
        for e in entries
        if e.action != pb.CUSTODY_ACTION_ACCESSED
    ]


def consent_events(svc: Any) -> int:
    """The consent events written to the outbox so far (every test's)."""
    outbox = RUNTIME.outbox
    q = select(func.count()).select_from(outbox).where(outbox.c.event_type == CONSENTED)
    return int(svc.loop.run(svc.rt.read(lambda s: s.scalar(q))) or 0)


def audited(client: Client, item_id: str) -> list[tuple[str, str]]:
    auditor = md(client.tokens("nl-auditor"))
    audit = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000), metadata=auditor)
    return [
        (e.operation.rsplit("/", 1)[-1], e.outcome)
        for e in audit.entries
        if e.record_id == item_id and e.operation.endswith("RecordUseConsent")
    ]


def test_the_originating_state_records_its_consent_weeks_later_and_a_retry_records_it_once(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT: NL's liaison received DE's evidence (an EIO DE executed), so DE could not
    consent at upload. Later DE's prosecutor records DE's consent: granted by DE, at the service's time, in the
    chain of custody, audited, evented to the item's audience; a retry answers with the item and records
    nothing more; the same request_id with other words is REQUEST_ID_REUSED."""
    r = client.executing()
    item = upload(client, "nl-liaison", r.id, b"subscriber records sent by DE")
    assert item.origin_jurisdiction == "DE" and not item.use_conditions.consents
    seen = client.call("de-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item
    assert "record_use_consent" in seen.allowed_actions
    nl_seen = client.call("nl-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item
    assert "record_use_consent" not in nl_seen.allowed_actions

    ask = consent(item.id, reference="StA Berlin 276 Js 1/26")
    events = consent_events(evidence_svc)
    before = now_utc()
    got = client.call("de-prosecutor", "RecordUseConsent", ask).item
    [c] = got.use_conditions.consents
    assert (c.granted_by_jurisdiction, c.purpose, c.reference) == (
        "DE",
        "prosecution of a related fraud case",
        "StA Berlin 276 Js 1/26",
    )
    granted = c.granted_at.ToDatetime().replace(tzinfo=before.tzinfo)
    assert before - timedelta(seconds=5) <= granted <= now_utc() + timedelta(seconds=5)
    assert custody(client, item.id)[-1] == (
        "CONSENT_RECORDED",
        "de-prosecutor",
        "consent of DE to other use: prosecution of a related fraud case (reference StA Berlin 276 Js 1/26)",
    )
    # Seen by the other readers of the item, and in its listing.
    shown = client.call("nl-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item
    assert [x.granted_by_jurisdiction for x in shown.use_conditions.consents] == ["DE"]
    listed = client.call("nl-liaison", "ListItems", pb.ListItemsRequest(evidence_request_id=r.id)).items
    assert [len(i.use_conditions.consents) for i in listed] == [1]

    # Retried (a lost answer): the same item, nothing more written.
    chain = custody(client, item.id)
    assert consent_events(evidence_svc) == events + 1
    again = client.call("de-prosecutor", "RecordUseConsent", ask).item
    assert list(again.use_conditions.consents) == list(got.use_conditions.consents)
    assert custody(client, item.id) == chain and consent_events(evidence_svc) == events + 1
    reused = consent(item.id, "another use altogether", request_id=ask.request_id)
    err = client.error("de-prosecutor", "RecordUseConsent", reused)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REQUEST_ID_REUSED"
    assert custody(client, item.id) == chain
    assert audited(client, item.id).count(("RecordUseConsent", "ok")) == 1

    def published() -> list[Envelope]:
        found = envelopes(nats_server.url, "jit.evidence.NL.item_use_consented", item.id)
        return found if found else []

    [event] = eventually(published, timeout=30)
    state = pb.EvidenceItem()
    assert event.type == CONSENTED and event.state.Unpack(state)
    assert [x.purpose for x in state.use_conditions.consents] == ["prosecution of a related fraud case"]
    assert sorted(event.audience) == ["DE", "NL"] and not state.allowed_actions


def test_a_party_that_is_not_the_originating_state_is_refused_and_a_non_party_does_not_see_the_item(
    client: Client, evidence_svc: Any
) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT: NL (the issuer), DE's liaison, Eurojust's analyst and IE (shared with) see
    DE's item but are not its originating state's prosecutor: PERMISSION_DENIED, audited, nothing written.
    FR, no member, gets NOT_FOUND. Bad input is INVALID_ARGUMENT naming the field."""
    r = client.executing(visibility=common_pb2.VISIBILITY_RESTRICTED, shared_with=["IE", "EUROJUST"])
    item = upload(client, "de-liaison", r.id, b"chat log from DE")
    chain, events = custody(client, item.id), consent_events(evidence_svc)
    for user in ("nl-prosecutor", "de-liaison", "eurojust-analyst", "ie-prosecutor"):
        err = client.error(user, "RecordUseConsent", consent(item.id))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, user
    assert client.code_of("fr-prosecutor", "RecordUseConsent", consent(item.id)) == grpc.StatusCode.NOT_FOUND
    for bad, field in ((consent(item.id, "  "), "purpose"), (consent(item.id, "a\nb"), "purpose")):
        err = client.error("de-prosecutor", "RecordUseConsent", bad)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(err)
    err = client.error("de-prosecutor", "RecordUseConsent", consent(item.id, request_id="not-a-uuid"))
    assert "request_id" in field_violations(err)
    assert custody(client, item.id) == chain and consent_events(evidence_svc) == events
    assert audited(client, item.id).count(("RecordUseConsent", "denied")) == 4
    shown = client.call("de-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item
    assert list(shown.use_conditions.consents) == []


def test_an_epoc_items_origin_is_the_issuing_state_which_alone_consents(client: Client) -> None:
    """ITEM_ORIGIN_OF_PROVIDER_DATA: NL's EPOC to a provider in IE, without notification: the provider answers
    NL, whose liaison uploads its data on NL's node; the item arose in NL (not IE, which does not even see the
    order), so NL's prosecutor consents, at upload or later, and IE gets NOT_FOUND. With notification IE sees
    the item and is refused."""
    for procedure, ie_code in (
        (pb.EPOC_PROCEDURE_STANDARD, grpc.StatusCode.NOT_FOUND),
        (pb.EPOC_PROCEDURE_WITH_NOTIFICATION, grpc.StatusCode.PERMISSION_DENIED),
    ):
        r = client.epoc(procedure)
        client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
        client.call("nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
        if procedure == pb.EPOC_PROCEDURE_WITH_NOTIFICATION:
            client.call("ie-prosecutor", "OpenReview", pb.OpenReviewRequest(id=r.id))
            client.call("ie-prosecutor", "ConcludeReview", pb.ConcludeReviewRequest(id=r.id))  # in execution
        else:
            client.call("nl-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id))
        item = upload(client, "nl-liaison", r.id, f"provider export {procedure}".encode())
        assert item.origin_jurisdiction == "NL"
        assert client.code_of("ie-prosecutor", "RecordUseConsent", consent(item.id)) == ie_code
        got = client.call("nl-prosecutor", "RecordUseConsent", consent(item.id, "trial for extortion in NL")).item
        assert [(c.granted_by_jurisdiction, c.purpose) for c in got.use_conditions.consents] == [
            ("NL", "trial for extortion in NL")
        ]
    # NL consents at upload too: it is the originating state.
    nl = pb.UseConsent(purpose="a related case in NL", granted_by_jurisdiction="NL")
    item = upload(client, "nl-prosecutor", r.id, b"second export", use_conditions=pb.UseConditions(consents=[nl]))
    assert [c.granted_by_jurisdiction for c in item.use_conditions.consents] == ["NL"]


def test_consents_recorded_at_once_all_stand_each_once(client: Client) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT under concurrency: DE's prosecutor records five consents at once (a client
    retrying each, with its request_id, when the chain was busy) while the item is read: every consent stands,
    once, none overwritten by another written from an older read of the item."""
    import threading

    r = client.executing()
    item = upload(client, "nl-liaison", r.id, b"records DE sent, consented five times")
    asks = [consent(item.id, f"use number {n}") for n in range(5)]
    errors: list[BaseException] = []

    def record(ask: Any) -> None:
        for _ in range(10):
            try:
                client.call("de-prosecutor", "RecordUseConsent", ask)
                return
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.ABORTED:
                    errors.append(err)
                    return
        errors.append(AssertionError("still busy"))

    def read() -> None:
        for _ in range(5):
            client.call("nl-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id))

    threads = [threading.Thread(target=record, args=(a,)) for a in asks] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = client.call("de-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item
    assert sorted(c.purpose for c in got.use_conditions.consents) == [f"use number {n}" for n in range(5)]
    assert [a for a, _, _ in custody(client, item.id)].count("CONSENT_RECORDED") == 5
