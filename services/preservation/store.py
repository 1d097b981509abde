"""Persistence of preservation orders (SQLAlchemy 2). Tables, and the queries the servicer and the
warning scanner need; no business rules."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jit.preservation.v1 import preservation_pb2
from jitlib import sqlexec
from jitlib.actors import Actor
from jitlib.answers import Answers
from jitlib.clock import Window, as_utc, as_utc_or_none, stored_isoformat
from jitlib.db import TS, RecordColumns, RecordFields, RecordTable, insert_or_nothing, listed
from jitlib.policy import RecordAccess, VisibilityScope
from jitlib.sealing import SealedText
from jitlib.tables import ServiceBase
from jitlib.visibility import PartyIndex, Statements, VictimIndex
from services.preservation.domain import (
    CLOCK_STATES,
    LegalBasis,
    Order,
    OrderState,
    Recount,
    Target,
    clock_runs,
    enforcement_due_at,
)
from services.preservation.mapping import ANSWER_FORM, order_answer
from services.preservation.removal_domain import ContentItem, Removal, RemovalBasis, RemovalState, Reupload


class Base(ServiceBase, DeclarativeBase, victims=True, alerts=True):
    """The orders' and removal requests' tables, and jitlib's (``Base.tables``): their text is sealed per
    workspace, they name victims by pseudonym, expiry warnings are sent once."""


RUNTIME, ALERTS, VICTIMS = Base.tables.runtime, Base.tables.alerts, Base.tables.victims


class OrderRow(RecordColumns, Base):
    __tablename__ = "preservation_orders"

    legal_basis: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str] = mapped_column(String(64))
    targets: Mapped[str] = mapped_column(Text)  # JSON [[kind, value], ...]
    data_categories: Mapped[str] = mapped_column(String(64))  # comma-separated
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))
    state_reason: Mapped[str] = mapped_column(Text)
    not_executed_reason: Mapped[str] = mapped_column(String(32))
    provider_reference: Mapped[str] = mapped_column(String(200))
    follow_up_request_id: Mapped[str] = mapped_column(String(36))
    #: The follow-up request's access facts (``domain.follow_up_facts``, JSON; revision 0020): who may read
    #: its id. "" when none are known.
    follow_up_facts: Mapped[str] = mapped_column(Text, server_default="")
    issued_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: When the provider received the order (receipt clocks start here); NULL before it was issued.
    received_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    clock_started_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    extension_count: Mapped[int] = mapped_column(Integer)
    extension_deadline: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    produced_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: When production was last requested (the scorecard's time to produce data starts here).
    production_requested_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: While a production request stops the clock: when it stopped, and the seconds that were left then.
    clock_stopped_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    clock_remaining_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the warning scanner must next look at this order (the next unsent warning); NULL when none.
    next_alert_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: The victims the order concerns, comma-separated pseudonyms (``V-NL-0007``): in clear, as they are
    #: no words about the victim and lists filter by them; who they are is in the victims service alone.
    victim_refs: Mapped[str] = mapped_column(Text, server_default="")
    #: The provider's notice to the account holder (``jitlib.usernotice``) and, while SUPPRESSED, when the
    #: non-disclosure order ends (revision 0021).
    user_notice_status: Mapped[str] = mapped_column(String(16), server_default="PENDING")
    user_notice_suppressed_until: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: When the warning scanner must next warn of the end of that non-disclosure order (``notice_due``); NULL
    #: when none is to be sent (not suppressed, a draft, all sent, or a replica).
    notice_alert_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: An EPOC-PR transferred for enforcement (revision 0025): the enforcing state ("" before), when it received
    #: the order, its decision and the ground of a refusal of recognition.
    enforcing_jurisdiction: Mapped[str] = mapped_column(String(16), server_default="")
    enforcement_requested_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    enforcement_decided_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    enforcement_refusal_ground: Mapped[str] = mapped_column(String(48), server_default="")
    #: The jurisdiction that reads the order as its addressee whether or not it is a member of the workspace
    #: (``RecordAccess.outside_reader``: the enforcing state; "" for none): the READ rule's ``addressed_to``.
    enforcement_reader: Mapped[str] = mapped_column(String(16), server_default="")
    #: When the warning scanner must next warn of the enforcing state's deadline to decide (``enforcement_due``);
    #: NULL when none is to be sent (not in enforcement, all sent, or a replica).
    enforcement_alert_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: What users write about an order (targets, description, state reason, the provider's reference),
    #: sealed under the workspace's content key; their own columns stay empty (NULL: a row from before
    #: sealing, sealed at start).
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The order as ``ListOrders`` answers it, sealed (``ANSWERS``, revision 0016); NULL until written.
    answer: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (
        Index("ix_preservation_orders_workspace_state", "workspace_id", "state"),
        Index("ix_preservation_orders_workspace_expires", "workspace_id", "expires_at"),
        Index("ix_preservation_orders_workspace_provider", "workspace_id", "provider_id"),
        Index("ix_preservation_orders_state_issued", "state", "issued_at"),
        # The warning scan (due_for_alert): "next_alert_at <= now", over the orders that still have a warning
        # to send only (NULL for the others: no live clock, or a replica).
        Index(
            "ix_preservation_orders_due",
            "next_alert_at",
            sqlite_where=text("next_alert_at IS NOT NULL"),
            postgresql_where=text("next_alert_at IS NOT NULL"),
        ),
        # The notice warnings' scan (notice_due): "notice_alert_at <= now", over the orders with one to send.
        Index(
            "ix_preservation_orders_notice_due",
            "notice_alert_at",
            sqlite_where=text("notice_alert_at IS NOT NULL"),
            postgresql_where=text("notice_alert_at IS NOT NULL"),
        ),
        # The enforcement warnings' scan (enforcement_due): "enforcement_alert_at <= now", over those with one to send.
        Index(
            "ix_preservation_orders_enforcement_due",
            "enforcement_alert_at",
            sqlite_where=text("enforcement_alert_at IS NOT NULL"),
            postgresql_where=text("enforcement_alert_at IS NOT NULL"),
        ),
        # The orders an enforcing state reads from outside their workspace (the READ rule's addressed_to).
        Index("ix_preservation_orders_enforcement_reader", "enforcement_reader", "id"),
        # The rows whose answer is still to be written (those of before revision 0016), for the fill job.
        Index(
            "ix_preservation_orders_answer_missing",
            "id",
            sqlite_where=text("answer IS NULL"),
            postgresql_where=text("answer IS NULL"),
        ),
    )


#: What users write about an order, sealed at rest (once shredded, no targets are left).
SEALED = SealedText(
    OrderRow, ("targets", "description", "state_reason", "provider_reference"), destroyed={"targets": "[]"}
)

#: One row per jurisdiction party to a order: the visibility index of restricted ones.
#: One row per victim an order names: a victim's orders without testing every order's list (revision 0015).
VICTIMS_NAMED = VictimIndex.declare(
    OrderRow, "preservation_order_victims", key="order_id", index="ix_preservation_order_victims_victim_order"
)
PARTIES = PartyIndex.declare(
    OrderRow,
    "preservation_order_parties",
    key="order_id",
    index="ix_preservation_order_parties_jurisdiction_order",
    victims=VICTIMS_NAMED,
    outside_reader="enforcement_reader",
)


#: The fields of an order kept in columns of the same name (and those every record has).
FIELDS = RecordFields(
    same=(
        "provider_id",
        "description",
        "state_reason",
        "not_executed_reason",
        "provider_reference",
        "follow_up_request_id",
        "follow_up_facts",
        "extension_count",
        "clock_remaining_seconds",
        "user_notice_status",
        "enforcing_jurisdiction",
        "enforcement_refusal_ground",
    ),
    times=(
        "issued_at",
        "received_at",
        "confirmed_at",
        "clock_started_at",
        "expires_at",
        "extension_deadline",
        "produced_at",
        "production_requested_at",
        "clock_stopped_at",
        "user_notice_suppressed_until",
        "enforcement_requested_at",
        "enforcement_decided_at",
    ),
    enums={"legal_basis": LegalBasis, "state": OrderState},
    lists=("data_categories", "victim_refs"),
)


def to_domain(row: Any) -> Order:
    """The order of ``row`` (an ``OrderRow``, or a page's row from ``sealing.opened_rows``)."""
    return FIELDS.load(Order, row, targets=tuple(Target(k, v) for k, v in json.loads(row.targets or "[]")))


def _columns(order: Order) -> dict[str, object]:
    return {
        **FIELDS.write(order),
        "targets": json.dumps([[t.kind, t.value] for t in order.targets]),
        "enforcement_reader": order.access().outside_reader or "",
    }


#: The orders table: get (``for_update`` locks the row), find_by_request, and its writes: insert,
#: update_if_version (the version guard; the order's ``next_alert_at`` given with it) and write_replica.
#: A replica's ``next_alert_at`` stays NULL: this node's scanner never warns of nor expires an order it
#: does not own; the owner's node does, and its events bring the new state (EXPIRED) here.
#: Each order as ``ListOrders`` answers it, written with its row (``jitlib.answers``).
ANSWERS = Answers(
    OrderRow,
    preservation_pb2.PreservationOrder,
    order_answer,
    form=ANSWER_FORM,
    load=lambda _session, rows: [to_domain(r) for r in rows],
)

ORDERS = RecordTable(OrderRow, PARTIES, _columns, lambda _session, row: to_domain(row), sealed=SEALED, answers=ANSWERS)
get = ORDERS.get
find_by_request = ORDERS.find_by_request


def orders_by_id(session: Session, ids: Iterable[str]) -> dict[str, Order]:
    """The orders of ``ids`` that are held here, by id (the orders a page of removal requests links)."""
    found = (get(session, order_id) for order_id in sorted(set(ids)))
    return {order.id: order for order in found if order is not None}


def set_follow_up_facts(session: Session, order_id: str, request_id: str, facts: str) -> None:
    """Keep the newer access facts of the order's follow-up request ``request_id`` (its visibility or sharing
    changed): not a change of the order (no version, no event); what its answers show follows them."""
    session.execute(
        update(OrderRow)
        .where(OrderRow.id == order_id, OrderRow.follow_up_request_id == request_id)
        .values(follow_up_facts=facts)
        .execution_options(synchronize_session=False)
    )


def next_alert_of(session: Session, order_id: str) -> datetime | None:
    return as_utc_or_none(session.scalar(select(OrderRow.next_alert_at).where(OrderRow.id == order_id)))


def set_next_alert(session: Session, order_id: str, next_alert_at: datetime | None) -> None:
    session.execute(
        update(OrderRow)
        .where(OrderRow.id == order_id)
        .values(next_alert_at=next_alert_at)
        .execution_options(synchronize_session=False)
    )


#: The warning scan's statement, built once (the scan runs every interval): of each order whose next warning
#: is due, soonest first, when that warning was due, the order's id and its expiry (``due_for_alert``: all
#: ``domain.due_warnings`` needs). A range scan of the partial index ix_preservation_orders_due, then three
#: plain columns of each due order (no ORM object is made, no sealed text opened, no other timestamp parsed).
_DUE = (
    select(OrderRow.next_alert_at, OrderRow.id, OrderRow.expires_at)
    .where(OrderRow.next_alert_at <= bindparam("now"))
    .order_by(OrderRow.next_alert_at)
    .limit(bindparam("limit", type_=Integer))
)
#: The same, compiled once per dialect and fetched on the DBAPI cursor: the driver's own tuples.
_DUE_ROWS = sqlexec.CompiledSelect(_DUE)


def due_for_alert_query(now: datetime, limit: int) -> Select[tuple[Any, ...]]:
    """The warning scan's statement with its parameters bound (to compile it, or EXPLAIN it)."""
    return _DUE.params(now=now, limit=limit)


def due_for_alert_rows(session: Session, now: datetime, limit: int) -> list[tuple[Any, str, Any]]:
    """The warning scan's rows as the driver gives them: (next_alert_at, id, expires_at), timestamps as
    SQLite's stored text or psycopg's datetimes."""
    return _DUE_ROWS.rows(session, now=now, limit=limit)


def due_for_alert(session: Session, now: datetime, limit: int) -> list[tuple[str, datetime, timedelta, str]]:
    """Up to ``limit`` orders with a warning due at ``now``, soonest first: its id, its expiry, how long
    before the expiry its next warning was due (the expiry less next_alert_at: the offset of the first warning
    not sent yet) and the expiry's ``isoformat`` (the alert key's text). One statement, its rows as the driver
    gives them (``due_for_alert_rows``: no SQLAlchemy row, no result processing); on SQLite each timestamp is
    parsed from its stored text by ``datetime.fromisoformat`` (C) and the key's text is cut from that text
    (``clock.stored_isoformat``), on PostgreSQL they come as datetimes in UTC (the session's TimeZone)."""
    rows = due_for_alert_rows(session, now, limit)
    if not rows or not isinstance(rows[0][0], str):  # PostgreSQL
        out = []
        for since, order_id, expires in rows:
            if expires is not None:
                expires = as_utc(expires)
                out.append((order_id, expires, expires - since, expires.isoformat()))
        return out
    parse, iso = datetime.fromisoformat, stored_isoformat
    return [
        (order_id, parse(expires + "+00:00"), parse(expires) - parse(since), iso(expires))
        for since, order_id, expires in rows
        if expires is not None
    ]


def notice_alert_of(session: Session, order_id: str) -> datetime | None:
    """When the order's next warning of the end of its non-disclosure order is due (None: none is)."""
    return as_utc_or_none(session.scalar(select(OrderRow.notice_alert_at).where(OrderRow.id == order_id)))


def set_notice_alert(session: Session, order_id: str, at: datetime | None) -> None:
    session.execute(
        update(OrderRow)
        .where(OrderRow.id == order_id)
        .values(notice_alert_at=at)
        .execution_options(synchronize_session=False)
    )


#: The notice warnings' scan statement, built and compiled once (it runs with every warning scan): of each
#: order whose next warning of the end of its non-disclosure order is due, soonest first, its id, that end
#: and the warning's due time. A range scan of the partial index ix_preservation_orders_notice_due.
_NOTICE_DUE = sqlexec.CompiledSelect(
    select(OrderRow.id, OrderRow.user_notice_suppressed_until, OrderRow.notice_alert_at)
    .where(OrderRow.notice_alert_at <= bindparam("now"))
    .order_by(OrderRow.notice_alert_at)
    .limit(bindparam("limit", type_=Integer))
)


def notice_due(session: Session, now: datetime, limit: int) -> list[tuple[str, datetime, datetime]]:
    """Up to ``limit`` orders with a warning of the end of their non-disclosure order due at ``now``, soonest
    first: (id, the suppression's end, the next warning's due time), plain columns (no order loaded)."""
    rows = _NOTICE_DUE.converted(session, {"now": now, "limit": limit})
    return [(r[0], as_utc(r[1]), as_utc(r[2])) for r in rows if r[1] is not None]


def enforcement_alert_of(session: Session, order_id: str) -> datetime | None:
    """When the order's next warning of the enforcing state's deadline is due (None: none is)."""
    return as_utc_or_none(session.scalar(select(OrderRow.enforcement_alert_at).where(OrderRow.id == order_id)))


def set_enforcement_alert(session: Session, order_id: str, at: datetime | None) -> None:
    session.execute(
        update(OrderRow)
        .where(OrderRow.id == order_id)
        .values(enforcement_alert_at=at)
        .execution_options(synchronize_session=False)
    )


#: The enforcement warnings' scan statement, built and compiled once: of each order whose next warning of the
#: enforcing state's deadline is due, soonest first, its id, the facts the deadline is counted from and the
#: warning's due time. A range scan of the partial index ix_preservation_orders_enforcement_due.
_ENFORCEMENT_DUE = sqlexec.CompiledSelect(
    select(
        OrderRow.id,
        OrderRow.state,
        OrderRow.enforcing_jurisdiction,
        OrderRow.enforcement_requested_at,
        OrderRow.enforcement_decided_at,
        OrderRow.enforcement_alert_at,
    )
    .where(OrderRow.enforcement_alert_at <= bindparam("now"))
    .order_by(OrderRow.enforcement_alert_at)
    .limit(bindparam("limit", type_=Integer))
)


class EnforcementClock(NamedTuple):
    """The columns the enforcing state's deadline is counted from (``domain.EnforcementFacts``)."""

    state: OrderState
    enforcing_jurisdiction: str
    enforcement_requested_at: datetime | None
    enforcement_decided_at: datetime | None


def enforcement_due(session: Session, now: datetime, limit: int) -> list[tuple[str, datetime, datetime]]:
    """Up to ``limit`` orders with a warning of the enforcing state's deadline due at ``now``, soonest first:
    (id, the deadline, the next warning's due time), the deadline worked out from plain columns."""
    out = []
    rows = _ENFORCEMENT_DUE.converted(session, {"now": now, "limit": limit})
    for order_id, state, enforcing, received, decided, next_at in rows:
        clock = EnforcementClock(_STATES[state], enforcing or "", as_utc_or_none(received), as_utc_or_none(decided))
        deadline = enforcement_due_at(clock)
        if deadline is not None:
            out.append((order_id, deadline, as_utc(next_at)))
    return out


@dataclass(frozen=True)
class OrderFilter:
    states: frozenset[OrderState] = frozenset()
    provider_id: str = ""
    #: When they expire.
    expires: Window = field(default_factory=Window)
    #: Issued before this instant and still ISSUED (confirmation overdue).
    issued_before: datetime | None = None
    victim_ref: str = ""


class Listed(NamedTuple):
    """An order of a page as ``ListOrders`` answers it: its stored answer (``ANSWERS``) with the columns
    what the page adds to it is worked out from (the clock's ``confirmation_overdue``, the caller's actions:
    ``domain.ClockFacts``), or, where the answer does not open, the order read from its row (``order``; None
    too when it was deleted since the page was read: left out of the answer, counted for its token)."""

    id: str
    workspace_id: str
    state: OrderState
    legal_basis: LegalBasis
    provider_id: str
    issued_at: datetime | None
    expires_at: datetime | None
    extension_count: int
    #: The policy's facts of the order (``Order.access``), from its columns.
    facts: RecordAccess
    answer: bytes | None
    order: Order | None
    #: The follow-up request and its access facts: its id is added to the answer for a caller who may read it.
    follow_up_request_id: str = ""
    follow_up_facts: str = ""
    #: Whether its notice's suppression has lapsed is derived from these when read (``domain.NoticeFacts``).
    user_notice_status: str = ""
    user_notice_suppressed_until: datetime | None = None
    #: The enforcement's facts the actions depend on (``domain.ClockFacts``).
    enforcing_jurisdiction: str = ""
    enforcement_decided_at: datetime | None = None

    @property
    def origin_jurisdiction(self) -> str:
        return self.facts.origin_jurisdiction

    def access(self) -> RecordAccess:
        return self.facts

    def clock_runs(self) -> bool:
        return clock_runs(self.state, self.expires_at)


def addressed_in(session: Session, workspace_id: str, jurisdiction: str) -> bool:
    """Whether ``workspace_id`` has an order transferred for enforcement to ``jurisdiction``, which reads it from
    outside the workspace (the READ rule's ``addressed_to`` term, EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER): what
    lets a non-member list that workspace's orders transferred to it."""
    addressed = PARTIES.terms.addressed_to(jurisdiction)  # as the READ rule has it: bound as scope_jurisdiction
    found = session.scalar(
        select(OrderRow.id).where(OrderRow.workspace_id == workspace_id, addressed).limit(1),
        {"scope_jurisdiction": jurisdiction},
    )
    return found is not None


#: The columns of a page answered from ``ANSWERS`` (``list_answered``), the answer's own first.
_LISTED = (
    "id",
    "version",
    "workspace_id",
    "answer",
    "origin_jurisdiction",
    "restricted",
    "shared_with",
    "state",
    "legal_basis",
    "provider_id",
    "issued_at",
    "expires_at",
    "extension_count",
    "follow_up_request_id",
    "follow_up_facts",
    "user_notice_status",
    "user_notice_suppressed_until",
    "enforcing_jurisdiction",
    "enforcement_decided_at",
)
_STATES = {s.value: s for s in OrderState}
_BASES = {b.value: b for b in LegalBasis}


@functools.lru_cache(maxsize=4096)
def _listed_access(
    workspace_id: str, origin: str, restricted: bool, shared_with: str, enforcing: str | None
) -> RecordAccess:
    """A listed order's ``RecordAccess`` from its columns (``shared_with`` as stored), as ``Order.access``
    makes it (``domain.order_access``: the enforcing state its addressee, read from outside too), once for each
    set of them: a page's orders share a few (RecordAccess is immutable)."""
    addressee = enforcing or None
    return RecordAccess(
        workspace_id, origin, addressee, restricted, frozenset(listed(shared_with)), outside_addressee=bool(addressee)
    )


def list_answered(
    session: Session,
    scope: VisibilityScope,
    workspace_ids: frozenset[str] | None,
    flt: OrderFilter,
    *,
    after: tuple[datetime | None, str] | None,
    limit: int,
) -> list[Listed]:
    """Orders of ``workspace_ids`` (of any workspace when None) the scope may see (the policy's READ rule as
    SQL, which lets an enforcing state outside the workspace see the orders transferred to it), soonest expiry first
    (orders without an expiry last), then id, as their stored answers (``Listed``).

    ``after`` is the keyset cursor (expires_at, id) of the last order of the previous page.

    One statement (``_page``) of the columns ``_LISTED``, on the DBAPI cursor (``CompiledSelect.converted``):
    no sealed text opened but each order's answer, no domain record made but for an order whose answer
    does not open, read by id (``RecordTable.answered``).
    """
    bound = PARTIES.bound(scope, workspace_ids, flt.states, victim_ref=flt.victim_ref, provider_id=flt.provider_id)
    bound.add_window("expires", OrderRow.expires_at, flt.expires)
    if flt.issued_before is not None:
        bound.add(
            "issued_before",
            lambda: [OrderRow.state == OrderState.ISSUED.value, OrderRow.issued_at < bindparam("issued_before")],
            issued_before=flt.issued_before,
        )
    params: dict[str, Any] = {**bound.params, "limit": limit}
    if after is None:
        cursor = "first"
    else:
        # Not ``after_id``: a victim's orders are found from the victims' index after that id, for a list in
        # id order (``VictimIndex.names``); this one is in expiry order, its cursor's id no bound of theirs.
        expires, params["after_order"] = after
        cursor = "no_expiry" if expires is None else "expiring"
        params["after_expires"] = expires
    rows = _ORDERS_PAGE[cursor].of(bound).converted(session, params)
    utc = as_utc_or_none
    return [
        Listed(
            r[0],
            r[2],
            _STATES[r[7]],
            _BASES[r[8]],
            r[9],
            utc(r[10]),
            utc(r[11]),
            r[12],
            _listed_access(r[2], r[4], r[5], r[6], r[17]),
            answer,
            order,
            r[13] or "",
            r[14] or "",
            r[15] or "",
            utc(r[16]),
            r[17] or "",
            utc(r[18]),
        )
        for r, answer, order in ORDERS.answered(session, rows)
    ]


_ORDER_TABLE = cast(Table, OrderRow.__table__)


def _page(conditions: list[Any], cursor: str) -> sqlexec.CompiledSelect:
    """A page of ``list_answered`` (``cursor``: the first page, or after an order with an expiry or without
    one) in one statement: the ids of at most ``limit`` orders with an expiry (soonest first) and of at most
    ``limit`` without one (by id), each read on an index in its own order (the workspace's expiries, its
    ids), not every order of the workspace sorted; then those rows in the list's order, up to ``limit``."""
    row = OrderRow
    arms = []
    if cursor != "no_expiry":
        later = (
            [
                or_(
                    row.expires_at > bindparam("after_expires"),
                    and_(row.expires_at == bindparam("after_expires"), row.id > bindparam("after_order")),
                )
            ]
            if cursor == "expiring"
            else []
        )
        expiring = select(row.id).where(*conditions, row.expires_at.is_not(None), *later)
        arms.append(expiring.order_by(row.expires_at, row.id).limit(bindparam("limit")).subquery())
    later = [row.id > bindparam("after_order")] if cursor == "no_expiry" else []
    never = select(row.id).where(*conditions, row.expires_at.is_(None), *later)
    arms.append(never.order_by(row.id).limit(bindparam("limit")).subquery())
    ids = union_all(*(select(arm.c.id) for arm in arms))
    t = _ORDER_TABLE
    return sqlexec.CompiledSelect(
        select(*(t.c[name] for name in _LISTED))
        .where(t.c.id.in_(ids))
        .order_by(case((t.c.expires_at.is_(None), 1), else_=0), t.c.expires_at, t.c.id)
        .limit(bindparam("limit"))
    )


#: ``list_answered``'s page of each filter shape and cursor, built and compiled once.
_ORDERS_PAGE = {
    cursor: Statements(functools.partial(_page, cursor=cursor)) for cursor in ("first", "expiring", "no_expiry")
}


# ---- the start's recount of stored clocks (services.preservation.recount) ---------------------------------


class ClockCountRow(Base):
    """Each way of counting the clocks' periods (``domain.COUNTING``) the running clocks stored were brought
    to, once, at start (``services.preservation.recount``; revision 0019): when, and how many orders moved."""

    __tablename__ = "preservation_clock_counts"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recounted_at: Mapped[datetime] = mapped_column(TS)
    orders_changed: Mapped[int] = mapped_column(Integer)


def recounted(session: Session, version: int) -> bool:
    """Whether the stored clocks were brought to the count ``version`` already."""
    return session.get(ClockCountRow, version) is not None


def mark_recounted(session: Session, version: int, at: datetime, orders_changed: int) -> None:
    """Record the count ``version`` as done; a record of it already there (the replicas of the service
    sharing a PostgreSQL database start together, and each recounts) stands."""
    values = {"version": version, "recounted_at": at, "orders_changed": orders_changed}
    session.execute(insert_or_nothing(session, cast(Table, ClockCountRow.__table__)).values(**values))


class StoredClock(NamedTuple):
    """An order whose clock runs, as its expiry is counted (``domain.StoredClock``, ``Rules.clock_for``)."""

    id: str
    workspace_id: str
    #: Another node's order (``ORDERS.write_replica``): it warns of nothing here.
    replica: bool
    legal_basis: LegalBasis
    provider_id: str
    received_at: datetime | None
    confirmed_at: datetime | None
    expires_at: datetime | None
    extension_count: int


_RUNNING_PAGE = (
    select(
        OrderRow.id,
        OrderRow.workspace_id,
        OrderRow.replicated_at,
        OrderRow.legal_basis,
        OrderRow.provider_id,
        OrderRow.received_at,
        OrderRow.confirmed_at,
        OrderRow.expires_at,
        OrderRow.extension_count,
    )
    .where(
        OrderRow.legal_basis.in_(bindparam("bases", expanding=True)),
        OrderRow.state.in_(sorted(s.value for s in CLOCK_STATES)),
        OrderRow.expires_at.is_not(None),
        OrderRow.id > bindparam("after"),
    )
    .order_by(OrderRow.id)
    .limit(bindparam("limit"))
    # Until the page's transaction ends, a change of one of its orders (another replica of the service,
    # serving meanwhile) waits, then writes its own count: never one from the clock read here before it.
    .with_for_update()
)


def running_clocks(session: Session, bases: Sequence[LegalBasis], after: str, limit: int) -> list[StoredClock]:
    """The next ``limit`` orders of ``bases`` whose clock runs (a clock state and an expiry), in id order after
    ``after``, locked until the end of the transaction: the columns their expiry is counted from (no sealed
    text opened)."""
    rows = session.execute(_RUNNING_PAGE, {"bases": [b.value for b in bases], "after": after, "limit": limit})
    return [
        StoredClock(
            r.id,
            r.workspace_id,
            r.replicated_at is not None,
            LegalBasis(r.legal_basis),
            r.provider_id,
            as_utc_or_none(r.received_at),
            as_utc_or_none(r.confirmed_at),
            as_utc_or_none(r.expires_at),
            r.extension_count,
        )
        for r in rows
    ]


_MOVE_CLOCK = (
    update(_ORDER_TABLE)
    .where(_ORDER_TABLE.c.id == bindparam("moved_id"))
    .values(
        expires_at=bindparam("moved_expires_at"),
        extension_deadline=bindparam("moved_extension_deadline"),
        clock_started_at=bindparam("moved_clock_started_at"),
        next_alert_at=bindparam("moved_next_alert_at"),
        # The stored answer holds the former expiry under the same version (it would still open): emptied,
        # for the service's background job to write again (``jitlib.answers.AnswersFill``).
        answer=None,
    )
)


def move_clocks(session: Session, moved: Sequence[tuple[str, Recount]]) -> None:
    """Store, for each (order id, its recounted clock), the new expiry, extension deadline, clock start and
    next warning (as given: None for a replica), and empty its stored answer; the orders' versions and the
    rest of them unchanged. One statement."""
    if not moved:
        return
    session.connection().execute(
        _MOVE_CLOCK,
        [
            {
                "moved_id": order_id,
                "moved_expires_at": c.expires_at,
                "moved_extension_deadline": c.extension_deadline,
                "moved_clock_started_at": c.clock_started_at,
                "moved_next_alert_at": c.next_alert_at,
            }
            for order_id, c in moved
        ],
    )


# ---- removal requests to platforms (issue 18) ------------------------------------------------------------


class RemovalRow(RecordColumns, Base):
    __tablename__ = "removal_requests"

    basis: Mapped[str] = mapped_column(String(32))
    national_jurisdiction: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(64))
    items: Mapped[str] = mapped_column(Text)  # JSON [[url, item id, account, sha256], ...]
    state: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(TS)
    due_at: Mapped[datetime] = mapped_column(TS)
    clock_seconds: Mapped[int] = mapped_column(Integer)
    clock_source: Mapped[str] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    refusal_reason: Mapped[str] = mapped_column(String(32))
    state_reason: Mapped[str] = mapped_column(Text)
    blocked_in: Mapped[str] = mapped_column(Text)  # comma-separated
    reupload_count: Mapped[int] = mapped_column(Integer)
    reuploads: Mapped[str] = mapped_column(Text)  # JSON [[sha256, url, seen_at, user id, username, jurisdiction]]
    preservation_order_id: Mapped[str] = mapped_column(String(36))
    proceed_without_preservation_reason: Mapped[str] = mapped_column(Text)
    #: The victims the request concerns, comma-separated pseudonyms (in clear, as on orders).
    victim_refs: Mapped[str] = mapped_column(Text)
    #: The items, the re-uploads' URLs, the state reason and the reason to go on without preservation,
    #: sealed under the workspace's content key (``SEALED_REMOVAL``); their own columns stay empty.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (
        Index("ix_removal_requests_workspace_state", "workspace_id", "state"),
        Index("ix_removal_requests_workspace_due", "workspace_id", "due_at"),
        Index("ix_removal_requests_provider", "provider_id"),
    )


