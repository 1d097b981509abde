"""The web console's victims (issue 16) in a real browser: the workspace lists its victims by pseudonym
only; a prosecutor or police liaison of the victim's jurisdiction reads the identity after stating a
purpose, which the service keeps; a member of another jurisdiction is offered no such form, and the
identity is not in any page it gets; a non-member gets "Not found". A police liaison registers a victim in
the console and records what she was told and her referral to a support service."""

from __future__ import annotations

import re
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


def test_nl_registers_a_victim_and_records_what_she_was_told_and_her_referral(users: Users, shots: Path) -> None:
    """VICTIM_PSEUDONYM, VICTIM_SUPPORT_REFERRAL: the NL liaison registers a victim from the victims' page (the
    identity goes to the service; from then on the pages show the pseudonym it gave), records the notice of
    her rights, which the page lists, and her referral to a support service, only with her consent ticked."""
    name = f"Lotte zzconsole{uuid.uuid4().hex[:8]}"
    page = users.page("nl-liaison")
    page.goto(f"{users.base}/w/{WS}/victims")
    page.get_by_label("The victim's jurisdiction", exact=False).fill("NL")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Languages the victim understands", exact=False).fill("nl, en")
    page.get_by_label("doxxing").check()
    page.get_by_role("button", name="Register victim").click()
    page.wait_for_url(re.compile(r".*/victims/[0-9a-f-]{36}$"))
    found = re.search(r"V-NL-[0-9]{4,}", page.inner_text("[role=status]"))
    assert found is not None
    assert f"Victim {found.group(0)}" in page.inner_text("h1") and name not in page.content()
    page.get_by_label("What the victim was told").select_option(label="rights explained")
    page.get_by_label("How", exact=True).select_option(label="in person")
    page.get_by_label("In which language").fill("nl")
    page.get_by_role("button", name="Record what the victim was told").click()
    page.wait_for_load_state()
    assert "Done: record what the victim was told." in page.inner_text("[role=status]")
    assert "rights explained" in page.inner_text("section[aria-labelledby=notices-heading]")
    page.get_by_label("Support service").fill("Slachtofferhulp Nederland")
    page.get_by_role("button", name="Record a referral to a support service").click()
    page.wait_for_load_state()  # refused by the browser: the box of her consent is required
    assert page.inner_text("dl.facts").count("Slachtofferhulp") == 0
    page.get_by_label("The victim consented to the referral").check()
    page.get_by_role("button", name="Record a referral to a support service").click()
    page.wait_for_load_state()
    assert "Slachtofferhulp Nederland" in page.inner_text("dl.facts")
    shot(page, shots, "22-victim-notices")
    assert name not in page.content()
