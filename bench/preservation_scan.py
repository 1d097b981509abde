"""The preservation service's expiry-warning scan on a million orders, on SQLite and PostgreSQL, next to a
plain indexed count on the same table measured in the same run. One line per figure:

    BENCH <name> ms=<median ms> ratio=<ms / floor ms>

- ``preservation_count_floor_<backend>``: ``SELECT count(*) ... WHERE next_alert_at <= now`` (an
  index-only range count over the due orders: the floor);
- ``preservation_scan_due_<backend>``: the service's real scan (services.preservation.events.scan, batch
  500) while 1 % of the orders have a warning due;
- ``preservation_scan_idle_<backend>``: the same scan when nothing is due (what every idle scan costs).

The orders are bulk-loaded (SQLite: executemany in one transaction; PostgreSQL: COPY) into a database
migrated with the service's own Alembic migrations, so the indexes are the production ones.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port
from jitlib.db import migrate
from services.preservation import events, store
from services.preservation.app import MIGRATIONS, PreservationSettings

TABLE = cast(Table, store.OrderRow.__table__)
COLUMNS = [c.name for c in TABLE.columns]
DUE_SHARE = 100  # one order in this many has a warning due


def _rows(n: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Confirmed orders expiring over the next 6 months; one in DUE_SHARE has its first warning due."""
    targets = json.dumps([["ACCOUNT_HANDLE", "@bench"]])
    for i in range(n):
        due = i % DUE_SHARE == 0
        if due:  # the 14-day warning fell due in the last ten hours
            expires = now + timedelta(days=14) - timedelta(minutes=1 + i % 600)
            next_alert = expires - timedelta(days=14)
        else:  # the next warning lies ahead
            expires = now + timedelta(days=15) + timedelta(seconds=(i * 7919) % (160 * 86400))
            next_alert = expires - timedelta(days=14)
        confirmed = expires - timedelta(days=90)
        yield {
            "id": str(uuid.UUID(int=i + 1)),
            "workspace_id": f"ws-{i % 50:03d}",
            "request_id": str(uuid.UUID(int=(1 << 64) + i)),
            "request_digest": "0" * 64,
            "origin_jurisdiction": "NL",
            "legal_basis": "PROVIDER_VOLUNTARY",
            "provider_id": "socialnet-ie",
            "targets": targets,
            "data_categories": "SUBSCRIBER",
            "description": "",
            "restricted": False,
            "shared_with": "",
            "state": "CONFIRMED",
            "state_reason": "",
            "not_executed_reason": "",
            "provider_reference": "",
            "follow_up_request_id": "",
            "issued_at": confirmed - timedelta(hours=1),
            "confirmed_at": confirmed,
            "clock_started_at": confirmed,
            "expires_at": expires,
            "extension_count": 0,
            "extension_deadline": expires - timedelta(days=7),
            "produced_at": None,
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
        }


def _sqlite_value(v: Any) -> Any:
    # The text form SQLAlchemy's SQLite DateTime type stores and compares.
    return v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v


def load_sqlite(engine: Engine, n: int, now: datetime) -> None:
    sql = f"INSERT INTO preservation_orders ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        batch: list[tuple[Any, ...]] = []
        for row in _rows(n, now):
            batch.append(tuple(_sqlite_value(row[c]) for c in COLUMNS))
            if len(batch) == 50_000:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load_postgres(engine: Engine, n: int, now: datetime) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY preservation_orders ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in _rows(n, now):
                copy.write_row([row[c] for c in COLUMNS])
        raw.commit()
        cur.execute("ANALYZE preservation_orders")
        raw.commit()
    finally:
        raw.close()


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm the cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_backend(name: str, url: str, n: int, repeat: int) -> None:
    migrate(MIGRATIONS, url)
    engine = create_engine(url)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    (load_sqlite if name == "sqlite" else load_postgres)(engine, n, now)
    load_s = time.perf_counter() - t0
    rules = PreservationSettings().rules()
    scan = events.scan(rules, 500)
    idle_at = now - timedelta(days=30)  # before any warning falls due
    count = select(func.count()).select_from(TABLE).where(store.OrderRow.next_alert_at <= now)

    with Session(engine) as session:
        due = int(session.scalar(count) or 0)
        floor = median_ms(lambda: session.scalar(count), repeat)
        scanned = len(scan(session, now))
        due_ms = median_ms(lambda: scan(session, now), repeat)
        idle_ms = median_ms(lambda: scan(session, idle_at), repeat)
        session.rollback()
    engine.dispose()
    print(f"# {name}: {n} orders loaded in {load_s:.1f} s; {due} due, the scan returns {scanned} warnings", flush=True)
    print(f"BENCH preservation_count_floor_{name} ms={floor:.3f} ratio=1.00", flush=True)
    print(f"BENCH preservation_scan_due_{name} ms={due_ms:.3f} ratio={due_ms / floor:.2f}", flush=True)
    print(f"BENCH preservation_scan_idle_{name} ms={idle_ms:.3f} ratio={idle_ms / floor:.2f}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=21, help="timed runs per figure (median reported)")
    p.add_argument("--backends", default="sqlite,postgresql")
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
            bench_backend(backend, url, a.orders, a.repeat)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
