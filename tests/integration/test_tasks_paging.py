"""ListTasks pages by keyset (the last id of a page, in its token): edge cases of the paging on each
backend. Every test lists inside a due window of its own, so the module's other tasks stay out of it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from jit.tasks.v1 import tasks_pb2 as pb
from tests.integration.test_tasks_service import WS, Client, ts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(tasks_svc: Any, tokens: Any) -> Client:
    return Client(tasks_svc, tokens)


def own_window() -> datetime:
    """An instant no other test's task is due at: a window just around it holds this test's tasks only."""
    return (datetime.now(UTC) + timedelta(days=400, minutes=random.randrange(500_000))).replace(microsecond=0)


def window(due: datetime, **filters: Any) -> pb.ListTasksRequest:
    return pb.ListTasksRequest(
        workspace_id=WS, due_after=ts(due - timedelta(seconds=1)), due_before=ts(due + timedelta(seconds=1)), **filters
    )


def walk(client: Client, request: pb.ListTasksRequest, between: Any = None) -> list[str]:
    """Every id the list gives, page by page (``between()`` runs after the first page)."""
    seen: list[str] = []
    while True:
        page = client.call("nl-prosecutor", "ListTasks", request)
        seen += [t.id for t in page.tasks]
        if between is not None and len(seen) == len(page.tasks):
            between()
        if not page.next_page_token:
            return seen
        request.page_token = page.next_page_token


def test_tasks_due_at_the_same_instant_each_come_once_in_creation_order(client: Client) -> None:
    due = own_window()
    created = [client.create(title=f"same due {i}", due_at=ts(due)).id for i in range(5)]
    assert walk(client, window(due, page_size=2)) == created


def test_a_task_created_between_two_pages_comes_once_at_the_end(client: Client) -> None:
    due = own_window()
    created = [client.create(title=f"before {i}", due_at=ts(due)).id for i in range(3)]
    later: list[str] = []
    seen = walk(client, window(due, page_size=2), lambda: later.append(client.create(due_at=ts(due)).id))
    assert seen == [*created, *later] and len(later) == 1


def test_the_next_page_follows_on_when_the_last_task_of_a_page_left_the_filter(client: Client) -> None:
    due = own_window()
    created = [client.create(title=f"assigned {i}", due_at=ts(due)) for i in range(4)]
    request = window(due, states=[pb.TASK_STATE_ASSIGNED], page_size=2)
    first = client.call("nl-prosecutor", "ListTasks", request)
    assert [t.id for t in first.tasks] == [t.id for t in created[:2]]
    # The task the token ends at is cancelled: it no longer matches, and the next page still starts after it.
    cancel = pb.CancelTaskRequest(id=created[1].id, reason="duplicate")
    client.call("nl-prosecutor", "CancelTask", cancel)
    request.page_token = first.next_page_token
    rest = client.call("nl-prosecutor", "ListTasks", request)
    assert [t.id for t in rest.tasks] == [t.id for t in created[2:]] and not rest.next_page_token


@pytest.mark.parametrize(
    "change",
    [
        {"states": [pb.TASK_STATE_ACCEPTED]},
        {"assignee_jurisdiction": "IE"},
        {"overdue_only": True},
    ],
)
def test_a_token_is_refused_once_the_filters_change(client: Client, change: dict[str, Any]) -> None:
    due = own_window()
    for _ in range(3):
        client.create(due_at=ts(due))
    page = client.call("nl-prosecutor", "ListTasks", window(due, page_size=1))
    changed = window(due, page_size=1, page_token=page.next_page_token, **change)
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "ListTasks", changed)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The same filters with another page size take it.
    same = window(due, page_size=2, page_token=page.next_page_token)
    assert len(client.call("nl-prosecutor", "ListTasks", same).tasks) == 2
