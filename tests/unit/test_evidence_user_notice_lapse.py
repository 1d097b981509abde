"""The end of a non-disclosure order on a request to a provider (USER_NOTICE_SUPPRESSION_LAPSES): the request
shows the suppression as lapsed from its end on, derived when read (a request's view and a list's stored
answer alike), and the issuer is warned before and when it lapses, as of a deadline, once each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, delete, update
from sqlalchemy.orm import Session

from jit.evidence.v1 import evidence_pb2 as pb
from jitcli.evidence_cmd import user_notice_text
from jitlib import crypto, legal, sealing
from jitlib.actors import Actor
from jitlib.durations import compact
from services.evidence import deadline_alerts, domain, recount, store
from services.evidence.deadlines import Clocks, DeadlineKind, compute, non_disclosure
from services.evidence.mapping import answered, micros, request_answer, request_to_pb

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # the EPOC Regulation applies (from 18 August 2026)
UNTIL = datetime(2026, 12, 10, 23, 59, tzinfo=UTC)  # as the console sends "suppressed until 10 December"
D, H = timedelta(days=1), timedelta(hours=1)
NL = Actor("u1", "nl-prosecutor", "NL")
OFFSETS = deadline_alerts.AlertOffsets.parse("48h,8h", "2h")


def _new(request_id: str, basis: str = "EPOC", until: datetime | None = UNTIL) -> domain.NewRequest:
    return domain.NewRequest(
        request_id=request_id,
        workspace_id="jit-demo",
        legal_basis=basis,
        epoc_procedure="STANDARD" if basis == "EPOC" else "",
        issuing_authority="OM Amsterdam",
        addressee_kind="SERVICE_PROVIDER",
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        data_categories=("SUBSCRIBER",),
        targets=(domain.Target("ACCOUNT_HANDLE", "@harasser_x", "socialnet"),),
        offence_category="CYBERSTALKING",
        urgency="NORMAL",
        title="Identify the holder",
        description="",
        restricted=True,
        user_notice_status="SUPPRESSED" if until is not None else "PENDING",
        user_notice_suppressed_until=until,
    )


def _request(request_id: str = "0190f7a0-0000-7000-8000-0000000000c1", **kw: object) -> domain.EvidenceRequest:
    r = domain.create(_new(request_id, **kw), request_id=request_id, actor=NL, now=T0)  # type: ignore[arg-type]
    return domain.apply(r, "issue", domain.TransitionInput(), actor=NL, now=T0)


def test_user_notice_suppression_lapses_at_its_end_whatever_the_state() -> None:
    """USER_NOTICE_SUPPRESSION_LAPSES: suppressed until an instant, the notice is no longer suppressed from
    that instant on (the provider may notify the account holder); a notice not suppressed never lapses."""
    r = _request()
    assert not domain.suppression_lapsed(r, UNTIL - timedelta(seconds=1))
    assert domain.suppression_lapsed(r, UNTIL)
    assert domain.suppression_lapsed(r, UNTIL + 30 * D)
    closed = domain.changed(r, NL, T0, state=domain.State.CLOSED)
    assert domain.suppression_lapsed(closed, UNTIL + D)
    sent = domain.apply(
        r, "update_user_notice", domain.TransitionInput(user_notice_status="SENT"), actor=NL, now=UNTIL + D
    )
    assert not domain.suppression_lapsed(sent, UNTIL + D)


def test_the_end_of_a_non_disclosure_order_is_a_deadline_while_the_request_runs() -> None:
    """The suppression's end is the issuer's NON_DISCLOSURE deadline, due at its end and counted from
    receipt, once the request went to the provider and until it is closed or withdrawn; none for a notice
    that is not suppressed."""
    r = _request()
    (produce, suppression) = r.deadlines
    assert produce.kind is DeadlineKind.PRODUCE
    assert suppression.kind is DeadlineKind.NON_DISCLOSURE
    assert (suppression.due_at, suppression.counted_from) == (UNTIL, T0)
    assert suppression.source == legal.source("USER_NOTICE_SUPPRESSION_LAPSES")
    clocks = r.clocks()
    for state in ("DRAFT", "CLOSED", "WITHDRAWN"):
        assert non_disclosure(Clocks(**{**clocks.__dict__, "state": state})) is None
    for state in ("ISSUED", "EXECUTED", "REFUSED", "POSTPONED"):
        assert non_disclosure(Clocks(**{**clocks.__dict__, "state": state})) == suppression
    assert [d.kind for d in _request(until=None).deadlines] == [DeadlineKind.PRODUCE]
    renewed = domain.apply(
        r,
        "update_user_notice",
        domain.TransitionInput(user_notice_status="SUPPRESSED", user_notice_suppressed_until=UNTIL + 90 * D),
        actor=NL,
        now=UNTIL - D,
    )
    assert [d.due_at for d in renewed.deadlines if d.kind is DeadlineKind.NON_DISCLOSURE] == [UNTIL + 90 * D]
    assert renewed.deadlines == compute(renewed.clocks())


def test_a_request_and_its_listed_answer_show_the_suppression_lapsed_from_its_end_on() -> None:
    """A request's view and a list's stored answer (made once, read at any time) show the same: not lapsed
    before the end, lapsed from it (derived when read, as a deadline's ``overdue``)."""
    r = _request()
    stored = answered(request_answer(r))
    for now, lapsed in ((UNTIL - H, False), (UNTIL, True), (UNTIL + 10 * D, True)):
        view = request_to_pb(r, now)
        assert view.user_notice_suppression_lapsed is lapsed
        listed = pb.EvidenceRequest.FromString(stored.message(micros(now), r.preservation_order_id, ()))
        assert listed == view
    unsuppressed = _request(until=None)
    assert not pb.EvidenceRequest.FromString(
        answered(request_answer(unsuppressed)).message(micros(UNTIL + D), "", ())
    ).user_notice_suppression_lapsed


def test_the_cli_shows_the_suppression_and_its_lapse_with_the_user_notice() -> None:
    r = _request()
    assert user_notice_text(request_to_pb(r, UNTIL - H)) == "suppressed until 2026-12-10 23:59 UTC"
    lapsed = user_notice_text(request_to_pb(r, UNTIL))
    assert lapsed.startswith("suppressed until 2026-12-10 23:59 UTC LAPSED") and "notify the account holder" in lapsed


# -- the alerts the scanner sends, from the store (in-process SQLite) ---------------------------------


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    with Session(engine, info=info) as s, s.begin():
        yield s
    engine.dispose()


def _store(session: Session, new: domain.NewRequest) -> domain.EvidenceRequest:
    """Created and issued at T0, stored as the servicer stores them (with their deadlines' first alerts)."""
    r = domain.create(new, request_id=new.request_id, actor=NL, now=T0)
    store.REQUESTS.insert(session, r, request_id=r.id, request_digest="")
    return _change(session, r, "issue", domain.TransitionInput(), T0)


def _change(
    session: Session, r: domain.EvidenceRequest, action: str, data: domain.TransitionInput, now: datetime
) -> domain.EvidenceRequest:
    after = domain.apply(r, action, data, actor=NL, now=now)
    assert store.update_if_version(session, after, r.version, deadline_alerts.first_alerts(after, OFFSETS, now))
    return after


def _send_due(session: Session, now: datetime) -> list[str]:
    """One scan at ``now`` of the NON_DISCLOSURE alerts, each sent (its deadline's pointer moved on)."""
    found: list[deadline_alerts.AlertPayload] = [
        payload for _, _, payload in deadline_alerts.make_scan(OFFSETS)(session, now)
    ]
    for p in found:
        store.advance_alert(session, p.deadline.request_id, p.deadline.kind, p.deadline.due_at, p.next_at)
    return [
        f"{p.label}:{compact(p.before)}:{p.deadline.due_at:%m-%d}"
        for p in found
        if p.deadline.kind is DeadlineKind.NON_DISCLOSURE
    ]


def test_the_issuer_is_warned_before_a_non_disclosure_order_lapses_and_when_it_has_once_each(
    session: Session,
) -> None:
    """USER_NOTICE_SUPPRESSION_LAPSES: the deadlines' warnings (48 h, 8 h before) and "passed" at the end,
    each sent once; renewed before it ends, the order's new end warns again, and the old one never does."""
    _store(session, _new("0190f7a0-0000-7000-8000-0000000000c2"))
    assert _send_due(session, UNTIL - 49 * H) == []
    assert _send_due(session, UNTIL - 48 * H) == ["approaching:2d:12-10"]
    assert _send_due(session, UNTIL - 47 * H) == []
    assert _send_due(session, UNTIL - 8 * H) == ["approaching:8h:12-10"]
    assert _send_due(session, UNTIL) == ["passed:0s:12-10"]
    assert _send_due(session, UNTIL + D) == []

    other = _store(session, _new("0190f7a0-0000-7000-8000-0000000000c3"))
    assert _send_due(session, UNTIL - 48 * H) == ["approaching:2d:12-10"]
    renewed = UNTIL + 90 * D
    _change(
        session,
        other,
        "update_user_notice",
        domain.TransitionInput(user_notice_status="SUPPRESSED", user_notice_suppressed_until=renewed),
        UNTIL - 24 * H,
    )
    assert _send_due(session, UNTIL + D) == []
    assert _send_due(session, renewed - 48 * H) == ["approaching:2d:03-10"]
    assert _send_due(session, renewed - 8 * H) == ["approaching:8h:03-10"]
    assert _send_due(session, renewed) == ["passed:0s:03-10"]


def test_a_suppression_stored_before_it_was_a_deadline_is_recounted_at_start_with_its_alerts(
    session: Session,
) -> None:
    """USER_NOTICE_SUPPRESSION_LAPSES for requests stored before: the start's recount (``deadlines.COUNTING``)
    gives a suppressed notice its deadline and its alerts, also on a request of an instrument without a
    period (voluntary disclosure: no deadline stored at all before)."""
    epoc = _store(session, _new("0190f7a0-0000-7000-8000-0000000000c4"))
    voluntary = _store(session, _new("0190f7a0-0000-7000-8000-0000000000c5", basis="VOLUNTARY"))
    assert [d.kind for d in voluntary.deadlines] == [DeadlineKind.NON_DISCLOSURE]
    # As the code before stored them: no NON_DISCLOSURE row, the voluntary request without a deadline.
    session.execute(delete(store.DeadlineRow).where(store.DeadlineRow.kind == DeadlineKind.NON_DISCLOSURE.value))
    session.execute(
        update(store.RequestRow)
        .where(store.RequestRow.id == voluntary.id)
        .values(next_deadline_at=None)
        .execution_options(synchronize_session=False)
    )
    assert _send_due(session, UNTIL) == []

    assert recount.recount(lambda fn: fn(session), OFFSETS, UNTIL - 72 * H, batch=1) == 2

    for r in (epoc, voluntary):
        got = store.get(session, r.id)
        assert got is not None and got.deadlines == compute(got.clocks())
    assert _send_due(session, UNTIL - 48 * H) == ["approaching:2d:12-10"] * 2
    assert sorted(_send_due(session, UNTIL)) == ["approaching:8h:12-10"] * 2 + ["passed:0s:12-10"] * 2
    assert _send_due(session, UNTIL + D) == []