#: What users write about a removal request, sealed at rest (once shredded, no items are left).
SEALED_REMOVAL = SealedText(
    RemovalRow,
    ("items", "reuploads", "state_reason", "proceed_without_preservation_reason"),
    destroyed={"items": "[]", "reuploads": "[]"},
)

#: One row per victim a removal request names (revision 0015).
REMOVAL_VICTIMS = VictimIndex.declare(
    RemovalRow, "removal_request_victims", key="removal_id", index="ix_removal_request_victims_victim_removal"
)
REMOVAL_PARTIES = PartyIndex.declare(
    RemovalRow,
    "removal_request_parties",
    key="removal_id",
    index="ix_removal_request_parties_jurisdiction_removal",
    victims=REMOVAL_VICTIMS,
)

REMOVAL_FIELDS = RecordFields(
    same=(
        "national_jurisdiction",
        "provider_id",
        "clock_seconds",
        "clock_source",
        "refusal_reason",
        "state_reason",
        "reupload_count",
        "preservation_order_id",
        "proceed_without_preservation_reason",
    ),
    times=("sent_at", "due_at", "acknowledged_at", "decided_at", "answered_at", "removed_at"),
    enums={"basis": RemovalBasis, "state": RemovalState},
    lists=("blocked_in", "victim_refs"),
)


