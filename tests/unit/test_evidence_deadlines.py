"""Legal deadlines per instrument: one table row per rule, each naming its legal source."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from jitlib import crypto, db, sealing, server
from jitlib.actors import Actor
from jitlib.clock import as_utc
from jitlib.config import CommonSettings
from jitlib.durations import compact, parse_list
from services.evidence import app, deadline_alerts, domain, recount, store
from services.evidence.deadlines import (
    Clocks,
    Deadline,
    DeadlineKind,
    alert_times,
    compute,
    period_end,
    window_end,
)
from services.evidence.mapping import answered, micros

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday, 10:30 in Berlin (CET)
DECIDED = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)  # a Friday
D, H = timedelta(days=1), timedelta(hours=1)
#: The addressee of the table's requests: its local days (Europe/Berlin) and public holidays count the periods.
WHERE = "DE"

# (instrument, procedure, state, kind, expected due, source fragment, legal source of the row). Counted as
# Reg. 1182/71 Art. 3 counts: a period in days from the day after receipt to the end of its last day in
# Berlin (the instant given is the next midnight there, in UTC); one in hours from the next full hour.
ROWS = [
    (
        "EPOC",
        "STANDARD",
        "ISSUED",
        DeadlineKind.PRODUCE,
        datetime(2026, 3, 12, 23, 0, tzinfo=UTC),  # the end of Thursday 12 March in Berlin
        "2023/1543 Art. 10(3)",
        "Reg. (EU) 2023/1543 Art. 10(3): data within 10 days of receipt",
    ),
    (
        "EPOC",
        "WITH_NOTIFICATION",
        "UNDER_REVIEW",
        DeadlineKind.REVIEW,
        datetime(2026, 3, 12, 23, 0, tzinfo=UTC),
        "Art. 10(2), 8",
        "Reg. (EU) 2023/1543 Art. 8, 10(2): enforcing authority has 10 days to raise grounds",
    ),
    (
        "EPOC",
        "WITH_NOTIFICATION",
        "ACKNOWLEDGED",
        DeadlineKind.PRODUCE,
        datetime(2026, 3, 12, 23, 0, tzinfo=UTC),
        "Art. 10(2)",
        "Reg. (EU) 2023/1543 Art. 10(2): data at the end of the 10-day window at the latest",
    ),
    (
        "EPOC",
        "EMERGENCY",
        "ISSUED",
        DeadlineKind.PRODUCE,
        datetime(2026, 3, 2, 18, 0, tzinfo=UTC),  # 8 hours from 10:00 UTC, the hour after receipt
        "Art. 10(4)",
        "Reg. (EU) 2023/1543 Art. 10(4): emergency, data within 8 hours",
    ),
    (
        "EPOC",
        "EMERGENCY_WITH_NOTIFICATION",
        "ISSUED",
        DeadlineKind.OBJECTION,
        datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
        "12(1)",
        "Reg. (EU) 2023/1543 Art. 10(4), 12(1): enforcing authority may object within 96 hours",
    ),
    (
        "EPOC",
        "EMERGENCY_WITH_NOTIFICATION",
        "EXECUTED",
        DeadlineKind.OBJECTION,
        datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
        "12(1)",
        "Reg. (EU) 2023/1543 Art. 12(1): the objection window runs after the data was sent too",
    ),
    (
        "EIO",
        "",
        "ISSUED",
        DeadlineKind.ACKNOWLEDGE,
        datetime(2026, 3, 9, 23, 0, tzinfo=UTC),  # the end of Monday 9 March
        "2014/41/EU Art. 16(1)",
        "Directive 2014/41/EU Art. 16(1): acknowledge receipt within a week",
    ),
    (
        "EIO",
        "",
        "ACKNOWLEDGED",
        DeadlineKind.DECIDE,
        datetime(2026, 4, 1, 22, 0, tzinfo=UTC),  # the end of Wednesday 1 April (CEST from 29 March)
        "Art. 12(3)",
        "Directive 2014/41/EU Art. 12(3): recognition decision within 30 days of receipt",
    ),
    (
        "EIO",
        "",
        "IN_EXECUTION",
        DeadlineKind.EXECUTE,
        datetime(2026, 6, 18, 22, 0, tzinfo=UTC),  # the end of Thursday 18 June
        "Art. 12(4)",
        "Directive 2014/41/EU Art. 12(4): execution within 90 days of the decision",
    ),
    (
        "SAP_ART7",
        "",
        "ISSUED",
        DeadlineKind.PRODUCE,
        datetime(2026, 4, 1, 22, 0, tzinfo=UTC),
        "UNVERIFIED",
        "CETS 224 Art. 7: 30 days, UNVERIFIED in DOMAIN.md",
    ),
]


@pytest.mark.parametrize(
    ("basis", "procedure", "state", "kind", "due", "source", "law"), ROWS, ids=[r[6] for r in ROWS]
)
def test_deadline_follows_the_instrument(
    basis: str, procedure: str, state: str, kind: DeadlineKind, due: datetime, source: str, law: str
) -> None:
    found = {d.kind: d for d in compute(Clocks(basis, procedure, state, RECEIVED, DECIDED, jurisdiction=WHERE))}
    assert kind in found, law
    assert found[kind].due_at == due, law
    assert source in found[kind].source
    assert not found[kind].working_days  # none of these instruments counts working days


def test_eio_decision_extension_adds_30_days() -> None:
    """EIO_DECISION_EXTENSION, Directive 2014/41/EU Art. 12(5): the 30 days may be extended once by 30 days."""
    extended = Clocks("EIO", "", "ACKNOWLEDGED", RECEIVED, None, decision_extended=True, jurisdiction=WHERE)
    found = {d.kind: d for d in compute(extended)}
    # 60 days from 2 March: Friday 1 May, Labour Day in Germany, then the weekend: the end of Monday 4 May.
    assert found[DeadlineKind.DECIDE].due_at == datetime(2026, 5, 4, 22, 0, tzinfo=UTC)
    assert "12(5)" in found[DeadlineKind.DECIDE].source


@pytest.mark.parametrize("basis", ["MLA", "VOLUNTARY", "JIT_DIRECT"])
def test_instruments_without_a_legal_deadline_carry_none(basis: str) -> None:
    assert compute(Clocks(basis, "", "ISSUED", RECEIVED, None)) == ()


@pytest.mark.parametrize("state", ["DRAFT", "CLOSED", "REFUSED", "NOT_EXECUTED", "WITHDRAWN", "POSTPONED"])
def test_no_deadline_runs_in_a_draft_or_finished_request(state: str) -> None:
    assert compute(Clocks("EPOC", "STANDARD", state, RECEIVED, None)) == ()


def test_deadlines_are_recomputed_from_the_state() -> None:
    issued = {d.kind for d in compute(Clocks("EIO", "", "ISSUED", RECEIVED, None))}
    executing = {d.kind for d in compute(Clocks("EIO", "", "IN_EXECUTION", RECEIVED, DECIDED))}
    assert issued == {DeadlineKind.ACKNOWLEDGE, DeadlineKind.DECIDE}
    assert executing == {DeadlineKind.EXECUTE}


def test_a_period_in_working_days_skips_weekends_and_the_addressee_s_public_holidays() -> None:
    """Reg. 1182/71 Art. 3(3), 2(2): 5 working days from Wednesday 1 April 2026 in Germany count neither
    Good Friday, the weekend nor Easter Monday (public holidays there): Thursday 2, Tuesday 7 to Friday 10
    April, ending with Friday 10 April in Berlin (CEST). One working day from a Friday ends with the Monday."""
    wednesday = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
    assert period_end(wednesday, 5 * D, WHERE, working_days=True) == datetime(2026, 4, 10, 22, 0, tzinfo=UTC)
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    assert period_end(friday, D, WHERE, working_days=True) == datetime(2026, 3, 9, 23, 0, tzinfo=UTC)


def test_alerts_before_a_long_deadline_use_the_long_offsets() -> None:
    (d,) = compute(Clocks("EPOC", "STANDARD", "ISSUED", RECEIVED, None))
    times = alert_times(d, parse_list("48h,8h"), parse_list("2h"))
    assert [(label, compact(off)) for label, off, _ in times] == [
        ("approaching", "2d"),
        ("approaching", "8h"),
        ("passed", "0s"),
    ]
    assert times[0][2] == d.due_at - 48 * H


def test_an_eight_hour_emergency_warns_two_hours_before() -> None:
    (d,) = compute(Clocks("EPOC", "EMERGENCY", "ISSUED", RECEIVED, None))
    times = alert_times(d, parse_list("48h,8h"), parse_list("2h,12h"))
    # 12 h before would fall before the request was received: dropped.
    assert [(label, at) for label, _, at in times] == [("approaching", d.due_at - 2 * H), ("passed", d.due_at)]


def test_eio_postponement_suspends_the_clock_that_ran() -> None:
    """EIO_POSTPONEMENT (Directive 2014/41/EU Art. 15): the decision and execution deadlines run later by the
    time a postponement held them back, and say so; the others do not move."""
    held = Clocks(
        "EIO",
        "",
        "ACKNOWLEDGED",
        RECEIVED,
        None,
        decision_extended=True,
        decision_suspended=5 * D,
        execution_suspended=7 * D,
        jurisdiction=WHERE,
    )
    (decide,) = compute(held)
    # Counted as if received 5 days later (Saturday 7 March): 60 days end with Wednesday 6 May (CEST).
    assert decide.due_at == datetime(2026, 5, 6, 22, 0, tzinfo=UTC) and decide.counted_from == RECEIVED
    assert "extended under" in decide.source and "suspended 5d while postponed" in decide.source
    assert "Art. 15" in decide.source
    executing = Clocks(
        "EIO",
        "",
        "IN_EXECUTION",
        RECEIVED,
        DECIDED,
        decision_suspended=5 * D,
        execution_suspended=7 * D,
        jurisdiction=WHERE,
    )
    (execute,) = compute(executing)
    # 90 days from Friday 27 March (decided on 20 March, 7 days held): the end of Thursday 25 June.
    assert execute.due_at == datetime(2026, 6, 25, 22, 0, tzinfo=UTC) and "suspended 7d" in execute.source
    plain = compute(Clocks("EIO", "", "ACKNOWLEDGED", RECEIVED, None, jurisdiction=WHERE))
    assert plain[0].due_at == datetime(2026, 4, 1, 22, 0, tzinfo=UTC)


def test_epoc_emergency_objection_window_runs_after_closing() -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 10(4), 12(1)): the 96 hours to object run on after
    the request was executed and closed; not once it is refused."""
    closed = compute(Clocks("EPOC", "EMERGENCY_WITH_NOTIFICATION", "CLOSED", RECEIVED, DECIDED))
    # 96 hours from 10:00 UTC, the full hour after receipt (Reg. 1182/71 Art. 3(1), 3(2)(a)).
    assert [(d.kind, d.due_at) for d in closed] == [(DeadlineKind.OBJECTION, datetime(2026, 3, 6, 10, 0, tzinfo=UTC))]
    assert compute(Clocks("EPOC", "EMERGENCY_WITH_NOTIFICATION", "REFUSED", RECEIVED, DECIDED)) == ()


