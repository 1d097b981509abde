"""How long the owner's node takes to stage what a country that joins a workspace is sent
(``jitlib.joining``): the first pass over a workspace of ``--tasks`` open tasks the node owns, on the tasks
service's real database (migrated with its Alembic migrations, each task's text sealed under its workspace's
key as the service stores it), next to a floor measured in the same run: staging the same events, already
built, in the outbox in transactions of the same size (``outbox.stage``: what any way of sending them
costs). Interleaved trials (floor, join, floor, join, ...; ``--trials``, 5 by default); after each, the
staged rows are deleted (untimed), so every trial starts from the same tables. One line per figure, the
median of its trials with their spread:

    BENCH joining_floor_<backend>_<n> ms=<median ms> spread_ms=<a..b> per_record_ms=<x> trials=<t>
    BENCH joining_first_pass_<backend>_<n> ms=<median ms> spread_ms=<a..b> per_record_ms=<x> ratio=<ms / floor>
      events_per_s=<n / s> trials=<t>

What is not in it: publishing the staged events (the relay, as for any change) and the peer applying them.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port
from jitlib import crypto, joining, outbox, sealing
from jitlib.actors import Actor
from jitlib.clock import ManualClock
from jitlib.db import Database, migrate
from jitlib.ids import new_id
from services.tasks import app, domain, store
from services.tasks.domain import NewTask, Task

WS = "bench-joining"
MEMBERS = frozenset({"NL", "DE", "IE"})
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-prosecutor", "NL")


def _tasks(n: int) -> list[Task]:
    out = []
    for i in range(n):
        cmd = NewTask(
            request_id=str(uuid.uuid4()),
            workspace_id=WS,
            title=f"Identify the holder of account {i}",
            description="The account posted her address and photographs of her house.",
            kind="IDENTIFY_ACCOUNT_HOLDER",
            assignee_jurisdiction="DE",
            priority="NORMAL",
            due_at=None,
            restricted=False,
        )
        out.append(domain.create(cmd, task_id=new_id(), actor=NL, now=T0 - timedelta(days=1)))
    return out


def _job(db: Database, clock: ManualClock) -> joining.Joins:
    return joining.Joins(
        db,
        store.RUNTIME,
        clock,
        "NL",
        frozenset({"DE", "IE"}),
        app._resends(None),  # type: ignore[arg-type]
        committed=lambda _rows: None,
    )


async def _join(db: Database, clock: ManualClock, n: int) -> float:
    job = _job(db, clock)
    await db.write(lambda s: joining.note(s, store.RUNTIME, WS, ["IE"], clock.now()))
    start = time.perf_counter()
    staged = await job.run_pass()
    elapsed = (time.perf_counter() - start) * 1000
    if staged != n:
        raise SystemExit(f"the first pass staged {staged} events, not one for each of the {n} tasks")
    return elapsed


async def _floor(db: Database, events: list[tuple[str, Envelope]]) -> float:
    start = time.perf_counter()
    for i in range(0, len(events), joining.BATCH):
        batch = events[i : i + joining.BATCH]

        def write(session: Session, batch: list[tuple[str, Envelope]] = batch) -> None:
            for subject, envelope in batch:
                fresh = Envelope()
                fresh.CopyFrom(envelope)
                fresh.id = new_id()
                outbox.stage(session, store.RUNTIME, subject, fresh)

        await db.write(write)
    return (time.perf_counter() - start) * 1000


async def _clear(db: Database) -> None:
    t = store.RUNTIME

    def clear(session: Session) -> None:
        session.execute(delete(t.outbox))
        session.execute(delete(t.workspace_joins))
        session.execute(delete(t.audit_pending))

    await db.write(clear)


def _line(name: str, values: list[float], n: int, floor: float | None) -> str:
    med = statistics.median(values)
    out = f"BENCH {name} ms={med:.1f} spread_ms={min(values):.1f}..{max(values):.1f} per_record_ms={med / n:.4f}"
    if floor is not None:
        out += f" ratio={med / floor:.2f} events_per_s={n / (med / 1000):.0f}"
    return out + f" trials={len(values)}"


async def bench(backend: str, url: str, n: int, trials: int) -> None:
    migrate(app.MIGRATIONS, url)
    db = Database(url)
    sealing.install(db.info, store.Base.metadata, crypto.KekRing([crypto.Kek(crypto.new_data_key())]))
    try:
        await db.write(
            lambda s: s.execute(
                store.RUNTIME.workspaces.insert().values(
                    id=WS, name="Bench", lead="NL", members=",".join(sorted(MEMBERS)), legal_basis="",
                    starts_on="", ends_on="", status="open", version=2, updated_at=T0,
                )
            )
        )  # fmt: skip
        tasks = _tasks(n)
        for i in range(0, n, 2000):
            await db.write(lambda s, part=tasks[i : i + 2000]: store.TASKS.insert_many(s, part))
        clock = ManualClock(T0)
        shared = app._shared  # the same events the join makes, built once for the floor (untimed)
        events = [shared(None, t, MEMBERS, T0) for t in tasks]  # type: ignore[arg-type]
        floors, joins = [], []
        for _ in range(trials):
            floors.append(await _floor(db, events))
            await _clear(db)
            joins.append(await _join(db, clock, n))
            await _clear(db)
        floor = statistics.median(floors)
        print(_line(f"joining_floor_{backend}_{n}", floors, n, None), flush=True)
        print(_line(f"joining_first_pass_{backend}_{n}", joins, n, floor), flush=True)
    finally:
        db.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--backends", default="sqlite,postgresql")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jit-bench-joining-"))
    pg = PostgresInstance(free_port(), work / "pg" / "data", work / "pg.log", durable=True)
    try:
        for backend in a.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'tasks.db'}"
            else:
                if pg.process is None:
                    pg.start()
                url = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            asyncio.run(bench(backend, url, a.tasks, a.trials))
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
