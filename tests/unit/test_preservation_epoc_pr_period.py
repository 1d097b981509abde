"""An EPOC-PR's 60 days (90 once extended) counted as EU law counts periods in the provider's establishment
(EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS; ``jitlib.periods.period_end``), and the start's recount of the
expiries stored with the former count, receipt + 60 x 24 h in UTC (``services.preservation.recount``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from jit.preservation.v1 import preservation_pb2 as pb
from jitlib import crypto, db, sealing, server
from jitlib.actors import Actor
from jitlib.clock import as_utc, as_utc_or_none
from jitlib.config import CommonSettings
from jitlib.errors import FailedPrecondition
from jitlib.periods import period_end
from services.preservation import app, domain, events, providers, recount, store
from services.preservation.domain import LegalBasis, NewOrder, OrderState, Rules, Target, TransitionInput

NL = Actor("u-nl", "nl-liaison", "NL")
RULES = Rules(providers=providers.load())
D, H = timedelta(days=1), timedelta(hours=1)
REQUEST = "01935c4e-0000-7000-8000-0000000000aa"

#: Tuesday 8 September 2026, 09:00 UTC: socialnet-ie (established in IE) receives the order. Counted before
#: as 60 x 24 h, it expired on Saturday 7 November at 09:00 UTC; counted as EU law counts periods, the 60th
#: day is that Saturday, so the period ends with the next working day in Ireland, Monday 9 November: at
#: midnight in Dublin (GMT then), 00:00 UTC on Tuesday 10 November.
RECEIVED = datetime(2026, 9, 8, 9, 0, tzinfo=UTC)
OLD_EXPIRY = datetime(2026, 11, 7, 9, 0, tzinfo=UTC)
NEW_EXPIRY = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)


def new_order(
    basis: LegalBasis = LegalBasis.EPOC_PR, provider: str = "socialnet-ie", order_id: str = "", at: datetime = RECEIVED
) -> domain.Order:
    cmd = NewOrder(
        request_id=order_id or "0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=basis.value,
        provider_id=provider,
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER",),
        description="",
        restricted=True,
    )
    return domain.create(cmd, order_id=order_id or "01935c4e-0000-7000-8000-000000000001", actor=NL, now=at)


def step(
    order: domain.Order, action: str, now: datetime, rule: domain.ClockRule | None = None, **kw: object
) -> domain.Order:
    data = TransitionInput(**kw)  # type: ignore[arg-type]
    return domain.apply(order, action, data, actor=NL, now=now, rule=rule or RULES.clock_for(order))


def issued(
    basis: LegalBasis = LegalBasis.EPOC_PR, provider: str = "socialnet-ie", received: datetime = RECEIVED
) -> domain.Order:
    """Issued an hour before ``received``, received then (stated at issue, an hour after)."""
    return step(new_order(basis, provider), "issue", received + H, issued_at=received - H, received_at=received)


# ---- the count --------------------------------------------------------------------------------------


def test_epoc_pr_period_counted_as_eu_law_counts_ends_with_the_next_working_day_in_the_provider_s_state() -> None:
    """EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS (Reg. 1182/71 Art. 3(1), 3(2)(c), 3(4); Reg. (EU) 2023/1543
    Art. 11(1)): received on Tuesday 8 September 2026 by a provider in Ireland, the 60th day is Saturday 7
    November; the order runs until the end of Monday 9 November in Dublin, and so may be extended until
    then. A production request issued that Monday at 10:00 UTC is in time (it was refused
    PRESERVATION_EXPIRED when the 60 days were 60 x 24 h); at midnight in Dublin it is too late."""
    order = issued()
    assert (order.received_at, order.expires_at, order.extension_deadline) == (RECEIVED, NEW_EXPIRY, NEW_EXPIRY)
    assert order.clock_started_at == RECEIVED
    monday = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
    requested = step(order, "request_production", monday, follow_up_request_id=REQUEST)
    assert requested.state is OrderState.PRODUCTION_REQUESTED
    assert requested.clock_remaining_seconds == int((NEW_EXPIRY - monday).total_seconds())
    assert "extend" in domain.allowed_actions(order, _liaison(), RULES.clock_for(order), monday)
    with pytest.raises(FailedPrecondition) as info:
        step(order, "request_production", NEW_EXPIRY, follow_up_request_id=REQUEST)
    assert info.value.reason == "PRESERVATION_EXPIRED" and NEW_EXPIRY.isoformat() in str(info.value)


@pytest.mark.parametrize(
    ("received", "provider", "expires", "why"),
    [
        # The 60th day is Christmas Day (Friday), then St Stephen's Day and a Sunday: to the end of Monday 28.
        (
            datetime(2026, 10, 26, 10, 0, tzinfo=UTC),
            "socialnet-ie",
            datetime(2026, 12, 29, 0, 0, tzinfo=UTC),
            "25-26 Dec",
        ),
        # The 60th day is St Patrick's Day (Wednesday 17 March 2027): to the end of Thursday 18 March.
        (datetime(2027, 1, 16, 10, 0, tzinfo=UTC), "socialnet-ie", datetime(2027, 3, 19, 0, 0, tzinfo=UTC), "17 Mar"),
        # A working day in Ireland: the end of that day in Dublin (23:00 UTC in summer time).
        (datetime(2026, 8, 20, 9, 0, tzinfo=UTC), "socialnet-ie", datetime(2026, 10, 19, 23, 0, tzinfo=UTC), "Monday"),
        # The provider of the first row established in the Netherlands: the days are Amsterdam's (CET).
        (datetime(2026, 9, 8, 9, 0, tzinfo=UTC), "chatapp-nl", datetime(2026, 11, 9, 23, 0, tzinfo=UTC), "NL days"),
    ],
)
def test_epoc_pr_period_counted_as_eu_law_counts_past_public_holidays_of_the_provider_s_establishment(
    received: datetime, provider: str, expires: datetime, why: str
) -> None:
    """EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS: a last day that is a public holiday (or a weekend) of the
    provider's establishment moves to the end of the next working day there, in its local time."""
    order = issued(provider=provider, received=received)
    assert order.expires_at == expires, why
    assert RULES.clock_for(order).counted_in == providers.load()[provider].establishment_jurisdiction


