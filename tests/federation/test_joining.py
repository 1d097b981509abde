"""A country added to a workspace that already holds records gets, on its own node, those it may see: the
owners' nodes send them when the workspace's announcement names the new member (``jitlib.joining``)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.nodes import LocalFederation, Node
from jitdev.procs import terminate
from tests.federation.test_workspaces import _jit
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration

#: How long the owner's node has to send what it owns to a peer linked at its start (the joins job runs at
#: the start, then each 30 s).
LINKED_WITHIN = 45


def _tasks(federation: LocalFederation, country: str) -> tasks_pb2_grpc.TaskServiceStub:
    return tasks_pb2_grpc.TaskServiceStub(grpc.insecure_channel(federation.nodes[country].address("tasks")))


def _listed(federation: LocalFederation, country: str, token: str, ws: str) -> dict[str, pb.Task]:
    resp = _tasks(federation, country).ListTasks(pb.ListTasksRequest(workspace_id=ws), metadata=md(token), timeout=15)
    return {t.id: t for t in resp.tasks}


class Workspace:
    """A workspace NL leads, opened, joined and grown with the jit command as each country's administrator
    runs it on its own node (the tests of a country that joins share it)."""

    def __init__(self, federation: LocalFederation, keycloak: Any, tokens: Any, prefix: str) -> None:
        self.federation, self.keycloak, self.tokens = federation, keycloak, tokens
        self.id = f"{prefix}-{uuid.uuid4().hex[:8]}"

    def ok(self, country: str, *args: str) -> None:
        result = _jit(self.federation, self.keycloak, country, *args)
        assert result.returncode == 0, result.stdout + result.stderr

    def joined(self, country: str, *users: str) -> None:
        """``country``'s administrator puts ``users`` in it on its node, once the lead's announcement arrived."""
        args = [a for u in users for a in ("--user", u)]
        eventually(lambda: _jit(self.federation, self.keycloak, country, "admin", "workspace", "join", self.id, *args)
                   .returncode == 0, timeout=30, interval=1.0)  # fmt: skip
        for user in users:
            self.tokens.forget(user, country)  # a fresh token carries the new membership

    def open(
        self, name: str, nl_users: tuple[str, ...] = ("nl-prosecutor",), de_users: tuple[str, ...] = ("de-liaison",)
    ) -> None:
        """Opened by NL with DE, with NL's ``nl_users`` and DE's ``de_users`` in it."""
        basis = f"JIT agreement NL-DE {self.id}"
        self.ok("NL", "admin", "workspace", "create", self.id, "--name", name, "--lead", "NL", "--member", "DE",
                "--legal-basis", basis, "--starts", "2026-01-01", "--ends", "2027-12-31")  # fmt: skip
        users = [a for u in nl_users for a in ("--user", u)]
        self.ok("NL", "admin", "workspace", "add-member", self.id, "--jurisdiction", "NL", *users)
        for user in nl_users:
            self.tokens.forget(user, "NL")
        self.joined("DE", *de_users)

    def add(self, country: str, *users: str) -> None:
        """NL's administrator adds ``country``, whose administrator puts ``users`` in it on its own node."""
        self.ok("NL", "admin", "workspace", "add-member", self.id, "--jurisdiction", country)
        self.joined(country, *users)


