"""Session fixtures: the real servers the suite needs (Keycloak, NATS JetStream, PostgreSQL) started on
free ports with data in a temporary folder, and stopped at the end. Nothing here is mocked."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from jitdev import procs
from jitdev.nats import NatsInstance
from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port
from jitlib.natsauth import Credentials, NodeUsers, node_users

SPANS = InMemorySpanExporter()


def pytest_configure(config: pytest.Config) -> None:
    # One in-memory tracer provider for the whole run, installed before any service starts.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)
    # The `jit` command's tables are checked as it prints them into a pipe (one row a line); an xdist
    # worker is given COLUMNS=80 and LINES=24, which would wrap them.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    # Each worker, and every server it starts, picks its free ports from a part of the range of its own (a
    # worker started again after a crash is numbered after the others: it takes the part of the one it
    # replaces, whose numbers are not picked any more).
    worker, workers = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and workers:
        os.environ[procs.PORT_SHARE_ENV] = f"{int(worker[2:]) % int(workers)}/{int(workers)}"


#: Folders whose tests share one costly session fixture: under `make test`'s workers (pytest-xdist) each
#: runs whole on one worker, so the fixture starts once (the federation's three nodes, the console's browser).
SHARED_FOLDERS = ("federation", "console")


def work_unit(nodeid: str) -> str:
    """What runs whole on one worker: a test's module (its module fixtures, a service on each backend, start
    once and its tests run in order), or its folder when that is one of ``SHARED_FOLDERS``."""
    parts = nodeid.split("::", 1)[0].split("/")
    if len(parts) > 2 and parts[1] in SHARED_FOLDERS:
        return "/".join(parts[:2])
    return "/".join(parts)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test`'s workers take ``work_unit``s in the order collected: the servers' tests first, the many
    short unit tests last, where they fill the end of the run. Each worker starts its own Keycloak, NATS and
    PostgreSQL: a test that changes a realm or closes a workspace sees only its worker's. (A scheduler of
    our own: xdist's ``loadgroup`` marks no longer group anything on pytest 9.2, xdist issue 1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False
    return ByWorkUnit(config, log)


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    return SPANS


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def nats_users(stack_dir: Path) -> Iterator[NodeUsers]:
    """The NATS users of the suite's node: one per service and one for ``jit admin`` (jitlib.natsauth).
    Every service the suite starts connects as its own user: the credentials folder is given to them
    through ``JIT_NATS_CREDENTIALS_DIR`` (each reads its own file), for the session."""
    users = node_users(stack_dir / "nats-users")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JIT_NATS_CREDENTIALS_DIR", str(users.folder))
        yield users


#: The suite's own NATS user, TEST-ONLY: no permissions block (everything), for test code that reads
#: streams or forges events as someone with broker access would; it connects through ``nats_server.url``.
SUITE_USER = Credentials("suite", SecretStr(secrets.token_urlsafe(24)))


def authenticated_nats(base: Path, users: NodeUsers) -> NatsInstance:
    """A NATS server that refuses unauthenticated clients: the node's users with their permissions, and
    the suite's user, written into its ``url``."""
    suite = {"user": SUITE_USER.user, "password": SUITE_USER.password.get_secret_value()}
    return NatsInstance(
        free_port(),
        base / "nats",
        base / "nats.log",
        authorization=users.authorization(extra_users=[suite]),
        url_credentials=SUITE_USER,
        monitor_port=free_port(),
    )


@pytest.fixture(scope="session")
def nats_server(stack_dir: Path, nats_users: NodeUsers) -> Iterator[NatsInstance]:
    """The suite's NATS: it refuses a client without credentials; each service connects as its own user."""
    inst = authenticated_nats(stack_dir, nats_users).start()
    yield inst
    inst.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresInstance]:
    base = tmp_path_factory.mktemp("pg")
    inst = PostgresInstance(free_port(), base / "data", base / "postgres.log").start()
    yield inst
    inst.stop()


@pytest.fixture(scope="session")
def test_pki(stack_dir: Path) -> Any:
    """A CA of the suite's own, with a server certificate for 127.0.0.1/localhost and a client
    certificate (``jitlib.pki.LocalPki``): what the TLS profile's servers and clients use."""
    from jitlib.pki import write_local_pki

    return write_local_pki(stack_dir / "tls")


