"""Sensitive evidence items (intimate images and the like): marked at upload or later with a reason, opened
only with a purpose by the roles the policy names, each opening in the chain of custody, shown to the others
as metadata only, and exported only after a second person's approval (four eyes). Each module runs on SQLite
and on PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import grpc
import pytest

from jit.audit.v1 import audit_pb2
from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from tests.harness import error_reason, eventually, field_violations, md, rid
from tests.integration.evidence.conftest import Client
from tests.integration.evidence.test_evidence_items import download, upload

pytestmark = pytest.mark.integration

OK, NF, PD = grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
IMAGE = b"\xff\xd8\xff\xe0 an intimate image shared without consent"


def sensitive_item(client: Client, **request: Any) -> tuple[pb.EvidenceRequest, pb.EvidenceItem]:
    """An EIO NL -> DE in execution and an image DE's liaison received as sensitive."""
    r = client.executing(**request)
    item = upload(
        client, "de-liaison", r.id, IMAGE, sensitive=True, filename="victim_image.jpg", description="image of V-NL-0007"
    )
    return r, item


def custody_of(client: Client, item_id: str, user: str = "nl-prosecutor") -> list[pb.CustodyEntry]:
    return list(client.call(user, "ListCustody", pb.ListCustodyRequest(item_id=item_id)).entries)


def actions(entries: list[pb.CustodyEntry]) -> list[str]:
    return [pb.CustodyAction.Name(e.action).removeprefix("CUSTODY_ACTION_") for e in entries]


def allowed(client: Client, user: str, item_id: str) -> list[str]:
    return list(client.call(user, "GetItem", pb.GetItemRequest(item_id=item_id)).item.allowed_actions)


def code(fn: Any) -> grpc.StatusCode:
    try:
        fn()
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_a_sensitive_item_opens_only_with_a_purpose_and_each_opening_is_in_custody(client: Client) -> None:
    """SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE: without a purpose the download is INVALID_ARGUMENT naming purpose
    and writes nothing; each opening is a DOWNLOADED entry with its purpose, who and when."""
    _, item = sensitive_item(client)
    assert item.sensitive
    assert actions(custody_of(client, item.id)) == ["RECEIVED"]
    assert custody_of(client, item.id)[0].purpose == "received as sensitive"
    for purpose in ("", "   "):
        with pytest.raises(grpc.RpcError) as info:
            download(client, "nl-prosecutor", item.id, purpose=purpose)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "purpose" in field_violations(info.value)
    assert actions(custody_of(client, item.id)) == ["RECEIVED"]  # a refused opening writes nothing

    got, body = download(client, "nl-prosecutor", item.id, purpose="identify the victim's account")
    assert body == IMAGE and got.sensitive
    download(client, "de-liaison", item.id, purpose="compare with the platform's copy")
    entries = custody_of(client, item.id)
    assert actions(entries) == ["RECEIVED", "DOWNLOADED", "DOWNLOADED"]
    assert [(e.actor.username, e.actor.jurisdiction, e.purpose) for e in entries[1:]] == [
        ("nl-prosecutor", "NL", "identify the victim's account"),
        ("de-liaison", "DE", "compare with the platform's copy"),
    ]
    assert all(e.HasField("at") for e in entries)


#: Who opens a sensitive item of a request NL -> DE visible to the whole workspace (so IE and Eurojust see
#: it without being its parties): (download, the file name shown in lists).
SENSITIVE_MATRIX = {
    "nl-prosecutor": (OK, True),
    "nl-liaison": (OK, True),
    "de-prosecutor": (OK, True),
    "de-liaison": (OK, True),
    "ie-prosecutor": (PD, False),  # a member that sees the request, not a party to it
    "ie-liaison": (PD, False),
    "eurojust-analyst": (PD, False),  # participants never
    "fr-prosecutor": (NF, False),  # not a member: the item's existence is not revealed
    "nl-operator": (PD, False),
    "nl-auditor": (PD, False),
}


@pytest.fixture(scope="module")
def matrix_item(client: Client) -> tuple[str, str]:
    r, item = sensitive_item(client, visibility=common_pb2.VISIBILITY_WORKSPACE)
    return r.id, item.id


