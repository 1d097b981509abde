"""Page tokens are opaque, bound to their list's filters, and refused when forged."""

from __future__ import annotations

import base64
import json

import pytest

from jit.tasks.v1 import tasks_pb2 as pb
from jitlib import paging
from jitlib.errors import InvalidArgument

ID = "01935c4e-0000-7000-8000-000000000001"


def test_a_token_round_trips_for_the_same_filters_whatever_the_page_size() -> None:
    token = paging.token_after_id(ID, pb.ListTasksRequest(workspace_id="jit-demo", page_size=2))
    assert paging.after_id(pb.ListTasksRequest(workspace_id="jit-demo", page_size=50, page_token=token)) == ID
    assert paging.after_id(pb.ListTasksRequest(workspace_id="jit-demo")) == ""


@pytest.mark.parametrize(
    "request_",
    [
        pb.ListTasksRequest(workspace_id="other-ws"),  # another list
        pb.ListTasksRequest(workspace_id="jit-demo", overdue_only=True),
    ],
)
def test_a_token_is_refused_for_other_filters(request_: pb.ListTasksRequest) -> None:
    token = paging.token_after_id(ID, pb.ListTasksRequest(workspace_id="jit-demo"))
    request_.page_token = token
    with pytest.raises(InvalidArgument) as info:
        paging.after_id(request_)
    assert info.value.violations[0].field == "page_token"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(
            json.dumps({"p": {"after": "'; DROP TABLE tasks"}, "f": paging.fingerprint(pb.ListTasksRequest())}).encode()
        ).decode(),
    ],
)
def test_forged_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidArgument):
        paging.after_id(pb.ListTasksRequest(page_token=token))


def test_a_tasks_token_is_refused_by_the_evidence_list_even_with_no_filter_on_either() -> None:
    from jit.evidence.v1 import evidence_pb2

    token = paging.token_after_id(ID, pb.ListTasksRequest())
    with pytest.raises(InvalidArgument):
        paging.after_id(evidence_pb2.ListRequestsRequest(page_token=token))