# -- how a period is counted: Reg. (EEC, Euratom) No 1182/71 Art. 3, in the addressee's local time ------


def test_a_period_in_days_ending_on_a_saturday_runs_to_the_end_of_the_next_working_day() -> None:
    """REQUEST_PERIODS_COUNTED_AS_EU_LAW_COUNTS. EPOC with notification to a provider in Ireland, received on
    Wednesday 9 September 2026 at 15:00 UTC (16:00 in Dublin): the day of receipt is not counted (Art. 3(1)),
    so the 10th day is Saturday 19 September, which moves to Monday 21 (Art. 3(4)); the window ends at the
    end of that day in Dublin."""
    received = datetime(2026, 9, 9, 15, 0, tzinfo=UTC)
    clocks = Clocks("EPOC", "WITH_NOTIFICATION", "ACKNOWLEDGED", received, None, jurisdiction="IE")
    end = datetime(2026, 9, 21, 23, 0, tzinfo=UTC)  # Tuesday 22 September, 00:00 Irish Summer Time
    assert window_end(clocks, DeadlineKind.REVIEW) == end
    assert {d.kind: d.due_at for d in compute(clocks)} == {DeadlineKind.REVIEW: end, DeadlineKind.PRODUCE: end}


def test_a_last_day_on_a_public_holiday_of_the_addressee_moves_past_it() -> None:
    """REQUEST_PERIODS_COUNTED_AS_EU_LAW_COUNTS (Reg. 1182/71 Art. 3(4)): received by Germany on 4 March 2026,
    the EIO's 30th day is Good Friday (3 April); Saturday, Sunday and Easter Monday follow: the decision is
    due by the end of Tuesday 7 April in Berlin. Addressed to a jurisdiction whose public holidays are
    unknown (an EU body), only a weekend would move it."""
    received = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    (decide,) = compute(Clocks("EIO", "", "ACKNOWLEDGED", received, None, jurisdiction="DE"))
    assert decide.due_at == datetime(2026, 4, 7, 22, 0, tzinfo=UTC)
    (unknown,) = compute(Clocks("EIO", "", "ACKNOWLEDGED", received, None, jurisdiction="EUROJUST"))
    assert unknown.due_at == datetime(2026, 4, 3, 22, 0, tzinfo=UTC)  # the end of Friday 3 April, The Hague