@pytest.fixture(scope="session")
def keycloak(stack_dir: Path, test_pki: Any) -> Iterator[Any]:
    """The suite's one Keycloak: plain HTTP (``base_url``) for most tests, and HTTPS (``https_url``, with
    the suite's CA) for the TLS profile's, from the same server (a second one would take as long to start)."""
    from jitdev.keycloak import running_keycloak

    with running_keycloak("test", log_dir=stack_dir / "keycloak", tls=test_pki.server) as kc:
        yield kc


@pytest.fixture(scope="session")
def country_realms(keycloak: Any) -> tuple[str, ...]:
    """One realm per country (``jit-nl``, ``jit-de``, ``jit-ie``) beside the demo realm, as a local
    federation runs them; made once per session and left until the suite's Keycloak stops."""
    from jitcli import kcadmin
    from jitdev.nodes import ensure_country_realms

    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    countries = ("NL", "DE", "IE", "FR")  # FR: no node, but trusted for its own users (the outsider)
    ensure_country_realms(admin, countries)
    return countries


@pytest.fixture
def forgets_failed_logins(keycloak: Any) -> Iterator[None]:
    """For a test that sends a wrong password for a demo account the suite shares: the realm's
    brute-force detection counts it, and two failures within a second (quickLoginCheckMilliSeconds)
    lock the account for a minute, refused to every later test with the same "Invalid user
    credentials". The test's failures are forgotten once it ends, through the admin API."""
    from jitcli import kcadmin

    yield
    kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password).clear_all_bruteforce_attempts()


class Tokens:
    """Access tokens of the demo users, fetched from the real Keycloak and cached until near expiry. The first
    of a test's threads to find a user's token near expiry logs in while the others wait for it: Keycloak's
    brute-force detection refuses a user's concurrent logins, good password or not ("Invalid user
    credentials")."""

    def __init__(self, kc: Any) -> None:
        self._kc = kc
        self._cache: dict[str, tuple[str, float]] = {}
        self._login = threading.Lock()

    def __call__(self, username: str) -> str:
        return self._cached(username, lambda: self._kc.password_token(username, "demo"))

    def _cached(self, key: str, login: Callable[[], dict[str, Any]]) -> str:
        """The token cached under ``key``, or a new one from ``login`` (a token response) when it is near expiry."""
        with self._login:
            tok, exp = self._cache.get(key, ("", 0.0))
            if time.time() > exp - 30:
                resp = login()
                tok, exp = resp["access_token"], time.time() + float(resp["expires_in"])
                self._cache[key] = (tok, exp)
            return tok


@pytest.fixture(scope="session")
def tokens(keycloak: Any) -> Tokens:
    return Tokens(keycloak)


@pytest.fixture(scope="session")
def demo_workspace_synced(keycloak: Any, nats_server: NatsInstance, nats_users: NodeUsers) -> str:
    """Publish the demo workspace from Keycloak to NATS, as `jit admin workspace sync` does."""
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces

    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    workspaces = kcadmin.list_workspaces(admin)
    asyncio.run(publish_workspaces(nats_server.address, workspaces, credentials=nats_users.credentials("admin")))
    return "jit-demo"


