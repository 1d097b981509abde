"""ListRequests answers each request from its stored answer (``jitlib.answers``, ``mapping.request_answer``):
the message GetRequest gives the same caller (less what only a full view adds: its items and linked order),
field for field, whatever the request's instrument, state and clocks, at any time; and for a request whose
stored answer does not open (none written, an older version, bytes altered) too. On each backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from services.evidence.store import RequestRow
from tests.harness import RunningService
from tests.integration.evidence.conftest import WS, Client

pytestmark = pytest.mark.integration

USERS = ("nl-prosecutor", "de-liaison", "de-prosecutor", "ie-liaison", "nl-liaison")


def listed(client: Client, user: str, page_size: int = 4) -> list[pb.EvidenceRequest]:
    request = pb.ListRequestsRequest(workspace_id=WS, page_size=page_size)
    out: list[pb.EvidenceRequest] = []
    while True:
        page = client.call(user, "ListRequests", request)
        out += page.requests
        if not page.next_page_token:
            return out
        request.page_token = page.next_page_token


def check_lists_as_gets(client: Client, expected: set[str], page_size: int = 4) -> None:
    for user in USERS:
        requests = listed(client, user, page_size)
        for r in requests:
            got = client.call(user, "GetRequest", pb.GetRequestRequest(id=r.id)).request
            got.ClearField("item_count")
            got.ClearField("linked_order")
            assert r == got, f"{user}: {r.id} listed as\n{r}\nbut read as\n{got}"
        if user == "nl-prosecutor":
            assert expected <= {r.id for r in requests}


def made(client: Client) -> list[pb.EvidenceRequest]:
    """Requests of several instruments and states: a draft, issued ones, one in execution, one with a delay
    notified, EPOCs with and without notification (one under review), a refused one."""
    draft = client.create(title="draft «ü»", description="not issued yet")
    issued = client.create(title="issued")
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=issued.id))
    executing = client.executing(title="in execution")
    delayed = client.executing(title="delayed")
    client.call(
        "de-prosecutor",
        "NotifyDelay",
        pb.NotifyDelayRequest(
            id=delayed.id, reason="the platform answers late", expected_at=executing.deadlines[0].due_at
        ),
    )
    epoc = client.epoc()
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=epoc.id))
    notified = client.epoc(pb.EPOC_PROCEDURE_WITH_NOTIFICATION, visibility=common_pb2.VISIBILITY_WORKSPACE)
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=notified.id))
    mla = client.create(title="mla", legal_basis=pb.LEGAL_BASIS_MLA)
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=mla.id))
    return [draft, issued, executing, delayed, epoc, notified, mla]


def test_a_listed_request_is_the_request_its_get_gives_each_caller_at_any_time(
    client: Client, evidence_svc: RunningService
) -> None:
    requests = made(client)
    expected = {r.id for r in requests}
    check_lists_as_gets(client, expected)
    # Later: deadlines passed (overdue), review and decision windows over (other actions allowed).
    for days in (5, 12, 40, 200):
        evidence_svc.app.clock.advance(timedelta(days=days))
        try:
            check_lists_as_gets(client, expected)
        finally:
            evidence_svc.app.clock.advance(timedelta(days=-days))
    evidence_svc.app.clock.advance(timedelta(days=200))
    try:
        overdue = {r.id for r in listed(client, "nl-prosecutor") if any(d.overdue for d in r.deadlines)}
    finally:
        evidence_svc.app.clock.advance(timedelta(days=-200))
    assert overdue >= {requests[1].id, requests[2].id}


def test_requests_alike_but_for_their_clocks_are_listed_each_with_the_actions_its_clocks_allow(
    client: Client, evidence_svc: RunningService
) -> None:
    """A page works out the caller's actions once for the requests that share their state, side, access facts
    and the transitions their clocks allow: requests alike in all but their clocks, on one page, each get
    their own."""
    clock = evidence_svc.app.clock
    alike: list[pb.EvidenceRequest] = []
    moved = timedelta(0)
    try:
        for _ in range(3):
            epoc = client.epoc()
            client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=epoc.id))
            alike.append(epoc)
            clock.advance(timedelta(days=4))
            moved += timedelta(days=4)
        for _ in range(4):
            check_lists_as_gets(client, {r.id for r in alike}, page_size=50)
            clock.advance(timedelta(days=3))
            moved += timedelta(days=3)
    finally:
        clock.advance(-moved)


def test_requests_alike_but_for_their_access_are_listed_each_with_the_actions_the_caller_has_on_it(
    client: Client,
) -> None:
    """Issued requests in one state, their clocks alike, between two states both ways: on one page, a caller
    that issued some and is addressed by the others is offered on each what it may do on that one."""
    both_ways = [("nl-prosecutor", "DE"), ("de-prosecutor", "NL")] * 2
    alike = [client.create(user, title=f"to {where}", addressee_jurisdiction=where) for user, where in both_ways]
    for (user, _), r in zip(both_ways, alike, strict=True):
        client.call(user, "IssueRequest", pb.IssueRequestRequest(id=r.id))
    check_lists_as_gets(client, {r.id for r in alike}, page_size=50)


def test_a_request_whose_stored_answer_does_not_open_is_listed_from_its_row(
    client: Client, evidence_svc: RunningService
) -> None:
    requests = made(client)
    none, altered, moved = requests[1], requests[2], requests[3]
    version = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=moved.id)).request.version
    table = RequestRow.__table__
    column = table.c

    def spoil(s: Any) -> None:
        s.execute(update(table).where(column.id == none.id).values(answer=None))
        s.execute(update(table).where(column.id == altered.id).values(answer=b"\x00" * 60))
        s.execute(update(table).where(column.id == moved.id).values(version=column.version + 1))

    evidence_svc.loop.run(evidence_svc.rt.db.write(spoil))
    check_lists_as_gets(client, {r.id for r in requests})
    now = {r.id: r for r in listed(client, "nl-prosecutor")}
    assert now[moved.id].version == version + 1