def test_epoc_pr_period_counted_as_eu_law_counts_with_its_extension_from_receipt() -> None:
    """EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS with Art. 11(1)'s extension: asked on Monday 9 November (after
    the former count's Saturday 09:00, within the 60 days as counted now), the 90 days from receipt end with
    Monday 7 December in Dublin; a stated receipt on confirmation counts them from it."""
    order = step(issued(), "confirm", RECEIVED + 2 * D)
    extended = step(order, "extend", datetime(2026, 11, 9, 20, 0, tzinfo=UTC))
    assert extended.state is OrderState.EXTENDED and extended.extension_count == 1
    assert extended.expires_at == datetime(2026, 12, 8, 0, 0, tzinfo=UTC) == period_end(RECEIVED, 90 * D, "IE")
    assert extended.extension_deadline is None
    stated = step(issued(), "confirm", RECEIVED + 3 * D, received_at=RECEIVED + D, confirmed_at=RECEIVED + 2 * D)
    # Received Wednesday 9 September: the 60th day is Sunday 8 November, so the end of Monday 9 November.
    assert stated.expires_at == NEW_EXPIRY and stated.extension_deadline == NEW_EXPIRY


@pytest.mark.parametrize(
    ("basis", "days", "start"),
    [
        (LegalBasis.BUDAPEST_ART29, 60, "receipt"),
        (LegalBasis.NATIONAL, 90, "receipt"),
        (LegalBasis.PROVIDER_VOLUNTARY, 90, "confirmation"),
    ],
)
def test_the_other_bases_add_their_period_as_24_hour_days(basis: LegalBasis, days: int, start: str) -> None:
    """BUDAPEST_ART29_CLOCK_FROM_RECEIPT, NATIONAL_CLOCK_FROM_RECEIPT, PROVIDER_VOLUNTARY_CLOCK_FROM_PROCESSING:
    not periods of an EU instrument, their days are added as N x 24 h (EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS
    is the EPOC-PR's alone)."""
    order = step(issued(basis), "confirm", RECEIVED + 2 * D, confirmed_at=RECEIVED + D)
    anchor = RECEIVED if start == "receipt" else RECEIVED + D
    assert order.expires_at == anchor + days * D
    assert RULES.clock_for(order).counted_in is None


def _liaison() -> domain.Principal:
    return domain.Principal("u-nl", "nl-liaison", "NL", frozenset({"police_liaison"}), frozenset({"jit-demo"}))


# ---- the start's recount (services.preservation.recount) --------------------------------------------

