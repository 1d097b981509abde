"""ListRequests pages by keyset (the last id of a page, in its token), on each backend."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from tests.integration.evidence.conftest import WS, Client

pytestmark = pytest.mark.integration


def test_pages_give_each_request_once_in_creation_order_with_one_created_between_pages(client: Client) -> None:
    created = [client.create(title=f"paged {i}").id for i in range(3)]
    request = pb.ListRequestsRequest(workspace_id=WS, page_size=2)
    seen: list[str] = []
    later = ""
    while True:
        page = client.call("nl-prosecutor", "ListRequests", request)
        seen += [r.id for r in page.requests]
        if not later:
            later = client.create(title="created between pages").id
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(created) <= set(seen) and seen[-1] == later


@pytest.mark.parametrize(
    "change",
    [{"states": [pb.EVIDENCE_REQUEST_STATE_ISSUED]}, {"legal_basis": pb.LEGAL_BASIS_MLA}, {"workspace_id": ""}],
)
def test_a_token_is_refused_once_the_filters_change(client: Client, change: dict[str, Any]) -> None:
    for _ in range(2):
        client.create()
    page = client.call("nl-prosecutor", "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=1))
    changed = pb.ListRequestsRequest(**{"workspace_id": WS, "page_size": 1, **change})
    changed.page_token = page.next_page_token
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "ListRequests", changed)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
