"""A member jurisdiction taken out of a workspace (``jit admin workspace remove-member``; jitlib.legal
JIT_MEMBER_TAKEN_OUT): the audiences computed from the workspace's members leave it out, even of a record
it is a party to, the directory keeps who left and audits it, and its users' tokens no longer open the
workspace."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2
from jitlib import audit, db, envelopes, workspaces
from jitlib.actors import Actor
from jitlib.bus import PoisonMessage
from jitlib.errors import InvalidArgument
from jitlib.federation import Federation
from jitlib.policy import TASK_RULES, Decision, Members, Operation, decide, in_directory
from jitlib.principal import Principal
from services.evidence import events as evidence_events
from services.tasks import domain, events
from services.tasks.app import MIGRATIONS
from services.tasks.domain import NewTask, Task, TransitionInput
from services.tasks.mapping import task_to_pb
from services.tasks.store import RUNTIME
from tests.unit.test_evidence_rules import make as make_request

T0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-prosecutor", "NL")
WS = "jit-demo"
#: NL's JIT with IE, after DE was taken out of it.
AFTER = Members({"NL", "IE"}, former={"DE"})
BEFORE = frozenset({"NL", "DE", "IE"})
NL_NODE = Federation("NL", frozenset({"DE", "IE"}))


def _task_for_de(restricted: bool) -> Task:
    cmd = NewTask(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id=WS,
        title="Hear the witness in Hamburg",
        description="",
        kind="HEAR_WITNESS",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=restricted,
    )
    return domain.create(cmd, task_id="01935c4e-0000-7000-8000-000000000001", actor=NL, now=T0)


def _task_event(task: Task, event: str, members: frozenset[str], before: Task | None = None) -> Any:
    return events.envelope(task, task_to_pb(task, task.updated_at), event, members, task.updated_at, before=before)


@pytest.mark.parametrize("restricted", [False, True])
def test_jit_member_taken_out_is_in_no_audience_even_of_a_record_it_is_a_party_to(restricted: bool) -> None:
    """JIT_MEMBER_TAKEN_OUT: the audience of a record's event is its parties (restricted) or its parties and
    every member; DE, the task's assignee, taken out of the workspace, is in neither, and no node copy is made
    for it; the remaining parties and members still are."""
    assert envelopes.audience({"NL", "DE"}, restricted, BEFORE) == (["DE", "NL"] if restricted else ["DE", "IE", "NL"])
    assert envelopes.audience({"NL", "DE"}, restricted, AFTER) == (["NL"] if restricted else ["IE", "NL"])
    # A workspace this node has not heard of: its members are the record's parties, none taken out.
    assert envelopes.audience({"NL", "DE"}, restricted, frozenset({"NL", "DE"})) == ["DE", "NL"]


@pytest.mark.parametrize("restricted", [False, True])
def test_a_change_to_a_task_assigned_to_a_country_taken_out_goes_to_the_remaining_members_only(
    restricted: bool,
) -> None:
    """Before DE was taken out, NL's task assigned to DE went to DE's node; after, a change to it (NL
    cancels it) goes to no DE node, and withdraws nothing from it either: what DE received as a member
    stays its own (JIT_MEMBER_TAKEN_OUT)."""
    task = _task_for_de(restricted)
    created = _task_event(task, "created", BEFORE)
    assert "DE" in NL_NODE.recipients(created.audience)
    cancelled = domain.apply(
        task, "cancel", TransitionInput(reason="DE left the JIT"), actor=NL, now=T0 + timedelta(days=1), members=AFTER
    )
    event = _task_event(cancelled, "cancelled", AFTER, before=task)
    assert "DE" not in event.audience and "DE" not in NL_NODE.recipients(event.audience)
    assert list(event.withdrawn_from) == []
    assert NL_NODE.recipients(event.audience) == ([] if restricted else ["IE"])


def test_a_task_cannot_be_assigned_to_a_country_taken_out_but_to_a_remaining_member() -> None:
    """A task DE declined while a member stays open for the remaining members: NL reassigns it to IE, never
    back to DE, which is no member (JIT_MEMBER_TAKEN_OUT)."""
    de = Actor("u-de", "de-liaison", "DE")
    declined = domain.apply(
        _task_for_de(False), "decline", TransitionInput(reason="no capacity"), actor=de, now=T0, members=BEFORE
    )
    with pytest.raises(InvalidArgument, match="DE was taken out of the workspace"):
        domain.apply(declined, "assign", TransitionInput(new_assignee="DE"), actor=NL, now=T0, members=AFTER)
    to_ie = domain.apply(declined, "assign", TransitionInput(new_assignee="IE"), actor=NL, now=T0, members=AFTER)
    assert to_ie.assignee_jurisdiction == "IE"


def test_an_instrument_addressed_to_a_country_taken_out_still_reaches_it_a_direct_exchange_does_not() -> None:
    """An EIO NL addressed to DE is an instrument between NL and DE whether or not DE is in the JIT
    (JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES): after DE was taken out, its events and its items' events still
    go to DE's node, the executing state, as they would to a state that never was a member (a withdrawal
    NL makes must reach the state executing it). A direct exchange inside the JIT (JIT_DIRECT) is between
    members: after DE was taken out, nothing of it goes to DE (JIT_MEMBER_TAKEN_OUT)."""
    state = evidence_pb2.EvidenceRequest()
    eio = make_request(addressee_jurisdiction="DE")
    assert "DE" in evidence_events.request_envelope(eio, state, "issued", BEFORE, T0).audience
    after = evidence_events.request_envelope(eio, state, "issued", AFTER, T0)
    assert "DE" in after.audience and "NL" in after.audience
    assert "DE" in NL_NODE.recipients(after.audience)
    item = evidence_events.item_envelope(
        eio,  # type: ignore[arg-type]  # only its id is read
        eio,
        evidence_pb2.EvidenceItem(),
        "item_received",
        AFTER,
        NL,
        1,
        T0,
    )
    assert "DE" in item.audience
    direct = make_request(addressee_jurisdiction="DE", legal_basis="JIT_DIRECT")
    assert "DE" in evidence_events.request_envelope(direct, state, "issued", BEFORE, T0).audience
    assert "DE" not in evidence_events.request_envelope(direct, state, "issued", AFTER, T0).audience
    # The audience alone: an outside reader is kept whatever the members say.
    assert envelopes.audience({"NL", "DE"}, True, AFTER, outside="DE") == ["DE", "NL"]


# -- the directory ------------------------------------------------------------------------------------


@pytest.fixture
def session(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'dir.db'}"
    db.migrate(MIGRATIONS, url)
    engine = create_engine(url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def _announce(session: Session, version: int, members: list[str], former: list[str] = []) -> None:  # noqa: B006
    ws = common_pb2.Workspace(
        id=WS, name="JIT", lead="NL", members=members, former_members=former, version=version, status=1
    )
    env = workspaces.envelope_for(ws, common_pb2.Actor(user_id="kc-admin", username="admin"), T0)
    assert workspaces.apply_workspace_event(session, RUNTIME, env)


def test_the_directory_keeps_who_was_taken_out_and_audits_it_once_naming_the_country(session: Session) -> None:
    """JIT_MEMBER_TAKEN_OUT: the announcement that takes DE out is applied as any new version, DE held as a
    former member (the workspace's ``members`` say so to every audience), and the service's audit log has
    one entry naming the member group, under the administrator who announced it."""
    _announce(session, 1, ["NL", "DE", "IE"])
    _announce(session, 2, ["NL", "IE"], ["DE"])
    info = workspaces.get_workspace(session, RUNTIME, WS)
    assert info is not None and info.members == {"NL", "IE"} and info.former_members == {"DE"}
    assert envelopes.audience({"NL", "DE"}, False, info.members) == ["IE", "NL"]
    rows = session.execute(select(RUNTIME.audit_log)).mappings().all()
    assert [(r["operation"], r["record_type"], r["record_id"], r["username"]) for r in rows] == [
        (workspaces.MEMBER_TAKEN_OUT, "workspace_member", f"{WS}/DE", "admin")
    ]
    assert audit.verify(session, RUNTIME).intact


def test_a_member_an_announcement_no_longer_lists_is_taken_out_too(session: Session) -> None:
    """However the directory was edited (no ``former_members`` announced), a member that is no longer
    listed gets nothing new of the workspace."""
    _announce(session, 1, ["NL", "DE", "IE"])
    _announce(session, 2, ["NL", "IE"])
    info = workspaces.get_workspace(session, RUNTIME, WS)
    assert info is not None and info.former_members == {"DE"}
    assert "DE" not in envelopes.audience({"NL", "DE"}, True, info.members)


def test_a_country_added_again_is_a_member_and_no_longer_a_former_one(session: Session) -> None:
    _announce(session, 1, ["NL", "DE", "IE"])
    _announce(session, 2, ["NL", "IE"], ["DE"])
    _announce(session, 3, ["NL", "DE", "IE"])
    info = workspaces.get_workspace(session, RUNTIME, WS)
    assert info is not None and info.members == {"NL", "DE", "IE"} and info.former_members == frozenset()
    assert envelopes.audience({"NL", "DE"}, True, info.members) == ["DE", "NL"]


def test_the_lead_is_never_announced_as_taken_out(session: Session) -> None:
    _announce(session, 1, ["NL", "DE", "IE"])
    ws = common_pb2.Workspace(id=WS, name="JIT", lead="NL", members=["NL", "IE"], former_members=["NL"], version=2)
    with pytest.raises(PoisonMessage, match="former members"):
        workspaces.apply_workspace_event(session, RUNTIME, workspaces.envelope_for(ws, common_pb2.Actor(), T0))


def test_the_lead_announces_the_workspace_to_the_node_of_the_country_it_took_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DE's node is told it was taken out (so its directory closes the workspace to its users); it is told
    nothing more after that, as no record's event names it."""
    sent: list[str] = []

    class Js:
        async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
            sent.append(subject)

    async def no_stream(js: Any, config: Any) -> None:
        return None

    monkeypatch.setattr(workspaces, "ensure_stream", no_stream)
    ws = common_pb2.Workspace(id=WS, name="JIT", lead="NL", members=["NL", "IE"], former_members=["DE"], version=2)
    assert asyncio.run(workspaces.publish(Js(), ws, common_pb2.Actor(), NL_NODE))
    assert sent == ["jit.workspaces.NL.updated", "jit.out.de.workspaces.NL.updated", "jit.out.ie.workspaces.NL.updated"]


# -- access: the policy follows the directory -----------------------------------------------------------


def _user(jurisdiction: str) -> Principal:
    return Principal(
        f"u-{jurisdiction}",
        f"{jurisdiction.lower()}-prosecutor",
        jurisdiction,
        frozenset({"prosecutor"}),
        frozenset({WS, "other-jit"}),
    )


def test_a_token_naming_a_workspace_its_country_was_taken_out_of_no_longer_opens_it() -> None:
    """JIT_MEMBER_TAKEN_OUT: DE's prosecutor's token (issued before, or by a realm that still lists DE's
    users) names the workspace; the directory says DE was taken out: the workspace is no longer the
    caller's, so its records are NOT_FOUND. Other workspaces, other countries and workspaces this node has
    not heard of are as the token says."""
    directory = {WS: AFTER}
    de = in_directory(_user("DE"), directory.get)
    assert de.workspaces == {"other-jit"}
    task = _task_for_de(False)
    assert decide(_user("DE"), Operation.READ, TASK_RULES, record=task.access()) is Decision.ALLOW
    assert decide(de, Operation.READ, TASK_RULES, record=task.access()) is Decision.NOT_FOUND
    assert decide(de, Operation.ADDRESSEE_ACT, TASK_RULES, record=task.access()) is Decision.NOT_FOUND
    assert in_directory(_user("IE"), directory.get) == _user("IE")
    assert in_directory(_user("DE"), {}.get).workspaces == {WS, "other-jit"}
