"""``jit preservation ...``: preservation orders with platforms, their expiry clocks and the liaison's day.

One command per RPC of jit.preservation.v1.PreservationService. Every transition is taken by the issuing
jurisdiction (a prosecutor or police liaison), who records what the provider answered. Order ids are full
UUIDs (``jit preservation list --wide`` or ``--json`` shows them).

``jit preservation due --within 7d`` lists the running orders expiring within 7 days, soonest first, with
the time left in words.

An EPOC-PR the provider did not comply with is enforced by the enforcing state (Reg. (EU) 2023/1543 Art. 16):
``transfer-enforcement`` (the issuing side's prosecutor), then ``recognise-enforcement`` or
``refuse-enforcement`` (the enforcing state's prosecutor).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from google.protobuf import timestamp_pb2
from rich.table import Table
from rich.text import Text

from jit.common.v1 import common_pb2
from jit.preservation.v1 import preservation_pb2 as pb
from jit.preservation.v1 import preservation_pb2_grpc
from jitcli.render import (
    UTC,
    UserNotice,
    allowed_line,
    duration_words,
    emit,
    emit_json,
    enum_label,
    format_instant,
    instant_rows,
    join_nonempty,
    message_dict,
    note,
    parse_duration,
    parse_instant,
    replica_note,
    short_id,
    time_left_words,
    user_notice_text,
    victim_refs,
    victims_label,
)
from jitcli.session import app_state
from jitlib import jurisdictions, legal
from jitlib.periods import enforcement_decision_due

app = typer.Typer(help="Preservation orders: what platforms were asked to keep, and until when.", no_args_is_help=True)


class Basis(StrEnum):
    epoc_pr = "epoc-pr"
    budapest_art29 = "budapest-art29"
    provider_voluntary = "provider-voluntary"
    national = "national"


class State(StrEnum):
    draft = "draft"
    issued = "issued"
    confirmed = "confirmed"
    extended = "extended"
    production_requested = "production-requested"
    produced = "produced"
    expired = "expired"
    lifted = "lifted"
    not_executed = "not-executed"


class Category(StrEnum):
    subscriber = "subscriber"
    traffic = "traffic"
    content = "content"


#: The grounds on which the enforcing state refuses to recognise a transferred order (Reg. (EU) 2023/1543 Art.
#: 16(4), ``legal.ENFORCEMENT_REFUSAL_GROUNDS``, the evidence service's list).
EnforcementGround = StrEnum(  # type: ignore[misc]
    "EnforcementGround", {g.lower(): g.lower().replace("_", "-") for g in legal.ENFORCEMENT_REFUSAL_GROUNDS}
)


class NotExecuted(StrEnum):
    incomplete = "incomplete"
    manifest_errors = "manifest-errors"
    insufficient_information = "insufficient-information"
    data_not_held = "data-not-held"
    de_facto_impossible = "de-facto-impossible"
    invalid_issuing_authority = "invalid-issuing-authority"
    not_covered = "not-covered"
    immunities = "immunities"
    conflict_of_law = "conflict-of-law"
    other = "other"


#: ``--target`` prefixes and the identifier kinds they name.
TARGET_KINDS = {
    "handle": pb.TARGET_KIND_ACCOUNT_HANDLE,
    "url": pb.TARGET_KIND_URL,
    "phone": pb.TARGET_KIND_PHONE_NUMBER,
    "email": pb.TARGET_KIND_EMAIL,
}
#: The states in which an order's clock may run (it runs while the order has an expiry): an EPOC-PR's from
#: ISSUED (60 days from receipt), a voluntary or national one on while PRODUCTION_REQUESTED.
RUNNING = (
    pb.PRESERVATION_ORDER_STATE_ISSUED,
    pb.PRESERVATION_ORDER_STATE_CONFIRMED,
    pb.PRESERVATION_ORDER_STATE_EXTENDED,
    pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED,
    # An EPOC-PR's 60 days run on while the enforcing state decides (EPOC_PR_CLOCK_RUNS_DURING_ENFORCEMENT).
    pb.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT,
)

Version = Annotated[
    int,
    typer.Option(
        "--expected-version", metavar="N", help="Fail (ABORTED) unless the order is still at this version; 0: no check."
    ),
]
OrderId = Annotated[str, typer.Argument(metavar="ID", help="Full order id (UUID).", show_default=False)]


# ------------------------------------------------------------------ helpers (pure)


def _enum(prefix: str, label: str) -> str:
    return prefix + label.upper().replace("-", "_")


def _ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _uuid(value: str, hint: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a full UUID", param_hint=hint) from None


def target(value: str) -> pb.TargetIdentifier:
    """``handle:@x``, ``url:https://...``, ``phone:+353...``, ``email:a@b`` -> TargetIdentifier."""
    kind, sep, ident = value.partition(":")
    if not sep or kind not in TARGET_KINDS:
        hint = f"{value!r}: use KIND:VALUE with KIND one of {', '.join(TARGET_KINDS)}"
        raise typer.BadParameter(hint, param_hint="--target")
    return pb.TargetIdentifier(kind=TARGET_KINDS[kind], value=ident)


