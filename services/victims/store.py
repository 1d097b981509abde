"""Persistence of victims (SQLAlchemy 2). Tables, and the queries the servicer needs; no business rules.

What identifies a victim lives in its own table (``victim_identities``), sealed under the workspace's
content key like every free text here; nothing of it is in ``victims``, which holds the pseudonym-level
record that events carry and replicas keep."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jitlib.actors import Actor
from jitlib.clock import as_utc
from jitlib.db import TS, Fields, RecordColumns, RecordFields, RecordTable, Stored, actor_columns
from jitlib.fields import same_fields
from jitlib.policy import VisibilityScope
from jitlib.sealing import DESTROYED, SealedText
from jitlib.tables import ServiceBase
from jitlib.visibility import PartyIndex
from services.victims.domain import Identity, Notice, NoticeChannel, NoticeStep, Referral, Victim


class Base(ServiceBase, DeclarativeBase):
    """The victims' tables, and jitlib's (``Base.tables``): all their text is sealed per workspace."""


RUNTIME = Base.tables.runtime


class VictimRow(RecordColumns, Base):
    __tablename__ = "victims"

    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    victim_jurisdiction: Mapped[str] = mapped_column(String(16))
    #: Who registered the victim acted for this jurisdiction (the record's origin is the lead's).
    registered_by_jurisdiction: Mapped[str] = mapped_column(String(16))
    notices_count: Mapped[int] = mapped_column(Integer)
    #: JSON list of the referrals to support services; sealed in ``sealed``.
    referrals: Mapped[str] = mapped_column(Text)
    #: JSON list of the offences (Directive (EU) 2024/1385 categories): codes, not sealed.
    offences: Mapped[str] = mapped_column(Text, server_default="[]")
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (Index("ix_victims_workspace_jurisdiction", "workspace_id", "victim_jurisdiction"),)


class IdentityRow(Base):
    """A victim's identity: its clear columns stay empty, everything is in ``sealed``."""

    __tablename__ = "victim_identities"

    victim_id: Mapped[str] = mapped_column(String(36), ForeignKey("victims.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(Text)
    date_of_birth: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(Text)
    languages: Mapped[str] = mapped_column(Text)  # comma-separated tags
    needs: Mapped[str] = mapped_column(Text)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class NoticeRow(Base):
    """What a victim was told, when, by whom, in which language and how."""

    __tablename__ = "victim_notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    victim_id: Mapped[str] = mapped_column(String(36), ForeignKey("victims.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(36))
    request_digest: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(32))
    told_at: Mapped[datetime] = mapped_column(TS)
    told_by_id, told_by_name, told_by_jurisdiction = actor_columns()
    language: Mapped[str] = mapped_column(String(35))
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(TS)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (
        Index("uq_victim_notices_teller_request", "told_by_id", "request_id", unique=True),
        Index("ix_victim_notices_victim_id", "victim_id", "id"),
    )


class IdentityReadRow(Base):
    """Each read of an identity, with the purpose its reader stated (sealed): the audit chain says who read
    which victim's identity when, this table says why."""

    __tablename__ = "identity_reads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    victim_id: Mapped[str] = mapped_column(String(36), ForeignKey("victims.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(String(64))
    user_id, username, jurisdiction = actor_columns()
    read_at: Mapped[datetime] = mapped_column(TS)
    purpose: Mapped[str] = mapped_column(Text)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (Index("ix_identity_reads_victim_id", "victim_id", "id"),)


#: The counter of each lead jurisdiction's pseudonyms on this node (``V-<lead>-<last>``).
SEQUENCES = Table(
    "pseudonym_sequences",
    Base.metadata,
    Column("lead", String(16), primary_key=True),
    Column("last", Integer, nullable=False),
)

#: What members write about a victim, and who the victim is, sealed at rest.
SEALED = SealedText(VictimRow, ("referrals",), destroyed={"referrals": "[]"})
SEALED_IDENTITY = SealedText(
    IdentityRow, ("full_name", "date_of_birth", "contact", "languages", "needs"), key="victim_id"
)
SEALED_NOTE = SealedText(NoticeRow, ("note",))
SEALED_PURPOSE = SealedText(IdentityReadRow, ("purpose",))

#: One row per jurisdiction party to a victim (the lead and the victim's jurisdiction): the visibility index.
PARTIES = PartyIndex.declare(
    VictimRow, "victim_parties", key="victim_id", index="ix_victim_parties_jurisdiction_victim"
)

FIELDS = RecordFields(same=("pseudonym", "victim_jurisdiction", "notices_count"))


def _referral_to_json(r: Referral) -> list[object]:
    by = r.referred_by
    return [
        r.id,
        r.service_name,
        r.referred_on,
        r.consent,
        by.user_id,
        by.username,
        by.jurisdiction,
        r.recorded_at.isoformat(),
        r.request_id,
        r.request_digest,
    ]


def _referral_from_json(v: list[object]) -> Referral:
    rid, name, on, consent, uid, uname, uj, at, request_id, digest = v
    return Referral(
        id=str(rid),
        service_name=str(name),
        referred_on=str(on),
        consent=bool(consent),
        referred_by=Actor(str(uid), str(uname), str(uj)),
        recorded_at=as_utc(datetime.fromisoformat(str(at))),
        request_id=str(request_id),
        request_digest=str(digest),
    )


def to_domain(row: VictimRow) -> Victim:
    fields = FIELDS.read(row)
    maker: Actor = fields.pop("created_by")
    return Victim(
        **fields,
        created_by=Actor(maker.user_id, maker.username, row.registered_by_jurisdiction),
        referrals=tuple(_referral_from_json(v) for v in json.loads(row.referrals or "[]")),
        offences=tuple(json.loads(row.offences or "[]")),
    )


