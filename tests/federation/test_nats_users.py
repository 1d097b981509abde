"""Each country node's own NATS takes only its users (jitlib.natsauth): a client without credentials, or
with another node's, is refused; a service's user may not touch another service's subjects or commands;
and the node's services are connected, each as its own user (the other federation tests show they work)."""

from __future__ import annotations

import asyncio

import nats
import nats.errors
import pytest

from jitdev.nodes import LocalFederation

pytestmark = pytest.mark.integration


def test_a_node_refuses_a_client_without_credentials_or_with_another_nodes(federation: LocalFederation) -> None:
    async def attempt(**options: object) -> None:
        nc = await nats.connect(federation.nats.nodes["NL"].url, allow_reconnect=False, connect_timeout=5, **options)
        await nc.close()

    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(attempt())
    de_tasks = federation.nats.users["DE"].credentials("tasks")  # DE's password is not NL's
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(attempt(**de_tasks.connect_options()))


def test_a_nodes_service_user_is_refused_another_services_subjects_and_commands(federation: LocalFederation) -> None:
    errors: list[str] = []

    async def scenario() -> None:
        arrived = asyncio.Event()

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc).lower())
            arrived.set()

        options = federation.nats.users["NL"].credentials("tasks").connect_options()
        nc = await nats.connect(federation.nats.nodes["NL"].url, error_cb=on_error, allow_reconnect=False, **options)
        try:
            for subject in ("jit.evidence.NL.created", "jit.out.de.evidence.NL.created", "fed.cmd.de.evidence"):
                await nc.publish(subject, b"not mine")
            await nc.subscribe("fed.cmd.nl.evidence")
            while len(errors) < 4:
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), timeout=15)
        finally:
            await nc.close()

    asyncio.run(scenario())
    assert all("permissions violation" in e for e in errors), errors
    for subject in (
        "jit.evidence.nl.created",
        "jit.out.de.evidence.nl.created",
        "fed.cmd.de.evidence",
        "fed.cmd.nl.evidence",
    ):
        assert any(f'"{subject}"' in e for e in errors), (subject, errors)
