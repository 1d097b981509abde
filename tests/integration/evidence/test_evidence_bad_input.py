"""Bad input, as a new user sends it (issue 9): each is INVALID_ARGUMENT naming the field, never echoes what
was sent, and writes nothing. The id table runs over every RPC of the service, so a new RPC is covered too.
Each module runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from sqlalchemy import func, select

from jit.evidence.v1 import evidence_pb2 as pb
from jit.tasks.v1 import tasks_pb2
from jitlib import paging
from services.evidence.store import RUNTIME, ItemRow, RequestRow
from tests.harness import audit_entries, error_reason, field_violations, md, rich_status, rid
from tests.integration.evidence.conftest import DAY, Client, Launcher, now_utc, ts

pytestmark = pytest.mark.integration

#: An id a careless or hostile client sends: 10 KB.
HUGE = "a" * 10_240
SERVICE = pb.DESCRIPTOR.services_by_name["EvidenceService"]


def written(svc: Any) -> tuple[int, int, int, int]:
    """(requests, items, outbox rows, audit entries): what a refused call must leave as it was."""

    def q(s: Any) -> tuple[int, int, int, int]:
        def count(table: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)

        return (
            count(RequestRow),
            count(ItemRow),
            count(RUNTIME.outbox),
            audit_entries(s, RUNTIME),
        )

    return svc.loop.run(svc.rt.read(q))


def refused(err: grpc.RpcError, field: str) -> str:
    """The description of ``field``'s violation, after checking the refusal names it and echoes nothing."""
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    violations = field_violations(err)
    assert field in violations, violations
    status = rich_status(err)
    assert HUGE[:64] not in status.message and HUGE[:64] not in str(status.details)
    assert len(status.SerializeToString()) < 4096
    return violations[field]


def get(client: Client, request_id: str) -> pb.EvidenceRequest:
    return client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=request_id)).request


# -- dates a user states ---------------------------------------------------------------------------


def test_a_receipt_before_the_request_was_issued_is_refused_and_changes_nothing(
    client: Client, evidence_svc: Any
) -> None:
    r = client.create()
    r = client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request
    issued = r.issued_at.ToDatetime(tzinfo=UTC)
    before = written(evidence_svc)
    for when in (
        datetime(1970, 1, 1, tzinfo=UTC),  # the clocks would have started in 1970
        issued - timedelta(hours=1),  # received an hour before it existed as issued
        now_utc() + DAY,  # received tomorrow
    ):
        err = client.error(
            "de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id, received_at=ts(when))
        )
        assert str(when.year) not in refused(err, "received_at")
    assert written(evidence_svc) == before
    after = get(client, r.id)
    assert after.state == pb.EVIDENCE_REQUEST_STATE_ISSUED and after.version == r.version
    assert after.received_at == r.received_at
    # A receipt after the issue is what the field is for: the clocks run from it.
    received = issued + (now_utc() - issued) / 2
    acked = client.call(
        "de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id, received_at=ts(received))
    ).request
    assert acked.received_at.ToDatetime(tzinfo=UTC) == received


def test_a_receipt_years_back_is_refused_even_on_an_old_request(client: Client) -> None:
    """The lower bound of a stated past date (jitlib.validate.past_date), whatever the record says."""
    r = client.create()
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    for when in (datetime(2014, 12, 31, tzinfo=UTC), now_utc() - 3 * 365 * DAY):
        err = client.error(
            "de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id, received_at=ts(when))
        )
        refused(err, "received_at")


def _provider_request(client: Client, **over: Any) -> pb.EvidenceRequest:
    return client.create(
        legal_basis=pb.LEGAL_BASIS_VOLUNTARY,
        addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="US",
        provider_name="X Corp.",
        **over,
    )


def test_user_notice_suppressed_until_9999_is_refused(client: Client, evidence_svc: Any) -> None:
    far = ts(datetime(9999, 1, 1, tzinfo=UTC))
    r = _provider_request(client)
    before = written(evidence_svc)
    err = client.error(
        "nl-prosecutor",
        "UpdateUserNotice",
        pb.UpdateUserNoticeRequest(id=r.id, status=pb.USER_NOTICE_STATUS_SUPPRESSED, suppressed_until=far),
    )
    assert "9999" not in refused(err, "suppressed_until")
    with pytest.raises(grpc.RpcError) as info:
        _provider_request(client, user_notice_status=pb.USER_NOTICE_STATUS_SUPPRESSED, user_notice_suppressed_until=far)
    refused(info.value, "user_notice_suppressed_until")
    assert written(evidence_svc) == before
    assert get(client, r.id).user_notice_status == pb.USER_NOTICE_STATUS_PENDING
    # Within the maximum (five years) a non-disclosure order is recorded as before.
    until = now_utc() + 4 * 365 * DAY
    done = client.call(
        "nl-prosecutor",
        "UpdateUserNotice",
        pb.UpdateUserNoticeRequest(id=r.id, status=pb.USER_NOTICE_STATUS_SUPPRESSED, suppressed_until=ts(until)),
    ).request
    assert done.user_notice_status == pb.USER_NOTICE_STATUS_SUPPRESSED


