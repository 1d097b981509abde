"""The TLS profile, end to end on real servers: NATS with TLS on its client port, Keycloak over HTTPS (the
suite's one Keycloak, which serves both), and the tasks service with TLS on its gRPC port, all with
certificates from the suite's own CA (``jitlib.pki``).

The ``jit`` command, pointed at the CA, logs in over HTTPS, announces the workspaces over TLS to NATS and
creates and shows a task over TLS to the service, which fetched the realm's keys over HTTPS. Refused: a
plaintext gRPC client, a plaintext NATS client, and clients (gRPC, NATS, HTTPS) that trust another CA; on
a port that requires client certificates (mutual TLS), a client without one. The web console calls the
services over TLS and serves HTTPS. A node's link to the hub (a leafnode connection) runs over TLS, checked
both ways; a node without the CA and a certificate does not link.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import nats
import nats.errors
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from typer.testing import CliRunner, Result

from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitcli.main import app as jit_app
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib import natsconf, pki, tls
from jitlib.config import CommonSettings
from tests.harness import RunningService, start_service

pytestmark = pytest.mark.integration

RUNNER = CliRunner()
WORKSPACE = "jit-demo"


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> pki.LocalPki:
    """A second CA, with certificates for the same names: trusted by nothing of the node's."""
    return pki.write_local_pki(tmp_path_factory.mktemp("other-ca"), ca_name="Another federation CA")


@pytest.fixture(scope="module")
def tls_nats(test_pki: pki.LocalPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsInstance]:
    base = tmp_path_factory.mktemp("tls-nats")
    inst = NatsInstance(free_port(), base / "store", base / "nats.log", tls=test_pki.server).start()
    yield inst
    inst.stop()


def _common(
    test_pki: pki.LocalPki, keycloak: Any, nats_server: NatsInstance, state: Path, *, client_auth: bool = False
) -> CommonSettings:
    return CommonSettings(
        nats_url=nats_server.url,
        nats_tls_ca_file=test_pki.ca,
        oidc_issuer=keycloak.https_issuer,
        oidc_ca_file=test_pki.ca,
        tls_cert_file=test_pki.server.cert,
        tls_key_file=test_pki.server.key,
        tls_ca_file=test_pki.ca,
        tls_client_auth=client_auth,
        state_dir=state,
    )


def _start_tasks(common: CommonSettings, state: Path) -> RunningService:
    from services.tasks.app import TasksSettings, spec

    settings = TasksSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'tasks.db'}",
        consumer_group=f"tls-{uuid.uuid4().hex[:8]}",
    )
    return start_service(spec(), settings, common)


