"""Findings of the security review (issue 10) in the evidence service, each shown end to end with real
tokens, NATS and a real database (each module runs on SQLite and on PostgreSQL): links to another party's
preservation order, the linked order shown to callers who may not read it, free text in the chain of
custody, self-declared origins and consents, and blob names that reveal the content's digest."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as pb
from jit.preservation.v1 import preservation_pb2 as ppb
from jitlib.bus import stream_for
from services.evidence import store
from services.evidence.store import RUNTIME, CustodyRow, ItemRow, RequestRow
from tests.conftest import read_stream
from tests.harness import error_reason, eventually, field_violations, rich_status, rid
from tests.integration.evidence.conftest import DAY, WS, Client, new_request, now_utc, publish, ts
from tests.integration.evidence.test_evidence_items import state_of, upload, upload_error
from tests.integration.evidence.test_evidence_requests import _order_event

pytestmark = pytest.mark.integration


def counts(svc: Any) -> tuple[int, int, int, int]:
    """(requests, items, custody entries, outbox rows)."""

    def q(s: Any) -> tuple[int, int, int, int]:
        def count(table: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)

        return count(RequestRow), count(ItemRow), count(CustodyRow), count(RUNTIME.outbox)

    return svc.loop.run(svc.rt.read(q))


def replicate(svc: Any, nats_url: str, **fields: Any) -> ppb.PreservationOrder:
    """Publish a preservation order's event, as the preservation service would, and wait until this
    service's replica holds that version."""
    order = ppb.PreservationOrder(
        id=rid(),
        workspace_id=WS,
        origin_jurisdiction="NL",
        state=ppb.PRESERVATION_ORDER_STATE_CONFIRMED,
        version=3,
        visibility=common_pb2.VISIBILITY_RESTRICTED,
    )
    for name, value in fields.items():
        if name == "expires_at":
            order.expires_at.CopyFrom(value)
        elif name == "shared_with":
            order.shared_with.extend(value)
        else:
            setattr(order, name, value)
    subject, payload, msg_id = _order_event(order, "confirmed")
    publish(nats_url, stream_for("preservation"), subject, payload, msg_id)

    def held() -> Any:
        found = svc.loop.run(svc.rt.read(lambda s: store.get_order(s, order.id)))
        return found if found is not None and found.version == order.version else None

    eventually(held, timeout=30)
    return order


def refusal(err: grpc.RpcError) -> tuple[Any, str, str, str]:
    """What a caller learns from a refusal: code, reason, message and details."""
    status = rich_status(err)
    return err.code(), error_reason(err), status.message, str(status.details)


# -- finding 1: links to another party's preservation order ----------------------------------------


