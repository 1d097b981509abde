"""``jit scorecard``: how each platform answers (the preservation service's ScorecardService), from the
orders of your workspaces you may read: time to confirm a preservation, to produce data, to remove
content (median and 90th percentile), the share past each clock, refusals by reason and re-uploads,
small cells suppressed.

    jit scorecard [--workspace WS] [--since T] [--until T] [--k 5] [--csv FILE] [--png FILE]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jit.preservation.v1 import scorecard_pb2 as pb
from jit.preservation.v1 import scorecard_pb2_grpc
from jitcli.render import emit, emit_json, message_dict, note, parse_instant, terminal_safe
from jitcli.session import app_state
from jitlib import scorecard as view

SERVICE = "preservation"
STUB = scorecard_pb2_grpc.ScorecardServiceStub


def _rich(rows: list[list[str]], title: str, text_columns: int) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(rows[0]):
        table.add_column(name, justify="left" if i < text_columns else "right")
    for row in rows[1:]:
        table.add_row(*(terminal_safe(v, one_line=True) for v in row))
    return table


def scorecard(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="only this workspace (default: all yours)")] = "",
    since: Annotated[str, typer.Option("--since", help="what was asked from this instant on")] = "",
    until: Annotated[str, typer.Option("--until", help="what was asked before this instant")] = "",
    k: Annotated[int, typer.Option("--k", help="the smallest cell shown: 5 or more")] = 0,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="also write the scorecard as CSV to FILE")] = None,
    png_file: Annotated[Path | None, typer.Option("--png", help="also write a PNG chart to FILE")] = None,
) -> None:
    """A scorecard per platform: how fast each confirms, produces and removes, how often past its clock,
    what it refused and why, and re-uploads; a figure under k shows as suppressed."""
    request = pb.GetScorecardRequest(workspace_id=workspace, k=k)
    if since:
        request.period_start.FromDatetime(parse_instant(since))
    if until:
        request.period_end.FromDatetime(parse_instant(until))
    state = app_state(ctx)
    resp = state.call(SERVICE, STUB, "GetScorecard", request)
    where = ", ".join(resp.workspace_ids) or "no workspace"
    written = []
    if csv_file is not None:
        csv_file.write_text(view.to_csv(resp), encoding="utf-8")
        written.append(str(csv_file))
    if png_file is not None:
        png_file.write_bytes(view.chart_png(resp, f"Platform scorecard: {where}"))
        written.append(str(png_file))
    if state.json:
        emit_json({**message_dict(resp), "written": written})
        return
    if not resp.platforms:
        note(f"nothing asked of any platform in {where} that you may see")
    else:
        emit(_rich(view.answer_rows(resp), f"answers of the platforms in {where} (k = {resp.k})", 2))
        if any(p.refusals for p in resp.platforms):
            emit(_rich(view.refusal_rows(resp), "refusals by reason", 3))
        emit(_rich(view.reupload_rows(resp), "re-uploads of removed content", 1))
    if written:
        note(f"wrote {' and '.join(written)}")