def state_label(value: int) -> str:
    return enum_label(pb.PreservationOrderState, value, "PRESERVATION_ORDER_STATE_")


def basis_label(value: int) -> str:
    return enum_label(pb.LegalBasis, value, "LEGAL_BASIS_")


def _when(ts: timestamp_pb2.Timestamp, present: bool) -> dt.datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if present else None


def time_left_cell(order: pb.PreservationOrder, now: dt.datetime) -> Text:
    if not order.HasField("expires_at"):
        kept = order.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED
        return Text("until production" if kept else "-", style="dim")
    expires = order.expires_at.ToDatetime(tzinfo=UTC)
    left = expires - now
    style = "red" if left < dt.timedelta(days=2) else "yellow" if left < dt.timedelta(days=7) else ""
    return Text(time_left_words(expires, now), style=style)


#: After an order's issuer taken out of the workspace (``issuer_taken_out``, rule ORDER_ISSUER_TAKEN_OUT).
ISSUER_OUT = " (out: taken out of the JIT; this copy is no longer kept up to date)"


def orders_table(orders: Sequence[pb.PreservationOrder], now: dt.datetime, wide: bool = False) -> Table:
    """One row per order, in the order given (the service sorts by expiry, soonest first); the victims it
    concerns when any order names one."""
    victims = any(o.victim_refs for o in orders)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "PROVIDER", "BASIS", "STATE", "EXPIRES", "TIME LEFT", "EXTEND BY", "FROM"):
        table.add_column(column)
    if victims:
        table.add_column("VICTIMS")
    for o in orders:
        expires = _when(o.expires_at, o.HasField("expires_at"))
        deadline = _when(o.extension_deadline, o.HasField("extension_deadline"))
        state = state_label(o.state) + (" (unconfirmed!)" if o.confirmation_overdue else "")
        if o.user_notice_suppression_lapsed:
            state += " (notice suppression lapsed!)"
        table.add_row(
            o.id if wide else short_id(o.id),
            o.provider_id,
            basis_label(o.legal_basis),
            state,
            format_instant(expires) if expires else "-",
            time_left_cell(o, now),
            format_instant(deadline) if deadline else "-",
            o.origin_jurisdiction + (" (out)" if o.issuer_taken_out else ""),
            *([victims_label(o.victim_refs) or "-"] if victims else []),
        )
    return table


#: An order waits for the enforcing state's decision while IN_ENFORCEMENT, or PRODUCTION_REQUESTED from there
#: (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION), as the service's ``domain.enforcement_pending``.
ENFORCEMENT_PENDING = (pb.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT, pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED)


def enforcement_due(o: pb.PreservationOrder) -> dt.datetime | None:
    """When the enforcing state's 5 working days to decide end (``jitlib.periods.enforcement_decision_due``, the
    service's count), while the order waits for its decision; None otherwise."""
    if o.state not in ENFORCEMENT_PENDING or not o.enforcing_jurisdiction or o.HasField("enforcement_decided_at"):
        return None
    if not o.HasField("enforcement_requested_at"):
        return None
    return enforcement_decision_due(o.enforcement_requested_at.ToDatetime(tzinfo=UTC), o.enforcing_jurisdiction)


