"""Preservation-order rules, pure: expiry clocks per legal basis (each row cites its source), extensions,
the state machine, the warning schedule and input validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jitlib import legal
from jitlib.actors import Actor
from jitlib.alerts import Alert
from jitlib.errors import FailedPrecondition
from jitlib.periods import period_end
from services.preservation import domain, providers
from services.preservation.domain import (
    LegalBasis,
    NewOrder,
    OrderState,
    Rules,
    Target,
    TransitionInput,
)

T0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday once Reg. (EU) 2023/1543 applies (EPOC-PRs are issued)
NL = Actor("u-nl", "nl-liaison", "NL")
RULES = Rules(providers=providers.load())
D = timedelta(days=1)
OFFSETS = (timedelta(days=14), timedelta(days=7), timedelta(hours=48))
#: An EPOC-PR to socialnet-ie (established in IE) received at T0 (Mon 7 September 2026, 09:00 UTC): its 60 days
#: end with Friday 6 November in Dublin (midnight UTC, Irish winter time), 90 days with Sunday 6 December,
#: moved to the end of Monday 7 December (EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS).
EPOC_60 = datetime(2026, 11, 7, 0, 0, tzinfo=UTC)
EPOC_90 = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)


def counted(basis: LegalBasis, start: datetime, days: int) -> datetime:
    """The expiry of ``days`` from ``start`` under ``basis`` (a provider established in IE): an EPOC-PR's
    counted as EU law counts periods in Ireland, the other bases' as ``days`` x 24 h."""
    if basis is LegalBasis.EPOC_PR:
        return period_end(start, days * D, "IE")
    return start + days * D


def new_order(basis: LegalBasis = LegalBasis.EPOC_PR, provider: str = "socialnet-ie") -> domain.Order:
    cmd = NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=basis.value,
        provider_id=provider,
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER", "CONTENT"),
        description="",
        restricted=True,
    )
    return domain.create(cmd, order_id="01935c4e-0000-7000-8000-000000000001", actor=NL, now=T0)


def step(order: domain.Order, action: str, now: datetime, **kw: object) -> domain.Order:
    data = TransitionInput(**kw)  # type: ignore[arg-type]
    return domain.apply(order, action, data, actor=NL, now=now, rule=RULES.clock_for(order))


def confirmed(basis: LegalBasis, provider: str = "socialnet-ie", at: datetime = T0) -> domain.Order:
    issued = step(new_order(basis, provider), "issue", at)
    return step(issued, "confirm", at)


# ---- expiry clocks: one row per rule, with its source -----------------------------------------------

CLOCKS = [
    # (legal basis, provider, days until expiry, counted from, source)
    (LegalBasis.EPOC_PR, "socialnet-ie", 60, "receipt", "Reg. (EU) 2023/1543 Art. 11(1): 60 days from receipt"),
    (LegalBasis.BUDAPEST_ART29, "socialnet-ie", 60, "receipt", "CETS 185 Art. 29(7): at least 60 days"),
    (LegalBasis.PROVIDER_VOLUNTARY, "socialnet-ie", 90, "confirmation", "provider guideline: 90 days"),
    (LegalBasis.PROVIDER_VOLUNTARY, "chatapp-nl", 60, "confirmation", "provider guideline (demo register)"),
    (LegalBasis.NATIONAL, "socialnet-ie", 90, "receipt", "national law as configured; default CETS 185 Art. 16(2)"),
]


@pytest.mark.parametrize(("basis", "provider", "days", "start", "source"), CLOCKS)
def test_expiry_is_counted_from_where_the_bases_clock_starts(
    basis: LegalBasis, provider: str, days: int, start: str, source: str
) -> None:
    """EPOC_PR_CLOCK_FROM_RECEIPT (Reg. (EU) 2023/1543 Art. 11(1)), BUDAPEST_ART29_CLOCK_FROM_RECEIPT (CETS
    185 Art. 29(7)), NATIONAL_CLOCK_FROM_RECEIPT (GUESS, after CETS 185 Art. 16(2)): from the provider's
    receipt, set at issue and not moved by the confirmation; PROVIDER_VOLUNTARY_CLOCK_FROM_PROCESSING (GUESS,
    the providers' guidelines): from the confirmation, none before. An EPOC-PR's days counted as EU law
    counts them in the provider's establishment (EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS), the others' as
    N x 24 h."""
    received_at = T0 + timedelta(hours=2)
    confirmed_at = T0 + timedelta(hours=5)
    issued = step(new_order(basis, provider), "issue", T0 + timedelta(hours=3), issued_at=T0, received_at=received_at)
    assert issued.received_at == received_at and issued.issued_at == T0
    order = step(issued, "confirm", T0 + D, confirmed_at=confirmed_at)
    assert order.state is OrderState.CONFIRMED
    assert order.confirmed_at == confirmed_at and order.received_at == received_at
    anchor = received_at if start == "receipt" else confirmed_at
    assert order.expires_at == counted(basis, anchor, days), source
    assert issued.expires_at == (order.expires_at if start == "receipt" else None), source
    assert (domain.warning_schedule(issued, OFFSETS) != []) == (start == "receipt")
    rows = {b: r.id for b, (_, r) in domain.CLOCK_START.items()}
    assert legal.rule(rows[basis]).source in source or rows[basis].startswith(basis.value)


