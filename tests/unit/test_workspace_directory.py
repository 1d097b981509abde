"""The workspace directory applies only events that describe a plausible next state of a workspace:
a forged event cannot pin a workspace, change its lead, or stop the directory (security review: event
payloads are trusted)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jitlib import audit, db, workspaces
from jitlib.bus import PoisonMessage
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def ws(version: int, **over: Any) -> common_pb2.Workspace:
    fields: dict[str, Any] = {
        "id": "jit-demo",
        "name": "JIT demo",
        "lead": "NL",
        "members": ["NL", "DE", "IE"],
        "status": common_pb2.WORKSPACE_STATUS_OPEN,
        "version": version,
    }
    fields.update(over)
    return common_pb2.Workspace(**fields)


def event(w: common_pb2.Workspace, **over: Any) -> Envelope:
    env = workspaces.envelope_for(w, common_pb2.Actor(username="admin"), NOW)
    for k, v in over.items():
        if k == "seconds":
            env.occurred_at.seconds = v
        else:
            setattr(env, k, v)
    return env


@pytest.fixture
def session(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'dir.db'}"
    db.migrate(MIGRATIONS, url)
    engine = create_engine(url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def held(session: Session) -> workspaces.WorkspaceInfo | None:
    return workspaces.get_workspace(session, RUNTIME, "jit-demo")


def test_versions_apply_in_order_and_replays_change_nothing(session: Session) -> None:
    assert workspaces.apply_workspace_event(session, RUNTIME, event(ws(1)))
    assert workspaces.apply_workspace_event(session, RUNTIME, event(ws(2, members=["NL", "DE", "IE", "FR"])))
    assert not workspaces.apply_workspace_event(session, RUNTIME, event(ws(1)))
    info = held(session)
    assert info is not None and info.version == 2 and "FR" in info.members


@pytest.mark.parametrize(
    ("first", "forged", "why"),
    [
        (True, event(ws(2**62)), "version"),
        (True, event(ws(2, lead="DE", members=["NL", "DE"])), "lead"),
        (True, event(ws(2), seconds=2**60), "time"),
        (True, event(ws(2), seconds=-(10**11)), "time"),
        (True, event(ws(2), id="ws-jit-demo-v99"), "event id"),
        (True, event(ws(2), origin_jurisdiction="DE"), "envelope"),
        (True, event(ws(2, members=["DE", "IE"])), "lead"),
        (True, event(ws(2, members=["NL", "not a code"])), "jurisdiction"),
        (False, event(ws(10_000)), "low version"),
        (True, event(ws(2, ends_on="31/12/2027")), "ISO dates"),
        (True, event(ws(2, starts_on="2027-01-01", ends_on="2026-12-31")), "ends before it starts"),
    ],
)
def test_a_forged_or_broken_event_is_refused_and_changes_nothing(
    session: Session, first: bool, forged: Envelope, why: str
) -> None:
    if first:
        workspaces.apply_workspace_event(session, RUNTIME, event(ws(1)))
    before = held(session)
    with pytest.raises(PoisonMessage) as info:
        workspaces.apply_workspace_event(session, RUNTIME, forged)
    assert why in str(info.value)
    assert held(session) == before


def test_after_a_refused_forgery_the_next_real_version_still_applies(session: Session) -> None:
    workspaces.apply_workspace_event(session, RUNTIME, event(ws(1)))
    with pytest.raises(PoisonMessage):
        workspaces.apply_workspace_event(session, RUNTIME, event(ws(2**40)))
    assert workspaces.apply_workspace_event(session, RUNTIME, event(ws(2, status=common_pb2.WORKSPACE_STATUS_CLOSED)))
    info = held(session)
    assert info is not None and info.version == 2 and not info.is_open


def test_jit_period_extension_is_kept_in_the_directory_and_in_the_audit_log(session: Session) -> None:
    """JIT_PERIOD_EXTENSION (FD 2002/465/JHA Art. 1(1)): the directory keeps a workspace's period, and a
    new end date announced as a new version is written in the service's audit log under the
    administrator who announced it; a change that leaves the period alone writes nothing there."""
    first = ws(1, starts_on="2026-01-15", ends_on="2026-12-31")
    workspaces.apply_workspace_event(session, RUNTIME, event(first))
    info = held(session)
    assert info is not None and (info.starts_on, info.ends_on) == ("2026-01-15", "2026-12-31")
    assert info.last_day is not None and info.last_day.isoformat() == "2026-12-31"
    workspaces.apply_workspace_event(session, RUNTIME, event(ws(2, starts_on="2026-01-15", ends_on="2026-12-31")))
    assert session.execute(select(RUNTIME.audit_log)).first() is None
    extended = ws(3, starts_on="2026-01-15", ends_on="2027-12-31")
    workspaces.apply_workspace_event(
        session, RUNTIME, workspaces.envelope_for(extended, common_pb2.Actor(user_id="kc-admin", username="admin"))
    )
    info = held(session)
    assert info is not None and info.ends_on == "2027-12-31" and info.version == 3
    rows = session.execute(select(RUNTIME.audit_log)).mappings().all()
    assert [(r["operation"], r["record_id"], r["username"]) for r in rows] == [
        (workspaces.PERIOD_CHANGED, "jit-demo", "admin")
    ]
    assert audit.verify(session, RUNTIME).intact