@pytest.fixture(scope="module")
def tls_tasks(
    test_pki: pki.LocalPki, keycloak: Any, tls_nats: NatsInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    state = tmp_path_factory.mktemp("tls-tasks")
    svc = _start_tasks(_common(test_pki, keycloak, tls_nats, state), state)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def mtls_tasks(
    test_pki: pki.LocalPki, keycloak: Any, tls_nats: NatsInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    state = tmp_path_factory.mktemp("mtls-tasks")
    svc = _start_tasks(_common(test_pki, keycloak, tls_nats, state, client_auth=True), state)
    yield svc
    svc.stop()


@pytest.fixture
def cli_env(
    test_pki: pki.LocalPki, keycloak: Any, tls_nats: NatsInstance, tls_tasks: RunningService, tmp_path: Path
) -> dict[str, str]:
    """What ``make run TLS=1`` tells the user to export: every URL is TLS and the CA is named."""
    return {
        "JIT_KEYCLOAK_URL": str(keycloak.https_url),
        "JIT_OIDC_CA_FILE": str(test_pki.ca),
        "JIT_TASKS_ADDR": f"127.0.0.1:{tls_tasks.app.port}",
        "JIT_TLS_CA_FILE": str(test_pki.ca),
        "JIT_NATS_URL": tls_nats.url,
        "JIT_NATS_TLS_CA_FILE": str(test_pki.ca),
        "JIT_KEYCLOAK_ADMIN_USER": keycloak.admin_user,
        "JIT_KEYCLOAK_ADMIN_PASSWORD": keycloak.admin_password,
        "JIT_CONFIG_DIR": str(tmp_path / "jit-config"),
    }


def jit(env: dict[str, str], *args: str) -> Result:
    result = RUNNER.invoke(jit_app, list(args), env=env)
    assert result.exit_code == 0, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    return result


def _health(channel: grpc.Channel) -> Any:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)


def _refused(channel: grpc.Channel) -> grpc.RpcError:
    with channel, pytest.raises(grpc.RpcError) as err:
        _health(channel)
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    return err.value  # type: ignore[return-value]


# ------------------------------------------------------------------ the CLI, end to end


def test_the_cli_pointed_at_the_ca_works_end_to_end_over_tls(cli_env: dict[str, str]) -> None:
    jit(cli_env, "login", "nl-prosecutor", "--password", "demo")  # the token grant, over HTTPS
    synced = json.loads(jit(cli_env, "--json", "admin", "workspace", "sync").stdout)  # Keycloak admin + NATS
    assert WORKSPACE in synced["workspaces"]
    args = [
        "--json",
        "task",
        "create",
        "--workspace",
        WORKSPACE,
        "--title",
        "Trace the wallet over TLS",
        "--assignee",
        "DE",
        "--due-in",
        "7d",
        "--request-id",
        str(uuid.uuid4()),
    ]
    deadline = time.monotonic() + 30
    while True:  # until the service has learnt the workspace from NATS (over TLS)
        result = RUNNER.invoke(jit_app, args, env=cli_env)
        if result.exit_code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.exit_code == 0, result.stderr
    task = json.loads(result.stdout)
    shown = json.loads(jit(cli_env, "--json", "task", "show", task["id"]).stdout)
    assert shown["title"] == "Trace the wallet over TLS"


def test_the_cli_without_the_ca_does_not_reach_the_service(cli_env: dict[str, str]) -> None:
    jit(cli_env, "login", "nl-prosecutor", "--password", "demo")
    plain = {k: v for k, v in cli_env.items() if k != "JIT_TLS_CA_FILE"}
    result = RUNNER.invoke(jit_app, ["task", "list", "--workspace", WORKSPACE], env=plain)
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ gRPC


def test_a_client_trusting_the_ca_is_served(test_pki: pki.LocalPki, tls_tasks: RunningService) -> None:
    creds = tls.channel_credentials(test_pki.ca)
    for host in ("127.0.0.1", "localhost"):
        with grpc.secure_channel(f"{host}:{tls_tasks.app.port}", creds) as channel:
            assert _health(channel).status == health_pb2.HealthCheckResponse.SERVING


def test_a_plaintext_grpc_client_is_refused(tls_tasks: RunningService) -> None:
    _refused(grpc.insecure_channel(f"127.0.0.1:{tls_tasks.app.port}"))


def test_a_grpc_client_trusting_another_ca_is_refused(other_ca: pki.LocalPki, tls_tasks: RunningService) -> None:
    creds = tls.channel_credentials(other_ca.ca)
    _refused(grpc.secure_channel(f"127.0.0.1:{tls_tasks.app.port}", creds))


def test_a_token_is_still_required_over_tls(test_pki: pki.LocalPki, tls_tasks: RunningService) -> None:
    creds = tls.channel_credentials(test_pki.ca)
    with grpc.secure_channel(f"127.0.0.1:{tls_tasks.app.port}", creds) as channel, pytest.raises(grpc.RpcError) as err:
        tasks_pb2_grpc.TaskServiceStub(channel).ListTasks(tasks_pb2.ListTasksRequest(), timeout=10)
    assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


def test_with_mutual_tls_a_client_without_a_certificate_is_refused(
    test_pki: pki.LocalPki, other_ca: pki.LocalPki, mtls_tasks: RunningService
) -> None:
    target = f"127.0.0.1:{mtls_tasks.app.port}"
    _refused(grpc.secure_channel(target, tls.channel_credentials(test_pki.ca)))
    # A certificate from another CA is no better than none.
    stranger = tls.channel_credentials(test_pki.ca, other_ca.client.cert, other_ca.client.key)
    _refused(grpc.secure_channel(target, stranger))
    member = tls.channel_credentials(test_pki.ca, test_pki.client.cert, test_pki.client.key)
    with grpc.secure_channel(target, member) as channel:
        assert _health(channel).status == health_pb2.HealthCheckResponse.SERVING


def test_a_service_tells_which_tls_file_it_cannot_use(
    test_pki: pki.LocalPki, keycloak: Any, tls_nats: NatsInstance, tmp_path: Path
) -> None:
    from jitlib.server import ServiceApp
    from services.tasks.app import TasksSettings, spec

    common = _common(test_pki, keycloak, tls_nats, tmp_path).model_copy(update={"tls_key_file": test_pki.client.key})
    app = ServiceApp(spec(), TasksSettings(listen="127.0.0.1:0", database_url=f"sqlite:///{tmp_path / 't.db'}"), common)
    # Refused before anything starts: no database, no NATS connection, no port.
    with pytest.raises(tls.TlsConfigError, match=r"client-key\.pem is not the key of .*server\.pem"):
        asyncio.run(app.start())
    assert app.runtime is None and not (tmp_path / "t.db").exists()


# ------------------------------------------------------------------ NATS


def _nats_refusal(url: str, **options: Any) -> BaseException:
    async def attempt() -> None:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=0, **options)
        await nc.close()

    with pytest.raises(Exception) as err:
        asyncio.run(attempt())
    return err.value


