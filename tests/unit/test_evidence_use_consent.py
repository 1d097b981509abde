"""The originating state's consent to another use of an evidence item (FD 2002/465 Art. 1(10)), pure parts:
where an item arose (the addressee, or for a provider's answer the issuing state), what a consent recorded
later says, its retry, when none is taken, who is offered it, how consents are stored, and the migration that
sets the origin of provider items stored before right."""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

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
        s.execute(text("UPDATE alembic_version SET version_num = '0031'"))
    migrate(MIGRATIONS, url, "0032")  # that revision alone: the later ones' columns are there already
    with Session(db.engine, info=db.info) as s:
        got = {i: found.item.origin_jurisdiction for i in items if (found := store.get_item(s, i)) is not None}
    assert got == {i: after for i, (_, _, _, after) in items.items()}
    db.dispose()
