"""``jit removal ...``: removal requests to platforms (jit.preservation.v1.RemovalService), their response
clocks and the platforms' answers, recorded by the issuing jurisdiction's prosecutor or liaison.

    jit removal create -w jit-demo -p socialnet-ie --basis dsa-art9-order \\
        --item "https://socialnet.example/p/1 sha256=<64 hex> account=@x" [--order ORDER] [--victim V-NL-0001]
    jit removal list [-w WS] [--state removed] [--victim V-NL-0001]
    jit removal show ID
    jit removal ack|removed|appealed|restored ID [--at TIME]
    jit removal geoblocked ID --in NL --in DE
    jit removal refused ID --reason not-illegal [--details TEXT]
    jit removal reupload ID --sha256 HEX --url URL [--seen-at TIME]
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from jit.preservation.v1 import removal_pb2 as pb
from jit.preservation.v1 import removal_pb2_grpc
from jitcli.preservation_cmd import _enum, _instant, _ts, _uuid
from jitcli.render import (
    UTC,
    allowed_line,
    duration_words,
    emit,
    emit_json,
    enum_label,
    format_instant,
    instant_rows,
    message_dict,
    note,
    replica_note,
    short_id,
    terminal_safe,
    time_left_words,
    victim_refs,
    victims_label,
)
from jitcli.session import app_state

app = typer.Typer(help="Removal requests: what platforms were asked to take down, by when, and what they answered.",
                  no_args_is_help=True)  # fmt: skip


class Basis(StrEnum):
    dsa_art9_order = "dsa-art9-order"
    national_order = "national-order"
    dsa_art22_trusted_flagger = "dsa-art22-trusted-flagger"
    dsa_art16_notice = "dsa-art16-notice"


class State(StrEnum):
    sent = "sent"
    acknowledged = "acknowledged"
    removed = "removed"
    geo_blocked = "geo-blocked"
    refused = "refused"
    appealed = "appealed"
    restored = "restored"


class Refusal(StrEnum):
    not_illegal = "not-illegal"
    not_found = "not-found"
    insufficient_information = "insufficient-information"
    out_of_scope = "out-of-scope"
    other = "other"


Version = Annotated[
    int,
    typer.Option("--expected-version", metavar="N", help="Fail (ABORTED) unless still at this version; 0: no check."),
]
RemovalId = Annotated[str, typer.Argument(metavar="ID", help="Full removal request id (UUID).", show_default=False)]
At = Annotated[str | None, typer.Option("--at", metavar="TIME", help="When the platform answered (default: now).")]

_ITEM_KEYS = {"sha256": "sha256", "account": "account", "id": "platform_item_id"}


def item(value: str) -> pb.ContentItem:
    """``"URL [sha256=HEX] [account=@x] [id=ITEM]"`` (or only ``id=...``) -> ContentItem."""
    fields: dict[str, str] = {}
    for part in value.split():
        key, sep, rest = part.partition("=")
        if sep and key in _ITEM_KEYS:
            fields[_ITEM_KEYS[key]] = rest
        elif "url" not in fields and not sep:
            fields["url"] = part
        else:
            raise typer.BadParameter(f"{part!r}: write URL [sha256=HEX] [account=@x] [id=ITEM]", param_hint="--item")
    return pb.ContentItem(**fields)


def state_label(value: int) -> str:
    return enum_label(pb.RemovalRequestState, value, "REMOVAL_REQUEST_STATE_")


def basis_label(value: int) -> str:
    return enum_label(pb.RemovalBasis, value, "REMOVAL_BASIS_")


def clock_cell(r: pb.RemovalRequest, now: dt.datetime) -> Text:
    """Time left to the platform's decision while it is pending; else whether it came in time."""
    due = r.due_at.ToDatetime(tzinfo=UTC)
    if r.HasField("decided_at"):
        return Text("answered late" if r.past_due else "answered in time", style="red" if r.past_due else "")
    if r.state in (pb.REMOVAL_REQUEST_STATE_SENT, pb.REMOVAL_REQUEST_STATE_ACKNOWLEDGED):
        return Text(time_left_words(due, now), style="red" if r.past_due else "")
    return Text("-", style="dim")


