"""`jit node init`: a new node's settings, keys and certificates; `jit node check` passes on them."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from typer.testing import CliRunner

from jitcli import node_check, node_init
from jitcli.main import app
from jitcli.nodeconf import SERVICES
from jitdev.nats import nats_server_binary
from jitlib import pki
from jitlib.config import CommonSettings, ServiceSettings

RUNNER = CliRunner()


def run_init(tmp_path: Path, *args: str) -> tuple[Path, dict[str, str]]:
    d = tmp_path / "node"
    res = RUNNER.invoke(app, ["node", "init", "--dir", str(d), *args], env={})
    assert res.exit_code == 0, res.stdout + res.stderr
    env = {k: v for k, v in dotenv_values(d / "node.env").items() if v is not None}
    return d, env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_check_passes_on_what_init_writes(tmp_path: Path) -> None:
    d, env = run_init(tmp_path, "--country", "NL", "--peers", "DE,IE", "--hub", "nats-leaf://hub.example:7422")
    assert node_check.check(env).problems == []
    res = RUNNER.invoke(app, ["node", "check", "--env-file", str(d / "node.env")], env={})
    assert res.exit_code == 0 and "sound" in res.stdout, res.stdout + res.stderr


def test_the_env_file_lists_every_setting(tmp_path: Path) -> None:
    d, env = run_init(tmp_path, "--country", "NL")
    text = (d / "node.env").read_text()
    for name in CommonSettings.model_fields:
        assert f"JIT_{name.upper()}=" in text, name
    for service in SERVICES:
        for name in ServiceSettings.model_fields:
            assert f"JIT_{service.upper()}_{name.upper()}=" in text, (service, name)
    assert env["JIT_NODE_JURISDICTION"] == "NL"
    assert env["JIT_TASKS_LISTEN"] == "127.0.0.1:50051"
    assert "JIT_TASKS_DATABASE_URL" not in env  # SQLite under the state folder by default


def test_secrets_are_for_the_owner_only(tmp_path: Path) -> None:
    d, env = run_init(tmp_path, "--country", "NL")
    for setting in ("JIT_KEK_FILE", "JIT_TLS_KEY_FILE", "JIT_TLS_CLIENT_KEY_FILE"):
        assert mode(Path(env[setting])) == 0o600, setting
    assert mode(d / "tls" / "ca-key.pem") == 0o600
    assert mode(d / "nats" / "nats-server.json") == 0o600  # it holds the JetStream store key
    assert mode(d / "node.env") == 0o600
    for folder in (d, d / "state", d / "keys", d / "tls"):
        assert mode(folder) == 0o700, folder
    assert mode(d / "tls" / "ca.pem") == 0o644  # a certificate is public


def test_the_kek_file_is_base64_of_32_random_bytes(tmp_path: Path) -> None:
    _, env = run_init(tmp_path, "--country", "NL")
    _, other = run_init(tmp_path / "2", "--country", "NL")
    key = base64.b64decode(Path(env["JIT_KEK_FILE"]).read_text().strip(), validate=True)
    assert len(key) == 32
    assert key != base64.b64decode(Path(other["JIT_KEK_FILE"]).read_text().strip())


def test_the_certificates_chain_to_the_new_ca_for_the_names(tmp_path: Path) -> None:
    _, env = run_init(tmp_path, "--country", "NL", "--name", "nl.jit.example", "--name", "10.0.0.5")
    ca = pki.load_certificates(Path(env["JIT_TLS_CA_FILE"]))
    server = pki.load_issued(Path(env["JIT_TLS_CERT_FILE"]), Path(env["JIT_TLS_KEY_FILE"]))
    pki.verify_chain(server.certificate, ca, server_name="nl.jit.example")
    pki.verify_chain(server.certificate, ca, server_name="10.0.0.5")
    client = pki.load_issued(Path(env["JIT_TLS_CLIENT_CERT_FILE"]), Path(env["JIT_TLS_CLIENT_KEY_FILE"]))
    pki.verify_chain(client.certificate, ca)
    assert env["JIT_NATS_URL"] == "tls://nl.jit.example:4222"
    assert env["JIT_OIDC_ISSUER"] == "https://nl.jit.example:8443/realms/jit-nl"


def test_your_own_ca_issues_the_nodes_certificates(tmp_path: Path) -> None:
    ca = pki.create_ca("Our federation CA")
    pki.write_pem(ca, tmp_path / "our-ca.pem", tmp_path / "our-ca-key.pem")
    d, env = run_init(
        tmp_path,
        "--country",
        "DE",
        "--ca-cert",
        str(tmp_path / "our-ca.pem"),
        "--ca-key",
        str(tmp_path / "our-ca-key.pem"),
    )
    assert not (d / "tls" / "ca-key.pem").exists()  # your CA's key stays where you keep it
    server = pki.load_certificate(Path(env["JIT_TLS_CERT_FILE"]))
    pki.verify_chain(server, [ca.certificate], server_name="localhost")
    assert node_check.check(env).problems == []


def test_your_ca_without_its_key_leaves_the_certificates_to_you(tmp_path: Path) -> None:
    ca = pki.create_ca("Our federation CA")
    pki.write_pem(ca, tmp_path / "our-ca.pem", tmp_path / "our-ca-key.pem")
    d = tmp_path / "node"
    res = RUNNER.invoke(
        app, ["node", "init", "--country", "DE", "--dir", str(d), "--ca-cert", str(tmp_path / "our-ca.pem")]
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "your CA issues the node's certificates" in res.stderr
    env = {k: v for k, v in dotenv_values(d / "node.env").items() if v is not None}
    found = node_check.check(env).problems
    assert found and all("does not exist" in p for p in found)
    # Once your CA's certificates are in place, the node is sound.
    pki.write_pem(pki.issue_server(ca), Path(env["JIT_TLS_CERT_FILE"]), Path(env["JIT_TLS_KEY_FILE"]))
    pki.write_pem(
        pki.issue_client(ca, "jit-node-de"), Path(env["JIT_TLS_CLIENT_CERT_FILE"]), Path(env["JIT_TLS_CLIENT_KEY_FILE"])
    )
    assert node_check.check(env).problems == []


def test_a_ca_key_that_is_not_the_cas(tmp_path: Path) -> None:
    ca, other = pki.create_ca("Our CA"), pki.create_ca("Another CA")
    pki.write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    pki.write_pem(other, tmp_path / "other.pem", tmp_path / "other-key.pem")
    args = ["--ca-cert", str(tmp_path / "ca.pem"), "--ca-key", str(tmp_path / "other-key.pem")]
    res = RUNNER.invoke(app, ["node", "init", "--country", "NL", "--dir", str(tmp_path / "n"), *args])
    assert res.exit_code == 1 and "is not the key of the CA certificate" in res.stderr


def test_a_leaf_certificate_is_not_a_ca(tmp_path: Path) -> None:
    ca = pki.create_ca("Our CA")
    pki.write_pem(pki.issue_server(ca), tmp_path / "leaf.pem", tmp_path / "leaf-key.pem")
    args = ["--ca-cert", str(tmp_path / "leaf.pem"), "--ca-key", str(tmp_path / "leaf-key.pem")]
    res = RUNNER.invoke(app, ["node", "init", "--country", "NL", "--dir", str(tmp_path / "n"), *args])
    assert res.exit_code == 1 and "is not a CA certificate" in res.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--country", "XX"], "not an ISO 3166-1 country code"),
        (["--country", "NL", "--peers", "DE,NL"], "the node's own country NL"),
        (["--country", "NL", "--peers", "DE,QQ"], "'QQ', not an ISO 3166-1"),
        (["--country", "NL", "--peers", "DE,DE"], "more than once"),
        (["--country", "NL", "--postgres", "mysql://db"], "a PostgreSQL server URL"),
    ],
)
def test_bad_options_are_refused_in_words(tmp_path: Path, args: list[str], words: str) -> None:
    res = RUNNER.invoke(app, ["node", "init", "--dir", str(tmp_path / "n"), *args])
    assert res.exit_code == 1 and words in res.stderr, res.stderr
    assert not (tmp_path / "n" / "node.env").exists()


def test_a_folder_that_holds_a_node_is_left_alone(tmp_path: Path) -> None:
    d, env = run_init(tmp_path, "--country", "NL")
    before = Path(env["JIT_KEK_FILE"]).read_bytes()
    res = RUNNER.invoke(app, ["node", "init", "--country", "NL", "--dir", str(d)])
    assert res.exit_code == 1 and "holds a node already" in res.stderr
    assert Path(env["JIT_KEK_FILE"]).read_bytes() == before


def test_postgres_gives_each_service_its_database(tmp_path: Path) -> None:
    _, env = run_init(tmp_path, "--country", "IE", "--postgres", "postgresql://jit@db.example:5432")
    assert env["JIT_EVIDENCE_DATABASE_URL"] == "postgresql+psycopg://jit@db.example:5432/jit_ie_evidence"
    assert node_check.check(env).problems == []


def test_the_nats_server_reads_its_configuration(tmp_path: Path) -> None:
    d, env = run_init(tmp_path, "--country", "NL")
    conf = d / "nats" / "nats-server.json"
    res = subprocess.run([nats_server_binary(), "-c", str(conf), "-t"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    config = json.loads(conf.read_text())
    assert config["jetstream"]["domain"] == "nl"
    assert len(bytes.fromhex(config["jetstream"]["key"])) == 32
    assert config["tls"]["cert_file"] == env["JIT_TLS_CERT_FILE"]


def test_the_cli_settings_point_at_the_node(tmp_path: Path) -> None:
    d, _ = run_init(tmp_path, "--country", "NL", "--name", "nl.jit.example")
    cli = dotenv_values(d / "cli.env")
    assert cli["JIT_TASKS_ADDR"] == "nl.jit.example:50051"
    assert cli["JIT_REALM"] == "jit-nl"
    assert cli["JIT_KEYCLOAK_URL"] == "https://nl.jit.example:8443"


def test_init_options_in_code(tmp_path: Path) -> None:
    result = node_init.init(node_init.InitOptions(country="FR", directory=tmp_path / "fr", peers=["NL"]))
    assert result.env_file.exists() and result.cli_env_file.exists()


HUB = "nats-leaf://hub.example:7422"


def test_hub_writes_the_link_as_the_local_federation_renders_it(tmp_path: Path) -> None:
    from jitlib import natsconf

    d, env = run_init(tmp_path, "--country", "NL", "--peers", "DE,IE", "--hub", HUB)
    assert env["JIT_NODE_JURISDICTION"] == "NL" and env["JIT_FEDERATION_PEERS"] == "DE,IE"
    password_file = d / "nats" / "link-password"
    assert mode(password_file) == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 16
    config = json.loads((d / "nats" / "nats-server.json").read_text())
    expected = natsconf.NodeNats(country="NL", port=4222, store_dir=d, hub_url=HUB, password=password).config()[
        "leafnodes"
    ]
    assert config["leafnodes"] == expected
    (remote,) = config["leafnodes"]["remotes"]
    assert remote["url"] == f"nats-leaf://nl:{password}@hub.example:7422"
    assert remote["deny_exports"] == ["jit.>"] and remote["deny_imports"] == ["jit.>"]
    assert "tls" not in remote  # a plaintext hub URL without --hub-ca
    res = subprocess.run([nats_server_binary(), "-c", str(d / "nats" / "nats-server.json"), "-t"],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr


def test_a_tls_hub_is_checked_against_the_hub_ca(tmp_path: Path) -> None:
    hub_ca = pki.create_ca("hub CA")
    pki.write_pem(hub_ca, tmp_path / "hub-ca.pem", tmp_path / "hub-ca-key.pem")
    d, env = run_init(
        tmp_path, "--country", "DE", "--peers", "NL", "--hub", HUB, "--hub-ca", str(tmp_path / "hub-ca.pem")
    )
    (remote,) = json.loads((d / "nats" / "nats-server.json").read_text())["leafnodes"]["remotes"]
    assert remote["tls"]["ca_file"] == str(d / "tls" / "hub-ca.pem")
    assert (d / "tls" / "hub-ca.pem").read_bytes() == (tmp_path / "hub-ca.pem").read_bytes()
    # The node shows its client certificate to the hub.
    assert remote["tls"]["cert_file"] == env["JIT_TLS_CLIENT_CERT_FILE"]
    assert remote["tls"]["key_file"] == env["JIT_TLS_CLIENT_KEY_FILE"]


def test_a_tls_url_uses_the_nodes_own_ca(tmp_path: Path) -> None:
    d, env = run_init(tmp_path, "--country", "DE", "--peers", "NL", "--hub", "tls://hub.example:7422")
    (remote,) = json.loads((d / "nats" / "nats-server.json").read_text())["leafnodes"]["remotes"]
    assert remote["tls"]["ca_file"] == env["JIT_TLS_CA_FILE"]
    assert remote["url"].startswith("tls://de:")


def test_a_given_link_password_is_used(tmp_path: Path) -> None:
    given = tmp_path / "pw"
    given.write_text("a-shared-link-password-0123\n")
    given.chmod(0o600)
    d, _ = run_init(tmp_path, "--country", "IE", "--peers", "NL", "--hub", HUB, "--link-password-file", str(given))
    assert (d / "nats" / "link-password").read_text().strip() == "a-shared-link-password-0123"
    (remote,) = json.loads((d / "nats" / "nats-server.json").read_text())["leafnodes"]["remotes"]
    assert remote["url"] == "nats-leaf://ie:a-shared-link-password-0123@hub.example:7422"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--hub", "http://hub.example:7422", "--peers", "DE"], "--hub is not a URL"),
        (["--hub", "nats-leaf://hub.example", "--peers", "DE"], "needs a host and a port"),
        (["--hub", "nats-leaf://hub.example:99999", "--peers", "DE"], "--hub is not a URL"),
        (["--hub", HUB], "--hub needs --peers"),
        (["--link-password-file", "/nonexistent"], "need --hub"),
        (["--hub", HUB, "--peers", "DE", "--link-password-file", "/nonexistent"], "does not exist"),
        (["--hub", HUB, "--peers", "DE", "--hub-ca", "/nonexistent.pem"], "does not exist"),
    ],
)
def test_bad_hub_options_are_refused_in_words(tmp_path: Path, args: list[str], words: str) -> None:
    res = RUNNER.invoke(app, ["node", "init", "--dir", str(tmp_path / "n"), "--country", "NL", *args])
    assert res.exit_code == 1 and words in res.stderr, res.stderr
    assert not (tmp_path / "n" / "node.env").exists()


def test_a_link_password_readable_by_others_or_unsafe_is_refused(tmp_path: Path) -> None:
    given = tmp_path / "pw"
    given.write_text("a-shared-link-password-0123\n")
    given.chmod(0o644)
    args = ["node", "init", "--country", "NL", "--peers", "DE", "--hub", HUB, "--link-password-file", str(given)]
    res = RUNNER.invoke(app, [*args, "--dir", str(tmp_path / "a")])
    assert res.exit_code == 1 and "may be read by others" in res.stderr
    given.write_text("short@pw\n")
    given.chmod(0o600)
    res = RUNNER.invoke(app, [*args, "--dir", str(tmp_path / "b")])
    assert res.exit_code == 1 and "16 to 128 characters" in res.stderr and "short@pw" not in res.stderr
