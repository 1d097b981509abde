"""Expiry warnings are published exactly once: through a whole 90-day clock, with two replicas on one
database, and when the service was down when a warning fell due (sent on start, late but not lost).

Time is a ManualClock the test moves; the scanner is woken and run at each step. Nothing here asserts on
wall-clock durations."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.clock import ManualClock
from services.preservation.store import ALERTS
from tests.harness import RunningService, eventually
from tests.integration.preservation.conftest import (
    DAY,
    Client,
    Launcher,
    scan_now,
    scanner_of,
    stream_envelopes,
)

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
WARN_TYPE = "jit.preservation.v1.PreservationOrderExpiryWarning"


def manual_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


def start(launcher: Launcher, url: str, clock: ManualClock, **kw: Any) -> RunningService:
    # A long interval: only the start-up scan and the test's own wake-ups scan.
    return launcher.start(url, clock=clock, scan_interval_seconds=3600, **kw)


def warnings_of(url: str, order_ids: set[str]) -> list[tuple[str, int, bool, datetime, datetime]]:
    """(order id, offset seconds, first, due_at, published at) of each warning on the stream, in order."""
    out = []
    for env in stream_envelopes(url, "JIT_PRESERVATION", "jit.preservation.*.expiry_warning"):
        if env.aggregate_id not in order_ids:
            continue
        assert env.type == WARN_TYPE
        w = pb.ExpiryWarning()
        assert env.state.Unpack(w)
        out.append(
            (
                w.order.id,
                w.offset_seconds,
                w.first,
                w.due_at.ToDatetime(tzinfo=UTC),
                env.occurred_at.ToDatetime(tzinfo=UTC),
            )
        )
    return out


def expired_events(url: str, order_ids: set[str]) -> list[str]:
    envs = stream_envelopes(url, "JIT_PRESERVATION", "jit.preservation.*.expired")
    return [e.aggregate_id for e in envs if e.aggregate_id in order_ids]


def alerts_sent(svc: RunningService) -> int:
    return int(svc.loop.run(svc.rt.read(lambda s: s.scalar(select(func.count()).select_from(ALERTS)))) or 0)


def test_a_90_day_clock_sends_each_warning_once_in_order(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    clock = manual_clock()
    svc = start(launcher, fresh_db_url(), clock)
    client = Client(svc, tokens)
    t0 = clock.now()
    order = client.confirmed()  # socialnet-ie, provider voluntary: 90 days from confirmation (now)
    expiry = t0 + 90 * DAY
    assert order.expires_at.ToDatetime(tzinfo=UTC) == expiry

    step = 6 * HOUR
    for _ in range(91 * 4):  # 91 days in 6-hour steps
        clock.advance(step)
        scan_now(svc)

    expected = [
        (order.id, 14 * 86400, True, expiry - 14 * DAY),
        (order.id, 7 * 86400, False, expiry - 7 * DAY),
        (order.id, 48 * 3600, False, expiry - 48 * HOUR),
        (order.id, 0, False, expiry),
    ]
    got = eventually(lambda: (lambda w: w if len(w) >= 4 else None)(warnings_of(pnats.url, {order.id})), timeout=30)
    assert [g[:4] for g in got] == expected
    for _, _, _, due, published in got:
        assert due <= published < due + step  # sent at the first scan after it fell due
    assert expired_events(pnats.url, {order.id}) == [order.id]
    final = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert final.state == pb.PRESERVATION_ORDER_STATE_EXPIRED
    assert alerts_sent(svc) == 4
    # Later scans find nothing more to send.
    clock.advance(30 * DAY)
    scan_now(svc)
    assert alerts_sent(svc) == 4


def test_an_extension_replaces_the_pending_warnings(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    clock = manual_clock()
    svc = start(launcher, fresh_db_url(), clock)
    client = Client(svc, tokens)
    t0 = clock.now()
    order = client.confirmed()
    clock.advance(77 * DAY)  # the 14-day warning is due
    scan_now(svc)
    client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id))
    new_expiry = t0 + 180 * DAY
    for _ in range(110):
        clock.advance(DAY)
        scan_now(svc)
    got = eventually(lambda: (lambda w: w if len(w) >= 5 else None)(warnings_of(pnats.url, {order.id})), timeout=30)
    assert [(g[1], g[2], g[3]) for g in got] == [
        (14 * 86400, True, t0 + 76 * DAY),
        (14 * 86400, True, new_expiry - 14 * DAY),
        (7 * 86400, False, new_expiry - 7 * DAY),
        (48 * 3600, False, new_expiry - 48 * HOUR),
        (0, False, new_expiry),
    ]


def test_two_replicas_send_each_warning_once(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    url, clock, group = fresh_db_url(), manual_clock(), f"preservation-{uuid.uuid4().hex[:8]}"
    replicas = [start(launcher, url, clock, group=group), start(launcher, url, clock, group=group)]
    clients = [Client(r, tokens) for r in replicas]
    ids = {clients[i % 2].confirmed().id for i in range(6)}

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for _ in range(91 * 2):  # 91 days in 12-hour steps, both replicas scanning at once
            clock.advance(12 * HOUR)
            list(pool.map(scan_now, replicas))

    def all_sent() -> list[Any] | None:
        w = warnings_of(pnats.url, ids)
        return w if len(w) >= 24 else None

    got = eventually(all_sent, timeout=30)
    counts = Counter((g[0], g[1]) for g in got)
    assert len(counts) == 24 and set(counts.values()) == {1}
    assert sorted(Counter(expired_events(pnats.url, ids)).values()) == [1] * 6
    assert alerts_sent(replicas[0]) == 24


def test_a_warning_due_while_the_service_was_down_is_sent_on_start(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    url, clock = fresh_db_url(), manual_clock()
    svc = start(launcher, url, clock)
    t0 = clock.now()
    order = Client(svc, tokens).confirmed()
    expiry = t0 + 90 * DAY
    launcher.stop(svc)

    clock.advance(84 * DAY)  # down through T-14 d (day 76) and T-7 d (day 83)
    svc = start(launcher, url, clock)  # scans at start
    got = eventually(lambda: (lambda w: w if len(w) >= 2 else None)(warnings_of(pnats.url, {order.id})), timeout=30)
    assert [(g[1], g[2], g[3]) for g in got] == [
        (14 * 86400, True, expiry - 14 * DAY),
        (7 * 86400, False, expiry - 7 * DAY),
    ]
    assert all(g[4] == t0 + 84 * DAY for g in got)  # late, but not lost

    # A restart sends nothing twice.
    launcher.stop(svc)
    svc = start(launcher, url, clock)
    scan_now(svc)
    assert alerts_sent(svc) == 2
    clock.advance(5 * DAY)
    scan_now(svc)  # T-48 h
    got = eventually(lambda: (lambda w: w if len(w) >= 3 else None)(warnings_of(pnats.url, {order.id})), timeout=30)
    assert [g[1] for g in got] == [14 * 86400, 7 * 86400, 48 * 3600]


class Crash(BaseException):
    """The process dying in the middle of a batch: no ``Exception``, so nothing in the scanner handles it; the
    batch's transaction is rolled back as a dead process's is."""


def system_audits(svc: RunningService, ids: set[str]) -> int:
    """Audit entries the system wrote for these orders (linked into the chain or not yet), counted in ONE
    statement: the chainer moves entries from ``audit_pending`` to ``audit_log`` in a transaction of its own,
    and two counts (two snapshots under PostgreSQL's read committed) could miss or double an entry it moved
    in between (see ``harness.audit_entries``)."""
    tables = svc.rt.tables

    def counted(t: Any) -> Any:
        mine = t.c.user_id == "system", t.c.record_id.in_(ids)
        return select(func.count()).select_from(t).where(*mine).scalar_subquery()

    def count(session: Any) -> int:
        return int(session.scalar(select(counted(tables.audit_log) + counted(tables.audit_pending))) or 0)

    return int(svc.loop.run(svc.rt.read(count)))


def test_a_crash_in_the_middle_of_a_batch_sends_none_of_it_and_the_next_scan_sends_each_once(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    """Six warnings due at once go in one transaction (``AlertScanner`` batch; SQLite bounds it at 10). A crash
    at the fourth emit loses the first three with it (not recorded, no event, no audit entry): none is
    lost, since the next scan sends all six, each once, each with its event and its audit entry."""
    clock = manual_clock()
    svc = start(launcher, fresh_db_url(), clock)
    client = Client(svc, tokens)
    ids = {client.confirmed().id for _ in range(6)}
    scanner = scanner_of(svc)
    assert scanner.batch >= 6
    emit, emitted = scanner._emit, []

    def crashing(uow: Any, alert: Any) -> None:
        emitted.append(alert.key)
        if len(emitted) == 4:
            raise Crash
        emit(uow, alert)

    scanner._emit = crashing
    clock.advance(77 * DAY)  # the 14-day warning of each order is due
    with pytest.raises(Crash):
        svc.loop.run(scanner.scan_once())
    assert len(emitted) == 4
    assert alerts_sent(svc) == 0 and system_audits(svc, ids) == 0

    scanner._emit = emit
    assert svc.loop.run(scanner.scan_once()) == 6
    assert svc.loop.run(scanner.scan_once()) == 0
    assert alerts_sent(svc) == 6 and system_audits(svc, ids) == 6
    got = eventually(lambda: (lambda w: w if len(w) >= 6 else None)(warnings_of(pnats.url, ids)), timeout=30)
    assert sorted(Counter(g[0] for g in got).items()) == sorted((i, 1) for i in ids)
    assert {g[1] for g in got} == {14 * 86400}


def test_an_emitter_failing_on_one_alert_of_a_batch_holds_back_only_that_one(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    """An alert whose emitter fails fails its batch; the batch is then sent one alert per transaction, so
    the other five go out and only the failing one waits (sent at the next scan, once it no longer fails)."""
    clock = manual_clock()
    svc = start(launcher, fresh_db_url(), clock)
    client = Client(svc, tokens)
    ids = {client.confirmed().id for _ in range(6)}
    scanner = scanner_of(svc)
    emit = scanner._emit
    failing: list[str] = []

    def fails_for_one(uow: Any, alert: Any) -> None:
        if not failing or alert.key == failing[0]:
            failing[:1] = [alert.key]
            raise RuntimeError("the emitter failed")
        emit(uow, alert)

    scanner._emit = fails_for_one
    clock.advance(77 * DAY)
    with pytest.raises(RuntimeError):
        svc.loop.run(scanner.scan_once())
    assert alerts_sent(svc) == 5 and system_audits(svc, ids) == 5
    scanner._emit = emit
    assert svc.loop.run(scanner.scan_once()) == 1
    got = eventually(lambda: (lambda w: w if len(w) >= 6 else None)(warnings_of(pnats.url, ids)), timeout=30)
    assert sorted(Counter(g[0] for g in got).values()) == [1] * 6
    assert got[-1][0] == failing[0].split(":")[0]  # the one held back, sent last
