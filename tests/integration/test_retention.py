"""Retention through the real services (``jitlib.retention``, ``jitlib.retention_sweep``): a closed workspace's
tasks, evidence (requests, items and their blobs) and preservation orders are crypto-shredded when their period
ends, never under a legal hold; each deletion leaves a certificate naming the audit head; no plaintext nor
readable ciphertext remains in the database files, the blob folder or the NATS store; audit entries older
than 3 years are pruned and the chain still verifies from its checkpoint.

The services run on a NATS of this module's own (one per database backend), so closing and holding the demo
workspace here changes it for no other module; their clocks are moved years ahead instead of waiting."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import nats.errors
import pytest
from sqlalchemy import select, update

from jit.audit.v1 import audit_pb2, audit_pb2_grpc
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as epb
from jit.evidence.v1 import evidence_pb2_grpc
from jit.preservation.v1 import preservation_pb2 as ppb
from jit.preservation.v1 import preservation_pb2_grpc
from jit.retention.v1 import retention_pb2, retention_pb2_grpc
from jit.tasks.v1 import tasks_pb2 as tpb
from jit.tasks.v1 import tasks_pb2_grpc
from jit.victims.v1 import victims_pb2 as vpb
from jit.victims.v1 import victims_pb2_grpc
from jitdev.nats import NatsInstance
from jitlib import audit, crypto, keytool, retention_sweep, sealing
from jitlib.clock import OffsetClock
from jitlib.config import CommonSettings
from jitlib.natsauth import NodeUsers
from tests.conftest import authenticated_nats, read_stream, wait_for_workspace
from tests.harness import RunningService, eventually, field_violations, files_holding, md, rid, start_service
from tests.integration.evidence.conftest import new_request

pytestmark = pytest.mark.integration

WS = "jit-demo"
#: Written into every free-text field of the case; it must be found nowhere after the deletion.
MARKER = "RETENTION-MARKER-" + uuid.uuid4().hex[:12]
#: A download's purpose, in the chain of custody.
CUSTODY_MARKER = "CUSTODY-MARKER-" + uuid.uuid4().hex[:12]


@dataclasses.dataclass
class Node:
    clock: OffsetClock
    nats: NatsInstance
    users: NodeUsers
    state: Path
    common: CommonSettings
    backend: str
    tasks: RunningService
    evidence: RunningService
    preservation: RunningService
    victims: RunningService
    admin_ws: Any
    #: The PostgreSQL server's data folder (its tables and WAL), on that backend.
    pg_data: Path | None = None

    @property
    def services(self) -> tuple[RunningService, ...]:
        return (self.tasks, self.evidence, self.preservation, self.victims)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def node(
    request: pytest.FixtureRequest,
    keycloak: Any,
    nats_users: NodeUsers,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Node]:
    """Tasks, evidence and preservation of one node on the backend, sharing one test clock and a NATS of
    their own on which the demo workspace is announced."""
    from jitcli import kcadmin
    from jitcli.workspace_sync import publish_workspaces
    from services.evidence.app import EvidenceSettings
    from services.evidence.app import spec as evidence_spec
    from services.preservation.app import PreservationSettings
    from services.preservation.app import spec as preservation_spec
    from services.tasks.app import TasksSettings
    from services.tasks.app import spec as tasks_spec
    from services.victims.app import VictimsSettings
    from services.victims.app import spec as victims_spec

    backend = request.param
    base = tmp_path_factory.mktemp(f"retention-{backend}")
    inst = authenticated_nats(base, nats_users).start()
    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    demo = kcadmin.get_workspace(admin, WS)
    asyncio.run(publish_workspaces(inst.address, [demo], credentials=nats_users.credentials("admin")))
    state = base / "state"
    state.mkdir()
    common = CommonSettings(
        nats_url=inst.url, oidc_issuer=keycloak.issuer, state_dir=state, retention_years=2, retention_scan_seconds=3600
    )
    clock = OffsetClock()
    group = uuid.uuid4().hex[:8]

    def fields(name: str) -> dict[str, Any]:
        if backend == "sqlite":
            url = f"sqlite:///{state / name}.db"
        else:
            url = str(request.getfixturevalue("postgres").create_database(f"ret_{name}_{group}"))
        return dict(listen="127.0.0.1:0", database_url=url, consumer_group=f"retention-{name}-{group}")

    started: list[RunningService] = []
    try:
        t = TasksSettings(**fields("tasks"))
        started.append(start_service(tasks_spec(t), t, common, clock=clock))
        e = EvidenceSettings(**fields("evidence"), blob_dir=str(state / "evidence-blobs"))
        started.append(start_service(evidence_spec(e), e, common, clock=clock))
        p = PreservationSettings(**fields("preservation"))
        started.append(start_service(preservation_spec(p), p, common, clock=clock))
        v = VictimsSettings(**fields("victims"))
        started.append(start_service(victims_spec(v), v, common, clock=clock))
        for svc in started:
            wait_for_workspace(svc, WS)
        tasks, evidence, preservation, victims = started
        pg = request.getfixturevalue("postgres").data_dir if backend == "postgresql" else None
        yield Node(clock, inst, nats_users, state, common, backend, tasks, evidence, preservation, victims, demo, pg)
    finally:
        for svc in started:
            svc.stop()
        inst.stop()


def announce(node: Node, **changes: Any) -> None:
    """Announce the demo workspace with ``changes`` as its next version, as `jit admin workspace close` and
    `jit admin retention hold/release/set` announce it, and wait until every service holds it."""
    from jitcli.workspace_sync import publish_workspaces

    current = node.tasks.rt.workspaces.get(WS)
    assert current is not None
    ws = dataclasses.replace(node.admin_ws, version=current.version + 1, **changes)
    node.admin_ws = ws
    for attempt in range(3):  # a loaded machine can time a publish out; its Nats-Msg-Id makes a retry safe
        try:
            asyncio.run(publish_workspaces(node.nats.address, [ws], credentials=node.users.credentials("admin")))
            break
        except nats.errors.TimeoutError:
            if attempt == 2:
                raise
    for svc in node.services:
        eventually(lambda svc=svc: (svc.rt.workspaces.get(WS) or current).version == ws.version, timeout=30)


def sweep(svc: RunningService) -> retention_sweep.SweepReport:
    report: retention_sweep.SweepReport = svc.loop.run(svc.app.spec.extra["retention_sweep"].sweep_once())
    return report


def call(svc: RunningService, stub: Any, method: str, user: str, request: Any, tokens: Any) -> Any:
    return getattr(stub(svc.channel), method)(request, metadata=md(tokens(user)), timeout=30)


def verify(svc: RunningService, tokens: Any) -> audit_pb2.VerifyAuditChainResponse:
    return call(
        svc,
        audit_pb2_grpc.AuditServiceStub,
        "VerifyAuditChain",
        "nl-auditor",
        audit_pb2.VerifyAuditChainRequest(),
        tokens,
    )


def entries(svc: RunningService) -> list[dict[str, Any]]:
    svc.audit_linked()
    log = svc.rt.tables.audit_log
    rows = svc.loop.run(svc.rt.read(lambda s: [dict(r) for r in s.execute(select(log).order_by(log.c.seq)).mappings()]))
    return list(rows)


def found_in_files(root: Path, needle: bytes) -> tuple[list[Path], int]:
    """The files under ``root`` that hold ``needle``, and how many files could be read (``files_holding``:
    the NATS server may delete a consumer's folder while the search walks its store)."""
    return files_holding(root, needle)


@dataclasses.dataclass
class Case:
    task_id: str
    request_id: str
    item_id: str
    order_id: str
    blob: Path
    victim_id: str


def make_case(node: Node, tokens: Any) -> Case:
    """A task, an evidence request with an item and a preservation order, each naming MARKER."""
    t = call(
        node.tasks,
        tasks_pb2_grpc.TaskServiceStub,
        "CreateTask",
        "nl-prosecutor",
        tpb.CreateTaskRequest(
            request_id=rid(),
            workspace_id=WS,
            title=f"Identify {MARKER}",
            description=f"The account {MARKER}",
            kind=tpb.TASK_KIND_OTHER,
            assignee_jurisdiction="DE",
        ),
        tokens,
    ).task
    ev = evidence_pb2_grpc.EvidenceServiceStub
    r = call(
        node.evidence, ev, "CreateRequest", "nl-prosecutor", new_request(title=f"Data of {MARKER}"), tokens
    ).request
    call(node.evidence, ev, "IssueRequest", "nl-prosecutor", epb.IssueRequestRequest(id=r.id), tokens)
    call(node.evidence, ev, "AcknowledgeRequest", "de-liaison", epb.AcknowledgeRequestRequest(id=r.id), tokens)
    call(node.evidence, ev, "StartExecution", "de-prosecutor", epb.StartExecutionRequest(id=r.id), tokens)
    data = f"subscriber record of {MARKER}".encode()
    meta = epb.ItemMetadata(
        request_id=rid(),
        evidence_request_id=r.id,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        media_type="text/plain",
        filename=f"{MARKER}.txt",
        description=f"About {MARKER}",
        # DE's consent to another use: the use is case text, sealed with the item's (and gone with its key).
        use_conditions=epb.UseConditions(
            consents=[epb.UseConsent(purpose=f"prosecution of {MARKER}", granted_by_jurisdiction="DE")]
        ),
    )
    item = (
        ev(node.evidence.channel)
        .UploadItem(
            iter([epb.UploadItemRequest(metadata=meta), epb.UploadItemRequest(chunk=data)]),
            metadata=md(tokens("de-liaison")),
            timeout=60,
        )
        .item
    )
    # A download's purpose is in the item's chain of custody (sealed at rest; the custody chain hashes it).
    parts = ev(node.evidence.channel).DownloadItem(
        epb.DownloadItemRequest(item_id=item.id, purpose=f"hearing of {CUSTODY_MARKER}"),
        metadata=md(tokens("nl-prosecutor")),
        timeout=60,
    )
    assert b"".join(p.chunk for p in parts) == data
    o = call(
        node.preservation,
        preservation_pb2_grpc.PreservationServiceStub,
        "CreateOrder",
        "nl-liaison",
        ppb.CreateOrderRequest(
            request_id=rid(),
            workspace_id=WS,
            legal_basis=ppb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
            provider_id="socialnet-ie",
            targets=[ppb.TargetIdentifier(kind=ppb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
            data_categories=[ppb.DATA_CATEGORY_SUBSCRIBER],
            description=f"Posts by {MARKER}",
        ),
        tokens,
    ).order
    blob_keys = node.evidence.loop.run(
        node.evidence.rt.read(
            lambda s: __import__("services.evidence.store", fromlist=["x"]).blob_keys_of_workspace(s, WS)
        )
    )
    blob = node.evidence.app.spec.extra["blobs"].path(blob_keys[0])
    assert blob.exists()
    identity = vpb.VictimIdentity(
        full_name=f"Anna {MARKER}", contact=f"Street {MARKER}", languages=["nl"], needs=f"Needs {MARKER}"
    )
    victim = call(
        node.victims,
        victims_pb2_grpc.VictimServiceStub,
        "RegisterVictim",
        "nl-prosecutor",
        vpb.RegisterVictimRequest(request_id=rid(), workspace_id=WS, victim_jurisdiction="NL", identity=identity),
        tokens,
    ).victim
    return Case(t.id, r.id, item.id, o.id, blob, victim.id)


RET = retention_pb2_grpc.RetentionServiceStub


def stream_copies(node: Node, stream: str) -> int:
    """How many messages of ``stream`` carry an event of the demo workspace."""
    return sum(Envelope.FromString(m.data).workspace_id == WS for m in read_stream(node.nats.url, stream, ">"))


def hold_between_finding_and_destroy(node: Node, svc: RunningService, stream: str, tokens: Any) -> None:
    """The sweep driven step by step in ``svc``, whose content of the demo workspace is due: while a shred
    claims the workspace a hold is refused (CONTENT_BEING_DESTROYED); let go, a hold is set after the pass
    found the workspace due, and the pass's ``destroy`` then erases nothing (stream copies, key) and certifies
    nothing. The hold is released again at the end."""
    s: retention_sweep.RetentionSweep = svc.app.spec.extra["retention_sweep"]
    assert WS in svc.loop.run(svc.rt.read(s.due))
    before = stream_copies(node, stream)
    assert before >= 1
    hold = retention_pb2.SetLegalHoldRequest(request_id=rid(), workspace_id=WS, reason="a late appeal")
    assert svc.loop.run(svc.rt.db.write(lambda session: s._claim(session, WS)))
    with pytest.raises(grpc.RpcError) as claimed:
        call(svc, RET, "SetLegalHold", "nl-prosecutor", hold, tokens)
    assert claimed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is being destroyed" in (claimed.value.details() or "")
    svc.loop.run(svc.rt.db.write(lambda session: s._let_go(session, WS)))
    found = svc.loop.run(svc.rt.read(s.due))  # the pass's finding ...
    assert WS in found
    held = call(svc, RET, "SetLegalHold", "nl-prosecutor", hold, tokens).hold  # ... a hold after it ...
    assert held.active
    assert svc.loop.run(s.destroy(WS)) is None  # ... and its destroy
    assert stream_copies(node, stream) == before
    keys = svc.rt.content_keys
    assert svc.loop.run(svc.rt.read(lambda session: keys.key(session, WS)))  # not destroyed
    release = retention_pb2.ReleaseLegalHoldRequest(request_id=rid(), workspace_id=WS)
    assert not call(svc, RET, "ReleaseLegalHold", "nl-prosecutor", release, tokens).hold.active


def hold_entries(svc: RunningService) -> list[tuple[str, str]]:
    """The service's audit entries of legal holds: (the RPC, its outcome), in order."""
    return [(e["operation"].rsplit("/", 1)[-1], e["outcome"]) for e in entries(svc) if e["record_type"] == "legal_hold"]


def test_legal_holds_keep_their_history_and_a_retried_set_or_release_answers_as_the_first_call(
    node: Node, tokens: Any
) -> None:
    """LEGAL_HOLD: set, released, set again: both holds are listed, the first released (who, when); a set
    while one is active renews it (the earlier one released as renewed, naming the new one); a retried set
    (same request_id) answers the first hold as it is now, released, and never switches it on again, with
    one audit entry; a retried release answers the release; a request_id reused for another request is
    refused; each list is audited."""
    svc = node.preservation
    on = {"workspace_id": WS, "record_type": "preservation_order", "record_id": "held-order-1"}
    first_set = retention_pb2.SetLegalHoldRequest(request_id=rid(), **on, reason="appeal pending")
    first = call(svc, RET, "SetLegalHold", "nl-prosecutor", first_set, tokens).hold
    assert first.active and first.id
    release = retention_pb2.ReleaseLegalHoldRequest(request_id=rid(), **on)
    released = call(svc, RET, "ReleaseLegalHold", "nl-prosecutor", release, tokens).hold
    assert released.id == first.id and not released.active and released.released_by == "nl-prosecutor"
    # Retried after a lost answer: the release it did, not NOT_FOUND.
    again = call(svc, RET, "ReleaseLegalHold", "nl-prosecutor", release, tokens).hold
    assert again == released
    # The set retried after the release: its hold as it is now, still released.
    replayed = call(svc, RET, "SetLegalHold", "nl-prosecutor", first_set, tokens).hold
    assert replayed == released
    second = call(
        svc, RET, "SetLegalHold", "nl-prosecutor", retention_pb2.SetLegalHoldRequest(
            request_id=rid(), **on, reason="appeal filed"
        ), tokens,
    ).hold  # fmt: skip
    assert second.active and second.id != first.id
    renew = retention_pb2.SetLegalHoldRequest(request_id=rid(), **on, reason="appeal filed, hearing set")
    third = call(svc, RET, "SetLegalHold", "nl-prosecutor", renew, tokens).hold
    assert third.active and third.id not in (first.id, second.id)
    ask = retention_pb2.ListLegalHoldsRequest(workspace_id=WS)
    listed = [
        h
        for h in call(svc, RET, "ListLegalHolds", "nl-prosecutor", ask, tokens).holds
        if h.record_id == on["record_id"]
    ]
    assert [h.id for h in listed] == [first.id, second.id, third.id]
    assert [h.active for h in listed] == [False, False, True]
    assert listed[0] == released and not listed[0].superseded_by
    assert listed[1].superseded_by == third.id and listed[1].released_at == third.set_at
    assert [h.reason for h in listed] == ["appeal pending", "appeal filed", "appeal filed, hearing set"]
    # A request_id used again for another request is refused, as every create refuses it.
    for method, reused in (
        ("SetLegalHold", retention_pb2.SetLegalHoldRequest(request_id=renew.request_id, **on, reason="other")),
        ("ReleaseLegalHold", retention_pb2.ReleaseLegalHoldRequest(request_id=release.request_id, workspace_id=WS)),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            call(svc, RET, method, "nl-prosecutor", reused, tokens)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION, method
        assert "request_id was already used" in (refused.value.details() or "")
    with pytest.raises(grpc.RpcError) as bad:
        call(svc, RET, "ReleaseLegalHold", "nl-prosecutor", retention_pb2.ReleaseLegalHoldRequest(**on), tokens)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "request_id" in field_violations(bad.value)
    last = retention_pb2.ReleaseLegalHoldRequest(request_id=rid(), **on)
    assert call(svc, RET, "ReleaseLegalHold", "nl-prosecutor", last, tokens).hold.id == third.id
    assert hold_entries(svc) == [
        ("SetLegalHold", "ok"),
        ("ReleaseLegalHold", "ok"),
        ("SetLegalHold", "ok"),
        ("SetLegalHold", "ok"),
        ("ListLegalHolds", "ok"),
        ("ReleaseLegalHold", "ok"),
    ]


def test_concurrent_first_sets_of_one_hold_end_in_one_active_hold_and_none_fails(node: Node, tokens: Any) -> None:
    """LEGAL_HOLD: 5 rounds of 6 concurrent first sets of one hold (three of them one double-clicked form:
    one request_id; three other forms) all answer OK: the double clicks one hold, the others
    each renewing the one before; one hold is active at the end."""
    svc = node.evidence
    stub = RET(svc.channel)
    token = md(tokens("nl-prosecutor"))
    for round_ in range(5):
        on = {"workspace_id": WS, "record_type": "evidence_request", "record_id": f"race-{round_}"}
        clicked = rid()
        asks = [retention_pb2.SetLegalHoldRequest(request_id=clicked, **on, reason="double click")] * 3 + [
            retention_pb2.SetLegalHoldRequest(request_id=rid(), **on, reason=f"form {n}") for n in range(3)
        ]
        with ThreadPoolExecutor(len(asks)) as pool:
            answers = list(pool.map(lambda a: stub.SetLegalHold(a, metadata=token, timeout=30).hold, asks))
        assert len({a.id for a in answers[:3]}) == 1, round_
        listed = [
            h
            for h in call(
                svc,
                RET,
                "ListLegalHolds",
                "nl-prosecutor",
                retention_pb2.ListLegalHoldsRequest(workspace_id=WS),
                tokens,
            ).holds
            if h.record_id == on["record_id"]
        ]
        assert len(listed) == 4 and sum(h.active for h in listed) == 1, round_
        assert {h.id for h in listed} == {a.id for a in answers}
        let_go = retention_pb2.ReleaseLegalHoldRequest(request_id=rid(), **on)
        assert not call(svc, RET, "ReleaseLegalHold", "nl-prosecutor", let_go, tokens).hold.active


def test_legal_hold_blocks_deletion_then_retention_crypto_shreds_every_service_with_a_deletion_certificate(
    node: Node, tokens: Any
) -> None:
    """LEGAL_HOLD, RETENTION_CASE_RECORDS, RETENTION_EVIDENCE, RETENTION_PRESERVATION, DELETION_CERTIFICATE:
    a closed workspace under an administrator's legal hold keeps everything years after its period; a
    prosecutor of the lead's hold on one task keeps the tasks service's content (other states' prosecutors
    are refused, non-members get NOT_FOUND, each refusal audited); released, each service destroys its key,
    its stream copies and (evidence) its blobs, and certifies it with its audit head; then no plaintext nor
    readable ciphertext is left anywhere (the hold's sealed reason included)."""
    case = make_case(node, tokens)
    # Closed, proceedings recorded closed a month after the agreement's end (2029-01-15), and held.
    announce(
        node, status="closed", closed_at="2029-01-16", proceedings_closed_on="2029-02-15", legal_hold="appeal pending"
    )
    for svc in node.services:
        assert any(e["operation"] == "jit.workspaces/SetLegalHold" for e in entries(svc))
    node.clock.advance(datetime(2034, 1, 1, tzinfo=UTC) - node.clock.now())  # 2 years (node default) long passed
    # A claim a killed pass left in preservation (its stream copies being erased) while the directory holds the
    # workspace: the next pass lets it go and erases nothing, so no prosecutor's hold is refused meanwhile.
    pres, now = node.preservation, node.clock.now()
    claims = pres.rt.content_keys.claims
    assert pres.loop.run(pres.rt.db.write(lambda s: retention_sweep.claim(claims, s, WS, lambda: True, now)))
    assert pres.loop.run(pres.rt.read(claims.claimed)) == [WS]
    copies = stream_copies(node, "JIT_PRESERVATION")
    for svc in node.services:
        assert sweep(svc).destroyed == ()
    assert pres.loop.run(pres.rt.read(claims.claimed)) == []
    assert stream_copies(node, "JIT_PRESERVATION") == copies >= 1
    task = call(
        node.tasks,
        tasks_pb2_grpc.TaskServiceStub,
        "GetTask",
        "nl-prosecutor",
        tpb.GetTaskRequest(id=case.task_id),
        tokens,
    ).task
    assert MARKER in task.title and case.blob.exists()
    # The events on the streams carry the records' state in clear: the erasure below is needed.
    assert found_in_files(node.nats.store_dir, MARKER.encode())[0]

    announce(node, legal_hold="")
    for svc in node.services:
        assert any(e["operation"] == "jit.workspaces/ReleaseLegalHold" for e in entries(svc))

    # Due now in every service. A prosecutor's hold set in victims after a pass found the workspace due,
    # before that pass destroyed it: nothing is erased, the stream's copies included.
    hold_between_finding_and_destroy(node, node.victims, "JIT_VICTIMS", tokens)

    # A prosecutor of the lead (NL) holds the task in the tasks service: that service keeps the workspace.
    ret = RET
    hold_task = retention_pb2.SetLegalHoldRequest(
        request_id=rid(), workspace_id=WS, record_type="task", record_id=case.task_id, reason=f"appeal {MARKER}"
    )
    held = call(node.tasks, ret, "SetLegalHold", "nl-prosecutor", hold_task, tokens).hold
    assert held.active and held.set_by_jurisdiction == "NL" and held.reason == f"appeal {MARKER}"
    for user, code in (
        ("de-prosecutor", grpc.StatusCode.PERMISSION_DENIED),
        ("fr-prosecutor", grpc.StatusCode.NOT_FOUND),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            call(node.tasks, ret, "SetLegalHold", user, hold_task, tokens)
        assert refused.value.code() == code, user
    with pytest.raises(grpc.RpcError) as bad:
        empty = retention_pb2.SetLegalHoldRequest(request_id=rid(), workspace_id=WS, reason=" ")
        call(node.tasks, ret, "SetLegalHold", "nl-prosecutor", empty, tokens)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(bad.value)
    listed = call(
        node.tasks, ret, "ListLegalHolds", "nl-prosecutor", retention_pb2.ListLegalHoldsRequest(workspace_id=WS), tokens
    )
    assert [h.record_id for h in listed.holds] == [case.task_id]

    # An event of the workspace the broker never took (preservation's relay stopped first, as an outage of
    # NATS leaves one): the shred destroys it with the content, and its certificate counts it.
    node.preservation.leave_unpublished(WS, "jit.preservation.order.changed", node.clock.now())
    certs = {svc.rt.name: sweep(svc).destroyed for svc in node.services}
    assert certs["tasks"] == () and all(len(certs[n]) == 1 for n in ("evidence", "preservation", "victims"))
    release_task = retention_pb2.ReleaseLegalHoldRequest(
        request_id=rid(), workspace_id=WS, record_type="task", record_id=case.task_id
    )
    released = call(node.tasks, ret, "ReleaseLegalHold", "nl-prosecutor", release_task, tokens).hold
    assert not released.active and released.released_by == "nl-prosecutor"
    certs["tasks"] = sweep(node.tasks).destroyed
    assert all(len(c) == 1 for c in certs.values()), certs
    # Each set, refusal, list (it opened the sealed reasons) and release is in the audit log.
    assert [
        (e["operation"].rsplit("/", 1)[-1], e["outcome"])
        for e in entries(node.tasks)
        if e["record_type"] == "legal_hold"
    ] == [
        ("SetLegalHold", "ok"),
        ("SetLegalHold", "denied"),
        ("SetLegalHold", "not_found"),
        ("ListLegalHolds", "ok"),
        ("ReleaseLegalHold", "ok"),
    ]
    tasks_cert, ev_cert, pres_cert = certs["tasks"][0], certs["evidence"][0], certs["preservation"][0]
    assert tasks_cert.counts == {"tasks": 1} and tasks_cert.by == "system" and len(tasks_cert.key_ids) == 1
    assert ev_cert.counts["evidence_requests"] == 1 and ev_cert.counts["evidence_items"] == 1
    assert ev_cert.files_deleted == 1 and not case.blob.exists()
    assert ev_cert.counts["custody_texts_erased"] >= 2  # received, downloaded
    # The custody chains still verify (links, sequence, head), their erased text aside.
    verified = call(
        node.evidence,
        evidence_pb2_grpc.EvidenceServiceStub,
        "VerifyEvidence",
        "nl-auditor",
        epb.VerifyEvidenceRequest(),
        tokens,
    )
    assert verified.ok and verified.custody_entries_checked >= 2, verified.problems
    assert pres_cert.counts == {"preservation_orders": 1, "removal_requests": 0, sealing.NEVER_PUBLISHED: 1}
    assert sealing.NEVER_PUBLISHED not in ev_cert.counts  # every event of evidence's was published
    victims_cert = certs["victims"][0]
    assert victims_cert.counts["victims"] == 1 and victims_cert.counts["victim_identities"] == 1
    assert victims_cert.why.startswith("kept 2 years (the node's default)")
    assert "2029-02-15" in ev_cert.why and "2029-01-15" in tasks_cert.why
    assert all(c.stream_messages_erased >= 1 for c in (tasks_cert, ev_cert, pres_cert, victims_cert))
    # A second sweep destroys nothing twice.
    assert all(sweep(svc).destroyed == () for svc in node.services)

    # The certificate names the head the chain had; its own entry follows it, naming its digest.
    pairs = ((node.tasks, tasks_cert), (node.evidence, ev_cert), (node.preservation, pres_cert))
    for svc, cert in (*pairs, (node.victims, victims_cert)):
        report = verify(svc, tokens)
        assert report.intact, report.problem
        log = {e["seq"]: e for e in entries(svc)}
        entry = log[cert.audit_head.seq + 1]
        assert entry["operation"] == retention_sweep.DESTROYED and entry["record_id"] == cert.digest()
        assert entry["prev_hash"] == cert.audit_head.hash == log[cert.audit_head.seq]["hash"]
        assert report.head_seq >= cert.audit_head.seq + 1

    # The records read as destroyed, and their sealed columns do not open.
    task = call(
        node.tasks,
        tasks_pb2_grpc.TaskServiceStub,
        "GetTask",
        "nl-prosecutor",
        tpb.GetTaskRequest(id=case.task_id),
        tokens,
    ).task
    assert task.title == sealing.DESTROYED and MARKER not in str(task)
    order = call(
        node.preservation,
        preservation_pb2_grpc.PreservationServiceStub,
        "GetOrder",
        "nl-liaison",
        ppb.GetOrderRequest(id=case.order_id),
        tokens,
    ).order
    assert MARKER not in str(order)
    [item] = call(
        node.evidence,
        evidence_pb2_grpc.EvidenceServiceStub,
        "ListItems",
        "nl-prosecutor",
        epb.ListItemsRequest(evidence_request_id=case.request_id),
        tokens,
    ).items
    assert item.id == case.item_id and list(item.use_conditions.consents) == [] and MARKER not in str(item)
    assert_the_shredded_item_stays_readable(node, tokens, case, item)
    for svc in node.services:
        keys = svc.rt.content_keys
        with pytest.raises(crypto.Shredded):
            svc.loop.run(svc.rt.read(lambda s, keys=keys: keys.key(s, WS)))

    # Nothing of the case is left readable: database files (with their WAL), blobs, the NATS store.
    needle = MARKER.encode()
    found, read = found_in_files(node.state, needle)  # SQLite files with their WAL, and the blob folder
    assert found == [] and (read >= 1 or node.backend != "sqlite")
    custody_log = __import__("services.evidence.store", fromlist=["x"]).CustodyRow.__table__
    purposes = node.evidence.loop.run(
        node.evidence.rt.read(lambda s: s.execute(select(custody_log.c.purpose)).scalars().all())
    )
    assert purposes and all(CUSTODY_MARKER not in p for p in purposes)
    assert found_in_files(node.state, CUSTODY_MARKER.encode())[0] == []
    if node.pg_data is not None:  # the PostgreSQL server's tables and WAL (never held the sealed text in clear)
        found, read = found_in_files(node.pg_data, needle)
        assert found == [] and read >= 1
        assert found_in_files(node.pg_data, CUSTODY_MARKER.encode())[0] == []
    for stream in ("JIT_TASKS", "JIT_EVIDENCE", "JIT_PRESERVATION", "JIT_VICTIMS"):
        for msg in read_stream(node.nats.url, stream, ">"):
            assert needle not in msg.data
    found, read = found_in_files(node.nats.store_dir, needle)
    assert found == [] and read >= 1
    assert found_in_files(node.nats.store_dir, CUSTODY_MARKER.encode())[0] == []

    # The certificates, as `jit admin retention certificates` prints them (SQLite: read from the files).
    if node.backend == "sqlite":
        common = node.common.model_copy()
        env = {
            f"JIT_{n.upper()}_DATABASE_URL": f"sqlite:///{node.state / n}.db"
            for n in ("tasks", "evidence", "preservation", "victims")
        }
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            certs_found = keytool.certificates(common, WS)
        assert {c["service"] for c in certs_found} == {"tasks", "evidence", "preservation", "victims"}
        assert all(c["digest_ok"] and c["audit_seq"] > 0 for c in certs_found)


def assert_the_shredded_item_stays_readable(node: Node, tokens: Any, case: Case, listed: epb.EvidenceItem) -> None:
    """RETENTION_EVIDENCE: after the shred what stays of an item is that it existed (digest, size, media type,
    who received it) and who touched it (its chain of custody), readable by the parties and the auditor; its
    bytes and text are gone. GetItem answers with that, offering no download (DownloadItem is CONTENT_DESTROYED);
    its read is in the audit log and appends no custody entry: the shred closed the chain, whose text could
    no longer be sealed. (GetItem was FAILED_PRECONDITION CONTENT_DESTROYED before.)"""
    ev = evidence_pb2_grpc.EvidenceServiceStub
    assert "download" not in listed.allowed_actions
    custody = epb.ListCustodyRequest(item_id=case.item_id)
    chain = call(node.evidence, ev, "ListCustody", "nl-auditor", custody, tokens).entries
    assert [e.action for e in chain][:2] == [epb.CUSTODY_ACTION_RECEIVED, epb.CUSTODY_ACTION_DOWNLOADED]
    assert chain[1].actor.username == "nl-prosecutor" and chain[1].purpose == sealing.DESTROYED
    for user in ("nl-prosecutor", "de-liaison"):
        got = call(node.evidence, ev, "GetItem", user, epb.GetItemRequest(item_id=case.item_id), tokens).item
        assert (got.id, got.sha256, got.size_bytes, got.media_type) == (
            listed.id,
            listed.sha256,
            listed.size_bytes,
            listed.media_type,
        )
        assert got.received_by.jurisdiction == "DE" and got.filename == sealing.DESTROYED and MARKER not in str(got)
        assert got.custody_entries == len(chain) and list(got.allowed_actions) == []
    assert call(node.evidence, ev, "ListCustody", "nl-prosecutor", custody, tokens).entries == chain
    reads = [
        e
        for e in entries(node.evidence)
        if e["operation"].endswith("/GetItem") and e["record_id"] == case.item_id and e["outcome"] == "ok"
    ]
    assert [e["username"] for e in reads][-2:] == ["nl-prosecutor", "de-liaison"]
    with pytest.raises(grpc.RpcError) as gone:
        download = epb.DownloadItemRequest(item_id=case.item_id, purpose="the appeal")
        list(ev(node.evidence.channel).DownloadItem(download, metadata=md(tokens("nl-prosecutor")), timeout=30))
    assert gone.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "nothing left" in (gone.value.details() or "")
    assert call(node.evidence, ev, "ListCustody", "nl-auditor", custody, tokens).entries == chain


def test_retention_audit_log_pruned_after_three_years_still_verifies_and_a_tampered_checkpoint_is_detected(
    node: Node, tokens: Any
) -> None:
    """RETENTION_AUDIT_LOG: 3 years after the entries above, the sweep prunes them; `jit audit verify` reports
    the chain intact from the checkpoint, which the pruning's own entry names; a checkpoint changed by hand
    is detected."""
    svc = node.tasks
    before = verify(svc, tokens)
    assert before.intact
    node.clock.advance(timedelta(days=3 * 366 + 1))
    report = sweep(svc)
    assert report.pruned >= before.entries_checked
    after = verify(svc, tokens)
    assert after.intact, after.problem
    assert after.HasField("checkpoint") and after.checkpoint.seq == before.head_seq
    assert after.checkpoint.hash == before.head_hash and after.checkpoint.pruned_by == "jit-system"
    left = entries(svc)
    assert left[0]["prev_hash"] == before.head_hash and left[0]["operation"] == audit.PRUNED

    cp = svc.rt.tables.audit_checkpoint
    svc.loop.run(svc.rt.db.write(lambda s: s.execute(update(cp).values(hash="0" * 63 + "1"))))
    broken = verify(svc, tokens)
    assert not broken.intact and "checkpoint" in broken.problem
