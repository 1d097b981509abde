"""Evidence items: streamed upload with digest check, encrypted storage, download with a purpose, the chain
of custody, tamper detection, and the access matrix (each module runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import grpc
import pytest
from sqlalchemy import create_engine, func, select, update

from jit.evidence.v1 import evidence_pb2 as pb
from services.evidence.store import CustodyRow, ItemRow
from tests.harness import error_reason, eventually, field_violations, md, rid
from tests.integration.evidence.conftest import Client

pytestmark = pytest.mark.integration
MiB = 1024 * 1024


def chunks(data: bytes, size: int = MiB) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def upload_messages(
    request_id: str, data: bytes, *, sha: str = "", size: int = -1, parts: Iterator[bytes] | None = None, **meta: Any
) -> Iterator[pb.UploadItemRequest]:
    yield pb.UploadItemRequest(
        metadata=pb.ItemMetadata(
            request_id=rid(),
            evidence_request_id=request_id,
            sha256=sha or hashlib.sha256(data).hexdigest(),
            size_bytes=len(data) if size < 0 else size,
            media_type=meta.pop("media_type", "image/jpeg"),
            filename=meta.pop("filename", "screenshot.jpg"),
            **meta,
        )
    )
    for part in parts if parts is not None else chunks(data):
        yield pb.UploadItemRequest(chunk=part)


def upload(client: Client, user: str, request_id: str, data: bytes, **kw: Any) -> pb.EvidenceItem:
    return client.stub.UploadItem(
        upload_messages(request_id, data, **kw), metadata=md(client.tokens(user)), timeout=60
    ).item


def upload_error(client: Client, user: str, request_id: str, data: bytes, **kw: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        upload(client, user, request_id, data, **kw)
    return info.value


def download(
    client: Client, user: str, item_id: str, purpose: str = "analysis for the JIT"
) -> tuple[pb.EvidenceItem, bytes]:
    item = None
    out = bytearray()
    for msg in client.stub.DownloadItem(
        pb.DownloadItemRequest(item_id=item_id, purpose=purpose), metadata=md(client.tokens(user)), timeout=60
    ):
        if msg.WhichOneof("part") == "item":
            item = msg.item
        else:
            out += msg.chunk
    assert item is not None
    return item, bytes(out)


def state_of(svc: Any) -> tuple[int, int, list[str], list[str]]:
    """(items, custody rows, blob files, temp files)."""

    def q(s: Any) -> tuple[int, int]:
        return (
            int(s.scalar(select(func.count()).select_from(ItemRow)) or 0),
            int(s.scalar(select(func.count()).select_from(CustodyRow)) or 0),
        )

    items, rows = svc.loop.run(svc.rt.read(q))
    store = svc.app.spec.extra["blobs"]
    blob_root = store.root / "blobs"
    blob_files = sorted(str(p) for p in blob_root.rglob("*") if p.is_file()) if blob_root.exists() else []
    return items, rows, blob_files, [str(p) for p in store.temp_files()]


def blob_path(svc: Any, item_id: str) -> Any:
    key = svc.loop.run(svc.rt.read(lambda s: s.scalar(select(ItemRow.blob_key).where(ItemRow.id == item_id))))
    return svc.app.spec.extra["blobs"].path(key)


def test_an_item_round_trips_encrypted_with_its_chain_of_custody(client: Client, evidence_svc: Any) -> None:
    r = client.executing()
    data = os.urandom(3 * MiB + 123)
    item = upload(client, "de-liaison", r.id, data, description="Screenshots of the doxxing posts")
    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size_bytes == len(data)
    assert item.origin_jurisdiction == "DE"  # the addressed state, where the evidence arose
    assert item.use_conditions.jit_purposes_only and item.received_by.jurisdiction == "DE"
    blob = blob_path(evidence_svc, item.id)
    assert data[:4096] not in blob.read_bytes()  # encrypted at rest
    got, body = download(client, "nl-prosecutor", item.id, purpose="prepare the indictment")
    assert body == data and got.id == item.id
    entries = client.call("nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
    assert [(e.action, e.actor.jurisdiction) for e in entries] == [
        (pb.CUSTODY_ACTION_RECEIVED, "DE"),
        (pb.CUSTODY_ACTION_DOWNLOADED, "NL"),
    ]
    assert entries[1].purpose == "prepare the indictment" and entries[1].prev_hash == entries[0].entry_hash
    assert all(e.sha256 == item.sha256 for e in entries)
    e = client.call(
        "nl-prosecutor",
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            request_id=rid(),
            item_id=item.id,
            action=pb.CUSTODY_ACTION_TRANSFERRED,
            purpose="court file",
            recipient="Rechtbank Amsterdam",
        ),
    ).entry
    assert e.seq == 3 and e.prev_hash == entries[1].entry_hash
    listed = client.call("de-liaison", "ListItems", pb.ListItemsRequest(evidence_request_id=r.id)).items
    assert [i.id for i in listed] == [item.id]
    got_r = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert got_r.item_count == 1


def test_a_retried_custody_act_is_recorded_once(client: Client, evidence_svc: Any) -> None:
    """A retry after a lost answer (the same request_id) answers with the entry the first call recorded, and
    records nothing: the chain of custody is evidence, and a second "transferred to the court" entry would be
    a false statement in it that nobody can remove. The same id for another act is REQUEST_ID_REUSED, nothing
    written; another caller's act with the same id is its own."""
    from services.evidence.store import RUNTIME

    r = client.executing()
    item = upload(client, "de-liaison", r.id, b"chat log for the court")
    outbox = RUNTIME.outbox
    transferred = (
        select(func.count()).select_from(outbox).where(outbox.c.event_type == "jit.evidence.v1.EvidenceItemTransferred")
    )
    events_before = evidence_svc.loop.run(evidence_svc.rt.read(lambda s: s.scalar(transferred)))

    def chain() -> list[int]:
        entries = client.call("nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
        return [e.action for e in entries if e.action != pb.CUSTODY_ACTION_ACCESSED]

    ask = pb.RecordCustodyEventRequest(
        request_id=rid(),
        item_id=item.id,
        action=pb.CUSTODY_ACTION_TRANSFERRED,
        purpose="court file",
        recipient="Rechtbank Amsterdam",
    )
    first = client.call("nl-prosecutor", "RecordCustodyEvent", ask).entry
    assert client.call("nl-prosecutor", "RecordCustodyEvent", ask).entry == first
    assert chain().count(pb.CUSTODY_ACTION_TRANSFERRED) == 1
    assert evidence_svc.loop.run(evidence_svc.rt.read(lambda s: s.scalar(transferred))) == events_before + 1
    other = pb.RecordCustodyEventRequest()
    other.CopyFrom(ask)
    other.recipient = "Rechtbank Rotterdam"
    err = client.error("nl-prosecutor", "RecordCustodyEvent", other)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REQUEST_ID_REUSED"
    assert "Rotterdam" not in (err.details() or "")
    assert chain().count(pb.CUSTODY_ACTION_TRANSFERRED) == 1
    # The key is the caller's: DE's liaison recording its own transfer with the same id records it.
    assert client.call("de-liaison", "RecordCustodyEvent", ask).entry.seq > first.seq
    assert chain().count(pb.CUSTODY_ACTION_TRANSFERRED) == 2


def test_concurrent_reads_of_one_item_all_succeed_each_in_one_gap_free_chain(client: Client) -> None:
    """Reading evidence does not fail because others read it at the same time: 40 concurrent GetItem and
    DownloadItem calls of one item (each appends its ACCESSED or DOWNLOADED entry) all answer, and the chain
    gets one entry per read, numbered without a gap, each linked to the one before; a custody act retried
    three times at once amid them is recorded once. Before the appends waited on the item's row lock, an
    optimistic append retried a few times, and on PostgreSQL about half of 40 such reads were ABORTED
    CUSTODY_CONFLICT."""
    r = client.executing()
    item = upload(client, "de-liaison", r.id, b"screenshots of the doxxing posts")
    act = pb.RecordCustodyEventRequest(
        request_id=rid(), item_id=item.id, action=pb.CUSTODY_ACTION_SEALED, purpose="sealed for the court"
    )

    def one(i: int) -> str:
        try:
            if i % 10 == 9:
                return str(client.call("nl-prosecutor", "RecordCustodyEvent", act).entry.seq)
            if i % 2:
                client.call("nl-prosecutor", "GetItem", pb.GetItemRequest(item_id=item.id))
            else:
                download(client, "de-prosecutor", item.id, purpose=f"read {i}")
            return "read"
        except grpc.RpcError as exc:
            return f"{exc.code()}: {exc.details()}"

    barrier = threading.Barrier(40)

    def together(i: int) -> str:
        barrier.wait()
        return one(i)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(together, range(40)))
    failed = [a for a in answers if a != "read" and not a.isdigit()]
    assert failed == []
    assert len({a for a in answers if a.isdigit()}) == 1  # every retry of the act answered with its one entry
    entries = client.call("nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
    assert [e.seq for e in entries] == list(range(1, 1 + 1 + 36 + 1))  # received, 36 reads, sealed once
    assert all(e.prev_hash == before.entry_hash for before, e in itertools.pairwise(entries))
    assert [e.action for e in entries].count(pb.CUSTODY_ACTION_SEALED) == 1


def test_a_read_waits_a_bounded_time_for_an_item_another_transaction_holds(
    client: Client, evidence_svc: Any, db_url: str
) -> None:
    """Another transaction holds the item (here the test's own connection to the service's database), and a
    download, which appends to the item's chain, comes meanwhile. PostgreSQL: it waits for the item's row at
    most ``store.ITEM_LOCK_TIMEOUT_SECONDS``, then is ABORTED ITEM_BUSY naming the item and saying to retry,
    with nothing recorded. SQLite, which has no row lock: it waits for the other writer (``BEGIN IMMEDIATE``,
    bounded by the busy timeout) and goes on once that one ends. Either way the download then succeeds,
    recorded once."""
    r = client.executing()
    data = os.urandom(4096)
    item = upload(client, "de-liaison", r.id, data)
    custody = select(func.count()).select_from(CustodyRow).where(CustodyRow.item_id == item.id)
    engine = create_engine(evidence_svc.rt.db.url)
    try:
        if db_url.startswith("sqlite"):
            with engine.connect() as holder:
                holder.exec_driver_sql("BEGIN IMMEDIATE")
                with ThreadPoolExecutor(1) as pool:
                    waiting = pool.submit(download, client, "nl-prosecutor", item.id)
                    done, _ = wait([waiting], timeout=1.0)
                    assert not done, "the download's append went on while another writer held the database"
                    assert holder.execute(custody).scalar_one() == 1  # the receipt alone so far
                    holder.exec_driver_sql("ROLLBACK")
                    assert waiting.result(timeout=60)[1] == data
        else:
            with engine.connect() as holder, holder.begin():
                holder.execute(select(ItemRow.id).where(ItemRow.id == item.id).with_for_update())
                with pytest.raises(grpc.RpcError) as busy:
                    download(client, "nl-prosecutor", item.id)
                assert busy.value.code() == grpc.StatusCode.ABORTED and error_reason(busy.value) == "ITEM_BUSY"
                assert item.id in (busy.value.details() or "") and "retry" in (busy.value.details() or "")
                assert holder.execute(custody).scalar_one() == 1  # the receipt alone: nothing recorded
            _, body = download(client, "nl-prosecutor", item.id)
            assert body == data
    finally:
        engine.dispose()
    entries = client.call("nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
    assert [e.action for e in entries] == [pb.CUSTODY_ACTION_RECEIVED, pb.CUSTODY_ACTION_DOWNLOADED]


def test_a_download_needs_a_purpose(client: Client) -> None:
    r = client.executing()
    item = upload(client, "de-liaison", r.id, b"chat log")
    with pytest.raises(grpc.RpcError) as info:
        download(client, "nl-prosecutor", item.id, purpose="  ")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "purpose" in field_violations(info.value)


def test_an_upload_is_refused_before_execution(client: Client, evidence_svc: Any) -> None:
    r = client.create()
    before = state_of(evidence_svc)
    err = upload_error(client, "de-liaison", r.id, b"too early")
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert state_of(evidence_svc) == before


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("wrong digest", "metadata.sha256"),
        ("wrong size", "metadata.size_bytes"),
        ("corrupt chunk", "metadata.sha256"),
        ("oversized chunk", "messages[1].chunk"),
        ("bad metadata", "metadata.media_type"),
        ("no metadata", "metadata"),
    ],
)
def test_a_bad_upload_leaves_no_half_item(client: Client, evidence_svc: Any, case: str, field: str) -> None:
    r = client.executing()
    data = os.urandom(2 * MiB + 7)
    before = state_of(evidence_svc)
    if case == "wrong digest":
        err = upload_error(client, "de-liaison", r.id, data, sha="ab" * 32)
    elif case == "wrong size":
        err = upload_error(client, "de-liaison", r.id, data, size=len(data) + 1)
    elif case == "corrupt chunk":
        parts = list(chunks(data))
        parts[1] = bytes([parts[1][0] ^ 0xFF]) + parts[1][1:]  # one byte changed in transit
        err = upload_error(client, "de-liaison", r.id, data, parts=iter(parts))
    elif case == "oversized chunk":
        err = upload_error(client, "de-liaison", r.id, data, parts=iter([data]))
    elif case == "bad metadata":
        err = upload_error(client, "de-liaison", r.id, data, media_type="not a type")
    else:
        with pytest.raises(grpc.RpcError) as info:
            client.stub.UploadItem(
                iter([pb.UploadItemRequest(chunk=b"x")]), metadata=md(client.tokens("de-liaison")), timeout=30
            )
        err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(err)
    assert state_of(evidence_svc) == before