def removal_to_domain(row: RemovalRow) -> Removal:
    reuploads = tuple(
        Reupload(sha, url, as_utc(datetime.fromisoformat(seen)), Actor(uid, name, jur))
        for sha, url, seen, uid, name, jur in json.loads(row.reuploads or "[]")
    )
    return Removal(
        **REMOVAL_FIELDS.read(row),
        items=tuple(ContentItem(*i) for i in json.loads(row.items or "[]")),
        reuploads=reuploads,
    )


def _removal_columns(removal: Removal) -> dict[str, object]:
    return {
        **REMOVAL_FIELDS.write(removal),
        "items": json.dumps([[i.url, i.platform_item_id, i.account, i.sha256] for i in removal.items]),
        "reuploads": json.dumps(
            [
                [
                    r.sha256,
                    r.url,
                    r.seen_at.isoformat(),
                    r.recorded_by.user_id,
                    r.recorded_by.username,
                    r.recorded_by.jurisdiction,
                ]
                for r in removal.reuploads
            ]
        ),
    }


#: The removal requests table: get, find_by_request, insert, update_if_version, write_replica.
REMOVALS = RecordTable(
    RemovalRow, REMOVAL_PARTIES, _removal_columns, lambda _session, row: removal_to_domain(row), sealed=SEALED_REMOVAL
)
get_removal = REMOVALS.get
find_removal_by_request = REMOVALS.find_by_request


