"""Persistence of evidence requests, items, custody chains, workspace data keys, the running deadlines and
the replica of preservation orders (SQLAlchemy 2). Tables and queries; no business rules."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import crypto, sealing
from jitlib.answers import Answers
from jitlib.clock import as_utc, as_utc_or_none
from jitlib.db import (
    TS,
    Fields,
    RecordColumns,
    RecordFields,
    RecordTable,
    Stored,
    actor_columns,
    insert_or_nothing,
    listed,
)
from jitlib.federation import DEFAULT_RETENTION_DAYS
from jitlib.fields import same_fields
from jitlib.policy import RecordAccess, VisibilityScope
from jitlib.sealing import UNAVAILABLE, SealedText, opened_rows
from jitlib.sqlexec import CompiledInsert, CompiledSelect, CompiledUpdate
from jitlib.tables import ServiceBase
from jitlib.visibility import BoundFilter, PartyIndex, VictimIndex
from services.evidence import custody
from services.evidence.deadlines import Deadline, DeadlineKind
from services.evidence.domain import (
    CategoryOutcome,
    CategoryState,
    Consent,
    Delay,
    EvidenceItem,
    EvidenceRequest,
    ItemReplica,
    OrderReplica,
    Refusal,
    State,
    Target,
    addressed_to_provider,
    request_access,
    restriction_entry,
)
from services.evidence.mapping import ANSWER_FORM, AnsweredRequest, answered, request_answer


class Base(ServiceBase, DeclarativeBase, victims=True, alerts=True):
    """The evidence tables, and jitlib's (``Base.tables``): each workspace's data key (``workspace_keys``)
    seals the workspace's requests' and items' text and its evidence blobs, so shredding it destroys them
    all; requests name victims by pseudonym; deadline alerts are sent once."""


RUNTIME, ALERTS, VICTIMS = Base.tables.runtime, Base.tables.alerts, Base.tables.victims


class RequestRow(RecordColumns, Base):
    __tablename__ = "evidence_requests"

    issuing_authority: Mapped[str] = mapped_column(String(300))
    legal_basis: Mapped[str] = mapped_column(String(16))
    epoc_procedure: Mapped[str] = mapped_column(String(32))
    addressee_kind: Mapped[str] = mapped_column(String(20))
    addressee_jurisdiction: Mapped[str] = mapped_column(String(16))
    provider_name: Mapped[str] = mapped_column(String(200))
    data_categories: Mapped[str] = mapped_column(Text)  # comma-separated
    targets: Mapped[str] = mapped_column(Text)  # JSON [[type, value, platform], ...]
    offence_category: Mapped[str] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    preservation_order_id: Mapped[str] = mapped_column(String(36))
    user_notice_status: Mapped[str] = mapped_column(String(16))
    user_notice_suppressed_until: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    state_reason: Mapped[str] = mapped_column(Text)
    refusal_ground: Mapped[str] = mapped_column(String(32))
    non_execution_reason: Mapped[str] = mapped_column(String(32))
    decision_extended: Mapped[bool] = mapped_column(Boolean)
    postponed_until: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: While POSTPONED: the state it resumes to ("" otherwise), and since when.
    postponed_from: Mapped[str] = mapped_column(String(20), server_default="")
    postponed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: How long postponements held the decision and the execution back (seconds).
    decision_suspended_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    execution_suspended_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    #: When an objection restricted the items received until then (EPOC_EMERGENCY_OBJECTION).
    items_restricted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    next_deadline_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    #: The jurisdiction that reads the request as its addressee whether or not it is a member of the
    #: workspace (``RecordAccess.outside_reader``; "" for none): the READ rule's ``addressed_to`` in SQL.
    addressee_reader: Mapped[str] = mapped_column(String(16), server_default="")
    #: The data categories decided in this submission, JSON [[category, state, ground, decided_at], ...]
    #: (enum names and a time: no free text); the request's other categories are open.
    category_outcomes: Mapped[str] = mapped_column(Text, server_default="[]")
    #: Every refusal of every submission, JSON [[submission, ground, [categories], refused_at, whole], ...].
    refusals: Mapped[str] = mapped_column(Text, server_default="[]")
    submission: Mapped[int] = mapped_column(Integer, server_default="1")
    #: Why an EPOC for traffic or content data is issued without notification (Reg. 2023/1543 Art. 8(2)):
    #: sealed with the request's other text, this column stays empty.
    notification_exemption_reason: Mapped[str] = mapped_column(Text, server_default="")
    #: The victims the request concerns, comma-separated pseudonyms (``V-NL-0007``): in clear, as they are
    #: no words about the victim and lists filter by them; who they are is in the victims service alone.
    victim_refs: Mapped[str] = mapped_column(Text, server_default="")
    #: EPOC or EIO: the listed offence its issuer indicated (Annex IV, Annex D; "" for none) and the maximum
    #: custodial sentence for it in the issuing state, in months (0 for none): revision 0031.
    listed_offence: Mapped[str] = mapped_column(String(48), server_default="")
    max_sentence_months: Mapped[int] = mapped_column(Integer, server_default="0")
    #: An EPOC transferred for enforcement (revision 0033): the enforcing state ("" before), when it received
    #: the order, when it decided and the ground of a refusal of recognition ("" otherwise).
    enforcing_jurisdiction: Mapped[str] = mapped_column(String(16), server_default="")
    enforcement_requested_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    enforcement_decided_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    enforcement_refusal_ground: Mapped[str] = mapped_column(String(48), server_default="")
    #: The days the enforcing state gave the provider to comply when it recognised the order (revision 0037;
    #: 0 before, and for a recognition recorded before it).
    compliance_days: Mapped[int] = mapped_column(Integer, server_default="0")
    #: What users write about a request (title, description, state reason, targets), sealed under the
    #: workspace's key; their own columns stay empty (NULL: a row from before sealing, sealed at start).
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The request as ``ListRequests`` answers it, sealed (``ANSWERS``, revision 0026); NULL until written.
    answer: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The jurisdictions party to the request, each between commas (``,DE,NL,``; revision 0029), written
    #: with its ``evidence_request_parties`` rows: what a PostgreSQL page tests for the READ rule
    #: (``PartyIndex`` ``listed``).
    parties: Mapped[str] = mapped_column(Text, server_default="")

    __table_args__ = (
        Index("ix_evidence_requests_preservation_order", "preservation_order_id"),
        # The rows whose answer is still to be written (those of before revision 0026, or of an older
        # count of deadlines), for the fill job.
        Index(
            "ix_evidence_requests_answer_missing",
            "id",
            sqlite_where=text("answer IS NULL"),
            postgresql_where=text("answer IS NULL"),
        ),
        Index("ix_evidence_requests_addressee_reader", "addressee_reader", "id"),
        # A List's filters in its id order (revision 0016): a state, and a deadline window (covering, with
        # the visibility test's ``restricted`` and ``addressee_reader``: revision 0018).
        Index("ix_evidence_requests_workspace_state_id", "workspace_id", "state", "id"),
        Index(
            "ix_evidence_requests_workspace_deadline_visible",
            "workspace_id",
            "next_deadline_at",
            "restricted",
            "addressee_reader",
            "id",
        ),
    )


#: What users write about a request, sealed at rest (once shredded, no targets are left).
SEALED = SealedText(
    RequestRow,
    ("title", "description", "state_reason", "targets"),
    destroyed={"targets": "[]"},
    added=("notification_exemption_reason",),
)

#: One row per jurisdiction party to a request: the visibility index of restricted ones.
#: One row per victim a request names: a victim's requests without testing every request's list (revision
#: 0028).
VICTIMS_NAMED = VictimIndex.declare(
    RequestRow, "evidence_request_victims", key="request_id", index="ix_evidence_request_victims_victim_request"
)
PARTIES = PartyIndex.declare(
    RequestRow,
    "evidence_request_parties",
    key="request_id",
    index="ix_evidence_request_parties_jurisdiction",
    outside_reader="addressee_reader",
    victims=VICTIMS_NAMED,
    listed="parties",
)


class DeadlineRow(Base):
    """The deadlines running now, one row per (request, kind); ``next_alert_at`` (indexed) is when its next
    unsent alert falls due, NULL once the "passed" alert went out."""

    __tablename__ = "evidence_deadlines"

    request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("evidence_requests.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(TS)
    counted_from: Mapped[datetime] = mapped_column(TS)
    source: Mapped[str] = mapped_column(String(200))
    working_days: Mapped[bool] = mapped_column(Boolean)
    next_alert_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)

    __table_args__ = (Index("ix_evidence_deadlines_next_alert_at", "next_alert_at"),)


class DeadlineCountRow(Base):
    """Each way of counting periods (``deadlines.COUNTING``) the stored deadlines were brought to, once, at
    start (``services.evidence.recount``; revision 0024): when, and how many requests' deadlines moved."""

    __tablename__ = "evidence_deadline_counts"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recounted_at: Mapped[datetime] = mapped_column(TS)
    requests_changed: Mapped[int] = mapped_column(Integer)


