"""A workspace on a federation: the lead's node opens it and announces it to the member countries'
nodes; each country's administrator puts their own users in it, in their own realm, on their own node."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.nodes import LocalFederation
from jitdev.realms import realm_name
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration
JIT = str(Path(sys.executable).parent / "jit")


def _jit(federation: LocalFederation, keycloak: Any, country: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The jit command as that country's operator runs it against their own node."""
    node = federation.nodes[country]
    env = {
        **os.environ,
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_REALM": realm_name(country),
        "JIT_KEYCLOAK_ADMIN_USER": keycloak.admin_user,
        "JIT_KEYCLOAK_ADMIN_PASSWORD": keycloak.admin_password,
        "JIT_NATS_URL": federation.nats.nodes[country].url,
        "JIT_NATS_CREDENTIALS_DIR": str(federation.nats.users[country].folder),
        "JIT_NODE_JURISDICTION": country,
        "JIT_FEDERATION_PEERS": ",".join(c for c in federation.countries if c != country),
        "JIT_CONFIG_DIR": str(node.folder / "cli-test"),
    }
    return subprocess.run([JIT, *args], env=env, capture_output=True, text=True, timeout=60)


def _words(result: subprocess.CompletedProcess[str]) -> str:
    """What the command printed, with line wrapping undone."""
    return " ".join((result.stdout + result.stderr).replace("│", " ").split())


def _tasks(federation: LocalFederation, country: str) -> tasks_pb2_grpc.TaskServiceStub:
    return tasks_pb2_grpc.TaskServiceStub(grpc.insecure_channel(federation.nodes[country].address("tasks")))


def test_the_lead_opens_a_workspace_and_each_country_adds_its_own_users(
    federation: LocalFederation, keycloak: Any, country_tokens: Any
) -> None:
    ws = f"case-{uuid.uuid4().hex[:8]}"
    create = [
        "admin", "workspace", "create", ws, "--name", "Doxxing case", "--lead", "NL", "--member", "DE",
        "--legal-basis", "JIT agreement NL-DE 2026/7", "--starts", "2026-01-01", "--ends", "2027-12-31",
    ]  # fmt: skip
    # Only the lead's node opens it.
    refused = _jit(federation, keycloak, "DE", *create)
    assert refused.returncode != 0 and "created on the NL node" in _words(refused)
    made = _jit(federation, keycloak, "NL", *create)
    assert made.returncode == 0, made.stdout + made.stderr
    added = _jit(federation, keycloak, "NL", "admin", "workspace", "add-member", ws, "--jurisdiction", "NL",
                 "--user", "nl-prosecutor")  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    country_tokens.forget("nl-prosecutor", "NL")  # a fresh token carries the new membership

    # DE's administrator joins with DE's users, in DE's realm, once NL's node announced it to DE's.
    joined = eventually(
        lambda: (
            (r := _jit(federation, keycloak, "DE", "admin", "workspace", "join", ws, "--user", "de-liaison")).returncode
            == 0
            and r
        ),
        timeout=30,
        interval=1.0,
    )
    assert "NL" in joined.stdout
    # IE is not a member: its node never heard of the workspace.
    not_member = _jit(federation, keycloak, "IE", "admin", "workspace", "join", ws, "--user", "ie-liaison")
    assert not_member.returncode != 0 and "has not been announced" in _words(not_member)

    task = (
        _tasks(federation, "NL")
        .CreateTask(
            pb.CreateTaskRequest(
                request_id=rid(), workspace_id=ws, title="Who runs the account?", kind=pb.TASK_KIND_OTHER,
                assignee_jurisdiction="DE",
            ),
            metadata=md(country_tokens("nl-prosecutor")),
            timeout=15,
        )
        .task
    )  # fmt: skip
    # A fresh DE token carries the new membership, from DE's realm.
    country_tokens.forget("de-liaison", "DE")

    def de_sees() -> bool:
        resp = _tasks(federation, "DE").ListTasks(
            pb.ListTasksRequest(workspace_id=ws), metadata=md(country_tokens("de-liaison")), timeout=15
        )
        return any(t.id == task.id and t.replica.owner_node == "NL" for t in resp.tasks)

    eventually(de_sees, timeout=30)