def test_a_period_in_days_ends_at_the_end_of_the_local_day_across_a_change_of_clocks() -> None:
    """REQUEST_PERIODS_COUNTED_AS_EU_LAW_COUNTS, Directive 2014/41 Art. 12(3), 30 days: received in the
    Netherlands on Saturday 20 March 2027 at 10:00 (CET); the clocks go forward on 28 March. The 30th day is
    Monday 19 April, and the period ends at its end in Amsterdam (CEST), not 720 hours after receipt (11:00
    that day)."""
    amsterdam = ZoneInfo("Europe/Amsterdam")
    received = datetime(2027, 3, 20, 10, 0, tzinfo=amsterdam).astimezone(UTC)
    (decide,) = compute(Clocks("EIO", "", "ACKNOWLEDGED", received, None, jurisdiction="NL"))
    assert decide.due_at.astimezone(amsterdam) == datetime(2027, 4, 20, 0, 0, tzinfo=amsterdam)


@pytest.mark.parametrize(
    ("received", "end"),
    [
        (datetime(2026, 3, 2, 10, 20, tzinfo=UTC), datetime(2026, 3, 2, 19, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 19, 0, tzinfo=UTC)),
        (datetime(2026, 3, 7, 23, 59, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC)),  # a Sunday: not moved
    ],
)
def test_a_period_in_hours_starts_at_the_next_full_hour(received: datetime, end: datetime) -> None:
    """REQUEST_PERIODS_COUNTED_AS_EU_LAW_COUNTS (Reg. 1182/71 Art. 3(1), 3(2)(a)): the hour in which the
    emergency EPOC is received is not counted; its 8 hours run from the next full hour, whatever the day
    (Art. 3(4) moves periods in days only)."""
    (produce,) = compute(Clocks("EPOC", "EMERGENCY", "ISSUED", received, None, jurisdiction="IE"))
    assert produce.due_at == end
    assert period_end(received, 8 * H, "IE", in_hours=True) == end


