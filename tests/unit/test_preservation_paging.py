"""The ListOrders page token: a jitlib.paging token bound to ListOrders and its filters, carrying the
compound position (expiry, id) of the last order; a position this service would not write is refused."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from jit.preservation.v1 import preservation_pb2 as pb
from jit.tasks.v1 import tasks_pb2
from jitlib import paging
from jitlib.actors import Actor
from jitlib.errors import InvalidArgument
from services.preservation import domain
from services.preservation.domain import LegalBasis, NewOrder, Target
from services.preservation.mapping import page_token, position_from_token

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ID = "01935c4e-0000-7000-8000-000000000001"
ORDER = domain.create(
    NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=LegalBasis.EPOC_PR.value,
        provider_id="socialnet-ie",
        targets=(Target("URL", "https://socialnet.example/p/1"),),
        data_categories=("CONTENT",),
        description="",
        restricted=True,
    ),
    order_id=ID,
    actor=Actor("u-nl", "nl-liaison", "NL"),
    now=T0,
)


def listing(token: str = "", **filters: Any) -> pb.ListOrdersRequest:
    return pb.ListOrdersRequest(workspace_id="jit-demo", page_token=token, **filters)


def forged(position: Any, request: pb.ListOrdersRequest) -> str:
    """A token with a valid fingerprint around a position of the caller's choosing."""
    body = {"p": position, "f": paging.fingerprint(request)}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def test_positions_round_trip_with_and_without_an_expiry() -> None:
    expiring = replace(ORDER, expires_at=T0)
    for order, expected in ((expiring, (T0, ID)), (ORDER, (None, ID))):
        token = page_token(order, listing(provider_id="socialnet-ie", page_size=5))
        assert position_from_token(listing(token, provider_id="socialnet-ie", page_size=20)) == expected
    assert position_from_token(listing()) is None


def test_a_token_is_bound_to_its_list_and_its_filters() -> None:
    token = page_token(ORDER, listing(provider_id="socialnet-ie"))
    with pytest.raises(InvalidArgument):
        position_from_token(listing(token, provider_id="chatapp-nl"))
    tasks_token = paging.token_after_id(ID, tasks_pb2.ListTasksRequest(workspace_id="jit-demo"))
    with pytest.raises(InvalidArgument) as info:
        position_from_token(listing(tasks_token))
    assert [v.field for v in info.value.violations] == ["page_token"]


@pytest.mark.parametrize(
    "position",
    [
        {"a": ID},
        {"e": None},
        {"e": None, "a": "not-a-uuid"},
        {"e": None, "a": ID, "x": 1},
        {"e": "yesterday", "a": ID},
        {"e": "2026-03-02T09:00:00", "a": ID},  # no time zone
        {"e": 1767000000, "a": ID},
        {"e": "2026-03-02T09:00:00+00:00" + "0" * 100, "a": ID},
        {"n": 0, "e": "2026-03-02T09:00:00+00:00", "a": ID},  # the old token's shape
    ],
)
def test_a_forged_position_is_invalid_argument_on_page_token(position: Any) -> None:
    request = listing()
    request.page_token = forged(position, request)
    with pytest.raises(InvalidArgument) as info:
        position_from_token(request)
    assert [v.field for v in info.value.violations] == ["page_token"]
    assert ID not in info.value.message
