"""Evidence requests addressed to a state outside the workspace, through the gRPC service with real tokens:
fr-prosecutor (FR, a member of no workspace) is addressed by jit-demo (NL, DE, IE, EUROJUST) with an MLA
request, an EIO and an EPOC notifying FR as the provider's enforcing state. FR reads and acts on each as
addressee and sees nothing else of the workspace (jitlib.legal JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES,
ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import legal
from tests.harness import eventually, field_violations, rid
from tests.integration.evidence.conftest import WS, Client, new_request
from tests.integration.evidence.test_evidence_items import download, upload
from tests.integration.evidence.test_evidence_requests import envelopes

pytestmark = pytest.mark.integration

FR = "fr-prosecutor"


def _ok(client: Client, user: str, method: str, request: Any) -> pb.EvidenceRequest:
    return client.call(user, method, request).request


def test_jit_instruments_toward_outside_states_an_mla_request_executed_by_a_third_state(
    client: Client, nats_server: Any
) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES (FD 2002/465 Art. 1(7)-(9); 2000 MLA Convention Art.
    13(7)-(9)): NL's MLA request to FR, not a member, is created, reaches FR (its events name FR in their
    audience), and FR acknowledges, executes, receives evidence against it and completes it; NL closes."""
    r = client.create(legal_basis=pb.LEGAL_BASIS_MLA, addressee_jurisdiction="FR")
    _ok(client, "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    seen = _ok(client, FR, "GetRequest", pb.GetRequestRequest(id=r.id))
    assert seen.addressee_jurisdiction == "FR" and "acknowledge" in seen.allowed_actions
    assert "withdraw" not in seen.allowed_actions
    _ok(client, FR, "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
    r = _ok(client, FR, "StartExecution", pb.StartExecutionRequest(id=r.id, note="executed by the FR authority"))
    assert r.state == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION and r.updated_by.jurisdiction == "FR"
    item = upload(client, FR, r.id, b"subscriber records from FR")
    assert item.origin_jurisdiction == "FR"
    listed = client.call(FR, "ListItems", pb.ListItemsRequest(evidence_request_id=r.id)).items
    assert [i.id for i in listed] == [item.id]
    # The issuer reads what the outside state sent.
    assert download(client, "nl-prosecutor", item.id)[1] == b"subscriber records from FR"
    _ok(client, FR, "CompleteExecution", pb.CompleteExecutionRequest(id=r.id))
    r = _ok(client, "nl-prosecutor", "CloseRequest", pb.CloseRequestRequest(id=r.id))
    assert r.state == pb.EVIDENCE_REQUEST_STATE_CLOSED

    def published() -> list[Any]:
        found = envelopes(nats_server.url, "jit.evidence.NL.*", r.id)
        return found if len(found) == 6 else []

    assert all("FR" in e.audience for e in eventually(published, timeout=30))


def test_jit_instruments_toward_outside_states_an_eio_refused_by_an_eu_state_outside_the_team(
    client: Client,
) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES: an EIO to FR, an EU state bound by Directive 2014/41 that is
    not in the team, is refused by FR itself with its ground; NL may not refuse it in FR's place."""
    r = client.create(addressee_jurisdiction="FR")
    _ok(client, "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    refuse = pb.RefuseRequestRequest(
        id=r.id, ground=pb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE, detail="an immunity in FR"
    )
    assert client.code_of("nl-prosecutor", "RefuseRequest", refuse) == grpc.StatusCode.PERMISSION_DENIED
    r = _ok(client, FR, "RefuseRequest", refuse)
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and r.updated_by.jurisdiction == "FR"


def test_jit_instruments_toward_outside_states_an_epoc_notifying_an_enforcing_state_outside_the_team(
    client: Client,
) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES: an EPOC to a provider established in FR, with notification of
    FR (not a member), is reviewed by FR; without notification FR does not see it (Reg. (EU) 2023/1543
    Art. 8)."""
    provider = dict(
        legal_basis=pb.LEGAL_BASIS_EPOC,
        addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="FR",
        provider_name="Plateforme Sociale SAS",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
    )
    r = client.create(epoc_procedure=pb.EPOC_PROCEDURE_WITH_NOTIFICATION, **provider)
    _ok(client, "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    _ok(client, "nl-prosecutor", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
    assert _ok(client, FR, "GetRequest", pb.GetRequestRequest(id=r.id)).allowed_actions == ["open_review", "refuse"]
    _ok(client, FR, "OpenReview", pb.OpenReviewRequest(id=r.id))
    r = _ok(client, FR, "ConcludeReview", pb.ConcludeReviewRequest(id=r.id, note="no grounds raised"))
    assert r.state == pb.EVIDENCE_REQUEST_STATE_IN_EXECUTION
    silent = client.create(epoc_procedure=pb.EPOC_PROCEDURE_STANDARD, **provider)
    assert client.code_of(FR, "GetRequest", pb.GetRequestRequest(id=silent.id)) == grpc.StatusCode.NOT_FOUND


def test_addressee_sees_only_what_is_addressed_to_it(client: Client) -> None:
    """ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT (Reg. (EU) 2023/969 Art. 24): FR lists the requests
    addressed to it, with or without naming their workspace, and nothing else of jit-demo: not a request to
    DE open to the whole workspace, nor one to DE shared with nobody; it creates nothing there and cannot act
    as issuer. A workspace that addressed nothing to FR is NOT_FOUND to it, as before."""
    to_fr = client.create(legal_basis=pb.LEGAL_BASIS_MLA, addressee_jurisdiction="FR")
    open_to_de = client.create(visibility=common_pb2.VISIBILITY_WORKSPACE)
    to_de = client.create()
    everything = {
        r.id for r in client.call("nl-prosecutor", "ListRequests", pb.ListRequestsRequest(page_size=200)).requests
    }
    assert {to_fr.id, open_to_de.id, to_de.id} <= everything
    for ws in ("", WS):
        listed = client.call(FR, "ListRequests", pb.ListRequestsRequest(workspace_id=ws, page_size=200)).requests
        assert to_fr.id in {r.id for r in listed}
        assert {r.addressee_jurisdiction for r in listed} == {"FR"}
    for hidden in (open_to_de, to_de):
        assert client.code_of(FR, "GetRequest", pb.GetRequestRequest(id=hidden.id)) == grpc.StatusCode.NOT_FOUND
        assert client.code_of(FR, "ListItems", pb.ListItemsRequest(evidence_request_id=hidden.id)) == (
            grpc.StatusCode.NOT_FOUND
        )
    create = new_request(addressee_jurisdiction="DE")
    assert client.code_of(FR, "CreateRequest", create) == grpc.StatusCode.NOT_FOUND
    withdraw = pb.WithdrawRequestRequest(id=to_fr.id, reason="not FR's to withdraw")
    assert client.code_of(FR, "WithdrawRequest", withdraw) == grpc.StatusCode.PERMISSION_DENIED
    other = pb.ListRequestsRequest(workspace_id="another-jit")
    assert client.code_of(FR, "ListRequests", other) == grpc.StatusCode.NOT_FOUND
    # A member of no workspace that nothing was addressed to still lists nothing of it.
    assert client.code_of("nl-operator", "ListRequests", pb.ListRequestsRequest()) == grpc.StatusCode.PERMISSION_DENIED


def test_a_direct_exchange_inside_the_jit_is_addressed_to_a_member(client: Client) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES: a JIT_DIRECT request to FR is INVALID_ARGUMENT naming
    addressee_jurisdiction and citing the row's source; sharing with a non-member is refused too."""
    err = client.error(
        "nl-prosecutor",
        "CreateRequest",
        new_request(legal_basis=pb.LEGAL_BASIS_JIT_DIRECT, addressee_jurisdiction="FR"),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert legal.cite("JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES") in field_violations(err)["addressee_jurisdiction"]
    err = client.error(
        "nl-prosecutor", "CreateRequest", new_request(request_id=rid(), addressee_jurisdiction="FR", shared_with=["FR"])
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "shared_with[0]" in field_violations(err)
