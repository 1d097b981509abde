"""Which evidence request may move a preservation order (security review, issue 10, finding #1), pure: the
preservation consumer's own check of a link the evidence service checked when it was made."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jitlib.actors import Actor
from services.preservation import domain
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
