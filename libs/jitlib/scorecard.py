"""The scorecard per platform as people read it, pure: its rows (a table per part), one CSV and a PNG chart,
from a ``jit.preservation.v1.GetScorecardResponse`` (the command line and the console render the same
message the same way). What a suppressed figure shows is ``stats.SUPPRESSED``, never a number."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from jitlib import stats

#: The kinds of answer, in their order, and how they are named to people.
KINDS = {
    "confirm_preservation": "confirm a preservation",
    "produce_data": "produce data",
    "remove_content": "remove content",
}
ANSWER_COLUMNS = ("platform", "answer", "asked", "answered", "median_days", "p90_days", "decided", "share_past_clock")
REFUSAL_COLUMNS = ("platform", "refused", "reason", "count")
REUPLOAD_COLUMNS = ("platform", "reuploads")
CSV_COLUMNS = ("part", "platform", "platform_name", "answer", "reason", *ANSWER_COLUMNS[2:], "count")


def _days(msg: Any, name: str) -> str:
    return f"{getattr(msg, name) / 86400:.1f}" if msg.HasField(name) else stats.SUPPRESSED


def _count(msg: Any, name: str) -> str:
    return str(getattr(msg, name)) if msg.HasField(name) else stats.SUPPRESSED


def _share(msg: Any) -> str:
    if msg.HasField("share_late"):
        return f"{msg.share_late:.2f}"
    return "" if msg.HasField("decided") else stats.SUPPRESSED


def answer_values(a: Any) -> list[str]:
    """asked, answered, median days, 90th-percentile days, decided, share past the clock: figures, or
    suppressed in each hidden one ("" for a share with nothing decided)."""
    if a.suppressed:
        return [stats.SUPPRESSED] * 6
    answered = _count(a, "answered")
    median = _days(a, "median_seconds") if a.HasField("median_seconds") or answered != "0" else ""
    p90 = _days(a, "p90_seconds") if a.HasField("p90_seconds") or answered != "0" else ""
    return [str(a.asked), answered, median, p90, _count(a, "decided"), _share(a)]


def answer_rows(msg: Any) -> list[list[str]]:
    rows = [list(ANSWER_COLUMNS)]
    for p in msg.platforms:
        rows += [[p.provider_id, KINDS.get(a.kind, a.kind), *answer_values(a)] for a in p.answers]
    return rows


def refusal_rows(msg: Any) -> list[list[str]]:
    rows = [list(REFUSAL_COLUMNS)]
    for p in msg.platforms:
        for r in p.refusals:
            rows.append([p.provider_id, r.refused, r.reason, stats.SUPPRESSED if r.suppressed else str(r.count)])
    return rows


def reupload_rows(msg: Any) -> list[list[str]]:
    rows = [list(REUPLOAD_COLUMNS)]
    for p in msg.platforms:
        rows.append([p.provider_id, stats.SUPPRESSED if p.reuploads_suppressed else str(p.reuploads)])
    return rows


def to_csv(msg: Any) -> str:
    """One CSV of the three parts (answers, refusals, reuploads), a row per figure; values a spreadsheet
    could run as a formula are quoted as text."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    blank = [""] * 6
    for p in msg.platforms:
        platform = [stats.safe(p.provider_id), stats.safe(p.provider_name)]
        for a in p.answers:
            w.writerow(["answers", *platform, a.kind, "", *answer_values(a), ""])
        for r in p.refusals:
            count = stats.SUPPRESSED if r.suppressed else str(r.count)
            w.writerow(["refusals", *platform, r.refused, r.reason, *blank, count])
        count = stats.SUPPRESSED if p.reuploads_suppressed else str(p.reuploads)
        w.writerow(["reuploads", *platform, "", "", *blank, count])
    return out.getvalue()


def chart_png(msg: Any, title: str) -> bytes:
    """A PNG: per kind of answer, the median days of each platform (its 90th percentile beside it), and the
    share past the clock of each platform and kind; a suppressed figure is an empty bar labelled so."""
    panels: list[stats.Bars] = []
    for kind, words in KINDS.items():
        cells = [(p.provider_id, a) for p in msg.platforms for a in p.answers if a.kind == kind]
        if not cells:
            continue
        values: list[float | None] = []
        texts: list[str] = []
        for _, a in cells:
            if a.HasField("median_seconds"):
                values.append(a.median_seconds / 86400)
                texts.append(f"median {a.median_seconds / 86400:.1f} d, p90 {a.p90_seconds / 86400:.1f} d")
            else:
                values.append(None)
                texts.append(stats.SUPPRESSED)
        panels.append(stats.Bars(f"time to {words}", "days (median)", [p for p, _ in cells], values, texts))
    late = [(p.provider_id, a) for p in msg.platforms for a in p.answers]
    shares: Sequence[float | None] = [100 * a.share_late if a.HasField("share_late") else None for _, a in late]
    panels.append(
        stats.Bars(
            "share past the clock",
            "% of decided answers",
            [f"{p} / {KINDS.get(a.kind, a.kind)}" for p, a in late],
            shares,
            [stats.SUPPRESSED if v is None else f"{v:.0f}%" for v in shares],
            100,
        )
    )
    return stats.bars_png(panels, title)
