"""The preservation service's expiry-warning scan on a million orders, on SQLite and PostgreSQL, next to a
plain indexed count on the same table measured in the same run, in interleaved trials (floor, scan, idle
scan, floor, ...; ``--trials``, 5 by default, each the median of ``--repeat`` calls). One line per figure,
the median of its trials with their spread:

    BENCH <name> ms=<median ms> spread_ms=<a..b> ratio=<ms / floor ms> trials=<n>

- ``preservation_count_floor_<backend>``: ``SELECT count(*) ... WHERE next_alert_at <= now`` (an
  index-only range count over the due orders: the floor);
- ``preservation_scan_due_<backend>``: the service's real scan (services.preservation.events.scan, batch
  500) while 1 % of the orders have a warning due;
- ``preservation_scan_idle_<backend>``: the same scan when nothing is due (what every idle scan costs);
- ``preservation_scan_rows_<backend>``: the scan's own statement, its rows fetched as the scan fetches them
  (``store.due_for_alert_rows``: the driver's tuples) and nothing made of them: what the database and its
  driver cost for the rows the scan must read (not a floor: a reading aid).

``--send N`` times the send path instead (``bench_send``): N due warnings sent by the service's scan and
emitter, one line per number of alerts per transaction (``--batches``), in turns:

    BENCH preservation_send_<backend>_batch<b> ms=<ms to send all> spread_ms=<a..b> per_alert_ms=<x> ratio=<..>
      cpu_ms=<x> trials=<n>

Each call runs in a session of its own on the service's own connection (``jitlib.db.Database``: its pragmas
on SQLite, its session settings on PostgreSQL), as the scanner's (``Runtime.read``). The orders are bulk-loaded
(SQLite: executemany in one transaction; PostgreSQL: COPY, then VACUUM ANALYZE as autovacuum would) into a
database migrated with the service's own Alembic migrations, so the indexes are the production ones, and
what users wrote of each order is sealed under its workspace's key as the service stores it.
``--explain`` prints the scan statement's plan on each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port
from jitlib import crypto, sealing
from jitlib.alerts import AlertScanner
from jitlib.clock import SystemClock
from jitlib.db import Database, migrate
from jitlib.runtime import Runtime
from services.preservation import events, store
from services.preservation.app import MIGRATIONS, PreservationSettings

TABLE = cast(Table, store.OrderRow.__table__)
#: Every column of the table; one the rows below do not name (a nullable one added later) is loaded NULL.
COLUMNS = [c.name for c in TABLE.columns]
DUE_SHARE = 100  # one order in this many has a warning due


def _rows(n: int, now: datetime, keys: dict[str, bytes], share: int = DUE_SHARE) -> Iterator[dict[str, Any]]:
    """Confirmed orders expiring over the next 6 months; one in DUE_SHARE has its first warning due. What
    users wrote of each is sealed under its workspace's content key (``keys``), as the service stores it, so
    that a scan reading rows costs what it costs in production (an ORM load opens them)."""
    text = {"targets": json.dumps([["ACCOUNT_HANDLE", "@bench"]]), "description": "Images posted without consent"}
    data = json.dumps({**text, "state_reason": "", "provider_reference": ""}, separators=(",", ":")).encode()
    for i in range(n):
        due = i % share == 0
        if due:  # the 14-day warning fell due in the last ten hours
            expires = now + timedelta(days=14) - timedelta(minutes=1 + i % 600)
            next_alert = expires - timedelta(days=14)
        else:  # the next warning lies ahead
            expires = now + timedelta(days=15) + timedelta(seconds=(i * 7919) % (160 * 86400))
            next_alert = expires - timedelta(days=14)
        confirmed = expires - timedelta(days=90)
        order_id, workspace_id = str(uuid.UUID(int=i + 1)), f"ws-{i % 50:03d}"
        yield {
            "id": order_id,
            "workspace_id": workspace_id,
            "request_id": str(uuid.UUID(int=(1 << 64) + i)),
            "request_digest": "0" * 64,
            "origin_jurisdiction": "NL",
            "legal_basis": "PROVIDER_VOLUNTARY",
            "provider_id": "socialnet-ie",
            "targets": "",
            "data_categories": "SUBSCRIBER",
            "description": "",
            "restricted": False,
            "shared_with": "",
            "state": "CONFIRMED",
            "state_reason": "",
            "not_executed_reason": "",
            "provider_reference": "",
            "follow_up_request_id": "",
            "follow_up_facts": "",
            "issued_at": confirmed - timedelta(hours=1),
            "received_at": confirmed - timedelta(hours=1),
            "confirmed_at": confirmed,
            "clock_started_at": confirmed,
            "expires_at": expires,
            "extension_count": 0,
            "extension_deadline": expires - timedelta(days=7),
            "produced_at": None,
            "clock_stopped_at": None,
            "clock_remaining_seconds": None,
            "next_alert_at": next_alert,
            "version": 3,
            "created_by_id": "bench",
            "created_by_name": "bench",
            "created_at": confirmed,
            "updated_by_id": "bench",
            "updated_by_name": "bench",
            "updated_by_jurisdiction": "NL",
            "updated_at": confirmed,
            "replicated_at": None,  # the node's own orders
            "victim_refs": "",
            "user_notice_status": "PENDING",  # revision 0021's column (NOT NULL): nothing suppressed
            # Revision 0026's columns (NOT NULL where text): never transferred for enforcement.
            "enforcing_jurisdiction": "",
            "enforcement_refusal_ground": "",
            "enforcement_reader": "",
            "sealed": crypto.seal(keys[workspace_id], data, store.SEALED.aad(order_id)),
        }


def _sqlite_value(v: Any) -> Any:
    # The text form SQLAlchemy's SQLite DateTime type stores and compares.
    return v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v


def load_sqlite(engine: Engine, n: int, now: datetime, keys: dict[str, bytes], share: int = DUE_SHARE) -> None:
    sql = f"INSERT INTO preservation_orders ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        batch: list[tuple[Any, ...]] = []
        for row in _rows(n, now, keys, share):
            batch.append(tuple(_sqlite_value(row.get(c)) for c in COLUMNS))
            if len(batch) == 50_000:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()


def load_postgres(engine: Engine, n: int, now: datetime, keys: dict[str, bytes], share: int = DUE_SHARE) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY preservation_orders ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in _rows(n, now, keys, share):
                copy.write_row([row.get(c) for c in COLUMNS])
        raw.commit()
    finally:
        raw.close()


def make_keys(engine: Engine, info: dict[str, Any]) -> dict[str, bytes]:
    """The content key of each of the 50 workspaces, made as the service makes them (wrapped by the KEK)."""
    with Session(engine, info=info) as session:
        keys = {
            f"ws-{w:03d}": sealing.content_keys(session).key(session, f"ws-{w:03d}", create=True) for w in range(50)
        }
        session.commit()
    return keys


def timed_ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def trial_line(name: str, trials: list[list[float]], floor_ms: float | None) -> str:
    """The median of the trials' medians, their spread (min..max), and the ratio to the floor's median."""
    medians = [statistics.median(t) for t in trials]
    ms = statistics.median(medians)
    ratio = 1.0 if floor_ms is None else ms / floor_ms
    spread = f"{min(medians):.3f}..{max(medians):.3f}"
    return f"BENCH {name} ms={ms:.3f} spread_ms={spread} ratio={ratio:.2f} trials={len(medians)}"


def bench_backend(name: str, url: str, n: int, repeat: int, trials: int, explain: bool) -> None:
    migrate(MIGRATIONS, url)
    engine = create_engine(url)
    info: dict[str, Any] = {}
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(os.urandom(32))]))
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    (load_sqlite if name == "sqlite" else load_postgres)(engine, n, now, make_keys(engine, info))
    analyze(engine, name)
    load_s = time.perf_counter() - t0
    rules = PreservationSettings().rules()
    scan = events.scan(rules, 500)
    idle_at = now - timedelta(days=30)  # before any warning falls due
    count = select(func.count()).select_from(TABLE).where(store.OrderRow.next_alert_at <= now)
    engine.dispose()
    # Each call in a session of its own on the service's connection, as the service's scanner reads.
    db = Database(url)

    def floor() -> object:
        with Session(db.engine, info=db.info) as session:
            return session.scalar(count)

    def rows() -> object:
        with Session(db.engine, info=db.info) as session:
            return store.due_for_alert_rows(session, now, 500)

    def scan_at(at: datetime) -> Callable[[], object]:
        def run() -> object:
            with Session(db.engine, info=db.info) as session:
                return scan(session, at)

        return run

    due = int(cast(int, floor()))
    scanned = len(cast(list[Any], scan_at(now)()))
    # Interleaved trials (floor, scan, idle scan, floor, ...): a busy spell of the machine weighs on all three.
    figures: dict[str, list[list[float]]] = {"floor": [], "due": [], "idle": [], "rows": []}
    for _ in range(trials):
        for key, fn in (("floor", floor), ("due", scan_at(now)), ("idle", scan_at(idle_at)), ("rows", rows)):
            fn()  # warm
            figures[key].append([timed_ms(fn) for _ in range(repeat)])
    if explain:
        for line in plan(db.engine, name, now):
            print(f"# plan {name}: {line}", flush=True)
    db.dispose()
    print(f"# {name}: {n} orders loaded in {load_s:.1f} s; {due} due, the scan returns {scanned} warnings", flush=True)
    floor_ms = statistics.median(statistics.median(t) for t in figures["floor"])
    print(trial_line(f"preservation_count_floor_{name}", figures["floor"], None), flush=True)
    print(trial_line(f"preservation_scan_due_{name}", figures["due"], floor_ms), flush=True)
    print(trial_line(f"preservation_scan_idle_{name}", figures["idle"], floor_ms), flush=True)
    print(trial_line(f"preservation_scan_rows_{name}", figures["rows"], floor_ms), flush=True)


class HeldRelay:
    """The outbox relay's part in a change, without NATS: the events each commit hands over are counted
    (publishing is not what the send bench measures; their outbox rows are written as always)."""

    def __init__(self) -> None:
        self.handed = 0

    def committed(self, staged: list[Any]) -> None:
        self.handed += len(staged)

    def wake(self) -> None:
        pass


class NoDirectory:
    """No workspace directory: an order's events go to its own parties (``Runtime.members_of``)."""

    def get(self, _workspace_id: str) -> None:
        return None


