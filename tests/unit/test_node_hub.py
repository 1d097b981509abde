"""`jit node hub-config`: a federation hub's configuration from the countries' link passwords, rendered by
jitlib.natsconf.hub_config; `jit node check` on a node's link to its hub."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from typer.testing import CliRunner

from jitcli import node_check
from jitcli.main import app
from jitdev.nats import nats_server_binary
from jitlib import natsconf, pki

RUNNER = CliRunner()
PASSWORDS = {"NL": "nl-link-password-0123456789", "DE": "de-link-password-0123456789", "IE": "ie-link-password-012345"}


def passwords_dir(tmp_path: Path, passwords: dict[str, str] = PASSWORDS) -> Path:
    d = tmp_path / "links"
    d.mkdir(mode=0o700)
    for cc, password in passwords.items():
        f = d / f"{cc.lower()}.password"
        f.write_text(password + "\n")
        f.chmod(0o600)
    return d


def hub_config(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    out = tmp_path / "hub.json"
    res = RUNNER.invoke(
        app,
        ["node", "hub-config", "--countries", "NL,DE,IE", "--passwords-dir", str(passwords_dir(tmp_path)),
         "--out", str(out), *args],
        env={},
    )  # fmt: skip
    return res.exit_code, res.stdout + res.stderr, out


def test_the_hub_is_what_natsconf_renders(tmp_path: Path) -> None:
    code, text, out = hub_config(tmp_path, "--listen", "10.0.0.5", "--leafnode-port", "7422", "--monitor-port", "8222")
    assert code == 0, text
    assert out.stat().st_mode & 0o077 == 0  # it holds every link password
    expected = natsconf.hub_config(
        ["NL", "DE", "IE"], PASSWORDS, host="10.0.0.5", port=4222, leafnode_port=7422, monitor_port=8222
    )
    assert json.loads(out.read_text()) == expected
    assert sorted(expected["accounts"]) == ["DE", "IE", "NL"]
    assert expected["accounts"]["NL"]["users"][0] == {**expected["accounts"]["NL"]["users"][0], "user": "nl"}
    assert "plaintext" in text
    res = subprocess.run([nats_server_binary(), "-c", str(out), "-t"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_tls_on_the_hub_requires_the_nodes_certificates(tmp_path: Path) -> None:
    ca = pki.create_ca("federation CA")
    pki.write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    pki.write_pem(pki.issue_server(ca, "hub.example", ["hub.example"]), tmp_path / "hub.pem", tmp_path / "hub-key.pem")
    code, text, out = hub_config(
        tmp_path, "--tls-cert", str(tmp_path / "hub.pem"), "--tls-key", str(tmp_path / "hub-key.pem"),
        "--tls-ca", str(tmp_path / "ca.pem"),
    )  # fmt: skip
    assert code == 0, text
    config = json.loads(out.read_text())
    for block in (config["tls"], config["leafnodes"]["tls"]):
        assert block["verify"] is True and block["ca_file"] == str(tmp_path / "ca.pem")
    res = subprocess.run([nats_server_binary(), "-c", str(out), "-t"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    ("setup", "args", "words"),
    [
        (None, ["--countries", "NL"], "at least two countries"),
        (None, ["--countries", "NL,QQ"], "'QQ', not an ISO 3166-1"),
        (None, ["--countries", "NL,DE,NL"], "more than once"),
        (None, ["--countries", "NL,FR"], "the link password of FR"),
        ("mode", ["--countries", "NL,DE"], "may be read by others"),
        ("unsafe", ["--countries", "NL,DE"], "16 to 128 characters"),
        (None, ["--countries", "NL,DE", "--tls-cert", "x.pem"], "go together"),
    ],
)
def test_bad_hub_input_is_refused_in_words(tmp_path: Path, setup: str | None, args: list[str], words: str) -> None:
    d = passwords_dir(tmp_path)
    if setup == "mode":
        (d / "de.password").chmod(0o644)
    if setup == "unsafe":
        (d / "de.password").write_text("has spaces and @ in it, much too\n")
    out = tmp_path / "hub.json"
    res = RUNNER.invoke(app, ["node", "hub-config", "--passwords-dir", str(d), "--out", str(out), *args], env={})
    assert res.exit_code == 1 and words in res.stderr, res.stderr
    assert "has spaces" not in res.stderr  # the password itself is never shown
    assert not out.exists()


def test_an_existing_hub_file_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "hub.json").write_text("{}")
    code, text, out = hub_config(tmp_path)
    assert code == 1 and "exists" in text and out.read_text() == "{}"


# -- jit node check: the node's link to its hub --------------------------------------------------------------


def init_node(tmp_path: Path, *args: str) -> tuple[Path, dict[str, str]]:
    d = tmp_path / "node"
    res = RUNNER.invoke(app, ["node", "init", "--dir", str(d), "--country", "NL", *args], env={})
    assert res.exit_code == 0, res.stdout + res.stderr
    return d, {k: v for k, v in dotenv_values(d / "node.env").items() if v is not None}


def test_check_reports_peers_without_a_hub_link(tmp_path: Path) -> None:
    d, env = init_node(tmp_path, "--peers", "DE,IE")
    conf = d / "nats" / "nats-server.json"
    problems = node_check.check(env, nats_config=conf).problems
    assert len(problems) == 1 and "has no link to a federation hub" in problems[0], problems
    res = RUNNER.invoke(app, ["node", "check", "--env-file", str(d / "node.env")], env={})
    assert res.exit_code == 1 and "has no link to a federation hub" in res.stdout, res.stdout


def test_check_passes_a_linked_node_and_one_without_peers(tmp_path: Path) -> None:
    d, env = init_node(tmp_path / "a", "--peers", "DE", "--hub", "nats-leaf://hub.example:7422")
    assert node_check.check(env, nats_config=d / "nats" / "nats-server.json").problems == []
    d, env = init_node(tmp_path / "b")
    assert node_check.check(env, nats_config=d / "nats" / "nats-server.json").problems == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("nats-leaf://nl:secret-link-pw@hub.example", "needs a host and a port"),
        ("http://nl:secret-link-pw@hub.example:7422", "allowed schemes"),
        ("nats-leaf://nl:secret-link-pw@hub.example:7422/x", "nothing may follow the port"),
        ("hub.example:7422", "is not a URL"),
    ],
)
def test_check_reports_a_hub_url_that_does_not_parse(tmp_path: Path, url: str, words: str) -> None:
    d, env = init_node(tmp_path, "--peers", "DE", "--hub", "nats-leaf://hub.example:7422")
    conf = d / "nats" / "nats-server.json"
    config = json.loads(conf.read_text())
    config["leafnodes"]["remotes"][0]["url"] = url
    conf.write_text(json.dumps(config))
    problems = node_check.check(env, nats_config=conf).problems
    assert len(problems) == 1 and words in problems[0] and "secret-link-pw" not in problems[0], problems


def test_check_reports_a_nats_config_that_is_not_json(tmp_path: Path) -> None:
    _, env = init_node(tmp_path, "--peers", "DE", "--hub", "nats-leaf://hub.example:7422")
    (tmp_path / "bad.json").write_text("listen: 4222")
    problems = node_check.check(env, nats_config=tmp_path / "bad.json").problems
    assert problems == [f"the NATS server configuration {tmp_path / 'bad.json'} is not readable JSON."]