def _columns(victim: Victim) -> dict[str, object]:
    return {
        **FIELDS.write(victim),
        "registered_by_jurisdiction": victim.created_by.jurisdiction,
        "referrals": json.dumps([_referral_to_json(r) for r in victim.referrals]),
        "offences": json.dumps(list(victim.offences)),
    }


#: The victims table: get, find_by_request, pages, insert, update_if_version and write_replica.
VICTIMS = RecordTable(VictimRow, PARTIES, _columns, lambda _session, row: to_domain(row), sealed=SEALED)
get = VICTIMS.get
find_by_request = VICTIMS.find_by_request


def by_pseudonym(session: Session, workspace_id: str, pseudonym: str, *, for_update: bool = False) -> Victim | None:
    """The victim of ``workspace_id`` known by ``pseudonym`` (its row locked when ``for_update``)."""
    stmt = select(VictimRow).where(VictimRow.workspace_id == workspace_id, VictimRow.pseudonym == pseudonym)
    row = session.scalar(stmt.with_for_update() if for_update else stmt)
    return to_domain(row) if row is not None else None


def next_sequence(session: Session, lead: str) -> int:
    """The next pseudonym number of ``lead`` on this node, in the caller's transaction: one atomic upsert,
    so that two registrations never get the same number and a rolled-back one leaves no gap."""
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        make(SEQUENCES)
        .values(lead=lead, last=1)
        .on_conflict_do_update(index_elements=["lead"], set_={"last": SEQUENCES.c["last"] + 1})
        .returning(SEQUENCES.c["last"])
    )
    return int(session.execute(stmt).scalar_one())


def list_visible(
    session: Session,
    scope: VisibilityScope,
    workspace_ids: frozenset[str],
    *,
    victim_jurisdiction: str,
    after_id: str,
    limit: int,
) -> list[Victim]:
    """Victims of ``workspace_ids`` the scope may see (the policy's READ rule as SQL), in id order."""
    flt = PARTIES.bound(scope, workspace_ids, victim_jurisdiction=victim_jurisdiction)
    return [to_domain(r) for r in VICTIMS.page(session, flt, after_id=after_id, limit=limit)]


# -- the identity -----------------------------------------------------------------------------------------


def write_identity(session: Session, victim: Victim, identity: Identity) -> None:
    columns = {
        "full_name": identity.full_name,
        "date_of_birth": identity.date_of_birth,
        "contact": identity.contact,
        "languages": ",".join(identity.languages),
        "needs": identity.needs,
    }
    sealed = SEALED_IDENTITY.seal_columns(session, columns, victim.id, victim.workspace_id)
    session.add(IdentityRow(victim_id=victim.id, workspace_id=victim.workspace_id, **sealed))


def identity_of(session: Session, victim_id: str) -> Identity | None:
    row = session.get(IdentityRow, victim_id)
    if row is None:
        return None
    return Identity(
        **same_fields(row, "full_name date_of_birth contact needs"),
        languages=tuple(t for t in row.languages.split(",") if t),
    )


def destroyed(identity: Identity) -> bool:
    """The identity was crypto-shredded with its workspace: its fields read as ``DESTROYED``."""
    return identity.full_name == DESTROYED


def record_identity_read(
    session: Session, *, read_id: str, victim: Victim, reader: Actor, purpose: str, now: datetime
) -> None:
    sealed = SEALED_PURPOSE.seal_columns(session, {"purpose": purpose}, read_id, victim.workspace_id)
    session.add(
        IdentityReadRow(
            id=read_id,
            victim_id=victim.id,
            workspace_id=victim.workspace_id,
            **same_fields(reader, "user_id username jurisdiction"),
            read_at=now,
            **sealed,
        )
    )


def identity_reads(session: Session, victim_id: str) -> list[tuple[Actor, datetime, str]]:
    """Who read the victim's identity, when, and why, oldest first."""
    rows = session.scalars(
        select(IdentityReadRow).where(IdentityReadRow.victim_id == victim_id).order_by(IdentityReadRow.id)
    )
    return [(Actor(r.user_id, r.username, r.jurisdiction), as_utc(r.read_at), r.purpose) for r in rows]


# -- notices ------------------------------------------------------------------------------------------------


#: The fields of a notice kept in columns of the same name (all of them).
NOTICE_FIELDS = Fields(
    same=("id", "victim_id", "workspace_id", "language", "note"),
    times=("told_at", "recorded_at"),
    enums={"step": NoticeStep, "channel": NoticeChannel},
    actors=("told_by",),
)


def _notice(row: NoticeRow) -> Notice:
    return Notice(**NOTICE_FIELDS.read(row))


def insert_notice(session: Session, notice: Notice, *, request_id: str, request_digest: str) -> None:
    columns = {**NOTICE_FIELDS.write(notice), "request_id": request_id, "request_digest": request_digest}
    session.add(NoticeRow(**SEALED_NOTE.seal_columns(session, columns, notice.id, notice.workspace_id)))
    session.flush()


def notice_by_request(session: Session, user_id: str, request_id: str) -> Stored[Notice] | None:
    row = session.scalar(select(NoticeRow).where(NoticeRow.told_by_id == user_id, NoticeRow.request_id == request_id))
    return Stored(_notice(row), row.request_digest) if row is not None else None


def notices_of(session: Session, victim_id: str) -> list[Notice]:
    rows = session.scalars(select(NoticeRow).where(NoticeRow.victim_id == victim_id).order_by(NoticeRow.id))
    return [_notice(r) for r in rows]
