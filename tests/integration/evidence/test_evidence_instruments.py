"""Which instrument applies, through the gRPC service with real tokens (each module on SQLite and on
PostgreSQL): an EIO to IE or DK, an EPOC issued before Reg. (EU) 2023/1543 applies, an EPOC for content data
without notification and without a recorded reason, an SAP Art. 7 request for more than subscriber
information. Each is refused with its field or reason and its row's source, and writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import legal
from jitlib.clock import OffsetClock
from services.evidence.domain import EPOC_APPLIES_FROM
from services.evidence.store import RequestRow
from tests.harness import error_reason, field_violations
from tests.integration.evidence.conftest import Client, Launcher, new_request
from tests.integration.evidence.test_evidence_requests import count_rows

pytestmark = pytest.mark.integration


def refused(client: Client, svc: Any, field: str, rule: str, **over: Any) -> str:
    """Create ``over``; assert INVALID_ARGUMENT naming ``field`` with ``rule``'s source, nothing written."""
    before = count_rows(svc)
    err = client.error("nl-prosecutor", "CreateRequest", new_request(**over))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    why = field_violations(err)[field]
    assert legal.cite(rule) in why
    assert count_rows(svc) == before
    return why


@pytest.mark.parametrize("addressee", ["IE", "DK"])
def test_eio_only_between_bound_states_an_eio_to_ireland_or_denmark_is_refused(
    client: Client, evidence_svc: Any, addressee: str
) -> None:
    """EIO_ONLY_BETWEEN_BOUND_STATES (Directive 2014/41 Art. 1(1), 34(1); recitals 44-45): the refusal names
    addressee_jurisdiction and says to use MLA; an MLA request to the same state is created."""
    why = refused(
        client,
        evidence_svc,
        "addressee_jurisdiction",
        "EIO_ONLY_BETWEEN_BOUND_STATES",
        addressee_jurisdiction=addressee,
    )
    assert "MLA" in why and "not bound" in why
    assert client.create(legal_basis=pb.LEGAL_BASIS_MLA, addressee_jurisdiction=addressee).state == (
        pb.EVIDENCE_REQUEST_STATE_DRAFT
    )


