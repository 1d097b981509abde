"""The ``jit`` command against live services: Keycloak, NATS and the tasks service.

Needs the fixture ``cli_env``: a dict of environment variables pointing the command at running servers
(``JIT_KEYCLOAK_URL``, ``JIT_TASKS_ADDR``, ``JIT_NATS_URL``, and the Keycloak admin credentials when they
are not the local defaults).  Every test gets its own ``JIT_CONFIG_DIR``, so no real token cache is touched.
Commands run in-process through ``typer.testing.CliRunner`` and are checked on their ``--json`` output.

Demo users log in with the password grant (password ``demo``).  No test adds users to workspaces, so the
realm's demo users keep the group memberships other tests rely on.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from jitcli.main import app
from jitdev.procs import free_port
from tests.harness import announce_victim, new_pseudonym

pytestmark = pytest.mark.integration

WORKSPACE = "jit-demo"
RUNNER = CliRunner()


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**cli_env, "JIT_CONFIG_DIR": str(tmp_path / "jit-config")}


def jit(env: dict[str, str], *args: str, code: int = 0) -> Result:
    """Run ``jit ARGS`` and check its exit code; errors must be one line, never a traceback."""
    result = RUNNER.invoke(app, list(args), env=env)
    assert result.exit_code == code, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    if result.exit_code == 1:
        lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(lines) <= 1, result.stderr
    return result


def jit_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(jit(env, "--json", *args).stdout)


def login(env: dict[str, str], *users: str) -> None:
    for user in users:
        jit(env, "login", user, "--password", "demo")


def error_line(result: Result) -> str:
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    return line


def create_task(env: dict[str, str], issuer: str, *extra: str, title: str = "Identify the account holder") -> Any:
    """Create a task in the demo workspace; retried while the service has not yet learnt the workspace."""
    request_id = str(uuid.uuid4())  # same request id on every retry: at most one task is created
    args = [
        "--json",
        "--as",
        issuer,
        "task",
        "create",
        "--workspace",
        WORKSPACE,
        "--title",
        title,
        "--assignee",
        "DE",
        "--due-in",
        "7d",
        "--request-id",
        request_id,
        *extra,
    ]
    deadline = time.monotonic() + 30
    while True:
        result = RUNNER.invoke(app, args, env=env)
        if result.exit_code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def synced(env: dict[str, str]) -> None:
    """Announce the workspaces, as an operator does after a fresh start."""
    out = jit_json(env, "admin", "workspace", "sync")
    assert WORKSPACE in out["workspaces"] and out["announced"] >= 1


# ------------------------------------------------------------------ sessions


def test_login_whoami_logout(env: dict[str, str]) -> None:
    login(env, "nl-prosecutor", "de-liaison")  # the last one is the active user

    me = jit_json(env, "whoami")
    assert me["username"] == "de-liaison" and me["jurisdiction"] == "DE"
    assert "police_liaison" in me["roles"] and WORKSPACE in me["workspaces"]
    assert me["cached_users"] == ["de-liaison", "nl-prosecutor"]

    other = jit_json(env, "--as", "nl-prosecutor", "whoami")
    assert other["jurisdiction"] == "NL" and "prosecutor" in other["roles"]

    token_file = Path(env["JIT_CONFIG_DIR"]) / "tokens" / "nl-prosecutor.json"
    assert token_file.stat().st_mode & 0o777 == 0o600

    assert jit_json(env, "logout")["logged_out"] == "de-liaison"
    result = jit(env, "whoami", code=1)
    assert error_line(result).startswith("error: not logged in")
    jit(env, "logout", "nl-prosecutor")
    assert not token_file.exists()


@pytest.mark.usefixtures("forgets_failed_logins")
def test_password_grant_is_refused_for_real_accounts(env: dict[str, str]) -> None:
    result = jit(env, "login", "nl-realuser", "--password", "demo", code=1)
    assert error_line(result).startswith("error: login as nl-realuser refused: access_denied")
    result = jit(env, "login", "de-liaison", "--password", "wrong", code=1)
    assert "invalid_grant" in error_line(result)


def test_expired_access_token_is_refreshed(env: dict[str, str], synced: None) -> None:
    login(env, "de-liaison")
    path = Path(env["JIT_CONFIG_DIR"]) / "tokens" / "de-liaison.json"
    cached = json.loads(path.read_text())
    cached["expires_at"] = time.time() + 10  # within the 30 s margin
    path.write_text(json.dumps(cached))

    jit_json(env, "task", "list", "--workspace", WORKSPACE)
    refreshed = json.loads(path.read_text())
    assert refreshed["expires_at"] > time.time() + 60
    assert refreshed["access_token"] != cached["access_token"]

    refreshed["expires_at"] = 0
    refreshed["refresh_token"] = "not-a-refresh-token"
    path.write_text(json.dumps(refreshed))
    result = jit(env, "task", "list", code=1)
    assert error_line(result) == "error: session for de-liaison expired: run `jit login de-liaison`"


# ------------------------------------------------------------------ tasks


def test_task_lifecycle_across_parties(env: dict[str, str], synced: None) -> None:
    login(env, "nl-prosecutor", "de-liaison")
    evidence_request = str(uuid.uuid4())
    task = create_task(
        env,
        "nl-prosecutor",
        "--kind",
        "identify-account-holder",
        "--priority",
        "high",
        "--link",
        f"evidence-request:{evidence_request}",
    )
    tid = task["id"]
    assert task["state"] == "TASK_STATE_ASSIGNED" and int(task["version"]) == 1
    assert task["origin_jurisdiction"] == "NL" and task["assignee_jurisdiction"] == "DE"
    assert task["kind"] == "TASK_KIND_IDENTIFY_ACCOUNT_HOLDER" and task["priority"] == "TASK_PRIORITY_HIGH"
    assert task["visibility"] == "VISIBILITY_RESTRICTED"
    assert task["links"] == [{"kind": "RECORD_KIND_EVIDENCE_REQUEST", "id": evidence_request}]

    listed = jit_json(env, "--as", "de-liaison", "task", "list", "--workspace", WORKSPACE, "--all")
    assert tid in [t["id"] for t in listed["tasks"]]
    assert jit_json(env, "--as", "de-liaison", "task", "show", tid)["title"] == "Identify the account holder"
    # Each side is told what it may do now, as the service decides it.
    assert "You may: accept, decline" in jit(env, "--as", "de-liaison", "task", "show", tid).stdout
    assert task["allowed_actions"] == ["renegotiate", "cancel"]

    stale = jit(env, "--as", "de-liaison", "task", "accept", tid, "--expected-version", "7", code=1)
    assert error_line(stale).startswith("error: ABORTED:")

    de = ["--as", "de-liaison", "task"]
    assert jit_json(env, *de, "accept", tid, "--expected-version", "1")["state"] == "TASK_STATE_ACCEPTED"
    assert jit_json(env, *de, "start", tid)["state"] == "TASK_STATE_IN_PROGRESS"
    blocked = jit_json(
        env,
        *de,
        "block",
        tid,
        "--reason",
        "waiting for the provider",
        "--blocked-by",
        f"evidence-request:{evidence_request}",
    )
    assert blocked["state"] == "TASK_STATE_BLOCKED" and blocked["state_reason"] == "waiting for the provider"
    assert blocked["blocked_by"] == [{"kind": "RECORD_KIND_EVIDENCE_REQUEST", "id": evidence_request}]
    assert jit_json(env, *de, "unblock", tid)["state"] == "TASK_STATE_IN_PROGRESS"
    done = jit_json(env, *de, "complete", tid, "--outcome", "holder identified")
    assert done["state"] == "TASK_STATE_DONE" and done["outcome"] == "holder identified"

    nl = ["--as", "nl-prosecutor", "task"]
    assert jit_json(env, *nl, "reopen", tid, "--reason", "need the IP logs")["state"] == "TASK_STATE_IN_PROGRESS"
    jit_json(env, *de, "complete", tid, "--outcome", "holder identified, IP logs attached")
    verified = jit_json(env, *nl, "verify", tid)
    assert verified["state"] == "TASK_STATE_VERIFIED" and int(verified["version"]) == 9

    # The readable table shows the short id, the state and the version.
    table = jit(env, "--as", "nl-prosecutor", "task", "list", "--workspace", WORKSPACE, "--all").stdout
    row = next(line for line in table.splitlines() if f"{tid[:8]}..{tid[-4:]}" in line)
    assert "verified" in row and row.rstrip().endswith("9")


def test_decline_reassign_and_cancel(env: dict[str, str], synced: None) -> None:
    login(env, "nl-prosecutor", "de-prosecutor")
    tid = create_task(env, "nl-prosecutor", "--proposal", title="Hear the witness")["id"]
    nl = ["--as", "nl-prosecutor", "task"]
    assert jit_json(env, *nl, "show", tid)["state"] == "TASK_STATE_PROPOSED"
    assert jit_json(env, *nl, "assign", tid)["state"] == "TASK_STATE_ASSIGNED"
    declined = jit_json(env, "--as", "de-prosecutor", "task", "decline", tid, "--reason", "not our case")
    assert declined["state"] == "TASK_STATE_DECLINED"
    assert jit_json(env, *nl, "assign", tid, "--to", "DE")["state"] == "TASK_STATE_ASSIGNED"
    cancelled = jit_json(env, *nl, "cancel", tid, "--reason", "no longer needed")
    assert cancelled["state"] == "TASK_STATE_CANCELLED"
    again = jit(env, *nl, "cancel", tid, "--reason", "twice", code=1)
    assert error_line(again).startswith("error: FAILED_PRECONDITION:")
    assert "You may: nothing now" in jit(env, *nl, "show", tid).stdout


def test_task_hand_back_and_task_renegotiation_from_the_command_line(env: dict[str, str], synced: None) -> None:
    """TASK_HAND_BACK and TASK_RENEGOTIATION (GUESS, no legal text) as ``jit task hand-back`` and ``jit task
    renegotiate``: the addressee gives a started task back with a reason, the issuer changes its terms with a
    reason and reassigns it; a renegotiation without new terms is refused before it is sent."""
    login(env, "nl-prosecutor", "de-liaison")
    tid = create_task(env, "nl-prosecutor", "--due-in", "5d", title="Identify the uploader")["id"]
    de = ["--as", "de-liaison", "task"]
    nl = ["--as", "nl-prosecutor", "task"]
    jit_json(env, *de, "accept", tid)
    jit_json(env, *de, "start", tid)
    back = jit_json(env, *de, "hand-back", tid, "--reason", "the account is hosted in IE", "--expected-version", "3")
    assert back["state"] == "TASK_STATE_HANDED_BACK" and back["state_reason"] == "the account is hosted in IE"
    assert "You may: assign, renegotiate, cancel" in jit(env, *nl, "show", tid).stdout
    moved = jit_json(
        env, *nl, "renegotiate", tid, "--due-in", "14d", "--priority", "urgent", "--reason", "IE needs more time"
    )
    assert moved["priority"] == "TASK_PRIORITY_URGENT" and moved["terms_reason"] == "IE needs more time"
    assert moved["state"] == "TASK_STATE_HANDED_BACK" and int(moved["version"]) == 5
    assert "terms changed" in jit(env, *nl, "show", tid).stdout
    usage = jit(env, *nl, "renegotiate", tid, "--reason", "nothing new", code=2)
    assert "--clear-due or --priority" in usage.stderr
    assert jit_json(env, *nl, "assign", tid, "--to", "IE")["assignee_jurisdiction"] == "IE"


def test_list_pages(env: dict[str, str], synced: None) -> None:
    login(env, "nl-prosecutor")
    ids = {create_task(env, "nl-prosecutor", title=f"page test {i}")["id"] for i in range(3)}
    first = jit_json(env, "task", "list", "--workspace", WORKSPACE, "--page-size", "1")
    assert len(first["tasks"]) == 1 and first["next_page_token"]
    everything = jit_json(env, "task", "list", "--workspace", WORKSPACE, "--page-size", "1", "--all")
    assert ids <= {t["id"] for t in everything["tasks"]} and everything["next_page_token"] == ""
    soon = jit_json(env, "task", "list", "--workspace", WORKSPACE, "--due-within", "8d", "--all")
    assert ids <= {t["id"] for t in soon["tasks"]}
    later = jit_json(env, "task", "list", "--workspace", WORKSPACE, "--due-within", "1d", "--all")
    assert not ids & {t["id"] for t in later["tasks"]}


def test_errors_are_one_clear_line(env: dict[str, str], synced: None) -> None:
    login(env, "nl-prosecutor")
    bad = jit(
        env,
        "task",
        "create",
        "--workspace",
        WORKSPACE,
        "--title",
        "",
        "--assignee",
        "DE",
        "--due",
        "2020-01-01T00:00Z",
        code=1,
    )
    line = error_line(bad)
    assert line.startswith("error: INVALID_ARGUMENT: ")
    assert "title: is required" in line and "due_at: must be in the future" in line

    tid = create_task(env, "nl-prosecutor")["id"]
    denied = jit(env, "task", "accept", tid, code=1)  # NL may not accept a task addressed to DE
    assert error_line(denied).startswith("error: PERMISSION_DENIED:")
    missing = jit(env, "task", "show", str(uuid.uuid4()), code=1)
    assert error_line(missing).startswith("error: NOT_FOUND:")

    usage = jit(env, "task", "show", tid[:8], code=2)
    assert "full task id" in usage.stderr

    port = free_port()  # nothing listens on it
    down = jit({**env, "JIT_TASKS_ADDR": f"127.0.0.1:{port}"}, "task", "list", code=1)
    assert error_line(down) == (f"error: tasks service not reachable at 127.0.0.1:{port} (is it running? try make run)")


# ------------------------------------------------------------------ workspaces


def test_workspace_administration(env: dict[str, str]) -> None:
    ws = f"cli-{uuid.uuid4().hex[:10]}"
    created = jit_json(
        env,
        "admin",
        "workspace",
        "create",
        ws,
        "--name",
        "CLI test JIT",
        "--lead",
        "NL",
        "--member",
        "DE",
        "--legal-basis",
        "JIT agreement (test)",
        "--starts",
        "2026-01-01",
        "--ends",
        "2027-12-31",
    )
    assert created["id"] == ws and created["members"] == ["NL", "DE"] and created["status"] == "open"

    grown = jit_json(env, "admin", "workspace", "add-member", ws, "--jurisdiction", "ie")
    assert grown["members"] == ["NL", "DE", "IE"] and grown["version"] == created["version"] + 1

    assert ws in [w["id"] for w in jit_json(env, "admin", "workspace", "list")]
    assert jit_json(env, "admin", "workspace", "show", ws)["legal_basis"] == "JIT agreement (test)"

    closed = jit_json(env, "admin", "workspace", "close", ws)
    assert closed["status"] == "closed" and closed["closed_at"]
    again = jit(env, "admin", "workspace", "close", ws, code=1)
    assert "already closed" in error_line(again)
    unknown = jit(env, "admin", "workspace", "show", f"{ws}-nope", code=1)
    assert "unknown workspace" in error_line(unknown)


def test_jit_member_taken_out_with_jit_admin_workspace_remove_member(env: dict[str, str]) -> None:
    """JIT_MEMBER_TAKEN_OUT: `jit admin workspace remove-member` takes a member other than the lead out as a
    new version, held as a former member and announced; the lead, a member whose leaving would leave the
    lead the only state (FD 2002/465/JHA Art. 1(1): "two or more Member States"; Eurojust is no state), a
    non-member, a bad code and a closed workspace are refused in one line, changing nothing; added again, it
    is a member again."""
    ws = f"cli-{uuid.uuid4().hex[:10]}"
    created = jit_json(
        env, "admin", "workspace", "create", ws, "--name", "CLI leave JIT", "--lead", "NL", "--member", "DE",
        "--member", "IE", "--member", "EUROJUST", "--legal-basis", "JIT agreement (test)", "--starts", "2026-01-01",
        "--ends", "2027-12-31",
    )  # fmt: skip
    out = jit_json(env, "admin", "workspace", "remove-member", ws, "de")
    assert out["members"] == ["NL", "IE", "EUROJUST"] and out["former_members"] == ["DE"]
    assert out["version"] == created["version"] + 1
    shown = " ".join(jit(env, "admin", "workspace", "show", ws).stdout.split())
    assert "NL, IE, EUROJUST (out: DE)" in shown

    lead = jit(env, "admin", "workspace", "remove-member", ws, "NL", code=1)
    assert "leads workspace" in error_line(lead)
    gone = jit(env, "admin", "workspace", "remove-member", ws, "DE", code=1)
    assert "DE is not a member" in error_line(gone)
    bad = jit(env, "admin", "workspace", "remove-member", ws, "D3", code=1)
    assert "invalid jurisdiction code" in error_line(bad)
    alone = error_line(jit(env, "admin", "workspace", "remove-member", ws, "IE", code=1))
    assert "leave NL the only state" in alone and "two or more states" in alone and "close it instead" in alone
    shown_after = jit_json(env, "admin", "workspace", "show", ws)
    assert shown_after["version"] == created["version"] + 1 and shown_after["members"] == ["NL", "IE", "EUROJUST"]

    again = jit_json(env, "admin", "workspace", "add-member", ws, "--jurisdiction", "DE")
    assert again["members"] == ["NL", "IE", "EUROJUST", "DE"] and not again["former_members"]
    assert jit_json(env, "admin", "workspace", "remove-member", ws, "IE")["members"] == ["NL", "EUROJUST", "DE"]
    jit(env, "admin", "workspace", "close", ws)
    closed = jit(env, "admin", "workspace", "remove-member", ws, "DE", code=1)
    assert "closed" in error_line(closed)


def test_jit_period_extension_with_jit_admin_workspace_extend(env: dict[str, str]) -> None:
    """JIT_PERIOD_EXTENSION (FD 2002/465/JHA Art. 1(1), "extended by mutual consent"): `jit admin
    workspace extend` records a later last day as a new workspace version and announces it; an earlier or
    equal date, or a closed workspace, is refused in one line. `list` and `show` say how many days are left."""
    ws = f"cli-{uuid.uuid4().hex[:10]}"
    today = datetime.now(UTC).date()
    ends = today + timedelta(days=20)
    created = jit_json(
        env, "admin", "workspace", "create", ws, "--name", "CLI period JIT", "--lead", "NL", "--member", "DE",
        "--legal-basis", "JIT agreement (test)", "--starts", (today - timedelta(days=300)).isoformat(),
        "--ends", ends.isoformat(),
    )  # fmt: skip
    assert created["days_left"] == 20
    shown = jit(env, "admin", "workspace", "show", ws).stdout
    assert f"{ends.isoformat()} (20 days left)" in " ".join(shown.split())

    later = ends + timedelta(days=365)
    extended = jit_json(env, "admin", "workspace", "extend", ws, "--ends", later.isoformat())
    assert extended["ends_on"] == later.isoformat() and extended["version"] == created["version"] + 1
    assert extended["days_left"] == 385 and extended["starts_on"] == created["starts_on"]
    assert next(w for w in jit_json(env, "admin", "workspace", "list") if w["id"] == ws)["days_left"] == 385

    earlier = jit(env, "admin", "workspace", "extend", ws, "--ends", ends.isoformat(), code=1)
    assert "later last day" in error_line(earlier) and later.isoformat() in error_line(earlier)
    malformed = jit(env, "admin", "workspace", "extend", ws, "--ends", "next year", code=1)
    assert "ISO date" in error_line(malformed)
    jit(env, "admin", "workspace", "close", ws)
    closed = jit(env, "admin", "workspace", "extend", ws, "--ends", (later + timedelta(days=1)).isoformat(), code=1)
    assert "closed" in error_line(closed)


def test_legal_hold_and_retention_settings_with_jit_admin_retention(env: dict[str, str]) -> None:
    """LEGAL_HOLD: `jit admin retention hold` sets a hold with a reason as a new workspace version, `show`
    says nothing is deleted while it holds, `release` lifts it; `set` records the workspace's years and the
    proceedings' close (RETENTION_EVIDENCE: evidence held until then); bad input is refused in one line."""
    ws = f"cli-{uuid.uuid4().hex[:10]}"
    created = jit_json(
        env, "admin", "workspace", "create", ws, "--name", "CLI retention JIT", "--lead", "NL", "--member", "DE",
        "--legal-basis", "JIT agreement (test)", "--starts", "2025-01-01", "--ends", "2025-12-31",
    )  # fmt: skip
    held = jit_json(env, "admin", "retention", "hold", ws, "--reason", "appeal pending")
    assert held["legal_hold"] == "appeal pending"
    assert all(s["held"] and "appeal pending" in s["why"] for s in held["services"].values())
    assert jit_json(env, "admin", "workspace", "show", ws)["version"] == created["version"] + 1
    no_reason = jit(env, "admin", "retention", "hold", ws, "--reason", "  ", code=1)
    assert "reason" in error_line(no_reason)

    released = jit_json(env, "admin", "retention", "release", ws)
    assert released["legal_hold"] == "" and released["services"]["tasks"]["held"]  # still open: kept
    again = jit(env, "admin", "retention", "release", ws, code=1)
    assert "no legal hold" in error_line(again)

    jit(env, "admin", "workspace", "close", ws)
    set_ = jit_json(env, "admin", "retention", "set", ws, "--years", "7")
    assert set_["retention_years"] == 7
    assert set_["services"]["tasks"]["destroy_from"].startswith("2033-01-01")
    assert set_["services"]["evidence"]["destroy_from"] is None  # proceedings still running
    closed = jit_json(env, "admin", "retention", "set", ws, "--proceedings-closed", "2026-03-01")
    assert closed["services"]["evidence"]["destroy_from"].startswith("2033-03-02")
    too_long = jit(env, "admin", "retention", "set", ws, "--years", "500", code=1)
    assert "1 to 100" in error_line(too_long)
    shown = jit(env, "admin", "retention", "show", ws).stdout
    assert "retention years: 7 (the workspace's)" in shown and "proceedings closed: 2026-03-01" in shown


