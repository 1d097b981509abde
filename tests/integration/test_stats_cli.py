"""``jit stats ...`` against a live victims service (SQLite) on the suite's Keycloak and NATS: the table and
its CSV, k raised but never lowered, the JIT's evaluation written as CSV and PNG by the lead's prosecutor
only, and a victim's special-category attributes recorded with consent, read by need-to-know, withdrawn."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from jitcli.main import app
from tests.conftest import wait_for_workspace

pytestmark = pytest.mark.integration
WS = "jit-demo"
RUNNER = CliRunner()


@pytest.fixture(scope="module")
def victims(
    keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from jitlib.config import CommonSettings
    from services.victims.app import VictimsSettings, spec
    from tests.harness import start_service

    state = tmp_path_factory.mktemp("stats-cli")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    settings = VictimsSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'victims.db'}",
        consumer_group=f"stats-cli-{uuid.uuid4().hex[:8]}",
    )
    svc = start_service(spec(), settings, common)
    wait_for_workspace(svc, demo_workspace_synced)
    yield svc
    svc.stop()


@pytest.fixture
def env(victims: Any, keycloak: Any, nats_server: Any, tmp_path: Path) -> dict[str, str]:
    out = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_VICTIMS_ADDR": f"127.0.0.1:{victims.app.port}",
        "JIT_NATS_URL": nats_server.url,
        "JIT_CONFIG_DIR": str(tmp_path / "jit-config"),
    }
    for user in ("nl-prosecutor", "de-prosecutor", "nl-liaison"):
        jit(out, "login", user, "--password", "demo")
    return out


def jit(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = RUNNER.invoke(app, list(args), env=env)
    assert result.exit_code == code, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return result


def error_line(result: Result) -> str:
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    return line


def test_stats_show_prints_a_table_and_its_csv(env: dict[str, str]) -> None:
    shown = jit(env, "--as", "nl-prosecutor", "stats", "show", "-w", WS, "--measure", "tasks", "--by", "addressee")
    assert "TOTAL" in shown.stdout and "addressee" in shown.stdout
    out = jit(env, "--as", "nl-prosecutor", "stats", "show", "-w", WS, "-m", "tasks", "--by", "addressee", "--csv")
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == ["addressee", "count"] and rows[-1][0] == "TOTAL"
    as_json = json.loads(jit(env, "--json", "--as", "nl-prosecutor", "stats", "show", "-m", "victims").stdout)
    assert as_json["table"]["measure"] == "victims" and WS in as_json["workspace_ids"]


def test_stats_show_refuses_a_lower_k_and_a_liaison(env: dict[str, str]) -> None:
    low = jit(env, "--as", "nl-prosecutor", "stats", "show", "-m", "tasks", "--k", "2", code=1)
    assert "k: at least 5" in error_line(low)
    liaison = jit(env, "--as", "nl-liaison", "stats", "show", "-m", "tasks", code=1)
    assert "PERMISSION_DENIED" in error_line(liaison) or "may not" in error_line(liaison)


def test_stats_evaluation_writes_a_csv_and_a_png(env: dict[str, str], tmp_path: Path) -> None:
    """JIT_EVALUATION through the command: NL's prosecutor (NL leads jit-demo) writes both files; DE's
    prosecutor is refused."""
    out = tmp_path / "evaluation"
    jit(env, "--as", "nl-prosecutor", "stats", "evaluation", WS, "--out", str(out))
    rows = list(csv.DictReader((out / f"{WS}-evaluation.csv").open(encoding="utf-8")))
    assert rows and {"statistic", "count", "share_met"} <= set(rows[0])
    with Image.open(out / f"{WS}-evaluation.png") as image:
        image.verify()
        assert image.format == "PNG"
    refused = jit(env, "--as", "de-prosecutor", "stats", "evaluation", WS, "--out", str(tmp_path / "de"), code=1)
    assert "lead" in error_line(refused)


def test_stats_categories_need_consent_and_need_to_know(env: dict[str, str]) -> None:
    """SPECIAL_CATEGORIES_CONSENT and SPECIAL_CATEGORIES_NEED_TO_KNOW through the command, on a victim
    registered with its offence (jit victim register --offence)."""
    register = ["victim", "register", "-w", WS, "-j", "NL", "--name", "X Y", "--offence", "cyberstalking"]
    registered = json.loads(jit(env, "--json", "--as", "nl-prosecutor", *register).stdout)
    assert registered["offences"] == ["CYBERSTALKING"]  # VICTIM_OFFENCES
    ref = registered["pseudonym"]
    wrong = jit(env, "--as", "nl-prosecutor", *register[:-1], "shoplifting", code=1)
    assert "offences[0]" in error_line(wrong)
    record = ["stats", "categories", "record", ref, "--purpose", "monitoring", "--gender", "female"]
    no_consent = jit(env, "--as", "nl-prosecutor", *record, code=1)
    assert "consent_given" in error_line(no_consent)
    done = json.loads(jit(env, "--json", "--as", "nl-prosecutor", *record, "--consent", "--age-group", "25-34").stdout)
    assert {k: v for k, v in done["attributes"].items() if v} == {"gender": "FEMALE", "age_group": "25_34"}
    shown = jit(env, "--as", "nl-liaison", "stats", "categories", "show", ref, "--purpose", "hearing")
    assert "FEMALE" in shown.stdout
    hidden = jit(env, "--as", "de-prosecutor", "stats", "categories", "show", ref, "--purpose", "curious", code=1)
    assert "not found" in error_line(hidden)
    jit(env, "--as", "nl-prosecutor", "stats", "categories", "withdraw", ref)
    gone = jit(env, "--as", "nl-liaison", "stats", "categories", "show", ref, "--purpose", "hearing", code=1)
    assert "not found" in error_line(gone)
