"""The web console's victims (issue 16) in a real browser: the workspace lists its victims by pseudonym
only; a prosecutor or police liaison of the victim's jurisdiction reads the identity after stating a
purpose, which the service keeps; a member of another jurisdiction is offered no such form, and the
identity is not in any page it gets; a non-member gets "Not found"."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from jit.victims.v1 import victims_pb2 as pb
from jit.victims.v1 import victims_pb2_grpc
from services.victims import store
from tests.console.conftest import Users, accessibility_violations
from tests.harness import RunningService, md

pytestmark = pytest.mark.integration
WS = "jit-demo"
NAME = f"Clara zzconsole{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def victim(node: dict[str, RunningService], tokens: Any) -> pb.Victim:
    """A DE victim registered by the DE liaison, as `jit victim register` does."""
    stub = victims_pb2_grpc.VictimServiceStub(node["victims"].channel)
    req = pb.RegisterVictimRequest(
        request_id=str(uuid.uuid4()),
        workspace_id=WS,
        victim_jurisdiction="DE",
        identity=pb.VictimIdentity(full_name=NAME, date_of_birth="1988-11-30", languages=["de"]),
    )
    return stub.RegisterVictim(req, metadata=md(tokens("de-liaison")), timeout=15).victim


def shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert accessibility_violations(page) == [], name


def test_the_workspace_lists_its_victims_by_pseudonym_only(users: Users, victim: pb.Victim, shots: Path) -> None:
    """VICTIM_PSEUDONYM"""
    page = users.page("ie-prosecutor")
    page.goto(f"{users.base}/w/{WS}")
    page.get_by_role("link", name="Victims").click()
    text = page.inner_text("main")
    assert victim.pseudonym in text and NAME not in page.content()
    shot(page, shots, "20-victims")
    page.get_by_role("link", name=victim.pseudonym).click()
    assert f"Victim {victim.pseudonym}" in page.inner_text("h1")
    # IE is a member but not the victim's jurisdiction: no form, no identity.
    assert page.locator("form[action$='/identity']").count() == 0
    assert "read only by the prosecutors and police liaisons" in page.inner_text("main")
    assert NAME not in page.content()


def test_victim_identity_need_to_know_in_the_console_after_a_stated_purpose(
    users: Users, victim: pb.Victim, node: dict[str, RunningService], shots: Path
) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: the DE prosecutor states why, then sees the identity; the read is
    kept with that purpose."""
    page = users.page("de-prosecutor")
    page.goto(f"{users.base}/victims/{victim.id}")
    assert NAME not in page.content()
    page.get_by_label("Purpose of reading the victim's identity").fill("Summon the victim to the hearing")
    page.get_by_role("button", name="Read identity").click()
    page.wait_for_load_state()
    assert NAME in page.inner_text("main") and "1988-11-30" in page.inner_text("main")
    shot(page, shots, "21-victim-identity")
    svc = node["victims"]
    reads = svc.loop.run(svc.rt.read(lambda s: store.identity_reads(s, victim.id)))
    assert [(a.username, p) for a, _, p in reads] == [("de-prosecutor", "Summon the victim to the hearing")]
    # Reloading the victim's page shows the pseudonym again, not the identity.
    page.goto(f"{users.base}/victims/{victim.id}")
    assert NAME not in page.content()


def test_a_non_member_gets_not_found_for_the_victims(users: Users, victim: pb.Victim) -> None:
    page = users.page("fr-prosecutor")
    for path in (f"/w/{WS}/victims", f"/victims/{victim.id}"):
        response = page.goto(f"{users.base}{path}")
        assert response is not None and response.status == 404, path
        assert victim.pseudonym not in page.content() and NAME not in page.content()
