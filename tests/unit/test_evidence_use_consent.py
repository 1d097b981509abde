"""The originating state's consent to another use of an evidence item (FD 2002/465 Art. 1(10)), pure parts:
where an item arose (the addressee, or for a provider's answer the issuing state), what a consent recorded
later says, its retry, when none is taken, who is offered it, how consents are stored, and the migration that
sets the origin of provider items stored before right."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from jitlib import crypto, sealing
from jitlib.actors import Actor
from jitlib.db import Database, migrate
from jitlib.errors import FailedPrecondition
from services.evidence import domain, store
from services.evidence.app import MIGRATIONS
from services.evidence.domain import Consent, EvidenceItem
from tests.unit.test_evidence_security_review import NOW, fields, item, request, who

DE_PROSECUTOR = Actor("u-de", "de-prosecutor", "DE")
REQUEST_ID = "0190f7a0-0000-7000-8000-0000000000c1"
ITEM_ID = "0190f7a0-0000-7000-8000-0000000000e1"
T = TypeVar("T")


def stored_item(req: domain.EvidenceRequest, **over: object) -> EvidenceItem:
    fields_: dict[str, object] = dict(
        id=ITEM_ID,
        workspace_id=req.workspace_id,
        evidence_request_id=req.id,
        origin_jurisdiction=domain.item_origin(req),
        media_type="image/png",
        size_bytes=3,
        sha256="ab" * 32,
        filename="post.png",
        description="",
        conditions="",
        consents=(),
        received_by=Actor("u-nl", "nl-liaison", "NL"),
        received_at=NOW,
        blob_key="k",
    )
    fields_.update(over)
    return EvidenceItem(**fields_)  # type: ignore[arg-type]


def provider_request(basis: str, procedure: str = "") -> domain.EvidenceRequest:
    return request(
        "NL",
        "IE",
        legal_basis=basis,
        epoc_procedure=procedure,
        addressee_kind="SERVICE_PROVIDER",
        provider_name="SocialNet Ireland Ltd",
    )


# -- where an item arose -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("basis", "procedure"),
    [
        ("EPOC", "STANDARD"),
        ("EPOC", "EMERGENCY"),
        ("EPOC", "WITH_NOTIFICATION"),
        ("EPOC", "EMERGENCY_WITH_NOTIFICATION"),
        ("SAP_ART7", ""),
        ("VOLUNTARY", ""),
    ],
)
def test_item_origin_of_provider_data_is_the_issuing_state(basis: str, procedure: str) -> None:
    """ITEM_ORIGIN_OF_PROVIDER_DATA: the provider answers the issuing authority directly; the information
    became available in the issuing state (NL), which alone then consents to its other use, at upload too."""
    r = provider_request(basis, procedure)
    assert domain.item_origin(r) == "NL"
    nl = Consent("prosecution of a fraud case in NL", "NL", None, "")
    assert domain.origin_violations(item(consents=(nl,)), r, "NL") == []
    assert fields(domain.origin_violations(item(consents=(nl,)), r, "IE")) == {"metadata.use_conditions.consents"}
    ie = Consent("prosecution in IE", "IE", None, "")
    assert fields(domain.origin_violations(item(consents=(ie,)), r, "NL")) == {
        "metadata.use_conditions.consents[0].granted_by_jurisdiction"
    }


@pytest.mark.parametrize("basis", ["EIO", "MLA", "JIT_DIRECT"])
def test_item_origin_of_a_request_to_a_state_is_its_addressee(basis: str) -> None:
    """ITEM_ORIGIN_OF_PROVIDER_DATA keeps the addressee, which executed the request, for EIO, MLA, JIT_DIRECT."""
    assert domain.item_origin(request("NL", "DE", legal_basis=basis)) == "DE"


def test_an_upload_carries_at_most_fifty_consents() -> None:
    many = tuple(Consent(f"use {i}", "DE", None, "") for i in range(domain.CONSENTS_MAX + 1))
    assert fields(domain.new_item_violations(item(consents=many[:-1]), NOW)) == set()
    assert fields(domain.new_item_violations(item(consents=many), NOW)) == {"metadata.use_conditions.consents"}


# -- a consent recorded later --------------------------------------------------------------------------


def test_a_consent_recorded_later_is_bounded_one_line_text_with_ids() -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT: what RecordUseConsent takes; each refusal names its field."""
    ok = domain.consent_violations_later(REQUEST_ID, ITEM_ID, "prosecution of a fraud case", "OM 2026/117")
    assert ok == []
    assert domain.consent_violations_later(REQUEST_ID, ITEM_ID, "fraud", "") == []
    cases = {
        "request_id": ("x" * 100, ITEM_ID, "fraud", ""),
        "item_id": (REQUEST_ID, "", "fraud", ""),
        "purpose": (REQUEST_ID, ITEM_ID, "  ", ""),
    }
    for field, args in cases.items():
        assert fields(domain.consent_violations_later(*args)) == {field}
    for bad in ("fraud\nsystem: consented to everything", "x" * (domain.PURPOSE_MAX + 1), "fraud \u202e"):
        assert fields(domain.consent_violations_later(REQUEST_ID, ITEM_ID, bad, "")) == {"purpose"}
    for bad in ("OM\n2026", "x" * (domain.AUTHORITY_MAX + 1)):
        assert fields(domain.consent_violations_later(REQUEST_ID, ITEM_ID, "fraud", bad)) == {"reference"}
    long = "x" * 5000
    assert all(long not in v.description for v in domain.consent_violations_later(REQUEST_ID, ITEM_ID, long, long))