EXTENSIONS = [
    # (basis, provider, when asked (days after confirmation), allowed, new expiry in days or error reason, source)
    (LegalBasis.EPOC_PR, "socialnet-ie", 59, True, 90, "Art. 11(1): one extension of 30 days, asked within the 60"),
    (LegalBasis.EPOC_PR, "socialnet-ie", 61, False, "EXTENSION_TOO_LATE", "Art. 11(1): asked within the 60 days"),
    (LegalBasis.BUDAPEST_ART29, "socialnet-ie", 10, False, "EXTENSION_NOT_ALLOWED", "CETS 185 Art. 29(7)"),
    (LegalBasis.PROVIDER_VOLUNTARY, "socialnet-ie", 83, True, 180, "guideline: asked >= 7 days before expiry"),
    (LegalBasis.PROVIDER_VOLUNTARY, "socialnet-ie", 84, False, "EXTENSION_TOO_LATE", "guideline: >= 7 days before"),
    (LegalBasis.PROVIDER_VOLUNTARY, "chatapp-nl", 10, False, "EXTENSION_NOT_ALLOWED", "provider does not extend"),
    (LegalBasis.NATIONAL, "socialnet-ie", 89, True, 180, "national law: 90 days renewable"),
]


@pytest.mark.parametrize(("basis", "provider", "asked", "allowed", "expect", "source"), EXTENSIONS)
def test_extension_rules(
    basis: LegalBasis, provider: str, asked: int, allowed: bool, expect: object, source: str
) -> None:
    order = confirmed(basis, provider)
    when = T0 + timedelta(days=asked)
    if allowed:
        extended = step(order, "extend", when)
        assert extended.state is OrderState.EXTENDED
        assert extended.expires_at == counted(basis, T0, int(expect)), source  # type: ignore[call-overload]
        assert extended.extension_count == 1
    else:
        with pytest.raises(FailedPrecondition) as info:
            step(order, "extend", when)
        assert info.value.reason == expect, source


def test_epoc_pr_allows_exactly_one_extension() -> None:
    order = step(confirmed(LegalBasis.EPOC_PR), "extend", T0 + 30 * D)
    assert order.extension_deadline is None
    with pytest.raises(FailedPrecondition) as info:
        step(order, "extend", T0 + 40 * D)
    assert info.value.reason == "EXTENSION_LIMIT_REACHED"


def test_national_orders_renew_without_limit() -> None:
    order = confirmed(LegalBasis.NATIONAL)
    for n in range(1, 4):
        order = step(order, "extend", order.expires_at - D)  # type: ignore[operator]
        assert order.extension_count == n
    assert order.expires_at == T0 + timedelta(days=90 * 4)


def test_extension_deadline_is_stored_on_the_record() -> None:
    assert confirmed(LegalBasis.PROVIDER_VOLUNTARY).extension_deadline == T0 + 83 * D
    assert confirmed(LegalBasis.EPOC_PR).extension_deadline == EPOC_60
    assert confirmed(LegalBasis.BUDAPEST_ART29).extension_deadline is None


REQUEST = "01935c4e-0000-7000-8000-0000000000aa"


@pytest.mark.parametrize("basis", [LegalBasis.EPOC_PR, LegalBasis.BUDAPEST_ART29])
def test_epoc_pr_preserved_until_production_and_budapest_pending_decision(basis: LegalBasis) -> None:
    """EPOC_PR_PRESERVED_UNTIL_PRODUCTION (Reg. (EU) 2023/1543 Art. 11(2)) and
    BUDAPEST_ART29_PRESERVED_PENDING_DECISION (CETS 185 Art. 29(7)): the clock stops, the time left is kept."""
    order = step(confirmed(basis), "request_production", T0 + 20 * D, follow_up_request_id=REQUEST)
    assert order.state is OrderState.PRODUCTION_REQUESTED
    assert order.expires_at is None and order.extension_deadline is None and order.follow_up_request_id == REQUEST
    left = {LegalBasis.EPOC_PR: EPOC_60 - (T0 + 20 * D), LegalBasis.BUDAPEST_ART29: 40 * D}[basis]
    assert (order.clock_stopped_at, order.clock_remaining_seconds) == (T0 + 20 * D, int(left.total_seconds()))
    assert domain.warning_schedule(order, OFFSETS) == []
    for action in ("extend", "expire"):
        with pytest.raises(FailedPrecondition) as info:
            step(order, action, T0 + 30 * D)
        assert info.value.reason == "NO_RUNNING_CLOCK"
        assert legal.cite(domain.AT_PRODUCTION[basis][1].id) in str(info.value)
    produced = step(order, "mark_produced", T0 + 200 * D)
    assert produced.state is OrderState.PRODUCED and produced.produced_at == T0 + 200 * D


