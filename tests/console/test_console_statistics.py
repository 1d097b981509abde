"""The web console's statistics page (issue 16) in a real browser: a prosecutor picks what to count and by
what, sees the table with small cells suppressed and its chart; the lead's prosecutor downloads the JIT's
evaluation; a liaison and a non-member are refused in words."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from jit.tasks.v1 import tasks_pb2 as tk
from jit.tasks.v1 import tasks_pb2_grpc
from tests.console.conftest import Users, accessibility_violations
from tests.harness import RunningService, md

pytestmark = pytest.mark.integration
WS = "jit-demo"


def test_a_prosecutor_counts_the_workspace_and_sees_the_table_and_its_chart(
    users: Users, node: dict[str, RunningService], tokens: Any, shots: Path
) -> None:
    """SMALL_CELLS_SUPPRESSED: the page shows the service's table as it is, suppressed cells as suppressed."""
    stub = tasks_pb2_grpc.TaskServiceStub(node["tasks"].channel)
    for to in ["DE"] * 6 + ["IE"] * 2:
        request = tk.CreateTaskRequest(
            request_id=str(uuid.uuid4()),
            workspace_id=WS,
            title="Identify the account holder",
            kind=tk.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction=to,
        )
        stub.CreateTask(request, metadata=md(tokens("nl-prosecutor")), timeout=15)
    page = users.page("nl-prosecutor")
    page.goto(f"{users.base}/w/{WS}")
    page.get_by_role("link", name="Statistics").click()
    page.get_by_label("Count").select_option("tasks")
    page.get_by_label("by", exact=True).select_option("addressee")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    table = page.locator("main table")
    assert "tasks by addressee, k = 5" in table.locator("caption").inner_text()
    assert table.locator("thead th").all_inner_texts() == ["addressee", "count"]
    assert table.locator("tbody tr").last.locator("td").first.inner_text() == "TOTAL"
    chart = page.get_by_role("img", name="Bar chart of the table above; suppressed cells are drawn empty")
    chart.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", chart.element_handle())
    png = page.request.get(users.base + (chart.get_attribute("src") or ""))
    assert png.status == 200 and png.body().startswith(b"\x89PNG\r\n\x1a\n")
    page.screenshot(path=str(shots / "30-statistics.png"), full_page=True)
    assert accessibility_violations(page) == []


def test_the_lead_prosecutor_downloads_the_evaluation_and_others_are_refused(users: Users) -> None:
    """JIT_EVALUATION: NL leads jit-demo."""
    nl = users.page("nl-prosecutor")
    nl.goto(f"{users.base}/w/{WS}/statistics")
    csv = nl.request.get(f"{users.base}/w/{WS}/evaluation.csv")
    assert csv.status == 200 and csv.text().startswith("statistic,group_1,value_1")
    assert f"{WS}-evaluation.csv" in (csv.headers.get("content-disposition") or "")
    de = users.page("de-prosecutor")
    response = de.goto(f"{users.base}/w/{WS}/evaluation.csv")
    assert response is not None and response.status == 403
    assert "lead" in de.inner_text("main")
    liaison = users.page("nl-liaison")
    response = liaison.goto(f"{users.base}/w/{WS}/statistics")
    assert response is not None and response.status == 403
    fr = users.page("fr-prosecutor")
    response = fr.goto(f"{users.base}/w/{WS}/statistics")
    assert response is not None and response.status == 404
