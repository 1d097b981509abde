"""`make demo NODES=nl,de,ie`: the README's case played through the jit command with each party on its own
country's node, IE's link cut while NL issues the production order, FR (no node, trusted for its own users)
refused. Each step checks its own outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jitcli.main import app
from jitdev.demo import Demo, Nodes, Result
from jitdev.nodes import LocalFederation

pytestmark = pytest.mark.integration
RUNNER = CliRunner()


def test_the_demo_case_plays_on_three_nodes(federation: LocalFederation, keycloak: Any, tmp_path: Path) -> None:
    env: dict[str, dict[str, str]] = {}
    for country, node in federation.nodes.items():
        env[country] = {
            "JIT_KEYCLOAK_URL": keycloak.base_url,
            "JIT_REALM": f"jit-{country.lower()}",
            "JIT_KEYCLOAK_ADMIN_USER": keycloak.admin_user,
            "JIT_KEYCLOAK_ADMIN_PASSWORD": keycloak.admin_password,
            "JIT_NATS_URL": federation.nats.nodes[country].url,
            "JIT_NATS_CREDENTIALS_DIR": str(federation.nats.users[country].folder),
            "JIT_NODE_JURISDICTION": country,
            "JIT_FEDERATION_PEERS": ",".join(c for c in federation.countries if c != country),
            **{f"JIT_{svc.upper()}_ADDR": node.address(svc) for svc in node.ports},
        }
    transcript: list[str] = []

    def run(args: list[str], run_env: dict[str, str]) -> Result:
        res = RUNNER.invoke(app, args, env=run_env)
        assert "Traceback" not in res.stdout + res.stderr
        return Result(res.exit_code, res.stdout, res.stderr)

    nodes = Nodes(env, federation.nats.set_link)
    demo = Demo(run, {"JIT_CONFIG_DIR": str(tmp_path / "cfg")}, out=transcript.append, nodes=nodes, exports=tmp_path)
    demo.play(["tasks", "evidence", "preservation", "messaging"])
    text = "\n".join(transcript)
    assert "IE's node received the order after its link returned" in text
    assert "FR gets NOT_FOUND" in text and "[FR node]" not in text  # FR has no node: it asked NL's
    assert "intact" in text