def test_a_connection_cut_mid_upload_leaves_no_half_item(client: Client, evidence_svc: Any) -> None:
    r = client.executing()
    before = state_of(evidence_svc)
    data = os.urandom(8 * MiB)
    release = threading.Event()

    def messages() -> Iterator[pb.UploadItemRequest]:
        for n, msg in enumerate(upload_messages(r.id, data)):
            if n == 4:
                release.wait(60)  # hold the stream open, half sent
            yield msg

    channel = grpc.insecure_channel(f"127.0.0.1:{evidence_svc.app.port}")
    from jit.evidence.v1 import evidence_pb2_grpc

    stub = evidence_pb2_grpc.EvidenceServiceStub(channel)
    fut = stub.UploadItem.future(messages(), metadata=md(client.tokens("de-liaison")), timeout=60)
    eventually(lambda: state_of(evidence_svc)[3], timeout=30)  # the upload is being written to a temp file
    channel.close()  # the connection goes away
    release.set()
    with pytest.raises(grpc.RpcError):
        fut.result()
    eventually(lambda: state_of(evidence_svc) == before, timeout=30)


# -- tamper detection ------------------------------------------------------------------------------


def _problems(client: Client, item_id: str) -> set[str]:
    report = client.call("nl-auditor", "VerifyEvidence", pb.VerifyEvidenceRequest(), timeout=120)
    return {p.problem for p in report.problems if p.item_id == item_id}


