"""ListOrders answers each order from its stored answer (``jitlib.answers``): the same message GetOrder gives
the same caller, field for field, whatever the order's state, legal basis, visibility, extensions and clock,
and for an order whose stored answer does not open (none written, an older version, bytes altered) too. On
each backend."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select, update

from jit.common.v1 import common_pb2
from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.ids import new_id
from services.preservation.store import OrderRow
from tests.harness import RunningService, registered_victims
from tests.integration.preservation.conftest import DAY, Client

pytestmark = pytest.mark.integration

USERS = ("nl-liaison", "nl-prosecutor", "de-liaison", "ie-liaison", "de-prosecutor")


@pytest.fixture(scope="module")
def nats_url(pnats: Any) -> str:
    return str(pnats.url)


@pytest.fixture(scope="module")
def client(preservation_svc: RunningService, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


def own_victim(svc: RunningService, nats_url: str) -> str:
    """A victim of the workspace no other test's order names, so that a list of its orders holds this test's
    alone."""
    (victim,) = registered_victims(svc, nats_url)
    return victim


def listed(client: Client, user: str, victim: str) -> list[pb.PreservationOrder]:
    request = pb.ListOrdersRequest(victim_ref=victim, page_size=3)
    out: list[pb.PreservationOrder] = []
    for _ in range(20):  # a test's orders fill a few pages: a token that never ends the list fails here
        page = client.call(user, "ListOrders", request)
        out += page.orders
        if not page.next_page_token:
            return out
        request.page_token = page.next_page_token
    raise AssertionError(f"{user}: the list did not end after 20 pages ({len(out)} orders)")


def check_lists_as_gets(client: Client, victim: str, expected: set[str]) -> None:
    """For every user, each listed order equals GetOrder's answer to that user, and every order the user may
    read is listed; NL's liaison lists them all."""
    for user in USERS:
        orders = listed(client, user, victim)
        for o in orders:
            got = client.call(user, "GetOrder", pb.GetOrderRequest(id=o.id)).order
            assert o == got, f"{user}: {o.id} listed as\n{o}\nbut read as\n{got}"
        readable = set()
        for order_id in expected:
            try:
                client.call(user, "GetOrder", pb.GetOrderRequest(id=order_id))
                readable.add(order_id)
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND
        assert {o.id for o in orders} == readable, user
        if user == "nl-liaison":
            assert readable == expected


def made(client: Client, victim: str) -> list[pb.PreservationOrder]:
    """Orders of every shape: restricted, shared and open; a draft, issued, confirmed, extended to its
    limit, production requested, produced, lifted, not executed; under each legal basis."""
    mine = {"victim_refs": [victim]}
    draft = client.create(**mine, shared_with=["DE"])
    open_ = client.create(**mine, visibility=common_pb2.VISIBILITY_WORKSPACE, description="open «ü»")
    issued = client.create(**mine, legal_basis=pb.LEGAL_BASIS_NATIONAL)
    client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=issued.id))
    confirmed = client.confirmed(**mine, shared_with=["IE"])
    epoc = client.confirmed(**mine, legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=epoc.id))  # its one extension: no more
    budapest = client.confirmed(**mine, legal_basis=pb.LEGAL_BASIS_BUDAPEST_ART29)
    client.call(
        "nl-liaison",
        "MarkProductionRequested",
        pb.MarkProductionRequestedRequest(id=budapest.id, follow_up_request_id=new_id()),
    )
    produced = client.confirmed(**mine)
    client.call(
        "nl-liaison",
        "MarkProductionRequested",
        pb.MarkProductionRequestedRequest(id=produced.id, follow_up_request_id=new_id()),
    )
    client.call("nl-liaison", "MarkProduced", pb.MarkProducedRequest(id=produced.id))
    lifted = client.confirmed(**mine)
    client.call("nl-liaison", "LiftOrder", pb.LiftOrderRequest(id=lifted.id, reason="suspect identified"))
    not_executed = client.create(**mine)
    client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=not_executed.id))
    client.call(
        "nl-liaison",
        "RecordNotExecuted",
        pb.RecordNotExecutedRequest(id=not_executed.id, reason=pb.NOT_EXECUTED_REASON_DATA_NOT_HELD, details="gone"),
    )
    return [draft, open_, issued, confirmed, epoc, budapest, produced, lifted, not_executed]