def test_a_consent_is_the_callers_states_granted_now_and_added_after_the_others() -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT: granted_by is the caller's jurisdiction, granted_at the service's time."""
    r = request("NL", "DE")
    earlier = Consent("an earlier use", "DE", NOW - timedelta(days=3), "")
    it = stored_item(r, consents=(earlier,))
    later = NOW + timedelta(days=20)
    got = domain.record_consent(it, DE_PROSECUTOR, REQUEST_ID, "prosecution of fraud in NL", "StA 4711", later)
    assert got.consents[0] == earlier
    assert got.consents[1] == Consent("prosecution of fraud in NL", "DE", later, "StA 4711", "u-de", REQUEST_ID)
    assert domain.consent_entry_purpose(got.consents[1]) == (
        "consent of DE to other use: prosecution of fraud in NL (reference StA 4711)"
    )
    assert domain.consent_entry_purpose(replace(got.consents[1], reference="")) == (
        "consent of DE to other use: prosecution of fraud in NL"
    )


def test_a_retried_consent_is_found_and_a_reused_request_id_refused() -> None:
    r = request("NL", "DE")
    it = domain.record_consent(stored_item(r), DE_PROSECUTOR, REQUEST_ID, "fraud", "ref", NOW)
    assert domain.consent_replay(it, "u-de", REQUEST_ID, "fraud", "ref") == it.consents[0]
    assert domain.consent_replay(it, "u-other", REQUEST_ID, "fraud", "ref") is None  # another user's key
    assert domain.consent_replay(stored_item(r), "u-de", REQUEST_ID, "fraud", "ref") is None
    for purpose, reference in (("fraud in BE", "ref"), ("fraud", "")):
        with pytest.raises(FailedPrecondition) as info:
            domain.consent_replay(it, "u-de", REQUEST_ID, purpose, reference)
        assert info.value.reason == "REQUEST_ID_REUSED"


def test_no_consent_on_a_restricted_item_nor_past_fifty() -> None:
    """A restricted item (EPOC_EMERGENCY_OBJECTION) is not to be used at all; a full list takes no more."""
    r = request("NL", "DE")
    assert domain.consent_refusal(stored_item(r), r) is None
    objected = replace(r, items_restricted_at=NOW + timedelta(hours=1))
    problem = domain.consent_refusal(stored_item(r), objected)
    assert problem is not None and problem.reason == "ITEM_RESTRICTED"
    full = stored_item(r, consents=tuple(Consent(f"use {i}", "DE", NOW, "") for i in range(domain.CONSENTS_MAX)))
    problem = domain.consent_refusal(full, r)
    assert problem is not None and problem.reason == "CONSENTS_FULL"
    assert domain.consent_refusal(replace(full, consents=full.consents[1:]), r) is None


def test_only_the_originating_states_prosecutor_is_offered_to_record_use_consent() -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT: ``record_use_consent`` in an item's allowed actions as the policy decides."""
    eio = replace(request("NL", "DE"), restricted=False)
    callers = (who("DE", "prosecutor"), who("DE", "police_liaison"), who("NL", "prosecutor"), who("IE", "prosecutor"))
    offered = [
        p.username
        for p in callers
        if "record_use_consent" in domain.item_allowed_actions(p, stored_item(eio), eio, None, NOW)
    ]
    assert offered == ["de-prosecutor"]
    epoc = replace(provider_request("EPOC", "STANDARD"), restricted=False)
    it = stored_item(epoc)
    assert "record_use_consent" in domain.item_allowed_actions(who("NL", "prosecutor"), it, epoc, None, NOW)
    assert "record_use_consent" not in domain.item_allowed_actions(who("IE", "prosecutor"), it, epoc, None, NOW)
    objected = replace(epoc, items_restricted_at=NOW + timedelta(hours=1))
    assert "record_use_consent" not in domain.item_allowed_actions(who("NL", "prosecutor"), it, objected, None, NOW)