@pytest.mark.parametrize("basis", list(LegalBasis))
def test_a_production_request_records_when_it_was_made(basis: LegalBasis) -> None:
    """Whatever the basis, the order keeps when production was requested (the scorecard's time to produce
    runs from there to produced_at); a later production request moves it."""
    order = step(confirmed(basis), "request_production", T0 + 20 * D, follow_up_request_id=REQUEST)
    assert order.production_requested_at == T0 + 20 * D
    produced = step(order, "mark_produced", T0 + 26 * D)
    assert (produced.production_requested_at, produced.produced_at) == (T0 + 20 * D, T0 + 26 * D)
    resumed = step(order, "resume", T0 + 22 * D)
    again = step(resumed, "request_production", T0 + 25 * D, follow_up_request_id=REQUEST)
    assert again.production_requested_at == T0 + 25 * D


@pytest.mark.parametrize(
    ("basis", "provider", "expiry_days"),
    [(LegalBasis.PROVIDER_VOLUNTARY, "socialnet-ie", 90), (LegalBasis.NATIONAL, "socialnet-ie", 90)],
)
def test_provider_voluntary_and_national_clock_runs_during_production(
    basis: LegalBasis, provider: str, expiry_days: int
) -> None:
    """PROVIDER_VOLUNTARY_CLOCK_RUNS_DURING_PRODUCTION and NATIONAL_CLOCK_RUNS_DURING_PRODUCTION (GUESS: the
    providers' guidelines, national law after CETS 185 Art. 16(2)): a linked production request leaves the
    expiry, the warnings, the extension and the expiry itself as they were; the order stays
    PRODUCTION_REQUESTED when extended."""
    order = step(confirmed(basis, provider), "request_production", T0 + 20 * D, follow_up_request_id=REQUEST)
    assert order.state is OrderState.PRODUCTION_REQUESTED
    assert order.expires_at == T0 + expiry_days * D and order.clock_stopped_at is None
    assert [w.offset for w in domain.warning_schedule(order, OFFSETS)] == [*OFFSETS, timedelta(0)]
    extended = step(order, "extend", T0 + 60 * D)
    assert extended.state is OrderState.PRODUCTION_REQUESTED and extended.extension_count == 1
    assert extended.expires_at == T0 + (expiry_days + 90) * D
    expired = step(extended, "expire", T0 + 180 * D)
    assert expired.state is OrderState.EXPIRED


def test_an_issued_epoc_pr_expires_and_is_warned_about_without_a_confirmation() -> None:
    """EPOC_PR_CLOCK_FROM_RECEIPT (Reg. (EU) 2023/1543 Art. 11(1)): an order sent and never confirmed has its
    clock, its warnings, its extension and its expiry in ISSUED; a late confirmation moves nothing."""
    issued = step(new_order(LegalBasis.EPOC_PR), "issue", T0)
    assert issued.expires_at == EPOC_60 and issued.extension_deadline == EPOC_60
    assert domain.next_alert_at(issued, OFFSETS) == EPOC_60 - 14 * D
    extended = step(issued, "extend", T0 + 50 * D)
    assert extended.state is OrderState.ISSUED and extended.expires_at == EPOC_90
    assert extended.extension_count == 1 and extended.extension_deadline is None
    late = step(extended, "confirm", T0 + 55 * D)
    assert late.state is OrderState.EXTENDED and late.expires_at == EPOC_90
    expired = step(issued, "expire", EPOC_60)
    assert expired.state is OrderState.EXPIRED


def test_an_unconfirmed_voluntary_order_has_no_clock_yet() -> None:
    """PROVIDER_VOLUNTARY_CLOCK_FROM_PROCESSING (GUESS: the providers' guidelines count from processing)."""
    issued = step(new_order(LegalBasis.PROVIDER_VOLUNTARY), "issue", T0)
    assert issued.expires_at is None and issued.received_at == T0
    assert domain.warning_schedule(issued, OFFSETS) == []
    with pytest.raises(FailedPrecondition) as info:
        step(issued, "extend", T0 + D)
    assert info.value.reason == "NO_RUNNING_CLOCK"
    assert "has not started" in str(info.value) and "GUESS" in str(info.value)


