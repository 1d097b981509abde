"""``jit preservation ...`` against the live preservation service (in-process CliRunner, --json output)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from jitcli.main import app
from jitlib.periods import period_end
from tests.harness import RunningService, registered_victims
from tests.integration.preservation.conftest import WS

pytestmark = pytest.mark.integration
RUNNER = CliRunner()


@pytest.fixture
def env(preservation_svc: RunningService, keycloak: Any, tmp_path: Path) -> dict[str, str]:
    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_PRESERVATION_ADDR": f"127.0.0.1:{preservation_svc.app.port}",
        "JIT_CONFIG_DIR": str(tmp_path / "jit-config"),
    }
    for user in ("nl-liaison", "fr-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    return env


def jit(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = RUNNER.invoke(app, list(args), env=env)
    assert result.exit_code == code, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    return result


def as_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(jit(env, "--json", "--as", "nl-liaison", "preservation", *args).stdout)


def test_a_liaison_tracks_an_order_from_the_command_line(env: dict[str, str]) -> None:
    providers = as_json(env, "providers")["providers"]
    assert any(p["id"] == "socialnet-ie" for p in providers)
    order = as_json(
        env,
        "create",
        "--workspace",
        WS,
        "--provider",
        "socialnet-ie",
        "--basis",
        "provider-voluntary",
        "--target",
        "handle:@harasser_x",
        "--target",
        "url:https://socialnet.example/p/42",
        "--data",
        "subscriber",
        "--data",
        "content",
        "--issue",
        "--request-id",
        str(uuid.uuid4()),
    )
    assert order["state"] == "PRESERVATION_ORDER_STATE_ISSUED"
    confirmed_at = (datetime.now(UTC) - timedelta(days=85, hours=3, minutes=30)).isoformat()
    with_clock = as_json(env, "confirm", order["id"], "--confirmed-at", datetime.now(UTC).isoformat())
    assert with_clock["state"] == "PRESERVATION_ORDER_STATE_CONFIRMED"
    assert with_clock["expires_at"]

    # An order with 4 days 20 hours left shows in `due --within 7d`, with the time left in words.
    other = as_json(
        env,
        "create",
        "--workspace",
        WS,
        "--provider",
        "socialnet-ie",
        "--basis",
        "provider-voluntary",
        "--target",
        "email:someone@mail.example.org",
        "--data",
        "traffic",
    )
    as_json(env, "issue", other["id"], "--issued-at", confirmed_at)
    as_json(env, "confirm", other["id"], "--confirmed-at", confirmed_at)
    due = as_json(env, "due", "--within", "7d", "--workspace", WS)["orders"]
    assert other["id"] in [o["id"] for o in due] and order["id"] not in [o["id"] for o in due]
    table = jit(env, "--as", "nl-liaison", "preservation", "due", "--within", "7d", "--wide").stdout
    line = next(row for row in table.splitlines() if other["id"] in row)
    assert "4 days 20 hours" in line  # 4 days 20 hours 30 minutes, less the seconds the test took

    lifted = as_json(env, "lift", other["id"], "--reason", "identified by other means")
    assert lifted["state"] == "PRESERVATION_ORDER_STATE_LIFTED"
    shown = as_json(env, "show", order["id"])
    assert shown["id"] == order["id"]
    assert shown["allowed_actions"] == ["extend", "request_production", "lift", "record_not_executed"]
    text = jit(env, "--as", "nl-liaison", "preservation", "show", other["id"]).stdout
    assert "You may: nothing now" in text  # lifted


def test_epoc_pr_clock_from_receipt_on_the_command_line(env: dict[str, str]) -> None:
    """EPOC_PR_CLOCK_FROM_RECEIPT (Reg. (EU) 2023/1543 Art. 11(1)): an EPOC-PR sent 55 days ago and received
    a day later runs out in 6 days or more (to the end of the 60th day in Dublin, or the next working day
    there: EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS) without any confirmation: `due` lists it while ISSUED,
    `show` says when it was received; once production is requested (EPOC_PR_PRESERVED_UNTIL_PRODUCTION)
    `show` says how much time was left when its clock stopped."""
    now = datetime.now(UTC)
    order = as_json(
        env,
        "create",
        "--workspace",
        WS,
        "--provider",
        "socialnet-ie",
        "--basis",
        "epoc-pr",
        "--target",
        "handle:@harasser_x",
        "--data",
        "content",
    )
    sent, received = (now - timedelta(days=55)).isoformat(), (now - timedelta(days=54)).isoformat()
    issued = as_json(env, "issue", order["id"], "--issued-at", sent, "--received-at", received)
    assert issued["state"] == "PRESERVATION_ORDER_STATE_ISSUED" and issued["received_at"] and issued["expires_at"]
    left = period_end(now - timedelta(days=54), timedelta(days=60), "IE") - now
    assert left >= timedelta(days=6)
    due = as_json(env, "due", "--within", f"{left.days + 1}d", "--workspace", WS)["orders"]
    assert order["id"] in [o["id"] for o in due]
    text = jit(env, "--as", "nl-liaison", "preservation", "show", order["id"]).stdout
    assert "received" in text and f"{left.days} days" in text  # less the seconds the test took
    as_json(env, "production-requested", order["id"], "--evidence-request", str(uuid.uuid4()))
    stopped = jit(env, "--as", "nl-liaison", "preservation", "show", order["id"]).stdout
    assert "clock stopped" in stopped and "left (given back if production fails)" in stopped
    assert f"{left.days} days" in stopped.split("clock stopped", 1)[1]


def test_errors_are_one_line(env: dict[str, str]) -> None:
    bad = jit(
        env,
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
        "phone:0612",
        "--data",
        "traffic",
        code=1,
    )
    assert "targets[0].value" in bad.stderr
    missing = jit(env, "--as", "fr-prosecutor", "preservation", "show", str(uuid.uuid4()), code=1)
    assert "not found" in missing.stderr.lower()


def test_an_order_names_its_victims_by_pseudonym_on_the_command_line(
    env: dict[str, str], preservation_svc: RunningService, pnats: Any
) -> None:
    """VICTIM_BY_PSEUDONYM: ``jit preservation create --victim``, shown by ``show`` and ``list``, and
    ``list --victim`` keeps that victim's orders."""
    (victim,) = registered_victims(preservation_svc, pnats.url)
    order = as_json(
        env, "create", "--workspace", WS, "--provider", "socialnet-ie", "--basis", "provider-voluntary",
        "--target", "handle:@harasser_x", "--data", "content", "--victim", victim,
    )  # fmt: skip
    assert order["victim_refs"] == [victim]
    nl = ["--as", "nl-liaison", "preservation"]
    assert victim in jit(env, *nl, "show", order["id"]).stdout
    assert [o["id"] for o in as_json(env, "list", "--workspace", WS, "--victim", victim)["orders"]] == [order["id"]]
    assert victim in jit(env, *nl, "list", "--workspace", WS, "--victim", victim).stdout


