"""Acting on a record another node owns: the user's node forwards the command with the user's token to
the owner, which verifies it and applies its own policy; the answer carries the same statuses as a local
call; when the owner cannot be reached the call fails fast with UNAVAILABLE naming it."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.nodes import LocalFederation
from jitdev.procs import terminate
from tests.harness import error_reason, eventually, md, rich_status, rid

pytestmark = pytest.mark.integration


class Tasks:
    def __init__(self, federation: LocalFederation, tokens: Any) -> None:
        self._channels = {c: grpc.insecure_channel(n.address("tasks")) for c, n in federation.nodes.items()}
        self.tokens = tokens

    def on(self, country: str) -> tasks_pb2_grpc.TaskServiceStub:
        return tasks_pb2_grpc.TaskServiceStub(self._channels[country])

    def create(self, title: str) -> pb.Task:
        req = pb.CreateTaskRequest(
            request_id=rid(), workspace_id="jit-demo", title=title, kind=pb.TASK_KIND_OTHER, assignee_jurisdiction="DE"
        )
        return self.on("NL").CreateTask(req, metadata=md(self.tokens("nl-prosecutor")), timeout=15).task

    def get(self, country: str, user: str, task_id: str) -> pb.Task | None:
        try:
            return (
                self.on(country).GetTask(pb.GetTaskRequest(id=task_id), metadata=md(self.tokens(user)), timeout=15).task
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def replicated(self, task: pb.Task, version: int | None = None) -> pb.Task:
        want = version or task.version
        return eventually(
            lambda: (t := self.get("DE", "de-liaison", task.id)) is not None and t.version == want and t, timeout=30
        )


def _error_metadata(err: grpc.RpcError) -> dict[str, str]:
    for detail in rich_status(err).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return dict(info.metadata)
    return {}


@pytest.fixture(scope="module")
def tasks(federation: LocalFederation, country_tokens: Any) -> Tasks:
    return Tasks(federation, country_tokens)


def test_des_liaison_accepts_an_nl_task_on_des_own_node(tasks: Tasks) -> None:
    task = tasks.create(f"Identify the account holder {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    accepted = (
        tasks.on("DE")
        .AcceptTask(
            pb.AcceptTaskRequest(id=task.id, expected_version=task.version),
            metadata=md(tasks.tokens("de-liaison")),
            timeout=15,
        )
        .task
    )
    # The owner's answer: its record, changed by NL's node, by the DE user.
    assert accepted.state == pb.TASK_STATE_ACCEPTED and accepted.version == task.version + 1
    assert accepted.updated_by.username == "de-liaison" and not accepted.HasField("replica")
    on_owner = tasks.get("NL", "nl-prosecutor", task.id)
    assert on_owner is not None and on_owner.state == pb.TASK_STATE_ACCEPTED
    replica = tasks.replicated(task, task.version + 1)
    assert replica.state == pb.TASK_STATE_ACCEPTED and replica.replica.owner_node == "NL"


def test_a_forwarded_change_retried_on_des_node_is_answered_by_the_owner_as_its_first_call_was(tasks: Tasks) -> None:
    """The answer to DE's forwarded acceptance was lost: the same request sent again on DE's node (whose
    replica has the acceptance by then) goes to the owner, which knows the call made that version
    (``jitlib.changes``): the task as it is, not ABORTED."""
    task = tasks.create(f"Retried across the link {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    token = md(tasks.tokens("de-liaison"))
    accept = pb.AcceptTaskRequest(id=task.id, expected_version=task.version)
    accepted = tasks.on("DE").AcceptTask(accept, metadata=token, timeout=15).task
    tasks.replicated(task, accepted.version)
    again = tasks.on("DE").AcceptTask(accept, metadata=token, timeout=15).task
    assert (again.version, again.state, again.updated_at) == (accepted.version, accepted.state, accepted.updated_at)


def test_the_next_command_with_the_owners_version_works_before_the_replica_caught_up(tasks: Tasks) -> None:
    """The version a forwarded answer returned is the owner's: the very next command with it is checked by
    the owner, not against DE's replica (which may still be one version behind)."""
    task = tasks.create(f"Back to back {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    token = md(tasks.tokens("de-liaison"))
    accepted = (
        tasks.on("DE")
        .AcceptTask(pb.AcceptTaskRequest(id=task.id, expected_version=task.version), metadata=token, timeout=15)
        .task
    )
    started = (
        tasks.on("DE")
        .StartTask(pb.StartTaskRequest(id=task.id, expected_version=accepted.version), metadata=token, timeout=15)
        .task
    )
    assert started.state == pb.TASK_STATE_IN_PROGRESS and started.version == accepted.version + 1


def test_a_forwarded_command_gets_the_owners_refusals(tasks: Tasks) -> None:
    task = tasks.create(f"Refusals {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    # The owner's policy: only the issuing side cancels.
    with pytest.raises(grpc.RpcError) as denied:
        tasks.on("DE").CancelTask(
            pb.CancelTaskRequest(id=task.id, expected_version=task.version, reason="not ours to cancel"),
            metadata=md(tasks.tokens("de-prosecutor")),
            timeout=15,
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(denied.value) == "NOT_ALLOWED"
    # The owner's version check.
    with pytest.raises(grpc.RpcError) as stale:
        tasks.on("DE").AcceptTask(
            pb.AcceptTaskRequest(id=task.id, expected_version=task.version + 5),
            metadata=md(tasks.tokens("de-liaison")),
            timeout=15,
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED
    # The owner's state machine.
    with pytest.raises(grpc.RpcError) as illegal:
        tasks.on("DE").CompleteTask(
            pb.CompleteTaskRequest(id=task.id, expected_version=task.version, outcome="done"),
            metadata=md(tasks.tokens("de-liaison")),
            timeout=15,
        )
    assert illegal.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert tasks.get("NL", "nl-prosecutor", task.id).version == task.version  # type: ignore[union-attr]


def test_a_command_whose_owner_is_unreachable_fails_fast_naming_it(tasks: Tasks, federation: LocalFederation) -> None:
    task = tasks.create(f"Cut link {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    federation.nats.hub.kill()
    try:
        # The replica is still served, with when it was last updated.
        assert tasks.get("DE", "de-liaison", task.id).replica.owner_node == "NL"  # type: ignore[union-attr]
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            tasks.on("DE").AcceptTask(
                pb.AcceptTaskRequest(id=task.id, expected_version=task.version),
                metadata=md(tasks.tokens("de-liaison")),
                timeout=30,
            )
        elapsed = time.monotonic() - started
    finally:
        federation.nats.hub.start()
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_reason(info.value) == "OWNER_UNREACHABLE" and "NL node" in (info.value.details() or "")
    assert _error_metadata(info.value).get("owner") == "NL"
    assert elapsed < 10, f"took {elapsed:.1f} s"
    # Nothing was queued: once the link is back, the task is still as it was, and acting works again.
    assert tasks.get("NL", "nl-prosecutor", task.id).state == pb.TASK_STATE_ASSIGNED  # type: ignore[union-attr]

    def accept() -> bool:
        try:
            tasks.on("DE").AcceptTask(
                pb.AcceptTaskRequest(id=task.id, expected_version=task.version),
                metadata=md(tasks.tokens("de-liaison")),
                timeout=15,
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNAVAILABLE:
                return False
            raise
        return True

    eventually(accept, timeout=30, interval=0.5)


def test_cross_node_commands_answer_invalid_argument_and_not_found_like_local_ones(tasks: Tasks) -> None:
    """With PERMISSION_DENIED, ABORTED, FAILED_PRECONDITION (above) and UNAVAILABLE (below), every status
    a local call can answer: a malformed request, and a record this user may not know."""
    task = tasks.create(f"Codes {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    token = md(tasks.tokens("de-liaison"))
    with pytest.raises(grpc.RpcError) as invalid:
        tasks.on("DE").DeclineTask(
            pb.DeclineTaskRequest(id=task.id, expected_version=task.version, reason="x" * 5000),
            metadata=token,
            timeout=15,
        )
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as unknown:
        tasks.on("DE").AcceptTask(pb.AcceptTaskRequest(id=str(uuid.uuid4())), metadata=token, timeout=15)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    # IE may not know an NL-DE task: NOT_FOUND on its own node, as on NL's.
    for country in ("IE", "NL"):
        with pytest.raises(grpc.RpcError) as hidden:
            tasks.on(country).AcceptTask(
                pb.AcceptTaskRequest(id=task.id), metadata=md(tasks.tokens("ie-liaison")), timeout=15
            )
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND, country


def test_a_command_whose_owners_service_is_stopped_fails_fast_and_works_once_it_is_back(
    tasks: Tasks, federation: LocalFederation
) -> None:
    """The owner's node up but its tasks service stopped (a node being restarted): no responder, so
    UNAVAILABLE at once, naming the owner; nothing queued."""
    task = tasks.create(f"Owner restarting {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    nl = federation.nodes["NL"]
    terminate(nl.processes.pop("tasks"))
    try:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            tasks.on("DE").AcceptTask(
                pb.AcceptTaskRequest(id=task.id, expected_version=task.version),
                metadata=md(tasks.tokens("de-liaison")),
                timeout=30,
            )
        elapsed = time.monotonic() - started
    finally:
        nl.start_service("tasks", "services.tasks")
        nl.wait_healthy()
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE and error_reason(info.value) == "OWNER_UNREACHABLE"
    assert elapsed < 10, f"took {elapsed:.1f} s"

    def accept() -> pb.Task | None:
        try:
            return (
                tasks.on("DE")
                .AcceptTask(
                    pb.AcceptTaskRequest(id=task.id, expected_version=task.version),
                    metadata=md(tasks.tokens("de-liaison")),
                    timeout=15,
                )
                .task
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNAVAILABLE:  # its command listener is still starting
                return None
            raise

    accepted = eventually(accept, timeout=30, interval=0.5)
    assert accepted.state == pb.TASK_STATE_ACCEPTED and accepted.version == task.version + 1


def _trace_ids(path: Path, span_name: str) -> set[str]:
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            span = json.loads(line)
            if span.get("name") == span_name:
                out.add(span["context"]["trace_id"])
    return out


def test_a_forwarded_command_is_one_trace_across_both_nodes(tasks: Tasks, federation: LocalFederation) -> None:
    """DE's server span of the call and NL's server span of the forwarded call share one trace id."""
    task = tasks.create(f"Traced {uuid.uuid4().hex[:6]}")
    tasks.replicated(task)
    name = "/jit.tasks.v1.TaskService/AcceptTask"
    tasks.on("DE").AcceptTask(
        pb.AcceptTaskRequest(id=task.id, expected_version=task.version),
        metadata=md(tasks.tokens("de-liaison")),
        timeout=15,
    )

    def shared() -> set[str]:
        # Spans are written in batches: those of earlier forwarded calls may show up too, as shared.
        on_de = _trace_ids(federation.nodes["DE"].folder / "traces.jsonl", name)
        on_nl = _trace_ids(federation.nodes["NL"].folder / "traces.jsonl", name)
        return on_de & on_nl

    assert eventually(shared, timeout=30, interval=0.5)
