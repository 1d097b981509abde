"""ListOrders answers each order from its stored answer (``store.ANSWERS``) with the clock's
``confirmation_overdue`` and the caller's actions written after it, worked out from the page's columns
(``store.Listed``) instead of the order: the same message and the same actions as the order itself gives,
whatever its state, legal basis, provider, expiry, extensions and issue, at any instant, for any caller."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jit.preservation.v1 import preservation_pb2 as pb
from jitlib.actors import Actor
from jitlib.principal import Principal
from jitlib.wire import ListWire
from services.preservation import domain, providers, store
from services.preservation.domain import LegalBasis, NewOrder, Order, OrderState, Rules, Target
from services.preservation.mapping import order_answer, order_to_pb

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
D = timedelta(days=1)
RULES = Rules(providers=providers.load())
WIRE = ListWire(pb.PreservationOrder, pb.ListOrdersResponse, "orders")

CALLERS = (
    Principal("u-nl", "nl-liaison", "NL", frozenset({"police_liaison"}), frozenset({"jit-demo"})),
    Principal("u-nl-p", "nl-prosecutor", "NL", frozenset({"prosecutor"}), frozenset({"jit-demo"})),
    Principal("u-de", "de-liaison", "DE", frozenset({"police_liaison"}), frozenset({"jit-demo"})),
    Principal("u-ie", "ie-liaison", "IE", frozenset({"police_liaison"}), frozenset({"jit-other"})),
    # The enforcing state of the orders transferred for enforcement, outside their workspace.
    Principal("u-ie-p", "ie-prosecutor", "IE", frozenset({"prosecutor"}), frozenset({"jit-other"})),
)


def order(basis: LegalBasis, provider: str, *, restricted: bool = True, shared: tuple[str, ...] = ()) -> Order:
    cmd = NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=basis.value,
        provider_id=provider,
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x"), Target("URL", "https://example.test/p/1")),
        data_categories=("SUBSCRIBER", "CONTENT"),
        description="Doxxing posts «ü»",
        restricted=restricted,
        shared_with=shared,
        victim_refs=("V-NL-0007",),
    )
    return domain.create(cmd, order_id="01935c4e-0000-7000-8000-000000000001", actor=Actor("u", "u", "NL"), now=T0)


def listed(o: Order) -> store.Listed:
    """The order as its page's row gives it (``store.list_answered``): its columns, not the order."""
    return store.Listed(
        o.id,
        o.workspace_id,
        o.state,
        o.legal_basis,
        o.provider_id,
        o.issued_at,
        o.expires_at,
        o.extension_count,
        store._listed_access(
            o.workspace_id, o.origin_jurisdiction, o.restricted, ",".join(o.shared_with), o.enforcing_jurisdiction
        ),
        b"",
        None,
        enforcing_jurisdiction=o.enforcing_jurisdiction,
        enforcement_decided_at=o.enforcement_decided_at,
    )


def orders() -> list[Order]:
    """Orders of every state and basis, a provider in the register and one removed from it, with and without
    an expiry (past, near, far), extended none, once and three times, issued long ago, lately or never."""
    out = []
    bases = list(LegalBasis)
    for i, (state, basis) in enumerate(itertools.product(OrderState, bases)):
        base = order(
            basis, "socialnet-ie" if i % 3 else "gone-provider", restricted=i % 2 == 0, shared=("DE",) * (i % 2)
        )
        for expires, count, issued in itertools.product(
            (None, T0 - D, T0 + D, T0 + 50 * D), (0, 1, 3), (None, T0 - 5 * D, T0 - D)
        ):
            # Transferred for enforcement to IE (and for some, recognised since): the enforcing state's facts;
            # undecided while production is requested from there (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION).
            transferred = (
                state in (OrderState.IN_ENFORCEMENT, OrderState.NOT_ENFORCED)
                or (i % 4 == 1 and issued)
                or (state is OrderState.PRODUCTION_REQUESTED and basis is LegalBasis.EPOC_PR)
            )
            pending = state is OrderState.IN_ENFORCEMENT or (state is OrderState.PRODUCTION_REQUESTED and count == 1)
            enforcement = (
                {"enforcing_jurisdiction": "IE", "enforcement_requested_at": T0 - 2 * D}
                | ({"enforcement_decided_at": T0 - D} if not pending else {})
                if transferred
                else {}
            )
            out.append(
                replace(base, state=state, expires_at=expires, extension_count=count, issued_at=issued, **enforcement)
            )
    return out


