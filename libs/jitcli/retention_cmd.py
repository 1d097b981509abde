"""``jit retention ...``: legal holds set by a prosecutor of a workspace's lead jurisdiction, as the user
(rule LEGAL_HOLD). A hold is set in every service of the node (each keeps its own, and deletes nothing of
the workspace while one is active); an administrator's hold is ``jit admin retention hold``.

Each command sends one request id to every service, so a service that answered keeps one hold (or one
release) of it; setting a hold again while it is active renews it (the earlier one stays in the list,
released as renewed)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from jit.retention.v1 import retention_pb2, retention_pb2_grpc
from jitcli.config import SERVICES
from jitcli.render import CliError, emit_json, message_dict, note
from jitcli.session import AppState

app = typer.Typer(
    help="Legal holds on a workspace or one of its records (a prosecutor of the workspace's lead).",
    no_args_is_help=True,
)

WsId = Annotated[str, typer.Argument(metavar="WS", help="Workspace id, e.g. jit-demo.", show_default=False)]
RecordOpt = Annotated[
    str,
    typer.Option(
        "--record",
        metavar="KIND:ID",
        help="One record instead of the whole workspace: task, evidence_request, evidence_item, "
        "preservation_order, victim or channel, and its id.",
    ),
]


ServicesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        metavar="NAME",
        help=f"Only this service (repeat; default every one: {', '.join(SERVICES)}).",
    ),
]


def _services(names: list[str] | None) -> tuple[str, ...]:
    for name in names or ():
        if name not in SERVICES:
            raise CliError(f"unknown service {name[:40]!r}; known: {', '.join(SERVICES)}")
    return tuple(names) if names else SERVICES


def _record(value: str) -> tuple[str, str]:
    if not value:
        return "", ""
    kind, sep, rid = value.partition(":")
    if not sep or not kind or not rid:
        raise CliError("--record is KIND:ID, e.g. task:0190...")
    return kind, rid


def _each(state: AppState, method: str, request: Any, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [(name, state.call(name, retention_pb2_grpc.RetentionServiceStub, method, request)) for name in names]


def _out(state: AppState, results: list[tuple[str, Any]], words: str) -> None:
    if state.json:
        emit_json({name: message_dict(resp.hold) for name, resp in results})
        return
    for name, resp in results:
        h = resp.hold
        what = f"{h.record_type} {h.record_id}" if h.record_type else f"workspace {h.workspace_id}"
        typer.echo(f"{name}: {what} {words} ({h.set_by}, {h.set_by_jurisdiction}): {h.reason}")


def _when(ts: Any) -> str:
    return str(ts.ToDatetime().isoformat(timespec="seconds")) + "Z"


def _line(h: Any) -> str:
    """One hold of ``list``: what it holds, its state, who set it and when, its reason."""
    what = f"{h.record_type} {h.record_id}" if h.record_type else "workspace"
    if h.active:
        status = "active"
    elif h.superseded_by:
        status = f"renewed by {h.released_by} on {_when(h.released_at)}"
    else:
        status = f"released by {h.released_by} on {_when(h.released_at)}"
    set_by = f"set by {h.set_by} ({h.set_by_jurisdiction}) on {_when(h.set_at)}"
    return f"{what}: {status}; {set_by}: {h.reason} [hold {h.id or '-'}]"


@app.command()
def hold(
    ctx: typer.Context,
    ws_id: WsId,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why (sealed, audited).", show_default=False)],
    record: RecordOpt = "",
    service: ServicesOpt = None,
) -> None:
    """Set a legal hold in every service: nothing of the workspace is deleted there while it is active.
    While one is active, this renews it with the new reason (the earlier one stays in the list)."""
    state: AppState = ctx.obj
    kind, rid = _record(record)
    request = retention_pb2.SetLegalHoldRequest(
        request_id=str(uuid.uuid4()), workspace_id=ws_id, record_type=kind, record_id=rid, reason=reason
    )
    _out(state, _each(state, "SetLegalHold", request, _services(service)), "held")


@app.command()
def release(ctx: typer.Context, ws_id: WsId, record: RecordOpt = "", service: ServicesOpt = None) -> None:
    """Release the hold in every service: the retention clock applies again (if no other hold keeps it)."""
    state: AppState = ctx.obj
    kind, rid = _record(record)
    request = retention_pb2.ReleaseLegalHoldRequest(
        request_id=str(uuid.uuid4()), workspace_id=ws_id, record_type=kind, record_id=rid
    )
    _out(state, _each(state, "ReleaseLegalHold", request, _services(service)), "released")


@app.command("list")
def list_holds(ctx: typer.Context, ws_id: WsId, service: ServicesOpt = None) -> None:
    """The workspace's holds in every service, active and released, in the order each service set them."""
    state: AppState = ctx.obj
    request = retention_pb2.ListLegalHoldsRequest(workspace_id=ws_id)
    results = _each(state, "ListLegalHolds", request, _services(service))
    if state.json:
        emit_json({name: [message_dict(h) for h in resp.holds] for name, resp in results})
        return
    shown = 0
    for name, resp in results:
        for h in resp.holds:
            typer.echo(f"{name}: {_line(h)}")
            shown += 1
    if not shown:
        note(f"no legal holds in {ws_id}")