def test_a_stated_receipt_on_confirmation_counts_the_epoc_pr_clock_again() -> None:
    """EPOC_PR_CLOCK_FROM_RECEIPT (Reg. (EU) 2023/1543 Art. 11(1)): the provider's confirmation may say when
    it received the certificate; the 60 days then run from there (EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS:
    received Tuesday 8 September, the 60th day is Saturday 7 November, so they end with Monday 9 November).
    Not before the issue, not after the confirmation."""
    issued = step(new_order(LegalBasis.EPOC_PR), "issue", T0)
    order = step(issued, "confirm", T0 + 3 * D, received_at=T0 + D, confirmed_at=T0 + 2 * D)
    ends = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    assert order.received_at == T0 + D and order.expires_at == ends
    assert order.extension_deadline == ends
    with pytest.raises(FailedPrecondition) as info:
        step(issued, "confirm", T0 + 3 * D, received_at=T0 - D, confirmed_at=T0 + 2 * D)
    assert info.value.reason == "RECEIVED_BEFORE_ISSUE"
    late_receipt = step(new_order(LegalBasis.EPOC_PR), "issue", T0 + D, issued_at=T0, received_at=T0 + D)
    with pytest.raises(FailedPrecondition) as info:
        step(late_receipt, "confirm", T0 + 3 * D, confirmed_at=T0 + timedelta(hours=1))
    assert info.value.reason == "CONFIRMED_BEFORE_RECEIPT"


RECEIPTS = [
    # (action, stated fields relative to now, accepted)
    ("issue", {"issued_at": -2 * D, "received_at": -D}, True),
    ("issue", {"issued_at": -2 * D, "received_at": -3 * D}, False),  # received before it was sent
    ("issue", {"received_at": -D}, False),  # issued now: received before
    ("issue", {"issued_at": -2 * D, "received_at": 2 * D}, False),  # in the future
    ("issue", {"issued_at": -2 * D, "received_at": timedelta(minutes=4)}, True),  # clock skew
    ("confirm", {"received_at": -2 * D, "confirmed_at": -D}, True),
    ("confirm", {"received_at": -D, "confirmed_at": -2 * D}, False),  # confirmed before received
    ("confirm", {"received_at": -3 * 366 * D}, False),
]


@pytest.mark.parametrize(("action", "stated", "accepted"), RECEIPTS)
def test_a_stated_receipt_time_is_bounded(action: str, stated: dict[str, timedelta], accepted: bool) -> None:
    data = TransitionInput(**{k: T0 + v for k, v in stated.items()})  # type: ignore[arg-type]
    violations = domain.transition_violations(action, data, T0)
    assert ({v.field for v in violations} == set()) if accepted else ("received_at" in {v.field for v in violations})
    assert all("T0" not in v.description and "20" not in v.description for v in violations)  # never echoed


# ---- a failed production request (resume) -----------------------------------------------------------


def test_preservation_clock_resumes_after_failed_production_with_the_time_left() -> None:
    """PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION (Reg. (EU) 2023/1543 Art. 11(1)-(3); GUESS): an
    EPOC-PR stopped with 40 days and 15 hours left, its production request refused 80 days later, runs again
    for that long from the refusal, back in CONFIRMED, with a new warning series, its extension still open
    (adding 30 days: the time left is no count of the period from receipt), and a warning to the issuer
    saying until when."""
    stopped = step(confirmed(LegalBasis.EPOC_PR), "request_production", T0 + 20 * D, follow_up_request_id=REQUEST)
    left = EPOC_60 - (T0 + 20 * D)
    assert left == 40 * D + timedelta(hours=15)
    resumed = step(stopped, "resume", T0 + 100 * D)
    assert resumed.state is OrderState.CONFIRMED
    assert resumed.expires_at == T0 + 100 * D + left and resumed.extension_deadline == T0 + 100 * D + left
    assert (resumed.clock_stopped_at, resumed.clock_remaining_seconds) == (None, None)
    assert resumed.clock_started_at == T0 + 100 * D
    assert domain.next_alert_at(resumed, OFFSETS) == T0 + 126 * D + timedelta(hours=15)
    warning = domain.production_ended_warning(resumed, REQUEST, domain.ProductionOutcome.REFUSED, T0 + 100 * D)
    assert warning is not None and warning.first and not warning.at_expiry
    assert (warning.due_at, warning.expires_at, warning.offset) == (T0 + 100 * D, T0 + 100 * D + left, left)
    assert warning.reason.startswith("the production request was refused; preservation runs again until 2027-01-26")
    assert warning.reason.endswith(legal.cite("PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION"))
    assert warning.key(resumed.id) not in {w.key(resumed.id) for w in domain.warning_schedule(stopped, OFFSETS)}
    extended = step(resumed, "extend", T0 + 130 * D)
    assert extended.expires_at == T0 + 130 * D + left


@pytest.mark.parametrize(
    ("build", "state"),
    [
        (lambda: step(new_order(LegalBasis.EPOC_PR), "issue", T0), OrderState.ISSUED),
        (lambda: confirmed(LegalBasis.BUDAPEST_ART29), OrderState.CONFIRMED),
        (lambda: step(confirmed(LegalBasis.EPOC_PR), "extend", T0 + 10 * D), OrderState.EXTENDED),
    ],
    ids=["issued", "confirmed", "extended"],
)
def test_preservation_clock_resumes_after_failed_production_in_the_state_before(
    build: object, state: OrderState
) -> None:
    """PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION: back to the state before PRODUCTION_REQUESTED."""
    before = build()  # type: ignore[operator]
    assert before.state is state
    stopped = step(before, "request_production", T0 + 20 * D, follow_up_request_id=REQUEST)
    resumed = step(stopped, "resume", T0 + 25 * D)
    assert resumed.state is state
    assert resumed.expires_at == T0 + 25 * D + (before.expires_at - (T0 + 20 * D))