def removals_table(removals: Sequence[pb.RemovalRequest], now: dt.datetime, wide: bool = False) -> Table:
    victims = any(r.victim_refs for r in removals)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "PLATFORM", "BASIS", "STATE", "DUE", "CLOCK", "RE-UPLOADS", "FROM"):
        table.add_column(column)
    if victims:
        table.add_column("VICTIMS")
    for r in removals:
        table.add_row(
            r.id if wide else short_id(r.id),
            r.provider_id,
            basis_label(r.basis),
            state_label(r.state),
            format_instant(r.due_at.ToDatetime(tzinfo=UTC)),
            clock_cell(r, now),
            str(r.reupload_count),
            r.origin_jurisdiction,
            *([victims_label(r.victim_refs) or "-"] if victims else []),
        )
    return table


def removal_detail(r: pb.RemovalRequest, now: dt.datetime) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, Any]] = [
        ("id", r.id),
        ("workspace", r.workspace_id),
        ("state", state_label(r.state) + (" (past due)" if r.past_due else "")),
        ("basis", basis_label(r.basis) + (f" ({r.national_jurisdiction})" if r.national_jurisdiction else "")),
        ("platform", r.provider_id),
    ]
    for i, it in enumerate(r.items):
        parts = [it.url, f"id={it.platform_item_id}" if it.platform_item_id else "",
                 f"account={it.account}" if it.account else "", f"sha256={it.sha256}" if it.sha256 else ""]  # fmt: skip
        rows.append((f"item {i + 1}", terminal_safe(" ".join(p for p in parts if p), one_line=True)))
    if r.victim_refs:
        rows.append(("victims", victims_label(r.victim_refs)))
    rows.append(("sent by", r.origin_jurisdiction))
    if r.HasField("replica"):
        rows.append(("replica", replica_note(r)))
    rows += instant_rows(
        r,
        (
            ("sent", "sent_at"),
            ("due", "due_at"),
            ("acknowledged", "acknowledged_at"),
            ("decided", "decided_at"),
            ("removed", "removed_at"),
            ("last answer", "answered_at"),
        ),
    )
    rows.append(("clock", f"{duration_words(dt.timedelta(seconds=r.clock_seconds))}: {r.clock_source}"))
    rows.append(("time left", clock_cell(r, now)))
    if r.refusal_reason:
        rows.append(("refused", enum_label(pb.RefusalReason, r.refusal_reason, "REFUSAL_REASON_")))
    if r.blocked_in:
        rows.append(("blocked in", ", ".join(r.blocked_in)))
    if r.state_reason:
        rows.append(("details", terminal_safe(r.state_reason)))
    if r.preservation_order_id:
        rows.append(("preservation order", r.preservation_order_id))
    if r.proceed_without_preservation_reason:
        rows.append(("without preservation", terminal_safe(r.proceed_without_preservation_reason)))
    if r.reupload_count:
        rows.append(("re-uploads", str(r.reupload_count)))
        for u in r.reuploads:
            seen = format_instant(u.seen_at.ToDatetime(tzinfo=UTC))
            rows.append(("", terminal_safe(f"{seen} {u.url} (sha256 {u.sha256[:12]}..)", one_line=True)))
    rows.append(("version", str(r.version)))
    for label, value in rows:
        table.add_row(label, value)
    return table


# ------------------------------------------------------------------ calls


def _call(ctx: typer.Context, method: str, request: Any) -> Any:
    return app_state(ctx).call("preservation", removal_pb2_grpc.RemovalServiceStub, method, request)


def _show(ctx: typer.Context, removal: pb.RemovalRequest) -> None:
    if app_state(ctx).json:
        emit_json(message_dict(removal))
    else:
        emit(removal_detail(removal, dt.datetime.now(UTC)))
        emit(allowed_line(removal.allowed_actions))


