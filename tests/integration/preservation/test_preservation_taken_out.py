"""A preservation order whose issuing state was taken out of the JIT, through the real preservation service
(on SQLite and on PostgreSQL), real Keycloak tokens and a NATS of this module's own: once the directory event
of the amendment (`jit admin workspace remove-member`) reaches the service, the order says so to the remaining
members, in a read and in a list (``issuer_taken_out``, derived when read: rule ORDER_ISSUER_TAKEN_OUT), and
stops saying so when the state is a member again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jit.common.v1 import common_pb2
from jit.preservation.v1 import preservation_pb2 as pb
from jit.preservation.v1 import preservation_pb2_grpc
from jitdev.nats import NatsInstance
from tests.conftest import amend_membership, wait_for_workspace
from tests.harness import RunningService, md, rid

pytestmark = pytest.mark.integration
WS = "jit-demo"


@pytest.fixture(scope="module")
def preservation_here(
    db_url: str, keycloak: Any, own_nats: NatsInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """The preservation service on the module's backend and on the module's own NATS, where DE may be taken
    out of the demo workspace for no other module."""
    from jitlib.clock import OffsetClock
    from jitlib.config import CommonSettings
    from services.preservation.app import PreservationSettings, spec
    from tests.harness import start_service

    common = CommonSettings(
        nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path_factory.mktemp("order-out")
    )
    settings = PreservationSettings(
        listen="127.0.0.1:0", database_url=db_url, consumer_group=f"out-{uuid.uuid4().hex[:8]}"
    )
    svc = start_service(spec(), settings, common, clock=OffsetClock())
    wait_for_workspace(svc, WS)
    yield svc
    svc.stop()


def test_an_order_says_its_issuer_was_taken_out_of_the_jit(
    preservation_here: RunningService, own_nats: NatsInstance, tokens: Any
) -> None:
    """DE's liaison issues an order shared with the workspace: NL reads it, and lists it, without the flag. DE
    is taken out: NL's read and list say ``issuer_taken_out``; IE's too; NL's own order does not. DE a member
    again: the flag is gone (it was never stored)."""
    stub = preservation_pb2_grpc.PreservationServiceStub(preservation_here.channel)

    def call(user: str, method: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=md(tokens(user)), timeout=15)

    def create(user: str) -> pb.PreservationOrder:
        order = call(
            user,
            "CreateOrder",
            pb.CreateOrderRequest(
                request_id=rid(),
                workspace_id=WS,
                legal_basis=pb.LEGAL_BASIS_EPOC_PR,
                provider_id="socialnet-ie",
                targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_URL, value="https://socialnet.example/p/7")],
                data_categories=[pb.DATA_CATEGORY_TRAFFIC],
                visibility=common_pb2.VISIBILITY_WORKSPACE,
            ),
        ).order
        return call(user, "IssueOrder", pb.IssueOrderRequest(id=order.id, expected_version=order.version)).order

    def seen(user: str, order_id: str) -> tuple[bool, bool]:
        """(the flag in a read, the flag in a list) of ``order_id`` as ``user`` gets it."""
        read = call(user, "GetOrder", pb.GetOrderRequest(id=order_id)).order
        listed = call(user, "ListOrders", pb.ListOrdersRequest(workspace_id=WS, page_size=200)).orders
        return read.issuer_taken_out, next(o for o in listed if o.id == order_id).issuer_taken_out

    if "DE" in preservation_here.rt.workspaces.get(WS).former_members:  # type: ignore[union-attr]
        amend_membership(preservation_here, own_nats.url, WS, "DE", taken_out=False)
    de_order, nl_order = create("de-liaison"), create("nl-liaison")
    assert not de_order.issuer_taken_out
    assert seen("nl-prosecutor", de_order.id) == (False, False)

    amend_membership(preservation_here, own_nats.url, WS, "DE", taken_out=True)
    try:
        assert seen("nl-prosecutor", de_order.id) == (True, True)
        assert seen("ie-liaison", de_order.id) == (True, True)
        assert seen("nl-prosecutor", nl_order.id) == (False, False)
    finally:
        amend_membership(preservation_here, own_nats.url, WS, "DE", taken_out=False)
    assert seen("nl-prosecutor", de_order.id) == (False, False)
