"""Evidence across nodes: an EIO from NL executed by DE. DE's liaison acts on NL's request from DE's own
node (forwarded to NL); the evidence DE receives stays on DE's node, bytes and chain of custody; NL's node
holds the item's metadata and digest and fetches the content through DE with the user's token; DE's chain
lists that download. IE, not a party, holds nothing of it."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from jit.evidence.v1 import evidence_pb2_grpc
from jitdev.nodes import LocalFederation
from tests.federation.test_residency import _files_containing
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration


class Evidence:
    def __init__(self, federation: LocalFederation, tokens: Any) -> None:
        self._channels = {c: grpc.insecure_channel(n.address("evidence")) for c, n in federation.nodes.items()}
        self.tokens = tokens

    def on(self, country: str) -> evidence_pb2_grpc.EvidenceServiceStub:
        return evidence_pb2_grpc.EvidenceServiceStub(self._channels[country])

    def call(self, country: str, user: str, method: str, request: Any) -> Any:
        return getattr(self.on(country), method)(request, metadata=md(self.tokens(user)), timeout=30)

    def found(self, country: str, user: str, method: str, request: Any) -> Any:
        try:
            return self.call(country, user, method, request)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def download(self, country: str, user: str, item_id: str, purpose: str) -> tuple[pb.EvidenceItem, bytes]:
        item, out = None, bytearray()
        stream = self.on(country).DownloadItem(
            pb.DownloadItemRequest(item_id=item_id, purpose=purpose), metadata=md(self.tokens(user)), timeout=60
        )
        for msg in stream:
            if msg.WhichOneof("part") == "item":
                item = msg.item
            else:
                out += msg.chunk
        assert item is not None
        return item, bytes(out)


def _upload(request_id: str, data: bytes, description: str) -> Iterator[pb.UploadItemRequest]:
    yield pb.UploadItemRequest(
        metadata=pb.ItemMetadata(
            request_id=rid(),
            evidence_request_id=request_id,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            media_type="image/jpeg",
            filename="screenshots.jpg",
            description=description,
        )
    )
    for i in range(0, len(data), 1 << 20):
        yield pb.UploadItemRequest(chunk=data[i : i + (1 << 20)])


@pytest.fixture(scope="module")
def evidence(federation: LocalFederation, country_tokens: Any) -> Evidence:
    return Evidence(federation, country_tokens)


def test_evidence_received_by_de_stays_on_des_node_and_nl_fetches_it_through_de(
    evidence: Evidence, federation: LocalFederation
) -> None:
    title = f"EIO NL to DE, account holder data {uuid.uuid4().hex[:6]}"
    req = evidence.call(
        "NL",
        "nl-prosecutor",
        "CreateRequest",
        pb.CreateRequestRequest(
            request_id=rid(),
            workspace_id="jit-demo",
            legal_basis=pb.LEGAL_BASIS_EIO,
            issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
            addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
            addressee_jurisdiction="DE",
            data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
            targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
            offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
            urgency=pb.URGENCY_NORMAL,
            title=title,
        ),
    ).request
    evidence.call("NL", "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=req.id))
    eventually(
        lambda: (
            (r := evidence.found("DE", "de-liaison", "GetRequest", pb.GetRequestRequest(id=req.id)))
            and r.request.state == pb.EVIDENCE_REQUEST_STATE_ISSUED
        ),
        timeout=30,
    )
    # DE acts on NL's request from its own node: forwarded to NL.
    evidence.call("DE", "de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=req.id))
    executing = evidence.call("DE", "de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=req.id))
    assert executing.request.state == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
    eventually(
        lambda: (
            evidence.call("DE", "de-liaison", "GetRequest", pb.GetRequestRequest(id=req.id)).request.state
            == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
        ),
        timeout=30,
    )

    # DE receives the evidence on its own node: the item is DE's record, its bytes stay on DE's node.
    marker = f"DE-only bytes {uuid.uuid4().hex}".encode()
    data = marker + os.urandom(2 * (1 << 20))
    item = (
        evidence.on("DE")
        .UploadItem(
            _upload(req.id, data, "Subscriber records from the ISP"),
            metadata=md(evidence.tokens("de-liaison")),
            timeout=60,
        )
        .item
    )
    assert item.received_by.jurisdiction == "DE"

    # NL's node holds the item's metadata and digest ...
    def nl_lists_it() -> Any:
        items = evidence.call("NL", "nl-prosecutor", "ListItems", pb.ListItemsRequest(evidence_request_id=req.id))
        return next((i for i in items.items if i.id == item.id), None)

    listed = eventually(nl_lists_it, timeout=30)
    assert listed.sha256 == hashlib.sha256(data).hexdigest() and listed.size_bytes == len(data)
    # ... and fetches the content through DE's node, with the NL user's token.
    got, body = evidence.download("NL", "nl-prosecutor", item.id, "prepare the indictment")
    assert body == data and got.id == item.id
    # DE's chain of custody lists that download, by the NL prosecutor, with its purpose (asked on NL's
    # node: the question goes to DE, which keeps the chain).
    for country, user in (("DE", "de-liaison"), ("NL", "nl-prosecutor")):
        entries = evidence.call(country, user, "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
        assert [(e.action, e.actor.username) for e in entries] == [
            (pb.CUSTODY_ACTION_RECEIVED, "de-liaison"),
            (pb.CUSTODY_ACTION_DOWNLOADED, "nl-prosecutor"),
        ], country
        assert entries[-1].purpose == "prepare the indictment"

    # The bytes are on DE's node only (encrypted there, so the search looks for the metadata too).
    assert _files_containing(federation.nats.node_dir("IE"), title.encode()) == []
    assert _files_containing(federation.nats.node_dir("IE"), b"Subscriber records from the ISP") == []
    assert evidence.found("IE", "ie-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)) is None
    # NL holds no blob of it.
    nl_blobs = federation.nats.node_dir("NL") / "evidence-blobs"
    assert not nl_blobs.exists() or not any(p.is_file() and p.stat().st_size >= len(data) for p in nl_blobs.rglob("*"))


def test_a_request_linked_to_an_order_shows_the_order_on_the_addressees_node(
    evidence: Evidence, federation: LocalFederation, country_tokens: Any
) -> None:
    """DE reads NL's EIO with the preservation order it is linked to (shared with DE): the order's state
    reaches DE's node too, as NL's node shows it."""
    from jit.preservation.v1 import preservation_pb2 as pres
    from jit.preservation.v1 import preservation_pb2_grpc

    orders = preservation_pb2_grpc.PreservationServiceStub(
        grpc.insecure_channel(federation.nodes["NL"].address("preservation"))
    )
    order = orders.CreateOrder(
        pres.CreateOrderRequest(
            request_id=rid(),
            workspace_id="jit-demo",
            legal_basis=pres.LEGAL_BASIS_PROVIDER_VOLUNTARY,
            provider_id="socialnet-ie",
            targets=[pres.TargetIdentifier(kind=pres.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
            data_categories=[pres.DATA_CATEGORY_SUBSCRIBER],
            description="Preserve before the EIO is executed",
            shared_with=["DE"],
        ),
        metadata=md(country_tokens("nl-liaison")),
        timeout=15,
    ).order
    create = pb.CreateRequestRequest(
        request_id=rid(),
        workspace_id="jit-demo",
        legal_basis=pb.LEGAL_BASIS_EIO,
        issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
        addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction="DE",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
        targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
        offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
        urgency=pb.URGENCY_NORMAL,
        title="EIO linked to a preservation order",
        preservation_order_id=order.id,
    )

    def created() -> Any:
        try:
            return evidence.call("NL", "nl-prosecutor", "CreateRequest", create).request
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.FAILED_PRECONDITION:  # the order has not reached evidence yet
                return None
            raise

    req = eventually(created, timeout=30, interval=0.5)

    def de_shows_the_order() -> Any:
        found = evidence.found("DE", "de-prosecutor", "GetRequest", pb.GetRequestRequest(id=req.id))
        return found is not None and found.request.linked_order.id == order.id and found.request.linked_order

    shown = eventually(de_shows_the_order, timeout=30)
    on_nl = evidence.call("NL", "nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=req.id)).request
    assert shown.state_name == on_nl.linked_order.state_name != ""


def _order(federation: LocalFederation, tokens: Any, **over: Any) -> Any:
    from jit.preservation.v1 import preservation_pb2 as pres
    from jit.preservation.v1 import preservation_pb2_grpc

    orders = preservation_pb2_grpc.PreservationServiceStub(
        grpc.insecure_channel(federation.nodes["NL"].address("preservation"))
    )
    fields: dict[str, Any] = dict(
        request_id=rid(),
        workspace_id="jit-demo",
        legal_basis=pres.LEGAL_BASIS_PROVIDER_VOLUNTARY,
        provider_id="videohost-de",
        targets=[pres.TargetIdentifier(kind=pres.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
        data_categories=[pres.DATA_CATEGORY_SUBSCRIBER],
        description="Preserve before the EIO is executed",
    )
    fields.update(over)
    meta = md(tokens("nl-liaison"))
    order = orders.CreateOrder(pres.CreateOrderRequest(**fields), metadata=meta, timeout=15).order
    orders.IssueOrder(pres.IssueOrderRequest(id=order.id), metadata=meta, timeout=15)
    return orders, order


def _linked_eio(evidence: Evidence, order_id: str, visibility: int) -> Any:
    """NL's EIO to DE linked to ``order_id`` (once NL's evidence service holds the order), issued."""
    create = pb.CreateRequestRequest(
        request_id=rid(),
        workspace_id="jit-demo",
        legal_basis=pb.LEGAL_BASIS_EIO,
        issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
        addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction="DE",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
        targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
        offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
        urgency=pb.URGENCY_NORMAL,
        title="EIO linked to a preservation order",
        preservation_order_id=order_id,
        visibility=visibility,
    )

    def created() -> Any:
        try:
            return evidence.call("NL", "nl-prosecutor", "CreateRequest", create).request
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.FAILED_PRECONDITION:  # the order has not reached evidence yet
                return None
            raise

    req = eventually(created, timeout=30, interval=0.5)
    return evidence.call("NL", "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=req.id)).request


def test_a_linked_records_id_never_reaches_a_node_not_entitled_to_that_record(
    evidence: Evidence, federation: LocalFederation, country_tokens: Any
) -> None:
    """Security review, ids of records the reader may not see. (a) NL's EIO to DE, open to the workspace,
    linked to NL's order shared with DE only: IE's node holds the request, not the order's id (its copies of
    the request's events leave it out), while DE's node shows the link and NL's preservation service moves
    the order. (b) NL's order open to the workspace, and a restricted EIO NL -> DE that follows it: IE's node
    holds the order in PRODUCTION_REQUESTED, not the request's id."""
    from jit.common.v1 import common_pb2
    from jit.preservation.v1 import preservation_pb2 as pres
    from jit.preservation.v1 import preservation_pb2_grpc

    ie_folder = federation.nats.node_dir("IE")
    orders, restricted = _order(federation, country_tokens, shared_with=["DE"])
    open_eio = _linked_eio(evidence, restricted.id, common_pb2.VISIBILITY_WORKSPACE)
    nl = md(country_tokens("nl-liaison"))

    def moved(order_id: str) -> Any:
        got = orders.GetOrder(pres.GetOrderRequest(id=order_id), metadata=nl, timeout=15).order
        return got if got.state == pres.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED else None

    assert eventually(lambda: moved(restricted.id), timeout=60).follow_up_request_id == open_eio.id

    def holds(country: str, user: str, request_id: str) -> Any:
        found = evidence.found(country, user, "GetRequest", pb.GetRequestRequest(id=request_id))
        return found is not None and found.request.state == pb.EVIDENCE_REQUEST_STATE_ISSUED and found.request

    on_de = eventually(lambda: holds("DE", "de-prosecutor", open_eio.id), timeout=60)
    assert on_de.preservation_order_id == restricted.id
    assert not eventually(lambda: holds("IE", "ie-prosecutor", open_eio.id), timeout=60).preservation_order_id

    open_order = _order(federation, country_tokens, visibility=common_pb2.VISIBILITY_WORKSPACE)[1]
    closed_eio = _linked_eio(evidence, open_order.id, common_pb2.VISIBILITY_RESTRICTED)
    eventually(lambda: moved(open_order.id), timeout=60)
    ie = md(country_tokens("ie-liaison"))
    ie_orders = preservation_pb2_grpc.PreservationServiceStub(
        grpc.insecure_channel(federation.nodes["IE"].address("preservation"))
    )

    def ie_holds_it_moved() -> Any:
        try:
            got = ie_orders.GetOrder(pres.GetOrderRequest(id=open_order.id), metadata=ie, timeout=15).order
        except grpc.RpcError:
            return None
        return got if got.state == pres.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED else None

    assert not eventually(ie_holds_it_moved, timeout=60).follow_up_request_id
    # Everything NL sent IE up to those events has arrived (one ordered stream per recipient).
    assert _files_containing(ie_folder, open_eio.id.encode())  # the search finds what is there
    assert _files_containing(ie_folder, open_order.id.encode())
    assert _files_containing(ie_folder, restricted.id.encode()) == []
    assert _files_containing(ie_folder, closed_eio.id.encode()) == []


