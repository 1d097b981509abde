"""``jit scorecard`` against the live preservation service (in-process CliRunner): the table, its CSV and
its PNG chart; k raised hides what it must; a workspace the caller is not in is NOT_FOUND."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from jit.preservation.v1 import preservation_pb2 as pb
from tests.harness import RunningService
from tests.integration.preservation import test_preservation_cli as cli
from tests.integration.preservation.conftest import DAY, WS, Client, now_utc, ts

pytestmark = pytest.mark.integration
#: The live service's CLI environment (nl-liaison and fr-prosecutor logged in) and the runner of `jit`.
env = cli.env
jit = cli.jit


def test_a_liaison_reads_the_scorecard_as_a_table_csv_and_chart(
    env: dict[str, str], preservation_svc: RunningService, tokens: Any, tmp_path: Path
) -> None:
    """Five orders to videohost-de confirmed 1..5 days after receipt: median 3.0 days, 90th percentile 4.6
    (1 + 0.9 * 4 = rank 4.6); with --k 6 the cell of 5 is suppressed (SMALL_CELLS_SUPPRESSED)."""
    client = Client(preservation_svc, tokens)
    t = now_utc() - 20 * DAY
    for n in range(1, 6):
        order = client.create(provider_id="videohost-de", legal_basis=pb.LEGAL_BASIS_EPOC_PR)
        issue = pb.IssueOrderRequest(id=order.id)
        issue.issued_at.CopyFrom(ts(t))
        client.call("nl-liaison", "IssueOrder", issue)
        confirm = pb.ConfirmOrderRequest(id=order.id)
        confirm.confirmed_at.CopyFrom(ts(t + n * DAY))
        client.call("nl-liaison", "ConfirmOrder", confirm)
    csv_path, png_path = tmp_path / "card.csv", tmp_path / "card.png"
    out = jit(env, "--as", "nl-liaison", "scorecard", "--workspace", WS, "--csv", str(csv_path), "--png", str(png_path))
    assert "videohost-de" in out.stdout and "confirm a preservation" in out.stdout
    assert "3.0" in out.stdout and "4.6" in out.stdout
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    (confirmations,) = [r for r in rows if r["platform"] == "videohost-de" and r["part"] == "answers"]
    assert (confirmations["asked"], confirmations["median_days"], confirmations["p90_days"]) == ("5", "3.0", "4.6")
    assert Image.open(png_path).format == "PNG"
    raised = json.loads(jit(env, "--json", "--as", "nl-liaison", "scorecard", "--k", "6").stdout)
    (card,) = [p for p in raised["platforms"] if p["provider_id"] == "videohost-de"]
    assert card["answers"][0]["suppressed"] is True and "median_seconds" not in card["answers"][0]
    refused = jit(env, "--as", "fr-prosecutor", "scorecard", "--workspace", WS, code=1)
    assert "NOT_FOUND" in refused.stderr
