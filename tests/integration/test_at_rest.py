"""Case content encrypted at rest (issue 14): every service of a node, on SQLite files as `make run` keeps
them, with the node's KEK file; a task, an evidence request (with an item and the executing state's consent
to another use of it) and a preservation order written through the `jit` command. A byte search of every
database file (``*.db``, ``*-wal``, ``*-shm``) finds none of their text, and the command still shows it.
Then the workspace is crypto-shredded by the operator's command: the text reads as "[content destroyed]"
(the item's consents as none), never as an error, and nothing new is written in it."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from jitcli.main import app
from jitlib import crypto, keytool, sealing
from jitlib.config import CommonSettings
from tests.harness import RunningService, eventually, start_all_services

pytestmark = pytest.mark.integration
RUNNER = CliRunner()
WS = "jit-demo"
MARK = uuid.uuid4().hex[:10]
TASK_TITLE = f"Identify the holder of @sealed_{MARK}"
TASK_DESCRIPTION = f"Task details zzdesc{MARK}"
REQUEST_TITLE = f"Subscriber data zzreqtitle{MARK}"
REQUEST_DESCRIPTION = f"Request description zzreqdesc{MARK}"
ORDER_DESCRIPTION = f"Order description zzorderdesc{MARK}"
VICTIM_NAME = f"Anna zzvictim{MARK}"
VICTIM_CONTACT = f"Prinsengracht zzcontact{MARK}"
#: The use DE consents to for its evidence (JIT_OTHER_USE_NEEDS_CONSENT), recorded weeks on: case text too.
CONSENT_PURPOSE = f"prosecution of fraud by zzconsent{MARK}"
SECRETS = [
    TASK_TITLE, TASK_DESCRIPTION, REQUEST_TITLE, REQUEST_DESCRIPTION, ORDER_DESCRIPTION, VICTIM_NAME, VICTIM_CONTACT,
    CONSENT_PURPOSE,
]  # fmt: skip


@pytest.fixture(scope="module")
def node(
    keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, RunningService]]]:
    state = tmp_path_factory.mktemp("at-rest")
    kek_file = state / "kek.b64"
    assert crypto.generate_kek_file(kek_file)  # as make run and `jit node init` make it
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state, kek_file=kek_file)
    running = start_all_services(common, state, "atrest")
    try:
        yield state, running
    finally:
        for svc in running.values():
            svc.stop()


@pytest.fixture(scope="module")
def jit(node: tuple[Path, dict[str, RunningService]], keycloak: Any, nats_server: Any, tmp_path_factory: Any) -> Any:
    _, running = node
    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_NATS_URL": nats_server.url,
        "JIT_CONFIG_DIR": str(tmp_path_factory.mktemp("cfg")),
        **{f"JIT_{name.upper()}_ADDR": f"127.0.0.1:{svc.app.port}" for name, svc in running.items()},
    }

    def run(*args: str, ok: bool = True) -> Any:
        res = RUNNER.invoke(app, list(args), env=env)
        assert "Traceback" not in res.stdout + res.stderr
        if ok:
            assert res.exit_code == 0, res.stdout + res.stderr
        return res

    for user in ("nl-prosecutor", "nl-liaison", "de-liaison", "de-prosecutor"):
        run("login", user, "--password", "demo")
    return run


@pytest.fixture(scope="module")
def written(jit: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    task = json.loads(
        jit(
            "--json",
            "--as",
            "nl-prosecutor",
            "task",
            "create",
            "--workspace",
            WS,
            "--assignee",
            "DE",
            "--kind",
            "identify-account-holder",
            "--title",
            TASK_TITLE,
            "--description",
            TASK_DESCRIPTION,
            "--due-in",
            "10d",
        ).stdout
    )
    order = json.loads(
        jit(
            "--json",
            "--as",
            "nl-liaison",
            "preservation",
            "create",
            "--workspace",
            WS,
            "--provider",
            "socialnet-ie",
            "--basis",
            "epoc-pr",
            "--target",
            f"handle:@order_{MARK}",
            "--data",
            "subscriber",
            "--description",
            ORDER_DESCRIPTION,
        ).stdout
    )
    request = json.loads(
        jit(
            "--json",
            "--as",
            "nl-prosecutor",
            "evidence",
            "request",
            "create",
            "--workspace",
            WS,
            "--basis",
            "eio",
            "--to",
            "DE",
            "--authority",
            "Public Prosecution Service, Amsterdam (NL)",
            "--title",
            REQUEST_TITLE,
            "--description",
            REQUEST_DESCRIPTION,
            "--target",
            f"account:@req_{MARK}",
            "--data",
            "subscriber",
            "--offence",
            "cyberstalking",
            "--issue",
        ).stdout
    )
    victim = json.loads(
        jit(
            "--json", "--as", "de-liaison", "victim", "register", "--workspace", WS, "--jurisdiction", "DE",
            "--name", VICTIM_NAME, "--contact", VICTIM_CONTACT,
        ).stdout
    )  # fmt: skip
    # DE executes the request, NL's liaison receives DE's evidence, and DE's prosecutor consents to its use.
    jit("--as", "de-liaison", "evidence", "request", "acknowledge", request["id"])
    jit("--as", "de-liaison", "evidence", "request", "start-execution", request["id"])
    src = tmp_path_factory.mktemp("upload") / "chat.txt"
    src.write_bytes(b"chat log sent by DE")
    item = json.loads(
        jit("--json", "--as", "nl-liaison", "evidence", "upload", str(src), "--request", request["id"]).stdout
    )
    jit("--as", "de-prosecutor", "evidence", "item", "consent", item["id"], "--purpose", CONSENT_PURPOSE)
    return {
        "task": task["id"], "order": order["id"], "request": request["id"], "victim": victim["id"], "item": item["id"],
    }  # fmt: skip


def _settled(running: dict[str, RunningService], written: dict[str, str]) -> bool:
    """Every outbox sent, and messaging's notices of the three records posted."""
    for svc in running.values():
        if svc.loop.run(svc.rt.relay.pending_count()) != 0:
            return False
    messaging = running["messaging"]
    inbox = messaging.rt.tables.inbox
    count = messaging.loop.run(messaging.rt.read(lambda s: s.scalar(select(func.count()).select_from(inbox))))
    return int(count or 0) >= 3


