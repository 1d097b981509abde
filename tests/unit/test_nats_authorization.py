"""The NATS users of a node and their permissions (``jitlib.natsauth``), as pure data: the table covers
every stream each service's code reads, no client gets another's subjects or a wildcard over everything,
the server configuration holds bcrypt hashes and never a password, and credentials never show."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import bcrypt
import pytest
from pydantic import SecretStr

from jitlib import natsconf
from jitlib.config import CommonSettings
from jitlib.natsauth import CLIENTS, Credentials, node_users, permissions, resolve

ROOT = Path(__file__).resolve().parents[2]
SERVICES = [c for c in CLIENTS if c.service]


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` one or more at the end."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def may_publish(perms: dict[str, object], subject: str) -> bool:
    allow = perms["publish"]["allow"]  # type: ignore[index]
    return any(matches(p, subject) for p in allow)  # type: ignore[attr-defined]


def may_subscribe(perms: dict[str, object], subject: str) -> bool:
    allow = perms["subscribe"]["allow"]  # type: ignore[index]
    return any(matches(p.split(" ")[0], subject) for p in allow)  # type: ignore[attr-defined]


def test_the_table_names_every_other_stream_a_services_code_reads() -> None:
    """A consumer added to a service's code without its stream in the table would be refused by the
    broker: this finds it first."""
    from services.messaging.app import RECORD_STREAMS

    for c in SERVICES:
        code = "\n".join(p.read_text() for p in (ROOT / "services" / c.name).glob("*.py"))
        named = set(re.findall(r'stream_for\("(\w+)"\)', code))
        if c.name == "messaging":
            named |= set(RECORD_STREAMS)
        assert named - set(c.publishes) <= set(c.consumes), c.name


@pytest.mark.parametrize("country", ["", "NL"])
def test_no_client_may_publish_another_services_events_or_delete_a_stream(country: str) -> None:
    owner = {d: c.name for c in CLIENTS for d in c.publishes if not d.startswith("peers.")}
    for c in CLIENTS:
        perms = permissions(c.name, country)
        for event_domain, name in owner.items():
            assert may_publish(perms, f"jit.{event_domain}.NL.created") == (name == c.name), (c.name, event_domain)
            assert not may_subscribe(perms, f"jit.{event_domain}.NL.created") or event_domain == "messaging" == c.name
        assert not may_publish(perms, "$JS.API.STREAM.PURGE.JIT_TASKS")
        # Only the backup tool may delete a stream (to restore it) or a consumer (its own ephemeral one).
        assert may_publish(perms, "$JS.API.STREAM.DELETE.JIT_TASKS") == (c.name == "backup")
        assert may_publish(perms, "$JS.API.CONSUMER.DELETE.JIT_TASKS.tasks-x") == (c.name == "backup")
        for wide in (">", "_INBOX.>", "$JS.API.>", "jit.>"):
            assert wide not in perms["publish"]["allow"] and wide not in perms["subscribe"]["allow"]  # type: ignore[index]
        # Its own inbox only.
        assert may_subscribe(perms, f"_INBOX.{c.name}.abc")
        assert not any(may_subscribe(perms, f"_INBOX.{o.name}.abc") for o in CLIENTS if o is not c)


def test_a_service_may_consume_exactly_its_streams() -> None:
    streams = {f"JIT_{c.publishes[0].upper()}" for c in SERVICES}
    for c in SERVICES:
        perms = permissions(c.name, "NL")
        readable = {s for s in streams if may_publish(perms, f"$JS.API.CONSUMER.MSG.NEXT.{s}.{c.name}-x")}
        assert readable == {f"JIT_{d.upper()}" for d in c.consumes}, c.name
        for s in streams - {f"JIT_{c.publishes[0].upper()}"}:
            # Another service's stream: created when absent if consumed, never changed.
            assert may_publish(perms, f"$JS.API.STREAM.CREATE.{s}") == (s in readable), (c.name, s)
            assert not may_publish(perms, f"$JS.API.STREAM.UPDATE.{s}"), (c.name, s)
        for shared in ("JIT_WORKSPACES", "JIT_IN"):
            assert may_publish(perms, f"$JS.API.CONSUMER.MSG.NEXT.{shared}.{c.name}-x")
        # Commands of its own service to other nodes, and served on its own node in its queue group.
        assert may_publish(perms, f"fed.cmd.de.{c.name}")
        assert not may_publish(perms, f"fed.cmd.de.{'tasks' if c.name != 'tasks' else 'evidence'}")
        assert f"fed.cmd.nl.{c.name} cmd-{c.name}" in perms["subscribe"]["allow"]  # type: ignore[index]
        assert may_publish(perms, f"jit.out.de.{c.publishes[0]}.NL.created")
    # On a single node there are no links: no outbound copies, no commands.
    single = permissions("tasks")
    assert not may_publish(single, "jit.out.de.tasks.NL.created")
    assert not may_publish(single, "fed.cmd.de.tasks")


def test_credentials_are_made_once_kept_private_and_hashed_in_the_server_configuration(tmp_path: Path) -> None:
    users = node_users(tmp_path / "users", "nl")
    first = {c.name: users.credentials(c.name).password.get_secret_value() for c in CLIENTS}
    again = node_users(tmp_path / "users", "NL")
    assert {c.name: again.credentials(c.name).password.get_secret_value() for c in CLIENTS} == first
    assert stat.S_IMODE((tmp_path / "users").stat().st_mode) == 0o700
    for c in CLIENTS:
        assert stat.S_IMODE(users.path(c.name).stat().st_mode) == 0o600
    block = users.authorization()
    text = str(block)
    by_user = {u["user"]: u for u in block["users"]}
    for name, password in first.items():
        assert password not in text
        assert bcrypt.checkpw(password.encode(), by_user[name]["password"].encode())
    assert by_user["tasks"]["permissions"] == permissions("tasks", "NL")
    node = natsconf.NodeNats("NL", 4222, tmp_path / "js", "nats-leaf://127.0.0.1:7422", "link", authorization=block)
    assert node.config()["authorization"] == block
    assert "authorization" not in repr(node)
    local = natsconf.local_config(port=4222, store_dir=tmp_path / "js", server_name="x", authorization=block)
    assert local["authorization"] == block


def test_a_password_never_shows_and_settings_resolve_in_order(tmp_path: Path) -> None:
    users = node_users(tmp_path / "users")
    secret = users.credentials("tasks").password.get_secret_value()
    assert secret not in repr(users.credentials("tasks"))
    common = CommonSettings(nats_password=SecretStr("given"), nats_credentials_dir=users.folder)
    assert "given" not in repr(common)
    assert common.nats_credentials("tasks") == Credentials("tasks", SecretStr("given"))
    from_dir = CommonSettings(nats_credentials_dir=users.folder).nats_credentials("evidence")
    assert from_dir is not None and from_dir.user == "evidence"
    assert from_dir.connect_options()["inbox_prefix"] == "_INBOX.evidence"
    assert resolve("", None, None, "tasks") is None
    assert resolve("", None, tmp_path / "nowhere", "tasks") is None