def test_a_running_clock_is_not_moved_by_a_failed_production_request() -> None:
    """PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION with PROVIDER_VOLUNTARY_CLOCK_RUNS_DURING_PRODUCTION:
    the provider's period ran on; the order is back in CONFIRMED with the same expiry and the issuer is told
    it still runs."""
    running = step(
        confirmed(LegalBasis.PROVIDER_VOLUNTARY), "request_production", T0 + 20 * D, follow_up_request_id=REQUEST
    )
    resumed = step(running, "resume", T0 + 50 * D)
    assert resumed.state is OrderState.CONFIRMED and resumed.expires_at == T0 + 90 * D
    assert resumed.clock_started_at == running.clock_started_at  # the same warning series goes on
    warning = domain.production_ended_warning(resumed, REQUEST, domain.ProductionOutcome.WITHDRAWN, T0 + 50 * D)
    assert warning is not None and warning.expires_at == T0 + 90 * D
    assert warning.reason.startswith("the production request was withdrawn; preservation still runs until")
    assert "GUESS" in warning.reason


def test_a_resumed_order_stopped_by_an_older_version_never_gets_a_past_expiry() -> None:
    """PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION: an EPOC-PR stopped before the time left was kept
    gets the expiry counted from receipt (Reg. (EU) 2023/1543 Art. 11(1)), or now when that has passed, and
    the warning at expiry is due at once."""
    stopped = step(confirmed(LegalBasis.EPOC_PR), "request_production", T0 + 20 * D, follow_up_request_id=REQUEST)
    old = replace(stopped, clock_stopped_at=None, clock_remaining_seconds=None)
    assert step(old, "resume", T0 + 30 * D).expires_at == EPOC_60
    late = step(old, "resume", T0 + 100 * D)
    assert late.expires_at == T0 + 100 * D
    assert [(w.due_at, w.at_expiry) for w in domain.warning_schedule(late, OFFSETS)] == [(T0 + 100 * D, True)]


def test_preservation_production_requested_after_the_expiry_is_refused_and_the_order_expires() -> None:
    """PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY (Reg. (EU) 2023/1543 Art. 11(1)): an EPOC-PR whose 60
    days ended, not yet expired by the service's clock (between scans, or the node was down), is not put
    into PRODUCTION_REQUESTED with its clock stopped; it is refused, saying when it ended, and expires."""
    order = confirmed(LegalBasis.EPOC_PR)
    assert order.expires_at == EPOC_60
    late = T0 + 62 * D
    assert "request_production" not in domain.allowed_actions(order, _liaison(), RULES.clock_for(order), late)
    with pytest.raises(FailedPrecondition) as info:
        step(order, "request_production", late, follow_up_request_id=REQUEST)
    assert info.value.reason == "PRESERVATION_EXPIRED"
    assert EPOC_60.isoformat() in str(info.value) and "Art. 11(1)" in str(info.value)
    assert step(order, "expire", late).state is OrderState.EXPIRED
    # Stated as issued later than now it is still judged now.
    with pytest.raises(FailedPrecondition):
        step(order, "request_production", late, follow_up_request_id=REQUEST, requested_at=late + D)


def test_preservation_production_requested_before_the_expiry_is_judged_when_it_was_issued() -> None:
    """PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY (Art. 11(1): production confirmed within the 60 days):
    the linked request was issued on day 59 and its event consumed on day 62. Still running, the order's
    clock stops as of day 59 with the day that was left then; already expired by the clock, an EPOC-PR (or
    Budapest) order is preserved until production all the same; a national order, whose clock runs on
    during production, stays expired."""
    issued = T0 + 59 * D
    late = T0 + 62 * D
    running = confirmed(LegalBasis.EPOC_PR)
    for order in (running, step(running, "expire", EPOC_60)):
        after = step(order, "request_production", late, follow_up_request_id=REQUEST, requested_at=issued)
        assert after.state is OrderState.PRODUCTION_REQUESTED and after.expires_at is None
        assert (after.production_requested_at, after.clock_stopped_at) == (issued, issued)
        assert after.clock_remaining_seconds == int((EPOC_60 - issued).total_seconds())
        assert after.updated_at == late
    assert "before the preservation ended" in after.state_reason
    national = step(confirmed(LegalBasis.NATIONAL), "expire", T0 + 90 * D)
    with pytest.raises(FailedPrecondition) as info:
        step(national, "request_production", late + 30 * D, follow_up_request_id=REQUEST, requested_at=T0 + 89 * D)
    assert info.value.reason == "ILLEGAL_TRANSITION"
    # Never judged before the order's clock started: the time left is never more than the period.
    early = step(running, "request_production", T0 + D, follow_up_request_id=REQUEST, requested_at=T0 - 5 * D)
    assert early.clock_stopped_at == T0 and early.clock_remaining_seconds == int((EPOC_60 - T0).total_seconds())


