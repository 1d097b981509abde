"""``make run TLS=1`` (jitdev.stack): the profile is recorded, its CA and certificates are made once under
the state folder, every URL and setting follows it, and switching profiles while one runs is refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jitdev import stack
from jitlib import pki


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(stack, "STATE", tmp_path)
    monkeypatch.setattr(stack, "RUN", tmp_path / "run")
    monkeypatch.setattr(stack, "TLS_DIR", tmp_path / "tls")
    monkeypatch.setattr(stack, "TLS_MARKER", tmp_path / "run" / "tls")
    return tmp_path


def test_the_plaintext_profile_is_the_default(state: Path) -> None:
    stack._choose_profile(tls=False)
    assert not stack.tls_on()
    assert stack.nats_url().startswith("nats://") and stack.keycloak_url().startswith("http://")
    assert stack.tls_env() == {}
    assert not (state / "tls").exists()


def test_the_tls_profile_makes_its_ca_once_and_every_setting_follows_it(state: Path) -> None:
    stack._choose_profile(tls=True)
    assert stack.tls_on()
    files = pki.LocalPki(state / "tls")
    ca = files.ca.read_bytes()
    assert stat.S_IMODE(files.server.key.stat().st_mode) == 0o600
    pki.verify_chain(pki.load_certificate(files.server.cert), pki.load_certificates(files.ca), server_name="127.0.0.1")
    assert stack.nats_url().startswith("tls://")
    assert stack.keycloak_url() == f"https://127.0.0.1:{stack.KEYCLOAK_HTTPS_PORT}"
    assert stack.issuer().startswith("https://") and stack.console_url().startswith("https://")
    env = stack.tls_env()
    assert env["JIT_TLS_CERT_FILE"] == str(files.server.cert) and env["JIT_NATS_TLS_CA_FILE"] == str(files.ca)
    assert stack.service_env()["JIT_NATS_URL"].startswith("tls://")
    cli = stack.cli_env()
    assert cli["JIT_TLS_CA_FILE"] == cli["JIT_OIDC_CA_FILE"] == str(files.ca)
    stack._choose_profile(tls=True)  # again: the same CA, so what trusts it goes on trusting it
    assert files.ca.read_bytes() == ca


def test_switching_profiles_while_one_runs_is_refused(state: Path) -> None:
    stack._choose_profile(tls=False)
    (state / "run" / "nats.pid").write_text(str(os.getpid()))  # something of the plaintext profile runs
    with pytest.raises(RuntimeError, match="make stop"):
        stack._choose_profile(tls=True)
    assert not stack.tls_on()
    (state / "run" / "nats.pid").unlink()
    stack._choose_profile(tls=True)
    assert stack.tls_on()
