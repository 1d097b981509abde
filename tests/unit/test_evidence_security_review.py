"""Rules behind the evidence findings of the security review (issue 10), pure: who may link a request to a
preservation order and who sees the link, an item's origin and consents, one-line custody text, and blob
names that say nothing about the content."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jitlib.actors import Actor
from jitlib.principal import Principal
from services.evidence import blobs, custody, domain
from services.evidence.domain import Consent, NewItem, NewRequest, OrderReplica, Target

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WS = "jit-demo"


def who(jurisdiction: str, *roles: str, workspaces: tuple[str, ...] = (WS,)) -> Principal:
    return Principal(
        user_id=f"{jurisdiction.lower()}-{roles[0]}",
        username=f"{jurisdiction.lower()}-{roles[0]}",
        jurisdiction=jurisdiction,
        roles=frozenset(roles),
        workspaces=frozenset(workspaces),
    )


NL_PROSECUTOR = who("NL", "prosecutor")
NL_LIAISON = who("NL", "police_liaison")
NL_PARTICIPANT = who("NL", "participant")
DE_PROSECUTOR = who("DE", "prosecutor")
FR_PROSECUTOR = who("FR", "prosecutor", workspaces=())


def order(**over: object) -> OrderReplica:
    fields: dict[str, object] = dict(
        id="0190f7a0-0000-7000-8000-0000000000bb",
        workspace_id=WS,
        state=3,
        expires_at=None,
        version=3,
        follow_up_request_id="",
        origin_jurisdiction="NL",
        restricted=True,
        shared_with=(),
    )
    fields.update(over)
    return OrderReplica(**fields)  # type: ignore[arg-type]


def request(origin: str = "NL", addressee: str = "DE", **over: object) -> domain.EvidenceRequest:
    cmd = NewRequest(
        request_id="0190f7a0-0000-7000-8000-000000000001",
        workspace_id=WS,
        legal_basis=str(over.pop("legal_basis", "EIO")),
        epoc_procedure=str(over.pop("epoc_procedure", "")),
        issuing_authority="authority",
        addressee_kind=str(over.pop("addressee_kind", "MEMBER_STATE")),
        addressee_jurisdiction=addressee,
        provider_name=str(over.pop("provider_name", "")),
        data_categories=("SUBSCRIBER",),
        targets=(Target("ACCOUNT_HANDLE", "@x"),),
        offence_category="CYBERSTALKING",
        urgency="NORMAL",
        title="t",
        description="",
        restricted=True,
        preservation_order_id=str(over.pop("preservation_order_id", "")),
    )
    actor = Actor("u", "someone", origin)
    return domain.create(cmd, request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=actor, now=NOW)


# -- finding 1 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "the_order", "allowed"),
    [
        (NL_PROSECUTOR, order(), True),
        (NL_LIAISON, order(), True),  # a liaison issues orders too (PRESERVATION_ORDER_RULES)
        (NL_PARTICIPANT, order(), False),
        (DE_PROSECUTOR, order(), False),  # hidden from DE
        (DE_PROSECUTOR, order(restricted=False), False),  # seen by DE, issued by NL
        (DE_PROSECUTOR, order(shared_with=("DE",)), False),
        (NL_PROSECUTOR, order(workspace_id="other-ws"), False),
        (who("NL", "prosecutor", workspaces=(WS, "other-ws")), order(workspace_id="other-ws"), False),
        (NL_PROSECUTOR, order(origin_jurisdiction=""), False),  # replicated before the origin was kept
        (NL_PROSECUTOR, None, False),  # unknown here
        (FR_PROSECUTOR, order(restricted=False), False),
        (who("NL", "auditor"), order(), False),
    ],
)
def test_only_the_orders_issuing_side_in_the_workspace_may_link_to_it(
    principal: Principal, the_order: OrderReplica | None, allowed: bool
) -> None:
    """Finding #1 (High): the order's origin jurisdiction, with an issuer's role on orders, in the same
    workspace; everything else is refused with one answer."""
    assert domain.may_link_order(principal, the_order, WS) is allowed


def test_an_unlinkable_order_gets_one_answer_naming_the_field() -> None:
    """Finding #1: the refusal names preservation_order_id and never the order or what the caller may see."""
    err = domain.order_not_linkable()
    assert err.reason == "PRESERVATION_ORDER_NOT_LINKABLE" and err.metadata == {"field": "preservation_order_id"}
    assert domain.order_not_linkable().message == err.message


def test_the_link_shows_only_to_readers_of_the_order() -> None:
    """Finding #1: the linked order (state, expiry) shows only to callers the policy lets read it, and only
    for an order of the request's workspace and issuing jurisdiction."""
    r = request(preservation_order_id=order().id)
    assert domain.order_shown(NL_PROSECUTOR, r, order())
    assert domain.order_shown(NL_PARTICIPANT, r, order())
    assert not domain.order_shown(who("DE", "police_liaison"), r, order())
    assert domain.order_shown(who("DE", "police_liaison"), r, order(shared_with=("DE",)))
    assert not domain.order_shown(NL_PROSECUTOR, r, order(origin_jurisdiction="DE", restricted=False))
    assert not domain.order_shown(NL_PROSECUTOR, r, order(workspace_id="other-ws"))
    assert not domain.order_shown(NL_PROSECUTOR, r, None)


def test_an_order_names_only_a_request_of_its_own_issuer_and_workspace() -> None:
    """Finding #1, re-linking through MarkProductionRequested."""
    assert domain.order_may_name(order(), request("NL"))
    assert not domain.order_may_name(order(), request("DE", addressee="NL"))
    assert not domain.order_may_name(order(workspace_id="other-ws"), request("NL"))
    assert not domain.order_may_name(order(origin_jurisdiction=""), request("NL"))