def database_files(state: Path) -> list[Path]:
    return sorted(p for pattern in ("*.db", "*-wal", "*-shm") for p in state.rglob(pattern) if p.is_file())


def test_a_byte_search_of_the_databases_finds_no_case_text_and_the_cli_still_shows_it(
    node: tuple[Path, dict[str, RunningService]], jit: Any, written: dict[str, str]
) -> None:
    state, running = node
    eventually(lambda: _settled(running, written), timeout=60)
    files = database_files(state)
    assert {f.name for f in files} >= {f"{n}.db" for n in running}
    assert any(f.name.endswith("-wal") for f in files)  # the write-ahead logs are searched too
    for f in files:
        data = f.read_bytes()
        for secret in SECRETS:
            for variant in (secret, MARK):
                assert variant.encode() not in data, f"{variant!r} in clear in {f.name}"
                assert variant.encode("utf-16-le") not in data

    shown = jit("--as", "nl-prosecutor", "task", "show", written["task"]).stdout
    assert TASK_TITLE in shown and TASK_DESCRIPTION in shown
    request = json.loads(
        jit("--json", "--as", "nl-prosecutor", "evidence", "request", "show", written["request"]).stdout
    )
    assert (request["title"], request["description"]) == (REQUEST_TITLE, REQUEST_DESCRIPTION)
    assert f"@req_{MARK}" in json.dumps(request["targets"])
    assert REQUEST_TITLE in jit("--as", "nl-prosecutor", "evidence", "request", "show", written["request"]).stdout
    items = jit("--as", "nl-prosecutor", "evidence", "items", "--request", written["request"]).stdout
    assert "other use: DE consents" in items and CONSENT_PURPOSE in items
    order = json.loads(jit("--json", "--as", "nl-liaison", "preservation", "show", written["order"]).stdout)
    assert order["description"] == ORDER_DESCRIPTION and f"@order_{MARK}" in json.dumps(order["targets"])
    identity = jit("--as", "de-liaison", "victim", "identity", written["victim"], "--purpose", "at-rest check").stdout
    assert VICTIM_NAME in identity and VICTIM_CONTACT in identity


def test_the_node_kek_wraps_every_service_key_and_never_reaches_a_database(
    node: tuple[Path, dict[str, RunningService]], written: dict[str, str]
) -> None:
    state, running = node
    kek_text = (state / "kek.b64").read_text().strip()
    kek = crypto.KekRing.parse(kek_text).current
    for name, svc in running.items():
        if name == "messaging":
            continue
        usage = sealing.db_kek_usage(svc.rt.db, svc.app.spec.metadata)
        assert set(usage) == {kek.id}, name
    for f in database_files(state):
        data = f.read_bytes()
        assert kek.key not in data and kek_text.encode() not in data