def test_only_the_service_resumes_or_expires_an_order() -> None:
    assert {"expire", "resume"} == domain.CLOCK_ONLY
    stopped = step(confirmed(LegalBasis.EPOC_PR), "request_production", T0 + 20 * D, follow_up_request_id=REQUEST)
    assert "resume" not in domain.allowed_actions(stopped, _liaison(), RULES.clock_for(stopped), T0 + 21 * D)


def _liaison() -> domain.Principal:
    return domain.Principal("u-nl", "nl-liaison", "NL", frozenset({"police_liaison"}), frozenset({"jit-demo"}))


# ---- the state machine -------------------------------------------------------------------------------

ALLOWED = {
    "issue": {"DRAFT"},
    "confirm": {"ISSUED"},
    "extend": {"ISSUED", "CONFIRMED", "EXTENDED", "PRODUCTION_REQUESTED", "IN_ENFORCEMENT"},
    "request_production": {"ISSUED", "CONFIRMED", "EXTENDED", "IN_ENFORCEMENT"},
    "mark_produced": {"PRODUCTION_REQUESTED"},
    "lift": {"DRAFT", "ISSUED", "CONFIRMED", "EXTENDED", "PRODUCTION_REQUESTED", "IN_ENFORCEMENT"},
    "record_not_executed": {"ISSUED", "CONFIRMED", "EXTENDED"},
    "expire": {"ISSUED", "CONFIRMED", "EXTENDED", "PRODUCTION_REQUESTED", "IN_ENFORCEMENT"},
    "resume": {"PRODUCTION_REQUESTED"},
    "update_user_notice": {s.value for s in OrderState},
}
#: Where a transition leaves an order that is not its table target: an extension keeps ISSUED and
#: PRODUCTION_REQUESTED, a change of the user notice every state; a resumed order returns to the state
#: before production was requested.
KEEPS = {("extend", "ISSUED"), ("extend", "PRODUCTION_REQUESTED"), ("extend", "IN_ENFORCEMENT")} | {
    ("update_user_notice", s.value) for s in OrderState
}


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("state", [s.value for s in OrderState])
def test_each_transition_is_allowed_only_from_its_states(action: str, state: str) -> None:
    base = replace(confirmed(LegalBasis.NATIONAL), state=OrderState(state), issued_at=T0 - D, expires_at=T0 + 50 * D)
    data = {"follow_up_request_id": "01935c4e-0000-7000-8000-0000000000aa", "reason": "no longer needed"}
    if state in ALLOWED[action]:
        after = step(base, action, T0, **data)
        expected = OrderState(state) if (action, state) in KEEPS else domain.TRANSITIONS[action].target
        assert after.state is expected
        assert after.version == base.version + 1
    else:
        with pytest.raises(FailedPrecondition) as info:
            step(base, action, T0, **data)
        assert info.value.reason == "ILLEGAL_TRANSITION"


def test_every_rpc_transition_belongs_to_the_issuing_side_but_the_enforcing_states_decision() -> None:
    addressed = {a for a, t in domain.TRANSITIONS.items() if t.operation.value != "issuer_act"}
    assert addressed == {"recognise_enforcement", "refuse_enforcement"}
    assert all(t.operation.value == "addressee_act" for a, t in domain.TRANSITIONS.items() if a in addressed)


def test_confirmation_cannot_precede_the_issue() -> None:
    issued = step(new_order(), "issue", T0)
    with pytest.raises(FailedPrecondition) as info:
        step(issued, "confirm", T0 + D, confirmed_at=T0 - D)
    assert info.value.reason == "CONFIRMED_BEFORE_ISSUE"


STATED_DATES = [
    # (action, field, stated time relative to now, accepted)
    ("issue", "issued_at", -85 * D, True),  # an order sent before it was entered here
    ("issue", "issued_at", timedelta(minutes=4), True),  # clock skew
    ("issue", "issued_at", 2 * D, False),
    ("issue", "issued_at", -3 * 366 * D, False),
    ("confirm", "confirmed_at", -30 * D, True),
    ("confirm", "confirmed_at", timedelta(hours=1), False),
    ("confirm", "confirmed_at", -40 * 366 * D, False),
]


@pytest.mark.parametrize(("action", "name", "delta", "accepted"), STATED_DATES)
def test_stated_issue_and_confirmation_times_are_bounded(
    action: str, name: str, delta: timedelta, accepted: bool
) -> None:
    data = TransitionInput(**{name: T0 + delta})  # type: ignore[arg-type]
    fields = {v.field for v in domain.transition_violations(action, data, T0)}
    assert fields == (set() if accepted else {name})


def test_a_date_before_the_platform_existed_is_refused_without_echo() -> None:
    (violation,) = domain.transition_violations(
        "issue", TransitionInput(issued_at=datetime(1970, 1, 1, tzinfo=UTC)), T0
    )
    assert violation.field == "issued_at" and "1970" not in violation.description