async def _read_stream(url: str, stream: str, subject: str) -> list[Any]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject, stream=stream)
        out = []
        while True:
            try:
                msgs = await sub.fetch(256, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            for m in msgs:
                out.append(m)
                await m.ack()
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def read_stream(url: str, stream: str, subject: str) -> list[Any]:
    """Every message on ``stream`` matching ``subject`` (a fresh ephemeral consumer, from the start)."""
    return asyncio.run(_read_stream(url, stream, subject))


# ---- the tasks service, on each database backend ---------------------------------------------------

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    import uuid

    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tasks.db'}"
    pg = request.getfixturevalue("postgres")
    return str(pg.create_database(f"tasks_{uuid.uuid4().hex[:12]}"))


@pytest.fixture(scope="module")
def own_nats(
    db_url: str, keycloak: Any, nats_users: NodeUsers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NatsInstance]:
    """A NATS of this module's own (one per backend the module runs on: ``db_url``), with the workspaces of
    Keycloak announced on it: a test may close the demo workspace there without closing it for any other
    module, or for the module's run on the other backend."""
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces

    base = tmp_path_factory.mktemp("own-nats")
    inst = authenticated_nats(base, nats_users).start()
    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    workspaces = kcadmin.list_workspaces(admin)
    asyncio.run(publish_workspaces(inst.address, workspaces, credentials=nats_users.credentials("admin")))
    yield inst
    inst.stop()


def wait_for_workspace(svc: Any, ws_id: str, timeout: float = 30) -> None:
    from jitlib.workspaces import get_workspace

    async def known() -> bool:
        return await svc.rt.read(lambda s: get_workspace(s, svc.rt.tables, ws_id)) is not None

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.loop.run(known()):
            return
        time.sleep(0.1)
    raise AssertionError(f"workspace {ws_id} never reached the service's directory")


def amend_membership(svc: Any, url: str, ws_id: str, jurisdiction: str, *, taken_out: bool) -> None:
    """An amendment of the JIT agreement as ``jit admin workspace remove-member`` (``taken_out``) or
    ``add-member`` announces it on the NATS at ``url``: the workspace as ``svc``'s directory has it, in a new
    version with ``jurisdiction`` taken out (in ``former_members``) or a member again; back once ``svc``'s
    directory has that version."""
    from jit.common.v1 import common_pb2
    from jitlib import workspaces

    info = svc.rt.workspaces.get(ws_id)
    assert info is not None, f"workspace {ws_id} is not in the service's directory"
    members = set(info.members) - {jurisdiction} if taken_out else {*info.members, jurisdiction}
    former = {*info.former_members, jurisdiction} if taken_out else set(info.former_members) - {jurisdiction}
    ws = common_pb2.Workspace(
        id=info.id,
        name=info.name,
        lead=info.lead,
        members=sorted(members),
        former_members=sorted(former),
        status=common_pb2.WORKSPACE_STATUS_OPEN,
        version=info.version + 1,
        starts_on=info.starts_on,
        ends_on=info.ends_on,
    )

    async def publish() -> None:
        nc = await nats.connect(url)
        try:
            await workspaces.publish(nc.jetstream(), ws, common_pb2.Actor(username="test"))
        finally:
            await nc.close()

    asyncio.run(publish())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = svc.rt.workspaces.get(ws_id)
        if now is not None and now.version >= ws.version:
            return
        time.sleep(0.05)
    raise AssertionError(f"the amendment of {ws_id} never reached the service's directory")


@pytest.fixture(scope="module")
def tasks_svc(
    db_url: str,
    keycloak: Any,
    nats_server: NatsInstance,
    demo_workspace_synced: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    import uuid

    from jitlib.clock import OffsetClock
    from jitlib.config import CommonSettings
    from services.tasks.app import TasksSettings, spec
    from tests.harness import start_service

    common = CommonSettings(
        nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path_factory.mktemp("state")
    )
    settings = TasksSettings(listen="127.0.0.1:0", database_url=db_url, consumer_group=f"tasks-{uuid.uuid4().hex[:8]}")
    svc = start_service(spec(), settings, common, clock=OffsetClock())
    wait_for_workspace(svc, demo_workspace_synced)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def victims_svc(
    db_url: str,
    keycloak: Any,
    nats_server: NatsInstance,
    demo_workspace_synced: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    """The victims service on the module's database backend (``db_url``)."""
    import uuid

    from jitlib.config import CommonSettings
    from services.victims.app import VictimsSettings, spec
    from tests.harness import start_service

    common = CommonSettings(
        nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path_factory.mktemp("state")
    )
    settings = VictimsSettings(
        listen="127.0.0.1:0", database_url=db_url, consumer_group=f"victims-{uuid.uuid4().hex[:8]}"
    )
    svc = start_service(spec(), settings, common)
    wait_for_workspace(svc, demo_workspace_synced)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def cli_env(
    keycloak: Any, nats_server: NatsInstance, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Environment pointing the `jit` command at a tasks service (SQLite) and the suite's servers."""
    import uuid

    from jitlib.config import CommonSettings
    from services.tasks.app import TasksSettings, spec
    from tests.harness import start_service

    state = tmp_path_factory.mktemp("cli-state")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    settings = TasksSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'tasks.db'}",
        consumer_group=f"cli-{uuid.uuid4().hex[:8]}",
    )
    svc = start_service(spec(), settings, common)
    wait_for_workspace(svc, demo_workspace_synced)
    yield {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_TASKS_ADDR": f"127.0.0.1:{svc.app.port}",
        "JIT_NATS_URL": nats_server.url,
        "JIT_KEYCLOAK_ADMIN_USER": keycloak.admin_user,
        "JIT_KEYCLOAK_ADMIN_PASSWORD": keycloak.admin_password,
    }
    svc.stop()