def test_a_shredded_workspace_reads_as_destroyed_and_takes_nothing_new(
    node: tuple[Path, dict[str, RunningService]],
    jit: Any,
    written: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, _ = node
    monkeypatch.setenv("JIT_STATE_DIR", str(state))
    monkeypatch.setenv("JIT_KEK_FILE", str(state / "kek.b64"))
    assert keytool.main(["shred", "--workspace", WS]) == 2  # not without --yes
    # An event of the workspace the broker never took (the tasks service's relay stopped first, as an outage
    # of NATS leaves one): the operator's shred destroys it with the content, and its certificate counts it.
    node[1]["tasks"].leave_unpublished(WS, "jit.tasks.task.changed", datetime.now(UTC))
    assert keytool.main(["shred", "--workspace", WS, "--yes", "--by", "operator test-run"]) == 0
    said = capsys.readouterr().out
    assert f"tasks: the content of workspace {WS} is destroyed" in said

    def destroyed() -> bool:
        res = jit("--as", "nl-prosecutor", "task", "show", written["task"], ok=False)
        return res.exit_code == 0 and sealing.DESTROYED in res.stdout

    eventually(destroyed, timeout=3 * sealing.RECHECK_SECONDS)
    shown = jit("--as", "nl-prosecutor", "task", "show", written["task"]).stdout
    assert TASK_TITLE not in shown
    eventually(
        lambda: (
            sealing.DESTROYED
            in jit("--as", "nl-prosecutor", "evidence", "request", "show", written["request"], ok=False).stdout
        ),
        timeout=3 * sealing.RECHECK_SECONDS,
    )
    eventually(
        lambda: (
            ORDER_DESCRIPTION
            not in jit("--as", "nl-liaison", "preservation", "show", written["order"], ok=False).stdout
        ),
        timeout=3 * sealing.RECHECK_SECONDS,
    )

    def consents_gone() -> bool:
        """The item's consents went with its other text: it reads as having none."""
        res = jit("--as", "nl-prosecutor", "evidence", "items", "--request", written["request"], ok=False)
        return res.exit_code == 0 and f"item {written['item']}" in res.stdout and "other use:" not in res.stdout

    eventually(consents_gone, timeout=3 * sealing.RECHECK_SECONDS)
    # VICTIM_IDENTITY_NEED_TO_KNOW: a shredded identity is gone for its need-to-know readers too.
    eventually(
        lambda: (
            sealing.DESTROYED
            in jit("--as", "de-liaison", "victim", "identity", written["victim"], "--purpose", "after", ok=False).stdout
        ),
        timeout=3 * sealing.RECHECK_SECONDS,
    )
    listed = jit("--as", "nl-prosecutor", "task", "list", "--workspace", WS)
    assert listed.exit_code == 0 and "INTERNAL" not in listed.stdout + listed.stderr
    refused = jit(
        "--as",
        "nl-prosecutor",
        "task",
        "create",
        "--workspace",
        WS,
        "--assignee",
        "DE",
        "--kind",
        "identify-account-holder",
        "--title",
        "after the shred",
        "--due-in",
        "10d",
        ok=False,
    )
    assert refused.exit_code == 1 and "FAILED_PRECONDITION" in refused.stderr
    capsys.readouterr()
    assert keytool.main(["status"]) == 0
    said = capsys.readouterr().out
    assert "every data key is under the current KEK" in said
    # The workspace's key is gone from every service that sealed its content (a tombstone at most). Other
    # workspaces' keys may exist: the node's consumers read the suite's shared streams from the start.
    for name in ("tasks", "evidence", "preservation"):
        with sqlite3.connect(state / f"{name}.db") as conn:
            rows = conn.execute(
                "SELECT wrapped IS NULL, destroyed_at IS NOT NULL FROM workspace_keys WHERE workspace_id = ?", (WS,)
            ).fetchall()
        assert all(row == (1, 1) for row in rows), name
    # DELETION_CERTIFICATE: the operator's shred is certified in each service, by the operator.
    certs = keytool.certificates(CommonSettings(), WS)
    assert {c["service"] for c in certs} >= {"tasks", "evidence", "preservation"}
    assert all(c["by"] == "operator test-run" and c["digest_ok"] and c["audit_seq"] > 0 for c in certs)
    assert next(c for c in certs if c["service"] == "tasks")["counts"]["tasks"] >= 1
    assert next(c for c in certs if c["service"] == "tasks")["counts"][sealing.NEVER_PUBLISHED] == 1
    assert all(sealing.NEVER_PUBLISHED not in c["counts"] for c in certs if c["service"] != "tasks")