def enforcement_deadline_text(o: pb.PreservationOrder, now: dt.datetime) -> str | None:
    """The enforcing state's deadline as shown: in UTC, in that state's own time (its calendar counts it),
    the time left and the rule's source; None when none runs (``enforcement_due``)."""
    due = enforcement_due(o)
    if due is None:
        return None
    zone = jurisdictions.zone(o.enforcing_jurisdiction)
    local = ""
    if zone:
        local = f", {o.enforcing_jurisdiction}: {due.astimezone(zone).strftime('%Y-%m-%d %H:%M')} {zone.key}"
    left = f"OVERDUE, {time_left_words(due, now)}" if due <= now else f"{time_left_words(due, now)} left"
    source = legal.source("EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS")
    return f"{format_instant(due)}{local} (5 working days), {left} ({source})"


def enforcement_text(o: pb.PreservationOrder) -> str:
    """The enforcement of an EPOC-PR as shown: where and when it was transferred, and the enforcing state's
    decision (Reg. (EU) 2023/1543 Art. 16)."""
    received = format_instant(o.enforcement_requested_at.ToDatetime(tzinfo=UTC))
    text = f"transferred to {o.enforcing_jurisdiction} {received} (Reg. (EU) 2023/1543 Art. 16)"
    if not o.HasField("enforcement_decided_at"):
        if o.state in ENFORCEMENT_PENDING:
            return f"{text}; its recognition decision is awaited"
        return f"{text}; no recognition decision was recorded before the order ended"
    decided = format_instant(o.enforcement_decided_at.ToDatetime(tzinfo=UTC))
    if o.enforcement_refusal_ground:
        ground = enum_label(pb.EnforcementRefusalGround, o.enforcement_refusal_ground, "ENFORCEMENT_REFUSAL_GROUND_")
        return f"{text}; recognition refused {decided}: {ground} (Art. 16(4))"
    return f"{text}; recognised {decided}: the provider is required to preserve"


def order_detail(o: pb.PreservationOrder, now: dt.datetime) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    visibility = "workspace" if o.visibility == common_pb2.VISIBILITY_WORKSPACE else "restricted"
    targets = join_nonempty(f"{enum_label(pb.TargetKind, t.kind, 'TARGET_KIND_')}:{t.value}" for t in o.targets)
    categories = join_nonempty(enum_label(pb.DataCategory, c, "DATA_CATEGORY_") for c in o.data_categories)
    rows: list[tuple[str, Any]] = [
        ("id", o.id),
        ("workspace", o.workspace_id),
        ("state", state_label(o.state) + (" (confirmation overdue)" if o.confirmation_overdue else "")),
        ("legal basis", basis_label(o.legal_basis)),
        ("provider", o.provider_id),
        ("targets", targets),
        ("data", categories),
        *([("victims", victims_label(o.victim_refs))] if o.victim_refs else []),
        ("issued by", o.origin_jurisdiction + (ISSUER_OUT if o.issuer_taken_out else "")),
        ("user notice", user_notice_text(o, pb.UserNoticeStatus)),
        ("visibility", visibility + (f", shared with {', '.join(o.shared_with)}" if o.shared_with else "")),
    ]
    if o.HasField("replica"):
        rows.append(("replica", replica_note(o)))
    rows += instant_rows(
        o,
        (
            ("issued", "issued_at"),
            ("received", "received_at"),
            ("confirmed", "confirmed_at"),
            ("expires", "expires_at"),
            ("extend by", "extension_deadline"),
            ("produced", "produced_at"),
        ),
    )
    if o.HasField("expires_at") or o.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED:
        rows.append(("time left", time_left_cell(o, now)))
    if o.HasField("clock_stopped_at"):
        stopped = format_instant(o.clock_stopped_at.ToDatetime(tzinfo=UTC))
        left = duration_words(dt.timedelta(seconds=o.clock_remaining_seconds))
        rows.append(("clock stopped", f"{stopped}, {left} left (given back if production fails)"))
    if o.extension_count:
        rows.append(("extensions", str(o.extension_count)))
    if o.follow_up_request_id:
        rows.append(("evidence request", o.follow_up_request_id))
    if o.provider_reference:
        rows.append(("provider ref", o.provider_reference))
    if o.not_executed_reason:
        rows.append(("not executed", enum_label(pb.NotExecutedReason, o.not_executed_reason, "NOT_EXECUTED_REASON_")))
    if o.enforcing_jurisdiction:
        rows.append(("enforcement", enforcement_text(o)))
        deadline = enforcement_deadline_text(o, now)
        if deadline:
            rows.append(("deadline enforcement", deadline))
    if o.state_reason:
        rows.append(("reason", o.state_reason))
    if o.description:
        rows.append(("description", o.description))
    rows.append(("version", str(o.version)))
    for label, value in rows:
        table.add_row(label, value)
    return table