def _answer(ctx: typer.Context, method: str, request: Any, at: str | None, field: str = "answered_at") -> None:
    when = _instant(at, "--at" if field == "answered_at" else "--seen-at")
    if when:
        getattr(request, field).CopyFrom(_ts(when))
    _show(ctx, _call(ctx, method, request).removal)


# ------------------------------------------------------------------ commands


@app.command()
def create(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Workspace id, e.g. jit-demo.")],
    provider: Annotated[
        str, typer.Option("--provider", "-p", metavar="ID", help="Platform id (`jit preservation providers`).")
    ],
    basis: Annotated[Basis, typer.Option("--basis", "-b", help="Legal basis: its clock follows.")],
    items: Annotated[
        list[str],
        typer.Option("--item", metavar="'URL [sha256=HEX] [account=@x] [id=ITEM]'", help="Content to remove."),
    ],
    national: Annotated[
        str, typer.Option("--national", metavar="JUR", help="national-order: whose law (default: yours).")
    ] = "",
    order: Annotated[
        str, typer.Option("--order", metavar="UUID", help="The live preservation order of this content.")
    ] = "",
    without_preservation: Annotated[
        str,
        typer.Option("--without-preservation", metavar="REASON", help="Why you go on with no live preservation order."),
    ] = "",
    sent_at: Annotated[
        str | None, typer.Option("--sent-at", metavar="TIME", help="When it was sent (default: now).")
    ] = None,
    victim: Annotated[
        list[str] | None, typer.Option("--victim", metavar="PSEUDONYM", help="A victim it concerns (V-NL-0007).")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", metavar="UUID", help="Idempotency key (UUID); default: a fresh one.")
    ] = None,
) -> None:
    """Record a removal request sent to a platform. Preserve first: with no live preservation order of the
    content, the service asks for --without-preservation REASON."""
    req = pb.CreateRemovalRequest(
        request_id=_uuid(request_id, "--request-id") if request_id else str(uuid.uuid4()),
        workspace_id=workspace,
        basis=_enum("REMOVAL_BASIS_", basis.value),  # type: ignore[arg-type]
        national_jurisdiction=national.strip().upper(),
        provider_id=provider,
        items=[item(v) for v in items],
        preservation_order_id=_uuid(order, "--order") if order else "",
        proceed_without_preservation_reason=without_preservation,
        victim_refs=victim_refs(victim),
    )
    when = _instant(sent_at, "--sent-at")
    if when:
        req.sent_at.CopyFrom(_ts(when))
    _show(ctx, _call(ctx, "CreateRemoval", req).removal)


@app.command("list")
def list_removals(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Only this workspace.")] = "",
    state: Annotated[list[State] | None, typer.Option("--state", "-s", help="Only these states.")] = None,
    provider: Annotated[str, typer.Option("--provider", "-p", metavar="ID", help="Only this platform.")] = "",
    victim: Annotated[
        str, typer.Option("--victim", metavar="PSEUDONYM", help="Only those concerning this victim.")
    ] = "",
    wide: Annotated[bool, typer.Option("--wide", help="Show full ids.")] = False,
) -> None:
    """List the removal requests you may see, soonest due first (every page)."""
    req = pb.ListRemovalsRequest(
        workspace_id=workspace,
        states=[_enum("REMOVAL_REQUEST_STATE_", s.value) for s in state or []],  # type: ignore[misc]
        provider_id=provider,
        victim_ref=victim.strip().upper(),
        page_size=200,
    )
    removals: list[pb.RemovalRequest] = []
    while True:
        resp = _call(ctx, "ListRemovals", req)
        removals.extend(resp.removals)
        if not resp.next_page_token:
            break
        req.page_token = resp.next_page_token
    if app_state(ctx).json:
        emit_json({"removals": [message_dict(r) for r in removals]})
    elif removals:
        emit(removals_table(removals, dt.datetime.now(UTC), wide=wide))
    else:
        note("no removal requests")


