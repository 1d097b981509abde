"""Refusal grounds per instrument, partial refusal and execution per data category, clarification and
resubmission (issue 15, item 9), through the gRPC service with real tokens, NATS and database."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import grpc
import pytest

from jit.audit.v1 import audit_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as pb
from jitlib import legal
from jitlib.clock import OffsetClock
from services.evidence.deadlines import period_end
from tests.conftest import read_stream
from tests.harness import error_reason, eventually, field_violations, md
from tests.integration.evidence.conftest import Client, new_request

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


# ---- partial refusal and execution per data category --------------------------------------------------

S, T, C = pb.DATA_CATEGORY_SUBSCRIBER, pb.DATA_CATEGORY_TRAFFIC, pb.DATA_CATEGORY_CONTENT


def outcomes(r: pb.EvidenceRequest) -> dict[str, str]:
    name, state = pb.DataCategory.Name, pb.DataCategoryState.Name
    return {
        name(o.category).removeprefix("DATA_CATEGORY_"): state(o.state).removeprefix("DATA_CATEGORY_STATE_")
        for o in r.category_outcomes
    }


def events_of(url: str, request_id: str, count: int) -> list[str]:
    """The last subject tokens of the request's events, once ``count`` of them are on the stream."""

    def found() -> list[str]:
        msgs = read_stream(url, "JIT_EVIDENCE", "jit.evidence.NL.*")
        out = [m.subject.rsplit(".", 1)[1] for m in msgs if Envelope.FromString(m.data).aggregate_id == request_id]
        return out if len(out) >= count else []

    return eventually(found, timeout=30)


def test_request_partial_refusal_of_an_eio_leaves_the_rest_to_execute(client: Client, nats_server: Any) -> None:
    """REQUEST_PARTIAL_REFUSAL and REQUEST_PARTIAL_EXECUTION through the service: DE refuses CONTENT on
    EIO_REFUSAL_IMMUNITY_OR_PRIVILEGE (Directive 2014/41/EU Art. 11(1)(a)); the EIO stays ISSUED and runs
    its clocks (event partially_refused), SUBSCRIBER is executed first, TRAFFIC by completing; each change is
    an event and an audit entry."""
    r = client.create(data_categories=[S, T, C])
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    r = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(
            id=r.id,
            ground=pb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE,
            detail="a journalist's sources",
            data_categories=[C],
        ),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_ISSUED and r.deadlines
    assert outcomes(r) == {"SUBSCRIBER": "OPEN", "TRAFFIC": "OPEN", "CONTENT": "REFUSED"}
    assert r.category_outcomes[2].ground == pb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE
    assert [(x.submission, x.whole, list(x.data_categories)) for x in r.refusals] == [(1, False, [C])]
    # The rest proceeds: DE may still acknowledge, and refuse what is open.
    assert "acknowledge" in r.allowed_actions and "refuse" in r.allowed_actions
    client.call("de-liaison", "AcknowledgeRequest", pb.AcknowledgeRequestRequest(id=r.id))
    client.call("de-prosecutor", "StartExecution", pb.StartExecutionRequest(id=r.id))
    r = client.call(
        "de-liaison",
        "RecordPartialExecution",
        pb.RecordPartialExecutionRequest(id=r.id, note="subscriber data sent", data_categories=[S]),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_PARTIALLY_EXECUTED
    assert outcomes(r) == {"SUBSCRIBER": "EXECUTED", "TRAFFIC": "OPEN", "CONTENT": "REFUSED"}
    last = client.error(
        "de-liaison", "RecordPartialExecution", pb.RecordPartialExecutionRequest(id=r.id, data_categories=[T])
    )
    assert last.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(last) == "NONE_LEFT_OPEN"
    r = client.call("de-liaison", "CompleteExecution", pb.CompleteExecutionRequest(id=r.id)).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_EXECUTED
    assert outcomes(r) == {"SUBSCRIBER": "EXECUTED", "TRAFFIC": "EXECUTED", "CONTENT": "REFUSED"}
    assert events_of(nats_server.url, r.id, 7) == [
        "created", "issued", "partially_refused", "acknowledged", "execution_started", "partially_executed", "executed"
    ]  # fmt: skip
    auditor = md(client.tokens("nl-auditor"))
    entries = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000), metadata=auditor).entries
    assert any(e.record_id == r.id and e.operation.endswith("/RefuseRequest") and e.outcome == "ok" for e in entries)


