"""The scorecard as people read it (jitlib.scorecard): rows, CSV and chart from a GetScorecardResponse;
a suppressed figure is written as suppressed and never as a number, in the table, the CSV and the chart."""

from __future__ import annotations

import csv
import io

from PIL import Image

from jit.preservation.v1 import scorecard_pb2 as pb
from jitlib import scorecard as view

DAY = 86400.0


def response() -> pb.GetScorecardResponse:
    shown = pb.AnswerFigures(
        kind="confirm_preservation", asked=7, answered=6, median_seconds=3.5 * DAY, p90_seconds=5.5 * DAY
    )
    shown.decided, shown.share_late = 7, 4 / 7
    few = pb.AnswerFigures(kind="produce_data", asked=6, decided=0)  # 1..4 answered: hidden
    hidden = pb.AnswerFigures(kind="confirm_preservation", suppressed=True)
    return pb.GetScorecardResponse(
        k=5,
        workspace_ids=["jit-demo"],
        platforms=[
            pb.PlatformScore(
                provider_id="socialnet-ie",
                provider_name="=HYPERLINK(1)",
                answers=[shown, few],
                refusals=[pb.RefusalCount(refused="preservation", reason="DATA_NOT_HELD", count=5)],
                reuploads=5,
            ),
            pb.PlatformScore(
                provider_id="microblog-ie",
                provider_name="Microblog",
                answers=[hidden],
                refusals=[pb.RefusalCount(refused="removal", reason="NOT_ILLEGAL", suppressed=True)],
                reuploads_suppressed=True,
            ),
        ],
    )


def test_rows_show_figures_and_suppressed_cells_as_suppressed() -> None:
    """SMALL_CELLS_SUPPRESSED: a hidden cell, a hidden count of answers (and the median and percentile it
    would give), a hidden refusal count and hidden re-uploads all read "suppressed"."""
    msg = response()
    rows = view.answer_rows(msg)
    assert rows[0] == list(view.ANSWER_COLUMNS)
    assert rows[1] == ["socialnet-ie", "confirm a preservation", "7", "6", "3.5", "5.5", "7", "0.57"]
    assert rows[2] == ["socialnet-ie", "produce data", "6", "suppressed", "suppressed", "suppressed", "0", ""]
    assert rows[3] == ["microblog-ie", "confirm a preservation", *["suppressed"] * 6]
    assert view.refusal_rows(msg)[1:] == [
        ["socialnet-ie", "preservation", "DATA_NOT_HELD", "5"],
        ["microblog-ie", "removal", "NOT_ILLEGAL", "suppressed"],
    ]
    assert view.reupload_rows(msg)[1:] == [["socialnet-ie", "5"], ["microblog-ie", "suppressed"]]


def test_csv_has_every_part_and_no_formula() -> None:
    parsed = list(csv.reader(io.StringIO(view.to_csv(response()))))
    assert parsed[0] == list(view.CSV_COLUMNS)
    parts = [row[0] for row in parsed[1:]]
    assert parts == ["answers", "answers", "refusals", "reuploads", "answers", "refusals", "reuploads"]
    assert parsed[1][2] == "'=HYPERLINK(1)"  # a spreadsheet shows it, never runs it
    assert parsed[-1][-1] == "suppressed"


def test_the_chart_is_a_png() -> None:
    png = view.chart_png(response(), "Platform scorecard: jit-demo")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] > 400
