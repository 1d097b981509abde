"""``jit removal ...`` against the live preservation service (in-process CliRunner): a liaison preserves,
then asks the platform to remove, records its answers and a re-upload, and reads the clock."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from jitcli.main import app
from jitcli.removal_cmd import item
from tests.harness import RunningService
from tests.integration.preservation.conftest import WS

pytestmark = pytest.mark.integration
RUNNER = CliRunner()
HASH = hashlib.sha256(b"cli-image").hexdigest()


@pytest.fixture
def env(preservation_svc: RunningService, keycloak: Any, tmp_path: Path) -> dict[str, str]:
    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_PRESERVATION_ADDR": f"127.0.0.1:{preservation_svc.app.port}",
        "JIT_CONFIG_DIR": str(tmp_path / "jit-config"),
    }
    jit(env, "login", "nl-liaison", "--password", "demo")
    return env


def jit(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = RUNNER.invoke(app, list(args), env=env)
    assert result.exit_code == code, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    return result


def as_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(jit(env, "--json", "--as", "nl-liaison", *args).stdout)


def test_a_liaison_preserves_then_removes_from_the_command_line(env: dict[str, str]) -> None:
    handle = f"@cli_{uuid.uuid4().hex[:8]}"
    order = as_json(env, "preservation", "create", "-w", WS, "-p", "socialnet-ie", "--basis", "epoc-pr",
                    "--target", f"handle:{handle}", "--data", "content", "--issue")  # fmt: skip
    # Without the link, and with no live order of this content: the service asks for a reason.
    refused = jit(env, "--as", "nl-liaison", "removal", "create", "-w", WS, "-p", "socialnet-ie",
                  "--basis", "dsa-art9-order", "--item", "https://socialnet.example/other/9", code=1)  # fmt: skip
    assert "NO_LIVE_PRESERVATION" in refused.stderr or "preserve it first" in refused.stderr
    content = f"https://socialnet.example/p/7 sha256={HASH} account={handle}"
    created = as_json(env, "removal", "create", "-w", WS, "-p", "socialnet-ie", "--basis", "national-order",
                      "--national", "de", "--item", content)  # fmt: skip
    assert created["preservation_order_id"] == order["id"] and created["national_jurisdiction"] == "DE"
    assert int(created["clock_seconds"]) == 24 * 3600 and "NetzDG" in created["clock_source"]
    rid = created["id"]
    as_json(env, "removal", "ack", rid)
    removed = as_json(env, "removal", "removed", rid)
    assert removed["state"] == "REMOVAL_REQUEST_STATE_REMOVED"
    reopened = as_json(env, "removal", "reupload", rid, "--sha256", HASH, "--url", "https://mirror.example/7")
    assert reopened["state"] == "REMOVAL_REQUEST_STATE_SENT" and reopened["reupload_count"] == 1
    shown = jit(env, "--as", "nl-liaison", "removal", "show", rid).stdout
    assert "re-uploads" in shown and "NetzDG" in shown and order["id"] in shown
    listed = jit(env, "--as", "nl-liaison", "removal", "list", "-w", WS, "--state", "sent", "--wide").stdout
    assert rid in listed
    refused_answer = as_json(env, "removal", "refused", rid, "--reason", "not-illegal", "--details", "they disagree")
    assert refused_answer["refusal_reason"] == "REFUSAL_REASON_NOT_ILLEGAL"


def test_an_item_is_a_url_with_optional_hash_account_and_id() -> None:
    parsed = item(f"https://x.example/1 sha256={HASH} account=@a id=99")
    assert (parsed.url, parsed.sha256, parsed.account, parsed.platform_item_id) == (
        "https://x.example/1",
        HASH,
        "@a",
        "99",
    )
    assert item("id=123").platform_item_id == "123"
    import typer

    with pytest.raises(typer.BadParameter):
        item("https://a.example https://b.example")
