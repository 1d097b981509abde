"""Three per-country nodes (NL, DE, IE) on loopback, linked through a hub, each with its own NATS
(JetStream domain), its four services as separate processes, and its own state folder; one Keycloak with a
realm per country. Started once for the session, as ``make run NODES=nl,de,ie`` starts them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from jitdev.nodes import LocalFederation, Ports, announce_workspaces
from jitdev.procs import free_port
from jitdev.realms import realm_name
from tests.conftest import Tokens

COUNTRIES = ["NL", "DE", "IE"]


@pytest.fixture(scope="session")
def federation(
    keycloak: Any, country_realms: tuple[str, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    root: Path = tmp_path_factory.mktemp("federation")
    fed = LocalFederation(COUNTRIES, root, Ports.free(COUNTRIES, free_port), keycloak.base_url, guests=["FR"])
    fed.start()
    try:
        announce_workspaces(fed, keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
        yield fed
    finally:
        fed.stop()


class CountryTokens(Tokens):
    """Access tokens from each country's own realm, cached until near expiry (``Tokens``: one login at a time)."""

    def __call__(self, username: str, country: str | None = None) -> str:
        country = country or username.split("-")[0].upper()

        def login() -> dict[str, Any]:
            resp = httpx.post(
                f"{self._kc.base_url}/realms/{realm_name(country)}/protocol/openid-connect/token",
                data={"grant_type": "password", "client_id": "jit-cli", "username": username, "password": "demo"},
                timeout=30,
            )
            resp.raise_for_status()
            return dict(resp.json())

        return self._cached(f"{country}/{username}", login)

    def forget(self, username: str, country: str) -> None:
        """Drop a cached token, so the next one carries what changed (a new group membership)."""
        self._cache.pop(f"{country}/{username}", None)


@pytest.fixture(scope="session")
def country_tokens(keycloak: Any) -> CountryTokens:
    return CountryTokens(keycloak)


@pytest.fixture(scope="session")
def channels(federation: LocalFederation) -> Iterator[dict[tuple[str, str], grpc.Channel]]:
    """A gRPC channel to each service of each node, by (country, service)."""
    opened = {
        (c, svc): grpc.insecure_channel(node.address(svc)) for c, node in federation.nodes.items() for svc in node.ports
    }
    yield opened
    for ch in opened.values():
        ch.close()


def nl_task(federation: LocalFederation, tokens: Any, title: str) -> Any:
    """A task the NL prosecutor creates on NL's node in jit-demo, addressed to DE (restricted to NL, DE)."""
    from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
    from tests.harness import md, rid

    stub = tasks_pb2_grpc.TaskServiceStub(grpc.insecure_channel(federation.nodes["NL"].address("tasks")))
    req = tasks_pb2.CreateTaskRequest(
        request_id=rid(),
        workspace_id="jit-demo",
        title=title,
        kind=tasks_pb2.TASK_KIND_OTHER,
        assignee_jurisdiction="DE",
    )
    return stub.CreateTask(req, metadata=md(tokens("nl-prosecutor")), timeout=15).task
