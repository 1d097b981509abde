"""Which instrument applies (pure): each refusal at creation or issue names its field or reason and cites
its row of jitlib.legal (EIO_ONLY_BETWEEN_BOUND_STATES, EPOC_APPLIES_FROM_18_AUGUST_2026,
EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON, SAP_ART7_SUBSCRIBER_ONLY)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jitlib import legal
from jitlib.errors import FailedPrecondition
from services.evidence import domain
from services.evidence.domain import TransitionInput
from tests.unit.test_evidence_rules import NL, NOW, make, new


def violations(origin: str = "NL", **over: object) -> dict[str, str]:
    return {v.field: v.description for v in domain.new_request_violations(new(**over), origin, NOW)}


def epoc(procedure: str, *categories: str, **over: object) -> dict[str, object]:
    return {
        "legal_basis": "EPOC",
        "epoc_procedure": procedure,
        "urgency": "EMERGENCY" if "EMERGENCY" in procedure else "NORMAL",
        "addressee_kind": "SERVICE_PROVIDER",
        "provider_name": "SocialNet Ireland Ltd",
        "addressee_jurisdiction": "IE",
        "data_categories": categories,
        **over,
    }


# -- EIO: between member states bound by Directive 2014/41 ---------------------------------------------


@pytest.mark.parametrize("addressee", ["IE", "DK"])
def test_eio_only_between_bound_states_an_eio_to_ireland_or_denmark_is_refused(addressee: str) -> None:
    """EIO_ONLY_BETWEEN_BOUND_STATES (Directive 2014/41 Art. 1(1), 34(1); recitals 44-45): IE and DK are
    not bound; the refusal names addressee_jurisdiction, says MLA is the instrument and cites the row."""
    out = violations(addressee_jurisdiction=addressee)
    why = out["addressee_jurisdiction"]
    assert "not bound by Directive 2014/41" in why and "MLA" in why
    assert legal.cite("EIO_ONLY_BETWEEN_BOUND_STATES") in why
    # The same request as MLA is fine.
    assert violations(legal_basis="MLA", addressee_jurisdiction=addressee) == {}


@pytest.mark.parametrize("addressee", ["DE", "FR", "BE", "PL", "GR"])
def test_eio_only_between_bound_states_an_eio_to_a_bound_member_state_is_valid(addressee: str) -> None:
    """EIO_ONLY_BETWEEN_BOUND_STATES: DE, NL, FR and the other member states but IE and DK are bound."""
    assert violations(addressee_jurisdiction=addressee) == {}


def test_eio_only_between_bound_states_a_state_outside_the_eu_or_an_issuer_not_bound_is_refused() -> None:
    """EIO_ONLY_BETWEEN_BOUND_STATES: an EIO to the US (not an EU member state), or one issued by IE, is
    refused too, each naming its field."""
    assert "not an EU member state" in violations(addressee_jurisdiction="US")["addressee_jurisdiction"]
    out = domain.issuer_violations(new(addressee_jurisdiction="DE"), "IE")
    assert [v.field for v in out] == ["legal_basis"] and "issued by IE" in out[0].description
    assert domain.issuer_violations(new(legal_basis="MLA", addressee_jurisdiction="DE"), "IE") == []
    assert domain.issuer_violations(new(addressee_jurisdiction="DE"), "NL") == []


# -- EPOC: from 18 August 2026 ---------------------------------------------------------------------------


def test_epoc_applies_from_18_august_2026_issuing_before_is_refused() -> None:
    """EPOC_APPLIES_FROM_18_AUGUST_2026 (Reg. (EU) 2023/1543 Art. 34(2)): an EPOC issued on 17 August 2026
    is FAILED_PRECONDITION INSTRUMENT_NOT_APPLICABLE_YET citing the row, and not offered to the issuer; on
    18 August it is issued. An EIO is issued whenever."""
    r = make(**epoc("WITH_NOTIFICATION", "SUBSCRIBER"))
    day_before = domain.EPOC_APPLIES_FROM - timedelta(seconds=1)
    with pytest.raises(FailedPrecondition) as info:
        domain.apply(r, "issue", TransitionInput(), actor=NL, now=day_before)
    assert info.value.reason == "INSTRUMENT_NOT_APPLICABLE_YET"
    assert legal.cite("EPOC_APPLIES_FROM_18_AUGUST_2026") in info.value.message
    from tests.unit.test_evidence_addressees import user

    assert "issue" not in domain.allowed_actions(r, user("NL", member=True), day_before)
    issued = domain.apply(r, "issue", TransitionInput(), actor=NL, now=domain.EPOC_APPLIES_FROM)
    assert issued.issued_at == domain.EPOC_APPLIES_FROM
    eio = make()
    assert domain.apply(eio, "issue", TransitionInput(), actor=NL, now=day_before).issued_at == day_before


# -- EPOC: no notification for traffic or content data only on recorded grounds --------------------------


@pytest.mark.parametrize("procedure", ["STANDARD", "EMERGENCY"])
@pytest.mark.parametrize("categories", [("CONTENT",), ("TRAFFIC",), ("SUBSCRIBER", "CONTENT")])
def test_epoc_notification_exemption_needs_reason_without_it_content_or_traffic_is_refused(
    procedure: str, categories: tuple[str, ...]
) -> None:
    """EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON (Reg. (EU) 2023/1543 Art. 8(1)-(2)): without notification
    of the enforcing state, traffic or content data need a recorded reason; the refusal names
    notification_exemption_reason and cites the row."""
    out = violations(**epoc(procedure, *categories))
    assert legal.cite("EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON") in out["notification_exemption_reason"]
    why = "Offence committed in NL; the account holder resides in NL"
    assert violations(**epoc(procedure, *categories, notification_exemption_reason=why)) == {}
    r = make(**epoc(procedure, *categories, notification_exemption_reason=f"  {why} "))
    assert r.notification_exemption_reason == why


@pytest.mark.parametrize(
    ("over", "why"),
    [
        (epoc("WITH_NOTIFICATION", "CONTENT"), "notified"),
        (epoc("EMERGENCY_WITH_NOTIFICATION", "TRAFFIC"), "notified"),
        (epoc("STANDARD", "SUBSCRIBER"), "subscriber data only"),
        ({"legal_basis": "MLA", "addressee_jurisdiction": "US"}, "not an EPOC"),
    ],
)
def test_epoc_notification_exemption_needs_reason_and_is_refused_where_none_applies(
    over: dict[str, object], why: str
) -> None:
    """EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON: a reason on a request that needs none (notified, subscriber
    data only, another instrument) is INVALID_ARGUMENT naming the field."""
    assert "notification_exemption_reason" in violations(**over, notification_exemption_reason="x"), why
    assert "notification_exemption_reason" not in violations(**over), why


def test_epoc_notification_exemption_needs_reason_bounded_and_not_blank() -> None:
    """EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON: blank is missing; over 2,000 characters is refused without
    echoing the text."""
    assert "notification_exemption_reason" in violations(
        **epoc("STANDARD", "CONTENT", notification_exemption_reason="  ")
    )
    long = "x" * 2001
    out = violations(**epoc("STANDARD", "CONTENT", notification_exemption_reason=long))
    assert "notification_exemption_reason" in out and long not in out["notification_exemption_reason"]


# -- SAP Art. 7: subscriber information only -------------------------------------------------------------


@pytest.mark.parametrize("categories", [("TRAFFIC",), ("CONTENT",), ("SUBSCRIBER", "TRAFFIC")])
def test_sap_art7_subscriber_only_other_categories_are_refused(categories: tuple[str, ...]) -> None:
    """SAP_ART7_SUBSCRIBER_ONLY (CETS 224 Art. 7(1)): a direct request to a provider is for subscriber
    information only; the refusal names data_categories and cites the row."""
    sap = dict(
        legal_basis="SAP_ART7",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="X Corp.",
        addressee_jurisdiction="US",
    )
    out = violations(**sap, data_categories=categories)
    assert legal.cite("SAP_ART7_SUBSCRIBER_ONLY") in out["data_categories"]
    assert violations(**sap, data_categories=("SUBSCRIBER",)) == {}


# -- EPOC: between member states bound by Reg. (EU) 2023/1543 --------------------------------------------


@pytest.mark.parametrize(("state", "why"), [("DK", "not bound by Reg. (EU) 2023/1543"), ("US", "not an EU member")])
def test_epoc_only_between_bound_states_an_epoc_to_a_provider_in_denmark_or_outside_the_eu_is_refused(
    state: str, why: str
) -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES (Reg. (EU) 2023/1543 Art. 1(1), 34; recital 95): the provider's state is
    the notified enforcing state; one in DK (not bound) or the US (outside the EU) is refused on
    addressee_jurisdiction, with or without notification, citing the row. The same to IE is valid."""
    for procedure in ("WITH_NOTIFICATION", "STANDARD"):
        out = violations(**epoc(procedure, "SUBSCRIBER", addressee_jurisdiction=state))
        assert why in out["addressee_jurisdiction"], procedure
        assert legal.cite("EPOC_ONLY_BETWEEN_BOUND_STATES") in out["addressee_jurisdiction"]
    assert violations(**epoc("WITH_NOTIFICATION", "SUBSCRIBER")) == {}