def test_alerts_whose_moment_passed_before_the_deadline_was_computed_are_left_out() -> None:
    """A deadline (re)computed at ``since`` (a resumption, a stated receipt) warns only from then on: "48 h
    before" at a moment already passed would announce more time than is left; "passed" always stays."""
    (d,) = compute(Clocks("EPOC", "STANDARD", "ISSUED", RECEIVED, None))
    long, short = parse_list("48h,8h"), parse_list("2h")
    since = d.due_at - 24 * H
    assert [(label, at) for label, _, at in alert_times(d, long, short, since=since)] == [
        ("approaching", d.due_at - 8 * H),
        ("passed", d.due_at),
    ]
    assert [label for label, _, _ in alert_times(d, long, short, since=d.due_at + H)] == ["passed"]
    assert alert_times(d, long, short, since=RECEIVED) == alert_times(d, long, short)


# -- the alerts the scanner sends, from the store (in-process SQLite) ---------------------------------


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}  # the service's content keys, as the bootstrap installs them
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    with Session(engine, info=info) as s, s.begin():
        yield s
    engine.dispose()


NL = Actor("u1", "nl-prosecutor", "NL")
OFFSETS = deadline_alerts.AlertOffsets.parse("48h,8h", "2h")


def _change(session: Session, r: domain.EvidenceRequest, action: str, now: datetime) -> domain.EvidenceRequest:
    """What the servicer does for a transition: apply it and store it with its deadlines' first alerts."""
    after = domain.apply(r, action, domain.TransitionInput(reason="x"), actor=NL, now=now)
    assert store.update_if_version(session, after, r.version, deadline_alerts.first_alerts(after, OFFSETS, now))
    return after