def test_legal_hold_by_a_prosecutor_of_the_lead_with_jit_retention(env: dict[str, str], synced: None) -> None:
    """LEGAL_HOLD: `jit retention hold` as a prosecutor of the lead (NL) holds a workspace in a service; held
    again it is renewed, `list` shows both holds (the first renewed); `release` lifts the active one and
    `list` keeps both; another member's prosecutor is refused in one line."""
    login(env, "nl-prosecutor", "de-prosecutor")
    held = jit_json(
        env, "--as", "nl-prosecutor", "retention", "hold", WORKSPACE, "--reason", "appeal pending", "--service", "tasks"
    )
    assert held["tasks"]["active"] is True and held["tasks"]["set_by_jurisdiction"] == "NL"
    renewed = jit_json(
        env, "--as", "nl-prosecutor", "retention", "hold", WORKSPACE, "--reason", "appeal filed", "--service", "tasks"
    )
    assert renewed["tasks"]["active"] is True and renewed["tasks"]["id"] != held["tasks"]["id"]
    listed = jit(env, "--as", "nl-prosecutor", "retention", "list", WORKSPACE, "--service", "tasks").stdout.splitlines()
    first, second = (line for line in listed if line.startswith("tasks: workspace: "))
    assert first.startswith("tasks: workspace: renewed by nl-prosecutor on ")
    assert "; set by nl-prosecutor (NL) on " in first and f": appeal pending [hold {held['tasks']['id']}]" in first
    assert second.startswith("tasks: workspace: active; set by nl-prosecutor (NL) on ")
    assert second.endswith(f": appeal filed [hold {renewed['tasks']['id']}]")
    refused = jit(env, "--as", "de-prosecutor", "retention", "release", WORKSPACE, "--service", "tasks", code=1)
    assert error_line(refused).startswith("error: PERMISSION_DENIED:")
    released = jit_json(env, "--as", "nl-prosecutor", "retention", "release", WORKSPACE, "--service", "tasks")
    assert released["tasks"]["active"] is False and released["tasks"]["released_by"] == "nl-prosecutor"
    assert released["tasks"]["id"] == renewed["tasks"]["id"]
    listed = jit(env, "--as", "nl-prosecutor", "retention", "list", WORKSPACE, "--service", "tasks").stdout
    assert "tasks: workspace: released by nl-prosecutor on " in listed and "active" not in listed
    bad = jit(env, "--as", "nl-prosecutor", "retention", "hold", WORKSPACE, "--reason", "x", "--record", "task", code=1)
    assert "KIND:ID" in error_line(bad)


