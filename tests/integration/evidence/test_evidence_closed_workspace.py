"""A closed workspace takes no user change in the evidence service (security review, issue 10, finding #4):
transitions, uploads and custody events are FAILED_PRECONDITION WORKSPACE_CLOSED and write nothing, while
reads and the service's own event consumers go on. The workspace is closed on a NATS of this module's own,
so no other module sees it closed (each module runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.evidence.v1 import evidence_pb2 as pb
from jit.preservation.v1 import preservation_pb2 as ppb
from jitdev.nats import NatsInstance
from jitlib.bus import stream_for
from jitlib.clock import OffsetClock
from jitlib.config import CommonSettings
from services.evidence import store
from services.evidence.app import EvidenceSettings, spec
from services.evidence.store import RUNTIME, CustodyRow, ItemRow, RequestRow
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, close_workspace, error_reason, eventually, rid, start_service
from tests.integration.evidence.conftest import WS, Client, new_request, publish
from tests.integration.evidence.test_evidence_items import state_of, upload, upload_messages
from tests.integration.evidence.test_evidence_requests import _order_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def closing_svc(
    db_url: str,
    keycloak: Any,
    own_nats: NatsInstance,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[RunningService]:
    """An evidence service of this module's own: its own NATS, its own database on the module's backend."""
    state = tmp_path_factory.mktemp("evidence-closing")
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{state / 'evidence.db'}"
    else:
        url = str(request.getfixturevalue("postgres").create_database(f"ev_closed_{uuid.uuid4().hex[:10]}"))
    common = CommonSettings(nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=state)
    settings = EvidenceSettings(
        listen="127.0.0.1:0",
        database_url=url,
        consumer_group=f"evidence-closed-{uuid.uuid4().hex[:8]}",
        blob_dir=str(state / "blobs"),
        kek=base64.b64encode(os.urandom(32)).decode(),
    )
    svc = start_service(spec(settings), settings, common, clock=OffsetClock())
    wait_for_workspace(svc, WS)
    yield svc
    svc.stop()


def written(svc: Any) -> tuple[Any, ...]:
    """Every request's version, and the items, custody entries, outbox rows and blob files."""

    def q(s: Any) -> tuple[Any, ...]:
        def count(table: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)

        versions = sorted(s.execute(select(RequestRow.id, RequestRow.version)).all())
        return tuple(versions), count(ItemRow), count(CustodyRow), count(RUNTIME.outbox)

    return (*svc.loop.run(svc.rt.read(q)), tuple(state_of(svc)[2]))


def test_a_closed_workspace_refuses_every_user_change_and_writes_nothing(
    closing_svc: RunningService, tokens: Any, own_nats: NatsInstance
) -> None:
    """Finding #4 (Medium): in a closed workspace, evidence transitions, uploads and custody events went on.
    Each is now FAILED_PRECONDITION WORKSPACE_CLOSED and writes nothing; reading goes on, and so does the
    consumer of preservation-order events (a system path reacting to another service)."""
    client = Client(closing_svc, tokens)
    draft = client.create()
    executing = client.executing()
    item = upload(client, "de-liaison", executing.id, b"minutes of the hearing")
    image = upload(client, "de-liaison", executing.id, b"an intimate image", sensitive=True)
    close_workspace(closing_svc, own_nats.url)
    before = written(closing_svc)

    def closed(err: grpc.RpcError) -> None:
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, err
        assert error_reason(err) == "WORKSPACE_CLOSED"

    closed(client.error("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=draft.id)))
    closed(client.error("nl-prosecutor", "WithdrawRequest", pb.WithdrawRequestRequest(id=draft.id, reason="done")))
    closed(client.error("de-liaison", "CompleteExecution", pb.CompleteExecutionRequest(id=executing.id)))
    with pytest.raises(grpc.RpcError) as info:
        client.stub.UploadItem(
            upload_messages(executing.id, b"late evidence"),
            metadata=[("authorization", f"Bearer {tokens('de-liaison')}")],
            timeout=30,
        )
    closed(info.value)
    for action in (pb.CUSTODY_ACTION_EXPORTED, pb.CUSTODY_ACTION_TRANSFERRED, pb.CUSTODY_ACTION_SEALED):
        closed(
            client.error(
                "nl-prosecutor",
                "RecordCustodyEvent",
                pb.RecordCustodyEventRequest(
                    request_id=rid(), item_id=item.id, action=action, purpose="archive", recipient="court"
                ),
            )
        )
    closed(client.error("nl-prosecutor", "CreateRequest", new_request()))
    # Nor is an item marked, unmarked or asked or approved for export (SENSITIVE_ITEM_MARKING).
    closed(client.error("de-prosecutor", "MarkItemSensitive", pb.MarkItemSensitiveRequest(item_id=item.id, reason="r")))
    unmark = pb.UnmarkItemSensitiveRequest(item_id=image.id, reason="r")
    closed(client.error("de-prosecutor", "UnmarkItemSensitive", unmark))
    ask = pb.RequestExportRequest(request_id=rid(), item_id=image.id, purpose="trial", destination="court")
    closed(client.error("nl-liaison", "RequestExport", ask))
    approve = pb.ApproveExportRequest(item_id=image.id, export_request_seq=1)
    closed(client.error("nl-prosecutor", "ApproveExport", approve))
    # Nor a consent to other use (JIT_OTHER_USE_NEEDS_CONSENT): a change of the case as every other.
    consent = pb.RecordUseConsentRequest(request_id=rid(), item_id=item.id, purpose="a fraud case")
    closed(client.error("de-prosecutor", "RecordUseConsent", consent))
    assert written(closing_svc) == before

    # Reading goes on, and tells no one they may change anything.
    assert executing.allowed_actions
    for user in ("de-liaison", "nl-prosecutor"):
        got = client.call(user, "GetRequest", pb.GetRequestRequest(id=executing.id)).request
        assert got.id == executing.id and list(got.allowed_actions) == []
        page = client.call(user, "ListRequests", pb.ListRequestsRequest(workspace_id=WS)).requests
        assert executing.id in {r.id for r in page} and all(list(r.allowed_actions) == [] for r in page)
    listed = client.call("nl-prosecutor", "ListItems", pb.ListItemsRequest(evidence_request_id=executing.id))
    assert sorted(i.id for i in listed.items) == sorted([item.id, image.id])
    # An item's content is still read (each opening recorded); no change is offered.
    assert {i.id: list(i.allowed_actions) for i in listed.items} == {item.id: ["download"], image.id: ["download"]}

    # A system path goes on: the replica of preservation orders follows the preservation service.
    order = ppb.PreservationOrder(
        id=rid(), workspace_id=WS, origin_jurisdiction="NL", state=ppb.PRESERVATION_ORDER_STATE_LIFTED, version=4
    )
    subject, payload, msg_id = _order_event(order, "lifted")
    publish(own_nats.url, stream_for("preservation"), subject, payload, msg_id)
    eventually(lambda: closing_svc.loop.run(closing_svc.rt.read(lambda s: store.get_order(s, order.id))), timeout=30)
