"""A country taken out of a workspace (``jit admin workspace remove-member``, an amendment of the JIT
agreement): from the announcement on, nothing new of the workspace reaches its node, not even of a task
assigned to it, and its users no longer see the workspace, on its own node or on the lead's, whatever
their tokens still say (jitlib.legal JIT_MEMBER_TAKEN_OUT)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2 as pb
from jitdev.nodes import LocalFederation
from tests.federation.test_joining import Workspace, _listed, _tasks
from tests.federation.test_links import _inbound_events
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration


def _code(call: Any) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_jit_member_taken_out_gets_nothing_new_of_the_workspace_on_its_node(
    federation: LocalFederation, keycloak: Any, country_tokens: Any
) -> None:
    """JIT_MEMBER_TAKEN_OUT: NL's JIT with DE and IE; NL's tasks assigned to DE (one open to the workspace,
    one restricted to NL and DE) reach DE's node. NL's administrator takes DE out. Then NL cancels both and
    makes a new task: IE's node gets the cancellation and the new task; DE's node stores none of it (its
    JIT_IN holds only the two creations), and DE's users get NOT_FOUND on NL's node and on their own."""
    workspace = Workspace(federation, keycloak, country_tokens, "leave")
    workspace.open("Cyberstalking case")
    workspace.add("IE", "ie-liaison")
    ws = workspace.id

    def de_user() -> Any:
        return md(country_tokens("de-liaison"))  # asked each time: a long wait may outlive a token

    def create(title: str, assignee: str, visibility: int) -> pb.Task:
        request = pb.CreateTaskRequest(
            request_id=rid(), workspace_id=ws, title=title, kind=pb.TASK_KIND_OTHER, assignee_jurisdiction=assignee,
            visibility=visibility,
        )  # fmt: skip
        return (
            _tasks(federation, "NL").CreateTask(request, metadata=md(country_tokens("nl-prosecutor")), timeout=15).task
        )

    open_task = create("Which accounts posted her address?", "DE", common_pb2.VISIBILITY_WORKSPACE)
    restricted = create("NL-DE only: the suspect's employer", "DE", common_pb2.VISIBILITY_RESTRICTED)
    # Before: both reach DE's node, and DE's user reads them there and on NL's node.
    eventually(
        lambda: {open_task.id, restricted.id} <= set(_listed(federation, "DE", country_tokens("de-liaison"), ws))
    )
    get_on_nl = pb.GetTaskRequest(id=open_task.id)
    assert (
        _code(lambda: _tasks(federation, "NL").GetTask(get_on_nl, metadata=de_user(), timeout=15)) is grpc.StatusCode.OK
    )

    workspace.ok("NL", "admin", "workspace", "remove-member", ws, "DE")
    # NL's tasks service applied it: DE's user (its token, from DE's realm, still names the workspace) is
    # refused there as a non-member.
    eventually(
        lambda: (
            _code(lambda: _tasks(federation, "NL").GetTask(get_on_nl, metadata=de_user(), timeout=15))
            is grpc.StatusCode.NOT_FOUND
        ),
        timeout=45,
    )

    cancelled = [
        _tasks(federation, "NL")
        .CancelTask(
            pb.CancelTaskRequest(id=t.id, expected_version=t.version, reason="DE left the JIT"),
            metadata=md(country_tokens("nl-prosecutor")),
            timeout=15,
        )
        .task
        for t in (open_task, restricted)
    ]
    new = create("Ask the platform for the subscriber data", "IE", common_pb2.VISIBILITY_WORKSPACE)
    with pytest.raises(grpc.RpcError) as refused:
        create("For DE again", "DE", common_pb2.VISIBILITY_WORKSPACE)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # IE's node gets what changed after (the same relay, the same moment, sends DE's copies if any).
    eventually(
        lambda: (
            (listed := _listed(federation, "IE", country_tokens("ie-liaison"), ws)).get(new.id) is not None
            and listed[open_task.id].version == cancelled[0].version
        ),
        timeout=45,
    )
    # DE's users no longer see the workspace on their own node either: its directory was told.
    eventually(
        lambda: _code(lambda: _listed(federation, "DE", country_tokens("de-liaison"), ws)) is grpc.StatusCode.NOT_FOUND,
        timeout=45,
    )
    time.sleep(3)  # anything still on its way to DE's node would be stored by now
    ids = {open_task.id, restricted.id, new.id}
    stored = asyncio.run(
        _inbound_events(federation.nats.nodes["DE"].url, ids, federation.nats.users["DE"].credentials("tasks"))
    )
    assert sorted(stored) == sorted([f"{open_task.id}@{open_task.version}", f"{restricted.id}@{restricted.version}"])