def test_a_nats_client_trusting_the_ca_connects(test_pki: pki.LocalPki, tls_nats: NatsInstance) -> None:
    async def roundtrip() -> bytes:
        nc = await nats.connect(tls_nats.url, tls=tls.client_context(test_pki.ca), allow_reconnect=False)
        try:
            sub = await nc.subscribe("tls.check")
            await nc.publish("tls.check", b"over tls")
            return (await sub.next_msg(timeout=5)).data
        finally:
            await nc.close()

    assert asyncio.run(roundtrip()) == b"over tls"


def test_a_plaintext_nats_client_is_refused(tls_nats: NatsInstance) -> None:
    # Speaking the protocol in clear on the TLS port: the server answers with an error and hangs up.
    with socket.create_connection(("127.0.0.1", tls_nats.port), timeout=10) as sock:
        info = sock.recv(4096)
        assert b'"tls_required":true' in info
        sock.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert b"PONG" not in answer


def test_a_nats_client_trusting_another_ca_is_refused(other_ca: pki.LocalPki, tls_nats: NatsInstance) -> None:
    err = _nats_refusal(tls_nats.url, tls=tls.client_context(other_ca.ca))
    assert isinstance(err, ssl.SSLCertVerificationError | nats.errors.NoServersError | OSError)


def test_a_nats_client_with_the_system_roots_is_refused(tls_nats: NatsInstance) -> None:
    _nats_refusal(tls_nats.url)


# ------------------------------------------------------------------ Keycloak over HTTPS


def test_keycloak_serves_https_with_the_ca_s_certificate(
    test_pki: pki.LocalPki, other_ca: pki.LocalPki, keycloak: Any
) -> None:
    url = f"{keycloak.https_issuer}/.well-known/openid-configuration"
    discovery = httpx.get(url, verify=tls.client_context(test_pki.ca), timeout=30).json()
    assert discovery["issuer"] == keycloak.https_issuer
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, verify=tls.client_context(other_ca.ca), timeout=30)


# ------------------------------------------------------------------ the web console


def test_the_console_calls_the_services_over_tls(
    test_pki: pki.LocalPki, keycloak: Any, tls_tasks: RunningService
) -> None:
    from services.console.backend import Backend, Refused
    from services.console.settings import ConsoleSettings

    token = keycloak.password_token("nl-prosecutor", https=True)["access_token"]
    addr = f"127.0.0.1:{tls_tasks.app.port}"

    async def list_tasks(settings: ConsoleSettings) -> Any:
        backend = Backend(settings)
        try:
            return await backend.call("tasks", "ListTasks", tasks_pb2.ListTasksRequest(workspace_id=WORKSPACE), token)
        finally:
            await backend.close()

    listed = asyncio.run(list_tasks(ConsoleSettings(tasks_addr=addr, tls_ca_file=test_pki.ca)))
    assert isinstance(listed, tasks_pb2.ListTasksResponse)
    with pytest.raises(Refused) as refused:  # a console without the CA does not get through
        asyncio.run(list_tasks(ConsoleSettings(tasks_addr=addr)))
    assert refused.value.code is grpc.StatusCode.UNAVAILABLE