# ------------------------------------------------------------------ calls


_state = app_state


def _call(ctx: typer.Context, method: str, request: Any) -> Any:
    return _state(ctx).call("preservation", preservation_pb2_grpc.PreservationServiceStub, method, request)


def _show(ctx: typer.Context, order: pb.PreservationOrder) -> None:
    if _state(ctx).json:
        emit_json(message_dict(order))
    else:
        emit(order_detail(order, dt.datetime.now(UTC)))
        emit(allowed_line(order.allowed_actions))


def _run(ctx: typer.Context, method: str, request: Any) -> None:
    _show(ctx, _call(ctx, method, request).order)


def _instant(value: str | None, option: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _list(ctx: typer.Context, req: pb.ListOrdersRequest, all_pages: bool, wide: bool, empty: str) -> None:
    now = dt.datetime.now(UTC)
    orders: list[pb.PreservationOrder] = []
    while True:
        resp = _call(ctx, "ListOrders", req)
        orders.extend(resp.orders)
        if not (all_pages and resp.next_page_token):
            break
        req.page_token = resp.next_page_token
    if _state(ctx).json:
        emit_json({"orders": [message_dict(o) for o in orders], "next_page_token": resp.next_page_token})
        return
    if orders:
        emit(orders_table(orders, now, wide=wide))
    else:
        note(empty)
    if resp.next_page_token:
        note(f"more orders: add --all, or --page-token {resp.next_page_token}")


# ------------------------------------------------------------------ commands


@app.command()
def providers(ctx: typer.Context) -> None:
    """The provider register: establishment, legal representative, channel, period and extension rule."""
    resp = _call(ctx, "ListProviders", pb.ListProvidersRequest())
    if _state(ctx).json:
        emit_json({"providers": [message_dict(p) for p in resp.providers]})
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAME", "EST.", "LEGAL REPRESENTATIVE", "CHANNEL", "DAYS", "EXTENSION"):
        table.add_column(column)
    for p in resp.providers:
        if p.extension_days:
            limit = f", at most {p.max_extensions}" if p.max_extensions else ""
            rule = f"+{p.extension_days} d, asked >= {p.extension_min_notice_days} d before expiry{limit}"
        else:
            rule = "none"
        table.add_row(
            p.id,
            p.name,
            p.establishment_jurisdiction,
            p.legal_representative,
            p.preferred_channel,
            str(p.preservation_period_days),
            rule,
        )
    emit(table)


@app.command()
def create(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Workspace id, e.g. jit-demo.")],
    provider: Annotated[str, typer.Option("--provider", "-p", metavar="ID", help="Provider id (see `providers`).")],
    basis: Annotated[Basis, typer.Option("--basis", "-b", help="Legal basis of the order.")],
    target_values: Annotated[
        list[str],
        typer.Option("--target", metavar="KIND:VALUE", help="handle:@x, url:https://..., phone:+353..., email:a@b."),
    ],
    data: Annotated[list[Category], typer.Option("--data", help="Data categories to preserve.")],
    description: Annotated[str, typer.Option("--description", "-d", metavar="TEXT", help="What it is about.")] = "",
    workspace_visible: Annotated[
        bool, typer.Option("--workspace-visible", help="Visible to every member (default: only the parties).")
    ] = False,
    share: Annotated[
        list[str] | None,
        typer.Option("--share", metavar="JUR", help="Also share a restricted order with this jurisdiction."),
    ] = None,
    victim: Annotated[
        list[str] | None,
        typer.Option(
            "--victim",
            metavar="PSEUDONYM",
            help="A victim the order concerns, by pseudonym (V-NL-0007; repeat for several). Name the victim "
            "here, never in the description.",
        ),
    ] = None,
    notice: Annotated[
        UserNotice | None,
        typer.Option(
            "--notice",
            help="The provider's notice to the account holder (default pending); suppressed needs --suppressed-until.",
        ),
    ] = None,
    suppressed_until: Annotated[
        str | None,
        typer.Option(
            "--suppressed-until", metavar="TIME", help="End of the non-disclosure order (with --notice suppressed)."
        ),
    ] = None,
    issue: Annotated[bool, typer.Option("--issue", help="Issue it right away (else it stays a draft).")] = False,
    request_id: Annotated[
        str | None,
        typer.Option("--request-id", metavar="UUID", help="Idempotency key (UUID); default: a fresh one."),
    ] = None,
) -> None:
    """Create a preservation order (a draft, or issued with --issue); your jurisdiction issues it."""
    req = pb.CreateOrderRequest(
        request_id=_uuid(request_id, "--request-id") if request_id else str(uuid.uuid4()),
        workspace_id=workspace,
        legal_basis=_enum("LEGAL_BASIS_", basis.value),
        provider_id=provider,
        targets=[target(v) for v in target_values],
        data_categories=[_enum("DATA_CATEGORY_", c.value) for c in data],
        description=description,
        visibility=common_pb2.VISIBILITY_WORKSPACE if workspace_visible else common_pb2.VISIBILITY_RESTRICTED,
        shared_with=[s.upper() for s in share or []],
        victim_refs=victim_refs(victim),
        user_notice_status=_enum("USER_NOTICE_STATUS_", notice.value) if notice else "USER_NOTICE_STATUS_UNSPECIFIED",
    )
    until = _instant(suppressed_until, "--suppressed-until")
    if until is not None:
        req.user_notice_suppressed_until.CopyFrom(_ts(until))
    order = _call(ctx, "CreateOrder", req).order
    if issue and order.state == pb.PRESERVATION_ORDER_STATE_DRAFT:
        order = _call(ctx, "IssueOrder", pb.IssueOrderRequest(id=order.id, expected_version=order.version)).order
    _show(ctx, order)


@app.command("list")
def list_orders(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Only this workspace.")] = "",
    state: Annotated[list[State] | None, typer.Option("--state", "-s", help="Only these states.")] = None,
    provider: Annotated[str, typer.Option("--provider", "-p", metavar="ID", help="Only this provider.")] = "",
    expires_before: Annotated[
        str | None, typer.Option("--expires-before", metavar="TIME", help="Only orders expiring before this.")
    ] = None,
    expires_after: Annotated[
        str | None, typer.Option("--expires-after", metavar="TIME", help="Only orders expiring after this.")
    ] = None,
    unconfirmed: Annotated[
        bool, typer.Option("--unconfirmed", help="Only issued orders the provider has not confirmed in time.")
    ] = False,
    victim: Annotated[
        str, typer.Option("--victim", metavar="PSEUDONYM", help="Only orders concerning this victim (V-NL-0007).")
    ] = "",
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=200, help="Orders per page.")] = 50,
    page_token: Annotated[str, typer.Option("--page-token", metavar="TOKEN", help="Continue a listing.")] = "",
    all_pages: Annotated[bool, typer.Option("--all", help="Follow next_page_token to the end.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show full order ids.")] = False,
) -> None:
    """List the orders you may see, soonest expiry first."""
    req = pb.ListOrdersRequest(
        workspace_id=workspace,
        states=[_enum("PRESERVATION_ORDER_STATE_", s.value) for s in state or []],
        provider_id=provider,
        confirmation_overdue_only=unconfirmed,
        victim_ref=victim.strip().upper(),
        page_size=page_size,
        page_token=page_token,
    )
    before, after = _instant(expires_before, "--expires-before"), _instant(expires_after, "--expires-after")
    if before:
        req.expires_before.CopyFrom(_ts(before))
    if after:
        req.expires_after.CopyFrom(_ts(after))
    _list(ctx, req, all_pages, wide, "no preservation orders")


