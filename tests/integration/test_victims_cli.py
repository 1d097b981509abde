"""``jit victim ...`` against a live victims service (SQLite), Keycloak and NATS: register a victim, find
it by pseudonym, read the identity with a purpose as the victim's jurisdiction (and be told it does not
exist otherwise), record a notice and a referral. Commands run in-process and are checked on their output."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from jitcli.main import app
from jitlib.config import CommonSettings
from tests.conftest import wait_for_workspace
from tests.harness import start_service

pytestmark = pytest.mark.integration
RUNNER = CliRunner()
WS = "jit-demo"


@pytest.fixture(scope="module")
def env(
    keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    from services.victims.app import VictimsSettings, spec

    state = tmp_path_factory.mktemp("victims-cli")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    settings = VictimsSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'victims.db'}",
        consumer_group=f"cli-{uuid.uuid4().hex[:8]}",
    )
    svc = start_service(spec(), settings, common)
    wait_for_workspace(svc, demo_workspace_synced)
    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_VICTIMS_ADDR": f"127.0.0.1:{svc.app.port}",
        "JIT_NATS_URL": nats_server.url,
        "JIT_CONFIG_DIR": str(Path(state) / "config"),
    }
    for user in ("nl-prosecutor", "de-liaison", "ie-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    yield env
    svc.stop()


def jit(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = RUNNER.invoke(app, list(args), env=env)
    assert result.exit_code == code, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_a_victim_is_registered_listed_and_shown_by_pseudonym_never_by_identity(env: dict[str, str]) -> None:
    """VICTIM_PSEUDONYM"""
    name = f"Anna cli{uuid.uuid4().hex[:8]}"
    victim = json.loads(
        jit(
            env, "--json", "--as", "de-liaison", "victim", "register", "--workspace", WS, "--jurisdiction", "de",
            "--name", name, "--born", "1990-02-03", "--language", "de", "--language", "en",
        ).stdout
    )  # fmt: skip
    pseudonym = victim["pseudonym"]
    assert pseudonym.startswith("V-NL-") and victim["victim_jurisdiction"] == "DE"
    listed = jit(env, "--as", "ie-prosecutor", "victim", "list", "--workspace", WS).stdout
    assert pseudonym in listed and name not in listed
    shown = jit(env, "--as", "ie-prosecutor", "victim", "show", pseudonym).stdout
    assert pseudonym in shown and name not in shown and "You may: nothing now" in shown
    shown = jit(env, "--as", "de-liaison", "victim", "show", pseudonym).stdout
    assert "You may: identity, notice, refer" in shown


def test_victim_identity_need_to_know_from_the_command_line(env: dict[str, str]) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: the victim's jurisdiction reads it with --purpose; the lead's
    prosecutor (NL, not the victim's jurisdiction) is told it does not exist; no purpose, no read."""
    name = f"Berta cli{uuid.uuid4().hex[:8]}"
    victim = json.loads(
        jit(
            env, "--json", "--as", "de-liaison", "victim", "register", "-w", WS, "-j", "DE", "--name", name,
            "--contact", "+49 30 0000",
        ).stdout
    )  # fmt: skip
    out = jit(env, "--as", "de-liaison", "victim", "identity", victim["pseudonym"], "--purpose", "summon for hearing")
    assert name in out.stdout and "+49 30 0000" in out.stdout
    refused = jit(env, "--as", "nl-prosecutor", "victim", "identity", victim["id"], "--purpose", "x", code=1)
    assert "NOT_FOUND" in refused.stderr and name not in refused.stdout + refused.stderr
    missing = jit(env, "--as", "de-liaison", "victim", "identity", victim["id"], code=2)
    assert "--purpose" in missing.stderr


def test_notices_and_referrals_from_the_command_line(env: dict[str, str]) -> None:
    """VICTIM_INFORMATION_RIGHTS, VICTIM_SUPPORT_REFERRAL"""
    victim = json.loads(
        jit(env, "--json", "--as", "nl-prosecutor", "victim", "register", "-w", WS, "-j", "NL", "--name", "C").stdout
    )
    p = victim["pseudonym"]
    jit(
        env, "--as", "nl-prosecutor", "victim", "notice", p, "--step", "rights-explained", "--language", "nl",
        "--how", "in-person",
    )  # fmt: skip
    listed = jit(env, "--as", "nl-prosecutor", "victim", "notices", p).stdout
    assert "rights-explained" in listed and "in-person" in listed and "nl-prosecutor" in listed
    refused = jit(env, "--as", "nl-prosecutor", "victim", "refer", p, "--service", "Slachtofferhulp", code=1)
    assert "consent" in refused.stderr
    shown = jit(env, "--as", "nl-prosecutor", "victim", "refer", p, "--service", "Slachtofferhulp", "--consent").stdout
    assert "Slachtofferhulp" in shown and "with consent" in shown
