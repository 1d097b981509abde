"""A country added to a workspace gets, on its own node, the evidence requests, evidence items, preservation
orders and removal requests made before it joined that it may see (``jitlib.joining``): each from the node
that owns it, an item from the node that received it (DE, executing NL's request), not the request's."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as epb
from jit.preservation.v1 import preservation_pb2 as ppb
from jit.preservation.v1 import preservation_pb2_grpc, removal_pb2, removal_pb2_grpc
from jitdev.nodes import LocalFederation
from tests.federation.test_evidence import Evidence, _upload
from tests.federation.test_joining import Workspace
from tests.federation.test_residency import _files_containing
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration

#: How long the owners' nodes have to send what they own to IE's (the joins job is woken by the
#: announcement; its period is 30 s).
SENT_WITHIN = 60


@dataclass(frozen=True)
class Before:
    """What NL and DE made in the workspace before IE joined it."""

    ws: str
    open_request: epb.EvidenceRequest
    open_item: epb.EvidenceItem
    restricted_request: epb.EvidenceRequest
    restricted_item: epb.EvidenceItem
    open_order: ppb.PreservationOrder
    restricted_order: ppb.PreservationOrder
    removal: removal_pb2.RemovalRequest


def _orders(federation: LocalFederation, country: str) -> preservation_pb2_grpc.PreservationServiceStub:
    return preservation_pb2_grpc.PreservationServiceStub(
        grpc.insecure_channel(federation.nodes[country].address("preservation"))
    )


def _removals(federation: LocalFederation, country: str) -> removal_pb2_grpc.RemovalServiceStub:
    return removal_pb2_grpc.RemovalServiceStub(grpc.insecure_channel(federation.nodes[country].address("preservation")))


def _executed_by_de(evidence: Evidence, ws: str, title: str, visibility: common_pb2.Visibility) -> tuple[Any, Any]:
    """NL's EIO to DE, issued, in execution on DE's side, with an item DE received on its own node: the
    request as NL holds it then, and the item."""
    create = epb.CreateRequestRequest(
        request_id=rid(), workspace_id=ws, legal_basis=epb.LEGAL_BASIS_EIO,
        issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
        addressee_kind=epb.ADDRESSEE_KIND_MEMBER_STATE, addressee_jurisdiction="DE",
        data_categories=[epb.DATA_CATEGORY_SUBSCRIBER],
        targets=[epb.TargetIdentifier(type=epb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
        offence_category=epb.OFFENCE_CATEGORY_CYBERSTALKING, urgency=epb.URGENCY_NORMAL, title=title,
        visibility=visibility,
    )  # fmt: skip
    req = evidence.call("NL", "nl-prosecutor", "CreateRequest", create).request
    evidence.call("NL", "nl-prosecutor", "IssueRequest", epb.IssueRequestRequest(id=req.id))
    eventually(lambda: evidence.found("DE", "de-liaison", "GetRequest", epb.GetRequestRequest(id=req.id)), timeout=30)
    evidence.call("DE", "de-liaison", "AcknowledgeRequest", epb.AcknowledgeRequestRequest(id=req.id))
    evidence.call("DE", "de-prosecutor", "StartExecution", epb.StartExecutionRequest(id=req.id))
    eventually(
        lambda: (
            evidence.call("DE", "de-liaison", "GetRequest", epb.GetRequestRequest(id=req.id)).request.state
            == epb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
        ),
        timeout=30,
    )
    data = os.urandom(4096)
    item = (
        evidence.on("DE")
        .UploadItem(_upload(req.id, data, f"ISP records for {title}"), metadata=md(evidence.tokens("de-liaison")),
                    timeout=60)
        .item
    )  # fmt: skip
    assert item.received_by.jurisdiction == "DE" and item.sha256 == hashlib.sha256(data).hexdigest()
    now = evidence.call("NL", "nl-prosecutor", "GetRequest", epb.GetRequestRequest(id=req.id)).request
    return now, item


@pytest.fixture(scope="module")
def before(federation: LocalFederation, keycloak: Any, country_tokens: Any) -> Before:
    """A workspace of NL (lead) and DE holding NL's evidence requests (open and NL-DE only) with DE's items,
    NL's preservation orders (open and NL-DE only) and a removal request linked to the restricted order; then
    IE joins it."""
    workspace = Workspace(federation, keycloak, country_tokens, "joinrec")
    workspace.open("Doxxing case", ("nl-prosecutor", "nl-liaison"), ("de-liaison", "de-prosecutor"))
    ws = workspace.id

    evidence = Evidence(federation, country_tokens)
    tag = uuid.uuid4().hex[:6]
    open_request, open_item = _executed_by_de(
        evidence, ws, f"EIO open to the JIT {tag}", common_pb2.VISIBILITY_WORKSPACE
    )
    restricted_request, restricted_item = _executed_by_de(
        evidence, ws, f"EIO NL-DE only {tag}", common_pb2.VISIBILITY_RESTRICTED
    )

    nl = md(country_tokens("nl-liaison"))

    def order(visibility: common_pb2.Visibility) -> ppb.PreservationOrder:
        create = ppb.CreateOrderRequest(
            request_id=rid(), workspace_id=ws, legal_basis=ppb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
            provider_id="socialnet-ie",
            targets=[ppb.TargetIdentifier(kind=ppb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
            data_categories=[ppb.DATA_CATEGORY_SUBSCRIBER], description="Preserve the account's data",
            visibility=visibility, shared_with=[] if visibility == common_pb2.VISIBILITY_WORKSPACE else ["DE"],
        )  # fmt: skip
        created = _orders(federation, "NL").CreateOrder(create, metadata=nl, timeout=15).order
        # Changed once before IE joins: what IE's node gets is the version NL holds now.
        return _orders(federation, "NL").IssueOrder(ppb.IssueOrderRequest(id=created.id), metadata=nl, timeout=15).order

    open_order = order(common_pb2.VISIBILITY_WORKSPACE)
    restricted_order = order(common_pb2.VISIBILITY_RESTRICTED)
    removal = (
        _removals(federation, "NL")
        .CreateRemoval(
            removal_pb2.CreateRemovalRequest(
                request_id=rid(), workspace_id=ws, basis=removal_pb2.REMOVAL_BASIS_DSA_ART9_ORDER,
                provider_id="socialnet-ie", items=[removal_pb2.ContentItem(url=f"https://socialnet.example/{tag}")],
                preservation_order_id=restricted_order.id,
            ),
            metadata=nl,
            timeout=15,
        )
        .removal
    )  # fmt: skip
    assert removal.preservation_order_id == restricted_order.id  # its creator may read the order

    # IE joins the workspace: NL's administrator adds it, IE's puts its users in it on IE's node.
    workspace.add("IE", "ie-liaison", "ie-prosecutor")
    return Before(
        ws, open_request, open_item, restricted_request, restricted_item, open_order, restricted_order, removal
    )


def test_evidence_requests_and_items_made_before_a_country_joined_reach_its_node(
    before: Before, federation: LocalFederation, country_tokens: Any
) -> None:
    evidence = Evidence(federation, country_tokens)
    open_request, restricted_request = before.open_request, before.restricted_request

    # NL's open request reaches IE's node at NL's version, as NL's replica ...
    seen = eventually(
        lambda: evidence.found("IE", "ie-liaison", "GetRequest", epb.GetRequestRequest(id=open_request.id)),
        timeout=SENT_WITHIN,
    ).request
    assert seen.version == open_request.version and seen.replica.owner_node == "NL"
    assert seen.title == open_request.title and seen.state == epb.EVIDENCE_REQUEST_STATE_IN_EXECUTION

    # ... and the item DE received for it, from DE's node (which holds it), not NL's.
    def ie_lists_the_item() -> Any:
        items = evidence.call("IE", "ie-liaison", "ListItems", epb.ListItemsRequest(evidence_request_id=seen.id))
        return next((i for i in items.items if i.id == before.open_item.id), None)

    item = eventually(ie_lists_the_item, timeout=SENT_WITHIN)
    assert item.sha256 == before.open_item.sha256 and item.received_by.jurisdiction == "DE"
    assert item.description == before.open_item.description

    # The NL-DE request and its item never reach IE's node: nothing there names them (searched before IE's
    # users ask for them, which the audit log records) ...
    ie_folder = federation.nats.node_dir("IE")
    assert _files_containing(ie_folder, restricted_request.id.encode()) == []
    assert _files_containing(ie_folder, before.restricted_item.id.encode()) == []
    # ... and they are not found there.
    assert evidence.found("IE", "ie-liaison", "GetRequest", epb.GetRequestRequest(id=restricted_request.id)) is None
    got = evidence.found("IE", "ie-liaison", "GetItem", epb.GetItemRequest(item_id=before.restricted_item.id))
    assert got is None


def test_preservation_orders_and_removals_made_before_a_country_joined_reach_its_node(
    before: Before, federation: LocalFederation, country_tokens: Any
) -> None:
    ie = md(country_tokens("ie-liaison"))

    def found(call: Any, request: Any) -> Any:
        try:
            return call(request, metadata=ie, timeout=15)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    # NL's open order reaches IE's node at NL's version, as NL's replica; the NL-DE one never does.
    orders = _orders(federation, "IE")
    seen = eventually(
        lambda: found(orders.GetOrder, ppb.GetOrderRequest(id=before.open_order.id)), timeout=SENT_WITHIN
    ).order
    assert seen.version == before.open_order.version and seen.replica.owner_node == "NL"
    assert seen.state == ppb.PRESERVATION_ORDER_STATE_ISSUED

    # The removal request (open to every member) reaches it too, without the restricted order's id: nothing
    # on IE's node names that order (searched before IE's user asks for it, which the audit log records).
    removals = _removals(federation, "IE")
    removal = eventually(
        lambda: found(removals.GetRemoval, removal_pb2.GetRemovalRequest(id=before.removal.id)), timeout=SENT_WITHIN
    ).removal
    assert removal.version == before.removal.version and removal.replica.owner_node == "NL"
    assert removal.items[0].url == before.removal.items[0].url and removal.preservation_order_id == ""
    assert _files_containing(federation.nats.node_dir("IE"), before.restricted_order.id.encode()) == []
    assert found(orders.GetOrder, ppb.GetOrderRequest(id=before.restricted_order.id)) is None