def test_verify_finds_a_flipped_byte_in_a_blob(client: Client, evidence_svc: Any) -> None:
    r = client.executing()
    data = os.urandom(MiB + 99)
    item = upload(client, "de-liaison", r.id, data)
    assert _problems(client, item.id) == set()
    path = blob_path(evidence_svc, item.id)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    assert _problems(client, item.id) == {"blob_corrupt"}
    with pytest.raises(grpc.RpcError) as info:
        download(client, "nl-prosecutor", item.id)
    assert info.value.code() == grpc.StatusCode.DATA_LOSS


def test_verify_finds_a_changed_custody_entry(client: Client, evidence_svc: Any) -> None:
    r = client.executing()
    item = upload(client, "de-liaison", r.id, b"intimate image, evidence and harm at once")
    download(client, "nl-liaison", item.id, purpose="identify the location")

    def tamper(s: Any) -> None:
        s.execute(
            update(CustodyRow).where(CustodyRow.item_id == item.id, CustodyRow.seq == 2).values(purpose="routine check")
        )

    evidence_svc.loop.run(evidence_svc.rt.db.write(tamper))
    assert _problems(client, item.id) == {"chain_broken"}


def test_verify_finds_a_sealed_custody_text_moved_from_another_entry(client: Client, evidence_svc: Any) -> None:
    """The purpose is sealed at rest (RETENTION_EVIDENCE), bound to its item and entry: a sealed text copied
    from another entry does not open there, and the chain is found broken."""
    r = client.executing()
    item = upload(client, "de-liaison", r.id, b"an image, sealed text moved")
    download(client, "nl-liaison", item.id, purpose="identify the location")

    def tamper(s: Any) -> None:
        first = s.execute(select(CustodyRow.sealed).where(CustodyRow.item_id == item.id, CustodyRow.seq == 1)).scalar()
        s.execute(update(CustodyRow).where(CustodyRow.item_id == item.id, CustodyRow.seq == 2).values(sealed=first))

    evidence_svc.loop.run(evidence_svc.rt.db.write(tamper))
    assert _problems(client, item.id) == {"chain_broken"}


