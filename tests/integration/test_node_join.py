"""Joining a federation as the README says: two nodes made by `jit node init --hub ... --peers ...`, a hub
made by `jit node hub-config` from their link passwords, all three read by nats-server; started, the
nodes link to the hub over mutual TLS, and an event NL's node sends DE arrives in DE's JIT_IN."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from jitcli.main import app
from jitdev.nats import nats_server_binary
from jitdev.procs import free_port, port_open, spawn, terminate, wait_until
from jitlib import natsauth, pki
from jitlib.federation import Federation, outbound_subject
from jitlib.tls import client_context

pytestmark = pytest.mark.integration
RUNNER = CliRunner()


def invoke(*args: str) -> None:
    res = RUNNER.invoke(app, list(args), env={})
    assert res.exit_code == 0, res.stdout + res.stderr


@pytest.fixture
def federation(tmp_path: Path) -> dict[str, object]:
    leaf, hub_port, monitor = free_port(), free_port(), free_port()
    ports = {"NL": free_port(), "DE": free_port()}
    hub_url = f"tls://127.0.0.1:{leaf}"
    # A test federation: NL's init makes the CA, DE's node and the hub's certificate are issued by it.
    invoke("node", "init", "--country", "NL", "--peers", "DE", "--hub", hub_url, "--dir", str(tmp_path / "nl"),
           "--nats-port", str(ports["NL"]))  # fmt: skip
    ca, ca_key = tmp_path / "nl" / "tls" / "ca.pem", tmp_path / "nl" / "tls" / "ca-key.pem"
    invoke("node", "init", "--country", "DE", "--peers", "NL", "--hub", hub_url, "--dir", str(tmp_path / "de"),
           "--nats-port", str(ports["DE"]), "--ca-cert", str(ca), "--ca-key", str(ca_key))  # fmt: skip
    issuer = pki.load_issued(ca, ca_key)
    pki.write_pem(pki.issue_server(issuer, "localhost"), tmp_path / "hub.pem", tmp_path / "hub-key.pem")
    # Each country hands its link password to the hub's operator.
    links = tmp_path / "links"
    links.mkdir(mode=0o700)
    for cc in ("nl", "de"):
        shutil.copy2(tmp_path / cc / "nats" / "link-password", links / f"{cc}.password")
    invoke("node", "hub-config", "--countries", "NL,DE", "--passwords-dir", str(links), "--out",
           str(tmp_path / "hub.json"), "--listen", "127.0.0.1", "--port", str(hub_port), "--leafnode-port", str(leaf),
           "--monitor-port", str(monitor), "--tls-cert", str(tmp_path / "hub.pem"), "--tls-key",
           str(tmp_path / "hub-key.pem"), "--tls-ca", str(ca))  # fmt: skip
    return {"root": tmp_path, "monitor": monitor, "ports": ports, "ca": ca}


def test_nats_server_accepts_the_node_and_hub_configs(federation: dict[str, object]) -> None:
    root = federation["root"]
    assert isinstance(root, Path)
    for conf in (
        root / "hub.json",
        root / "nl" / "nats" / "nats-server.json",
        root / "de" / "nats" / "nats-server.json",
    ):
        res = subprocess.run([nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, (conf, res.stderr)


@pytest.fixture
def running(federation: dict[str, object]) -> Iterator[dict[str, object]]:
    root = federation["root"]
    assert isinstance(root, Path)
    procs = []
    try:
        hub = spawn([nats_server_binary(), "-c", str(root / "hub.json")], root / "hub.log")
        procs.append(hub)
        monitor = federation["monitor"]
        assert isinstance(monitor, int)
        wait_until(lambda: port_open(monitor), 30, "hub", root / "hub.log", hub)
        for cc, port in federation["ports"].items():  # type: ignore[attr-defined]
            log = root / f"{cc}.log"
            proc = spawn([nats_server_binary(), "-c", str(root / cc.lower() / "nats" / "nats-server.json")], log)
            procs.append(proc)
            wait_until(lambda p=port: port_open(p), 30, f"nats-server {cc}", log, proc)
        yield federation
    finally:
        for proc in reversed(procs):
            terminate(proc)


def _leafs(monitor: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/leafz", timeout=5) as resp:
        body = json.load(resp)
    counts: dict[str, int] = {}
    for leaf in body.get("leafs") or []:
        counts[leaf["account"]] = counts.get(leaf["account"], 0) + 1
    return counts


async def _send_nl_to_de(root: Path, ports: dict[str, int], ca: Path) -> bytes:
    async def connect(cc: str) -> nats.NATS:
        creds = natsauth.resolve("", None, root / cc.lower() / "nats" / "credentials", "tasks")
        return await nats.connect(
            f"tls://localhost:{ports[cc]}", tls=client_context(ca), **natsauth.connect_options(creds)
        )

    nl, de = await connect("NL"), await connect("DE")
    try:
        for nc, cc, peer in ((nl, "NL", "DE"), (de, "DE", "NL")):
            fed = Federation.parse(cc, peer)
            assert fed is not None
            for cfg in fed.streams():
                await nc.jetstream().add_stream(cfg)
        await nl.jetstream().publish(
            outbound_subject("DE", "jit.tasks.NL.created"), b"hello DE", headers={"Nats-Msg-Id": "join-1"}
        )
        sub = await de.jetstream().pull_subscribe("jit.in.nl.tasks.>", durable="join-test", stream="JIT_IN")
        for _ in range(60):  # the link and the source come up in their own time; wait for the message
            try:
                (msg,) = await sub.fetch(1, timeout=1)
            except nats.errors.TimeoutError:
                continue
            assert msg.subject == "jit.in.nl.tasks.NL.created"
            await msg.ack()
            return msg.data
        raise AssertionError("the event NL sent DE did not arrive in DE's JIT_IN")
    finally:
        await nl.close()
        await de.close()


def test_joined_nodes_link_through_the_hub_and_exchange(running: dict[str, object]) -> None:
    monitor, root, ports, ca = running["monitor"], running["root"], running["ports"], running["ca"]
    assert isinstance(monitor, int) and isinstance(root, Path) and isinstance(ca, Path)
    wait_until(lambda: _leafs(monitor) == {"NL": 1, "DE": 1}, 30, "both links on the hub", root / "hub.log")
    assert asyncio.run(_send_nl_to_de(root, ports, ca)) == b"hello DE"  # type: ignore[arg-type]