@pytest.mark.parametrize(
    ("value", "ok"),
    [("socialnet-ie", True), ("nowhere", False), ("x" * 10_000, False), ("bad id", False), ("../etc", False)],
)
def test_provider_ids_are_checked_for_form_before_the_register(value: str, ok: bool) -> None:
    found = domain.provider_id_violations("provider_id", value, RULES.providers, required=True)
    assert (found == []) == ok
    assert all(len(v.description) < 120 for v in found)  # never the value itself
    assert domain.provider_id_violations("id", "nowhere", None, required=True) == []  # form only


def test_confirmation_overdue_is_derived_from_the_issue_time() -> None:
    issued = step(new_order(), "issue", T0)
    limit = timedelta(days=3)
    assert not issued.is_confirmation_overdue(T0 + 2 * D, limit)
    assert issued.is_confirmation_overdue(T0 + 4 * D, limit)
    assert not step(issued, "confirm", T0 + D).is_confirmation_overdue(T0 + 4 * D, limit)


# ---- warnings ----------------------------------------------------------------------------------------


def test_warning_schedule_of_a_90_day_order() -> None:
    order = confirmed(LegalBasis.PROVIDER_VOLUNTARY)
    expiry = T0 + 90 * D
    sched = [(w.offset, w.due_at, w.first) for w in domain.warning_schedule(order, OFFSETS)]
    assert sched == [
        (14 * D, expiry - 14 * D, True),
        (7 * D, expiry - 7 * D, False),
        (timedelta(hours=48), expiry - timedelta(hours=48), False),
        (timedelta(0), expiry, False),
    ]


def test_an_extension_starts_a_new_series_with_new_keys() -> None:
    order = confirmed(LegalBasis.PROVIDER_VOLUNTARY)
    before = {w.key(order.id) for w in domain.warning_schedule(order, OFFSETS)}
    extended = step(order, "extend", T0 + 80 * D)
    after = domain.warning_schedule(extended, OFFSETS)
    assert before.isdisjoint({w.key(order.id) for w in after})
    assert after[0].first and after[0].due_at == T0 + 180 * D - 14 * D


def test_warnings_due_before_the_clock_started_are_not_scheduled() -> None:
    # A 10-day national clock: a 14-day warning would announce more time than there is.
    rules = Rules(providers=RULES.providers, national=domain.NationalRule(period_days=10, extension_days=10))
    fresh = new_order(LegalBasis.NATIONAL)
    order = domain.apply(fresh, "issue", TransitionInput(), actor=NL, now=T0, rule=rules.clock_for(fresh))
    schedule = domain.warning_schedule(order, OFFSETS)
    assert [w.offset for w in schedule] == [7 * D, timedelta(hours=48), timedelta(0)]
    assert schedule[0].first


def due_alerts(due: list[tuple[str, datetime, timedelta, str]], now: datetime) -> list[Alert]:
    """``domain.due_warnings`` as the scanner names each alert it sends (its payload a ``DueWarning``)."""
    return [Alert(key, at, domain.DueWarning(*payload)) for key, at, payload in domain.due_warnings(due, OFFSETS, now)]


def test_due_warnings_and_next_alert() -> None:
    order = confirmed(LegalBasis.PROVIDER_VOLUNTARY)
    expiry = T0 + 90 * D
    first = domain.next_alert_at(order, OFFSETS)
    assert first == expiry - 14 * D
    # Service down from day 70 to day 89: both missed warnings are due at once, in order.
    due = due_alerts([(order.id, expiry, expiry - first, expiry.isoformat())], T0 + 89 * D)
    assert [w.payload.offset for w in due] == [14 * D, 7 * D, timedelta(hours=48)]
    assert domain.next_alert_at(order, OFFSETS, after=due[-1].due_at) == expiry
    assert domain.next_alert_at(order, OFFSETS, after=expiry) is None


def test_the_scan_finds_the_warnings_of_the_schedule_from_the_pointer_and_the_expiry_alone() -> None:
    """The scan reads three columns of a due order (next_alert_at, id, expiry): the warnings it finds, their
    due times and their keys, are the schedule's own, at every instant of the series, whatever the clock's
    start (a short national clock has no 14-day warning: its pointer never names one)."""
    short = Rules(providers=RULES.providers, national=domain.NationalRule(period_days=10, extension_days=10))
    fresh = new_order(LegalBasis.NATIONAL)
    orders = [
        confirmed(LegalBasis.PROVIDER_VOLUNTARY),
        confirmed(LegalBasis.EPOC_PR),
        domain.apply(fresh, "issue", TransitionInput(), actor=NL, now=T0, rule=short.clock_for(fresh)),
    ]
    for order in orders:
        assert order.expires_at is not None
        schedule = domain.warning_schedule(order, OFFSETS)
        sent_until: datetime | None = None
        # A scan every 12 hours from the start to past the expiry, sending what it finds.
        for now in (T0 + timedelta(hours=12 * k) for k in range(2 * 100)):
            since = domain.next_alert_at(order, OFFSETS, after=sent_until)
            if since is None:
                break
            if since > now:
                continue
            lead = order.expires_at - since
            found = due_alerts([(order.id, order.expires_at, lead, order.expires_at.isoformat())], now)
            expected = [w for w in schedule if since <= w.due_at <= now]
            assert [(w.key, w.due_at, w.payload.offset) for w in found] == [
                (w.key(order.id), w.due_at, w.offset) for w in expected
            ]
            for w in found:
                assert domain.scheduled_warning(order, OFFSETS, w.payload.offset) in schedule
            sent_until = found[-1].due_at
        assert sent_until == order.expires_at  # every warning found, the one at expiry last


