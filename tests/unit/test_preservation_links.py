"""Which evidence request may move a preservation order (security review, issue 10, finding #1), pure: the
preservation consumer's own check of a link the evidence service checked when it was made."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from jitlib.actors import Actor
from services.preservation import domain, providers
from services.preservation.domain import LegalBasis, NewOrder, Target

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def nl_order() -> domain.Order:
    cmd = NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=LegalBasis.EPOC_PR.value,
        provider_id="socialnet-ie",
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER",),
        description="",
        restricted=False,
    )
    return domain.create(cmd, order_id="01935c4e-0000-7000-8000-000000000001", actor=Actor("u", "nl", "NL"), now=T0)


@pytest.mark.parametrize(
    ("request_workspace", "request_origin", "event_workspace", "event_origin", "problem"),
    [
        ("jit-demo", "NL", "jit-demo", "NL", ""),
        ("jit-demo", "DE", "jit-demo", "DE", "not issued by the order's origin jurisdiction"),
        ("jit-demo", "NL", "jit-demo", "DE", "not issued by the order's origin jurisdiction"),
        ("jit-demo", "DE", "jit-demo", "NL", "not issued by the order's origin jurisdiction"),
        ("other-ws", "NL", "other-ws", "NL", "not of the order's workspace"),
        ("jit-demo", "NL", "other-ws", "NL", "not of the order's workspace"),
    ],
)
def test_only_a_request_of_the_orders_issuer_and_workspace_moves_it(
    request_workspace: str, request_origin: str, event_workspace: str, event_origin: str, problem: str
) -> None:
    """Finding #1 (High): a DE request linked to an NL order moved it to PRODUCTION_REQUESTED and PRODUCED."""
    found = domain.link_problem(
        nl_order(),
        request_workspace=request_workspace,
        request_origin=request_origin,
        event_workspace=event_workspace,
        event_origin=event_origin,
    )
    assert found == problem


def order_of(basis: LegalBasis, provider: str = "socialnet-ie") -> domain.Order:
    return replace(nl_order(), legal_basis=basis, provider_id=provider)


SOCIALNET = providers.load()["socialnet-ie"]


@pytest.mark.parametrize(
    ("basis", "instrument", "addressee", "why"),
    [
        (LegalBasis.EPOC_PR, "EPOC", "IE", ""),
        (LegalBasis.EPOC_PR, "EIO", "IE", ""),
        (LegalBasis.EPOC_PR, "MLA", "IE", ""),
        (LegalBasis.EPOC_PR, "VOLUNTARY", "IE", "a VOLUNTARY request is not a production request"),
        (LegalBasis.EPOC_PR, "JIT_DIRECT", "IE", "a JIT_DIRECT request is not a production request"),
        (LegalBasis.EPOC_PR, "SAP_ART7", "IE", "a SAP_ART7 request is not a production request"),
        (
            LegalBasis.EPOC_PR,
            "EIO",
            "DE",
            "addressed to DE, and the order's provider socialnet-ie is established in IE",
        ),
        (LegalBasis.BUDAPEST_ART29, "MLA", "IE", ""),
        (LegalBasis.BUDAPEST_ART29, "EIO", "IE", ""),
        (LegalBasis.BUDAPEST_ART29, "EPOC", "IE", "a EPOC request is not a production request"),
        (LegalBasis.BUDAPEST_ART29, "MLA", "NL", "addressed to NL"),
        # A clock that runs on whatever is requested: any instrument, but still where the data are.
        (LegalBasis.PROVIDER_VOLUNTARY, "VOLUNTARY", "IE", ""),
        (LegalBasis.NATIONAL, "JIT_DIRECT", "IE", ""),
        (LegalBasis.NATIONAL, "EIO", "DE", "addressed to DE"),
    ],
)
def test_only_a_request_for_the_preserved_data_where_they_are_counts_as_the_orders_production_request(
    basis: LegalBasis, instrument: str, addressee: str, why: str
) -> None:
    found = domain.production_not_counted(order_of(basis), SOCIALNET, instrument, addressee)
    assert found.startswith(why) if why.startswith("a ") else why in found
    assert bool(found) == bool(why)


def test_a_provider_missing_from_the_register_is_judged_by_the_instrument_alone() -> None:
    assert domain.production_not_counted(order_of(LegalBasis.EPOC_PR), None, "EIO", "DE") == ""
    assert domain.production_not_counted(order_of(LegalBasis.EPOC_PR), None, "VOLUNTARY", "IE")


def _user(jurisdiction: str, *, member: bool = True, role: str = "police_liaison") -> domain.Principal:
    workspaces = frozenset({"jit-demo"}) if member else frozenset()
    return domain.Principal("u", f"{jurisdiction.lower()}-user", jurisdiction, frozenset({role}), workspaces)


def _facts(**over: object) -> str:
    fields: dict[str, object] = dict(
        origin="NL",
        addressee_kind="MEMBER_STATE",
        addressee="IE",
        legal_basis="MLA",
        epoc_procedure="UNSPECIFIED",
        restricted=True,
        shared_with=(),
        version=2,
    )
    fields.update(over)
    return domain.follow_up_facts(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "shown_to"),
    [
        # Named by hand, its events not come yet: the order's issuing jurisdiction alone.
        ("", {"NL"}),
        # A restricted MLA request NL -> IE: its parties; IE reads it from outside the workspace too.
        (_facts(), {"NL", "IE", "IE-outside"}),
        (_facts(shared_with=("DE",)), {"NL", "IE", "IE-outside", "DE"}),
        (_facts(restricted=False), {"NL", "IE", "IE-outside", "DE", "FR"}),
        # A direct exchange inside the JIT: its addressee reads it as a member only.
        (_facts(legal_basis="JIT_DIRECT"), {"NL", "IE"}),
        # An EPOC to a provider established in IE, without notification: IE is no party of it.
        (_facts(legal_basis="EPOC", addressee_kind="SERVICE_PROVIDER", epoc_procedure="WITHOUT_NOTIFICATION"), {"NL"}),
        (
            _facts(legal_basis="EPOC", addressee_kind="SERVICE_PROVIDER", epoc_procedure="WITH_NOTIFICATION"),
            {"NL", "IE", "IE-outside"},
        ),
    ],
)
def test_an_orders_follow_up_request_is_shown_to_those_who_may_read_the_request(facts: str, shown_to: set[str]) -> None:
    """``follow_up_shown``: the policy's READ on the request's facts as kept with the order (the evidence
    service's ``EvidenceRequest.access()``), never on the order's own (open to the workspace here)."""
    order = replace(nl_order(), follow_up_request_id="01935c4e-0000-7000-8000-0000000000aa", follow_up_facts=facts)
    callers = {
        "NL": _user("NL"),
        "DE": _user("DE"),
        "IE": _user("IE"),
        "IE-outside": _user("IE", member=False),
        "FR": _user("FR"),  # a member here
    }
    assert {name for name, p in callers.items() if domain.follow_up_shown(p, order)} == shown_to
    assert not domain.follow_up_shown(_user("NL", role="operator"), order)
    assert not domain.follow_up_shown(callers["NL"], replace(order, follow_up_request_id=""))