# -- finding 10 --------------------------------------------------------------------------------------


def item(origin: str = "", consents: tuple[Consent, ...] = ()) -> NewItem:
    return NewItem(
        request_id="0190f7a0-0000-7000-8000-000000000002",
        evidence_request_id="0190f7a0-0000-7000-8000-0000000000aa",
        sha256="ab" * 32,
        size_bytes=10,
        media_type="image/jpeg",
        filename="a.jpg",
        description="",
        origin_jurisdiction=origin,
        conditions="",
        consents=consents,
    )


def fields(violations: list[object]) -> set[str]:
    return {v.field for v in violations}  # type: ignore[attr-defined]


def test_an_items_origin_is_the_requests_addressee() -> None:
    """Finding #10 (Medium): the origin is the request's addressee; a declared one must be that."""
    r = request("NL", "DE")
    assert domain.item_origin(r) == "DE"
    assert domain.origin_violations(item(), r, "NL") == []
    assert domain.origin_violations(item("DE"), r, "NL") == []
    for declared in ("IE", "NL"):
        assert fields(domain.origin_violations(item(declared), r, "NL")) == {"metadata.origin_jurisdiction"}
        assert fields(domain.origin_violations(item(declared), r, "DE")) == {"metadata.origin_jurisdiction"}
    # A provider's answer arose in the issuing state (ITEM_ORIGIN_OF_PROVIDER_DATA), not the provider's.
    provider = request("NL", "IE", legal_basis="EPOC", epoc_procedure="STANDARD", addressee_kind="SERVICE_PROVIDER")
    assert domain.item_origin(provider) == "NL"
    assert domain.origin_violations(item("NL"), provider, "NL") == []
    assert fields(domain.origin_violations(item("IE"), provider, "NL")) == {"metadata.origin_jurisdiction"}


def test_only_the_originating_state_records_its_consent_to_other_use() -> None:
    """Finding #10: NL recorded DE's consent to other use on an item it uploaded. Only DE records it
    (JIT_OTHER_USE_NEEDS_CONSENT, FD 2002/465 Art. 1(10))."""
    r = request("NL", "DE")
    de = Consent("prosecution of another case", "DE", None, "")
    assert domain.origin_violations(item(consents=(de,)), r, "DE") == []
    assert fields(domain.origin_violations(item("DE", consents=(de,)), r, "NL")) == {"metadata.use_conditions.consents"}
    ie = Consent("prosecution in IE", "IE", None, "")
    assert fields(domain.origin_violations(item(consents=(ie,)), r, "DE")) == {
        "metadata.use_conditions.consents[0].granted_by_jurisdiction"
    }


# -- finding 6 (input side) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "court \u202e",
        "court \u202a",
        "court \u202b",
        "court \u202c",
        "court \u202d",
        "court \u2066",
        "court \u2067",
        "court \u2068",
        "court \u2069",
        "court \u200e",
        "court \u200f",
        "court \u061c",
        "court\nsystem: sealed",
        "court\r",
        "court\t1",
        "court\x1b]52;c;ZXZpbA==\x07",
        "court\x9b31m",
        "court\x85",
        "court\u2028",
    ],
)
def test_custody_text_is_one_line_without_control_or_bidi_characters(text: str) -> None:
    """Finding #6 (Medium, input side): the recipient and purpose of a custody entry."""
    assert fields(domain.custody_event_violations(custody.Action.TRANSFERRED, "court file", text)) == {"recipient"}
    assert fields(domain.custody_event_violations(custody.Action.SEALED, text, "")) == {"purpose"}
    assert all(text not in v.description for v in domain.custody_event_violations(custody.Action.SEALED, text, ""))


def test_custody_text_in_any_script_is_accepted() -> None:
    for text in ("Rechtbank Ålesund", "Δικαστήριο Αθηνών", "محكمة", "Sąd Okręgowy w Łodzi"):
        assert domain.custody_event_violations(custody.Action.TRANSFERRED, "court file", text) == []


def test_a_file_name_with_a_bidi_override_is_refused() -> None:
    """Finding #6: the classic "gpj.exe" spoof in a file name shown next to the item."""
    spoof = NewItem(**{**item().__dict__, "filename": "photo\u202egpj.exe"})
    assert fields(domain.new_item_violations(spoof, NOW)) == {"metadata.filename"}


# -- blob names --------------------------------------------------------------------------------------


def test_blob_names_say_nothing_about_the_content(tmp_path: Path) -> None:
    """Security review, Low: blob file names were the content's SHA-256. They are a keyed hash now: the
    same content under the same key shares one name, under another key it has another."""
    key, other = bytes(range(32)), bytes(range(1, 33))
    data = b"the screenshot"
    sha = hashlib.sha256(data).hexdigest()
    store = blobs.BlobStore(tmp_path)
    w = store.writer(WS, key)
    w.declare(sha)
    w.write(data)
    blob_key, existed = w.commit(sha, len(data))
    assert not existed and sha not in blob_key and sha[:16] not in blob_key
    assert not any(sha in str(p) for p in tmp_path.rglob("*"))
    assert b"".join(store.read(blob_key, key)) == data
    assert blob_key == blobs.blob_key_for(WS, key, sha)
    assert blobs.blob_name(key, sha) != blobs.blob_name(other, sha)
    assert blobs.blob_name(key, sha) != blobs.blob_name(key, hashlib.sha256(b"other").hexdigest())