@app.command()
def due(
    ctx: typer.Context,
    within: Annotated[str, typer.Option("--within", metavar="DURATION", help="e.g. 7d, 48h, 2w.")] = "7d",
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Only this workspace.")] = "",
    provider: Annotated[str, typer.Option("--provider", "-p", metavar="ID", help="Only this provider.")] = "",
    wide: Annotated[bool, typer.Option("--wide", help="Show full order ids.")] = False,
) -> None:
    """Orders whose clock runs (issued, confirmed, extended, or production requested where the clock goes on)
    expiring within DURATION, soonest first, with time left."""
    try:
        window = parse_duration(within)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--within") from None
    req = pb.ListOrdersRequest(workspace_id=workspace, states=list(RUNNING), provider_id=provider, page_size=200)
    req.expires_before.CopyFrom(_ts(dt.datetime.now(UTC) + window))
    _list(ctx, req, True, wide, f"no order expires within {within}")


@app.command()
def show(ctx: typer.Context, id: OrderId) -> None:
    """Show one order with all its fields."""
    _run(ctx, "GetOrder", pb.GetOrderRequest(id=_uuid(id, "ID")))


@app.command("issue")
def issue_order(
    ctx: typer.Context,
    id: OrderId,
    issued_at: Annotated[
        str | None, typer.Option("--issued-at", metavar="TIME", help="When it was sent (default: now).")
    ] = None,
    received_at: Annotated[
        str | None,
        typer.Option("--received-at", metavar="TIME", help="When the provider received it (default: when sent)."),
    ] = None,
    expected_version: Version = 0,
) -> None:
    """Record that a draft order was sent to the provider. EPOC-PR, Budapest Art. 29 and national clocks
    start at its receipt."""
    req = pb.IssueOrderRequest(id=_uuid(id, "ID"), expected_version=expected_version)
    when = _instant(issued_at, "--issued-at")
    if when:
        req.issued_at.CopyFrom(_ts(when))
    received = _instant(received_at, "--received-at")
    if received:
        req.received_at.CopyFrom(_ts(received))
    _run(ctx, "IssueOrder", req)