@pytest.mark.parametrize("user", sorted(SENSITIVE_MATRIX))
def test_only_named_roles_of_a_party_open_a_sensitive_item(
    client: Client, matrix_item: tuple[str, str], user: str
) -> None:
    """SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE, as a matrix: a prosecutor or police liaison of a jurisdiction party
    to the request opens it; a member that only sees it, a participant, an operator or an auditor does not,
    and sees its size, digest and media type without its file name or description. A refused opening adds
    no custody entry. A list shows everyone the metadata only (review 37, finding 4: reading the file name
    and description is an access); GetItem shows them to who may open it, with an ACCESSED entry."""
    request_id, item_id = matrix_item
    expected, named = SENSITIVE_MATRIX[user]
    before = len(custody_of(client, item_id))
    assert code(lambda: download(client, user, item_id, purpose="matrix check")) == expected
    after = custody_of(client, item_id)
    assert len(after) == before + (1 if expected == OK else 0)
    if expected == OK:
        assert after[-1].actor.username == user and after[-1].purpose == "matrix check"
    if user in ("fr-prosecutor", "nl-operator", "nl-auditor"):
        return
    before = len(custody_of(client, item_id))
    listed = client.call(user, "ListItems", pb.ListItemsRequest(evidence_request_id=request_id)).items
    shown = next(i for i in listed if i.id == item_id)
    assert shown.sensitive and shown.sha256 == hashlib.sha256(IMAGE).hexdigest() and shown.size_bytes == len(IMAGE)
    assert shown.media_type == "image/jpeg"
    assert (shown.filename, shown.description) == ("", "")
    assert len(custody_of(client, item_id)) == before  # listed, not accessed
    got = client.call(user, "GetItem", pb.GetItemRequest(item_id=item_id)).item
    assert (got.filename, got.description) == (("victim_image.jpg", "image of V-NL-0007") if named else ("", ""))
    accessed = custody_of(client, item_id)[-1]
    assert accessed.action == pb.CUSTODY_ACTION_ACCESSED and accessed.actor.username == user
    assert ("download" in shown.allowed_actions) == (expected == OK) == ("download" in got.allowed_actions)


def test_listing_the_items_of_a_request_is_audited_naming_the_request(client: Client) -> None:
    """Review 37, finding 4: a ListItems's audit entry named neither the request nor the items (record id
    "*"); it names the request."""
    r, _ = sensitive_item(client)
    client.call("nl-prosecutor", "ListItems", pb.ListItemsRequest(evidence_request_id=r.id))
    auditor = md(client.tokens("nl-auditor"))

    def listed() -> list[tuple[str, str, str]]:  # once the chainer linked the entry (within about 50 ms)
        request = audit_pb2.ListAuditEntriesRequest(page_size=1000)
        return [
            (e.username, e.record_type, e.workspace_id)
            for e in client.audit.ListAuditEntries(request, metadata=auditor).entries
            if e.operation.endswith("/ListItems") and e.record_id == r.id
        ]

    assert eventually(listed, timeout=10) == [("nl-prosecutor", "evidence_item", r.workspace_id)]


def test_a_jurisdiction_the_request_is_shared_with_opens_it_but_never_a_participant(client: Client) -> None:
    """SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE: on a restricted request shared with IE and Eurojust, both are
    parties; IE's prosecutor opens the item, Eurojust's analyst (a participant) does not."""
    _, item = sensitive_item(client, visibility=common_pb2.VISIBILITY_RESTRICTED, shared_with=["IE", "EUROJUST"])
    assert download(client, "ie-prosecutor", item.id, purpose="the IE victim's complaint")[1] == IMAGE
    assert code(lambda: download(client, "eurojust-analyst", item.id)) == PD
    assert client.call("eurojust-analyst", "GetItem", pb.GetItemRequest(item_id=item.id)).item.filename == ""