def test_the_console_serves_https_only_when_given_a_certificate(
    test_pki: pki.LocalPki, keycloak: Any, tls_tasks: RunningService, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from jitdev.procs import wait_until
    from jitdev.stack import ROOT, console_env, console_healthy

    port = free_port()
    env = {
        **os.environ,
        **console_env(str(keycloak.https_url), "jit", port, {"tasks": f"127.0.0.1:{tls_tasks.app.port}"}),
        "JIT_CONSOLE_PUBLIC_URL": f"https://127.0.0.1:{port}",
        "JIT_CONSOLE_TLS_CERT_FILE": str(test_pki.server.cert),
        "JIT_CONSOLE_TLS_KEY_FILE": str(test_pki.server.key),
        "JIT_TLS_CA_FILE": str(test_pki.ca),
        "JIT_OIDC_CA_FILE": str(test_pki.ca),
        "JIT_OTEL_EXPORTER": "none",
    }
    log = tmp_path / "console.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.console"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        wait_until(lambda: _https_healthy(port, test_pki.ca), 60, "the web console (HTTPS)", log, proc)
        assert not console_healthy(port)  # plain HTTP on the same port gets no answer
        with httpx.Client(verify=tls.client_context(test_pki.ca)) as client:
            login = client.get(f"https://127.0.0.1:{port}/login")
        # The login goes to Keycloak over HTTPS, and the session cookie is Secure.
        assert login.status_code in (302, 303, 307)
        assert login.headers["location"].startswith(f"{keycloak.https_issuer}/protocol/openid-connect/auth?")
        assert "secure" in login.headers["set-cookie"].lower()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _https_healthy(port: int, ca: Path) -> bool:
    try:
        answer = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=tls.client_context(ca), timeout=2)
        return answer.status_code == 200
    except httpx.HTTPError:
        return False


# ------------------------------------------------------------------ a node's link to the hub (leafnodes)