def bench_send(name: str, url: str, due: int, batches: list[int], trials: int) -> None:
    """The alert scanner sending ``due`` expiry warnings (all due at once, every order of the table), one
    scan of 500 after another until none is left, through the service's own scan and emitter
    (``events.scan``, ``events.emitter``: the order loaded and locked, its warning's event and audit entry
    written) in a real ``Runtime`` on the service's connection (fsync on PostgreSQL), for each batch size
    (alerts per transaction) in turns; between runs the warnings are made due again (alerts_sent, outbox and
    audit rows deleted, each order's next warning restored). One line per batch size:

        BENCH preservation_send_<backend>_batch<b> ms=<median ms to send all> spread_ms=<a..b> per_alert_ms=<x>
          ratio=<ms / the first batch size's ms> cpu_ms=<the process's CPU time, median> trials=<n>
    """
    migrate(MIGRATIONS, url)
    engine = create_engine(url)
    info: dict[str, Any] = {}
    ring = crypto.KekRing([crypto.Kek(os.urandom(32))])
    sealing.install(info, store.Base.metadata, ring)
    now = datetime.now(UTC).replace(microsecond=0)
    (load_sqlite if name == "sqlite" else load_postgres)(engine, due, now, make_keys(engine, info), 1)
    analyze(engine, name)
    engine.dispose()
    db = Database(url)
    content_keys = sealing.install(db.info, store.Base.metadata, ring)
    relay = HeldRelay()
    rt = Runtime(
        name="preservation",
        common=cast(Any, None),
        settings=PreservationSettings(),
        db=db,
        tables=store.RUNTIME,
        bus=cast(Any, None),
        relay=cast(Any, relay),
        clock=SystemClock(),
        workspaces=cast(Any, NoDirectory()),
        content_keys=content_keys,
    )
    rules = PreservationSettings().rules()
    scan, emit = events.scan(rules, 500), events.emitter(rt, rules)
    with Session(db.engine, info=db.info) as session:
        pointers = [{"i": i, "n": n} for i, n in session.execute(select(TABLE.c.id, TABLE.c.next_alert_at)).all()]
    tables = [store.ALERTS, store.RUNTIME.outbox, store.RUNTIME.audit_pending, store.RUNTIME.audit_log]
    restore = TABLE.update().where(TABLE.c.id == bindparam("i")).values(next_alert_at=bindparam("n"))

    def reset(session: Session) -> None:
        for table in tables:
            session.execute(table.delete())
        session.execute(restore, pointers)

    async def send_all(scanner: AlertScanner) -> int:
        sent = 0
        while n := await scanner.scan_once():
            sent += n
        return sent

    loop = asyncio.new_event_loop()
    figures: dict[int, list[float]] = {b: [] for b in batches}
    cpu: dict[int, list[float]] = {b: [] for b in batches}  # this process's CPU time (all its threads)
    actual: dict[int, int] = {}
    try:
        for _ in range(trials):
            for b in batches:
                db.write_sync(reset)
                scanner = AlertScanner(rt, store.ALERTS, scan, emit, batch=b)
                actual[b] = scanner.batch
                t0, c0 = time.perf_counter(), time.process_time()
                sent = loop.run_until_complete(send_all(scanner))
                figures[b].append((time.perf_counter() - t0) * 1000)
                cpu[b].append((time.process_time() - c0) * 1000)
                if sent != due:
                    raise SystemExit(f"{name}: batch {b} sent {sent} warnings, not {due}")
    finally:
        loop.close()
        db.dispose()
    base = statistics.median(figures[batches[0]])
    for b in batches:
        ms = statistics.median(figures[b])
        spread = f"{min(figures[b]):.1f}..{max(figures[b]):.1f}"
        print(
            f"BENCH preservation_send_{name}_batch{actual[b]} ms={ms:.1f} spread_ms={spread} "
            f"per_alert_ms={ms / due:.3f} ratio={ms / base:.2f} cpu_ms={statistics.median(cpu[b]):.1f} trials={trials}",
            flush=True,
        )