def test_a_listed_order_is_the_order_its_get_gives_each_caller(
    client: Client, preservation_svc: RunningService, nats_url: str
) -> None:
    victim = own_victim(preservation_svc, nats_url)
    orders = made(client, victim)
    check_lists_as_gets(client, victim, {o.id for o in orders})
    # Four days on, the issued order's confirmation is overdue in the list as in a read.
    preservation_svc.app.clock.advance(4 * DAY)
    try:
        overdue = {o.id for o in listed(client, "nl-liaison", victim) if o.confirmation_overdue}
        assert overdue == {orders[2].id}  # issued, unconfirmed; the others confirmed, or never issued, or ended
        check_lists_as_gets(client, victim, {o.id for o in orders})
    finally:
        preservation_svc.app.clock.advance(-4 * DAY)


def test_an_order_whose_stored_answer_does_not_open_is_listed_from_its_row(
    client: Client, preservation_svc: RunningService, nats_url: str
) -> None:
    victim = own_victim(preservation_svc, nats_url)
    orders = made(client, victim)
    none, altered, moved, kept = orders[0], orders[1], orders[3], orders[2]  # moved: at the version the test saw
    column = OrderRow.__table__.c

    def spoil(s: Any) -> None:
        s.execute(update(OrderRow.__table__).where(column.id == none.id).values(answer=None))
        s.execute(update(OrderRow.__table__).where(column.id == altered.id).values(answer=b"\x00" * 40))
        # A version moved without its answer written again (a write not through the record table).
        s.execute(update(OrderRow.__table__).where(column.id == moved.id).values(version=column.version + 1))

    preservation_svc.loop.run(preservation_svc.rt.db.write(spoil))
    check_lists_as_gets(client, victim, {o.id for o in orders})
    now = {o.id: o for o in listed(client, "nl-liaison", victim)}
    assert now[moved.id].version == moved.version + 1
    assert now[kept.id] == client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=kept.id)).order


def test_every_write_keeps_the_order_s_answer_that_opens(
    client: Client, preservation_svc: RunningService, nats_url: str
) -> None:
    """After creates and transitions, every order of the test has an answer that opens: none falls back. It
    is GetOrder's answer less what is each caller's (actions, the clock's overdue, the follow-up request)."""
    from services.preservation import store

    orders = made(client, own_victim(preservation_svc, nats_url))
    t = OrderRow.__table__

    def opened(s: Any) -> list[bytes | None]:
        rows = [
            s.execute(select(t.c.id, t.c.version, t.c.workspace_id, t.c.answer).where(t.c.id == o.id)).one()
            for o in orders
        ]
        return store.ANSWERS.opened(s, rows, id=0, version=1, workspace=2, answer=3)

    answers = preservation_svc.loop.run(preservation_svc.rt.read(opened))
    assert all(a is not None for a in answers)
    for o, answer in zip(orders, answers, strict=True):
        got = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=o.id)).order
        got.ClearField("allowed_actions")
        got.ClearField("confirmation_overdue")
        # The follow-up request's id is the caller's to see or not (the list adds it per caller): never stored.
        got.ClearField("follow_up_request_id")
        assert pb.PreservationOrder.FromString(answer or b"") == got


def test_the_service_writes_in_the_background_the_answers_its_rows_lack(
    client: Client, preservation_svc: RunningService, nats_url: str
) -> None:
    """Rows without an answer (as after the migration that added the column) are listed from their rows at
    once, and the service's background job writes their answers while it serves."""
    victim = own_victim(preservation_svc, nats_url)
    orders = made(client, victim)
    table = OrderRow.__table__

    def missing(s: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(table).where(table.c.answer.is_(None))) or 0)

    svc = preservation_svc
    svc.loop.run(svc.rt.db.write(lambda s: s.execute(update(table).values(answer=None))))
    assert svc.loop.run(svc.rt.read(missing)) >= len(orders)
    check_lists_as_gets(client, victim, {o.id for o in orders})
    svc.app.spec.extra["answers_fill"].wake()
    deadline = time.monotonic() + 20
    while svc.loop.run(svc.rt.read(missing)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert svc.loop.run(svc.rt.read(missing)) == 0
    check_lists_as_gets(client, victim, {o.id for o in orders})