@app.command()
def show(ctx: typer.Context, id: RemovalId) -> None:
    """Show one removal request with its clock, answers and re-uploads."""
    _show(ctx, _call(ctx, "GetRemoval", pb.GetRemovalRequest(id=_uuid(id, "ID"))).removal)


@app.command()
def ack(ctx: typer.Context, id: RemovalId, at: At = None, expected_version: Version = 0) -> None:
    """The platform acknowledged the request (its clock runs on)."""
    _answer(
        ctx,
        "AcknowledgeRemoval",
        pb.AcknowledgeRemovalRequest(id=_uuid(id, "ID"), expected_version=expected_version),
        at,
    )


@app.command()
def removed(ctx: typer.Context, id: RemovalId, at: At = None, expected_version: Version = 0) -> None:
    """The platform removed the content."""
    _answer(ctx, "RecordRemoved", pb.RecordRemovedRequest(id=_uuid(id, "ID"), expected_version=expected_version), at)


@app.command()
def geoblocked(
    ctx: typer.Context,
    id: RemovalId,
    where: Annotated[list[str], typer.Option("--in", metavar="JUR", help="Where access was disabled (repeat).")],
    at: At = None,
    expected_version: Version = 0,
) -> None:
    """The platform disabled access to the content in some jurisdictions only."""
    req = pb.RecordGeoBlockedRequest(
        id=_uuid(id, "ID"), expected_version=expected_version, blocked_in=[w.strip().upper() for w in where]
    )
    _answer(ctx, "RecordGeoBlocked", req, at)


@app.command()
def refused(
    ctx: typer.Context,
    id: RemovalId,
    reason: Annotated[Refusal, typer.Option("--reason", help="The platform's reason.")],
    details: Annotated[str, typer.Option("--details", metavar="TEXT", help="What the platform said.")] = "",
    at: At = None,
    expected_version: Version = 0,
) -> None:
    """The platform refused, with its reason."""
    req = pb.RecordRefusedRequest(
        id=_uuid(id, "ID"),
        expected_version=expected_version,
        reason=_enum("REFUSAL_REASON_", reason.value),  # type: ignore[arg-type]
        details=details,
    )
    _answer(ctx, "RecordRefused", req, at)


Details = Annotated[str, typer.Option("--details", metavar="TEXT", help="What the platform said.")]


@app.command()
def appealed(
    ctx: typer.Context, id: RemovalId, details: Details = "", at: At = None, expected_version: Version = 0
) -> None:
    """The uploader contested the removal with the platform (DSA Art. 20)."""
    _answer(ctx, "RecordAppealed", pb.RecordAppealedRequest(id=_uuid(id, "ID"), expected_version=expected_version,
                                                            details=details), at)  # fmt: skip


@app.command()
def restored(
    ctx: typer.Context, id: RemovalId, details: Details = "", at: At = None, expected_version: Version = 0
) -> None:
    """The platform put the content back (after the uploader's appeal)."""
    _answer(ctx, "RecordRestored", pb.RecordRestoredRequest(id=_uuid(id, "ID"), expected_version=expected_version,
                                                            details=details), at)  # fmt: skip


@app.command()
def reupload(
    ctx: typer.Context,
    id: RemovalId,
    sha256: Annotated[str, typer.Option("--sha256", metavar="HEX", help="The removed item's hash, seen again.")],
    url: Annotated[str, typer.Option("--url", metavar="URL", help="Where it showed up.")],
    seen_at: Annotated[str | None, typer.Option("--seen-at", metavar="TIME", help="When (default: now).")] = None,
    expected_version: Version = 0,
) -> None:
    """Removed content showed up again: the request reopens with a new clock and counts a re-upload."""
    req = pb.RecordReuploadRequest(id=_uuid(id, "ID"), expected_version=expected_version, sha256=sha256, url=url)
    _answer(ctx, "RecordReupload", req, seen_at, field="seen_at")