def test_a_sensitive_item_on_des_node_is_opened_and_exported_with_four_eyes_from_nls_node(
    evidence: Evidence,
) -> None:
    """SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE, SENSITIVE_ITEM_EXPORT_FOUR_EYES across nodes: DE receives an image
    as sensitive on its node; NL's node lists it as sensitive; NL's prosecutor opens it from NL's node (the
    download goes to DE, which records it); NL's liaison asks to export it, NL's prosecutor approves and the
    liaison records the export, each from NL's node and decided by DE's node, which keeps the chain."""
    req = evidence.call(
        "NL", "nl-prosecutor", "CreateRequest",
        pb.CreateRequestRequest(
            request_id=rid(), workspace_id="jit-demo", legal_basis=pb.LEGAL_BASIS_EIO,
            issuing_authority="Openbaar Ministerie, Amsterdam", addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
            addressee_jurisdiction="DE", data_categories=[pb.DATA_CATEGORY_CONTENT],
            targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@rev3ng3_pics")],
            offence_category=pb.OFFENCE_CATEGORY_NON_CONSENSUAL_INTIMATE_IMAGES, urgency=pb.URGENCY_NORMAL,
            title=f"Images of V-NL-0007 {uuid.uuid4().hex[:6]}",
        ),
    ).request  # fmt: skip
    evidence.call("NL", "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=req.id))
    eventually(lambda: evidence.found("DE", "de-liaison", "GetRequest", pb.GetRequestRequest(id=req.id)), timeout=30)
    evidence.call("DE", "de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=req.id))
    evidence.call("DE", "de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=req.id))
    eventually(
        lambda: (
            evidence.call("DE", "de-liaison", "GetRequest", pb.GetRequestRequest(id=req.id)).request.state
            == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
        ),
        timeout=30,
    )
    image = b"\xff\xd8\xff\xe0 an intimate image " + os.urandom(1000)
    parts = list(_upload(req.id, image, "image of V-NL-0007"))
    parts[0].metadata.sensitive = True
    item = evidence.on("DE").UploadItem(iter(parts), metadata=md(evidence.tokens("de-liaison")), timeout=60).item
    assert item.sensitive

    def nl_lists_it() -> Any:
        items = evidence.call("NL", "nl-liaison", "ListItems", pb.ListItemsRequest(evidence_request_id=req.id))
        return next((i for i in items.items if i.id == item.id), None)

    listed = eventually(nl_lists_it, timeout=30)
    assert listed.sensitive and "download" in listed.allowed_actions
    assert evidence.download("NL", "nl-prosecutor", item.id, "identify the account")[1] == image

    court = "Rechtbank Amsterdam"
    asked = evidence.call(
        "NL", "nl-liaison", "RequestExport",
        pb.RequestExportRequest(
            request_id=rid(), item_id=item.id, purpose="hand to the trial court", destination=court
        ),
    ).entry  # fmt: skip
    own = pb.ApproveExportRequest(item_id=item.id, export_request_seq=asked.seq)
    with pytest.raises(grpc.RpcError) as info:
        evidence.call("NL", "nl-liaison", "ApproveExport", own)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    evidence.call("NL", "nl-prosecutor", "ApproveExport", own)
    evidence.call(
        "NL", "nl-liaison", "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(request_id=rid(),
            item_id=item.id, action=pb.CUSTODY_ACTION_EXPORTED, purpose="court file", recipient=court
        ),
    )  # fmt: skip
    entries = evidence.call("DE", "de-liaison", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
    assert [(pb.CustodyAction.Name(e.action).removeprefix("CUSTODY_ACTION_"), e.actor.username) for e in entries] == [
        ("RECEIVED", "de-liaison"),
        ("DOWNLOADED", "nl-prosecutor"),
        ("EXPORT_REQUESTED", "nl-liaison"),
        ("EXPORT_APPROVED", "nl-prosecutor"),
        ("EXPORTED", "nl-liaison"),
    ]


def test_an_objection_restricts_the_item_held_on_the_enforcing_states_node_in_that_nodes_chain(
    evidence: Evidence,
) -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 10(4)) across nodes: NL's emergency EPOC to a
    provider established in IE, IE notified. IE's liaison receives the provider's data on IE's node, which
    holds its bytes and chain of custody; IE's prosecutor objects from IE's node within the 96 hours (the
    change goes to NL, which owns the request). IE's node, taking in NL's change, writes the RESTRICTED
    entry in the chain it keeps, once, by the system, and tells NL's node: the item is restricted on both
    nodes and its chain, read on either, says who objected."""
    req = evidence.call(
        "NL", "nl-prosecutor", "CreateRequest",
        pb.CreateRequestRequest(
            request_id=rid(), workspace_id="jit-demo", legal_basis=pb.LEGAL_BASIS_EPOC,
            epoc_procedure=pb.EPOC_PROCEDURE_EMERGENCY_WITH_NOTIFICATION,
            issuing_authority="Openbaar Ministerie, Amsterdam", addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
            addressee_jurisdiction="IE", provider_name="SocialNet Ireland Ltd",
            data_categories=[pb.DATA_CATEGORY_CONTENT],
            targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@doxx_her")],
            offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING, urgency=pb.URGENCY_UNSPECIFIED,
            title=f"Emergency EPOC, threats to V-NL-0007 {uuid.uuid4().hex[:6]}",
        ),
    ).request  # fmt: skip
    for method, msg in (
        ("IssueRequest", pb.IssueRequestRequest(id=req.id)),
        ("AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=req.id)),
        ("StartExecution", pb.StartExecutionRequest(id=req.id)),
    ):
        evidence.call("NL", "nl-prosecutor", method, msg)
    eventually(
        lambda: (
            (r := evidence.found("IE", "ie-liaison", "GetRequest", pb.GetRequestRequest(id=req.id)))
            and r.request.state == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
        ),
        timeout=30,
    )
    data = b"messages exported by the provider " + os.urandom(1000)
    item = (
        evidence.on("IE")
        .UploadItem(
            _upload(req.id, data, "the account's messages"), metadata=md(evidence.tokens("ie-liaison")), timeout=60
        )
        .item
    )
    assert item.received_by.jurisdiction == "IE" and not item.restricted

    refused = evidence.call(
        "IE", "ie-prosecutor", "RefuseRequest",
        pb.RefuseRequestRequest(id=req.id, ground=pb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE, detail="a journalist's"),
    ).request  # fmt: skip
    assert refused.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and refused.HasField("items_restricted_at")

    def chain(country: str, user: str) -> Any:
        entries = evidence.call(country, user, "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
        return entries if len(entries) > 1 else None

    for country, user in (("IE", "ie-liaison"), ("NL", "nl-prosecutor")):
        entries = eventually(lambda c=country, u=user: chain(c, u), timeout=30)
        assert [(e.action, e.actor.username) for e in entries] == [
            (pb.CUSTODY_ACTION_RECEIVED, "ie-liaison"),
            (pb.CUSTODY_ACTION_RESTRICTED, "jit-system"),
        ], country
        assert "IE objected (IMMUNITY_OR_PRIVILEGE)" in entries[1].purpose and "Art. 10(4)" in entries[1].purpose

    def restricted_on_nl() -> Any:
        items = evidence.call("NL", "nl-prosecutor", "ListItems", pb.ListItemsRequest(evidence_request_id=req.id))
        return next((i for i in items.items if i.id == item.id and i.restricted), None)

    assert eventually(restricted_on_nl, timeout=30).sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(grpc.RpcError) as info:
        evidence.download("NL", "nl-prosecutor", item.id, "prepare the indictment")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_des_consent_to_other_use_recorded_from_des_node_reaches_every_copy_of_nls_item(evidence: Evidence) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT across nodes: NL's liaison received on NL's node what DE's execution of NL's
    EIO produced (the item arose in DE, its bytes and chain on NL's node). Weeks later DE's prosecutor records
    DE's consent from DE's own node: forwarded to NL, which holds the chain and decides again; the consent
    reaches DE's copy of the item through NL's event. NL's prosecutor is refused on either node."""
    req = evidence.call(
        "NL",
        "nl-prosecutor",
        "CreateRequest",
        pb.CreateRequestRequest(
            request_id=rid(),
            workspace_id="jit-demo",
            legal_basis=pb.LEGAL_BASIS_EIO,
            issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
            addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
            addressee_jurisdiction="DE",
            data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
            targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
            offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
            urgency=pb.URGENCY_NORMAL,
            title="EIO NL to DE, subscriber data",
        ),
    ).request
    evidence.call("NL", "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=req.id))
    eventually(lambda: evidence.found("DE", "de-liaison", "GetRequest", pb.GetRequestRequest(id=req.id)), timeout=30)
    evidence.call("DE", "de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=req.id))
    evidence.call("DE", "de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=req.id))
    item = (
        evidence.on("NL")
        .UploadItem(_upload(req.id, b"records DE sent", "from DE"), metadata=md(evidence.tokens("nl-liaison")))
        .item
    )
    assert item.origin_jurisdiction == "DE" and item.received_by.jurisdiction == "NL"

    def de_copy() -> Any:
        items = evidence.call("DE", "de-prosecutor", "ListItems", pb.ListItemsRequest(evidence_request_id=req.id))
        return next((i for i in items.items if i.id == item.id), None)

    eventually(de_copy, timeout=30)
    ask = pb.RecordUseConsentRequest(request_id=rid(), item_id=item.id, purpose="a fraud case in NL", reference="1")
    got = evidence.call("DE", "de-prosecutor", "RecordUseConsent", ask).item
    assert [(c.granted_by_jurisdiction, c.purpose) for c in got.use_conditions.consents] == [
        ("DE", "a fraud case in NL")
    ]
    for country in ("NL", "DE"):
        with pytest.raises(grpc.RpcError) as info:
            evidence.call(country, "nl-prosecutor", "RecordUseConsent", ask)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, country
    copy = eventually(lambda: (c := de_copy()) is not None and c.use_conditions.consents and c, timeout=30)
    assert [c.granted_by_jurisdiction for c in copy.use_conditions.consents] == ["DE"]
    # The retry, sent to DE's node again, is answered by NL's (the key is kept with the chain): once.
    again = evidence.call("DE", "de-prosecutor", "RecordUseConsent", ask).item
    assert len(again.use_conditions.consents) == 1
    entries = evidence.call("NL", "nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
    assert [e.action for e in entries].count(pb.CUSTODY_ACTION_CONSENT_RECORDED) == 1