class DelayRow(Base):
    """The latest delay the executing state notified on a request (``domain.Delay``), one row per request;
    its reason is free text, sealed under the workspace's key like the request's own."""

    __tablename__ = "evidence_delays"

    request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("evidence_requests.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(String(64))
    deadline: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    expected_at: Mapped[datetime] = mapped_column(TS)
    notified_at: Mapped[datetime] = mapped_column(TS)
    notified_by_id, notified_by_name, notified_by_jurisdiction = actor_columns()
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


SEALED_DELAYS = SealedText(DelayRow, ("reason",), key="request_id")
#: The fields of a delay kept in columns of the same name (all of them).
DELAY_FIELDS = Fields(
    same=("reason",), times=("expected_at", "notified_at"), enums={"deadline": DeadlineKind}, actors=("notified_by",)
)
_DELAYS = cast(Table, DelayRow.__table__)


class LinkedOrderRow(Base):
    """Replica of preservation orders (from their events): enough to show a linked order's state and expiry,
    and to decide who may link a request to it and who may see it (origin, visibility, shared_with)."""

    __tablename__ = "preservation_orders_replica"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    #: "" for rows replicated before revision 0002: nobody links to or sees such an order until its next event.
    origin_jurisdiction: Mapped[str] = mapped_column(String(16), server_default="")
    restricted: Mapped[bool] = mapped_column(Boolean, server_default=sa_true())
    shared_with: Mapped[str] = mapped_column(Text, server_default="")  # comma-separated
    state: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    follow_up_request_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (Index("ix_preservation_orders_replica_follow_up", "follow_up_request_id"),)


#: An item's consents still in its clear column (``ItemRow.consents``): a literal, so that SQLite's planner
#: matches it to the partial index's (a bound parameter would not).
_CONSENTS_IN_CLEAR = "consents <> ''"


class ItemRow(Base):
    __tablename__ = "evidence_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    evidence_request_id: Mapped[str] = mapped_column(String(36), ForeignKey("evidence_requests.id"))
    upload_request_id: Mapped[str] = mapped_column(String(36))
    origin_jurisdiction: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    conditions: Mapped[str] = mapped_column(Text)
    #: The consents to other use (JSON, ``_consents_json``): sealed with the text below since revision 0036,
    #: the column left empty; an item sealed before keeps them here until the start seals them
    #: (``seal_clear_consents``).
    consents: Mapped[str] = mapped_column(Text)
    blob_key: Mapped[str] = mapped_column(String(200))
    received_by_id, received_by_name, received_by_jurisdiction = actor_columns()
    received_at: Mapped[datetime] = mapped_column(TS)
    custody_seq: Mapped[int] = mapped_column(Integer)
    custody_head: Mapped[str] = mapped_column(String(64))
    #: Intimate images and the like (SENSITIVE_ITEM_MARKING): opened with a purpose by named roles only.
    sensitive: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    #: The file name, description, conditions and consents, sealed under the workspace's key (columns left
    #: empty).
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The digest of the upload's metadata (``jitlib.envelopes.request_digest``): a retry with the same
    #: ``upload_request_id`` must carry the same. Empty for items received before it was kept (and replicas).
    request_digest: Mapped[str] = mapped_column(String(64), server_default="")

    __table_args__ = (
        Index("uq_evidence_items_uploader_request", "received_by_id", "upload_request_id", unique=True),
        Index("ix_evidence_items_request", "evidence_request_id", "id"),
        # The blob sweep asks which blobs items name (``blob_keys_in_use``).
        Index("ix_evidence_items_blob_key", "blob_key"),
        # A workspace's items in id order: what a country that joins it is sent (``owned_items``), what its
        # shred reaches (``blob_keys_of_workspace``, ``erase_custody_text``).
        Index("ix_evidence_items_workspace", "workspace_id", "id"),
        # The items whose consents are still in clear (sealed before revision 0036), for the start's
        # ``seal_clear_consents``: empty once it ran, so each later start finds none at once.
        Index(
            "ix_evidence_items_consents_in_clear",
            "id",
            sqlite_where=text(_CONSENTS_IN_CLEAR),
            postgresql_where=text(_CONSENTS_IN_CLEAR),
        ),
    )


class PendingItemRow(Base):
    """Another node's item that arrived before its request (the request's owner and the item's holder send
    on two streams, in no order between them): its state kept here, sealed under the workspace's key, until
    the request's replica is written (``take_parked_items``), and at most ``PARKED_DAYS``."""

    __tablename__ = "pending_item_replicas"

    item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    evidence_request_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    parked_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (Index("ix_pending_item_replicas_request", "evidence_request_id"),)


#: What users write about an item, sealed at rest: its consents to other use too (the use consented to is
#: case text), since revision 0036; once shredded, no consents are left. An item is listed by the auditor's
#: verification even when its key does not open (that is a finding): its consents then read as none.
SEALED_ITEMS = SealedText(
    ItemRow,
    ("filename", "description", "conditions"),
    destroyed={"consents": "[]"},
    unavailable=UNAVAILABLE,
    added=("consents",),
)
_ITEMS = cast(Table, ItemRow.__table__)


class CustodyRow(Base):
    __tablename__ = "custody_log"

    item_id: Mapped[str] = mapped_column(String(36), ForeignKey("evidence_items.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    action: Mapped[str] = mapped_column(String(16))
    user_id, username, jurisdiction = actor_columns()
    at: Mapped[datetime] = mapped_column(TS)
    purpose: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    #: The purpose and recipient, sealed under the workspace's key (``custody_text``; the clear columns are
    #: left empty). NULL for entries written before: their text is in the clear columns.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The client's id of the act (RecordCustodyEvent, RequestExport; revision 0035) and the digest of the
    #: request it came with: the same caller's retry is answered with this entry (``custody_replay``). ""
    #: for entries written before, and those the service writes itself (an upload's RECEIVED, an access).
    request_id: Mapped[str] = mapped_column(String(64), server_default="")
    request_digest: Mapped[str] = mapped_column(String(64), server_default="")

    __table_args__ = (
        Index(
            "uq_custody_log_request",
            "item_id",
            "user_id",
            "request_id",
            unique=True,
            sqlite_where=text("request_id <> ''"),
            postgresql_where=text("request_id <> ''"),
        ),
    )


# -- requests --------------------------------------------------------------------------------------


def _targets_json(targets: tuple[Target, ...]) -> str:
    return json.dumps([[t.type, t.value, t.platform] for t in targets])


#: The fields of a request kept in columns of the same name (and those every record has).
FIELDS = RecordFields(
    same=(
        "notification_exemption_reason",
        "issuing_authority",
        "legal_basis",
        "epoc_procedure",
        "addressee_kind",
        "addressee_jurisdiction",
        "provider_name",
        "offence_category",
        "urgency",
        "title",
        "description",
        "preservation_order_id",
        "user_notice_status",
        "state_reason",
        "refusal_ground",
        "non_execution_reason",
        "decision_extended",
        "submission",
        "postponed_from",
        "decision_suspended_seconds",
        "execution_suspended_seconds",
        "listed_offence",
        "max_sentence_months",
        "enforcing_jurisdiction",
        "enforcement_refusal_ground",
        "compliance_days",
    ),
    times=(
        "user_notice_suppressed_until",
        "postponed_until",
        "postponed_at",
        "items_restricted_at",
        "issued_at",
        "received_at",
        "decided_at",
        "enforcement_requested_at",
        "enforcement_decided_at",
    ),
    enums={"state": State},
    lists=("data_categories", "victim_refs"),
)


def _outcomes_json(outcomes: tuple[CategoryOutcome, ...]) -> str:
    return json.dumps([[o.category, o.state.value, o.ground, _iso(o.decided_at)] for o in outcomes])


def _refusals_json(refusals: tuple[Refusal, ...]) -> str:
    return json.dumps([[x.submission, x.ground, list(x.categories), _iso(x.refused_at), x.whole] for x in refusals])


def _iso(at: datetime | None) -> str:
    return as_utc(at).isoformat() if at is not None else ""


def _at(text: str) -> datetime | None:
    return as_utc(datetime.fromisoformat(text)) if text else None


def _json_list(text: str | None) -> list[Any]:
    """A JSON list column; an empty one without a parse (most requests of a page have no outcome yet)."""
    return json.loads(text) if text and text != "[]" else []


def to_domain(row: RequestRow, deadlines: tuple[Deadline, ...], delay: Delay | None = None) -> EvidenceRequest:
    return FIELDS.load(
        EvidenceRequest,
        row,
        targets=tuple(Target(t, v, p) for t, v, p in _json_list(row.targets)),
        deadlines=deadlines,
        decided_categories=tuple(
            CategoryOutcome(c, CategoryState(st), g, _at(at)) for c, st, g, at in _json_list(row.category_outcomes)
        ),
        refusals=tuple(
            Refusal(n, g, tuple(cats), cast(datetime, _at(at)), whole)
            for n, g, cats, at, whole in _json_list(row.refusals)
        ),
        delay=delay,
    )


def _columns(r: EvidenceRequest) -> dict[str, object]:
    return {
        **FIELDS.write(r),
        "targets": _targets_json(r.targets),
        "category_outcomes": _outcomes_json(r.decided_categories),
        "refusals": _refusals_json(r.refusals),
        "next_deadline_at": r.deadlines[0].due_at if r.deadlines else None,
        "addressee_reader": r.access().outside_reader or "",
    }


def _load(session: Session, row: RequestRow) -> EvidenceRequest:
    return _load_all(session, [row])[0]


def _load_all(session: Session, rows: Sequence[RequestRow]) -> list[EvidenceRequest]:
    """The requests of ``rows``, their deadlines and delays read for all of them at once."""
    ids = [r.id for r in rows]
    dls, delays = _deadlines_of(session, ids), _delays_of(session, ids)
    return [to_domain(r, dls.get(r.id, ()), delays.get(r.id)) for r in rows]


#: Each request as ``ListRequests`` answers it, written with its row (``jitlib.answers``).
ANSWERS = Answers(RequestRow, pb.EvidenceRequest, request_answer, form=ANSWER_FORM, load=_load_all)

#: The requests table: get, find_by_request, pages, and its writes: insert, update_if_version (the
#: version guard) and write_replica; the functions below add the request's deadlines to the writes.
#: Its pages walked in id order test a deadline window and the READ rule's ``restricted`` and
#: ``addressee_reader`` on the workspace's id index (revision 0027).
REQUESTS = RecordTable(
    RequestRow,
    PARTIES,
    _columns,
    _load,
    sealed=SEALED,
    answers=ANSWERS,
    walked=("next_deadline_at", "restricted", "addressee_reader"),
)
get = REQUESTS.get
find_by_request = REQUESTS.find_by_request
_INSERT_DEADLINE = insert(cast(Table, DeadlineRow.__table__))
#: What a change of a request reads and replaces of its deadlines and delay (statements built once: every
#: change runs them, and building one costs more than SQLite's execute of it); the reads on the transaction's
#: cursor (``CompiledSelect``), below the session's execution, which cost several times the statement.
_ALERTS_OF = CompiledSelect(
    select(DeadlineRow.kind, DeadlineRow.due_at, DeadlineRow.next_alert_at).where(
        DeadlineRow.request_id == bindparam("request_id")
    )
)
_DELETE_DEADLINES = delete(DeadlineRow).where(DeadlineRow.request_id == bindparam("request_id"))
_DELAY_NOTIFIED = CompiledSelect(select(DelayRow.notified_at).where(DelayRow.request_id == bindparam("request_id")))
_DELETE_DELAY = delete(DelayRow).where(DelayRow.request_id == bindparam("request_id"))


def _deadlines_of(session: Session, ids: list[str]) -> dict[str, tuple[Deadline, ...]]:
    out: dict[str, list[Deadline]] = {i: [] for i in ids}
    if not ids:
        return {}
    # Plain tuples on the DBAPI cursor, not ORM objects: a page of a list asks this of 51 requests at once
    # (one statement, compiled once).
    for request_id, kind, due_at, source, counted_from, working_days in _DEADLINES_OF.converted(session, {"ids": ids}):
        out[request_id].append(Deadline(DeadlineKind(kind), as_utc(due_at), source, as_utc(counted_from), working_days))
    return {k: tuple(sorted(v, key=lambda d: (d.due_at, d.kind.value))) for k, v in out.items()}


def _delays_of(session: Session, ids: list[str]) -> dict[str, Delay]:
    if not ids:
        return {}
    return {
        d.request_id: Delay(**DELAY_FIELDS.read(d))
        for d in opened_rows(session, _DELAYS, _DELAYS_OF.converted(session, {"ids": ids}), _DELAYS_OF.names)
    }


#: The deadlines, and the delays, of the requests ``ids`` (statements built once: a list's page runs them).
#: A stored deadline's columns (the recount reads them with the next alert's, ``_STORED_OF``).
_DEADLINE_COLUMNS = (
    DeadlineRow.request_id,
    DeadlineRow.kind,
    DeadlineRow.due_at,
    DeadlineRow.source,
    DeadlineRow.counted_from,
    DeadlineRow.working_days,
)
_DEADLINES_OF = CompiledSelect(
    select(*_DEADLINE_COLUMNS).where(DeadlineRow.request_id.in_(bindparam("ids", expanding=True)))
)
_DELAYS_OF = CompiledSelect(select(_DELAYS).where(_DELAYS.c.request_id.in_(bindparam("ids", expanding=True))))


def _write_delay(session: Session, r: EvidenceRequest) -> None:
    """Keep the request's delay row as the request has it: written (its reason sealed) when it is a new
    notice, left alone when it is the one stored."""
    found = _DELAY_NOTIFIED.converted(session, {"request_id": r.id})
    stored = found[0][0] if found else None
    if r.delay is not None and stored is not None and as_utc(stored) == r.delay.notified_at:
        return
    if stored is not None:
        session.execute(_DELETE_DELAY, {"request_id": r.id})
    if r.delay is None:
        return
    columns = {"request_id": r.id, "workspace_id": r.workspace_id, **DELAY_FIELDS.write(r.delay)}
    session.execute(insert(DelayRow).values(**SEALED_DELAYS.seal_columns(session, columns, r.id, r.workspace_id)))


AlertPlan = dict[DeadlineKind, datetime | None]


def update_if_version(session: Session, r: EvidenceRequest, expected_version: int, first_alerts: AlertPlan) -> bool:
    """Write the new state only if nobody changed the request since ``expected_version`` was read; replace its
    running deadlines (``first_alerts``: when each one's first alert falls due)."""
    if not REQUESTS.update_if_version(session, r, expected_version):
        return False
    # A deadline that still runs to the same instant keeps its alert progress (alerts already sent are not
    # rescanned); a new or moved one starts from its first alert.
    kept = {
        (kind, as_utc(due_at)): next_alert_at
        for kind, due_at, next_alert_at in _ALERTS_OF.converted(session, {"request_id": r.id})
    }
    session.execute(_DELETE_DEADLINES, {"request_id": r.id})
    plan = {
        d.kind: kept[(d.kind.value, d.due_at)] if (d.kind.value, d.due_at) in kept else first_alerts.get(d.kind)
        for d in r.deadlines
    }
    _insert_deadlines(session, r.id, r.deadlines, plan)
    _write_delay(session, r)
    return True


def write_replica(session: Session, r: EvidenceRequest, exists: bool) -> None:
    """Store another node's request as its owner sent it (``jitlib.replicas``): no version check, the
    owner's version is the one that counts. Its parties are written again (the visibility index) and so
    are its deadlines, the owner's, in the same table as this node's own: reads and the List filter on
    the next deadline show them as the owner does. They carry no alert (``next_alert_at`` NULL): this
    node's scanner never warns of a deadline of a request it does not own; the owner's node does."""
    REQUESTS.write_replica(session, r, exists)
    if exists:
        session.execute(delete(DeadlineRow).where(DeadlineRow.request_id == r.id))
    _insert_deadlines(session, r.id, r.deadlines, {})
    _write_delay(session, r)


def _insert_deadlines(
    session: Session, request_id: str, running: tuple[Deadline, ...], first_alerts: AlertPlan
) -> None:
    if running:
        session.execute(_INSERT_DEADLINE, _deadline_rows(request_id, running, first_alerts))


def _deadline_rows(request_id: str, running: tuple[Deadline, ...], first_alerts: AlertPlan) -> list[dict[str, Any]]:
    return [
        {
            "request_id": request_id,
            "kind": d.kind.value,
            "due_at": d.due_at,
            "counted_from": d.counted_from,
            "source": d.source,
            "working_days": d.working_days,
            "next_alert_at": first_alerts.get(d.kind),
        }
        for d in running
    ]


@dataclass(frozen=True)
class RequestFilter:
    states: frozenset[State] = frozenset()
    legal_basis: str = ""
    addressee_jurisdiction: str = ""
    origin_jurisdiction: str = ""
    deadline_before: datetime | None = None
    victim_ref: str = ""


def _bound(scope: VisibilityScope, workspace_ids: frozenset[str] | None, flt: RequestFilter) -> BoundFilter:
    """The conditions of a list of requests: the READ rule, then ``flt``'s."""
    equal = same_fields(flt, "legal_basis addressee_jurisdiction origin_jurisdiction")
    bound = PARTIES.bound(scope, workspace_ids, flt.states, victim_ref=flt.victim_ref, **equal)
    if flt.deadline_before is not None:
        bound.add(
            "deadline_before",
            lambda: RequestRow.next_deadline_at < bindparam("deadline_before"),
            window=True,
            deadline_before=flt.deadline_before,
        )
    return bound


class Listed(NamedTuple):
    """A request of a page as ``ListRequests`` answers it: its stored answer (``ANSWERS``) with what the
    page adds to it, or, where that does not open, the request read from its row (``request``; None too
    when it was deleted since the page was read: left out of the answer, counted for its token)."""

    id: str
    workspace_id: str
    origin_jurisdiction: str
    state: State
    to_provider: bool
    preservation_order_id: str
    #: The policy's facts of the request (``EvidenceRequest.access``), and of its items
    #: (``EvidenceRequest.item_access``), from its columns.
    access: RecordAccess
    item_access: RecordAccess
    answer: AnsweredRequest | None
    request: EvidenceRequest | None


#: The columns a page answered from ``ANSWERS`` reads besides the answer's own (``answered_page``).
_LISTED = (
    "origin_jurisdiction",
    "addressee_kind",
    "addressee_jurisdiction",
    "legal_basis",
    "epoc_procedure",
    "restricted",
    "shared_with",
    "state",
    "preservation_order_id",
    "enforcing_jurisdiction",
)
_STATES = {s.value: s for s in State}


#: ``request_access`` made once for each set of a listed row's columns: a page's requests share a few
#: (``RecordAccess`` is immutable).
_listed_access = functools.lru_cache(maxsize=4096)(request_access)


def list_answered(
    session: Session,
    scope: VisibilityScope,
    workspace_ids: frozenset[str] | None,
    flt: RequestFilter,
    *,
    after_id: str,
    limit: int,
) -> list[Listed]:
    """Requests of ``workspace_ids`` (of any workspace when None) the scope may see (the policy's READ rule
    as SQL, which lets a state outside a workspace see the requests addressed to it), in id (creation)
    order, as their stored answers (``Listed``)."""
    bound = _bound(scope, workspace_ids, flt)
    out = []
    for r, answer, request in REQUESTS.answered_page(session, bound, after_id=after_id, limit=limit, columns=_LISTED):
        facts = (
            r.workspace_id,
            r.origin_jurisdiction,
            r.addressee_kind,
            r.addressee_jurisdiction,
            r.legal_basis,
            r.epoc_procedure,
            r.restricted,
            listed(r.shared_with),
        )
        item_access = _listed_access(*facts)
        access = _listed_access(*facts, r.enforcing_jurisdiction) if r.enforcing_jurisdiction else item_access
        out.append(
            Listed(
                r.id,
                r.workspace_id,
                r.origin_jurisdiction,
                _STATES[r.state],
                addressed_to_provider(r.addressee_kind),
                r.preservation_order_id,
                access,
                item_access,
                answered(answer) if answer is not None else None,
                request,
            )
        )
    return out


def addressed_in(session: Session, workspace_id: str, jurisdiction: str) -> bool:
    """Whether ``workspace_id`` has a request addressed to ``jurisdiction`` that it reads from outside the
    workspace (the READ rule's ``addressed_to`` term): what lets a non-member list that workspace's requests
    addressed to it."""
    addressed = PARTIES.terms.addressed_to(jurisdiction)  # as the READ rule has it: bound as scope_jurisdiction
    found = session.scalar(
        select(RequestRow.id).where(RequestRow.workspace_id == workspace_id, addressed).limit(1),
        {"scope_jurisdiction": jurisdiction},
    )
    return found is not None


def item_count(session: Session, request_id: str) -> int:
    return int(_ITEM_COUNT.rows(session, request_id=request_id)[0][0] or 0)


#: How many items a request received, run on the transaction's cursor (``CompiledSelect``): every view of a
#: request (a get, each transition's answer) reads it.
_ITEM_COUNT = CompiledSelect(
    select(func.count()).select_from(ItemRow).where(ItemRow.evidence_request_id == bindparam("request_id"))
)


def linked_order_and_items(session: Session, r: EvidenceRequest) -> tuple[OrderReplica | None, int]:
    """What a full view of a request adds to it: its linked preservation order (the one it names, else one
    that names it as follow-up) and how many items it received."""
    order = get_order(session, r.preservation_order_id) if r.preservation_order_id else None
    if order is None:
        order = order_naming(session, r.id)
    return order, item_count(session, r.id)


# -- deadline alerts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueDeadline:
    request_id: str
    kind: DeadlineKind
    due_at: datetime
    counted_from: datetime
    source: str
    working_days: bool
    next_alert_at: datetime


def due_deadlines(session: Session, now: datetime, limit: int = 500) -> list[DueDeadline]:
    """Deadlines with an alert due (indexed on next_alert_at)."""
    rows = session.scalars(
        select(DeadlineRow)
        .where(DeadlineRow.next_alert_at.is_not(None), DeadlineRow.next_alert_at <= now)
        .order_by(DeadlineRow.next_alert_at)
        .limit(limit)
    )
    return [
        DueDeadline(
            r.request_id,
            DeadlineKind(r.kind),
            as_utc(r.due_at),
            as_utc(r.counted_from),
            r.source,
            r.working_days,
            as_utc(cast(datetime, r.next_alert_at)),
        )
        for r in rows
    ]


def advance_alert(session: Session, request_id: str, kind: DeadlineKind, due_at: datetime, to: datetime | None) -> None:
    """Move the deadline's next alert forward (never backward); only for the same due_at."""
    cond = [DeadlineRow.request_id == request_id, DeadlineRow.kind == kind.value, DeadlineRow.due_at == due_at]
    if to is not None:
        cond.append(DeadlineRow.next_alert_at < to)
    session.execute(
        update(DeadlineRow).where(*cond).values(next_alert_at=to).execution_options(synchronize_session=False)
    )


# -- the start's recount of stored deadlines (services.evidence.recount) ---------------------------


def recounted(session: Session, version: int) -> bool:
    """Whether the stored deadlines were brought to the count ``version`` already."""
    return session.get(DeadlineCountRow, version) is not None


def mark_recounted(session: Session, version: int, at: datetime, requests_changed: int) -> None:
    """Record the count ``version`` as done; a record of it already there (the replicas of the service
    sharing a PostgreSQL database start together, and each recounts) stands."""
    values = {"version": version, "recounted_at": at, "requests_changed": requests_changed}
    session.execute(insert_or_nothing(session, cast(Table, DeadlineCountRow.__table__)).values(**values))


class StoredDeadline(NamedTuple):
    deadline: Deadline
    next_alert_at: datetime | None


class RunningClocks(NamedTuple):
    """A request with deadlines stored, or whose user notice is suppressed, as its deadlines are counted
    (``deadlines.StoredClocks``), and them."""

    id: str
    workspace_id: str
    #: Another node's request (``write_replica``): its deadlines carry no alert here.
    replica: bool
    legal_basis: str
    epoc_procedure: str
    state: str
    received_at: datetime | None
    decided_at: datetime | None
    decision_extended: bool
    decision_suspended_seconds: int
    execution_suspended_seconds: int
    addressee_jurisdiction: str
    user_notice_status: str
    user_notice_suppressed_until: datetime | None
    enforcing_jurisdiction: str
    enforcement_requested_at: datetime | None
    enforcement_decided_at: datetime | None
    compliance_days: int
    stored: tuple[StoredDeadline, ...]


_RUNNING_PAGE = (
    select(
        RequestRow.id,
        RequestRow.workspace_id,
        RequestRow.replicated_at,
        RequestRow.legal_basis,
        RequestRow.epoc_procedure,
        RequestRow.state,
        RequestRow.received_at,
        RequestRow.decided_at,
        RequestRow.decision_extended,
        RequestRow.decision_suspended_seconds,
        RequestRow.execution_suspended_seconds,
        RequestRow.addressee_jurisdiction,
        RequestRow.user_notice_status,
        RequestRow.user_notice_suppressed_until,
        RequestRow.enforcing_jurisdiction,
        RequestRow.enforcement_requested_at,
        RequestRow.enforcement_decided_at,
        RequestRow.compliance_days,
    )
    # A suppressed user notice is a deadline too (``deadlines.non_disclosure``), also of a request that has
    # no other (stored before it was one, or of an instrument without a period).
    .where(
        or_(RequestRow.next_deadline_at.is_not(None), RequestRow.user_notice_status == "SUPPRESSED"),
        RequestRow.id > bindparam("after"),
    )
    .order_by(RequestRow.id)
    .limit(bindparam("limit"))
    # Until the page's transaction ends, a change of one of its requests (another replica of the service,
    # serving meanwhile) waits, then writes its own count: never one from the clocks read here before it.
    .with_for_update()
)
_STORED_OF = select(*_DEADLINE_COLUMNS, DeadlineRow.next_alert_at).where(
    DeadlineRow.request_id.in_(bindparam("ids", expanding=True))
)


def running_clocks(session: Session, after: str, limit: int) -> list[RunningClocks]:
    """The next ``limit`` requests with a deadline stored (``next_deadline_at`` set) or a suppressed user
    notice, in id order after ``after``, locked until the end of the transaction: the columns their
    deadlines are counted from (no sealed text opened), and the stored ones."""
    rows = session.execute(_RUNNING_PAGE, {"after": after, "limit": limit}).all()
    stored: dict[str, list[StoredDeadline]] = {r.id: [] for r in rows}
    if rows:
        for request_id, kind, due_at, source, counted_from, working_days, next_alert_at in session.execute(
            _STORED_OF, {"ids": list(stored)}
        ):
            d = Deadline(DeadlineKind(kind), as_utc(due_at), source, as_utc(counted_from), working_days)
            stored[request_id].append(StoredDeadline(d, as_utc(next_alert_at) if next_alert_at is not None else None))
    return [
        RunningClocks(
            r.id,
            r.workspace_id,
            r.replicated_at is not None,
            r.legal_basis,
            r.epoc_procedure,
            r.state,
            as_utc(r.received_at) if r.received_at is not None else None,
            as_utc(r.decided_at) if r.decided_at is not None else None,
            r.decision_extended,
            r.decision_suspended_seconds,
            r.execution_suspended_seconds,
            r.addressee_jurisdiction,
            r.user_notice_status,
            as_utc(r.user_notice_suppressed_until) if r.user_notice_suppressed_until is not None else None,
            r.enforcing_jurisdiction,
            as_utc(r.enforcement_requested_at) if r.enforcement_requested_at is not None else None,
            as_utc(r.enforcement_decided_at) if r.enforcement_decided_at is not None else None,
            r.compliance_days,
            tuple(sorted(stored[r.id], key=lambda s: (s.deadline.due_at, s.deadline.kind.value))),
        )
        for r in rows
    ]


_DEADLINES = cast(Table, DeadlineRow.__table__)
_DELETE_DEADLINES_OF = delete(_DEADLINES).where(_DEADLINES.c.request_id.in_(bindparam("ids", expanding=True)))
_REQUESTS_TABLE = cast(Table, RequestRow.__table__)
_SET_NEXT_DEADLINE = (
    update(_REQUESTS_TABLE)
    .where(_REQUESTS_TABLE.c.id == bindparam("recounted_id"))
    .values(next_deadline_at=bindparam("recounted_next"))
)


def forget_answers(session: Session) -> int:
    """Empty every request's stored answer (``ANSWERS``), for the start to write it again: a recount under a
    new count of deadlines (their stored dates, and the windows its clock schedule holds, moved)."""
    return int(session.connection().execute(update(_REQUESTS_TABLE).values(answer=None)).rowcount or 0)


def replace_deadlines(session: Session, changes: Sequence[tuple[str, tuple[Deadline, ...], AlertPlan]]) -> None:
    """Store, for each (request id, deadlines earliest first, their next alerts), the request's deadlines and
    its ``next_deadline_at``; the requests' versions and the rest of them unchanged. Three statements."""
    if not changes:
        return
    conn = session.connection()
    conn.execute(_DELETE_DEADLINES_OF, {"ids": [request_id for request_id, _, _ in changes]})
    rows = [row for request_id, running, plan in changes for row in _deadline_rows(request_id, running, plan)]
    if rows:
        conn.execute(insert(_DEADLINES), rows)
    conn.execute(
        _SET_NEXT_DEADLINE,
        [
            {"recounted_id": request_id, "recounted_next": running[0].due_at if running else None}
            for request_id, running, _ in changes
        ],
    )


# -- preservation-order replica --------------------------------------------------------------------


def get_order(session: Session, order_id: str) -> OrderReplica | None:
    rows = _ORDER.named(session, {"order_id": order_id})
    return _order(rows[0]) if rows else None


def order_naming(session: Session, request_id: str) -> OrderReplica | None:
    """The order that names ``request_id`` as its follow-up (the first by id, should several)."""
    rows = _ORDER_NAMING.named(session, {"request_id": request_id})
    return _order(rows[0]) if rows else None


def orders_by_id(session: Session, order_ids: set[str]) -> dict[str, OrderReplica]:
    if not order_ids:
        return {}
    rows = _ORDERS_BY_ID.named(session, {"ids": sorted(order_ids)})
    return {r.id: _order(r) for r in rows}


#: The fields of a preservation order's replica, in columns of the same name.
ORDER_FIELDS = Fields(
    same=("workspace_id", "origin_jurisdiction", "restricted", "state", "version", "follow_up_request_id"),
    times=("expires_at",),
    lists=("shared_with",),
)


_ORDERS = cast(Table, LinkedOrderRow.__table__)
#: An order's replica by its id, and the one naming a request as its follow-up, run on the transaction's
#: cursor (``CompiledSelect``): every view of a request reads one or both, every order event the first; through
#: the session's execution each cost several times its statement (bench/README.md, the mixed load, session 49).
_ORDER = CompiledSelect(select(_ORDERS).where(_ORDERS.c.id == bindparam("order_id")))
_ORDERS_BY_ID = CompiledSelect(select(_ORDERS).where(_ORDERS.c.id.in_(bindparam("ids", expanding=True))))
_ORDER_NAMING = CompiledSelect(
    select(_ORDERS).where(_ORDERS.c.follow_up_request_id == bindparam("request_id")).order_by(_ORDERS.c.id).limit(1)
)
_INSERT_ORDER = CompiledInsert(_ORDERS)
_UPDATE_ORDER = CompiledUpdate(_ORDERS, _ORDERS.c.id)


def _order(row: Any) -> OrderReplica:
    """The replica of ``row``, a named row of a compiled select (``CompiledSelect.named``)."""
    return OrderReplica(id=row.id, **ORDER_FIELDS.read(row))


def upsert_order(session: Session, o: OrderReplica, held: OrderReplica | None, now: datetime) -> bool:
    """Store the order's state unless ``held`` (the order as stored, ``get_order``; None when not held) is
    of its version or newer; True when stored. Every order event of the node comes here (its consumer):
    the row written by statements compiled once."""
    values = {**ORDER_FIELDS.write(o), "updated_at": now}
    if held is None:
        _INSERT_ORDER.execute(session, {"id": o.id, **values})
        return True
    if held.version >= o.version:
        return False
    _UPDATE_ORDER.execute(session, o.id, values)
    return True


# -- items and custody -----------------------------------------------------------------------------


def _consents_json(consents: tuple[Consent, ...]) -> str:
    """The item's consents as stored: each [purpose, state, granted at, reference], then, for one recorded
    later, [recording user's id, request_id] (which a retry is found by)."""
    return json.dumps(
        [
            [c.purpose, c.granted_by_jurisdiction, c.granted_at.isoformat() if c.granted_at else "", c.reference]
            + ([c.recorded_by, c.request_id] if c.request_id else [])
            for c in consents
        ]
    )


def _consents(text: str) -> tuple[Consent, ...]:
    """The consents of an item as read (opened: ``SEALED_ITEMS``); none while no KEK of this node opens its key."""
    if text == UNAVAILABLE:
        return ()
    out = []
    for p, j, at, ref, *recorded in json.loads(text or "[]"):
        by, request_id = recorded if recorded else ("", "")
        out.append(Consent(p, j, datetime.fromisoformat(at) if at else None, ref, by, request_id))
    return tuple(out)


def set_item_consents(session: Session, item: EvidenceItem) -> None:
    """The item's consents to other use, as they are now (``domain.record_consent``): sealed again with its
    other text (``ContentDestroyed`` once its workspace was shredded)."""
    _update_item(session, item.id, _item_text(session, item))


def _update_item(session: Session, item_id: str, values: dict[str, object]) -> None:
    """Write ``values`` (with sealed text: ``_item_text``) to the item's row. The row the session holds, if
    any, is expired rather than given the values (their text columns are empty): read again, it is opened."""
    session.execute(
        update(ItemRow).where(ItemRow.id == item_id).values(**values).execution_options(synchronize_session=False)
    )
    held = session.identity_map.get(session.identity_key(ItemRow, item_id))
    if held is not None:
        session.expire(held)


#: How many items the start's ``seal_clear_consents`` seals in one transaction.
CONSENTS_BATCH = 500
#: The items sealed before their consents were, consents still in clear: a search of the partial index.
CLEAR_CONSENTS = select(_ITEMS.c.id, _ITEMS.c.workspace_id, _ITEMS.c.sealed, _ITEMS.c.consents).where(
    _ITEMS.c.sealed.is_not(None), text(_CONSENTS_IN_CLEAR)
)


def seal_clear_consents(session: Session, *, batch: int = CONSENTS_BATCH) -> int:
    """A step of the start's ``jitlib.sealing.backfill_all`` (declared by ``app``): up to ``batch`` items
    sealed before their consents were (revision 0036) whose consents are still in their clear column, their
    text opened and sealed again with the consents, the column emptied; an item whose workspace was shredded
    has them erased (they read as none, as a shred leaves them now). How many it changed (0: none left, found
    at once on the partial index). A key no KEK of the node opens stops the start, as the other backfills'."""
    t = _ITEMS
    rows = session.execute(CLEAR_CONSENTS.limit(batch)).all()
    keys = sealing.content_keys(session)
    for row in rows:
        values: dict[str, object] = {"consents": ""}
        try:
            keys.key(session, row.workspace_id)
        except crypto.Shredded:
            pass
        else:
            opened = SEALED_ITEMS.opened(session, row.id, row.workspace_id, row.sealed)
            if opened is not None and opened != SEALED_ITEMS.destroyed:  # a text that never opens: erased too
                fields = {**opened, "consents": row.consents}
                values = SEALED_ITEMS.seal_columns(session, fields, row.id, row.workspace_id)
        session.execute(update(t).where(t.c.id == row.id).values(**values))
    return len(rows)


#: The fields of an item kept in columns of the same name.
ITEM_FIELDS = Fields(
    same=(
        "id",
        "workspace_id",
        "evidence_request_id",
        "origin_jurisdiction",
        "media_type",
        "size_bytes",
        "sha256",
        "filename",
        "description",
        "conditions",
        "blob_key",
        "sensitive",
    ),
    times=("received_at",),
    actors=("received_by",),
)


def item_to_domain(row: ItemRow) -> EvidenceItem:
    return EvidenceItem(
        **ITEM_FIELDS.read(row),
        consents=_consents(row.consents),
    )


@dataclass(frozen=True)
class ItemWithHead:
    item: EvidenceItem
    custody_seq: int
    custody_head: str


#: How long an append to an item's chain of custody (a download, a transfer, a consent: each a read or an act
#: the chain records) waits, on PostgreSQL, for another transaction holding the item's row before it gives up
#: (``lock_timeout`` for the append's transaction, ``ItemBusy``). An append holds the row for milliseconds
#: (a few rows written), so a wait this long means a holder that is stuck or long (a maintenance transaction,
#: a workspace's shred): the caller is told to retry well before a client's deadline (tens of seconds)
#: expires with no answer, and a server thread and a pooled connection are not held meanwhile. On SQLite the
#: writers serialize at ``BEGIN IMMEDIATE`` (no row lock), bounded by the connection's busy timeout
#: (``jitlib.db``'s ``PRAGMA busy_timeout``).
ITEM_LOCK_TIMEOUT_SECONDS = 5.0

#: PostgreSQL's SQLSTATE for a lock not granted within ``lock_timeout`` (lock_not_available).
_LOCK_NOT_AVAILABLE = "55P03"


class ItemBusy(Exception):
    """Another transaction held the item's row longer than ``ITEM_LOCK_TIMEOUT_SECONDS``: nothing was written."""

    def __init__(self, item_id: str) -> None:
        super().__init__(item_id)
        self.item_id = item_id


def get_item(
    session: Session, item_id: str, *, for_update: bool = False, lock_timeout: float = ITEM_LOCK_TIMEOUT_SECONDS
) -> ItemWithHead | None:
    """The item with its chain's head; ``for_update``: its row locked until the end of the transaction, which
    orders the appends to its chain of custody (``append_custody``), waiting at most ``lock_timeout`` seconds
    on PostgreSQL for a transaction holding it (the bound then holds for the rest of the caller's
    transaction): ``ItemBusy`` past it, the transaction to roll back."""
    query = select(ItemRow).where(ItemRow.id == item_id)
    if not for_update:
        row = session.scalar(query)
    elif session.get_bind().dialect.name != "postgresql":
        row = session.scalar(query.with_for_update())
    else:
        session.execute(select(func.set_config("lock_timeout", f"{round(lock_timeout * 1000)}ms", True)))
        try:
            row = session.scalar(query.with_for_update())
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                raise ItemBusy(item_id) from exc
            raise
    return ItemWithHead(item_to_domain(row), row.custody_seq, row.custody_head) if row is not None else None


@dataclass(frozen=True)
class ItemOfRequest:
    """An item with the request it was received against (whose visibility it follows)."""

    found: ItemWithHead
    request: EvidenceRequest

    @property
    def item(self) -> EvidenceItem:
        return self.found.item


def get_item_of_request(session: Session, item_id: str) -> ItemOfRequest | None:
    found = get_item(session, item_id)
    req = get(session, found.item.evidence_request_id) if found is not None else None
    return ItemOfRequest(found, req) if found is not None and req is not None else None


def find_item_by_upload(session: Session, user_id: str, upload_request_id: str) -> Stored[EvidenceItem] | None:
    """The item ``user_id`` uploaded with ``upload_request_id``, with the digest of that upload's metadata."""
    row = session.scalar(
        select(ItemRow).where(ItemRow.received_by_id == user_id, ItemRow.upload_request_id == upload_request_id)
    )
    return Stored(item_to_domain(row), row.request_digest) if row is not None else None


def _item_text(session: Session, item: EvidenceItem) -> dict[str, object]:
    """The item's file name, description, conditions and consents, as written: sealed."""
    fields = {
        "filename": item.filename,
        "description": item.description,
        "conditions": item.conditions,
        "consents": _consents_json(item.consents),
    }
    return SEALED_ITEMS.seal_columns(session, fields, item.id, item.workspace_id)


class UploadTaken(Exception):
    """The uploader's ``request_id`` names an item stored meanwhile (a concurrent duplicate of the upload)."""


def insert_item(session: Session, item: EvidenceItem, upload_request_id: str, request_digest: str = "") -> None:
    """Insert a new item; raises ``UploadTaken`` when its uploader's ``upload_request_id`` is taken."""
    try:
        session.execute(
            insert(ItemRow).values(
                **{**ITEM_FIELDS.write(item), **_item_text(session, item)},
                upload_request_id=upload_request_id,
                request_digest=request_digest,
                custody_seq=0,
                custody_head=custody.GENESIS,
            )
        )
    except IntegrityError:  # the unique index on (uploader, request_id)
        raise UploadTaken(upload_request_id) from None


def get_item_replica(session: Session, item_id: str) -> ItemReplica | None:
    found = get_item(session, item_id)
    return ItemReplica(found.item, found.custody_seq) if found is not None else None


def write_item_replica(session: Session, replica: ItemReplica, exists: bool) -> None:
    """Store another node's item as its owner sent it: no blob here (the bytes stay on the owner's node and
    are fetched through it), no custody chain here (the owner keeps it); only how long that chain is."""
    if exists:
        # A consent its originating state recorded later (RecordUseConsent) reaches the copies too, sealed.
        values = {"custody_seq": replica.version, "sensitive": replica.item.sensitive}
        _update_item(session, replica.id, {**values, **_item_text(session, replica.item)})
        return
    insert_item(session, replace(replica.item, blob_key=""), upload_request_id=replica.id)
    session.execute(
        update(ItemRow).where(ItemRow.id == replica.id).values(custody_seq=replica.version, custody_head="")
    )


#: How long an item waits for its request (days): as long as the request's owner keeps what it sent for
#: a peer whose link is down (``jitlib.federation.DEFAULT_RETENTION_DAYS``).
PARKED_DAYS = DEFAULT_RETENTION_DAYS


def park_item_replica(session: Session, replica: ItemReplica, state: bytes, now: datetime) -> None:
    """Keep ``state`` (the item's event state) until its request's replica is written; of two versions of
    one item, the newer. Items kept longer than ``PARKED_DAYS`` are let go."""
    session.execute(delete(PendingItemRow).where(PendingItemRow.parked_at < now - timedelta(days=PARKED_DAYS)))
    row = session.get(PendingItemRow, replica.id)
    if row is not None and row.version >= replica.version:
        return
    sealed = sealing.seal_payload(session, state, _parked_name(replica.id), replica.workspace_id)
    if row is None:
        session.add(
            PendingItemRow(
                item_id=replica.id,
                evidence_request_id=replica.item.evidence_request_id,
                version=replica.version,
                state=sealed,
                parked_at=now,
            )
        )
    else:
        row.version, row.state, row.parked_at = replica.version, sealed, now


def take_parked_items(session: Session, request_id: str) -> list[bytes]:
    """The states of the items kept for ``request_id`` (``park_item_replica``), now no longer kept; one
    whose workspace was shredded meanwhile is dropped."""
    rows = session.scalars(select(PendingItemRow).where(PendingItemRow.evidence_request_id == request_id)).all()
    out = []
    for row in rows:
        state = sealing.open_payload(session, row.state, _parked_name(row.item_id))
        if state is not None:
            out.append(state)
        session.delete(row)
    session.flush()
    return out


def _parked_name(item_id: str) -> str:
    return f"parked-item/{item_id}"


def set_item_sensitive(session: Session, item_id: str, sensitive: bool) -> None:
    session.execute(update(ItemRow).where(ItemRow.id == item_id).values(sensitive=sensitive))


def is_replica(item: EvidenceItem) -> bool:
    """An item whose bytes are on another node (the owner's): this node holds its metadata only."""
    return not item.blob_key


def list_items(session: Session, request_id: str) -> list[ItemWithHead]:
    rows = session.scalars(select(ItemRow).where(ItemRow.evidence_request_id == request_id).order_by(ItemRow.id))
    return [ItemWithHead(item_to_domain(r), r.custody_seq, r.custody_head) for r in rows]


def items_received_between(
    session: Session, request_id: str, after: datetime | None, until: datetime
) -> list[ItemWithHead]:
    """The items of a request this node holds (bytes and custody chain) received after ``after`` (any when
    None) and until ``until``: those an objection restricts now that an earlier one had not."""
    cond = [ItemRow.evidence_request_id == request_id, ItemRow.blob_key != "", ItemRow.received_at <= until]
    if after is not None:
        cond.append(ItemRow.received_at > after)
    rows = session.scalars(select(ItemRow).where(*cond).order_by(ItemRow.id))
    return [ItemWithHead(item_to_domain(r), r.custody_seq, r.custody_head) for r in rows]


def restrict_held_items(
    session: Session, before: datetime | None, updated: EvidenceRequest, now: datetime
) -> list[tuple[EvidenceItem, custody.Entry]]:
    """A RESTRICTED custody entry (``domain.restriction_entry``) on each item of ``updated`` this node holds
    that its objection restricts (received until ``items_restricted_at``) and the one before it (``before``,
    None when there was none) did not: once per item, written by the node holding it, the request's owner
    for those received there (the objection's own transaction), any other node for its own on taking in the
    owner's change (``events.restrict_held_items``). Each item with its entry, in id order;
    ``CustodyConflict`` when another writer appended to a chain meanwhile."""
    until = updated.items_restricted_at
    if until is None:
        return []
    out = []
    for found in items_received_between(session, updated.id, before, until):
        item = found.item
        out.append((item, append_custody(session, item.id, restriction_entry(item, updated, now))))
    return out


def restricted_at(session: Session, request_id: str) -> datetime | None:
    """When the objection that restricts the items of the request held here was recorded (None: none, or
    no such request)."""
    return as_utc_or_none(session.scalar(select(RequestRow.items_restricted_at).where(RequestRow.id == request_id)))


def all_items(session: Session, after_id: str, limit: int) -> list[ItemWithHead]:
    """The items whose bytes and custody chain this node keeps (replicas of other nodes' are not)."""
    rows = session.scalars(
        select(ItemRow).where(ItemRow.id > after_id, ItemRow.blob_key != "").order_by(ItemRow.id).limit(limit)
    )
    return [ItemWithHead(item_to_domain(r), r.custody_seq, r.custody_head) for r in rows]


def owned_items(
    session: Session, workspace_id: str, owner: str, after_id: str, changed_since: datetime | None, limit: int
) -> list[ItemWithHead]:
    """The items of ``workspace_id`` that ``owner``'s node holds (received there: bytes and custody chain,
    ``domain.item_holder``), whatever node owns their request, ids after ``after_id`` in id order, at most
    ``limit``; with ``changed_since``, only those whose chain grew since (an item's version is its chain's
    length), for ``jitlib.joining``."""
    query = select(ItemRow).where(
        ItemRow.workspace_id == workspace_id,
        ItemRow.received_by_jurisdiction == owner,
        ItemRow.blob_key != "",
        ItemRow.id > after_id,
    )
    if changed_since is not None:
        query = query.where(exists().where(CustodyRow.item_id == ItemRow.id, CustodyRow.at >= changed_since))
    rows = session.scalars(query.order_by(ItemRow.id).limit(limit))
    return [ItemWithHead(item_to_domain(r), r.custody_seq, r.custody_head) for r in rows]


def erase_custody_text(session: Session, workspace_id: str) -> int:
    """Retention (in the shred's transaction): erase the free text of the workspace's custody entries
    (purpose, recipient), which is not sealed since the custody chain hashes it. Returns how many entries."""
    items = select(ItemRow.id).where(ItemRow.workspace_id == workspace_id)
    result = session.execute(update(CustodyRow).where(CustodyRow.item_id.in_(items)).values(purpose="", recipient=""))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def blob_keys_of_workspace(session: Session, workspace_id: str) -> list[str]:
    """The blobs this node stores for a workspace's items (retention: deleted with its key)."""
    rows = session.scalars(
        select(ItemRow.blob_key).where(ItemRow.workspace_id == workspace_id, ItemRow.blob_key != "").distinct()
    )
    return list(rows)


def blob_keys_in_use(session: Session, blob_keys: Sequence[str]) -> set[str]:
    """Which of ``blob_keys`` an item names (the blob sweep removes the others)."""
    if not blob_keys:
        return set()
    return set(session.scalars(select(ItemRow.blob_key).where(ItemRow.blob_key.in_(blob_keys)).distinct()))


#: A custody entry's fields: every one in a column of the same name.
CUSTODY_FIELDS = Fields(
    same=(
        "item_id",
        "seq",
        "user_id",
        "username",
        "jurisdiction",
        "purpose",
        "recipient",
        "sha256",
        "prev_hash",
        "entry_hash",
    ),
    times=("at",),
    enums={"action": custody.Action},
)


class CustodyConflict(Exception):
    """Another writer appended to the item's chain meanwhile; retry."""


def append_custody(
    session: Session, item_id: str, entry: custody.Entry, request_id: str = "", digest: str = ""
) -> custody.Entry:
    """Append one entry to the item's chain inside the caller's transaction. The item's row is locked until
    the transaction ends (on PostgreSQL; SQLite's writers hold its write lock from BEGIN): concurrent appends
    wait for one another and each links after the entry before it, so reads at the same time all succeed and
    the chain never forks. The head still moves with a check, so a writer that bypassed the lock raises
    CustodyConflict rather than fork it. ``request_id``: the client's id of the act, kept with the ``digest``
    of its request (``custody_replay``, read after ``get_item(..., for_update=True)`` so that a concurrent
    call with the same id finds the entry)."""
    head = session.execute(
        select(ItemRow.custody_seq, ItemRow.custody_head, ItemRow.workspace_id)
        .where(ItemRow.id == item_id)
        .with_for_update()
    ).one()
    e = custody.sealed(
        custody.Entry(
            item_id=item_id,
            seq=head.custody_seq + 1,
            action=entry.action,
            user_id=entry.user_id,
            username=entry.username,
            jurisdiction=entry.jurisdiction,
            at=entry.at,
            purpose=entry.purpose,
            recipient=entry.recipient,
            sha256=entry.sha256,
            prev_hash=head.custody_head,
        )
    )
    moved = session.execute(
        update(ItemRow)
        .where(ItemRow.id == item_id, ItemRow.custody_seq == head.custody_seq)
        .values(custody_seq=e.seq, custody_head=e.entry_hash)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise CustodyConflict(item_id)
    columns = CUSTODY_FIELDS.write(e)
    text = json.dumps([e.purpose, e.recipient], ensure_ascii=False).encode()
    columns.update(
        purpose="",
        recipient="",
        sealed=sealing.seal_payload(session, text, _custody_name(e), head.workspace_id),
        request_id=request_id,
        request_digest=digest,
    )
    try:
        session.execute(insert(CustodyRow).values(**columns))
    except IntegrityError:  # the same entry number written by another writer: the same conflict
        raise CustodyConflict(item_id) from None
    return e


def _custody_name(e: custody.Entry) -> str:
    """What an entry's sealed text is bound to: its item and place in the chain."""
    return f"custody/{e.item_id}/{e.seq}"


def _custody_entry(session: Session, row: CustodyRow) -> custody.Entry:
    """An entry as stored: its sealed text opened ("[content destroyed]" once its workspace was shredded,
    the UNAVAILABLE marker while no KEK of this node opens its key)."""
    e = custody.Entry(**CUSTODY_FIELDS.read(row))
    if row.sealed is None or e.purpose or e.recipient:
        # Written before sealing; or clear text beside a sealed entry, which no writer leaves: a change,
        # which the entry's hash then shows.
        return e
    try:
        opened = sealing.open_payload(session, row.sealed, _custody_name(e))
    except sealing.KeyUnavailable:
        return replace(e, purpose=UNAVAILABLE, recipient="")
    if opened is None:
        return replace(e, purpose=sealing.DESTROYED, recipient="")
    purpose, recipient = json.loads(opened)
    return replace(e, purpose=str(purpose), recipient=str(recipient))


def custody_replay(session: Session, item_id: str, user_id: str, request_id: str) -> tuple[custody.Entry, str] | None:
    """The entry the caller ``user_id`` recorded on the item with ``request_id``, and the digest of the request
    it came with; None when there is none."""
    row = session.scalars(
        select(CustodyRow).where(
            CustodyRow.item_id == item_id, CustodyRow.user_id == user_id, CustodyRow.request_id == request_id
        )
    ).first()
    return None if row is None else (_custody_entry(session, row), row.request_digest)


def export_entries(session: Session, item_ids: list[str]) -> dict[str, list[custody.Entry]]:
    """The entries of the items ``item_ids`` that the four eyes of an export read (``custody.FOUR_EYES``), per
    item in chain order."""
    rows = session.scalars(
        select(CustodyRow)
        .where(CustodyRow.item_id.in_(item_ids), CustodyRow.action.in_([a.value for a in custody.FOUR_EYES]))
        .order_by(CustodyRow.item_id, CustodyRow.seq)
    )
    out: dict[str, list[custody.Entry]] = {}
    for r in rows:
        out.setdefault(r.item_id, []).append(_custody_entry(session, r))
    return out


def custody_entries(session: Session, item_id: str) -> list[custody.Entry]:
    rows = session.scalars(select(CustodyRow).where(CustodyRow.item_id == item_id).order_by(CustodyRow.seq))
    return [_custody_entry(session, r) for r in rows]