def _new_request(request_id: str, basis: str = "EIO") -> domain.NewRequest:
    """A restricted request for the subscriber data of a cyberstalker's account: an EIO to Germany, or an
    EPOC to SocialNet's Irish establishment (its user notice pending)."""
    epoc = basis == "EPOC"
    return domain.NewRequest(
        request_id=request_id,
        workspace_id="jit-demo",
        legal_basis=basis,
        epoc_procedure="STANDARD" if epoc else "",
        issuing_authority="OM Amsterdam",
        addressee_kind="SERVICE_PROVIDER" if epoc else "MEMBER_STATE",
        addressee_jurisdiction="IE" if epoc else WHERE,
        provider_name="SocialNet Ireland Ltd" if epoc else "",
        data_categories=("SUBSCRIBER",),
        targets=(domain.Target("ACCOUNT_HANDLE", "@harasser_x", "socialnet" if epoc else "instagram"),),
        offence_category="CYBERSTALKING",
        urgency="NORMAL",
        title="Identify the holder",
        description="",
        restricted=True,
        user_notice_status="PENDING" if epoc else "",
    )


def _send_due(session: Session, now: datetime) -> list[str]:
    """One scan at ``now``, each alert found sent (the scanner's emit moves the deadline's pointer on)."""
    found: list[deadline_alerts.AlertPayload] = [
        payload for _, _, payload in deadline_alerts.make_scan(OFFSETS)(session, now)
    ]
    for p in found:
        store.advance_alert(session, p.deadline.request_id, p.deadline.kind, p.deadline.due_at, p.next_at)
    return [f"{p.label}:{compact(p.before)}" for p in found]


def test_a_resumed_eio_does_not_send_its_48h_warning_again(session: Session) -> None:
    """EIO_POSTPONEMENT: the decision deadline's "48 h before" went out. Postponed 30 hours before it and
    resumed a day later, the deadline runs a day later: the scan does not announce "48 h before" again with
    30 hours left; the 8 h warning and the passing still go out, once each."""
    t0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    new = _new_request("0190f7a0-0000-7000-8000-000000000001")
    r = domain.create(new, request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=t0)
    store.REQUESTS.insert(session, r, request_id=r.id, request_digest="")
    r = _change(session, _change(session, r, "issue", t0), "acknowledge", t0 + H)
    (due,) = r.deadlines
    assert _send_due(session, due.due_at - 47 * H) == ["approaching:2d"]
    r = _change(session, r, "postpone", due.due_at - 30 * H)
    resumed = due.due_at - 6 * H
    r = _change(session, r, "resume", resumed)
    (decide,) = r.deadlines
    assert decide.due_at == due.due_at + D  # held a day: the period ends a day later
    assert _send_due(session, resumed) == []
    assert _send_due(session, decide.due_at - 8 * H) == ["approaching:8h"]
    assert _send_due(session, decide.due_at) == ["passed:0s"]
    assert _send_due(session, decide.due_at + D) == []