@pytest.fixture(scope="module")
def tls_hub(test_pki: pki.LocalPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A hub whose client and leafnode ports take TLS clients with a certificate of the suite's CA only,
    with the configurations of two nodes: NL links with the CA and its certificate, DE with neither (its
    server then tries TLS with the system's roots, as the hub demands TLS, and presents no certificate)."""
    from jitdev.federation import NatsProcess

    root = tmp_path_factory.mktemp("tls-hub")
    hub_port, leaf_port, monitor = free_port(), free_port(), free_port()
    passwords = {"NL": uuid.uuid4().hex, "DE": uuid.uuid4().hex}
    server = test_pki.server
    hub_conf = natsconf.hub_config(
        ["NL", "DE"],
        passwords,
        port=hub_port,
        leafnode_port=leaf_port,
        monitor_port=monitor,
        tls=natsconf.tls_block(server.cert, server.key, test_pki.ca, verify=True),
    )
    hub = NatsProcess("hub", hub_port, natsconf.write(root / "hub.conf", hub_conf), root / "hub.log").start()
    nodes = {}
    for country, link_tls in (
        ("NL", natsconf.tls_block(server.cert, server.key, test_pki.ca)),
        ("DE", None),
    ):
        node = natsconf.NodeNats(
            country=country,
            port=free_port(),
            store_dir=root / country / "store",
            hub_url=f"nats-leaf://127.0.0.1:{leaf_port}",
            password=passwords[country],
            tls=natsconf.tls_block(server.cert, server.key),
            link_tls=link_tls,
        )
        conf = natsconf.write(root / country / "nats.conf", node.config())
        nodes[country] = NatsProcess(country.lower(), node.port, conf, root / country / "nats.log").start()
    yield {"hub": hub, "monitor": monitor, "nodes": nodes, "passwords": passwords}
    for proc in [*nodes.values(), hub]:
        proc.stop()


def _leafnodes(monitor: int) -> list[dict[str, Any]]:
    return list(httpx.get(f"http://127.0.0.1:{monitor}/leafz", timeout=5).json().get("leafs") or [])


def test_a_node_links_to_the_hub_over_tls_and_a_link_without_the_ca_is_refused(
    test_pki: pki.LocalPki, tls_hub: dict[str, Any]
) -> None:
    from tests.harness import eventually

    linked = eventually(lambda: _leafnodes(tls_hub["monitor"]), timeout=30)
    assert [leaf["account"] for leaf in linked] == ["NL"]
    # DE's attempt fails its handshake (the hub's log says so), and DE never links.
    hub_log = Path(tls_hub["hub"].log_path)
    eventually(lambda: "TLS leafnode handshake error" in hub_log.read_text(), timeout=30)
    assert [leaf["account"] for leaf in _leafnodes(tls_hub["monitor"])] == ["NL"]


def test_what_crosses_the_tls_link_arrives(test_pki: pki.LocalPki, tls_hub: dict[str, Any]) -> None:
    from tests.harness import eventually

    eventually(lambda: _leafnodes(tls_hub["monitor"]), timeout=30)
    nl, hub = tls_hub["nodes"]["NL"], tls_hub["hub"]
    client = tls.client_context(test_pki.ca, test_pki.client.cert, test_pki.client.key)

    async def across() -> bytes:
        # On the hub, in NL's account (its link user); on NL's node, a client of its TLS client port.
        at_hub = await nats.connect(
            f"tls://127.0.0.1:{hub.port}",
            user="nl",
            password=tls_hub["passwords"]["NL"],
            tls=client,
            allow_reconnect=False,
        )
        at_node = await nats.connect(f"tls://127.0.0.1:{nl.port}", tls=client, allow_reconnect=False)
        try:
            sub = await at_hub.subscribe("probe.tls")
            await at_hub.flush()
            deadline = time.monotonic() + 30
            while True:  # the hub learns the subscription over the link a moment later
                await at_node.publish("probe.tls", b"across the link")
                try:
                    return (await sub.next_msg(timeout=0.5)).data
                except nats.errors.TimeoutError:
                    if time.monotonic() > deadline:
                        raise
        finally:
            await at_node.close()
            await at_hub.close()

    assert asyncio.run(across()) == b"across the link"


def test_the_hub_refuses_a_client_without_a_certificate(test_pki: pki.LocalPki, tls_hub: dict[str, Any]) -> None:
    _nats_refusal(
        f"tls://127.0.0.1:{tls_hub['hub'].port}",
        user="nl",
        password=tls_hub["passwords"]["NL"],
        tls=tls.client_context(test_pki.ca),
    )


# ------------------------------------------------------------------ a forwarded command, answered over TLS


@pytest.fixture(scope="module")
def owner_node_tasks(
    test_pki: pki.LocalPki, keycloak: Any, tls_nats: NatsInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """NL's tasks service as a federation node runs it, with mutual TLS on its port: a command forwarded
    to it is run on its own port, so its loopback call must present the node's client certificate."""
    state = tmp_path_factory.mktemp("owner-tasks")
    common = _common(test_pki, keycloak, tls_nats, state, client_auth=True).model_copy(
        update={
            "node_jurisdiction": "NL",
            "federation_peers": "DE",
            "tls_client_cert_file": test_pki.client.cert,
            "tls_client_key_file": test_pki.client.key,
        }
    )
    svc = _start_tasks(common, state)
    yield svc
    svc.stop()


def test_a_forwarded_command_is_answered_through_the_owner_s_tls_port(
    test_pki: pki.LocalPki, keycloak: Any, tls_nats: NatsInstance, owner_node_tasks: RunningService
) -> None:
    from jitlib.forwarding import AUTHORIZATION, FORWARDED_BY, METHOD, STATUS, command_subject

    token = keycloak.password_token("de-liaison", https=True)["access_token"]
    missing = str(uuid.uuid4())

    async def forward() -> dict[str, str]:
        nc = await nats.connect(tls_nats.url, tls=tls.client_context(test_pki.ca), allow_reconnect=False)
        try:
            headers = {
                METHOD: "/jit.tasks.v1.TaskService/GetTask",
                AUTHORIZATION: f"Bearer {token}",
                FORWARDED_BY: "DE",
            }
            request = tasks_pb2.GetTaskRequest(id=missing).SerializeToString()
            deadline = time.monotonic() + 30
            while True:  # until the responder has subscribed
                try:
                    reply = await nc.request(command_subject("NL", "tasks"), request, timeout=5, headers=headers)
                    return dict(reply.headers or {})
                except nats.errors.NoRespondersError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await nc.close()

    answer = asyncio.run(forward())
    # NOT_FOUND: the call went through TLS (with the client certificate), the token was checked and the
    # task looked up. A failed handshake would answer UNAVAILABLE.
    assert answer[STATUS] == str(grpc.StatusCode.NOT_FOUND.value[0]), answer
