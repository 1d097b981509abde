"""Two processes of one service apply the same workspace announcement at once, on PostgreSQL: one applies
it; the other, whose read saw the former version, applies nothing (its update is only over the version it
read). Before, both updated (READ COMMITTED, no lock taken on the read): the join was noted twice (every
record sent twice to the joining country's node), and the announcement's audit entries written twice."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jitlib import crypto, db, joining, sealing, workspaces
from jitlib.clock import ManualClock
from jitlib.federation import Federation
from services.tasks import app, store
from tests.harness import eventually
from tests.unit.test_joining import T0, WS, _announcement

pytestmark = pytest.mark.integration
R = TypeVar("R")


@pytest.fixture
def database(postgres: Any) -> Iterator[db.Database]:
    url = str(postgres.create_database(f"wsdir_{uuid.uuid4().hex[:12]}"))
    db.migrate(app.MIGRATIONS, url)
    database = db.Database(url)
    sealing.install(database.info, store.Base.metadata, crypto.KekRing([crypto.Kek(crypto.new_data_key())]))
    yield database
    database.dispose()


def test_an_announcement_two_processes_apply_at_once_is_applied_and_noted_once(database: db.Database) -> None:
    fed = Federation.parse("NL", "DE,IE")
    processes = []
    for _ in range(2):
        directory = workspaces.DirectorySync(None, database, store.RUNTIME, fed)  # type: ignore[arg-type]
        directory.joins = joining.Joins(
            database, store.RUNTIME, ManualClock(T0), "NL", frozenset({"DE", "IE"}), [], committed=lambda _rows: None
        )
        processes.append(directory)
    first, second = _announcement(1, ["NL", "DE"]), _announcement(2, ["NL", "DE", "IE"])
    for directory in processes:
        asyncio.run(database.write(lambda s, d=directory: d._apply(s, first, None)))

    # The other's update waits for the first's commit.
    applied = _at_once(
        database, lambda s: processes[0]._apply(s, second, None), lambda s: processes[1]._apply(s, second, None)
    )
    assert applied == (True, False)
    assert _joins_noted(database) == ["IE", "IE"]  # one first pass and one second, not two of each


def _at_once(database: db.Database, one: Callable[[Session], R], other: Callable[[Session], R]) -> tuple[R, R]:
    """``one`` run in a transaction left open while ``other`` runs in another, on a thread, until it waits
    for a lock (``one``'s rows); then ``one`` commits, and ``other`` goes on and commits. What each returned."""
    first = Session(database.engine)
    answers = [one(first)]
    waiting = threading.Event()

    def run_other() -> None:
        with Session(database.engine) as s:
            waiting.set()
            answers.append(other(s))
            s.commit()

    thread = threading.Thread(target=run_other)
    thread.start()
    waiting.wait(10)
    eventually(lambda: _blocked(database), timeout=10)
    first.commit()
    first.close()
    thread.join(30)
    assert len(answers) == 2, "the other transaction did not finish"
    return answers[0], answers[1]


def _joins_noted(database: db.Database) -> list[str]:
    t = store.RUNTIME.workspace_joins
    return list(
        asyncio.run(database.read(lambda s: s.execute(select(t.c.countries).order_by(t.c.due_at)).scalars().all()))
    )


def _blocked(database: db.Database) -> bool:
    """Whether a session waits for a lock (the other process's update, behind the first's)."""
    with database.engine.connect() as conn:
        return bool(conn.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar())


def test_a_peer_two_replicas_find_linked_as_they_start_at_once_is_noted_once(database: db.Database) -> None:
    """Two replicas of the service start at once, both linked to IE for the first time: the one that records
    IE first notes the workspace's join; the other, whose read did not see IE yet, waits for it, records
    nothing and notes nothing (``joining.link_peers``): the join is not sent twice."""
    workspace = store.RUNTIME.workspaces
    fields = {"name": "Harassment case", "lead": "NL", "legal_basis": "", "starts_on": "", "ends_on": ""}

    def before(s: Session) -> None:
        s.execute(workspace.insert().values(id="case-1", status="open", members="DE,IE,NL", version=1,
                                            updated_at=T0, **fields))  # fmt: skip
        joining.link_peers(s, store.RUNTIME, frozenset({"DE"}), T0)  # the first start, linked to DE

    asyncio.run(database.write(before))

    def start(s: Session) -> dict[str, list[str]]:
        return joining.link_peers(s, store.RUNTIME, frozenset({"DE", "IE"}), T0)

    assert _at_once(database, start, start) == ({"case-1": ["IE"]}, {})
    assert _joins_noted(database) == ["IE", "IE"]  # one first pass and one second, not two of each


def test_jit_member_taken_out_is_held_and_audited_by_the_directory_on_postgresql(database: db.Database) -> None:
    """JIT_MEMBER_TAKEN_OUT on PostgreSQL (the column its migration adds): DE taken out is held as a former
    member, one audit entry names it, the audiences computed from the members leave it out, and the join a
    country added again makes is noted as any join."""
    from jitlib import audit, envelopes

    fed = Federation.parse("NL", "DE,IE")
    directory = workspaces.DirectorySync(None, database, store.RUNTIME, fed)  # type: ignore[arg-type]
    directory.joins = joining.Joins(
        database, store.RUNTIME, ManualClock(T0), "NL", frozenset({"DE", "IE"}), [], committed=lambda _rows: None
    )
    for announced in (_announcement(1, ["NL", "DE", "IE"]), _announcement(2, ["NL", "IE"])):
        asyncio.run(database.write(lambda s, a=announced: directory._apply(s, a, None)))
    info = directory.get(WS)
    assert info is not None and info.former_members == {"DE"}
    assert envelopes.audience({"NL", "DE"}, False, info.members) == ["IE", "NL"]
    log = store.RUNTIME.audit_log
    entries = asyncio.run(database.read(lambda s: s.execute(select(log.c.operation, log.c.record_id)).all()))
    assert [tuple(e) for e in entries] == [(workspaces.MEMBER_TAKEN_OUT, f"{WS}/DE")]
    assert asyncio.run(database.write(lambda s: audit.verify(s, store.RUNTIME).intact))

    asyncio.run(database.write(lambda s: directory._apply(s, _announcement(3, ["NL", "DE", "IE"]), None)))
    info = directory.get(WS)
    assert info is not None and info.former_members == frozenset() and "DE" in info.members
    assert _joins_noted(database) == ["DE", "DE"]
