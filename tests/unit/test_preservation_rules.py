"""Preservation-order rules, pure: expiry clocks per legal basis (each row cites its source), extensions,
the state machine, the warning schedule and input validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jitlib.actors import Actor
from jitlib.errors import FailedPrecondition
from services.preservation import domain, providers
from services.preservation.domain import (
    LegalBasis,
    NewOrder,
    OrderState,
    Rules,
    Target,
    TransitionInput,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-liaison", "NL")
RULES = Rules(providers=providers.load())
D = timedelta(days=1)
OFFSETS = (timedelta(days=14), timedelta(days=7), timedelta(hours=48))


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
    # (legal basis, provider, days until expiry after confirmation, source)
    (LegalBasis.EPOC_PR, "socialnet-ie", 60, "Reg. (EU) 2023/1543 Art. 11(1): ends after 60 days"),
    (LegalBasis.BUDAPEST_ART29, "socialnet-ie", 60, "CETS 185 Art. 29(7): at least 60 days"),
    (LegalBasis.PROVIDER_VOLUNTARY, "socialnet-ie", 90, "provider guideline: preserved 90 days"),
    (LegalBasis.PROVIDER_VOLUNTARY, "chatapp-nl", 60, "provider guideline (demo register): 60 days"),
    (LegalBasis.NATIONAL, "socialnet-ie", 90, "national law as configured; default CETS 185 Art. 16(2): 90 days"),
]


@pytest.mark.parametrize(("basis", "provider", "days", "source"), CLOCKS)
def test_expiry_is_computed_from_the_confirmation_time(
    basis: LegalBasis, provider: str, days: int, source: str
) -> None:
    confirmed_at = T0 + timedelta(hours=5)
    order = step(step(new_order(basis, provider), "issue", T0), "confirm", T0 + D, confirmed_at=confirmed_at)
    assert order.state is OrderState.CONFIRMED
    assert order.confirmed_at == confirmed_at
    assert order.expires_at == confirmed_at + timedelta(days=days), source


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
        assert extended.expires_at == T0 + timedelta(days=int(expect)), source  # type: ignore[call-overload]
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
    assert confirmed(LegalBasis.EPOC_PR).extension_deadline == T0 + 60 * D
    assert confirmed(LegalBasis.BUDAPEST_ART29).extension_deadline is None


def test_production_requested_keeps_the_order_alive_without_expiry() -> None:
    order = step(
        confirmed(LegalBasis.EPOC_PR),
        "request_production",
        T0 + 20 * D,
        follow_up_request_id="01935c4e-0000-7000-8000-0000000000aa",
    )
    assert order.state is OrderState.PRODUCTION_REQUESTED
    assert order.expires_at is None and order.follow_up_request_id.endswith("aa")
    assert domain.warning_schedule(order, OFFSETS) == []
    produced = step(order, "mark_produced", T0 + 200 * D)
    assert produced.state is OrderState.PRODUCED and produced.produced_at == T0 + 200 * D


# ---- the state machine -------------------------------------------------------------------------------

ALLOWED = {
    "issue": {"DRAFT"},
    "confirm": {"ISSUED"},
    "extend": {"CONFIRMED", "EXTENDED"},
    "request_production": {"ISSUED", "CONFIRMED", "EXTENDED"},
    "mark_produced": {"PRODUCTION_REQUESTED"},
    "lift": {"DRAFT", "ISSUED", "CONFIRMED", "EXTENDED", "PRODUCTION_REQUESTED"},
    "record_not_executed": {"ISSUED", "CONFIRMED", "EXTENDED"},
    "expire": {"CONFIRMED", "EXTENDED"},
}


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("state", [s.value for s in OrderState])
def test_each_transition_is_allowed_only_from_its_states(action: str, state: str) -> None:
    base = replace(confirmed(LegalBasis.NATIONAL), state=OrderState(state), issued_at=T0 - D, expires_at=T0 + 50 * D)
    data = {"follow_up_request_id": "01935c4e-0000-7000-8000-0000000000aa", "reason": "no longer needed"}
    if state in ALLOWED[action]:
        after = step(base, action, T0, **data)
        assert after.state is domain.TRANSITIONS[action].target
        assert after.version == base.version + 1
    else:
        with pytest.raises(FailedPrecondition) as info:
            step(base, action, T0, **data)
        assert info.value.reason == "ILLEGAL_TRANSITION"


def test_every_rpc_transition_belongs_to_the_issuing_side() -> None:
    assert {t.operation.value for t in domain.TRANSITIONS.values()} == {"issuer_act"}


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
    issued = step(new_order(LegalBasis.NATIONAL), "issue", T0)
    order = domain.apply(issued, "confirm", TransitionInput(), actor=NL, now=T0, rule=rules.clock_for(issued))
    schedule = domain.warning_schedule(order, OFFSETS)
    assert [w.offset for w in schedule] == [7 * D, timedelta(hours=48), timedelta(0)]
    assert schedule[0].first


def test_due_warnings_and_next_alert() -> None:
    order = confirmed(LegalBasis.PROVIDER_VOLUNTARY)
    expiry = T0 + 90 * D
    first = domain.next_alert_at(order, OFFSETS)
    assert first == expiry - 14 * D
    # Service down from day 70 to day 89: both missed warnings are due at once, in order.
    due = domain.due_warnings(order, OFFSETS, first, T0 + 89 * D)
    assert [w.offset for w in due] == [14 * D, 7 * D, timedelta(hours=48)]
    assert domain.next_alert_at(order, OFFSETS, after=due[-1].due_at) == expiry
    assert domain.next_alert_at(order, OFFSETS, after=expiry) is None


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