def _upload(client: Client, user: str, messages: Iterator[pb.UploadItemRequest]) -> pb.EvidenceItem:
    return client.stub.UploadItem(messages, metadata=md(client.tokens(user)), timeout=60).item


def _item_messages(evidence_request_id: str, data: bytes, **meta: Any) -> Iterator[pb.UploadItemRequest]:
    fields: dict[str, Any] = dict(
        request_id=rid(),
        evidence_request_id=evidence_request_id,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        media_type="text/plain",
        filename="note.txt",
    )
    fields.update(meta)
    yield pb.UploadItemRequest(metadata=pb.ItemMetadata(**fields))
    yield pb.UploadItemRequest(chunk=data)


def test_a_consent_granted_decades_ago_is_refused(client: Client, evidence_svc: Any) -> None:
    r = client.executing()
    before = written(evidence_svc)
    consent = pb.UseConsent(
        purpose="prosecution in NL", granted_by_jurisdiction="DE", granted_at=ts(datetime(1990, 5, 1, tzinfo=UTC))
    )
    with pytest.raises(grpc.RpcError) as info:
        _upload(
            client,
            "de-liaison",
            _item_messages(r.id, b"minutes", use_conditions=pb.UseConditions(consents=[consent])),
        )
    refused(info.value, "metadata.use_conditions.consents[0].granted_at")
    assert written(evidence_svc) == before


# -- ids: validated before they are looked up, never echoed ------------------------------------------


def _id_fields(method: MethodDescriptor) -> list[str]:
    return [
        f.name
        for f in method.input_type.fields
        if f.type == FieldDescriptor.TYPE_STRING and (f.name == "id" or f.name.endswith("_id"))
    ]


ID_CASES = [(m.name, name) for m in SERVICE.methods for name in _id_fields(m)] + [
    ("UploadItem", "metadata.request_id"),
    ("UploadItem", "metadata.evidence_request_id"),
]


def test_the_id_table_covers_every_rpc_that_takes_an_id() -> None:
    covered = {name for name, _ in ID_CASES}
    without = {m.name for m in SERVICE.methods} - covered
    assert without == {"VerifyEvidence"}  # takes no argument at all


def _call(client: Client, user: str, method: str, field: str, value: str) -> None:
    if method == "UploadItem":
        meta = {"request_id": rid(), "evidence_request_id": rid(), field.removeprefix("metadata."): value}
        _upload(client, user, _item_messages(**meta, data=b"x"))
        return
    request = getattr(pb, SERVICE.methods_by_name[method].input_type.name)(**{field: value})
    if method == "DownloadItem":
        list(client.stub.DownloadItem(request, metadata=md(client.tokens(user)), timeout=30))
        return
    client.call(user, method, request)


@pytest.mark.parametrize(("method", "field"), ID_CASES, ids=[f"{m}.{f}" for m, f in ID_CASES])
def test_a_10_kb_id_is_invalid_argument_never_echoed(
    client: Client, evidence_svc: Any, method: str, field: str
) -> None:
    before = written(evidence_svc)
    with pytest.raises(grpc.RpcError) as info:
        _call(client, "nl-prosecutor", method, field, HUGE)
    refused(info.value, field)
    assert written(evidence_svc) == before


def test_a_page_token_of_another_list_is_refused(client: Client) -> None:
    foreign = paging.token_after_id(rid(), tasks_pb2.ListTasksRequest())
    err = client.error("nl-prosecutor", "ListRequests", pb.ListRequestsRequest(page_token=foreign))
    refused(err, "page_token")
    err = client.error("nl-prosecutor", "ListRequests", pb.ListRequestsRequest(page_token=HUGE))
    refused(err, "page_token")


# -- the node's key-encryption key -------------------------------------------------------------------


def test_another_kek_gives_a_clear_error(client: Client, launcher: Launcher, db_url: str) -> None:
    """A node started with another KEK than the one that wrapped the workspace key says so: downloads are
    FAILED_PRECONDITION KEY_UNAVAILABLE, and verify names the problem; nothing is decrypted."""
    r = client.executing()
    item = _upload(client, "de-liaison", _item_messages(r.id, b"sealed with the first KEK"))
    other = launcher.start(db_url, kek=base64.b64encode(bytes(range(32))).decode())
    try:
        wrong = Client(other, client.tokens)
        with pytest.raises(grpc.RpcError) as info:
            list(
                wrong.stub.DownloadItem(
                    pb.DownloadItemRequest(item_id=item.id, purpose="check"),
                    metadata=md(client.tokens("nl-prosecutor")),
                    timeout=30,
                )
            )
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(info.value) == "KEY_UNAVAILABLE" and "key-encryption key" in (info.value.details() or "")
        report = wrong.call("nl-auditor", "VerifyEvidence", pb.VerifyEvidenceRequest(), timeout=120)
        assert any(p.item_id == item.id and p.problem == "key_unavailable" for p in report.problems)
    finally:
        launcher.stop(other)
