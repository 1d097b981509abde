"""Unit tests of the ``jit`` command's pure parts: durations, time-left words, error lines, tables.

Plus the session logic against a fake token endpoint (httpx.MockTransport) and the error path of the
real command tree with nothing running (no server is needed for any test here).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import socket
import stat
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import typer
from google.protobuf import any_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from rich.console import Console
from typer.testing import CliRunner

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2
from jitcli import render
from jitcli.config import CliSettings
from jitcli.main import app
from jitcli.render import (
    CliError,
    ServiceCallError,
    parse_duration,
    parse_instant,
    rpc_error_text,
    short_id,
    task_detail,
    tasks_table,
    time_left_words,
)
from jitcli.session import DeviceCode, Session, TokenSet, identity
from jitcli.tasks_cmd import due_at, record_ref, task_id

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TASK_ID = "0190f0e2-7c1a-7b3e-9a51-3c2d1e0f4a7b"


# ------------------------------------------------------------------ durations and instants


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * 86400),
        ("36h", 36 * 3600),
        ("1d12h", 36 * 3600),
        ("2w", 14 * 86400),
        ("90m", 5400),
        ("30s", 30),
        (" 1d 2h ", 86400 + 7200),
        ("7D", 7 * 86400),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "7x", "d7", "0d", "1.5d", "-1d", "7 days"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_instant() -> None:
    assert parse_instant("2026-12-31T12:00Z") == dt.datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    assert parse_instant("2026-12-31T13:00+01:00") == dt.datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    assert parse_instant("2026-12-31T12:00") == dt.datetime(2026, 12, 31, 12, 0, tzinfo=UTC)  # naive = UTC
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant("next tuesday")


def test_due_at_from_options() -> None:
    assert due_at(None, "7d", NOW) == NOW + dt.timedelta(days=7)
    assert due_at("2026-12-31T12:00Z", None, NOW) == dt.datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert due_at(None, None, NOW) is None
    with pytest.raises(typer.BadParameter, match="not both"):
        due_at("2026-12-31T12:00Z", "7d", NOW)
    with pytest.raises(typer.BadParameter):
        due_at(None, "soon", NOW)


# ------------------------------------------------------------------ time left


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (dt.timedelta(days=2, hours=4), "2 days 4 hours"),
        (dt.timedelta(days=2, hours=4, minutes=20), "2 days 4 hours"),
        (dt.timedelta(days=1), "1 day"),
        (dt.timedelta(days=2, minutes=5), "2 days"),
        (dt.timedelta(hours=1, minutes=1), "1 hour 1 minute"),
        (dt.timedelta(minutes=45), "45 minutes"),
        (dt.timedelta(seconds=20), "less than a minute"),
        (dt.timedelta(days=7) - dt.timedelta(milliseconds=50), "7 days"),  # just created with --due-in 7d
        (-dt.timedelta(hours=3), "overdue by 3 hours"),
        (-dt.timedelta(days=1, hours=2), "overdue by 1 day 2 hours"),
        (-dt.timedelta(seconds=5), "overdue by less than a minute"),
    ],
)
def test_time_left_words(delta: dt.timedelta, words: str) -> None:
    assert time_left_words(NOW + delta, NOW) == words


def test_short_id() -> None:
    assert short_id(TASK_ID) == "0190f0e2..4a7b"
    assert short_id("abc") == "abc"


# ------------------------------------------------------------------ ids and links


def test_task_id_requires_full_uuid() -> None:
    assert task_id(TASK_ID.upper()) == TASK_ID
    with pytest.raises(typer.BadParameter, match="full task id"):
        task_id("0190f0e2")


def test_record_ref() -> None:
    ref = record_ref(f"evidence-request:{TASK_ID}", "--link")
    assert ref.kind == common_pb2.RECORD_KIND_EVIDENCE_REQUEST and ref.id == TASK_ID
    with pytest.raises(typer.BadParameter, match="KIND:UUID"):
        record_ref(f"warrant:{TASK_ID}", "--link")
    with pytest.raises(typer.BadParameter, match="not a UUID"):
        record_ref("task:123", "--link")


# ------------------------------------------------------------------ errors


class FakeRpcError(grpc.RpcError):
    """What a failed sync gRPC call raises: code(), details(), trailing_metadata()."""

    def __init__(self, code: grpc.StatusCode, details: str, status: status_pb2.Status | None = None) -> None:
        self._code, self._details, self._status = code, details, status

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        if self._status is None:
            return (("content-type", "application/grpc"),)
        return (("grpc-status-details-bin", self._status.SerializeToString()),)


def _packed(msg: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


def test_error_line_lists_field_violations() -> None:
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="title", description="is required"),
            error_details_pb2.BadRequest.FieldViolation(field="due_at", description="must be in the future"),
        ]
    )
    status = status_pb2.Status(code=3, message="invalid request: ...", details=[_packed(bad)])
    err = FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "invalid request: ...", status)
    assert rpc_error_text(err) == "INVALID_ARGUMENT: title: is required; due_at: must be in the future"


def test_error_line_with_reason() -> None:
    info = error_details_pb2.ErrorInfo(reason="ILLEGAL_TRANSITION", domain="jit.platform")
    status = status_pb2.Status(code=9, message="task is ASSIGNED", details=[_packed(info)])
    err = FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "task is ASSIGNED", status)
    assert rpc_error_text(err) == "FAILED_PRECONDITION: task is ASSIGNED [ILLEGAL_TRANSITION]"


def test_error_line_plain_status_and_bad_trailer() -> None:
    err = FakeRpcError(grpc.StatusCode.NOT_FOUND, "task x not found")
    assert rpc_error_text(err) == "NOT_FOUND: task x not found"

    class Garbled(FakeRpcError):
        def trailing_metadata(self) -> Any:
            return (("grpc-status-details-bin", b"\xff\xff not a status"),)

    assert rpc_error_text(Garbled(grpc.StatusCode.PERMISSION_DENIED, "no")) == "PERMISSION_DENIED: no"


def test_error_line_when_service_is_down() -> None:
    err = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; Connection refused")
    assert rpc_error_text(err, "tasks", "127.0.0.1:50051") == (
        "tasks service not reachable at 127.0.0.1:50051 (is it running? try make run)"
    )
    wrapped = ServiceCallError("tasks", "127.0.0.1:50051", err)
    assert render.error_text(wrapped) == rpc_error_text(err, "tasks", "127.0.0.1:50051")
    assert render.error_text(CliError("a\n  b")) == "a b"
    assert render.error_text(KeyError("x")) is None


# ------------------------------------------------------------------ tables


def _ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _task(**kw: Any) -> tasks_pb2.Task:
    base: dict[str, Any] = dict(
        id=TASK_ID,
        workspace_id="jit-demo",
        title="Identify the holder of account @x",
        kind=tasks_pb2.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
        origin_jurisdiction="NL",
        assignee_jurisdiction="DE",
        priority=tasks_pb2.TASK_PRIORITY_HIGH,
        state=tasks_pb2.TASK_STATE_IN_PROGRESS,
        version=3,
        visibility=common_pb2.VISIBILITY_RESTRICTED,
    )
    base.update(kw)
    return tasks_pb2.Task(**base)


def _text(renderable: Any, width: int = 200) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def test_tasks_table() -> None:
    tasks = [
        _task(due_at=_ts(NOW + dt.timedelta(days=2, hours=4))),
        _task(
            id="0190f0e2-0000-7000-8000-00000000beef",
            title="Preserve the posts",
            state=tasks_pb2.TASK_STATE_BLOCKED,
            due_at=_ts(NOW - dt.timedelta(hours=3)),
            overdue=True,
        ),
        _task(
            id="0190f0e2-0000-7000-8000-00000000cafe",
            title="Hear the witness",
            state=tasks_pb2.TASK_STATE_VERIFIED,
            due_at=_ts(NOW - dt.timedelta(days=1)),
        ),
        _task(
            id="0190f0e2-0000-7000-8000-00000000f00d",
            title="No deadline",
            state=tasks_pb2.TASK_STATE_ASSIGNED,
        ),
    ]
    text = _text(tasks_table(tasks, NOW))
    header = text.splitlines()[0].split()
    assert header == ["ID", "TITLE", "STATE", "TO", "FROM", "DUE", "PRIORITY", "VER"]
    lines = text.splitlines()[1:]
    assert "0190f0e2..4a7b" in lines[0] and "in-progress" in lines[0] and "(2 days 4 hours)" in lines[0]
    assert "DE" in lines[0] and "NL" in lines[0] and "high" in lines[0] and lines[0].rstrip().endswith("3")
    assert "blocked" in lines[1] and "(overdue by 3 hours)" in lines[1]
    assert "2026-05-31 12:00Z" in lines[2] and "overdue" not in lines[2]  # verified: no clock any more
    assert "assigned" in lines[3] and " - " in lines[3]
    assert TASK_ID not in text
    assert TASK_ID in _text(tasks_table(tasks, NOW, wide=True))


def test_task_taken_back_a_task_whose_assignee_was_taken_out_says_so_in_the_list_and_in_detail() -> None:
    """TASK_TAKEN_BACK: `jit task list` and `jit task show` mark an assignee taken out of the JIT."""
    out = _task(state=tasks_pb2.TASK_STATE_ACCEPTED, assignee_taken_out=True)
    member = _task(id="0190f0e2-0000-7000-8000-00000000beef", state=tasks_pb2.TASK_STATE_ACCEPTED)
    lines = _text(tasks_table([out, member], NOW)).splitlines()[1:]
    assert "DE (out)" in lines[0] and "(out)" not in lines[1]
    assert "DE (out)" in _text(task_detail(out, NOW)) and "(out)" not in _text(task_detail(member, NOW))


def test_task_list_taken_out_asks_for_the_tasks_whose_assignee_was_taken_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """TASK_TAKEN_BACK: `jit task list --taken-out` sends ``assignee_taken_out`` (with the other filters) and
    shows what the service lists with `DE (out)`; without it the filter is not asked for."""
    from jitcli import tasks_cmd

    sent: list[tasks_pb2.ListTasksRequest] = []

    def call(ctx: object, method: str, request: tasks_pb2.ListTasksRequest) -> tasks_pb2.ListTasksResponse:
        assert method == "ListTasks"
        sent.append(request)
        out = _task(state=tasks_pb2.TASK_STATE_ACCEPTED, assignee_taken_out=True)
        return tasks_pb2.ListTasksResponse(tasks=[out] if request.assignee_taken_out else [])

    monkeypatch.setattr(tasks_cmd, "_call", call)
    env = {"JIT_CONFIG_DIR": str(tmp_path), "COLUMNS": "200"}
    runner = CliRunner()
    listed = runner.invoke(app, ["task", "list", "-w", "jit-demo", "--taken-out", "--state", "accepted"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "DE (out)" in listed.stdout
    assert sent[0].assignee_taken_out and list(sent[0].states) == [tasks_pb2.TASK_STATE_ACCEPTED]
    assert sent[0].workspace_id == "jit-demo"
    plain = runner.invoke(app, ["task", "list", "-w", "jit-demo"], env=env)
    assert plain.exit_code == 0 and not sent[1].assignee_taken_out and "no tasks" in plain.stderr


def test_table_does_not_interpret_markup() -> None:
    text = _text(tasks_table([_task(title="[bold]not markup[/bold]")], NOW))
    assert "[bold]not markup[/bold]" in text


def test_task_detail() -> None:
    task = _task(
        state=tasks_pb2.TASK_STATE_BLOCKED,
        state_reason="waiting for the provider",
        blocked_by=[common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_PRESERVATION_ORDER, id=TASK_ID)],
        shared_with=["IE"],
        created_by=common_pb2.Actor(user_id="u1", username="nl-prosecutor", jurisdiction="NL"),
        created_at=_ts(NOW),
    )
    text = _text(task_detail(task, NOW))
    assert f"preservation-order:{TASK_ID}" in text
    assert "waiting for the provider" in text and "IE" in text
    assert "nl-prosecutor (NL) at 2026-06-01 12:00Z" in text


def test_allowed_line_says_what_the_caller_may_do_now() -> None:
    assert render.allowed_line(["accept", "decline"]) == "You may: accept, decline"
    assert render.allowed_line([]) == "You may: nothing now"


def test_message_dict_uses_proto_field_names() -> None:
    data = render.message_dict(_task(due_at=_ts(NOW)))
    assert data["assignee_jurisdiction"] == "DE"
    assert data["state"] == "TASK_STATE_IN_PROGRESS"
    assert data["due_at"] == "2026-06-01T12:00:00Z"
    assert data["overdue"] is False  # printed although default: scripts can rely on every field


# ------------------------------------------------------------------ session (fake token endpoint)


def _jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


CLAIMS = {
    "preferred_username": "nl-prosecutor",
    "jurisdiction": "NL",
    "realm_access": {"roles": ["prosecutor", "demo_user", "offline_access", "default-roles-jit"]},
    "groups": ["/workspaces/jit-demo/NL", "/other"],
}


def _token_body(username: str = "nl-prosecutor", expires_in: int = 300) -> dict[str, Any]:
    return {
        "access_token": _jwt({**CLAIMS, "preferred_username": username}),
        "refresh_token": f"refresh-{username}",
        "expires_in": expires_in,
        "refresh_expires_in": 1800,
    }


def _session(tmp_path: Path, handler: Any) -> Session:
    settings = CliSettings(config_dir=tmp_path, keycloak_url="http://kc.invalid")
    return Session(settings, http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_identity_from_claims() -> None:
    assert identity(CLAIMS) == {
        "username": "nl-prosecutor",
        "jurisdiction": "NL",
        "roles": ["prosecutor"],
        "workspaces": ["jit-demo"],
    }


def test_password_login_caches_tokens_privately(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(200, json=_token_body())

    session = _session(tmp_path, handler)
    tokens = session.login_password("NL-Prosecutor", "demo")
    assert seen[0]["grant_type"] == "password" and seen[0]["client_id"] == "jit-cli"
    assert seen[0]["username"] == "nl-prosecutor"
    path = tmp_path / "tokens" / "nl-prosecutor.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session.current_user() == "nl-prosecutor"
    assert session.load("nl-prosecutor") == tokens


def test_refused_password_login(tmp_path: Path) -> None:
    page = '<html><div id="kc-error-message"><p>Password login is for DEMO accounts only</p></div></html>'
    session = _session(tmp_path, lambda r: httpx.Response(401, text=page))
    with pytest.raises(CliError, match="access_denied: Password login is for DEMO accounts only"):
        session.login_password("nl-realuser", "demo")


def test_access_token_refreshes_near_expiry(tmp_path: Path) -> None:
    grants: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        grants.append(form["grant_type"])
        if form["grant_type"] == "refresh_token" and form["refresh_token"] != "refresh-nl-prosecutor":
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "Session not active"})
        return httpx.Response(200, json=_token_body())

    session = _session(tmp_path, handler)
    first = session.login_password("nl-prosecutor", "demo")
    assert session.access_token("nl-prosecutor", now=first.expires_at - 60) == first.access_token
    session.access_token("nl-prosecutor", now=first.expires_at - 10)  # within 30 s: refreshed
    assert grants == ["password", "refresh_token"]

    stale = session.load("nl-prosecutor")
    assert stale is not None
    stale.refresh_token = "revoked"
    stale.expires_at = time.time() - 1
    session.save(stale)
    with pytest.raises(CliError, match=r"session for nl-prosecutor expired: run `jit login nl-prosecutor`"):
        session.access_token("nl-prosecutor")


def test_device_flow_honours_interval_and_slow_down(tmp_path: Path) -> None:
    answers = iter(
        [
            httpx.Response(400, json={"error": "authorization_pending"}),
            httpx.Response(400, json={"error": "slow_down"}),
            httpx.Response(400, json={"error": "authorization_pending"}),
            httpx.Response(200, json=_token_body("de-liaison")),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/device"):
            return httpx.Response(
                200,
                json={
                    "device_code": "dc",
                    "user_code": "ABCD-EFGH",
                    "verification_uri": "http://kc/device",
                    "verification_uri_complete": "http://kc/device?user_code=ABCD-EFGH",
                    "expires_in": 600,
                    "interval": 5,
                },
            )
        form = dict(httpx.QueryParams(request.content.decode()))
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
        assert form["device_code"] == "dc"
        return next(answers)

    session = _session(tmp_path, handler)
    code = session.start_device_login()
    assert code.user_code == "ABCD-EFGH" and code.interval == 5
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    tokens = session.finish_device_login(code, sleep=sleep, clock=lambda: clock[0])
    assert waits == [5, 5, 10, 10]
    assert tokens.username == "de-liaison" and session.current_user() == "de-liaison"


def test_device_flow_gives_up_at_expiry(tmp_path: Path) -> None:
    session = _session(tmp_path, lambda r: httpx.Response(400, json={"error": "authorization_pending"}))
    code = DeviceCode("u", "u", "CODE", expires_in=20, interval=5, device_code="dc")
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    with pytest.raises(CliError, match="expired"):
        session.finish_device_login(code, sleep=sleep, clock=lambda: clock[0])
    assert clock[0] <= 20


# ------------------------------------------------------------------ the command, with nothing running


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_command_errors_are_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    env = {
        "JIT_CONFIG_DIR": str(tmp_path),
        "JIT_TASKS_ADDR": f"127.0.0.1:{port}",
        "JIT_KEYCLOAK_URL": "http://127.0.0.1:1",
    }
    runner = CliRunner()

    result = runner.invoke(app, ["task", "list"], env=env)
    assert result.exit_code == 1
    assert result.stderr == "error: not logged in: run `jit login USERNAME` (or `jit login --device`)\n"

    settings = CliSettings(config_dir=tmp_path, keycloak_url="http://127.0.0.1:1")
    Session(settings).save(TokenSet("nl-prosecutor", _jwt(CLAIMS), "r", time.time() + 300, 0, settings.issuer))
    result = runner.invoke(app, ["--as", "nl-prosecutor", "task", "list"], env=env)
    assert result.exit_code == 1
    assert result.stderr == (f"error: tasks service not reachable at 127.0.0.1:{port} (is it running? try make run)\n")
    assert result.stdout == ""

    result = runner.invoke(app, ["--as", "nl-prosecutor", "task", "accept", "0190f0e2"], env=env)
    assert result.exit_code == 2  # usage error
    assert "full task id" in result.stderr

    result = runner.invoke(app, ["--as", "nl-prosecutor", "whoami"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "jurisdiction:  NL" in result.stdout and "jit-demo" in result.stdout