# -- the start's recount of deadlines stored with an older count (services.evidence.recount) ----------

#: Wednesday 4 March 2026, 10:00 UTC: an EIO to Germany issued (received) then. Counted as before Reg.
#: 1182/71 was followed (receipt + N x 24 h), its week to acknowledge ended on Wednesday 11 March at 10:00
#: and its 30 days to decide on Friday 3 April at 10:00; counted now, at the end of Wednesday 11 March in
#: Berlin, and past Good Friday, Easter and Easter Monday (public holidays there) to the end of Tuesday 7 April.
ISSUED = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
OLD_LENGTH = {DeadlineKind.ACKNOWLEDGE: 7 * D, DeadlineKind.DECIDE: 30 * D}
NEW_DUE = {
    DeadlineKind.ACKNOWLEDGE: datetime(2026, 3, 11, 23, 0, tzinfo=UTC),
    DeadlineKind.DECIDE: datetime(2026, 4, 7, 22, 0, tzinfo=UTC),
}


def _eio(session: Session, request_id: str, at: datetime = ISSUED, *, issued: bool = True) -> domain.EvidenceRequest:
    """An EIO to Germany stored as the servicer stores it, issued at ``at`` (or left a draft)."""
    new = _new_request(request_id)
    r = domain.create(new, request_id=request_id, actor=NL, now=at)
    store.REQUESTS.insert(session, r, request_id=r.id, request_digest="")
    return _change(session, r, "issue", at) if issued else r


def _old_count(d: Deadline) -> Deadline:
    """The deadline as the code before 7420056 counted it: receipt + N x 24 h."""
    return Deadline(d.kind, d.counted_from + OLD_LENGTH[d.kind], d.source, d.counted_from)


def _store_as_counted_before(session: Session, r: domain.EvidenceRequest, as_of: datetime = ISSUED) -> None:
    """Rewrite the request's stored deadlines as the code before 7420056 wrote them, and its scanner moved
    their alerts on until ``as_of``: receipt + N x 24 h, the next alert the first not sent by then (none
    once the passing went out), the request's ``next_deadline_at`` the earliest of them."""
    for d in map(_old_count, r.deadlines):
        times = [at for _, _, at in alert_times(d, OFFSETS.long, OFFSETS.short, since=d.counted_from)]
        session.execute(
            update(store.DeadlineRow)
            .where(store.DeadlineRow.request_id == r.id, store.DeadlineRow.kind == d.kind.value)
            .values(due_at=d.due_at, next_alert_at=next((at for at in times if at > as_of), None))
        )
    earliest = min(_old_count(d).due_at for d in r.deadlines)
    session.execute(
        update(store.RequestRow)
        .where(store.RequestRow.id == r.id)
        .values(next_deadline_at=earliest, answer=None)  # no list answer: none was stored before revision 0026
        .execution_options(synchronize_session=False)
    )


def _stored(session: Session, request_id: str) -> dict[str, tuple[datetime, datetime | None]]:
    """The request's stored deadlines: kind -> (due_at, next_alert_at)."""
    rows = session.execute(
        select(store.DeadlineRow.kind, store.DeadlineRow.due_at, store.DeadlineRow.next_alert_at).where(
            store.DeadlineRow.request_id == request_id
        )
    )
    return {k: (as_utc(due), as_utc(nxt) if nxt is not None else None) for k, due, nxt in rows}


def _recount(session: Session, now: datetime) -> int:
    """The start's recount, its batches in the test's transaction (two requests a batch)."""
    return recount.recount(lambda fn: fn(session), OFFSETS, now, batch=2)


