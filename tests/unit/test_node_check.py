"""`jit node check`: a sound node configuration passes; each problem is found and said in one sentence."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from jitcli import node_check
from jitcli.main import app
from jitlib import db, pki
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME

NOW = dt.datetime.now(dt.UTC)


def _secret(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture
def sound(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    tls = tmp_path / "tls"
    ca = pki.create_ca("NL test CA")
    pki.write_pem(ca, tls / "ca.pem", tls / "ca-key.pem")
    pki.write_pem(pki.issue_server(ca), tls / "server.pem", tls / "server-key.pem")
    pki.write_pem(pki.issue_client(ca, "jit-service"), tls / "client.pem", tls / "client-key.pem")
    kek = _secret(tmp_path / "kek.b64", base64.b64encode(os.urandom(32)) + b"\n")
    creds = tmp_path / "nats-users"
    creds.mkdir(mode=0o700)
    for name in ("tasks", "evidence", "preservation", "messaging", "victims", "backup", "admin"):
        _secret(creds / f"{name}.json", json.dumps({"user": name, "password": "x" * 32}).encode())
    return {
        "JIT_NODE_JURISDICTION": "NL",
        "JIT_FEDERATION_PEERS": "DE,IE",
        "JIT_STATE_DIR": str(state),
        "JIT_NATS_URL": "tls://127.0.0.1:4222",
        "JIT_OIDC_ISSUER": "https://127.0.0.1:8443/realms/jit-nl",
        "JIT_TASKS_LISTEN": "127.0.0.1:50051",
        "JIT_KEK_FILE": kek,
        "JIT_TLS_CA_FILE": str(tls / "ca.pem"),
        "JIT_TLS_CERT_FILE": str(tls / "server.pem"),
        "JIT_TLS_KEY_FILE": str(tls / "server-key.pem"),
        "JIT_TLS_CLIENT_CERT_FILE": str(tls / "client.pem"),
        "JIT_TLS_CLIENT_KEY_FILE": str(tls / "client-key.pem"),
        "JIT_NATS_TLS_CA_FILE": str(tls / "ca.pem"),
        "JIT_NATS_CREDENTIALS_DIR": str(creds),
    }


def problems(env: dict[str, str], **kw: object) -> list[str]:
    return node_check.check(env, **kw).problems  # type: ignore[arg-type]


def only(env: dict[str, str], words: str) -> str:
    found = problems(env)
    assert len(found) == 1, found
    assert words in found[0], found[0]
    assert found[0].endswith(".") and "\n" not in found[0]
    return found[0]


def test_a_sound_configuration_has_no_problem(sound: dict[str, str]) -> None:
    report = node_check.check(sound)
    assert report.problems == []
    assert report.checked > 20


def test_the_command_says_so_and_exits_0(sound: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / "node.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in sound.items()))
    res = CliRunner().invoke(app, ["node", "check", "--env-file", str(env_file)], env={})
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "sound" in res.stdout


def test_the_command_prints_each_problem_and_exits_1(sound: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / "node.env"
    sound.update(JIT_NODE_JURISDICTION="XX", JIT_NATS_URL="http//nowhere")
    env_file.write_text("".join(f"{k}={v}\n" for k, v in sound.items()))
    res = CliRunner().invoke(app, ["--json", "node", "check", "--env-file", str(env_file)], env={})
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False and len(out["problems"]) == 2


@pytest.mark.parametrize(
    "setting, words",
    [
        ("JIT_NODE_JURISDICTION", "needs its country"),
        ("JIT_STATE_DIR", "JIT_STATE_DIR is not set"),
        ("JIT_NATS_URL", "JIT_NATS_URL is not set"),
        ("JIT_OIDC_ISSUER", "neither JIT_OIDC_ISSUER nor JIT_OIDC_ISSUERS"),
        ("JIT_TLS_CERT_FILE", "is set but JIT_TLS_CERT_FILE is not"),
    ],
)
def test_a_missing_required_setting(sound: dict[str, str], setting: str, words: str) -> None:
    del sound[setting]
    assert any(words in p for p in problems(sound)), problems(sound)


def test_no_key_encryption_key(sound: dict[str, str]) -> None:
    del sound["JIT_KEK_FILE"]
    only(sound, "no key-encryption key for tasks, evidence, preservation, messaging, victims")
    sound["JIT_TASKS_KEK_FILE"] = sound["JIT_TLS_CERT_FILE"]  # one service's own, and a wrong one
    found = problems(sound)
    assert any("no key-encryption key for evidence, preservation, messaging, victims" in p for p in found), found


def test_a_key_file_during_a_rotation(sound: dict[str, str]) -> None:
    kek = Path(sound["JIT_KEK_FILE"])
    kek.write_bytes(base64.b64encode(os.urandom(32)) + b"\n" + kek.read_bytes())
    assert problems(sound) == []
    kek.write_bytes(kek.read_bytes() + base64.b64encode(os.urandom(16)) + b"\n")
    only(sound, "JIT_KEK_FILE (key 3) is 16 bytes")


def test_an_unknown_country(sound: dict[str, str]) -> None:
    sound["JIT_NODE_JURISDICTION"] = "XX"
    only(sound, "not an ISO 3166-1 country code")


def test_peers_unknown_own_or_twice(sound: dict[str, str]) -> None:
    sound["JIT_FEDERATION_PEERS"] = "DE,QQ"
    only(sound, "names QQ")
    sound["JIT_FEDERATION_PEERS"] = "DE,NL"
    only(sound, "own country NL")
    sound["JIT_FEDERATION_PEERS"] = "DE,IE,DE"
    only(sound, "DE more than once")
    sound["JIT_FEDERATION_PEERS"] = "DE,,IE"
    only(sound, "empty entry")


@pytest.mark.parametrize("url", ["http://127.0.0.1:4222", "nats://", "tls://127.0.0.1:99999", "127.0.0.1:4222"])
def test_a_nats_url_that_does_not_parse(sound: dict[str, str], url: str) -> None:
    sound["JIT_NATS_URL"] = url
    only(sound, "JIT_NATS_URL is not a URL")


def test_an_issuer_that_is_not_a_url(sound: dict[str, str]) -> None:
    sound["JIT_OIDC_ISSUER"] = "keycloak/realms/jit"
    only(sound, "JIT_OIDC_ISSUER is not a URL")


def test_per_country_issuers(sound: dict[str, str]) -> None:
    del sound["JIT_OIDC_ISSUER"]
    sound["JIT_OIDC_ISSUERS"] = "NL=https://kc.nl/realms/jit-nl,DE=https://kc.de/realms/jit-de"
    assert problems(sound) == []
    sound["JIT_OIDC_ISSUERS"] = "NL=https://kc.nl/realms/jit-nl,https://kc.de/realms/jit-de"
    only(sound, "not COUNTRY=issuer-URL")


def test_a_listen_address_without_port(sound: dict[str, str]) -> None:
    sound["JIT_TASKS_LISTEN"] = "127.0.0.1"
    only(sound, "JIT_TASKS_LISTEN is not an address")


def test_a_database_url_of_another_engine(sound: dict[str, str]) -> None:
    sound["JIT_TASKS_DATABASE_URL"] = "mysql://jit@db/tasks"
    only(sound, "uses mysql")
    sound["JIT_TASKS_DATABASE_URL"] = "::not a url::"
    only(sound, "is not a database URL")


def test_a_database_that_does_not_answer(sound: dict[str, str]) -> None:
    sound["JIT_TASKS_DATABASE_URL"] = "postgresql+psycopg://jit@127.0.0.1:1/tasks?connect_timeout=2"
    assert problems(sound) == []  # only checked when asked
    found = problems(sound, reach_databases=True)
    assert len(found) == 1 and "the tasks database does not answer" in found[0]


def test_events_a_service_set_aside(sound: dict[str, str], tmp_path: Path) -> None:
    """With --databases: what each service's consumers set aside (dead letters), counted, without their
    content or their errors; a database not migrated yet has none."""
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    sound["JIT_TASKS_DATABASE_URL"] = url
    assert problems(sound, reach_databases=True) == []  # not migrated yet
    db.migrate(MIGRATIONS, url)
    assert problems(sound, reach_databases=True) == []
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for consumer, event in (("tasks-replica-task", "e1"), ("tasks-replica-task", "e2"), ("tasks-follow", "e3")):
            conn.execute(
                RUNTIME.dead_letters.insert().values(
                    consumer=consumer,
                    event_id=event,
                    subject="jit.in.de.tasks.DE.created",
                    payload=b"sealed",
                    error="ValueError: the witness lives at 12 Main Street",
                    deliveries=1,
                    recorded_at=dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC),
                )
            )
    engine.dispose()
    (found,) = problems(sound, reach_databases=True)
    assert found.startswith("the tasks service set aside 3 event(s) it could not apply (1 by tasks-follow, 2 by ")
    assert "the oldest on 2026-12-01 10:30" in found and found.endswith(".") and "\n" not in found
    assert "Main Street" not in found and "e1" not in found
    assert problems(sound) == []  # only counted when asked


def test_a_missing_key_file(sound: dict[str, str], tmp_path: Path) -> None:
    sound["JIT_KEK_FILE"] = str(tmp_path / "nowhere.b64")
    only(sound, "JIT_KEK_FILE names")


def test_a_key_file_others_may_read(sound: dict[str, str]) -> None:
    os.chmod(sound["JIT_KEK_FILE"], 0o644)
    only(sound, "may be read by others (mode 0644)")
    os.chmod(sound["JIT_KEK_FILE"], 0o600)
    os.chmod(sound["JIT_TLS_KEY_FILE"], 0o640)
    only(sound, "chmod 600")


def test_a_state_folder_others_may_read(sound: dict[str, str]) -> None:
    os.chmod(sound["JIT_STATE_DIR"], 0o755)
    only(sound, "make it 0700")


@pytest.mark.parametrize("length", [16, 31, 33, 64])
def test_a_key_encryption_key_of_the_wrong_length(sound: dict[str, str], length: int) -> None:
    Path(sound["JIT_KEK_FILE"]).write_bytes(base64.b64encode(os.urandom(length)))
    only(sound, f"is {length} bytes; it must be 32")


def test_a_key_encryption_key_that_is_not_base64(sound: dict[str, str]) -> None:
    sound["JIT_TASKS_KEK"] = "not base64!"
    only(sound, "JIT_TASKS_KEK is not base64")


def test_an_expired_certificate(sound: dict[str, str], tmp_path: Path) -> None:
    ca = pki.create_ca("NL test CA", now=NOW - dt.timedelta(days=400))
    pki.write_pem(ca, tmp_path / "old-ca.pem", tmp_path / "old-ca-key.pem")
    old = pki.issue_server(ca, days=30, now=NOW - dt.timedelta(days=400))
    pki.write_pem(old, tmp_path / "old.pem", tmp_path / "old-key.pem")
    sound.update(
        JIT_TLS_CA_FILE=str(tmp_path / "old-ca.pem"),
        JIT_TLS_CERT_FILE=str(tmp_path / "old.pem"),
        JIT_TLS_KEY_FILE=str(tmp_path / "old-key.pem"),
    )
    del sound["JIT_TLS_CLIENT_CERT_FILE"], sound["JIT_TLS_CLIENT_KEY_FILE"]
    only(sound, "has expired")


def test_a_certificate_near_expiry(sound: dict[str, str], tmp_path: Path) -> None:
    ca = pki.create_ca("NL test CA")
    pki.write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    pki.write_pem(pki.issue_server(ca, days=10), tmp_path / "soon.pem", tmp_path / "soon-key.pem")
    sound.update(
        JIT_TLS_CA_FILE=str(tmp_path / "ca.pem"),
        JIT_TLS_CERT_FILE=str(tmp_path / "soon.pem"),
        JIT_TLS_KEY_FILE=str(tmp_path / "soon-key.pem"),
    )
    del sound["JIT_TLS_CLIENT_CERT_FILE"], sound["JIT_TLS_CLIENT_KEY_FILE"]
    only(sound, "renew it now")


def test_a_certificate_not_yet_valid(sound: dict[str, str], tmp_path: Path) -> None:
    ca = pki.create_ca("NL test CA", now=NOW + dt.timedelta(days=2))
    pki.write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    pki.write_pem(pki.issue_server(ca, now=NOW + dt.timedelta(days=2)), tmp_path / "s.pem", tmp_path / "s-key.pem")
    sound.update(
        JIT_TLS_CA_FILE=str(tmp_path / "ca.pem"),
        JIT_TLS_CERT_FILE=str(tmp_path / "s.pem"),
        JIT_TLS_KEY_FILE=str(tmp_path / "s-key.pem"),
    )
    del sound["JIT_TLS_CLIENT_CERT_FILE"], sound["JIT_TLS_CLIENT_KEY_FILE"]
    only(sound, "is not valid yet")


def test_a_key_that_is_not_the_certificates(sound: dict[str, str]) -> None:
    sound["JIT_TLS_KEY_FILE"] = sound["JIT_TLS_CLIENT_KEY_FILE"]
    only(sound, "is not the key of the certificate")


def test_a_certificate_of_another_ca(sound: dict[str, str], tmp_path: Path) -> None:
    other = pki.create_ca("Someone else's CA")
    pki.write_pem(pki.issue_server(other), tmp_path / "s.pem", tmp_path / "s-key.pem")
    sound.update(JIT_TLS_CERT_FILE=str(tmp_path / "s.pem"), JIT_TLS_KEY_FILE=str(tmp_path / "s-key.pem"))
    only(sound, "is not issued by the node's CA")


def test_a_file_that_is_not_a_certificate(sound: dict[str, str]) -> None:
    sound["JIT_TLS_CERT_FILE"] = sound["JIT_KEK_FILE"]
    found = problems(sound)
    assert any("is not a PEM certificate" in p for p in found), found


def test_a_ca_file_that_does_not_exist(sound: dict[str, str], tmp_path: Path) -> None:
    sound["JIT_NATS_TLS_CA_FILE"] = str(tmp_path / "none.pem")
    only(sound, "JIT_NATS_TLS_CA_FILE names")


def test_no_ca_at_all(sound: dict[str, str]) -> None:
    del sound["JIT_TLS_CA_FILE"]
    only(sound, "JIT_TLS_CA_FILE is not set")


def test_no_nats_credentials(sound: dict[str, str]) -> None:
    del sound["JIT_NATS_CREDENTIALS_DIR"]
    only(sound, "without credentials")


def test_nats_credentials_missing_private_or_broken(sound: dict[str, str]) -> None:
    folder = Path(sound["JIT_NATS_CREDENTIALS_DIR"])
    (folder / "backup.json").unlink()
    only(sound, "no NATS credentials for backup")
    _secret(folder / "backup.json", b"{not json")
    only(sound, "does not hold a user and a password")
    os.chmod(folder / "backup.json", 0o644)
    assert any("may be read by others" in p for p in problems(sound))
    os.chmod(folder / "backup.json", 0o600)
    (folder / "backup.json").write_text('{"user": "backup", "password": "y"}')
    os.chmod(folder, 0o755)
    only(sound, "NATS credentials folder")