def test_a_warning_key_is_the_one_sent_before_this_release() -> None:
    """alerts_sent holds the keys of the warnings sent: a key made differently would send them again."""
    order = confirmed(LegalBasis.PROVIDER_VOLUNTARY)
    expiry = T0 + 90 * D
    assert [w.key(order.id) for w in domain.warning_schedule(order, OFFSETS)] == [
        f"{order.id}:warn:{s}:2026-12-06T09:00:00+00:00" for s in (1209600, 604800, 172800, 0)
    ]
    due = due_alerts(
        [(order.id, expiry + timedelta(microseconds=5), timedelta(0), "2026-12-06T09:00:00.000005+00:00")], expiry + D
    )
    assert [w.key for w in due] == [f"{order.id}:warn:0:2026-12-06T09:00:00.000005+00:00"]


@pytest.mark.parametrize("state", list(OrderState))
def test_an_order_has_a_next_warning_exactly_while_its_clock_runs(state: OrderState) -> None:
    """The scan reads only orders whose next_alert_at is set, and trusts it to be one of their scheduled
    warnings: every write sets it from ``next_alert_at``, which is None in a state without a clock."""
    order = replace(confirmed(LegalBasis.EPOC_PR), state=state)
    pointer = domain.next_alert_at(order, OFFSETS)
    assert (pointer is not None) == (state in domain.CLOCK_STATES)
    if pointer is not None:
        assert pointer in {w.due_at for w in domain.warning_schedule(order, OFFSETS)}
    assert domain.next_alert_at(replace(order, expires_at=None), OFFSETS) is None


def test_parse_offsets() -> None:
    assert domain.parse_offsets("48h, 14d,7d") == OFFSETS
    assert domain.parse_offsets("2d,48h,1d12h") == (timedelta(hours=48), timedelta(hours=36))  # once each
    with pytest.raises(ValueError):
        domain.parse_offsets("14 days")
    with pytest.raises(ValueError):
        domain.parse_offsets("0h")


# ---- input ---------------------------------------------------------------------------------------------

GOOD_TARGETS = [
    ("ACCOUNT_HANDLE", "@harasser_x"),
    ("ACCOUNT_HANDLE", "some.user-1"),
    ("URL", "https://socialnet.example/p/123?x=1"),
    ("PHONE_NUMBER", "+353861234567"),
    ("EMAIL", "someone@mail.example.org"),
]
BAD_TARGETS = [
    ("ACCOUNT_HANDLE", "has space"),
    ("URL", "ftp://x.example/a"),
    ("URL", "not a url"),
    ("PHONE_NUMBER", "0861234567"),
    ("PHONE_NUMBER", "+35386-123"),
    ("EMAIL", "no-at.example.org"),
    ("URL", "https://a.example/\x1b[2J\x00\x07"),
    ("URL", "https://a.example/\u202egpj.exe"),
    ("URL", "http://[evil"),
    ("UNKNOWN", "x"),
]


@pytest.mark.parametrize(("kind", "value"), GOOD_TARGETS)
def test_valid_target_identifiers(kind: str, value: str) -> None:
    assert domain.target_violations((Target(kind, value),)) == []


@pytest.mark.parametrize(("kind", "value"), BAD_TARGETS)
def test_invalid_target_identifiers_name_the_field(kind: str, value: str) -> None:
    fields = {v.field for v in domain.target_violations((Target(kind, value),))}
    assert fields in ({"targets[0].value"}, {"targets[0].kind"})


def test_new_order_violations_name_each_field() -> None:
    cmd = NewOrder(
        request_id="nope",
        workspace_id="Bad WS",
        legal_basis="",
        provider_id="nowhere",
        targets=(),
        data_categories=(),
        description="x\x00",
        restricted=False,
        shared_with=("DE",),
    )
    fields = {v.field for v in domain.new_order_violations(cmd, RULES.providers)}
    assert fields == {
        "request_id",
        "workspace_id",
        "legal_basis",
        "provider_id",
        "targets",
        "data_categories",
        "description",
        "shared_with",
    }


def test_the_demo_register_has_a_large_social_network_in_ie() -> None:
    p = RULES.providers["socialnet-ie"]
    assert (p.establishment_jurisdiction, p.preservation_period_days, p.extension_min_notice_days) == ("IE", 90, 7)
