"""`jit msg` against the running messaging service: send with an attachment, read, download, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jitcli.main import app

pytestmark = pytest.mark.integration
RUNNER = CliRunner()


def jit(env: dict[str, str], *args: str) -> Any:
    result = RUNNER.invoke(app, ["--json", *args], env=env)
    assert result.exit_code == 0, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout


def test_send_read_and_download_through_the_cli(messaging_svc: Any, keycloak: Any, tmp_path: Path) -> None:
    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_MESSAGING_ADDR": f"127.0.0.1:{messaging_svc.app.port}",
        "JIT_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    for user in ("nl-prosecutor", "de-liaison"):
        assert RUNNER.invoke(app, ["login", user, "--password", "demo"], env=env).exit_code == 0
    evidence = tmp_path / "screenshot.png"
    evidence.write_bytes(b"\x89PNG fake screenshot of the harassing post")
    sent = jit(
        env,
        "--as",
        "nl-prosecutor",
        "msg",
        "send",
        "workspace:jit-demo",
        "Screenshot attached",
        "--attach",
        str(evidence),
    )
    read = jit(env, "--as", "de-liaison", "msg", "read", "workspace:jit-demo")
    mine = [m for m in read["messages"] if m["id"] == sent["id"]]
    assert mine and mine[0]["body"] == "Screenshot attached"
    assert mine[0]["attachments"][0]["filename"] == "screenshot.png"
    out = tmp_path / "downloaded.png"
    RUNNER.invoke(app, ["--as", "de-liaison", "msg", "attachment", sent["id"], "--out", str(out)], env=env)
    assert out.read_bytes() == evidence.read_bytes()
    jit(env, "--as", "nl-prosecutor", "msg", "edit", sent["id"], "Screenshot attached (2nd try)")
    revisions = jit(env, "--as", "de-liaison", "msg", "history", sent["id"])
    assert [r["body"] for r in revisions] == ["Screenshot attached", "Screenshot attached (2nd try)"]
    receipts = jit(env, "--as", "nl-prosecutor", "msg", "receipts", sent["id"])
    assert any(r["reader"]["username"] == "de-liaison" and r.get("read_at") for r in receipts)


def test_an_attachment_is_downloaded_0600_and_never_over_an_existing_file(
    messaging_svc: Any, keycloak: Any, tmp_path: Path
) -> None:
    """Security review (low): downloads were written 0644 (world-readable) and over any existing file."""
    import os
    import stat

    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_MESSAGING_ADDR": f"127.0.0.1:{messaging_svc.app.port}",
        "JIT_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    for user in ("nl-prosecutor", "de-liaison"):
        assert RUNNER.invoke(app, ["login", user, "--password", "demo"], env=env).exit_code == 0
    secret = tmp_path / "statement.txt"
    secret.write_bytes(b"witness statement")
    sent = jit(env, "--as", "nl-prosecutor", "msg", "send", "workspace:jit-demo", "statement", "--attach", str(secret))
    out = tmp_path / "downloaded.txt"
    old = os.umask(0o022)
    try:
        got = RUNNER.invoke(app, ["--as", "de-liaison", "msg", "attachment", sent["id"], "--out", str(out)], env=env)
    finally:
        os.umask(old)
    assert got.exit_code == 0, got.stdout + got.stderr
    assert out.read_bytes() == b"witness statement"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    out.write_bytes(b"my own notes")
    again = RUNNER.invoke(app, ["--as", "de-liaison", "msg", "attachment", sent["id"], "--out", str(out)], env=env)
    assert again.exit_code != 0 and out.read_bytes() == b"my own notes"
    forced = RUNNER.invoke(
        app, ["--as", "de-liaison", "msg", "attachment", sent["id"], "--out", str(out), "--overwrite"], env=env
    )
    assert forced.exit_code == 0 and out.read_bytes() == b"witness statement"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_rotate_key_rotates_from_the_version_it_read_and_a_stale_version_is_refused(
    messaging_svc: Any, keycloak: Any, tmp_path: Path
) -> None:
    """`jit msg rotate-key` sends the key version it read (or `--from-version`). The same command sent again
    from the version it moved from, as after a lost answer, is answered as the first one was, never a second
    rotation; once the key moved on, a command from that version is refused by the service."""
    import re

    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_MESSAGING_ADDR": f"127.0.0.1:{messaging_svc.app.port}",
        "JIT_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    assert RUNNER.invoke(app, ["login", "nl-prosecutor", "--password", "demo"], env=env).exit_code == 0
    rotate = ["--as", "nl-prosecutor", "msg", "rotate-key", "workspace:jit-demo"]
    first = RUNNER.invoke(app, rotate, env=env)
    assert first.exit_code == 0, first.output
    found = re.search(r"key version (\d+)", first.output)
    assert found is not None
    now = int(found.group(1))
    again = RUNNER.invoke(app, [*rotate, "--from-version", str(now - 1)], env=env)
    assert again.exit_code == 0, again.output
    assert f"key version {now}" in again.output and f"key version {now + 1}" not in again.output
    assert f"key version {now + 1}" in RUNNER.invoke(app, [*rotate, "--from-version", str(now)], env=env).output
    stale = RUNNER.invoke(app, [*rotate, "--from-version", str(now - 1)], env=env)
    assert stale.exit_code != 0
    assert f"at version {now + 1}, not {now - 1}" in stale.output