@app.command()
def confirm(
    ctx: typer.Context,
    id: OrderId,
    confirmed_at: Annotated[
        str | None, typer.Option("--confirmed-at", metavar="TIME", help="When the provider preserved (default: now).")
    ] = None,
    reference: Annotated[str, typer.Option("--reference", metavar="TEXT", help="The provider's reference.")] = "",
    received_at: Annotated[
        str | None,
        typer.Option("--received-at", metavar="TIME", help="When the provider says it received the order."),
    ] = None,
    expected_version: Version = 0,
) -> None:
    """Record the provider's confirmation. A provider's voluntary preservation's clock starts here; the
    other bases' clocks run from receipt (--received-at counts them again from the stated receipt)."""
    req = pb.ConfirmOrderRequest(id=_uuid(id, "ID"), expected_version=expected_version, provider_reference=reference)
    when = _instant(confirmed_at, "--confirmed-at")
    if when:
        req.confirmed_at.CopyFrom(_ts(when))
    received = _instant(received_at, "--received-at")
    if received:
        req.received_at.CopyFrom(_ts(received))
    _run(ctx, "ConfirmOrder", req)


@app.command()
def extend(ctx: typer.Context, id: OrderId, expected_version: Version = 0) -> None:
    """Extend the preservation, if its legal basis and the provider allow it now."""
    _run(ctx, "ExtendOrder", pb.ExtendOrderRequest(id=_uuid(id, "ID"), expected_version=expected_version))


@app.command("production-requested")
def production_requested(
    ctx: typer.Context,
    id: OrderId,
    evidence_request: Annotated[
        str, typer.Option("--evidence-request", metavar="UUID", help="The evidence request asking for production.")
    ],
    expected_version: Version = 0,
) -> None:
    """Record that production was requested: preserved until production, no expiry."""
    req = pb.MarkProductionRequestedRequest(
        id=_uuid(id, "ID"),
        expected_version=expected_version,
        follow_up_request_id=_uuid(evidence_request, "--evidence-request"),
    )
    _run(ctx, "MarkProductionRequested", req)


@app.command()
def produced(ctx: typer.Context, id: OrderId, expected_version: Version = 0) -> None:
    """Record that the data was produced."""
    _run(ctx, "MarkProduced", pb.MarkProducedRequest(id=_uuid(id, "ID"), expected_version=expected_version))


@app.command()
def lift(
    ctx: typer.Context,
    id: OrderId,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why it is no longer needed.")],
    expected_version: Version = 0,
) -> None:
    """Lift an order that is no longer needed."""
    _run(ctx, "LiftOrder", pb.LiftOrderRequest(id=_uuid(id, "ID"), expected_version=expected_version, reason=reason))


