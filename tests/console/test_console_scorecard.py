"""The web console's scorecard page (issue 18) in a real browser: a police liaison, its main user, opens
how the platforms answer in the workspace: the table of times to answer, the share past the clock and the
refusals, small cells suppressed, and its chart; a non-member is refused in words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import timestamp_pb2

from jit.preservation.v1 import preservation_pb2 as pb
from jit.preservation.v1 import preservation_pb2_grpc
from tests.console.conftest import Users, accessibility_violations
from tests.harness import RunningService, md

pytestmark = pytest.mark.integration
WS = "jit-demo"


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def test_a_liaison_sees_how_the_platforms_answer(
    users: Users, node: dict[str, RunningService], tokens: Any, shots: Path
) -> None:
    """SCORECARD_CONFIRMATION_TARGET, SMALL_CELLS_SUPPRESSED: five orders to socialnet-ie confirmed 1..5 days
    after receipt (median 3.0 days, 90th percentile at rank 4.6: 4.6 days); four to videohost-de and one to
    chatapp-nl, cells under k = 5, suppressed (together they count 5, so socialnet-ie's stays shown)."""
    stub = preservation_pb2_grpc.PreservationServiceStub(node["preservation"].channel)
    meta = md(tokens("nl-liaison"))
    t = datetime.now(UTC) - timedelta(days=20)
    plan = [("socialnet-ie", n) for n in (1, 2, 3, 4, 5)] + [("videohost-de", 1)] * 4 + [("chatapp-nl", 1)]
    for provider, days in plan:
        order = stub.CreateOrder(
            pb.CreateOrderRequest(
                request_id=str(uuid.uuid4()),
                workspace_id=WS,
                # NL's order to a provider established in NL is national law, not an EPOC-PR
                # (EPOC_ONLY_BETWEEN_BOUND_STATES); its confirmation counts the same.
                legal_basis=pb.LEGAL_BASIS_NATIONAL if provider == "chatapp-nl" else pb.LEGAL_BASIS_EPOC_PR,
                provider_id=provider,
                targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
                data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
            ),
            metadata=meta,
            timeout=15,
        ).order
        stub.IssueOrder(pb.IssueOrderRequest(id=order.id, issued_at=ts(t)), metadata=meta, timeout=15)
        confirm = pb.ConfirmOrderRequest(id=order.id, confirmed_at=ts(t + timedelta(days=days)))
        stub.ConfirmOrder(confirm, metadata=meta, timeout=15)
    page = users.page("nl-liaison")
    page.goto(f"{users.base}/w/{WS}")
    page.get_by_role("link", name="Platforms").click()
    page.wait_for_load_state()
    first = page.locator("main table").first
    assert "Time to answer" in first.locator("caption").inner_text()
    rows = {
        r.locator("th").first.inner_text(): r.locator("td").all_inner_texts() for r in first.locator("tbody tr").all()
    }
    assert rows["socialnet-ie"][:4] == ["5", "5", "3.0", "4.6"]
    assert rows["chatapp-nl"][0] == "suppressed" and rows["videohost-de"][0] == "suppressed"
    chart = page.get_by_role(
        "img",
        name="Bar charts of the median time to answer and the share past the clock per platform; "
        "suppressed figures are drawn empty",
    )
    chart.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", chart.element_handle())
    page.screenshot(path=str(shots / "35-scorecard.png"), full_page=True)
    assert accessibility_violations(page) == []
    fr = users.page("fr-prosecutor")
    response = fr.goto(f"{users.base}/w/{WS}/scorecard")
    assert response is not None and response.status == 404