def test_consents_are_stored_with_their_retry_key_and_older_ones_read_as_they_were() -> None:
    r = request("NL", "DE")
    later = domain.record_consent(stored_item(r), DE_PROSECUTOR, REQUEST_ID, "fraud", "ref", NOW).consents
    at_upload = (Consent("at upload", "DE", NOW - timedelta(days=1), ""),)
    for consents in (later, at_upload, at_upload + later, ()):
        assert store._consents(store._consents_json(consents)) == consents
    written_before = '[["a use", "DE", "2026-03-01T09:00:00+00:00", "ref"]]'
    assert store._consents(written_before) == (Consent("a use", "DE", NOW - timedelta(days=1), "ref"),)
    assert store._consents("") == ()


# -- sealed at rest -------------------------------------------------------------------------------------

#: The use a state consents to is case text ("prosecution of fraud by the suspect X"): sealed at rest.
SECRET_USE = "prosecution of fraud by zzconsent-4821"
LATER_USE = "prosecution of stalking by zzconsent-9377"


def item_db(tmp_path: Path, keks: crypto.KekRing | None = None) -> Database:
    """An evidence database as the service keeps it (migrated; the service's content keys, erasing what it
    deletes), holding the EIO the items are received against."""
    url = f"sqlite:///{tmp_path / 'evidence.db'}"
    migrate(MIGRATIONS, url)
    db = Database(url)
    sealing.install(db.info, store.Base.metadata, keks or crypto.KekRing.parse(KEK))
    sealing.enable_secure_delete(db.engine)
    with db.engine.connect() as conn:
        held = conn.execute(text("SELECT count(*) FROM evidence_requests")).scalar()
    if not held:
        db.write_sync(lambda s: store.REQUESTS.insert_many(s, [EIO]))
    return db


def read(db: Database, fn: Callable[[Session], T]) -> T:
    with Session(db.engine, info=db.info) as s:
        return fn(s)


KEK = base64.b64encode(os.urandom(32)).decode()
EIO = request("NL", "DE")


def consented(item_id: str = ITEM_ID, use: str = SECRET_USE, workspace_id: str = EIO.workspace_id) -> EvidenceItem:
    return stored_item(
        EIO,
        id=item_id,
        workspace_id=workspace_id,
        consents=(Consent(use, "DE", NOW, "StA 1"),),
        sha256=item_id[-2:] * 32,
    )


def read_item(db: Database, item_id: str = ITEM_ID) -> EvidenceItem:
    found = read(db, lambda s: store.get_item(s, item_id))
    assert found is not None
    return found.item