@app.command("not-executed")
def not_executed(
    ctx: typer.Context,
    id: OrderId,
    reason: Annotated[NotExecuted, typer.Option("--reason", help="The provider's reason (Annex III).")],
    details: Annotated[str, typer.Option("--details", metavar="TEXT", help="What the provider said.")] = "",
    expected_version: Version = 0,
) -> None:
    """Record that the provider could not preserve, with its reason."""
    req = pb.RecordNotExecutedRequest(
        id=_uuid(id, "ID"),
        expected_version=expected_version,
        reason=_enum("NOT_EXECUTED_REASON_", reason.value),
        details=details,
    )
    _run(ctx, "RecordNotExecuted", req)


@app.command("user-notice")
def user_notice(
    ctx: typer.Context,
    id: OrderId,
    status: Annotated[UserNotice, typer.Option("--status", help="The provider's notice to the account holder.")],
    until: Annotated[
        str | None, typer.Option("--until", metavar="TIME", help="End of the non-disclosure order (with suppressed).")
    ] = None,
    expected_version: Version = 0,
) -> None:
    """Issuer's prosecutor: the provider's notice to the account holder (pending, suppressed by a
    non-disclosure order until a date, sent); renew a suppression before it lapses."""
    req = pb.UpdateUserNoticeRequest(
        id=_uuid(id, "ID"), expected_version=expected_version, status=_enum("USER_NOTICE_STATUS_", status.value)
    )
    when = _instant(until, "--until")
    if when is not None:
        req.suppressed_until.CopyFrom(_ts(when))
    _run(ctx, "UpdateUserNotice", req)


@app.command("transfer-enforcement")
def transfer_enforcement(
    ctx: typer.Context,
    id: OrderId,
    enforcing: Annotated[
        str,
        typer.Option(
            "--enforcing-jurisdiction",
            metavar="CODE",
            help="The enforcing state; default: the provider's establishment in the register.",
        ),
    ] = "",
    note_: Annotated[str, typer.Option("--note", metavar="TEXT", help="Why the order is enforced.")] = "",
    expected_version: Version = 0,
) -> None:
    """Issuer's prosecutor: an EPOC-PR the provider did not comply with (unconfirmed past the node's delay, or
    recorded not executed) -> IN_ENFORCEMENT; the enforcing state decides within 5 of its working days
    (Reg. (EU) 2023/1543 Art. 16)."""
    req = pb.TransferForEnforcementRequest(
        id=_uuid(id, "ID"), expected_version=expected_version, enforcing_jurisdiction=enforcing.upper(), note=note_
    )
    _run(ctx, "TransferForEnforcement", req)


@app.command("recognise-enforcement")
def recognise_enforcement(
    ctx: typer.Context,
    id: OrderId,
    note_: Annotated[str, typer.Option("--note", metavar="TEXT")] = "",
    expected_version: Version = 0,
) -> None:
    """Enforcing state's prosecutor: recognise the transferred order, the provider is required to preserve ->
    ISSUED; its confirmation is recorded as before (Art. 16(3))."""
    req = pb.RecogniseEnforcementRequest(id=_uuid(id, "ID"), expected_version=expected_version, note=note_)
    _run(ctx, "RecogniseEnforcement", req)


@app.command("refuse-enforcement")
def refuse_enforcement(
    ctx: typer.Context,
    id: OrderId,
    ground: Annotated[EnforcementGround, typer.Option("--ground", help="A ground of Art. 16(4).")],
    detail: Annotated[str, typer.Option("--detail", metavar="TEXT", help="The facts behind the ground.")] = "",
    expected_version: Version = 0,
) -> None:
    """Enforcing state's prosecutor: refuse recognition on a ground of Reg. (EU) 2023/1543 Art. 16(4) ->
    NOT_ENFORCED."""
    req = pb.RefuseEnforcementRequest(
        id=_uuid(id, "ID"),
        expected_version=expected_version,
        ground=_enum("ENFORCEMENT_REFUSAL_GROUND_", ground.value),
        detail=detail,
    )
    _run(ctx, "RefuseEnforcement", req)