def orders_of_provider(session: Session, workspace_id: str, provider_id: str) -> list[Order]:
    """The workspace's preservation orders with ``provider_id`` that still hold (or held) data: the candidates
    a removal request links to (the domain decides which covers the content)."""
    live = [
        s.value
        for s in (
            OrderState.ISSUED,
            OrderState.CONFIRMED,
            OrderState.EXTENDED,
            OrderState.PRODUCTION_REQUESTED,
            OrderState.PRODUCED,
        )
    ]
    rows = session.scalars(
        select(OrderRow).where(
            OrderRow.workspace_id == workspace_id, OrderRow.provider_id == provider_id, OrderRow.state.in_(live)
        )
    )
    return [to_domain(r) for r in rows]


@dataclass(frozen=True)
class RemovalFilter:
    states: frozenset[RemovalState] = frozenset()
    provider_id: str = ""
    victim_ref: str = ""


def list_removals(
    session: Session,
    scope: VisibilityScope,
    workspace_ids: frozenset[str],
    flt: RemovalFilter,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Removal]:
    """Removal requests of ``workspace_ids`` the scope may see, soonest due first, then id; ``after`` is the
    keyset cursor (due_at, id) of the previous page's last request."""
    bound = REMOVAL_PARTIES.bound(
        scope, workspace_ids, flt.states, victim_ref=flt.victim_ref, provider_id=flt.provider_id
    )
    if after is not None:
        # Not ``after_id``, which bounds the ids a victim's requests are found from (as for orders).
        due, after_removal = after
        bound.add("after", _after_due, after_due=due, after_removal=after_removal)
    return [removal_to_domain(r) for r in _REMOVALS_PAGE.scalars(session, bound, limit=limit)]


def _after_due() -> Any:
    return or_(
        RemovalRow.due_at > bindparam("after_due"),
        and_(RemovalRow.due_at == bindparam("after_due"), RemovalRow.id > bindparam("after_removal")),
    )


#: ``list_removals``' page of each filter shape, built once: soonest due first.
_REMOVALS_PAGE = Statements(
    lambda conditions: (
        select(RemovalRow).where(*conditions).order_by(RemovalRow.due_at, RemovalRow.id).limit(bindparam("limit"))
    )
)
