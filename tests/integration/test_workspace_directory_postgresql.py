"""Two processes of one service apply the same workspace announcement at once, on PostgreSQL: one applies
it; the other, whose read saw the former version, applies nothing (its update is only over the version it
read). Before, both updated (READ COMMITTED, no lock taken on the read): the join was noted twice (every
record sent twice to the joining country's node), and the announcement's audit entries written twice."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jitlib import crypto, db, joining, sealing, workspaces
from jitlib.clock import ManualClock
from jitlib.federation import Federation
from services.tasks import app, store
from tests.harness import eventually
from tests.unit.test_joining import T0, _announcement

pytestmark = pytest.mark.integration


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

    applied: dict[str, bool] = {}
    one = Session(database.engine)
    applied["one"] = processes[0]._apply(one, second, None)  # applied and noted, not committed yet
    waiting = threading.Event()

    def other() -> None:
        with Session(database.engine) as s:
            waiting.set()
            applied["other"] = processes[1]._apply(s, second, None)  # its update waits for the first's commit
            s.commit()

    thread = threading.Thread(target=other)
    thread.start()
    waiting.wait(10)
    eventually(lambda: _blocked(database), timeout=10)
    one.commit()
    one.close()
    thread.join(30)
    assert applied == {"one": True, "other": False}
    t = store.RUNTIME.workspace_joins
    noted = asyncio.run(database.read(lambda s: s.execute(select(t.c.countries)).scalars().all()))
    assert noted == ["IE", "IE"]  # one first pass and one second, not two of each


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
    noted: dict[str, dict[str, list[str]]] = {}
    one = Session(database.engine)
    noted["one"] = joining.link_peers(one, store.RUNTIME, frozenset({"DE", "IE"}), T0)  # not committed yet
    waiting = threading.Event()

    def other() -> None:
        with Session(database.engine) as s:
            waiting.set()
            noted["other"] = joining.link_peers(s, store.RUNTIME, frozenset({"DE", "IE"}), T0)
            s.commit()

    thread = threading.Thread(target=other)
    thread.start()
    waiting.wait(10)
    eventually(lambda: _blocked(database), timeout=10)
    one.commit()
    one.close()
    thread.join(30)
    assert noted == {"one": {"case-1": ["IE"]}, "other": {}}
    t = store.RUNTIME.workspace_joins
    joins = asyncio.run(database.read(lambda s: s.execute(select(t.c.countries)).scalars().all()))
    assert joins == ["IE", "IE"]  # one first pass and one second, not two of each