# ------------------------------------------------------------------ audit


def test_audit_verify_and_export(env: dict[str, str], synced: None, tmp_path: Path) -> None:
    login(env, "nl-prosecutor", "nl-auditor")
    create_task(env, "nl-prosecutor", title="something to audit")

    report = jit_json(env, "--as", "nl-auditor", "audit", "verify", "--service", "tasks")
    assert report["intact"] is True and int(report["entries_checked"]) >= 1 and report["head_hash"]

    out = tmp_path / "audit.jsonl"
    jit(env, "--as", "nl-auditor", "audit", "export", "--out", str(out))
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    assert [int(e["seq"]) for e in entries] == list(range(1, len(entries) + 1))
    assert len(entries) >= int(report["entries_checked"])
    assert entries[-1]["hash"] and out.stat().st_mode & 0o777 == 0o600
    assert any(e["operation"].endswith("TaskService/CreateTask") for e in entries)

    refused = jit(env, "--as", "nl-prosecutor", "audit", "verify", code=1)
    assert error_line(refused).startswith("error: PERMISSION_DENIED:")


# ------------------------------------------------------------------ tracing


def test_one_trace_from_the_cli_through_the_service_to_the_published_event(
    env: dict[str, str], synced: None, spans: Any
) -> None:
    from opentelemetry.trace import SpanKind

    login(env, "nl-prosecutor")
    create_task(env, "nl-prosecutor", title="Traced from the command line")
    finished = spans.get_finished_spans()
    server = [s for s in finished if s.name == "/jit.tasks.v1.TaskService/CreateTask" and s.kind == SpanKind.SERVER]
    clients = {s.context.span_id: s for s in finished if s.kind == SpanKind.CLIENT}
    # The service span that created this task has the CLI's client span as its parent.
    linked = [s for s in server if s.parent is not None and s.parent.span_id in clients]
    assert linked, "no server span is the child of a CLI client span"
    trace_ids = {s.context.trace_id for s in linked}

    def published() -> bool:
        return any(
            s.name == "jit.tasks.NL.created publish" and s.context.trace_id in trace_ids
            for s in spans.get_finished_spans()
        )

    deadline = time.monotonic() + 15
    while not published():
        assert time.monotonic() < deadline, "the outbox publish span is not in the CLI's trace"
        time.sleep(0.2)


