"""A preservation order's user notice through the service, on SQLite and PostgreSQL: recorded at creation,
changed by the issuing side's prosecutor (audited, evented, idempotent, version-checked), shown lapsed from
the end of its non-disclosure order in GetOrder and ListOrders, and warned of before and when it lapses once
each across restarts and replicas (PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES).

Time is a ManualClock the test moves; the scanners are woken and run at each step."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.clock import ManualClock
from services.preservation.store import ALERTS
from tests.harness import RunningService, eventually, field_violations
from tests.integration.preservation.conftest import WS, Client, Launcher, scan_now, stream_envelopes, ts

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
NOTICE_KINDS = (pb.WARNING_KIND_NOTICE_SUPPRESSION_ENDING, pb.WARNING_KIND_NOTICE_SUPPRESSION_LAPSED)


def start(launcher: Launcher, url: str, clock: ManualClock, **kw: Any) -> RunningService:
    # A long interval: only the start-up scan and the test's own wake-ups scan.
    return launcher.start(url, clock=clock, scan_interval_seconds=3600, **kw)


def notice_warnings(url: str, order_id: str) -> list[pb.ExpiryWarning]:
    out = []
    for env in stream_envelopes(url, "JIT_PRESERVATION", "jit.preservation.*.expiry_warning"):
        w = pb.ExpiryWarning()
        if env.aggregate_id == order_id and env.state.Unpack(w) and w.kind in NOTICE_KINDS:
            out.append(w)
    return out


def events_of(url: str, order_id: str, event: str) -> list[pb.PreservationOrder]:
    out = []
    for env in stream_envelopes(url, "JIT_PRESERVATION", f"jit.preservation.*.{event}"):
        o = pb.PreservationOrder()
        if env.aggregate_id == order_id and env.state.Unpack(o):
            out.append(o)
    return out


def notice_alerts(svc: RunningService, order_id: str) -> int:
    def count(session: Any) -> int:
        mine = ALERTS.c.key.like(f"{order_id}:notice:%")
        return int(session.scalar(select(func.count()).select_from(ALERTS).where(mine)) or 0)

    return int(svc.loop.run(svc.rt.read(count)))


def notice_audits(svc: RunningService, order_id: str) -> int:
    """Audit entries of the order's UpdateUserNotice changes (linked into the chain or pending), one statement."""
    tables = svc.rt.tables

    def counted(t: Any) -> Any:
        mine = t.c.record_id == order_id, t.c.operation.like("%UpdateUserNotice"), t.c.outcome == "ok"
        return select(func.count()).select_from(t).where(*mine).scalar_subquery()

    def count(session: Any) -> int:
        return int(session.scalar(select(counted(tables.audit_log) + counted(tables.audit_pending))) or 0)

    return int(svc.loop.run(svc.rt.read(count)))


def listed(client: Client, order_id: str) -> pb.PreservationOrder:
    page = client.call("nl-prosecutor", "ListOrders", pb.ListOrdersRequest(workspace_id=WS, page_size=200))
    (found,) = [o for o in page.orders if o.id == order_id]
    return found