# -- the access matrix -----------------------------------------------------------------------------

OK, NF, PD = grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
#: user -> (read/download an item of a restricted NL->DE request, upload to it, verify all, custody log)
ITEM_MATRIX = {
    "nl-prosecutor": (OK, OK, PD, OK),
    "nl-liaison": (OK, OK, PD, OK),
    "de-prosecutor": (OK, OK, PD, OK),
    "de-liaison": (OK, OK, PD, OK),
    "ie-liaison": (NF, NF, PD, NF),
    "eurojust-analyst": (NF, NF, PD, NF),
    "fr-prosecutor": (NF, NF, PD, NF),
    "nl-operator": (PD, PD, PD, PD),
    "nl-auditor": (PD, PD, OK, OK),
}


@pytest.fixture(scope="module")
def matrix_item(client: Client) -> tuple[str, str]:
    r = client.executing()
    return r.id, upload(client, "de-liaison", r.id, b"matrix evidence").id


def _code(fn: Any) -> grpc.StatusCode:
    try:
        fn()
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize("user", sorted(ITEM_MATRIX))
def test_item_access_matrix(client: Client, matrix_item: tuple[str, str], user: str) -> None:
    request_id, item_id = matrix_item
    read, up, verify, custody_log = ITEM_MATRIX[user]
    assert _code(lambda: client.call(user, "GetItem", pb.GetItemRequest(item_id=item_id))) == read
    assert _code(lambda: download(client, user, item_id)) == read
    assert _code(lambda: client.call(user, "ListItems", pb.ListItemsRequest(evidence_request_id=request_id))) == read
    assert _code(lambda: upload(client, user, request_id, os.urandom(100))) == up
    assert _code(lambda: client.call(user, "VerifyEvidence", pb.VerifyEvidenceRequest(), timeout=120)) == verify
    assert _code(lambda: client.call(user, "ListCustody", pb.ListCustodyRequest(item_id=item_id))) == custody_log


