"""Refusal grounds per instrument, partial refusal and execution per data category, clarification and
resubmission (issue 15, item 9), through the gRPC service with real tokens, NATS and database."""

from __future__ import annotations

import grpc
import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import legal
from tests.harness import field_violations
from tests.integration.evidence.conftest import Client

pytestmark = pytest.mark.integration


def issued(client: Client, **over: object) -> pb.EvidenceRequest:
    r = client.create(**over)
    return client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request


def test_an_eio_is_refused_on_a_ground_of_article_11_and_not_on_an_mla_treaty_ground(client: Client) -> None:
    """EIO_REFUSAL_NATIONAL_SECURITY (Directive 2014/41/EU Art. 11(1)(b)) refuses an EIO; an MLA treaty ground
    (1959 Convention Art. 2(a)) is INVALID_ARGUMENT naming `ground` with the EIO's list, and nothing changes."""
    r = issued(client)
    err = client.error(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_POLITICAL_OFFENCE, detail="political"),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err)["ground"].endswith("its grounds: " + ", ".join(legal.REFUSAL_GROUNDS["EIO"]))
    same = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert same.version == r.version and same.state == pb.EVIDENCE_REQUEST_STATE_ISSUED
    r = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(
            id=r.id, ground=pb.REFUSAL_GROUND_NATIONAL_SECURITY, detail="would reveal a source", expected_version=2
        ),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED
    assert r.refusal_ground == pb.REFUSAL_GROUND_NATIONAL_SECURITY


def test_an_mla_request_is_refused_on_the_treaty_s_fiscal_offence_ground(client: Client) -> None:
    """MLA_REFUSAL_FISCAL_OFFENCE (1959 Convention Art. 2(a); 1978 Additional Protocol Art. 1) is an MLA
    ground; the EIO's extraterritoriality (Art. 11(1)(e)) is not."""
    r = issued(client, legal_basis=pb.LEGAL_BASIS_MLA)
    err = client.error(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_EXTRATERRITORIALITY, detail="x"),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "ground" in field_violations(err)
    r = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_FISCAL_OFFENCE, detail="a tax matter; no protocol"),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and r.refusal_ground == pb.REFUSAL_GROUND_FISCAL_OFFENCE


def test_the_enforcing_state_of_an_epoc_has_no_other_ground(client: Client) -> None:
    """EPOC_REFUSAL_NE_BIS_IN_IDEM (Reg. (EU) 2023/1543 Art. 12(1)(c)) is raised by the notified enforcing state;
    Art. 12(1) is a closed list, so OTHER is INVALID_ARGUMENT on `ground`."""
    r = client.epoc(pb.EPOC_PROCEDURE_WITH_NOTIFICATION)
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    err = client.error(
        "ie-prosecutor", "RefuseRequest", pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_OTHER, detail="x")
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "NE_BIS_IN_IDEM" in field_violations(err)["ground"]
    r = client.call(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, detail="tried in IE in 2025"),
    ).request
    assert r.refusal_ground == pb.REFUSAL_GROUND_NE_BIS_IN_IDEM