def test_epoc_pr_enforcement_transfer_and_the_enforcing_states_decisions_on_the_command_line(
    env: dict[str, str],
) -> None:
    """EPOC_PR_ENFORCEMENT_TRANSFER, EPOC_PR_ENFORCEMENT_RECOGNISED: NL's prosecutor transfers two EPOC-PRs left
    unconfirmed for five days (`transfer-enforcement`); IE's prosecutor sees them (`show` says where and when)
    and recognises one (`recognise-enforcement`), refuses the other on a ground of Art. 16(4)
    (`refuse-enforcement --ground data-not-stored`); a ground not on the list is refused by the command line."""
    for user in ("nl-prosecutor", "ie-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    sent = (datetime.now(UTC) - timedelta(days=5)).isoformat()

    def cli(user: str, *args: str) -> Any:
        return json.loads(jit(env, "--json", "--as", user, "preservation", *args).stdout)

    ids = []
    for _ in range(2):
        order = cli("nl-prosecutor", "create", "--workspace", WS, "--provider", "socialnet-ie", "--basis", "epoc-pr",
                    "--target", "handle:@harasser_x", "--data", "subscriber")  # fmt: skip
        cli("nl-prosecutor", "issue", order["id"], "--issued-at", sent)
        moved = cli("nl-prosecutor", "transfer-enforcement", order["id"], "--note", "no confirmation in five days")
        assert (moved["state"], moved["enforcing_jurisdiction"]) == ("PRESERVATION_ORDER_STATE_IN_ENFORCEMENT", "IE")
        ids.append(order["id"])
    text = jit(env, "--as", "ie-prosecutor", "preservation", "show", ids[0]).stdout
    assert "transferred to IE" in text and "its recognition decision is awaited" in text
    assert "deadline enforcement" in text and "(5 working days)" in text

    recognised = cli("ie-prosecutor", "recognise-enforcement", ids[0])
    assert recognised["state"] == "PRESERVATION_ORDER_STATE_ISSUED"
    bad = jit(
        env, "--as", "ie-prosecutor", "preservation", "refuse-enforcement", ids[1], "--ground", "no-reason", code=2
    )
    assert "--ground" in bad.stderr + bad.stdout
    refused = cli("ie-prosecutor", "refuse-enforcement", ids[1], "--ground", "data-not-stored", "--detail", "none")
    assert refused["state"] == "PRESERVATION_ORDER_STATE_NOT_ENFORCED"
    assert refused["enforcement_refusal_ground"] == "ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED"
    text = jit(env, "--as", "nl-prosecutor", "preservation", "show", ids[1]).stdout
    assert "recognition refused" in text and "data-not-stored" in text