ORDERS = orders()


@pytest.mark.parametrize("now", [T0, T0 + 2 * D, T0 + 60 * D])
def test_a_listed_row_allows_the_actions_its_order_allows(now: datetime) -> None:
    differ = []
    for o, caller in itertools.product(ORDERS, CALLERS):
        row = listed(o)
        assert row.access() == o.access()
        mine = domain.allowed_actions(row, caller, RULES.clock_for(row), now)
        theirs = domain.allowed_actions(o, caller, RULES.clock_for(o), now)
        if mine != theirs:
            differ.append((o.state, o.legal_basis, o.expires_at, o.extension_count, caller.username, mine, theirs))
    assert not differ, differ[:5]
    # The grid asks something: each action is offered to some order and refused to some other.
    offered = {a for o in ORDERS for a in domain.allowed_actions(o, CALLERS[0], RULES.clock_for(o), now)}
    assert {"issue", "confirm", "lift"} <= offered


def test_the_grid_holds_orders_whose_actions_depend_on_their_clock() -> None:
    """Orders alike but for their expiry, their extensions or the instant asked are offered different
    actions: ``Listed`` carries each of those facts."""
    caller = CALLERS[0]
    seen = set()
    for o in ORDERS:
        for now in (T0, T0 + 60 * D):
            seen.add((o.state, o.legal_basis, domain.allowed_actions(o, caller, RULES.clock_for(o), now)))
    by_kind: dict[tuple[OrderState, LegalBasis], set[tuple[str, ...]]] = {}
    for state, basis, actions in seen:
        by_kind.setdefault((state, basis), set()).add(actions)
    assert any(len(v) > 1 for v in by_kind.values())


@pytest.mark.parametrize("now", [T0, T0 + 4 * D])
def test_an_answer_with_what_a_page_adds_is_the_order_s_message(now: datetime) -> None:
    limit = RULES.confirmation_overdue_after
    overdue_seen = set()
    for o in ORDERS[::7]:
        actions = domain.allowed_actions(o, CALLERS[0], RULES.clock_for(o), now)
        row = listed(o)
        body = order_answer(o)
        overdue = domain.confirmation_overdue(row.state, row.issued_at, now, limit)
        overdue_seen.add(overdue)
        if overdue:
            body += WIRE.true("confirmation_overdue")
        if actions:
            body += WIRE.strings("allowed_actions")(actions)
        assert pb.PreservationOrder.FromString(body) == order_to_pb(o, now, limit, actions)
    assert overdue_seen == {True, False}


def test_the_stored_answer_holds_neither_the_clock_s_nor_the_caller_s_fields() -> None:
    o = replace(ORDERS[0], state=OrderState.ISSUED, issued_at=T0 - 30 * D)
    stored = pb.PreservationOrder.FromString(order_answer(o))
    assert not stored.confirmation_overdue and not stored.allowed_actions
    assert stored == order_to_pb(o, T0 - 40 * D, RULES.confirmation_overdue_after)


def test_a_listed_order_shows_its_notice_suppression_lapsed_from_its_row_as_the_order_does() -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: the stored answer carries the user notice but never the
    lapse; the page's row carries what the lapse is derived from, and the answer with the flag written after
    it is the order's message at that instant."""
    until = T0 + 3 * D
    o = replace(ORDERS[0], user_notice_status="SUPPRESSED", user_notice_suppressed_until=until)
    row = listed(o)._replace(user_notice_status="SUPPRESSED", user_notice_suppressed_until=until)
    for now, lapsed in ((until - D, False), (until, True)):
        assert domain.suppression_lapsed(row, now) is lapsed
        body = order_answer(o) + (WIRE.true("user_notice_suppression_lapsed") if lapsed else b"")
        assert pb.PreservationOrder.FromString(body) == order_to_pb(o, now, timedelta(days=3000))