def test_a_country_added_to_a_workspace_gets_on_its_node_the_records_made_before_it_joined(
    federation: LocalFederation, keycloak: Any, country_tokens: Any
) -> None:
    workspace = Workspace(federation, keycloak, country_tokens, "join")
    workspace.open("Harassment case")
    ws = workspace.id

    nl = md(country_tokens("nl-prosecutor"))

    def create(title: str, visibility: int) -> pb.Task:
        request = pb.CreateTaskRequest(
            request_id=rid(), workspace_id=ws, title=title, kind=pb.TASK_KIND_OTHER, assignee_jurisdiction="DE",
            visibility=visibility,
        )  # fmt: skip
        return _tasks(federation, "NL").CreateTask(request, metadata=nl, timeout=15).task

    open_task = create("Which accounts posted her address?", common_pb2.VISIBILITY_WORKSPACE)
    restricted = create("NL-DE only: the suspect's employer", common_pb2.VISIBILITY_RESTRICTED)
    # Changed once before IE joins: what IE's node gets is the version NL holds now.
    accepted = (
        _tasks(federation, "DE")
        .AcceptTask(
            pb.AcceptTaskRequest(id=open_task.id, expected_version=open_task.version),
            metadata=md(country_tokens("de-liaison")),
            timeout=15,
        )
        .task
    )
    eventually(
        lambda: (
            _listed(federation, "DE", country_tokens("de-liaison"), ws).get(open_task.id, pb.Task()).version
            == accepted.version
        ),
        timeout=30,
    )

    # IE joins the workspace: NL's administrator adds it, IE's puts its users in it on IE's node.
    workspace.add("IE", "ie-liaison")
    ie = country_tokens("ie-liaison")

    # The open task reaches IE's node, at NL's version, as NL's replica; the restricted one never does.
    seen = eventually(lambda: _listed(federation, "IE", ie, ws).get(open_task.id), timeout=45)
    assert seen.version == accepted.version and seen.replica.owner_node == "NL"
    assert seen.title == open_task.title
    with pytest.raises(grpc.RpcError) as refused:
        _tasks(federation, "IE").GetTask(pb.GetTaskRequest(id=restricted.id), metadata=md(ie), timeout=15)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert restricted.id not in _listed(federation, "IE", ie, ws)

    # A change after IE joined reaches IE as every change does (its audience now names IE).
    nl = md(country_tokens("nl-prosecutor"))
    updated = create("Posted after IE joined", common_pb2.VISIBILITY_WORKSPACE)
    eventually(lambda: updated.id in _listed(federation, "IE", ie, ws), timeout=30)

    # DE's replica is where it was: the tasks sent to IE's node were not sent to DE's again as changes.
    de_copy = _listed(federation, "DE", country_tokens("de-liaison"), ws)[open_task.id]
    assert de_copy.version == accepted.version


def _restart_tasks(node: Node, peers: str | None = None) -> None:
    """``node``'s tasks service stopped and started again, linked to ``peers`` (None: as the federation
    links it, every other node)."""
    terminate(node.processes.pop("tasks"))
    env = dict(node.env)
    if peers is not None:
        node.env = {**env, "JIT_FEDERATION_PEERS": peers}
    try:
        node.start_service("tasks", "services.tasks")
    finally:
        node.env = env
    node.wait_healthy()


def test_a_node_linked_after_its_country_joined_gets_the_records_made_before_the_link(
    federation: LocalFederation, keycloak: Any, country_tokens: Any
) -> None:
    """IE a member of the workspace while NL's tasks service ran linked to DE alone (IE's node linked to the
    federation after IE joined, or NL's operator late to list it in ``JIT_FEDERATION_PEERS``): NL's task
    went to DE's node, not IE's. Once NL's service starts linked to IE too, IE's node gets it, as NL's
    replica at NL's version (``jitlib.joining.link_peers``)."""
    workspace = Workspace(federation, keycloak, country_tokens, "link")
    workspace.open("Doxxing case")
    workspace.add("IE", "ie-liaison")
    ws, nl_node = workspace.id, federation.nodes["NL"]
    ie, de = country_tokens("ie-liaison"), country_tokens("de-liaison")
    _restart_tasks(nl_node, peers="DE")
    try:
        request = pb.CreateTaskRequest(
            request_id=rid(), workspace_id=ws, title="Who runs the account that posts her address?",
            kind=pb.TASK_KIND_OTHER, assignee_jurisdiction="DE", visibility=common_pb2.VISIBILITY_WORKSPACE,
        )  # fmt: skip
        task = _tasks(federation, "NL").CreateTask(request, metadata=md(country_tokens("nl-prosecutor")), timeout=15)
        eventually(lambda: task.task.id in _listed(federation, "DE", de, ws), timeout=30)
        # DE's copy and IE's would have left together: IE's node holds none.
        assert task.task.id not in _listed(federation, "IE", ie, ws)
    finally:
        _restart_tasks(nl_node)
    seen = eventually(lambda: _listed(federation, "IE", ie, ws).get(task.task.id), timeout=LINKED_WITHIN)
    assert seen.version == task.task.version and seen.replica.owner_node == "NL"
    assert seen.title == task.task.title
