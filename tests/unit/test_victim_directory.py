"""The directory of victims' pseudonyms a service that refers to victims keeps (``jitlib.victimdir``): it
learns a pseudonym from any event of a victim, once, never an identity, and sets aside an event whose
victim is not of the workspace it names (VICTIM_BY_PSEUDONYM)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import any_pb2
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.victims.v1 import victims_pb2
from jitlib import db, victimdir
from jitlib.bus import PoisonMessage
from services.tasks.app import MIGRATIONS
from services.tasks.store import VICTIMS

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def event(pseudonym: str = "V-NL-0007", workspace: str = "jit-demo", **over: Any) -> Envelope:
    victim = victims_pb2.Victim(id="v-1", pseudonym=pseudonym, workspace_id=workspace, origin_jurisdiction="NL")
    victim.created_at.FromDatetime(NOW)
    state = any_pb2.Any()
    state.Pack(victim)
    fields: dict[str, Any] = dict(
        id="e-1", workspace_id="jit-demo", origin_jurisdiction="NL", aggregate_type="victim", aggregate_id="v-1"
    )
    fields.update(over)
    return Envelope(state=state, **fields)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'dir.db'}"
    db.migrate(MIGRATIONS, url)
    engine = create_engine(url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def held(session: Session) -> list[tuple[str, str]]:
    return [tuple(r) for r in session.execute(select(VICTIMS.c.workspace_id, VICTIMS.c.pseudonym))]  # type: ignore[misc]


def test_a_victims_event_teaches_its_pseudonym_once(session: Session) -> None:
    victimdir.record(VICTIMS, session, event())
    victimdir.record(VICTIMS, session, event(id="e-2"))  # a notice recorded later: the same victim
    assert held(session) == [("jit-demo", "V-NL-0007")]
    assert [c.name for c in VICTIMS.columns] == ["workspace_id", "pseudonym", "registered_at"]  # no identity


def test_what_is_not_a_victims_state_is_passed_by(session: Session) -> None:
    other = any_pb2.Any()
    other.Pack(common_pb2.Workspace(id="jit-demo"))
    victimdir.record(VICTIMS, session, Envelope(aggregate_type="victim", workspace_id="jit-demo", state=other))
    victimdir.record(VICTIMS, session, event(aggregate_type="special_categories"))
    assert held(session) == []


@pytest.mark.parametrize(
    "bad", [event(workspace="another-jit"), event(pseudonym="Anna from Utrecht"), event(pseudonym="")]
)
def test_a_victim_of_another_workspace_or_without_a_pseudonym_is_set_aside(session: Session, bad: Envelope) -> None:
    with pytest.raises(PoisonMessage):
        victimdir.record(VICTIMS, session, bad)
    assert held(session) == []


def test_an_unregistered_pseudonym_under_the_lead_is_named_by_position() -> None:
    found = victimdir.unregistered(["V-NL-0001", "V-NL-0002", "V-DE-0003", "bad"], {"V-NL-0001"}, "NL")
    assert [(v.field, v.description) for v in found] == [
        ("victim_refs[1]", "is not a victim registered in this workspace (yet)")
    ]