def refused(client: Client, user: str, method: str, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        client.call(user, method, request)
    return info.value


def test_a_suppressed_notice_is_recorded_renewed_by_the_prosecutor_and_warned_of_once_before_and_when_it_lapses(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: a new order records its notice suppressed until a date (a
    date in the past is refused naming the field, and nothing is written); the issuing side's prosecutor (not
    its police liaison) renews it, version-checked, once however often it is retried; the warnings 48 h and
    8 h before its end and at its end are published once each although two replicas on one database scan
    and one restarts; from its end GetOrder and ListOrders show it lapsed, derived when read."""
    url, clock, group = (
        fresh_db_url(),
        ManualClock(datetime.now(UTC).replace(microsecond=0)),
        f"p-{uuid.uuid4().hex[:8]}",
    )
    svc = start(launcher, url, clock, group=group)
    client = Client(svc, tokens)
    t0 = clock.now()

    past = refused(client, "nl-prosecutor", "CreateOrder", pb.CreateOrderRequest(
        request_id=str(uuid.uuid4()), workspace_id=WS, legal_basis=pb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
        provider_id="socialnet-ie", targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_URL, value="https://a.example/1")],
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER], user_notice_status=pb.USER_NOTICE_STATUS_SUPPRESSED,
        user_notice_suppressed_until=ts(t0 - HOUR),
    ))  # fmt: skip
    assert past.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "user_notice_suppressed_until" in field_violations(past)
    page = client.call("nl-prosecutor", "ListOrders", pb.ListOrdersRequest(workspace_id=WS))
    assert list(page.orders) == []  # nothing written

    until = t0 + 3 * 24 * HOUR
    order = client.create(
        "nl-prosecutor",
        user_notice_status=pb.USER_NOTICE_STATUS_SUPPRESSED,
        user_notice_suppressed_until=ts(until),
    )
    assert order.user_notice_status == pb.USER_NOTICE_STATUS_SUPPRESSED and order.user_notice_suppressed_until == ts(
        until
    )
    assert "update_user_notice" in order.allowed_actions
    assert client.create().user_notice_status == pb.USER_NOTICE_STATUS_PENDING  # the provider's default
    order = client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=order.id)).order
    assert "update_user_notice" not in order.allowed_actions  # the liaison's view

    # The issuing side's prosecutor alone changes it, at the version they saw.
    renewal = pb.UpdateUserNoticeRequest(
        id=order.id, expected_version=order.version, status=pb.USER_NOTICE_STATUS_SUPPRESSED
    )
    until = t0 + 4 * 24 * HOUR
    renewal.suppressed_until.CopyFrom(ts(until))
    assert refused(client, "nl-liaison", "UpdateUserNotice", renewal).code() == grpc.StatusCode.PERMISSION_DENIED
    stale = pb.UpdateUserNoticeRequest()
    stale.CopyFrom(renewal)
    stale.expected_version = order.version - 1
    assert refused(client, "nl-prosecutor", "UpdateUserNotice", stale).code() == grpc.StatusCode.ABORTED
    renewed = client.call("nl-prosecutor", "UpdateUserNotice", renewal).order
    assert (renewed.version, renewed.user_notice_suppressed_until) == (order.version + 1, ts(until))
    assert renewed.state == pb.PRESERVATION_ORDER_STATE_ISSUED
    again = client.call("nl-prosecutor", "UpdateUserNotice", renewal).order  # a retry, at the version it named
    assert again.version == renewed.version
    updated = eventually(lambda: events_of(pnats.url, order.id, "user_notice_updated") or None, timeout=30)
    assert len(updated) == 1 and updated[0].user_notice_suppressed_until == ts(until)
    assert notice_audits(svc, order.id) == 1  # the change audited once, the retry wrote nothing

    clock.advance(until - clock.now() - 47 * HOUR)  # within the last 48 hours: one warning
    scan_now(svc)
    scan_now(svc)
    eventually(lambda: len(notice_warnings(pnats.url, order.id)) == 1 or None, timeout=30)
    replica = start(launcher, url, clock, group=group)
    scan_now(replica)
    launcher.stop(svc)  # a restart: the other replica scans, then the first again
    clock.advance(48 * HOUR)  # past the end: the 8 h warning and the lapse
    scan_now(replica)
    svc = start(launcher, url, clock, group=group)
    client = Client(svc, tokens)
    for running in (svc, replica, svc):
        scan_now(running)
    got = eventually(lambda: (lambda w: w if len(w) >= 3 else None)(notice_warnings(pnats.url, order.id)), timeout=30)
    assert [(w.kind, w.offset_seconds, w.first) for w in got] == [
        (pb.WARNING_KIND_NOTICE_SUPPRESSION_ENDING, 48 * 3600, False),
        (pb.WARNING_KIND_NOTICE_SUPPRESSION_ENDING, 8 * 3600, False),
        (pb.WARNING_KIND_NOTICE_SUPPRESSION_LAPSED, 0, False),
    ]
    assert [w.due_at.ToDatetime(tzinfo=UTC) for w in got] == [until - 48 * HOUR, until - 8 * HOUR, until]
    assert all(w.expires_at == ts(until) for w in got)
    assert not got[0].order.user_notice_suppression_lapsed and got[2].order.user_notice_suppression_lapsed
    assert "renew it" in got[0].reason and "ended at" in got[2].reason
    assert notice_alerts(svc, order.id) == 3

    shown = client.call("nl-prosecutor", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert shown.user_notice_suppression_lapsed and shown.version == renewed.version  # derived, not written
    assert shown.state == pb.PRESERVATION_ORDER_STATE_ISSUED  # the preservation itself runs on
    assert listed(client, order.id).user_notice_suppression_lapsed
    launcher.stop(replica)


def test_a_notice_sent_is_no_longer_lapsed_and_warns_of_nothing(
    launcher: Launcher, fresh_db_url: Callable[[], str], tokens: Any, pnats: Any
) -> None:
    """Recording the notice sent (or any status but SUPPRESSED) ends the suppression's warnings: none is
    published after it, and the order no longer shows it lapsed."""
    url, clock = fresh_db_url(), ManualClock(datetime.now(UTC).replace(microsecond=0))
    svc = start(launcher, url, clock)
    client = Client(svc, tokens)
    until = clock.now() + 24 * HOUR
    order = client.create(
        "nl-prosecutor", user_notice_status=pb.USER_NOTICE_STATUS_SUPPRESSED, user_notice_suppressed_until=ts(until)
    )
    client.call("nl-prosecutor", "IssueOrder", pb.IssueOrderRequest(id=order.id))
    sent = client.call(
        "nl-prosecutor", "UpdateUserNotice", pb.UpdateUserNoticeRequest(id=order.id, status=pb.USER_NOTICE_STATUS_SENT)
    ).order
    assert sent.user_notice_status == pb.USER_NOTICE_STATUS_SENT and not sent.HasField("user_notice_suppressed_until")
    clock.advance(2 * 24 * HOUR)
    scan_now(svc)
    scan_now(svc)
    assert notice_alerts(svc, order.id) == 0 and notice_warnings(pnats.url, order.id) == []
    assert not client.call(
        "nl-prosecutor", "GetOrder", pb.GetOrderRequest(id=order.id)
    ).order.user_notice_suppression_lapsed