def test_deadlines_stored_with_the_old_count_are_recounted_once_and_correct_ones_left_alone(
    session: Session,
) -> None:
    """Deadlines stored before periods were counted as Reg. 1182/71 counts them (receipt + N x 24 h) move,
    at the service's start, to what the count gives now, with the request's ``next_deadline_at`` (what the
    lists' due window and the console's Due page read) and their alerts; the request is not changed (same
    version, no event), the system's audit entry names it. Deadlines stored with the current count, and a
    draft with none, are untouched; the recount is recorded and does not run again."""
    old = _eio(session, "0190f7a0-0000-7000-8000-0000000000b1")
    _store_as_counted_before(session, old)
    correct = _eio(session, "0190f7a0-0000-7000-8000-0000000000b2", ISSUED + H)
    draft = _eio(session, "0190f7a0-0000-7000-8000-0000000000b3", issued=False)
    correct_before = _stored(session, correct.id)
    # Three requests, two with deadlines, two a batch: two pages read.

    assert _recount(session, ISSUED + D) == 1

    recounted = store.get(session, old.id)
    assert recounted is not None
    assert {d.kind: d.due_at for d in recounted.deadlines} == NEW_DUE
    assert recounted.deadlines == compute(recounted.clocks())
    assert recounted.version == old.version
    # The list's stored answers were emptied, for the service's background job to write them again under the
    # new count: then they open, with the recounted deadlines.
    t = store.RequestRow.__table__
    assert session.execute(select(t.c.answer)).scalars().all() == [None, None, None]
    assert store.ANSWERS.backfill(session) == 3
    rows = session.execute(select(t.c.id, t.c.version, t.c.workspace_id, t.c.answer).order_by(t.c.id)).all()
    opened = store.ANSWERS.opened(session, rows, id=0, version=1, workspace=2, answer=3)
    assert None not in opened
    assert [due for due, _ in answered(opened[0] or b"").deadlines] == sorted(map(micros, NEW_DUE.values()))
    row = session.get(store.RequestRow, old.id)
    assert row is not None and row.next_deadline_at is not None
    assert as_utc(row.next_deadline_at) == NEW_DUE[DeadlineKind.ACKNOWLEDGE]
    assert _stored(session, correct.id) == correct_before
    assert _stored(session, draft.id) == {}
    pending = store.RUNTIME.audit_pending
    assert session.execute(select(pending.c.record_id, pending.c.operation)).all() == [(old.id, recount.RECOUNTED)]
    assert session.scalars(select(store.RUNTIME.outbox.c.id)).all() == []
    # The old "48 h before" (Monday 9 March, 10:00) is not sent: the week now ends 13 hours later, and both
    # requests warn 48 hours before that.
    assert _send_due(session, datetime(2026, 3, 9, 10, 0, tzinfo=UTC)) == []
    assert _send_due(session, NEW_DUE[DeadlineKind.ACKNOWLEDGE] - 48 * H) == ["approaching:2d"] * 2

    # Once: deadlines stored the old way after the recount (as a node not upgraded would send them) stay.
    _store_as_counted_before(session, old)
    assert _recount(session, ISSUED + D) == 0
    assert _stored(session, old.id)["ACKNOWLEDGE"][0] == ISSUED + 7 * D


def test_a_recounted_deadline_announced_as_passed_is_announced_again_only_when_it_runs_again(
    session: Session,
) -> None:
    """A deadline whose passing went out under the old count: still passed under the new one, nothing is sent
    again (no burst of "passed" alerts at start); running again (the old count ended it early), its warnings
    still ahead and its passing go out when they fall due."""
    passed = _eio(session, "0190f7a0-0000-7000-8000-0000000000b4")
    # Issued on Thursday 5 March at 02:00 UTC: its week ended on Thursday 12 March at 02:00 under the old
    # count, at the end of that Thursday in Berlin now.
    running = _eio(session, "0190f7a0-0000-7000-8000-0000000000b6", datetime(2026, 3, 5, 2, 0, tzinfo=UTC))
    now = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)
    _store_as_counted_before(session, passed, now)
    _store_as_counted_before(session, running, now)
    assert _stored(session, passed.id)["ACKNOWLEDGE"][1] is None
    assert _stored(session, running.id)["ACKNOWLEDGE"][1] is None

    assert _recount(session, now) == 2

    assert _stored(session, passed.id)["ACKNOWLEDGE"] == (NEW_DUE[DeadlineKind.ACKNOWLEDGE], None)
    end = datetime(2026, 3, 12, 23, 0, tzinfo=UTC)
    assert _stored(session, running.id)["ACKNOWLEDGE"] == (end, end - 8 * H)
    assert _send_due(session, now) == []
    assert _send_due(session, end - 8 * H) == ["approaching:8h"]
    assert _send_due(session, end) == ["passed:0s"]