def clear_consents(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, consents FROM evidence_items")).tuples().all())


def files_hold(tmp_path: Path, db: Database, needle: str) -> bool:
    sealing.wipe_freed(db.engine)
    return any(needle.encode() in p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("evidence.db"))


def test_an_items_consents_are_sealed_with_its_text_at_upload_when_recorded_later_and_in_a_copy(
    tmp_path: Path,
) -> None:
    """Every write of an item seals its consents (the use consented to, case text) with its file name: its
    clear column stays empty and no database file holds the use, and each reads back (in the transaction that
    wrote it too)."""
    db = item_db(tmp_path)
    it = consented()
    db.write_sync(lambda s: store.insert_item(s, it, upload_request_id=it.id))
    assert read_item(db).consents == it.consents and read_item(db).filename == "post.png"
    later = domain.record_consent(it, DE_PROSECUTOR, REQUEST_ID, LATER_USE, "", NOW + timedelta(days=20))

    def record(s: Session) -> EvidenceItem:
        row = s.get(store.ItemRow, it.id)  # the session holds the row while it is in use
        assert row is not None and store._consents(row.consents) == it.consents
        store.set_item_consents(s, later)
        assert store._consents(row.consents) == later.consents
        again = store.get_item(s, it.id)
        assert again is not None
        return again.item

    assert db.write_sync(record).consents == later.consents
    assert read_item(db).consents == later.consents
    copy = replace(consented("0190f7a0-0000-7000-8000-0000000000e2"), blob_key="")

    def replicate(s: Session) -> EvidenceItem:
        store.write_item_replica(s, domain.ItemReplica(copy, 1), False)
        row = s.get(store.ItemRow, copy.id)
        assert row is not None
        newer = replace(copy, consents=(*copy.consents, later.consents[1]))
        store.write_item_replica(s, domain.ItemReplica(newer, 2), True)
        held = store.get_item_replica(s, copy.id)
        assert held is not None and held.version == 2 and row.filename == "post.png"
        return held.item

    assert len(db.write_sync(replicate).consents) == 2
    assert [c.purpose for c in read_item(db, copy.id).consents] == [SECRET_USE, LATER_USE]
    assert set(clear_consents(db).values()) == {""}
    assert not files_hold(tmp_path, db, "zzconsent-")


def test_a_shredded_workspaces_items_read_their_consents_as_none_and_take_no_more(tmp_path: Path) -> None:
    db = item_db(tmp_path)
    it = consented()
    db.write_sync(lambda s: store.insert_item(s, it, upload_request_id=it.id))
    db.write_sync(lambda s: sealing.content_keys(s).shred(s, it.workspace_id))
    gone = read_item(db)
    assert gone.consents == () and gone.filename == sealing.DESTROYED
    later = domain.record_consent(gone, DE_PROSECUTOR, REQUEST_ID, LATER_USE, "", NOW)
    with pytest.raises(sealing.ContentDestroyed):
        db.write_sync(lambda s: store.set_item_consents(s, later))
    assert not files_hold(tmp_path, db, "zzconsent-")


def test_an_item_whose_key_does_not_open_is_still_read_its_consents_as_none(tmp_path: Path) -> None:
    """The auditor's verification lists every item (``store.all_items``), one whose key no KEK of this node
    opens too (a finding): its text reads as unavailable, its consents as none."""
    db = item_db(tmp_path)
    db.write_sync(lambda s: store.insert_item(s, consented(), upload_request_id=ITEM_ID))
    db.dispose()
    other = item_db(tmp_path, crypto.KekRing.parse(base64.b64encode(os.urandom(32)).decode()))
    [found] = read(other, lambda s: store.all_items(s, "", 10))
    assert found.item.filename == sealing.UNAVAILABLE and found.item.consents == ()


def _sealed_before_consents(s: Session, it: EvidenceItem) -> None:
    """``it`` as the service stored it before revision 0036: its file name, description and conditions
    sealed (the associated data names those three), its consents in clear."""
    store.insert_item(s, it, upload_request_id=it.id)
    three = {"filename": it.filename, "description": it.description, "conditions": it.conditions}
    aad = store.SEALED_ITEMS.aad(it.id)
    sealed = sealing.content_keys(s).seal(s, it.workspace_id, aad, json.dumps(three).encode())
    s.execute(
        text("UPDATE evidence_items SET sealed = :sealed, consents = :consents WHERE id = :id"),
        {"sealed": sealed, "consents": store._consents_json(it.consents), "id": it.id},
    )


def test_the_start_seals_the_consents_of_items_sealed_before_them_once(tmp_path: Path) -> None:
    """Items sealed before their consents were (revision 0036): the start (``sealing.backfill_all``, in
    batches) seals each one's consents with its text and empties the column, erases those of a workspace
    already shredded, leaves the others; a second start finds none, on the partial index."""
    db = item_db(tmp_path)
    old = [consented(f"0190f7a0-0000-7000-8000-0000000001{n:02d}") for n in range(5)]
    shredded = consented("0190f7a0-0000-7000-8000-0000000002ff", workspace_id="ws-shredded")
    already = consented("0190f7a0-0000-7000-8000-0000000003ff", use=LATER_USE)
    gone_ws = replace(EIO, id="0190f7a0-0000-7000-8000-0000000000a9", workspace_id="ws-shredded")

    def write_before(s: Session) -> None:
        store.REQUESTS.insert_many(s, [gone_ws])
        for it in (*old, replace(shredded, evidence_request_id=gone_ws.id)):
            _sealed_before_consents(s, it)
        store.insert_item(s, already, upload_request_id=already.id)

    db.write_sync(write_before)
    db.write_sync(lambda s: sealing.content_keys(s).shred(s, "ws-shredded"))
    assert sum(bool(c) for c in clear_consents(db).values()) == 6

    assert read(db, lambda s: store.seal_clear_consents(s, batch=2)) == 2  # a batch (rolled back here)
    assert sealing.backfill_all(db.write_sync, store.Base.metadata) == 6
    assert set(clear_consents(db).values()) == {""}
    assert [read_item(db, it.id).consents for it in old] == [it.consents for it in old]
    assert read_item(db, old[0].id).filename == "post.png"
    assert read_item(db, shredded.id).consents == ()
    assert read_item(db, already.id).consents == already.consents
    assert not files_hold(tmp_path, db, "zzconsent-")
    assert sealing.backfill_all(db.write_sync, store.Base.metadata) == 0
    with db.engine.connect() as conn:
        sql = str(store.CLEAR_CONSENTS.limit(500).compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "ix_evidence_items_consents_in_clear" in plan, plan


# -- the migration ---------------------------------------------------------------------------------------


def test_the_migration_sets_the_origin_of_provider_items_right_unless_they_carry_a_consent(tmp_path: Path) -> None:
    """ITEM_ORIGIN_OF_PROVIDER_DATA, revision 0032: an EPOC's item stored with the provider's state (IE) as its
    origin gets the issuing state's (NL); one that carries a consent keeps its origin, and so does an EIO's.
    (On PostgreSQL too: tests/integration/evidence/test_evidence_migration_0032.py.)"""
    check_migration_0032(f"sqlite:///{tmp_path / 'evidence.db'}")


def check_migration_0032(url: str) -> None:
    """Items written at head, the database marked at 0031, then upgraded to 0032: each item's origin as the revision
    sets it."""
    migrate(MIGRATIONS, url)
    db = Database(url)
    sealing.install(db.info, store.Base.metadata, crypto.KekRing.parse(base64.b64encode(os.urandom(32)).decode()))
    epoc = replace(provider_request("EPOC", "WITH_NOTIFICATION"), id="0190f7a0-0000-7000-8000-0000000000a1")
    sap = replace(provider_request("SAP_ART7"), id="0190f7a0-0000-7000-8000-0000000000a2")
    eio = replace(request("NL", "DE"), id="0190f7a0-0000-7000-8000-0000000000a3")
    ie_consent = (Consent("prosecution in IE", "IE", NOW, ""),)
    items = {  # id: (request, origin as the former rule stored it, consents, origin after the migration)
        "0190f7a0-0000-7000-8000-0000000000e1": (epoc, "IE", (), "NL"),
        "0190f7a0-0000-7000-8000-0000000000e2": (sap, "IE", (), "NL"),
        "0190f7a0-0000-7000-8000-0000000000e3": (epoc, "IE", ie_consent, "IE"),
        "0190f7a0-0000-7000-8000-0000000000e4": (eio, "DE", (), "DE"),
    }
    with Session(db.engine, info=db.info) as s, s.begin():
        store.REQUESTS.insert_many(s, [epoc, sap, eio])
        for n, (item_id, (req, origin, consents, _)) in enumerate(items.items()):
            it = stored_item(req, id=item_id, origin_jurisdiction=origin, consents=consents, sha256=f"{n:064x}")
            store.insert_item(s, it, upload_request_id=item_id)
            # At 0031 the consents were in clear (sealed since 0036), where the revision's SQL reads them.
            s.execute(
                text("UPDATE evidence_items SET consents = :consents WHERE id = :id"),
                {"consents": store._consents_json(consents), "id": item_id},
            )
        s.execute(text("UPDATE alembic_version SET version_num = '0031'"))
    migrate(MIGRATIONS, url, "0032")  # that revision alone: the later ones' columns are there already
    with Session(db.engine, info=db.info) as s:
        got = {i: found.item.origin_jurisdiction for i in items if (found := store.get_item(s, i)) is not None}
    assert got == {i: after for i, (_, _, _, after) in items.items()}
    db.dispose()