OFFSETS = RULES.offsets  # 14 d, 7 d, 48 h
#: The former count of every basis: the period added to its start as N x 24 h.
FORMER = {b: replace(RULES.clock_for(issued(b)), counted_in=None) for b in LegalBasis}
#: The recount's start: the old expiry's 14-day warning went out (24 October), its 7-day one is next (31
#: October, 09:00); the new expiry's 14-day moment (27 October, 00:00) has passed, its 7-day one is 3 November.
NOW = datetime(2026, 10, 28, 10, 0, tzinfo=UTC)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}  # the service's content keys, as the bootstrap installs them
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    with Session(engine, info=info) as s, s.begin():
        yield s
    engine.dispose()


def _stored_before(
    session: Session, order_id: str, basis: LegalBasis = LegalBasis.EPOC_PR, *, replica: bool = False
) -> domain.Order:
    """An order issued (received at RECEIVED) and confirmed as the code before count 2 stored it: its expiry
    start + N x 24 h, its warnings moved on by the scanner until NOW, its list answer written."""
    fresh = new_order(basis, order_id=order_id)
    order = step(fresh, "issue", RECEIVED, rule=FORMER[basis])
    order = step(order, "confirm", RECEIVED + D, rule=FORMER[basis])
    if replica:
        order = replace(order, replicated_at=RECEIVED + D)
        store.ORDERS.write_replica(session, order, False)
        return order
    store.ORDERS.insert(session, order, request_id=order_id, request_digest="")
    store.set_next_alert(session, order.id, domain.next_alert_at(order, OFFSETS, after=NOW))
    return order


def _clock(session: Session, order_id: str) -> tuple[datetime | None, ...]:
    """The order's stored (expires_at, extension_deadline, clock_started_at, next_alert_at)."""
    r = session.get(store.OrderRow, order_id)
    assert r is not None
    session.refresh(r)
    times = (r.expires_at, r.extension_deadline, r.clock_started_at, r.next_alert_at)
    return tuple(as_utc_or_none(t) for t in times)


def _recount(session: Session, now: datetime = NOW) -> int:
    """The start's recount, its batches in the test's transaction (two orders a batch)."""
    return recount.recount(lambda fn: fn(session), RULES, now, batch=2)


def _due(session: Session, now: datetime) -> list[str]:
    """The warnings the scan finds due at ``now``: their alert keys."""
    return [key for key, _, _ in events.scan(RULES, 100)(session, now)]


