"""Which preservation orders Reg. (EU) 2023/1543 covers (pure): an EPOC-PR between member states bound by it,
to a provider of another one (EPOC_ONLY_BETWEEN_BOUND_STATES), issued from 18 August 2026
(EPOC_PR_APPLIES_FROM_18_AUGUST_2026); each refusal names its field and cites its row of jitlib.legal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jitlib import legal
from jitlib.errors import FailedPrecondition, InvalidArgument
from services.preservation import domain, providers
from services.preservation.domain import LegalBasis, NewOrder, OrderState, Target
from tests.unit.test_preservation_rules import RULES, new_order, step

#: A day the Regulation applies.
APPLIES = legal.EPOC_APPLIES_FROM
REGISTER = {
    **providers.load(),
    "chat-dk": replace(providers.load()["chatapp-nl"], id="chat-dk", establishment_jurisdiction="DK"),
    "x-us": replace(providers.load()["chatapp-nl"], id="x-us", establishment_jurisdiction="US"),
}


def cmd(basis: LegalBasis = LegalBasis.EPOC_PR, provider: str = "socialnet-ie") -> NewOrder:
    return NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=basis.value,
        provider_id=provider,
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER",),
        description="",
        restricted=True,
    )


def fields(out: list[domain.FieldViolation]) -> dict[str, str]:
    return {v.field: v.description for v in out}


# -- EPOC-PR: between member states bound by the Regulation, to a provider of another one ----------------


@pytest.mark.parametrize(("provider", "why"), [("chat-dk", "not bound by"), ("x-us", "not an EU member state")])
def test_epoc_only_between_bound_states_an_epoc_pr_to_a_provider_in_denmark_or_outside_the_eu_is_refused(
    provider: str, why: str
) -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES (Reg. (EU) 2023/1543 Art. 1(1), 34; recital 95): the provider's
    establishment (the register's) is the enforcing state; DK or the US is refused on provider_id, citing the
    row. The same provider under Budapest Art. 29 or the provider's own terms is fine."""
    out = fields(domain.new_order_violations(cmd(provider=provider), REGISTER))
    assert why in out["provider_id"] and legal.cite("EPOC_ONLY_BETWEEN_BOUND_STATES") in out["provider_id"]
    for basis in (LegalBasis.BUDAPEST_ART29, LegalBasis.PROVIDER_VOLUNTARY):
        assert domain.new_order_violations(cmd(basis, provider), REGISTER) == []


def test_epoc_only_between_bound_states_an_epoc_pr_issued_by_denmark_is_refused() -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES: DK issues no EPOC-PR: refused on legal_basis once the policy let the
    caller create (``issuer_violations``); IE (it takes part) issues one to a provider in NL, NL to one in IE."""
    out = fields(domain.issuer_violations(cmd(), "DK", REGISTER))
    assert list(out) == ["legal_basis"] and "issued by DK" in out["legal_basis"]
    assert legal.cite("EPOC_ONLY_BETWEEN_BOUND_STATES") in out["legal_basis"]
    assert domain.issuer_violations(cmd(provider="chatapp-nl"), "IE", REGISTER) == []
    assert domain.issuer_violations(cmd(), "NL", REGISTER) == []
    assert domain.issuer_violations(cmd(LegalBasis.NATIONAL), "DK", REGISTER) == []


def test_epoc_only_between_bound_states_an_epoc_pr_to_a_provider_of_the_issuers_own_state_is_refused() -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES: NL to chatapp-nl (established in NL) is a domestic order under national
    law, not the Regulation: refused on provider_id; the same as NATIONAL is valid."""
    out = fields(domain.issuer_violations(cmd(provider="chatapp-nl"), "NL", REGISTER))
    assert list(out) == ["provider_id"] and "national law" in out["provider_id"]
    assert legal.cite("EPOC_ONLY_BETWEEN_BOUND_STATES") in out["provider_id"]
    assert domain.issuer_violations(cmd(LegalBasis.NATIONAL, "chatapp-nl"), "NL", REGISTER) == []
    assert domain.new_order_violations(cmd(provider="chatapp-nl"), REGISTER) == []  # another issuer may


def test_epoc_only_between_bound_states_a_register_provider_is_read_by_its_establishment() -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES: the provider register's ``establishment_jurisdiction`` decides; every
    demo provider is established in a bound state."""
    assert all(p.establishment_jurisdiction in legal.EPOC_BOUND_STATES for p in providers.DEMO_PROVIDERS)


# -- EPOC-PR: from 18 August 2026 -------------------------------------------------------------------------


def test_epoc_pr_applies_from_18_august_2026_a_stated_earlier_issue_is_refused_naming_issued_at() -> None:
    """EPOC_PR_APPLIES_FROM_18_AUGUST_2026 (Reg. (EU) 2023/1543 Art. 34(2)): an EPOC-PR recorded as issued on
    2026-03-01 is INVALID_ARGUMENT naming issued_at, citing the row, and the order is not changed; issued on
    18 August 2026 it is. A Budapest Art. 29 order issued on 2026-03-01 is recorded."""
    now = APPLIES + timedelta(days=30)
    draft = new_order()
    with pytest.raises(InvalidArgument) as info:
        step(draft, "issue", now, issued_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    out = fields(info.value.violations)
    assert list(out) == ["issued_at"] and legal.cite("EPOC_PR_APPLIES_FROM_18_AUGUST_2026") in out["issued_at"]
    assert draft.state is OrderState.DRAFT
    with pytest.raises(InvalidArgument):
        step(draft, "issue", now, issued_at=APPLIES - timedelta(seconds=1))
    assert step(draft, "issue", now, issued_at=APPLIES).issued_at == APPLIES
    budapest = new_order(LegalBasis.BUDAPEST_ART29)
    early = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert step(budapest, "issue", now, issued_at=early).issued_at == early


def test_epoc_pr_applies_from_18_august_2026_issuing_before_by_the_clock_is_refused_and_not_offered() -> None:
    """EPOC_PR_APPLIES_FROM_18_AUGUST_2026: before 18 August 2026 by the service's clock, issuing an EPOC-PR
    is FAILED_PRECONDITION INSTRUMENT_NOT_APPLICABLE_YET (the draft waits) and ``issue`` is not offered; a
    national order is issued then."""
    before = APPLIES - timedelta(seconds=1)
    with pytest.raises(FailedPrecondition) as info:
        step(new_order(), "issue", before)
    assert info.value.reason == "INSTRUMENT_NOT_APPLICABLE_YET"
    assert legal.cite("EPOC_PR_APPLIES_FROM_18_AUGUST_2026") in info.value.message
    from tests.unit.test_allowed_actions import principal

    nl = principal("NL", "police_liaison")
    assert "issue" not in domain.allowed_actions(new_order(), nl, RULES.clock_for(new_order()), before)
    assert "issue" in domain.allowed_actions(new_order(), nl, RULES.clock_for(new_order()), APPLIES)
    assert step(new_order(LegalBasis.NATIONAL), "issue", before).state is OrderState.ISSUED