def test_eio_only_between_bound_states_ireland_issues_mla_not_an_eio(client: Client, evidence_svc: Any) -> None:
    """EIO_ONLY_BETWEEN_BOUND_STATES: IE's prosecutor (IE not bound by Directive 2014/41) creating an EIO to
    DE is refused on legal_basis once the policy let it create; its MLA request to DE is created. A role that
    may not create is still PERMISSION_DENIED first."""
    before = count_rows(evidence_svc)
    err = client.error("ie-prosecutor", "CreateRequest", new_request(addressee_jurisdiction="DE"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert legal.cite("EIO_ONLY_BETWEEN_BOUND_STATES") in field_violations(err)["legal_basis"]
    assert count_rows(evidence_svc) == before
    mla = client.create("ie-prosecutor", legal_basis=pb.LEGAL_BASIS_MLA, addressee_jurisdiction="DE")
    assert mla.origin_jurisdiction == "IE"
    assert client.code_of("ie-liaison", "CreateRequest", new_request()) == grpc.StatusCode.PERMISSION_DENIED


def test_epoc_notification_exemption_needs_reason_recorded_shown_and_sealed(client: Client, evidence_svc: Any) -> None:
    """EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON (Reg. (EU) 2023/1543 Art. 8(1)-(2)): a STANDARD EPOC for
    content data without a reason is refused naming notification_exemption_reason; with one it is created
    and shows it, and the text is sealed at rest (its column empty, not in the sealed bytes in clear); the
    reason on an EPOC with notification is refused."""
    epoc = dict(
        legal_basis=pb.LEGAL_BASIS_EPOC,
        epoc_procedure=pb.EPOC_PROCEDURE_STANDARD,
        addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        data_categories=[pb.DATA_CATEGORY_CONTENT],
    )
    refused(client, evidence_svc, "notification_exemption_reason", "EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON", **epoc)
    why = "Offence committed in Amsterdam; the account holder resides in Utrecht"
    r = client.create(**epoc, notification_exemption_reason=why)
    assert r.notification_exemption_reason == why
    shown = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert shown.notification_exemption_reason == why

    def row(s: Any) -> tuple[str, bytes]:
        found = s.execute(
            select(RequestRow.__table__.c.notification_exemption_reason, RequestRow.__table__.c.sealed).where(
                RequestRow.__table__.c.id == r.id
            )
        ).one()
        return found[0], found[1]

    column, sealed = evidence_svc.loop.run(evidence_svc.rt.read(row))
    assert column == "" and sealed and why.encode() not in sealed
    notified = {**epoc, "epoc_procedure": pb.EPOC_PROCEDURE_WITH_NOTIFICATION}
    refused(
        client,
        evidence_svc,
        "notification_exemption_reason",
        "EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON",
        **notified,
        notification_exemption_reason=why,
    )


def test_sap_art7_subscriber_only_traffic_data_is_refused(client: Client, evidence_svc: Any) -> None:
    """SAP_ART7_SUBSCRIBER_ONLY (CETS 224 Art. 7(1)): a direct request to a provider for traffic data is
    refused naming data_categories; for subscriber information it is created."""
    sap = dict(
        legal_basis=pb.LEGAL_BASIS_SAP_ART7,
        addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="US",
        provider_name="X Corp.",
    )
    refused(
        client,
        evidence_svc,
        "data_categories",
        "SAP_ART7_SUBSCRIBER_ONLY",
        **sap,
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER, pb.DATA_CATEGORY_TRAFFIC],
    )
    assert client.create(**sap, data_categories=[pb.DATA_CATEGORY_SUBSCRIBER]).legal_basis == pb.LEGAL_BASIS_SAP_ART7


@pytest.fixture(scope="module")
def before_the_regulation(db_url: str, launcher: Launcher, tokens: Any) -> Client:
    """A service whose clock reads one day before Reg. (EU) 2023/1543 applies (it moves forward only)."""
    clock = OffsetClock()
    clock.advance(EPOC_APPLIES_FROM - timedelta(days=1) - datetime.now(UTC))
    return Client(launcher.start(db_url, clock=clock), tokens)


def test_epoc_applies_from_18_august_2026_an_epoc_issued_before_is_refused(before_the_regulation: Client) -> None:
    """EPOC_APPLIES_FROM_18_AUGUST_2026 (Reg. (EU) 2023/1543 Art. 34(2)): on the service's clock a day before
    it applies, issuing an EPOC is FAILED_PRECONDITION INSTRUMENT_NOT_APPLICABLE_YET citing the row and
    changes nothing, and "issue" is not offered; once the clock reaches 18 August 2026 it is issued."""
    client = before_the_regulation
    r = client.epoc(pb.EPOC_PROCEDURE_WITH_NOTIFICATION)
    assert "issue" not in r.allowed_actions
    err = client.error("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err) == "INSTRUMENT_NOT_APPLICABLE_YET"
    assert legal.cite("EPOC_APPLIES_FROM_18_AUGUST_2026") in (err.details() or "")
    again = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert again.state == pb.EVIDENCE_REQUEST_STATE_DRAFT and again.version == r.version
    # An EIO is issued the same day.
    eio = client.create()
    assert client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=eio.id)).request.state == (
        pb.EVIDENCE_REQUEST_STATE_ISSUED
    )
    client.svc.app.clock.advance(timedelta(days=1))
    issued = client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request
    assert issued.state == pb.EVIDENCE_REQUEST_STATE_ISSUED
    assert issued.issued_at.ToDatetime(tzinfo=UTC) >= EPOC_APPLIES_FROM


@pytest.mark.parametrize(
    ("state", "why"), [("DK", "not bound by"), ("US", "not an EU member state"), ("NL", "national")]
)
def test_epoc_only_between_bound_states_an_epoc_outside_the_regulations_territory_is_refused(
    client: Client, evidence_svc: Any, state: str, why: str
) -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES (Reg. (EU) 2023/1543 Art. 1(1), 34; recital 95): NL's EPOC to a provider
    in DK (not bound), in the US (outside the EU; the notified enforcing state would be the US) or in NL
    itself (national law) is INVALID_ARGUMENT on addressee_jurisdiction citing the row, and writes nothing;
    the same EPOC to a provider in IE is created."""
    epoc = dict(
        legal_basis=pb.LEGAL_BASIS_EPOC,
        epoc_procedure=pb.EPOC_PROCEDURE_WITH_NOTIFICATION,
        addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
        provider_name="Some Platform",
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
    )
    found = refused(
        client,
        evidence_svc,
        "addressee_jurisdiction",
        "EPOC_ONLY_BETWEEN_BOUND_STATES",
        **epoc,
        addressee_jurisdiction=state,
    )
    assert why in found
    assert client.create(**epoc, addressee_jurisdiction="IE").state == pb.EVIDENCE_REQUEST_STATE_DRAFT