def test_a_replica_s_deadlines_are_recounted_without_alerts(session: Session) -> None:
    """Another node's request, stored here as its owner sent it before the owner counted as Reg. 1182/71
    does: its deadlines are recounted here too (nobody sends an event for it), and carry no alert."""
    owner = _eio(session, "0190f7a0-0000-7000-8000-0000000000b5")
    replica = replace(owner, deadlines=tuple(map(_old_count, owner.deadlines)), replicated_at=ISSUED)
    store.write_replica(session, replica, True)

    assert _recount(session, ISSUED + D) == 1

    assert _stored(session, owner.id) == {k.value: (due, None) for k, due in NEW_DUE.items()}


def test_the_service_recounts_the_stored_deadlines_before_it_serves(tmp_path: Path) -> None:
    """What a start does before serving (``jitlib.server.prepare``, as the supervisor of several copies
    runs it; a sole process the same in ``ServiceApp.start``): the migrations, then the recount of the
    deadlines a database of an older version stored."""
    common = CommonSettings(state_dir=tmp_path)
    settings = app.EvidenceSettings(database_url=f"sqlite:///{tmp_path / 'evidence.db'}")
    url = settings.resolved_database_url(common, "evidence")
    db.migrate(app.MIGRATIONS, url)
    database = db.Database(url)
    sealing.install(database.info, store.Base.metadata, settings.kek_ring(common, "evidence"))

    def older_version(session: Session) -> str:
        r = _eio(session, "0190f7a0-0000-7000-8000-0000000000b7")
        _store_as_counted_before(session, r)
        return r.id

    request_id = database.write_sync(older_version)

    server.prepare(app.spec(settings), settings, common)

    assert {DeadlineKind(k): due for k, (due, _) in database.write_sync(lambda s: _stored(s, request_id)).items()} == (
        NEW_DUE
    )
    database.dispose()


def test_a_recognised_epoc_s_superseded_produce_stored_under_count_3_is_dropped_by_the_start_s_recount(
    session: Session,
) -> None:
    """EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE (count 4): an EPOC the enforcing state recognised before this count
    kept its first PRODUCE deadline stored, overdue for ever; the start's recount drops it (no COMPLIANCE is
    invented: the recognition recorded no days), and the request's due date goes with it."""
    new = _new_request("0190f7a0-0000-7000-8000-0000000000c1", "EPOC")
    at = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)  # once the Regulation applies
    r = domain.create(new, request_id=new.request_id, actor=NL, now=at)
    store.REQUESTS.insert(session, r, request_id=r.id, request_digest="")
    r = _change(session, r, "issue", at)
    (produce,) = r.deadlines
    r = _change(session, r, "transfer_for_enforcement", at + 12 * D)
    r = _change(session, r, "recognise_enforcement", at + 13 * D)  # no days: as recorded before 0037
    assert r.deadlines == () and r.enforcement_decided_at == at + 13 * D
    # What count 3 stored for it: the PRODUCE deadline, passed.
    store.replace_deadlines(session, [(r.id, (produce,), {DeadlineKind.PRODUCE: None})])
    assert _stored(session, r.id) == {"PRODUCE": (produce.due_at, None)}
    store.mark_recounted(session, 3, at + 13 * D, 0)  # a database brought to count 3 already

    assert _recount(session, at + 14 * D) == 1

    assert _stored(session, r.id) == {}
    assert session.scalar(select(store.RequestRow.next_deadline_at).where(store.RequestRow.id == r.id)) is None