def test_an_epoc_pr_stored_with_the_former_count_is_recounted_once_at_start(session: Session) -> None:
    """EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS for the orders stored before: a running EPOC-PR whose expiry is
    receipt + 60 x 24 h moves, at the service's start, to the end of Monday 9 November in Dublin, with its
    extension deadline; its warnings are planned as an extension plans them (a new series from now: the 7
    days before the new expiry next, none of the old expiry's sent); its list answer is emptied (for the
    background job to write it again, then with the new expiry); the order is not changed (same version, no
    event) and the system's audit entry names it. A national order, an order counted already, a clock resumed
    with the time that was left, are untouched; a replica moves without a warning. The count is recorded:
    the next start moves nothing."""
    old = _stored_before(session, "01935c4e-0000-7000-8000-0000000000b1")
    national = _stored_before(session, "01935c4e-0000-7000-8000-0000000000b2", LegalBasis.NATIONAL)
    counted = step(new_order(order_id="01935c4e-0000-7000-8000-0000000000b3"), "issue", RECEIVED)
    store.ORDERS.insert(session, counted, request_id=counted.id, request_digest="")
    resumed_expiry = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    resumed = replace(
        new_order(order_id="01935c4e-0000-7000-8000-0000000000b4"),
        state=OrderState.CONFIRMED,
        issued_at=RECEIVED,
        received_at=RECEIVED,
        confirmed_at=RECEIVED,
        clock_started_at=NOW - D,
        expires_at=resumed_expiry,
        extension_deadline=resumed_expiry,
    )
    store.ORDERS.insert(session, resumed, request_id=resumed.id, request_digest="")
    replica = _stored_before(session, "01935c4e-0000-7000-8000-0000000000b5", replica=True)
    assert _clock(session, old.id) == (OLD_EXPIRY, OLD_EXPIRY, RECEIVED, OLD_EXPIRY - 7 * D)
    untouched = {o.id: _clock(session, o.id) for o in (national, counted, resumed)}
    t = store.OrderRow.__table__
    assert None not in session.execute(select(t.c.answer).where(t.c.id == old.id)).scalars().all()

    assert _recount(session) == 2

    assert _clock(session, old.id) == (NEW_EXPIRY, NEW_EXPIRY, NOW, NEW_EXPIRY - 7 * D)
    assert _clock(session, replica.id) == (NEW_EXPIRY, NEW_EXPIRY, NOW, None)
    assert {o.id: _clock(session, o.id) for o in (national, counted, resumed)} == untouched
    after = store.get(session, old.id)
    assert after is not None and (after.version, after.updated_at) == (old.version, old.updated_at)
    answers = dict(session.execute(select(t.c.id, t.c.answer)).all())
    assert answers[old.id] is None and answers[replica.id] is None and answers[national.id] is not None
    store.ANSWERS.backfill(session)
    rows = session.execute(select(t.c.id, t.c.version, t.c.workspace_id, t.c.answer).where(t.c.id == old.id)).all()
    opened = store.ANSWERS.opened(session, rows, id=0, version=1, workspace=2, answer=3)[0]
    assert (
        opened is not None and pb.PreservationOrder.FromString(opened).expires_at.ToDatetime(tzinfo=UTC) == NEW_EXPIRY
    )
    pending = store.RUNTIME.audit_pending
    audited = session.execute(select(pending.c.record_id, pending.c.operation).order_by(pending.c.record_id)).all()
    assert audited == [(old.id, recount.RECOUNTED), (replica.id, recount.RECOUNTED)]
    assert session.scalars(select(store.RUNTIME.outbox.c.id)).all() == []
    # The old expiry's 7-day warning is not sent; the new one's is, once, under its own key.
    assert _due(session, datetime(2026, 10, 31, 9, 0, tzinfo=UTC)) == []
    assert _due(session, NEW_EXPIRY - 7 * D) == [f"{old.id}:warn:604800:{NEW_EXPIRY.isoformat()}"]

    # Once: an expiry stored the former way after the recount (as a node not upgraded would) stays.
    session.execute(update(store.OrderRow).where(store.OrderRow.id == old.id).values(expires_at=OLD_EXPIRY))
    assert _recount(session, NOW + D) == 0
    assert _clock(session, old.id)[0] == OLD_EXPIRY


def test_an_epoc_pr_stored_before_receipt_clocks_is_recounted_from_its_confirmation(session: Session) -> None:
    """EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS for an order stored before receipt clocks (revision 0004): its
    expiry was counted from its confirmation and stays counted from there, as EU law counts its days."""
    order = _stored_before(session, "01935c4e-0000-7000-8000-0000000000b6")
    confirmed = RECEIVED + 2 * D
    session.execute(
        update(store.OrderRow)
        .where(store.OrderRow.id == order.id)
        .values(confirmed_at=confirmed, expires_at=confirmed + 60 * D)
    )
    assert _recount(session) == 1
    # Confirmed Thursday 10 September: the 60th day is Monday 9 November, a working day in Ireland.
    assert _clock(session, order.id)[0] == NEW_EXPIRY == period_end(confirmed, 60 * D, "IE")


def test_the_service_recounts_the_stored_clocks_before_it_serves(tmp_path: Path) -> None:
    """What a start does before serving (``jitlib.server.prepare``, as the supervisor of several copies runs
    it; a sole process the same in ``ServiceApp.start``): the migrations (revision 0019's count table), then
    the recount of the expiries a database of an older version stored."""
    common = CommonSettings(state_dir=tmp_path)
    settings = app.PreservationSettings(database_url=f"sqlite:///{tmp_path / 'preservation.db'}")
    url = settings.resolved_database_url(common, "preservation")
    db.migrate(app.MIGRATIONS, url)
    database = db.Database(url)
    sealing.install(database.info, store.Base.metadata, settings.kek_ring(common, "preservation"))
    order_id = database.write_sync(lambda s: _stored_before(s, "01935c4e-0000-7000-8000-0000000000b7").id)

    server.prepare(app.spec(settings), settings, common)

    stored = database.write_sync(lambda s: s.get(store.OrderRow, order_id).expires_at)  # type: ignore[union-attr]
    assert as_utc(stored) == NEW_EXPIRY
    assert database.write_sync(lambda s: store.recounted(s, domain.COUNTING))
    database.dispose()
