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