def test_a_category_the_request_does_not_name_is_refused_naming_the_field_and_nothing_is_written(
    client: Client,
) -> None:
    r = client.create(data_categories=[S, C])
    r = client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request
    err = client.error(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, detail="x", data_categories=[T]),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err) == {"data_categories[0]": "is not a category of this request (SUBSCRIBER, CONTENT)"}
    assert client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request.version == r.version
    r = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, detail="x", data_categories=[C]),
    ).request
    # The same call again is its retry (a lost answer): answered as it was, nothing refused twice.
    retried = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, detail="x", data_categories=[C]),
    ).request
    assert retried.version == r.version and len(retried.refusals) == len(r.refusals) == 1
    # Another refusal of the category decided: refused.
    again = client.error(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, detail="z", data_categories=[C]),
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(again) == "CATEGORY_DECIDED"
    # Refusing the last open category refuses the request.
    r = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(
            id=r.id, ground=pb.REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY, detail="y", data_categories=[S]
        ),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and r.refusal_ground == pb.REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY
    assert [x.whole for x in r.refusals] == [False, True] and not r.deadlines


# ---- clarification and resubmission -------------------------------------------------------------------


def test_request_resubmission_after_ne_bis_in_idem_is_a_new_receipt_with_the_refusal_kept(
    client: Client, nats_server: Any
) -> None:
    """REQUEST_RESUBMISSION: an EIO refused on EIO_REFUSAL_NE_BIS_IN_IDEM (Directive 2014/41/EU Art. 11(1)(d)),
    which no clarification cures, is still clarified and resubmitted by its issuer 20 days later: ISSUED
    again, submission 2, its acknowledgement and decision deadlines counted from the resubmission, its
    categories and description amended, the refusal still on the record (and in the event resubmitted). Last
    in this module: it moves the service's clock."""
    r = client.create(data_categories=[S, C], description="first version")
    client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id))
    r = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, detail="tried in DE in 2025"),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and "resubmit" not in r.allowed_actions  # DE's view
    issuer_view = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert "resubmit" in issuer_view.allowed_actions
    # Only the issuer resubmits, and only with a clarification.
    assert (
        client.code_of("de-prosecutor", "ResubmitRequest", pb.ResubmitRequestRequest(id=r.id, clarification="x"))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    err = client.error("nl-prosecutor", "ResubmitRequest", pb.ResubmitRequestRequest(id=r.id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "clarification" in field_violations(err)
    clock = client.svc.app.clock
    assert isinstance(clock, OffsetClock)
    clock.advance(timedelta(days=20))
    r = client.call(
        "nl-prosecutor",
        "ResubmitRequest",
        pb.ResubmitRequestRequest(
            id=r.id,
            expected_version=issuer_view.version,
            clarification="the acts of 2026 were not tried in DE",
            data_categories=[S],
            description="second version",
        ),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_ISSUED and r.submission == 2
    assert r.refusal_ground == pb.REFUSAL_GROUND_UNSPECIFIED
    assert [(x.submission, x.ground, x.whole) for x in r.refusals] == [(1, pb.REFUSAL_GROUND_NE_BIS_IN_IDEM, True)]
    assert list(r.data_categories) == [S] and r.description == "second version"
    assert r.state_reason == "the acts of 2026 were not tried in DE"
    receipt = r.received_at.ToSeconds()
    assert receipt == r.issued_at.ToSeconds() and receipt - r.refusals[0].refused_at.ToSeconds() >= 20 * 86400
    # Counted from the resubmission, as Reg. 1182/71 Art. 3 counts days in DE (deadlines.period_end).
    received = r.received_at.ToDatetime(tzinfo=UTC)
    due = {d.kind: d.due_at.ToDatetime(tzinfo=UTC) for d in r.deadlines}
    assert due == {
        pb.DEADLINE_KIND_ACKNOWLEDGE: period_end(received, timedelta(days=7), "DE"),
        pb.DEADLINE_KIND_DECIDE: period_end(received, timedelta(days=30), "DE"),
    }
    assert events_of(nats_server.url, r.id, 4)[-2:] == ["refused", "resubmitted"]
    # The addressee sees the resubmitted request, and its earlier refusal, and may decide again.
    de_view = client.call("de-liaison", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert de_view.refusals[0].ground == pb.REFUSAL_GROUND_NE_BIS_IN_IDEM and "acknowledge" in de_view.allowed_actions
    # Resubmitting what is not refused is refused, citing the rule.
    late = client.error("nl-prosecutor", "ResubmitRequest", pb.ResubmitRequestRequest(id=r.id, clarification="x"))
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(late) == "ILLEGAL_TRANSITION"


# ---- the exception to the double-criminality ground (Annex IV, Annex D) --------------------------------


def test_an_epoc_with_an_annex_iv_offence_of_three_years_is_not_refused_for_double_criminality(
    client: Client, nats_server: Any
) -> None:
    """EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY (Reg. (EU) 2023/1543 Art. 12(1)(d)) through the
    service: NL indicates an Annex IV offence punishable by 36 months (LISTED_OFFENCE_INDICATION), kept and
    shown on the request; IE's prosecutor raising NO_DOUBLE_CRIMINALITY is INVALID_ARGUMENT on `ground`
    citing the rule, and nothing is written (same version, no refusal, no event); another ground refuses."""
    r = client.epoc(
        pb.EPOC_PROCEDURE_WITH_NOTIFICATION,
        offence_category=pb.OFFENCE_CATEGORY_NON_CONSENSUAL_INTIMATE_IMAGES,
        listed_offence=pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME,
        max_sentence_months=36,
    )
    assert r.listed_offence == pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME and r.max_sentence_months == 36
    r = client.call("nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request
    err = client.error(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY, detail="no offence in IE"),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    why = field_violations(err)["ground"]
    assert legal.cite("EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY") in why
    assert why.endswith("its grounds: IMMUNITY_OR_PRIVILEGE, FUNDAMENTAL_RIGHTS, NE_BIS_IN_IDEM")
    same = client.call("ie-prosecutor", "GetRequest", pb.GetRequestRequest(id=r.id)).request
    assert same.version == r.version and same.state == pb.EVIDENCE_REQUEST_STATE_ISSUED and not same.refusals
    assert same.listed_offence == pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME and same.max_sentence_months == 36
    refused = client.call(
        "ie-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_FUNDAMENTAL_RIGHTS, detail="a manifest breach"),
    ).request
    assert refused.state == pb.EVIDENCE_REQUEST_STATE_REFUSED and len(refused.refusals) == 1
    # The one refusal written is the second attempt's: the first left no event.
    assert events_of(nats_server.url, r.id, 3) == ["created", "issued", "refused"]


def test_an_epoc_s_listed_offence_out_of_its_rule_is_refused_naming_the_field(client: Client) -> None:
    """LISTED_OFFENCE_INDICATION through the service: a penalty beyond 1200 months on an EPOC, and a listed
    offence on an MLA request (no such annex), are INVALID_ARGUMENT naming the field."""
    err = client.error(
        "nl-prosecutor",
        "CreateRequest",
        new_request(
            legal_basis=pb.LEGAL_BASIS_EPOC,
            epoc_procedure=pb.EPOC_PROCEDURE_WITH_NOTIFICATION,
            addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER,
            addressee_jurisdiction="IE",
            provider_name="SocialNet Ireland Ltd",
            listed_offence=pb.LISTED_OFFENCE_RAPE,
            max_sentence_months=1201,
        ),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must be 1 to 1200 months" in field_violations(err)["max_sentence_months"]
    err = client.error(
        "nl-prosecutor",
        "CreateRequest",
        new_request(legal_basis=pb.LEGAL_BASIS_MLA, listed_offence=pb.LISTED_OFFENCE_RAPE, max_sentence_months=36),
    )
    assert "only indicated on an EPOC" in field_violations(err)["listed_offence"]


def test_an_eio_with_an_annex_d_offence_of_two_years_may_be_refused_for_double_criminality(client: Client) -> None:
    """EIO_REFUSAL_NO_DOUBLE_CRIMINALITY stays open below three years
    (EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY does not apply): DE refuses an EIO for an Annex D
    offence punishable by 24 months."""
    r = issued(client, listed_offence=pb.LISTED_OFFENCE_RACISM_AND_XENOPHOBIA, max_sentence_months=24)
    r = client.call(
        "de-prosecutor",
        "RefuseRequest",
        pb.RefuseRequestRequest(id=r.id, ground=pb.REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY, detail="no offence in DE"),
    ).request
    assert r.state == pb.EVIDENCE_REQUEST_STATE_REFUSED
    assert r.refusal_ground == pb.REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY
