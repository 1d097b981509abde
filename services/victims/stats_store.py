"""Persistence of the statistics part of the victims service (SQLAlchemy 2): the projection of tasks,
evidence requests and preservation orders the statistics count, and the victims' special-category
attributes. Tables and queries only; the rules are ``stats_domain``.

The projection (``stats_records``) holds codes only (states, jurisdictions, instruments, pseudonyms,
dates), no free text. The attributes (``victim_special_categories``) are stored apart from the case and
from the victim's record, one row per victim, everything but the pseudonym and workspace sealed under the
workspace's content key; withdrawing consent deletes the row (``jitlib.sealing``'s secure delete wipes
SQLite's freed pages) and keeps when (``special_category_withdrawals``), until consent is given again."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jitlib.clock import as_utc
from jitlib.db import TS
from jitlib.sealing import SealedText
from services.victims.stats_domain import Counted, SpecialCategories, VictimRow, deadlines_from_json, deadlines_to_json
from services.victims.store import Base
from services.victims.store import VictimRow as VictimTable


class CountedRow(Base):
    """One task, evidence request or preservation order as the statistics count it."""

    __tablename__ = "stats_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    origin_jurisdiction: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    addressee: Mapped[str] = mapped_column(String(64))
    addressee_jurisdiction: Mapped[str | None] = mapped_column(String(16), nullable=True)
    instrument: Mapped[str] = mapped_column(String(32))
    offence: Mapped[str] = mapped_column(String(48))
    victim_refs: Mapped[str] = mapped_column(Text)  # JSON list of pseudonyms
    restricted: Mapped[bool] = mapped_column(Boolean)
    shared_with: Mapped[str] = mapped_column(Text)  # JSON list of jurisdictions
    at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    produced: Mapped[bool] = mapped_column(Boolean)
    deadlines: Mapped[str] = mapped_column(Text)  # stats_domain.deadlines_to_json


class SpecialCategoriesRow(Base):
    """A victim's special-category attributes: its clear columns but the keys stay empty, all in ``sealed``."""

    __tablename__ = "victim_special_categories"

    victim_ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    attributes: Mapped[str] = mapped_column(Text)  # JSON {name: value}
    purpose: Mapped[str] = mapped_column(Text)
    consent_given_at: Mapped[str] = mapped_column(Text)  # ISO, sealed: when this victim consented says much
    recorded_by: Mapped[str] = mapped_column(Text)  # JSON [user_id, username, jurisdiction]
    recorded_at: Mapped[datetime] = mapped_column(TS)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class WithdrawalRow(Base):
    """When a victim withdrew the consent to its attributes (``SPECIAL_CATEGORIES_WITHDRAWN``), kept until
    consent is given again: a retried ``WithdrawConsent`` answers with it, as the first call did. No content:
    the pseudonym and a time, which the audit entry of the withdrawal holds in clear too."""

    __tablename__ = "special_category_withdrawals"

    victim_ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    withdrawn_at: Mapped[datetime] = mapped_column(TS)


#: Once the workspace's key is shredded the attributes read as none recorded (and the row as destroyed).
SEALED_CATEGORIES = SealedText(
    SpecialCategoriesRow,
    ("attributes", "purpose", "consent_given_at", "recorded_by"),
    key="victim_ref",
    destroyed={"attributes": "{}", "consent_given_at": "", "recorded_by": '["", "", ""]'},
)


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _to_counted(row: CountedRow) -> Counted:
    return Counted(
        id=row.id,
        kind=row.kind,
        workspace_id=row.workspace_id,
        origin_jurisdiction=row.origin_jurisdiction,
        version=row.version,
        state=row.state,
        addressee=row.addressee,
        instrument=row.instrument,
        offence=row.offence,
        victim_refs=tuple(json.loads(row.victim_refs or "[]")),
        restricted=row.restricted,
        shared_with=tuple(json.loads(row.shared_with or "[]")),
        addressee_jurisdiction=row.addressee_jurisdiction,
        at=_aware(row.at),
        received_at=_aware(row.received_at),
        answered_at=_aware(row.answered_at),
        produced=row.produced,
        deadlines=deadlines_from_json(row.deadlines),
    )


def get_counted(session: Session, record_id: str) -> Counted | None:
    row = session.get(CountedRow, record_id, with_for_update=True)
    return _to_counted(row) if row is not None else None


def put_counted(session: Session, record: Counted) -> None:
    values = {
        "kind": record.kind,
        "workspace_id": record.workspace_id,
        "origin_jurisdiction": record.origin_jurisdiction,
        "version": record.version,
        "state": record.state,
        "addressee": record.addressee,
        "addressee_jurisdiction": record.addressee_jurisdiction,
        "instrument": record.instrument,
        "offence": record.offence,
        "victim_refs": json.dumps(list(record.victim_refs)),
        "restricted": record.restricted,
        "shared_with": json.dumps(list(record.shared_with)),
        "at": record.at,
        "received_at": record.received_at,
        "answered_at": record.answered_at,
        "produced": record.produced,
        "deadlines": deadlines_to_json(record.deadlines),
    }
    row = session.get(CountedRow, record.id)
    if row is None:
        session.add(CountedRow(id=record.id, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()


def counted_in(session: Session, workspaces: Iterable[str]) -> list[Counted]:
    rows = session.scalars(select(CountedRow).where(CountedRow.workspace_id.in_(sorted(workspaces))))
    return [_to_counted(r) for r in rows]


def victims_in(session: Session, workspaces: Iterable[str]) -> list[VictimRow]:
    """The victims of ``workspaces`` as the statistics know them (pseudonym level, no identity)."""
    rows = session.scalars(select(VictimTable).where(VictimTable.workspace_id.in_(sorted(workspaces))))
    return [
        VictimRow(
            r.pseudonym,
            r.workspace_id,
            r.victim_jurisdiction,
            tuple(json.loads(r.offences or "[]")),
            _aware(r.created_at),
        )
        for r in rows
    ]


def victim_by_ref(session: Session, victim_ref: str) -> VictimTable | None:
    return session.scalars(select(VictimTable).where(VictimTable.pseudonym == victim_ref)).one_or_none()


def _to_categories(row: SpecialCategoriesRow) -> SpecialCategories:
    by = json.loads(row.recorded_by or '["", "", ""]')
    consent = datetime.fromisoformat(row.consent_given_at) if row.consent_given_at else row.recorded_at
    return SpecialCategories(
        victim_ref=row.victim_ref,
        workspace_id=row.workspace_id,
        attributes=json.loads(row.attributes or "{}"),
        purpose=row.purpose,
        consent_given_at=as_utc(consent),
        recorded_by_id=by[0],
        recorded_by_name=by[1],
        recorded_by_jurisdiction=by[2],
        recorded_at=as_utc(row.recorded_at),
    )


def get_categories(session: Session, victim_ref: str) -> SpecialCategories | None:
    row = session.get(SpecialCategoriesRow, victim_ref)
    return _to_categories(row) if row is not None else None


def put_categories(session: Session, record: SpecialCategories) -> None:
    """Record (or replace) a victim's attributes, sealed."""
    columns = SEALED_CATEGORIES.seal_columns(
        session,
        {
            "attributes": json.dumps(dict(record.attributes), sort_keys=True),
            "purpose": record.purpose,
            "consent_given_at": record.consent_given_at.isoformat(),
            "recorded_by": json.dumps(
                [record.recorded_by_id, record.recorded_by_name, record.recorded_by_jurisdiction]
            ),
        },
        record.victim_ref,
        record.workspace_id,
    )
    session.execute(delete(SpecialCategoriesRow).where(SpecialCategoriesRow.victim_ref == record.victim_ref))
    # Consent given (again): an earlier withdrawal no longer answers a WithdrawConsent.
    session.execute(delete(WithdrawalRow).where(WithdrawalRow.victim_ref == record.victim_ref))
    session.add(
        SpecialCategoriesRow(
            victim_ref=record.victim_ref, workspace_id=record.workspace_id, recorded_at=record.recorded_at, **columns
        )
    )
    session.flush()


def withdraw_consent(session: Session, victim_ref: str, workspace_id: str, now: datetime) -> datetime | None:
    """The victim withdrew consent: its attributes deleted. When they were destroyed: ``now`` when there were
    some (the withdrawal kept); the time of the withdrawal that destroyed them when there were none since
    (a retry, answered as the first call); None when none were ever recorded (or consent never withdrawn)."""
    row = session.get(SpecialCategoriesRow, victim_ref, with_for_update=True)
    if row is None:
        earlier = session.get(WithdrawalRow, victim_ref)
        return as_utc(earlier.withdrawn_at) if earlier is not None else None
    session.delete(row)
    session.execute(delete(WithdrawalRow).where(WithdrawalRow.victim_ref == victim_ref))
    session.add(WithdrawalRow(victim_ref=victim_ref, workspace_id=workspace_id, withdrawn_at=now))
    session.flush()
    return now


def attributes_in(session: Session, workspaces: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each victim's recorded attributes in ``workspaces`` (opened for counting only)."""
    rows = session.scalars(
        select(SpecialCategoriesRow).where(SpecialCategoriesRow.workspace_id.in_(sorted(workspaces)))
    )
    return {r.victim_ref: json.loads(r.attributes or "{}") for r in rows}


def erase_workspace(session: Session, workspace_id: str) -> dict[str, int]:
    """When a workspace's content is destroyed (retention): its victims' attributes are deleted, and the
    projection forgets which victims its records concerned (they count as NO_VICTIM); the codes stay, so
    the JIT's figures without victims remain. Counts for the deletion certificate."""
    attrs = session.execute(
        select(SpecialCategoriesRow.victim_ref).where(SpecialCategoriesRow.workspace_id == workspace_id)
    ).all()
    session.execute(delete(SpecialCategoriesRow).where(SpecialCategoriesRow.workspace_id == workspace_id))
    withdrawals = session.execute(delete(WithdrawalRow).where(WithdrawalRow.workspace_id == workspace_id))
    linked = session.scalars(
        select(CountedRow).where(CountedRow.workspace_id == workspace_id, CountedRow.victim_refs != "[]")
    ).all()
    for row in linked:
        row.victim_refs = "[]"
    session.flush()
    return {
        "special_categories_deleted": len(attrs),
        "special_category_withdrawals_deleted": withdrawals.rowcount,  # type: ignore[attr-defined]
        "statistics_victim_links_erased": len(linked),
    }
