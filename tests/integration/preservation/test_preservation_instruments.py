"""Which preservation orders Reg. (EU) 2023/1543 covers, through the gRPC service with real tokens: an EPOC-PR
from NL to a provider established in NL, and one recorded as issued before the Regulation applies. Each is
INVALID_ARGUMENT naming its field with its row's source, and writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jit.preservation.v1 import preservation_pb2 as pb
from jitlib import legal
from tests.harness import field_violations
from tests.integration.preservation.conftest import WS, Client
from tests.integration.preservation.test_preservation_bad_input import _issue, refused

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(preservation_svc: Any, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


def test_epoc_only_between_bound_states_an_epoc_pr_to_a_provider_of_the_issuers_own_state_is_refused(
    client: Client,
) -> None:
    """EPOC_ONLY_BETWEEN_BOUND_STATES (Reg. (EU) 2023/1543 Art. 1(1), 34; recital 95): NL's EPOC-PR to
    chatapp-nl (established in NL) is INVALID_ARGUMENT on provider_id citing the row, nothing written; a
    NATIONAL order to it, and an EPOC-PR to socialnet-ie (IE), are created."""
    request = pb.CreateOrderRequest(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322199",
        workspace_id=WS,
        legal_basis=pb.LEGAL_BASIS_EPOC_PR,
        provider_id="chatapp-nl",
        targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
        data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
    )
    why = field_violations(refused(client, "CreateOrder", request))["provider_id"]
    assert "national law" in why and legal.cite("EPOC_ONLY_BETWEEN_BOUND_STATES") in why
    national = client.create(legal_basis=pb.LEGAL_BASIS_NATIONAL, provider_id="chatapp-nl")
    assert national.state == pb.PRESERVATION_ORDER_STATE_DRAFT
    assert client.create(legal_basis=pb.LEGAL_BASIS_EPOC_PR).state == pb.PRESERVATION_ORDER_STATE_DRAFT


def test_epoc_pr_applies_from_18_august_2026_an_epoc_pr_issued_before_is_refused(client: Client) -> None:
    """EPOC_PR_APPLIES_FROM_18_AUGUST_2026 (Reg. (EU) 2023/1543 Art. 34(2)): recording an EPOC-PR as issued on
    2026-03-01 is INVALID_ARGUMENT on issued_at citing the row, and the order stays a draft at its version;
    issued on 18 August 2026 it is recorded."""
    order = client.create(legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    err = refused(client, "IssueOrder", _issue(order.id, datetime(2026, 3, 1, 9, 0, tzinfo=UTC)))
    assert legal.cite("EPOC_PR_APPLIES_FROM_18_AUGUST_2026") in field_violations(err)["issued_at"]
    after = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert (after.version, after.state) == (order.version, pb.PRESERVATION_ORDER_STATE_DRAFT)
    issued = client.call("nl-liaison", "IssueOrder", _issue(order.id, legal.EPOC_APPLIES_FROM)).order
    assert issued.state == pb.PRESERVATION_ORDER_STATE_ISSUED
    assert issued.issued_at.ToDatetime(tzinfo=UTC) == legal.EPOC_APPLIES_FROM