def test_a_task_names_its_victims_by_pseudonym_from_the_command_line(env: dict[str, str], synced: None) -> None:
    """VICTIM_BY_PSEUDONYM: ``jit task create --victim`` (repeatable), shown by ``show`` and ``list``, and
    ``jit task list --victim`` keeps that victim's tasks; a malformed pseudonym is one error line naming it."""
    login(env, "nl-prosecutor")
    victim, other = new_pseudonym(), new_pseudonym()
    for ref in (victim, other):  # as the victims service announces them (create_task waits until it knows)
        announce_victim(env["JIT_NATS_URL"], ref)
    task = create_task(env, "nl-prosecutor", "--victim", victim, "--victim", other.lower(), title="Find the uploader")
    assert task["victim_refs"] == [victim, other]
    nl = ["--as", "nl-prosecutor", "task"]
    assert f"{victim}, {other}" in jit(env, *nl, "show", task["id"]).stdout
    listed = jit_json(env, *nl, "list", "--workspace", WORKSPACE, "--victim", other, "--all")["tasks"]
    assert [t["id"] for t in listed] == [task["id"]]
    table = jit(env, *nl, "list", "--workspace", WORKSPACE, "--victim", victim, "--wide").stdout
    assert "VICTIMS" in table and task["id"] in table
    bad = jit(env, *nl, "create", "-w", WORKSPACE, "-t", "x", "-a", "DE", "--victim", "Anna from Utrecht", code=1)
    assert "victim_refs[0]" in error_line(bad) and "Anna" not in error_line(bad)