def test_only_the_orders_issuing_side_may_link_a_request_to_it(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """Finding #1 (High): a DE prosecutor linked a request to an NL preservation order and, by issuing it,
    moved the NL order on. Only the order's issuing side, in the same workspace, links to it; an order the
    caller may not see is answered exactly like one that does not exist, and nothing is written."""
    open_order = replicate(evidence_svc, nats_server.url, visibility=common_pb2.VISIBILITY_WORKSPACE)
    hidden = replicate(evidence_svc, nats_server.url)  # restricted, not shared with DE
    shared = replicate(evidence_svc, nats_server.url, shared_with=["DE"])
    elsewhere = replicate(evidence_svc, nats_server.url, workspace_id="other-ws", origin_jurisdiction="DE")
    before = counts(evidence_svc)

    def de_links(order_id: str, user: str = "de-prosecutor") -> grpc.RpcError:
        return client.error(
            user,
            "CreateRequest",
            new_request(
                issuing_authority="Staatsanwaltschaft Berlin",
                addressee_jurisdiction="NL",
                preservation_order_id=order_id,
            ),
        )

    unknown = refusal(de_links(rid()))
    assert unknown[0] == grpc.StatusCode.FAILED_PRECONDITION
    assert unknown[1] == "PRESERVATION_ORDER_NOT_LINKABLE" and "preservation_order_id" in unknown[3]
    # Visible to DE but issued by NL; hidden from DE; shared with DE; of another workspace: one answer.
    for order in (open_order, hidden, shared, elsewhere):
        assert refusal(de_links(order.id)) == unknown
    assert counts(evidence_svc) == before

    # The order's issuing side links, and the link shows.
    r = client.epoc(preservation_order_id=shared.id)
    assert r.preservation_order_id == shared.id
    got = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert got.linked_order.id == shared.id and got.linked_order.version == shared.version


def test_the_linked_order_shows_only_to_callers_who_may_read_it(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """Finding #1 (High): the request view returned the linked order's state and expiry to every reader of
    the request. Now the link (id, state, expiry) shows only to callers the policy lets read the order, in
    every view (get, list, transition) and never in the request's events."""
    expires = now_utc() + 30 * DAY
    order = replicate(evidence_svc, nats_server.url, expires_at=ts(expires))  # NL only
    r = client.create(preservation_order_id=order.id)  # NL -> DE, DE may not read the order

    mine = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert mine.preservation_order_id == order.id and mine.linked_order.expires_at.ToSeconds() == int(
        expires.timestamp()
    )
    theirs = client.call("de-liaison", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert theirs.id == r.id and not theirs.HasField("linked_order") and not theirs.preservation_order_id
    listed = client.call("de-liaison", "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=200))
    mine_listed = [x for x in listed.requests if x.id == r.id]
    assert mine_listed and not mine_listed[0].preservation_order_id
    nl_listed = client.call("nl-prosecutor", "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=200))
    assert [x.preservation_order_id for x in nl_listed.requests if x.id == r.id] == [order.id]

    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    acked = client.call("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id)).request
    assert not acked.HasField("linked_order") and not acked.preservation_order_id

    def events() -> list[Envelope]:
        found = [Envelope.FromString(m.data) for m in read_stream(nats_server.url, "JIT_EVIDENCE", "jit.evidence.NL.*")]
        mine = [e for e in found if e.aggregate_id == r.id]
        return mine if len(mine) == 3 else []

    for env in eventually(events, timeout=30):
        state = pb.EvidenceRequest()
        assert env.state.Unpack(state)
        assert not state.HasField("linked_order")  # the order's state never travels to the request's audience


def test_an_order_naming_another_partys_request_does_not_link_it(
    client: Client, evidence_svc: Any, nats_server: Any
) -> None:
    """Finding #1 (High), the re-linking side: an NL order naming a DE request as its follow-up
    (MarkProductionRequested) made this service link the DE request to the NL order. Only an order of the
    request's own issuing jurisdiction and workspace links it."""
    theirs = client.create(
        "de-prosecutor",
        issuing_authority="Staatsanwaltschaft Berlin",
        addressee_jurisdiction="NL",
    )
    replicate(
        evidence_svc,
        nats_server.url,
        state=ppb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED,
        version=5,
        follow_up_request_id=theirs.id,
    )
    # The consumer takes events in order: once a later, legitimate reverse link is recorded, the first
    # event was handled.
    mine = client.epoc()
    legit = replicate(
        evidence_svc,
        nats_server.url,
        state=ppb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED,
        version=5,
        follow_up_request_id=mine.id,
    )

    def relinked() -> Any:
        got = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=mine.id)).request
        return got if got.preservation_order_id == legit.id else None

    eventually(relinked, timeout=30)
    got = client.call("de-prosecutor", "GetRequest", pb.GetRequestRequest(id=theirs.id)).request
    assert not got.preservation_order_id and got.version == theirs.version
    assert not got.HasField("linked_order")


# -- finding 6 (input side): free text in the chain of custody -------------------------------------

CUSTODY_TEXTS = [
    ("recipient", "Rechtbank \u202eadretsmA"),  # right-to-left override
    ("recipient", "court\u2066 hidden\u2069"),  # isolates
    ("recipient", "court\u200f"),  # right-to-left mark
    ("recipient", "court\u061c"),  # Arabic letter mark
    ("recipient", "court\x9b31m"),  # C1 control (CSI)
    ("recipient", "court\n2026-12-01 system: sealed"),  # a forged second line
    ("recipient", "court\tfile"),
    ("recipient", "x" * 301),
    ("purpose", "court \u202dfile"),
    ("purpose", "court\rfile"),
]


@pytest.mark.parametrize(("field", "text"), CUSTODY_TEXTS)
def test_custody_free_text_refuses_control_and_bidi_characters(
    client: Client, evidence_svc: Any, field: str, text: str
) -> None:
    """Finding #6 (Medium, input side): a custody recipient or purpose carrying bidirectional overrides,
    C1 controls or line breaks was stored in the chain of custody as sent. It is INVALID_ARGUMENT naming
    the field, and nothing is appended."""
    r = client.executing()
    item = upload(client, "de-liaison", r.id, b"chat log " + os.urandom(8))
    before = counts(evidence_svc)
    values = {"purpose": "court file", "recipient": "Rechtbank Amsterdam", field: text}
    err = client.error(
        "nl-prosecutor",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(request_id=rid(), item_id=item.id, action=pb.CUSTODY_ACTION_TRANSFERRED, **values),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(err)
    assert text not in rich_status(err).message
    assert counts(evidence_svc) == before
    ok = client.call(
        "nl-prosecutor",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(),
            item_id=item.id,
            action=pb.CUSTODY_ACTION_TRANSFERRED,
            purpose="court file",
            recipient="Rechtbank Ålesund",
        ),
    ).entry
    assert ok.recipient == "Rechtbank Ålesund"


# -- finding 10: self-declared origin ----------------------------------------------------------------


def test_an_items_origin_is_the_requests_addressee_and_only_it_consents(client: Client, evidence_svc: Any) -> None:
    """Finding #10 (Medium): UploadItem accepted any origin, and consents only had to match it: NL could
    record an item "received from" IE, or from DE with DE's consent to other use. The origin is the
    request's addressee (DE, which executed it); only DE records its consent; anything else is
    INVALID_ARGUMENT naming the field and writes nothing."""
    r = client.executing()  # NL -> DE
    consent = pb.UseConsent(purpose="prosecution of a related case in NL", granted_by_jurisdiction="DE")
    before = state_of(evidence_svc)

    for user, origin in (("nl-prosecutor", "IE"), ("nl-liaison", "NL"), ("de-liaison", "IE")):
        err = upload_error(client, user, r.id, b"minutes", origin_jurisdiction=origin)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "metadata.origin_jurisdiction" in field_violations(err), (user, origin)
    err = upload_error(
        client,
        "nl-liaison",
        r.id,
        b"minutes",
        origin_jurisdiction="DE",
        use_conditions=pb.UseConditions(consents=[consent]),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "metadata.use_conditions.consents" in field_violations(err)
    ie_consent = pb.UseConsent(purpose="prosecution in IE", granted_by_jurisdiction="IE")
    err = upload_error(client, "de-liaison", r.id, b"minutes", use_conditions=pb.UseConditions(consents=[ie_consent]))
    assert "metadata.use_conditions.consents[0].granted_by_jurisdiction" in field_violations(err)
    assert state_of(evidence_svc) == before

    # NL receives DE's evidence: its origin is DE, whatever NL leaves empty or states rightly.
    assert upload(client, "nl-liaison", r.id, b"minutes 1").origin_jurisdiction == "DE"
    assert upload(client, "nl-liaison", r.id, b"minutes 2", origin_jurisdiction="DE").origin_jurisdiction == "DE"
    # DE records its own consent to other use.
    item = upload(client, "de-liaison", r.id, b"minutes 3", use_conditions=pb.UseConditions(consents=[consent]))
    assert item.origin_jurisdiction == "DE"
    assert [c.granted_by_jurisdiction for c in item.use_conditions.consents] == ["DE"]


def test_a_provider_requests_items_come_from_the_issuing_state(client: Client) -> None:
    """Finding #10 and ITEM_ORIGIN_OF_PROVIDER_DATA: for a request to a provider the issuer records what the
    provider produced; the provider answers the issuing authority, so the item arose in the issuing state
    (NL), not the provider's (IE): stating IE, or DE, is refused naming the field."""
    r = client.epoc()
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    client.call("nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
    client.call("nl-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id))
    assert upload(client, "nl-liaison", r.id, b"export").origin_jurisdiction == "NL"
    assert upload(client, "nl-liaison", r.id, b"export 2", origin_jurisdiction="NL").origin_jurisdiction == "NL"
    for declared in ("IE", "DE"):
        err = upload_error(client, "nl-liaison", r.id, b"export", origin_jurisdiction=declared)
        assert "metadata.origin_jurisdiction" in field_violations(err)


# -- finding: blob paths reveal the plaintext digest ------------------------------------------------


def test_blob_file_names_do_not_reveal_the_items_digest(client: Client, evidence_svc: Any) -> None:
    """Security review, Low: blob files were named by the content's SHA-256, so anyone who could list the
    blob folder could test a guess of the content. Their names are now a keyed hash; identical content
    under the same key still shares one blob."""
    r = client.executing()
    data = b"the same screenshot " + os.urandom(16)
    sha = hashlib.sha256(data).hexdigest()
    first = upload(client, "de-liaison", r.id, data)
    second = upload(client, "nl-liaison", r.id, data)
    blob_root = evidence_svc.app.spec.extra["blobs"].root / "blobs"
    names = [str(p.relative_to(blob_root)) for p in blob_root.rglob("*")]
    assert names and not any(sha in n or sha[:16] in n for n in names)

    def keys(s: Any) -> list[str]:
        return list(s.scalars(select(ItemRow.blob_key).where(ItemRow.id.in_([first.id, second.id]))))

    blob_keys = evidence_svc.loop.run(evidence_svc.rt.read(keys))
    assert len(blob_keys) == 2 and len(set(blob_keys)) == 1  # deduplicated
    assert sha not in blob_keys[0]
    verify = client.call("nl-auditor", "VerifyEvidence", pb.VerifyEvidenceRequest())
    assert not [p for p in verify.problems if p.item_id in (first.id, second.id)]
