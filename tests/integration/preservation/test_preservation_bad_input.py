"""Bad input found by testing as a new user would (issue 9, item 4), against the running service: each is
INVALID_ARGUMENT naming the field, writes nothing (no order, no event, no audit entry), and never echoes
an unbounded value into the status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.preservation.v1 import preservation_pb2 as pb
from jit.tasks.v1 import tasks_pb2
from jitlib import paging
from services.preservation.store import RUNTIME, OrderRow
from tests.harness import RunningService, audit_entries, field_violations, rich_status, rid
from tests.integration.preservation.conftest import DAY, WS, Client, now_utc, ts

pytestmark = pytest.mark.integration

#: A 10 KB id: its echo in a status would push the headers over gRPC's 16 KB limit.
HUGE = "z" * 10_240


@pytest.fixture(scope="module")
def client(preservation_svc: RunningService, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


def counts(svc: RunningService) -> tuple[int, int, int]:
    """Orders, outbox events and audit entries: what a refused request must leave as it was."""

    def q(s: Any) -> tuple[int, int, int]:
        def count(table: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)

        # The audit entries linked into the chain or still pending (``jitlib.audit.record``).
        return count(OrderRow.__table__), count(RUNTIME.outbox), audit_entries(s, RUNTIME)

    return svc.loop.run(svc.rt.read(q))


def refused(client: Client, method: str, request: Any) -> grpc.RpcError:
    """Call ``method``; it must be refused with INVALID_ARGUMENT and write nothing."""
    before = counts(client.svc)
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-liaison", method, request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, info.value.details())
    assert counts(client.svc) == before, method
    return info.value


# ---- stated dates: a documented lower bound, never the future ---------------------------------------


def _issue(order_id: str, at: datetime) -> pb.IssueOrderRequest:
    req = pb.IssueOrderRequest(id=order_id)
    req.issued_at.CopyFrom(ts(at))
    return req


def _confirm(order_id: str, at: datetime) -> pb.ConfirmOrderRequest:
    req = pb.ConfirmOrderRequest(id=order_id, provider_reference="SN-9")
    req.confirmed_at.CopyFrom(ts(at))
    return req


# (case, method, field, the order's state before: "draft" or "issued", the stated time given now)
BAD_DATES: list[tuple[str, str, str, str, Callable[[datetime], datetime]]] = [
    ("issued-1994", "IssueOrder", "issued_at", "draft", lambda now: datetime(1994, 5, 1, tzinfo=UTC)),
    ("issued-1970", "IssueOrder", "issued_at", "draft", lambda now: datetime(1970, 1, 2, tzinfo=UTC)),
    ("issued-3y-ago", "IssueOrder", "issued_at", "draft", lambda now: now - 3 * 366 * DAY),
    ("issued-ahead", "IssueOrder", "issued_at", "draft", lambda now: now + 2 * DAY),
    ("confirmed-1990", "ConfirmOrder", "confirmed_at", "issued", lambda now: datetime(1990, 1, 1, tzinfo=UTC)),
    ("confirmed-3y-ago", "ConfirmOrder", "confirmed_at", "issued", lambda now: now - 3 * 366 * DAY),
    ("confirmed-ahead", "ConfirmOrder", "confirmed_at", "issued", lambda now: now + 2 * DAY),
]


@pytest.mark.parametrize(
    ("method", "field", "state", "when"), [r[1:] for r in BAD_DATES], ids=[r[0] for r in BAD_DATES]
)
def test_stated_dates_decades_ago_or_ahead_are_refused(
    client: Client, method: str, field: str, state: str, when: Callable[[datetime], datetime]
) -> None:
    order = client.create()
    if state == "issued":
        order = client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=order.id)).order
    at = when(now_utc())
    request = _issue(order.id, at) if method == "IssueOrder" else _confirm(order.id, at)
    err = refused(client, method, request)
    assert field in field_violations(err)
    assert str(at.year) not in err.details()  # the value is not echoed
    after = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert (after.version, after.state) == (order.version, order.state)


def test_a_back_dated_order_within_the_bound_is_still_accepted(client: Client) -> None:
    """Orders sent before they were entered here are recorded with their real dates."""
    now = now_utc()
    order = client.create()
    issued = client.call("nl-liaison", "IssueOrder", _issue(order.id, now - 100 * DAY)).order
    confirmed = client.call("nl-liaison", "ConfirmOrder", _confirm(order.id, now - 99 * DAY)).order
    assert issued.issued_at.ToDatetime(tzinfo=UTC) < now - 99 * DAY
    assert confirmed.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED


# ---- every id field is validated before it is looked up, and never echoed ---------------------------


def _create(**over: Any) -> pb.CreateOrderRequest:
    fields: dict[str, Any] = dict(
        request_id=rid(),
        workspace_id=WS,
        legal_basis=pb.LEGAL_BASIS_EPOC_PR,
        provider_id="socialnet-ie",
        targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_URL, value="https://socialnet.example/p/1")],
        data_categories=[pb.DATA_CATEGORY_TRAFFIC],
    )
    fields.update(over)
    return pb.CreateOrderRequest(**fields)


VALID_ID = "01935c4e-0000-7000-8000-00000000beef"
HUGE_IDS: list[tuple[str, Any, str]] = [
    ("CreateOrder", _create(request_id=HUGE), "request_id"),
    ("CreateOrder", _create(workspace_id=HUGE), "workspace_id"),
    ("CreateOrder", _create(provider_id=HUGE), "provider_id"),
    ("CreateOrder", _create(shared_with=[HUGE]), "shared_with[0]"),
    ("GetOrder", pb.GetOrderRequest(id=HUGE), "id"),
    ("ListOrders", pb.ListOrdersRequest(workspace_id=HUGE), "workspace_id"),
    ("ListOrders", pb.ListOrdersRequest(provider_id=HUGE), "provider_id"),
    ("ListOrders", pb.ListOrdersRequest(page_token=HUGE), "page_token"),
    ("IssueOrder", pb.IssueOrderRequest(id=HUGE), "id"),
    ("ConfirmOrder", pb.ConfirmOrderRequest(id=HUGE), "id"),
    ("ConfirmOrder", pb.ConfirmOrderRequest(id=VALID_ID, provider_reference=HUGE), "provider_reference"),
    ("ExtendOrder", pb.ExtendOrderRequest(id=HUGE), "id"),
    ("MarkProductionRequested", pb.MarkProductionRequestedRequest(id=HUGE, follow_up_request_id=VALID_ID), "id"),
    (
        "MarkProductionRequested",
        pb.MarkProductionRequestedRequest(id=VALID_ID, follow_up_request_id=HUGE),
        "follow_up_request_id",
    ),
    ("MarkProduced", pb.MarkProducedRequest(id=HUGE), "id"),
    ("LiftOrder", pb.LiftOrderRequest(id=HUGE, reason="x"), "id"),
    ("RecordNotExecuted", pb.RecordNotExecutedRequest(id=HUGE, reason=pb.NOT_EXECUTED_REASON_OTHER), "id"),
    ("GetProvider", pb.GetProviderRequest(id=HUGE), "id"),
]


@pytest.mark.parametrize(("method", "request_", "field"), HUGE_IDS, ids=[f"{m}-{f}" for m, _, f in HUGE_IDS])
def test_a_10kb_id_is_invalid_argument_and_never_echoed(client: Client, method: str, request_: Any, field: str) -> None:
    err = refused(client, method, request_)
    assert field in field_violations(err)
    status = rich_status(err)
    assert len(status.SerializeToString()) < 2_000 and "z" * 100 not in status.message
    assert len(err.details() or "") < 2_000


def test_no_audit_entry_ever_holds_an_unbounded_id(client: Client) -> None:
    def longest(s: Any) -> int:
        a = RUNTIME.audit_log
        return int(s.scalar(select(func.max(func.length(a.c.record_id) + func.length(a.c.workspace_id)))) or 0)

    client.code_of("nl-liaison", "GetOrder", pb.GetOrderRequest(id=HUGE))
    client.code_of("nl-liaison", "ListOrders", pb.ListOrdersRequest(workspace_id=HUGE))
    client.svc.audit_linked()
    assert client.svc.loop.run(client.svc.rt.read(longest)) <= 2 * 64


# ---- page tokens: bound to ListOrders and its filters; a forged position is refused ------------------


def test_a_page_token_of_another_list_or_filter_is_refused(client: Client) -> None:
    for _ in range(3):
        client.create(provider_id="chatapp-nl")
    first = client.call(
        "nl-liaison", "ListOrders", pb.ListOrdersRequest(workspace_id=WS, provider_id="chatapp-nl", page_size=1)
    )
    assert first.next_page_token
    other_filter = pb.ListOrdersRequest(workspace_id=WS, provider_id="socialnet-ie", page_token=first.next_page_token)
    assert "page_token" in field_violations(refused(client, "ListOrders", other_filter))
    tasks_token = paging.token_after_id(VALID_ID, tasks_pb2.ListTasksRequest(workspace_id=WS))
    from_tasks = pb.ListOrdersRequest(workspace_id=WS, page_token=tasks_token)
    assert "page_token" in field_violations(refused(client, "ListOrders", from_tasks))
    forged = pb.ListOrdersRequest(workspace_id=WS)
    forged.page_token = paging.encode({"e": "the day after tomorrow", "a": VALID_ID}, forged)
    assert "page_token" in field_violations(refused(client, "ListOrders", forged))
    # The genuine token still pages on.
    again = pb.ListOrdersRequest(
        workspace_id=WS, provider_id="chatapp-nl", page_size=1, page_token=first.next_page_token
    )
    second = client.call("nl-liaison", "ListOrders", again)
    assert second.orders and second.orders[0].id != first.orders[0].id


def test_an_expiry_keyed_token_pages_through_orders_with_and_without_expiry(client: Client) -> None:
    now = now_utc()
    running = [client.confirmed(confirmed_at=now - timedelta(days=d), provider_id="videohost-de") for d in (1, 2, 3)]
    drafts = [client.create(provider_id="videohost-de") for _ in range(2)]
    seen: list[pb.PreservationOrder] = []
    token = ""
    while True:
        page = client.call(
            "nl-liaison",
            "ListOrders",
            pb.ListOrdersRequest(workspace_id=WS, provider_id="videohost-de", page_size=2, page_token=token),
        )
        seen += page.orders
        token = page.next_page_token
        if not token:
            break
    ids = [o.id for o in seen]
    assert len(ids) == len(set(ids)) and {o.id for o in running + drafts} <= set(ids)
    with_expiry = [o for o in seen if o.HasField("expires_at")]
    assert seen[: len(with_expiry)] == with_expiry  # orders without an expiry come last
    expiries = [o.expires_at.ToDatetime() for o in with_expiry]
    assert expiries == sorted(expiries)
