"""The demo case of `make demo`, played end to end through the `jit` command against every service, on
the real Keycloak, NATS JetStream and the services' databases. Each step of the demo checks its own
outcome; a failed step fails this test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jitcli.main import app
from jitdev.demo import Demo, Result
from jitlib.config import CommonSettings
from tests.harness import RunningService, start_all_services

pytestmark = pytest.mark.integration
RUNNER = CliRunner()


@pytest.fixture(scope="module")
def all_services(
    keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningService]]:
    state = tmp_path_factory.mktemp("e2e")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    running = start_all_services(common, state, "e2e")
    try:
        yield running
    finally:
        for svc in running.values():
            svc.stop()


def test_the_demo_case_plays_end_to_end(
    all_services: dict[str, RunningService], keycloak: Any, nats_server: Any, tmp_path: Path
) -> None:
    env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_NATS_URL": nats_server.url,
        "JIT_KEYCLOAK_ADMIN_USER": keycloak.admin_user,
        "JIT_KEYCLOAK_ADMIN_PASSWORD": keycloak.admin_password,
        "JIT_CONFIG_DIR": str(tmp_path / "cfg"),
        **{f"JIT_{name.upper()}_ADDR": f"127.0.0.1:{svc.app.port}" for name, svc in all_services.items()},
    }
    transcript: list[str] = []

    def run(args: list[str], env: dict[str, str]) -> Result:
        res = RUNNER.invoke(app, args, env=env)
        assert "Traceback" not in res.stdout + res.stderr
        return Result(res.exit_code, res.stdout, res.stderr)

    demo = Demo(run, env, out=transcript.append, exports=tmp_path)
    demo.play(list(all_services))
    text = "\n".join(transcript)
    assert "FR gets NOT_FOUND" in text
    assert "intact" in text
    # VICTIM_BY_PSEUDONYM: the case names its victim by pseudonym, and no title or description speaks of her.
    assert "speaks about the victim" in text and "name V-NL-" in text
    # REMOVAL_PRESERVE_FIRST, REMOVAL_VICTIM_NOTICE: preserved first, the images are removed and she is told.
    assert "linked to the live preservation order" in text and "notices show the removal" in text
