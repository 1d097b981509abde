"""Deadline alerts that are never missed and never doubled.

A service describes its deadlines with a ``scan`` function: given the database and a time, it returns the
alerts that are due (for example "order X expires in 7 days", due at expires_at - 7 d). The scanner runs
``scan`` at start and then periodically; each due alert is recorded in ``alerts_sent`` (primary key: the
alert's key) and its event written to the outbox in the same transaction. Hence:

- a service that was down when an alert fell due sends it at its next scan, late but not lost;
- two replicas scanning at once send it once: the second insert of the same key writes nothing, and
  that replica emits nothing (PostgreSQL: ON CONFLICT DO NOTHING; SQLite: BEGIN IMMEDIATE serialises);
- a restart re-scans and finds the key already recorded.

Scans must be indexed queries over "due_at <= now and not yet sent" (see the preservation service).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Column, DateTime, MetaData, String, Table
from sqlalchemy.orm import Session

from jitlib.auth import Principal
from jitlib.db import insert_or_nothing
from jitlib.periodic import Periodic
from jitlib.runtime import Runtime, UnitOfWork

log = logging.getLogger(__name__)

#: The principal alerts are recorded under in the audit log (the system, not a user).
SYSTEM = Principal(
    user_id="system", username="jit-system", jurisdiction="SYSTEM", roles=frozenset(), workspaces=frozenset()
)


def alerts_table(metadata: MetaData) -> Table:
    """Declare ``alerts_sent`` in a service's metadata (its migrations own it)."""
    return Table(
        "alerts_sent",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=False),
    )


class Alert(NamedTuple):
    """One alert a scan found due. A tuple: a scan makes one per due record (hundreds per scan), and a tuple
    is the cheapest immutable record Python builds (half the cost of a frozen dataclass)."""

    #: Unique and stable for one alert, e.g. "<order id>:warn:P7D:<expires_at iso>".
    key: str
    due_at: datetime
    #: Whatever the emitter needs (the record, the offset, ...).
    payload: Any = None


#: An alert as a scan may give it: any (key, due_at, payload) tuple, an ``Alert`` or a plain tuple (a scan
#: that finds hundreds at once gives plain ones, a tenth of the cost to build); the scanner hands the emitter
#: each one it sends as an ``Alert``.
Due = tuple[str, datetime, Any]
Scan = Callable[[Session, datetime], Sequence[Due]]
Emit = Callable[[UnitOfWork, Alert], None]


def record_once(session: Session, table: Table, alert: Alert, now: datetime) -> bool:
    """Record the alert in ``alerts_sent``; False when it was recorded before (by another scan, this or another
    replica, or an earlier event of the same thing): the caller then sends nothing. Also for an alert a
    consumer raises outside a scan (the preservation service's production-not-counted warning)."""
    stmt = insert_or_nothing(session, table).values(key=alert.key, due_at=alert.due_at, sent_at=now)
    return session.execute(stmt.returning(table.c.key)).first() is not None


#: Alerts per transaction for a service whose emitter does a record's worth of writes (preservation warnings,
#: evidence deadline alerts): on PostgreSQL one commit and its fsync for each 50, not for each alert.
BATCH = 50
#: At most this many alerts in one transaction on SQLite, where a unit of work runs on the event loop (it
#: holds the loop for the whole batch: about a millisecond an alert there; bench/README.md, "Preservation
#: scan"). PostgreSQL runs it on a worker thread, and takes the scanner's own ``batch``.
SQLITE_BATCH = 10


class AlertScanner(Periodic):
    """Runs ``scan`` every ``interval`` seconds and emits each due alert exactly once.

    ``batch``: how many alerts one transaction sends (on SQLite at most ``SQLITE_BATCH``). Each alert is
    recorded in ``alerts_sent`` and emitted (its events and audit entries) in that transaction, so a batch
    commits whole or not at all: a crash in the middle sends none of it, and the next scan sends it all,
    once. An emitter that fails on one alert fails its batch, which is then sent again one alert per
    transaction: the others go, the failing one fails alone as it would have. A failing alert (or batch)
    never stops the scan: the alerts after it are sent all the same, and the scan then fails with the first
    failure (the failing ones are not recorded: the next scan tries them again). 1 (the default): one
    transaction per alert, for an emitter whose work is heavy or not to be shared (a workspace shred)."""

    def __init__(
        self, rt: Runtime, table: Table, scan: Scan, emit: Emit, *, interval: float = 30.0, batch: int = 1
    ) -> None:
        super().__init__(interval, "alert-scanner")
        self._rt = rt
        self._table = table
        self._scan = scan
        self._emit = emit
        self._batch = max(1, min(batch, SQLITE_BATCH) if rt.db.engine.dialect.name == "sqlite" else batch)

    @property
    def batch(self) -> int:
        """How many alerts one transaction sends here (``batch``, bounded on SQLite)."""
        return self._batch

    async def run_pass(self) -> int:
        return await self.scan_once()

    #: What an emitter may raise to stop its alert without failing (a hold that keeps a workspace from its
    #: shred): the alert is not recorded (the next scan finds it again when still due), logged, and the scan
    #: raises no failure for it.
    stops: tuple[type[Exception], ...] = ()

    async def scan_once(self) -> int:
        """Emit every alert due now; returns how many this scan sent. An alert whose emitter fails is not
        recorded (sent again by the next scan) and stops none of the others: the scan sends them, then raises
        the first failure (each one logged), never one of ``stops``."""
        now = self._rt.clock.now()
        due = await self._rt.read(lambda session: list(self._scan(session, now)))
        sent = 0
        failed: Exception | None = None
        for start in range(0, len(due), self._batch):
            alerts = [Alert(*found) for found in due[start : start + self._batch]]
            try:
                sent += await self._rt.change(SYSTEM, functools.partial(self._send, alerts=alerts, now=now))
                continue
            except Exception as exc:
                if len(alerts) == 1:
                    failed = failed or self._failure(alerts[0], exc)
                    continue
                log.warning("an alert of a batch of %d failed: sending them one by one", len(alerts))
            for alert in alerts:
                try:
                    sent += await self._rt.change(SYSTEM, functools.partial(self._send, alerts=[alert], now=now))
                except Exception as exc:  # the others of the batch still go; the scan then fails with it
                    failed = failed or self._failure(alert, exc)
        if failed is not None:
            raise failed
        return sent

    def _failure(self, alert: Alert, exc: Exception) -> Exception | None:
        """``exc``, raised by ``alert``'s emitter, logged: the scan's failure, or None for one of ``stops``."""
        if isinstance(exc, self.stops):
            log.warning("alert %s stopped (%s): the scan goes on", alert.key, exc)
            return None
        log.warning("alert %s failed (%s): the scan goes on, and fails after", alert.key, exc)
        return exc

    def _send(self, uow: UnitOfWork, alerts: Sequence[Alert], now: datetime) -> int:
        """Record and emit ``alerts`` in the unit of work's transaction; how many were not recorded before."""
        session = uow.session
        sent = 0
        for alert in alerts:
            if sent:
                # The next emitter loads its record fresh, as in a transaction of its own: what the alerts before
                # it wrote goes to the database, and the objects they loaded are read again when used.
                session.flush()
                session.expire_all()
            if record_once(session, self._table, alert, now):
                self._emit(uow, alert)
                sent += 1
        return sent