def test_an_item_is_marked_sensitive_later_by_the_receiving_prosecutor_with_a_reason(client: Client) -> None:
    """SENSITIVE_ITEM_MARKING: DE's liaison received it; only DE's prosecutor marks it, with a reason (NL's
    prosecutor and DE's liaison are refused); it is unmarked only with a reason; each is a custody entry and
    an audit entry, and download needs the named roles from the marking on."""
    r = client.executing(visibility=common_pb2.VISIBILITY_WORKSPACE)
    item = upload(client, "de-liaison", r.id, IMAGE)
    assert not item.sensitive
    assert download(client, "ie-prosecutor", item.id)[1] == IMAGE  # not sensitive: any reader, as before

    mark = pb.MarkItemSensitiveRequest(item_id=item.id, reason="shows the victim unclothed")
    assert client.code_of("nl-prosecutor", "MarkItemSensitive", mark) == PD
    assert client.code_of("de-liaison", "MarkItemSensitive", mark) == PD
    assert client.code_of("eurojust-analyst", "MarkItemSensitive", mark) == PD
    err = client.error("de-prosecutor", "MarkItemSensitive", pb.MarkItemSensitiveRequest(item_id=item.id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(err)
    assert actions(custody_of(client, item.id)) == ["RECEIVED", "DOWNLOADED"]

    assert "mark_sensitive" in allowed(client, "de-prosecutor", item.id)
    assert "mark_sensitive" not in allowed(client, "nl-prosecutor", item.id)
    marked = client.call("de-prosecutor", "MarkItemSensitive", mark).item
    assert marked.sensitive
    assert "unmark_sensitive" in allowed(client, "de-prosecutor", item.id)
    err = client.error("de-prosecutor", "MarkItemSensitive", mark)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "ALREADY_SENSITIVE"
    assert code(lambda: download(client, "ie-prosecutor", item.id)) == PD
    assert client.call("ie-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item.filename == ""

    err = client.error("de-prosecutor", "UnmarkItemSensitive", pb.UnmarkItemSensitiveRequest(item_id=item.id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(err)
    assert client.call("de-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item.sensitive
    unmark = pb.UnmarkItemSensitiveRequest(item_id=item.id, reason="a screenshot of a chat, no image")
    assert not client.call("de-prosecutor", "UnmarkItemSensitive", unmark).item.sensitive
    entries = custody_of(client, item.id)
    assert [a for a in actions(entries) if a not in ("ACCESSED",)] == [
        "RECEIVED",
        "DOWNLOADED",
        "MARKED_SENSITIVE",
        "UNMARKED",
    ]
    marks = [e for e in entries if e.action in (pb.CUSTODY_ACTION_MARKED_SENSITIVE, pb.CUSTODY_ACTION_UNMARKED)]
    assert [(e.actor.username, e.purpose) for e in marks] == [
        ("de-prosecutor", "shows the victim unclothed"),
        ("de-prosecutor", "a screenshot of a chat, no image"),
    ]
    auditor = md(client.tokens("nl-auditor"))
    audit = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000), metadata=auditor)
    done = {(e.operation.rsplit("/", 1)[-1], e.outcome) for e in audit.entries if e.record_id == item.id}
    assert {("MarkItemSensitive", "ok"), ("UnmarkItemSensitive", "ok"), ("MarkItemSensitive", "denied")} <= done


def _export(client: Client, user: str, item_id: str, recipient: str) -> pb.CustodyEntry:
    return client.call(
        user,
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(),
            item_id=item_id,
            action=pb.CUSTODY_ACTION_EXPORTED,
            purpose="court file",
            recipient=recipient,
        ),
    ).entry


def test_a_second_persons_approval_allows_the_export_once(client: Client) -> None:
    """SENSITIVE_ITEM_EXPORT_FOUR_EYES: NL's liaison asks; before an approval the export is refused; NL's
    prosecutor (another person, the requester's jurisdiction) approves; DE's prosecutor and the liaison
    cannot; then the requester exports to the approved destination, once, and the chain shows the request,
    the approval and the export."""
    _, item = sensitive_item(client)
    court = "Rechtbank Amsterdam"
    ask = pb.RequestExportRequest(
        request_id=rid(), item_id=item.id, purpose="hand to the trial court", destination=court
    )
    asked = client.call("nl-liaison", "RequestExport", ask).entry
    assert asked.action == pb.CUSTODY_ACTION_EXPORT_REQUESTED and asked.recipient == court
    # Sent again after a lost answer: the request it recorded, no second one in the chain.
    assert client.call("nl-liaison", "RequestExport", ask).entry == asked
    assert actions(custody_of(client, item.id)).count("EXPORT_REQUESTED") == 1
    assert "approve_export" in allowed(client, "nl-prosecutor", item.id)
    assert "approve_export" not in allowed(client, "nl-liaison", item.id)  # never one's own
    assert "approve_export" not in allowed(client, "de-prosecutor", item.id)
    shown = client.call("nl-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id)).item
    assert shown.pending_export.request.seq == asked.seq and not shown.pending_export.HasField("approval")
    err = client.error(
        "nl-liaison",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(), item_id=item.id, action=pb.CUSTODY_ACTION_EXPORTED, purpose="court file", recipient=court
        ),
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "EXPORT_NOT_APPROVED"

    approve = pb.ApproveExportRequest(item_id=item.id, export_request_seq=asked.seq)
    assert client.code_of("nl-liaison", "ApproveExport", approve) == PD  # not a prosecutor
    assert client.code_of("de-prosecutor", "ApproveExport", approve) == PD  # not the requester's jurisdiction
    assert client.code_of("eurojust-analyst", "ApproveExport", approve) == NF  # does not see the request
    approval = client.call("nl-prosecutor", "ApproveExport", approve).entry
    assert approval.action == pb.CUSTODY_ACTION_EXPORT_APPROVED and approval.recipient == court
    assert "export" in allowed(client, "nl-liaison", item.id)
    assert "export" not in allowed(client, "nl-prosecutor", item.id)
    err = client.error("nl-prosecutor", "ApproveExport", approve)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "EXPORT_ALREADY_APPROVED"

    for user, recipient in (("nl-liaison", "Another court"), ("nl-prosecutor", court)):
        err = client.error(
            user,
            "RecordCustodyEvent",
            pb.RecordCustodyEventRequest(
                request_id=rid(),
                item_id=item.id,
                action=pb.CUSTODY_ACTION_TRANSFERRED,
                purpose="court file",
                recipient=recipient,
            ),
        )
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "EXPORT_NOT_APPROVED"
    exported = _export(client, "nl-liaison", item.id, court)
    assert exported.action == pb.CUSTODY_ACTION_EXPORTED
    err = client.error(
        "nl-liaison",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(), item_id=item.id, action=pb.CUSTODY_ACTION_EXPORTED, purpose="court file", recipient=court
        ),
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "EXPORT_NOT_APPROVED"
    entries = [e for e in custody_of(client, item.id) if e.action != pb.CUSTODY_ACTION_ACCESSED]  # GetItem's
    assert actions(entries)[-3:] == ["EXPORT_REQUESTED", "EXPORT_APPROVED", "EXPORTED"]
    assert "export" not in allowed(client, "nl-liaison", item.id)  # used up
    assert [e.actor.username for e in entries[-3:]] == ["nl-liaison", "nl-prosecutor", "nl-liaison"]
    assert entries[-3].purpose == "hand to the trial court"


def test_self_approval_of_an_export_is_refused(client: Client) -> None:
    """SENSITIVE_ITEM_EXPORT_FOUR_EYES: the prosecutor who asked cannot approve (FAILED_PRECONDITION
    SELF_APPROVAL, citing the rule), and nothing is written."""
    _, item = sensitive_item(client)
    asked = client.call(
        "nl-prosecutor",
        "RequestExport",
        pb.RequestExportRequest(
            request_id=rid(), item_id=item.id, purpose="hand to the trial court", destination="Rechtbank Amsterdam"
        ),
    ).entry
    err = client.error(
        "nl-prosecutor", "ApproveExport", pb.ApproveExportRequest(item_id=item.id, export_request_seq=asked.seq)
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "SELF_APPROVAL"
    assert "2012/29/EU" in (err.details() or "")
    assert actions(custody_of(client, item.id))[-1] == "EXPORT_REQUESTED"
    assert (
        client.code_of("nl-prosecutor", "RecordCustodyEvent", pb.RecordCustodyEventRequest(request_id=rid(),
            item_id=item.id, action=pb.CUSTODY_ACTION_EXPORTED, purpose="court file", recipient="Rechtbank Amsterdam"
        ))
        == grpc.StatusCode.FAILED_PRECONDITION
    )  # fmt: skip


def test_an_export_request_needs_purpose_and_destination_and_a_sensitive_item(client: Client) -> None:
    _, item = sensitive_item(client)
    err = client.error("nl-liaison", "RequestExport", pb.RequestExportRequest(request_id=rid(), item_id=item.id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"purpose", "destination"} <= set(field_violations(err))
    r = client.executing()
    plain = upload(client, "de-liaison", r.id, b"a chat log")
    ask = pb.RequestExportRequest(
        request_id=rid(), item_id=plain.id, purpose="court", destination="Rechtbank Amsterdam"
    )
    err = client.error("nl-liaison", "RequestExport", ask)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "NOT_SENSITIVE"
    assert _export(client, "nl-liaison", plain.id, "Rechtbank Amsterdam").seq == 2  # no approval needed
    received = pb.ApproveExportRequest(item_id=item.id, export_request_seq=1)  # the RECEIVED entry
    err = client.error("nl-prosecutor", "ApproveExport", received)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "NO_SUCH_EXPORT_REQUEST"
    bad = pb.ApproveExportRequest(item_id=item.id, export_request_seq=0)
    err = client.error("nl-prosecutor", "ApproveExport", bad)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "export_request_seq" in field_violations(err)


def test_an_approved_export_lapses_after_24_hours(client: Client, evidence_svc: Any) -> None:
    """SENSITIVE_ITEM_EXPORT_FOUR_EYES: an approval not used within 24 hours no longer allows the export.
    (Moves this module's clock forward: the last test of the module.)"""
    _, item = sensitive_item(client)
    court = "Rechtbank Amsterdam"
    asked = client.call(
        "nl-liaison",
        "RequestExport",
        pb.RequestExportRequest(request_id=rid(), item_id=item.id, purpose="trial", destination=court),
    ).entry
    client.call(
        "nl-prosecutor", "ApproveExport", pb.ApproveExportRequest(item_id=item.id, export_request_seq=asked.seq)
    )
    evidence_svc.app.clock.advance(timedelta(hours=24, minutes=1))
    err = client.error(
        "nl-liaison",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(), item_id=item.id, action=pb.CUSTODY_ACTION_EXPORTED, purpose="x", recipient=court
        ),
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "24 hours" in (err.details() or "")