def analyze(engine: Engine, name: str) -> None:
    """Statistics for the planner; on PostgreSQL a VACUUM too, which sets the visibility map as autovacuum
    would on a table in use (index-only scans read it)."""
    raw = engine.raw_connection()
    try:
        if name == "sqlite":
            raw.cursor().execute("ANALYZE")
            raw.commit()
        else:
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            raw.cursor().execute("VACUUM ANALYZE preservation_orders")
    finally:
        raw.close()


def plan(engine: Engine, name: str, now: datetime) -> list[str]:
    """The query plan of the scan's statement (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE)."""
    stmt = store.due_for_alert_query(now, 500)
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + sql).all()
    return [str(r[-1]) for r in rows]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=7, help="timed runs per figure in each trial (its median counts)")
    p.add_argument("--trials", type=int, default=5, help="interleaved trials per figure (default 5)")
    p.add_argument("--explain", action="store_true", help="print the scan's query plan on each backend")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--send", type=int, default=0, help="instead: time sending this many due warnings (see bench_send)")
    p.add_argument("--batches", default="1,10,50", help="with --send: alerts per transaction, in turns")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jit-bench-preservation-"))
    pg = PostgresInstance(free_port(), work / "pg" / "data", work / "pg.log", durable=True)
    try:
        for backend in a.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'preservation.db'}"
            else:
                if pg.process is None:
                    pg.start()
                url = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            if a.send:
                bench_send(backend, url, a.send, [int(b) for b in a.batches.split(",")], a.trials)
            else:
                bench_backend(backend, url, a.orders, a.repeat, a.trials, a.explain)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