def test_epoc_only_between_bound_states_an_epoc_issued_by_denmark_is_refused() -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES: DK's authorities issue no EPOC (DK is not bound by the Regulation):
    refused on legal_basis once the policy let the caller create (``issuer_violations``); IE (which takes part)
    and NL issue one; an MLA request from DK is not concerned."""
    out = domain.issuer_violations(new(**epoc("WITH_NOTIFICATION", "SUBSCRIBER", addressee_jurisdiction="DE")), "DK")
    assert [v.field for v in out] == ["legal_basis"]
    assert "issued by DK" in out[0].description and legal.cite("EPOC_ONLY_BETWEEN_BOUND_STATES") in out[0].description
    assert (
        domain.issuer_violations(new(**epoc("WITH_NOTIFICATION", "SUBSCRIBER", addressee_jurisdiction="DE")), "IE")
        == []
    )
    assert domain.issuer_violations(new(**epoc("WITH_NOTIFICATION", "SUBSCRIBER")), "NL") == []
    assert domain.issuer_violations(new(legal_basis="MLA", addressee_jurisdiction="DE"), "DK") == []


def test_epoc_only_between_bound_states_an_epoc_to_a_provider_in_the_issuers_own_state_is_refused() -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES: an EPOC goes to a provider established or represented in ANOTHER member
    state (Art. 1(1)); NL to a provider in NL is national law, refused on addressee_jurisdiction. A voluntary
    request to a provider in the issuer's own state stays valid."""
    out = domain.issuer_violations(new(**epoc("WITH_NOTIFICATION", "SUBSCRIBER", addressee_jurisdiction="NL")), "NL")
    assert [v.field for v in out] == ["addressee_jurisdiction"]
    assert "national law" in out[0].description
    assert legal.cite("EPOC_ONLY_BETWEEN_BOUND_STATES") in out[0].description
    voluntary = dict(legal_basis="VOLUNTARY", addressee_kind="SERVICE_PROVIDER", provider_name="Chatapp B.V.")
    assert domain.issuer_violations(new(**voluntary, addressee_jurisdiction="NL"), "NL") == []
    assert violations(**voluntary, addressee_jurisdiction="NL") == {}


def test_epoc_only_between_bound_states_the_bound_states_are_the_member_states_but_denmark() -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES: one list, ``jitlib.legal.EPOC_BOUND_STATES``, for both services: every
    EU member state but DK (recital 95), IE included (it takes part)."""
    from jitlib.jurisdictions import EU_MEMBER_STATES

    assert EU_MEMBER_STATES - {"DK"} == legal.EPOC_BOUND_STATES
    assert "IE" in legal.EPOC_BOUND_STATES and "DK" not in legal.EPOC_BOUND_STATES
    assert domain.EPOC_APPLIES_FROM is legal.EPOC_APPLIES_FROM
