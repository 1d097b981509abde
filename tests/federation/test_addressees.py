"""A request addressed to a state outside the JIT, across nodes: a workspace of NL and DE only issues an
EPOC to a provider established in IE, with notification of IE (the enforcing state). The request reaches
IE's node (its events name IE in their audience), IE's prosecutor reads it there and reviews it from there
(forwarded to NL, the owner); nothing else of the workspace reaches IE's node: not the workspace, its task,
its request to DE, nor the request's thread (jitlib.legal JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES,
ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from jit.messaging.v1 import messaging_pb2 as msg
from jit.messaging.v1 import messaging_pb2_grpc
from jit.tasks.v1 import tasks_pb2 as tk
from jitdev.nodes import LocalFederation
from tests.federation.test_evidence import Evidence
from tests.federation.test_residency import _files_containing
from tests.federation.test_workspaces import _jit, _tasks, _words
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration

AUTHORITY = "Openbaar Ministerie, Arrondissementsparket Amsterdam"


def _created(evidence: Evidence, request: pb.CreateRequestRequest) -> pb.EvidenceRequest:
    """Created on NL's node once its evidence service knows the new workspace (the same request_id: a retry
    is a replay, never a second request)."""

    def attempt() -> Any:
        try:
            return evidence.call("NL", "nl-prosecutor", "CreateRequest", request).request
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                return None
            raise

    return eventually(attempt, timeout=60, interval=1.0)


def _request(ws: str, **over: Any) -> pb.CreateRequestRequest:
    fields: dict[str, Any] = dict(
        request_id=rid(),
        workspace_id=ws,
        legal_basis=pb.LEGAL_BASIS_EIO,
        issuing_authority=AUTHORITY,
        addressee_kind=pb.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction="DE",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
        targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x")],
        offence_category=pb.OFFENCE_CATEGORY_DOXXING,
        urgency=pb.URGENCY_NORMAL,
        title=f"request {uuid.uuid4().hex}",
    )
    fields.update(over)
    return pb.CreateRequestRequest(**fields)


def test_addressee_sees_only_what_is_addressed_to_it_an_epoc_notifying_ie_reaches_ies_node_alone(
    federation: LocalFederation, keycloak: Any, country_tokens: Any
) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES, ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT (FD 2002/465 Art.
    1(7)-(9); Reg. (EU) 2023/969 Art. 24): in a workspace of NL and DE, NL's EPOC notifying IE is read and
    reviewed by IE on IE's node; the workspace's task and its request to DE, open to the whole workspace,
    never reach IE's node, IE's node never hears of the workspace, and IE cannot open the request's thread."""
    ws = f"outside-{uuid.uuid4().hex[:8]}"
    made = _jit(
        federation, keycloak, "NL", "admin", "workspace", "create", ws, "--name", "NL-DE doxxing case",
        "--lead", "NL", "--member", "DE", "--legal-basis", "JIT agreement NL-DE 2026/9",
        "--starts", "2026-01-01", "--ends", "2028-12-31",
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    added = _jit(federation, keycloak, "NL", "admin", "workspace", "add-member", ws, "--jurisdiction", "NL",
                 "--user", "nl-prosecutor")  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    country_tokens.forget("nl-prosecutor", "NL")
    evidence = Evidence(federation, country_tokens)

    # What IE must never receive: a task and a request to DE, both open to the whole workspace.
    open_ = common_pb2.VISIBILITY_WORKSPACE
    to_de = _created(evidence, _request(ws, visibility=open_))
    task = (
        _tasks(federation, "NL")
        .CreateTask(
            tk.CreateTaskRequest(
                request_id=rid(), workspace_id=ws, title=f"task {uuid.uuid4().hex}", kind=tk.TASK_KIND_OTHER,
                assignee_jurisdiction="DE", visibility=open_,
            ),
            metadata=md(country_tokens("nl-prosecutor")),
            timeout=15,
        )
        .task
    )  # fmt: skip

    # The EPOC to a provider established in IE, with notification of IE: created after them.
    epoc = _created(
        evidence,
        _request(
            ws,
            legal_basis=pb.LEGAL_BASIS_EPOC,
            epoc_procedure=pb.EPOC_PROCEDURE_WITH_NOTIFICATION,
            addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
            addressee_jurisdiction="IE",
            provider_name="SocialNet Ireland Ltd",
            data_categories=[pb.DATA_CATEGORY_SUBSCRIBER, pb.DATA_CATEGORY_CONTENT],
            urgency=pb.URGENCY_UNSPECIFIED,
            visibility=open_,
        ),
    )
    evidence.call("NL", "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=epoc.id))
    evidence.call("NL", "nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=epoc.id))

    # IE's node holds it, and IE's prosecutor reads it there and may review it.
    def ie_reads(state: int) -> Any:
        found = evidence.found("IE", "ie-prosecutor", "GetRequest", pb.GetRequestRequest(id=epoc.id))
        return found.request if found is not None and found.request.state == state else None

    seen = eventually(lambda: ie_reads(pb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED), timeout=60)
    assert seen.replica.owner_node == "NL" and "open_review" in seen.allowed_actions
    listed = evidence.call("IE", "ie-prosecutor", "ListRequests", pb.ListRequestsRequest(workspace_id=ws)).requests
    assert [r.id for r in listed] == [epoc.id]
    # IE reviews from its own node: the command goes to NL, the owner, and its answer comes back.
    reviewed = evidence.call("IE", "ie-prosecutor", "OpenReview", pb.OpenReviewRequest(id=epoc.id)).request
    assert reviewed.state == pb.EVIDENCE_REQUEST_STATE_UNDER_REVIEW and reviewed.updated_by.jurisdiction == "IE"
    eventually(lambda: ie_reads(pb.EVIDENCE_REQUEST_STATE_UNDER_REVIEW), timeout=60)

    # Everything NL sent IE before that last state has arrived (one ordered stream per recipient): none of
    # the workspace's other records is on IE's node, nor answered there.
    ie_folder = federation.nats.node_dir("IE")
    assert _files_containing(ie_folder, epoc.id.encode())  # the search finds what is there
    assert _files_containing(ie_folder, task.id.encode()) == []
    assert _files_containing(ie_folder, to_de.id.encode()) == []
    assert evidence.found("IE", "ie-prosecutor", "GetRequest", pb.GetRequestRequest(id=to_de.id)) is None
    # IE's node never heard of the workspace.
    not_member = _jit(federation, keycloak, "IE", "admin", "workspace", "join", ws, "--user", "ie-liaison")
    assert not_member.returncode != 0 and "has not been announced" in _words(not_member)

    # The request's thread is a channel of the workspace: IE opens neither it nor the workspace's channel.
    def messaging(country: str) -> messaging_pb2_grpc.MessagingServiceStub:
        return messaging_pb2_grpc.MessagingServiceStub(
            grpc.insecure_channel(federation.nodes[country].address("messaging"))
        )

    ref = common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_EVIDENCE_REQUEST, id=epoc.id)
    thread = (
        messaging("NL")
        .OpenRecordThread(
            msg.OpenRecordThreadRequest(record=ref), metadata=md(country_tokens("nl-prosecutor")), timeout=15
        )
        .channel
    )
    assert "IE" not in thread.members
    ie = md(country_tokens("ie-prosecutor"))
    open_thread, open_channel = (
        msg.OpenRecordThreadRequest(record=ref),
        msg.OpenWorkspaceChannelRequest(workspace_id=ws),
    )
    for call in (
        lambda: messaging("IE").OpenRecordThread(open_thread, metadata=ie, timeout=15),
        lambda: messaging("NL").OpenRecordThread(open_thread, metadata=ie, timeout=15),
        lambda: messaging("NL").OpenWorkspaceChannel(open_channel, metadata=ie, timeout=15),
    ):
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
