"""Removal requests on a federation (issue 18): NL's node owns the request; the members' nodes (DE, IE) hold
it as a replica, as preservation orders replicate, with each answer NL records; a change asked on a member's
node goes to the owner's (OWNED_ELSEWHERE)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from jit.preservation.v1 import removal_pb2 as pb
from jit.preservation.v1 import removal_pb2_grpc
from tests.harness import error_reason, eventually, md, rid

pytestmark = pytest.mark.integration
WS = "jit-demo"


def _stub(channels: dict[tuple[str, str], grpc.Channel], country: str) -> removal_pb2_grpc.RemovalServiceStub:
    return removal_pb2_grpc.RemovalServiceStub(channels[(country, "preservation")])


def test_a_removal_request_reaches_the_members_nodes_with_each_answer(
    channels: dict[tuple[str, str], grpc.Channel], country_tokens: Any
) -> None:
    nl = md(country_tokens("nl-liaison"))
    created = (
        _stub(channels, "NL")
        .CreateRemoval(
            pb.CreateRemovalRequest(
                request_id=rid(),
                workspace_id=WS,
                basis=pb.REMOVAL_BASIS_DSA_ART9_ORDER,
                provider_id="socialnet-ie",
                items=[pb.ContentItem(url="https://socialnet.example/fed/1")],
                proceed_without_preservation_reason="federation test",
            ),
            metadata=nl,
            timeout=15,
        )
        .removal
    )

    def seen_on(country: str, user: str, state: int) -> pb.RemovalRequest | None:
        try:
            got = (
                _stub(channels, country)
                .GetRemoval(pb.GetRemovalRequest(id=created.id), metadata=md(country_tokens(user)), timeout=15)
                .removal
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return got if got.state == state else None

    replica = eventually(lambda: seen_on("DE", "de-liaison", pb.REMOVAL_REQUEST_STATE_SENT), timeout=60)
    assert replica.replica.owner_node == "NL" and replica.due_at == created.due_at
    assert replica.items[0].url == "https://socialnet.example/fed/1"
    eventually(lambda: seen_on("IE", "ie-liaison", pb.REMOVAL_REQUEST_STATE_SENT), timeout=60)
    _stub(channels, "NL").RecordRemoved(pb.RecordRemovedRequest(id=created.id), metadata=nl, timeout=15)
    removed = eventually(lambda: seen_on("DE", "de-liaison", pb.REMOVAL_REQUEST_STATE_REMOVED), timeout=60)
    assert removed.HasField("removed_at") and removed.version == 2
    with pytest.raises(grpc.RpcError) as info:
        _stub(channels, "DE").AcknowledgeRemoval(
            pb.AcknowledgeRemovalRequest(id=created.id), metadata=md(country_tokens("de-liaison")), timeout=15
        )
    assert info.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION)
    assert info.value.code() != grpc.StatusCode.FAILED_PRECONDITION or error_reason(info.value) == "OWNED_ELSEWHERE"
