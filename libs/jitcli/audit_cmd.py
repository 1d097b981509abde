"""``jit audit ...``: check and export a service's tamper-evident audit log (auditor role only).

The service is picked by name (``--service tasks``); its address comes from ``JIT_<NAME>_ADDR``
(see :mod:`jitcli.config`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from jit.audit.v1 import audit_pb2, audit_pb2_grpc
from jitcli.config import SERVICES
from jitcli.render import emit_json, message_dict, note
from jitcli.session import AppState

app = typer.Typer(
    help="Check and export the tamper-evident audit log of a service (auditors only).", no_args_is_help=True
)

EXPORT_PAGE = 500


def _service(value: str) -> str:
    if value not in SERVICES:
        raise typer.BadParameter(f"unknown service {value!r}; known: {', '.join(SERVICES)}")
    return value


ServiceOpt = Annotated[
    str,
    typer.Option("--service", metavar="NAME", callback=_service, help=f"Which service's log: {', '.join(SERVICES)}."),
]


@app.command()
def verify(ctx: typer.Context, service: ServiceOpt = "tasks") -> None:
    """Recompute the hash chain; exit 0 when intact, 1 when broken (first bad entry printed)."""
    state: AppState = ctx.obj
    name = service
    resp = state.call(name, audit_pb2_grpc.AuditServiceStub, "VerifyAuditChain", audit_pb2.VerifyAuditChainRequest())
    if state.json:
        emit_json(message_dict(resp))
    elif resp.intact:
        typer.echo(f"audit log of {name}: intact, {resp.entries_checked} entries checked, head {resp.head_hash}")
        if resp.HasField("checkpoint"):
            cp = resp.checkpoint
            typer.echo(
                f"  verified from the checkpoint at seq {cp.seq} (hash {cp.hash}): {cp.entries_pruned} entries "
                f"older than 3 years pruned, last on {cp.pruned_at.ToDatetime().date().isoformat()} by {cp.pruned_by}"
            )
    else:
        typer.echo(
            f"audit log of {name}: BROKEN at seq {resp.first_bad_seq}: {resp.problem} "
            f"({resp.entries_checked} entries checked)"
        )
    if not resp.intact:
        raise typer.Exit(1)


def _open_private(path: Path) -> TextIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


@app.command()
def export(
    ctx: typer.Context,
    service: ServiceOpt = "tasks",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="File to write (mode 0600); default stdout."),
    ] = None,
) -> None:
    """Write the whole audit log, in chain order, as JSON lines."""
    state: AppState = ctx.obj
    name = service
    req = audit_pb2.ListAuditEntriesRequest(page_size=EXPORT_PAGE)
    count = 0
    sink = _open_private(out) if out is not None else sys.stdout
    try:
        while True:
            resp = state.call(name, audit_pb2_grpc.AuditServiceStub, "ListAuditEntries", req)
            for entry in resp.entries:
                sink.write(json.dumps(message_dict(entry), ensure_ascii=False) + "\n")
                count += 1
            if not resp.next_page_token:
                break
            req.page_token = resp.next_page_token
    finally:
        if out is not None:
            sink.close()
    note(f"exported {count} audit entries of {name}" + (f" to {out}" if out is not None else ""))