def test_a_participant_sees_but_does_not_receive_evidence(client: Client) -> None:
    from jit.common.v1 import common_pb2

    r = client.executing(visibility=common_pb2.VISIBILITY_WORKSPACE)
    item = upload(client, "de-liaison", r.id, b"shared evidence")
    assert client.call("eurojust-analyst", "GetItem", pb.GetItemRequest(item_id=item.id)).item.id == item.id
    assert _code(lambda: upload(client, "eurojust-analyst", r.id, b"x")) == PD
    assert _code(lambda: upload(client, "ie-prosecutor", r.id, b"x")) == PD


def test_a_participant_of_a_party_records_no_custody_entry_while_the_partys_liaison_does(
    client: Client, evidence_svc: Any
) -> None:
    """Security review: Eurojust, a participant that a restricted request is shared with, sees its item but
    may not record an export, transfer or seal on it (EVIDENCE_ITEM_RULES, ANY_PARTY_ACT): PERMISSION_DENIED,
    audited as denied, nothing appended to the chain and no event; IE's liaison (the request is shared with
    IE too) and DE's (the addressee) still record."""
    from jit.audit.v1 import audit_pb2
    from jit.common.v1 import common_pb2
    from services.evidence.store import RUNTIME

    r = client.executing(visibility=common_pb2.VISIBILITY_RESTRICTED, shared_with=["IE", "EUROJUST"])
    item = upload(client, "de-liaison", r.id, b"evidence shared with Eurojust")
    assert client.call("eurojust-analyst", "GetItem", pb.GetItemRequest(item_id=item.id)).item.id == item.id
    outbox = RUNTIME.outbox

    def sealed_events() -> int:
        q = select(func.count()).select_from(outbox).where(outbox.c.event_type == "jit.evidence.v1.EvidenceItemSealed")
        return int(evidence_svc.loop.run(evidence_svc.rt.read(lambda s: s.scalar(q))) or 0)

    def chain() -> list[tuple[int, str]]:
        entries = client.call("nl-prosecutor", "ListCustody", pb.ListCustodyRequest(item_id=item.id)).entries
        return [(e.action, e.actor.username) for e in entries]

    seal = pb.RecordCustodyEventRequest(
        request_id=rid(), item_id=item.id, action=pb.CUSTODY_ACTION_SEALED, purpose="sealed for court"
    )
    before, events_before = chain(), sealed_events()
    for action, recipient in ((pb.CUSTODY_ACTION_SEALED, ""), (pb.CUSTODY_ACTION_EXPORTED, "Eurojust case file")):
        ask = pb.RecordCustodyEventRequest(
            request_id=rid(), item_id=item.id, action=action, purpose="analysis", recipient=recipient
        )
        err = client.error("eurojust-analyst", "RecordCustodyEvent", ask)
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert chain() == before and sealed_events() == events_before
    auditor = md(client.tokens("nl-auditor"))

    def refused() -> list[tuple[str, str]] | None:  # once the chainer linked both entries
        listed = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000), metadata=auditor)
        found = [
            (e.username, e.outcome)
            for e in listed.entries
            if e.operation.endswith("/RecordCustodyEvent") and e.record_id == item.id
        ]
        return found if len(found) >= 2 else None

    assert eventually(refused, timeout=10) == [("eurojust-analyst", "denied")] * 2

    assert client.call("ie-liaison", "RecordCustodyEvent", seal).entry.seq == len(before) + 1
    assert client.call("de-liaison", "RecordCustodyEvent", seal).entry.seq == len(before) + 2
    assert chain()[-2:] == [(pb.CUSTODY_ACTION_SEALED, "ie-liaison"), (pb.CUSTODY_ACTION_SEALED, "de-liaison")]
    assert sealed_events() == events_before + 2
