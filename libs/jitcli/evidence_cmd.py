"""``jit evidence ...``: evidence requests (EIO, MLA, EPOC, SAP Art. 7, voluntary, JIT direct) and the
evidence items received against them.

``jit evidence request create | list | show | <transition>``; ``jit evidence upload FILE --request ID``,
``jit evidence download ITEM --out FILE --purpose TEXT``, ``jit evidence items --request ID``,
``jit evidence custody ITEM``, ``jit evidence verify`` (auditors); sensitive items: ``jit evidence upload
--sensitive``, ``jit evidence item mark-sensitive | unmark-sensitive | export-request | export-approve``.
Who may do what is decided by the evidence service (JIT_EVIDENCE_ADDR, default 127.0.0.1:50052).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import mimetypes
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import grpc
import typer
from google.protobuf import timestamp_pb2
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from jit.evidence.v1 import evidence_pb2_grpc
from jitcli.files import file_sha256
from jitcli.render import (
    CliError,
    ServiceCallError,
    UserNotice,
    allowed_line,
    console,
    emit,
    emit_json,
    message_dict,
    note,
    parse_instant,
    replica_note,
    victim_refs,
    victims_label,
)
from jitcli.render import user_notice_text as render_user_notice
from jitcli.session import AppState, app_state
from jitlib import legal, wire

app = typer.Typer(help="Evidence requests and the evidence items received against them.", no_args_is_help=True)
request_app = typer.Typer(help="Evidence requests: create, list, show, and move them through their states.")
app.add_typer(request_app, name="request", no_args_is_help=True)
item_app = typer.Typer(
    help="Evidence items: mark sensitive ones (intimate images and the like), export them with a second "
    "person's approval, and record your state's consent to another use of an item that arose there."
)
app.add_typer(item_app, name="item", no_args_is_help=True)

CHUNK = 1024 * 1024
TRANSFER_TIMEOUT_S = 3600.0
_SERVICE = pb.DESCRIPTOR.services_by_name["EvidenceService"].full_name
#: ``chunk`` in UploadItemRequest and DownloadItemResponse alike.
_CHUNK_FIELD = pb.UploadItemRequest.DESCRIPTOR.fields_by_name["chunk"].number


def upload_call(channel: grpc.Channel) -> grpc.StreamUnaryMultiCallable:
    """UploadItem taking its messages already serialized (``upload_messages``)."""
    return channel.stream_unary(
        f"/{_SERVICE}/UploadItem", request_serializer=None, response_deserializer=pb.UploadItemResponse.FromString
    )


def upload_messages(meta: pb.ItemMetadata, fh: io.RawIOBase) -> Iterator[bytes]:
    """UploadItem's messages, serialized: the metadata, then the file's bytes in chunks of at most ``CHUNK``,
    each read behind its field header into one reused buffer and sent from there (``jitlib.wire``: the same
    bytes as ``UploadItemRequest(chunk=...)`` serialized, without copying each MiB into a message and out)."""
    yield pb.UploadItemRequest(metadata=meta).SerializeToString()
    buffer = memoryview(bytearray(wire.HEADER_MAX + CHUNK))
    while n := fh.readinto(buffer[wire.HEADER_MAX :]):
        header = wire.bytes_field_header(_CHUNK_FIELD, n)
        start = wire.HEADER_MAX - len(header)
        buffer[start : wire.HEADER_MAX] = header
        yield bytes(buffer[start : wire.HEADER_MAX + n])


def _download_message(raw: bytes) -> pb.DownloadItemResponse | memoryview:
    view = wire.bytes_field_view(raw, _CHUNK_FIELD)
    return view if view is not None else pb.DownloadItemResponse.FromString(raw)


def receive_item(
    messages: Iterable[pb.DownloadItemResponse | memoryview],
    fh: BinaryIO,
    on_item: Callable[[pb.EvidenceItem], object] = lambda _item: None,
    on_chunk: Callable[[int], object] = lambda _n: None,
) -> tuple[pb.EvidenceItem | None, str]:
    """Write a download's chunks (``download_call``'s answers) into ``fh`` as they arrive, hashing each;
    (the item its answer names, the SHA-256 of the bytes written, in hex). The hash stays on this thread:
    on a second one, beside the writes and the receiving, it was no faster (bench/README.md, the evidence
    section's sixth pass)."""
    digest = hashlib.sha256()
    item: pb.EvidenceItem | None = None
    for msg in messages:
        if isinstance(msg, pb.DownloadItemResponse) and msg.WhichOneof("part") == "item":
            item = msg.item
            on_item(item)
            continue
        # A chunk: a view of the received bytes (a chunk message in another form is parsed: read its field
        # once, each read of a bytes field is a copy).
        chunk = msg if isinstance(msg, memoryview) else msg.chunk
        fh.write(chunk)
        digest.update(chunk)
        on_chunk(len(chunk))
    return item, digest.hexdigest()


def download_call(channel: grpc.Channel) -> grpc.UnaryStreamMultiCallable:
    """DownloadItem answering each chunk as a read-only view of the received bytes (no message parsed, no
    copy), and the item as a ``DownloadItemResponse``."""
    return channel.unary_stream(
        f"/{_SERVICE}/DownloadItem",
        request_serializer=pb.DownloadItemRequest.SerializeToString,
        response_deserializer=_download_message,
    )


class Basis(StrEnum):
    eio = "eio"
    mla = "mla"
    epoc = "epoc"
    sap_art7 = "sap-art7"
    voluntary = "voluntary"
    jit_direct = "jit-direct"


class Procedure(StrEnum):
    standard = "standard"
    with_notification = "with-notification"
    emergency = "emergency"
    emergency_with_notification = "emergency-with-notification"


class Offence(StrEnum):
    cyberstalking = "cyberstalking"
    cyberharassment = "cyberharassment"
    non_consensual_intimate_images = "non-consensual-intimate-images"
    doxxing = "doxxing"
    incitement = "incitement"
    other = "other"


class Urgency(StrEnum):
    normal = "normal"
    urgent = "urgent"
    emergency = "emergency"


class Category(StrEnum):
    subscriber = "subscriber"
    traffic = "traffic"
    content = "content"


#: Every ground for refusal, of any instrument; which belong to which instrument is ``legal.REFUSAL_GROUNDS``
#: (the service refuses a ground of another instrument, naming the field).
Ground = StrEnum(  # type: ignore[misc]
    "Ground",
    {
        g.lower(): g.lower().replace("_", "-")
        for g in dict.fromkeys(g for grounds in legal.REFUSAL_GROUNDS.values() for g in grounds)
    },
)

#: The grounds on which the enforcing state refuses to recognise a transferred EPOC (Reg. (EU) 2023/1543 Art.
#: 16(4), ``legal.ENFORCEMENT_REFUSAL_GROUNDS``).
EnforcementGround = StrEnum(  # type: ignore[misc]
    "EnforcementGround", {g.lower(): g.lower().replace("_", "-") for g in legal.ENFORCEMENT_REFUSAL_GROUNDS}
)

#: The listed offence categories an EPOC (Annex IV) or an EIO (Annex D) may indicate (``legal.LISTED_OFFENCES``).
ListedOffence = StrEnum(  # type: ignore[misc]
    "ListedOffence", {o.lower(): o.lower().replace("_", "-") for o in legal.LISTED_OFFENCES}
)

_INSTRUMENTS = {
    "EIO": f"EIO ({legal.EIO})",
    "MLA": f"MLA ({legal.MLA_1959})",
    "EPOC": f"EPOC with notification ({legal.EPOC})",
    "JIT_DIRECT": "JIT direct (no instrument)",
}


def _article(source: str) -> str:
    """A ground's source without its instrument's name (shown under the instrument)."""
    out = source.removeprefix("UNVERIFIED: ").removeprefix("GUESS: ")
    for name in (legal.EIO, legal.EPOC, legal.MLA_1959):
        out = out.replace(name + " ", "")
    return out


def grounds_help() -> str:
    """The help of ``refuse``: each instrument's grounds for refusal, with the article each rests on."""
    parts = ["Reviewing side: -> REFUSED with a ground of the request's instrument (another is refused):"]
    for basis, grounds in legal.REFUSAL_GROUNDS.items():
        listed = ", ".join(
            f"{g.lower().replace('_', '-')} ({_article(legal.source(f'{basis}_REFUSAL_{g}'))})" for g in grounds
        )
        parts.append(f"{_INSTRUMENTS.get(basis, basis)}: {listed}.")
    return "\n\n".join(parts)


class NonExecution(StrEnum):
    incomplete = "incomplete"
    manifest_errors = "manifest-errors"
    insufficient_information = "insufficient-information"
    data_not_held = "data-not-held"
    de_facto_impossible = "de-facto-impossible"
    invalid_issuing_authority = "invalid-issuing-authority"
    offence_not_covered = "offence-not-covered"
    service_not_covered = "service-not-covered"
    immunities = "immunities"
    conflict_of_law = "conflict-of-law"
    other = "other"


Notice = UserNotice


class CustodyKind(StrEnum):
    exported = "exported"
    transferred = "transferred"
    sealed = "sealed"


TARGET_TYPES = {"account": "ACCOUNT_HANDLE", "url": "URL", "phone": "PHONE_NUMBER", "email": "EMAIL"}
PROVIDER_BASES = {Basis.epoc, Basis.sap_art7, Basis.voluntary}

RequestId = Annotated[str, typer.Argument(metavar="ID", help="Full evidence request id (UUID).", show_default=False)]
Version = Annotated[
    int, typer.Option("--expected-version", metavar="N", help="Fail (ABORTED) unless still at this version.")
]
Note = Annotated[str, typer.Option("--note", metavar="TEXT", help="Recorded on the request.")]
Reason = Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why; recorded on the request.")]
Categories = Annotated[
    list[Category] | None,
    typer.Option("--data", help="Only these of the request's data categories (repeat); default: all still open."),
]


def _categories(data: list[Category] | None) -> list[str]:
    return [_enum("DATA_CATEGORY_", c.value) for c in data or []]


def _enum(prefix: str, label: str) -> str:
    return prefix + label.upper().replace("-", "_")


def _label(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower().replace("_", "-")
    except ValueError:
        return str(value)


def _ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _uuid(value: str, hint: str = "ID") -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a full id (UUID)", param_hint=hint) from None


def target(value: str) -> pb.TargetIdentifier:
    """``account:@name[@platform]``, ``url:https://...``, ``phone:+31...``, ``email:a@b``."""
    kind, _, rest = value.partition(":")
    if kind not in TARGET_TYPES or not rest:
        raise typer.BadParameter(
            f"{value!r}: use TYPE:VALUE with TYPE one of {', '.join(TARGET_TYPES)}", param_hint="--target"
        )
    platform = ""
    if kind == "account" and "@" in rest[1:]:
        rest, _, platform = rest.rpartition("@")
    return pb.TargetIdentifier(type=_enum("TARGET_TYPE_", TARGET_TYPES[kind]), value=rest, platform=platform)


_state = app_state


def _call(ctx: typer.Context, method: str, request: Any, timeout: float | None = None) -> Any:
    kw = {"timeout": timeout} if timeout else {}
    return _state(ctx).call("evidence", evidence_pb2_grpc.EvidenceServiceStub, method, request, **kw)


def _when(ts: timestamp_pb2.Timestamp) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return ts.ToDatetime(tzinfo=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def user_notice_text(r: pb.EvidenceRequest) -> str:
    """The request's user notice as shown (``jitcli.render.user_notice_text``)."""
    return render_user_notice(r, pb.UserNoticeStatus)


def listed_offence_text(r: pb.EvidenceRequest) -> str:
    """The listed offence the issuer indicated, with its annex and the maximum sentence in the issuing state,
    and whether NO_DOUBLE_CRIMINALITY is therefore no ground for refusing the request."""
    basis = pb.LegalBasis.Name(r.legal_basis).removeprefix("LEGAL_BASIS_")
    annex = legal.LISTED_OFFENCE_ANNEX.get(basis, "annex")
    offence = _label(pb.ListedOffence, r.listed_offence, "LISTED_OFFENCE_")
    text = f"{annex}: {offence}, max {r.max_sentence_months} months"
    listed = pb.ListedOffence.Name(r.listed_offence).removeprefix("LISTED_OFFENCE_") if r.listed_offence else ""
    if rule := legal.double_criminality_exception(basis, listed, r.max_sentence_months):
        text += f" (not refused for lack of double criminality: {legal.source(rule)})"
    return text


def enforcement_text(r: pb.EvidenceRequest) -> str:
    """The enforcement of an EPOC as shown: where and when it was transferred, and the enforcing state's
    decision (Reg. (EU) 2023/1543 Art. 16)."""
    text = (
        f"transferred to {r.enforcing_jurisdiction} {_when(r.enforcement_requested_at)} (Reg. (EU) 2023/1543 Art. 16)"
    )
    if not r.HasField("enforcement_decided_at"):
        return text + "; its recognition decision is awaited"
    if r.enforcement_refusal_ground:
        ground = _label(pb.EnforcementRefusalGround, r.enforcement_refusal_ground, "ENFORCEMENT_REFUSAL_GROUND_")
        return f"{text}; recognition refused {_when(r.enforcement_decided_at)}: {ground} (Art. 16(4))"
    recognised = f"{text}; recognised {_when(r.enforcement_decided_at)}: the provider is required to comply"
    if r.compliance_days:
        return f"{recognised} within {r.compliance_days} days (Art. 16(3))"
    return recognised


def refusal_text(basis: int, ground: int) -> str:
    """A ground for refusal as shown: its name, and the article it rests on under the request's instrument
    (a ground stored before the grounds were per instrument may have none)."""
    basis_name = _label(pb.LegalBasis, basis, "LEGAL_BASIS_").upper().replace("-", "_")
    ground_name = _label(pb.RefusalGround, ground, "REFUSAL_GROUND_")
    row = legal.refusal_rule(basis_name, ground_name.upper().replace("-", "_"))
    return f"{ground_name} ({row.source})" if row is not None else ground_name


def category_text(basis: int, o: pb.DataCategoryOutcome) -> str:
    """One requested data category and where it stands: open, executed, or refused (with its ground)."""
    name = _label(pb.DataCategory, o.category, "DATA_CATEGORY_")
    state = _label(pb.DataCategoryState, o.state, "DATA_CATEGORY_STATE_")
    if o.state == pb.DATA_CATEGORY_STATE_REFUSED:
        return f"{name}: refused, {refusal_text(basis, o.ground)}"
    return f"{name}: {state}"


#: After a request's issuer taken out of the workspace (``issuer_taken_out``, rule REQUEST_ISSUER_TAKEN_OUT).
ISSUER_OUT = " (out: taken out of the JIT; nobody acts on it as issuer, this copy is no longer kept up to date)"
#: After a direct exchange's addressee taken out (``addressee_taken_out``, rule REQUEST_ADDRESSEE_TAKEN_OUT).
ADDRESSEE_OUT = " (out: taken out of the JIT; the request no longer reaches it)"


def addressee_out_text(r: pb.EvidenceRequest) -> str:
    """What ``show`` adds after a direct exchange's addressee taken out of the JIT: with the withdrawal when
    the caller may withdraw it."""
    if not r.addressee_taken_out:
        return ""
    if "withdraw" in r.allowed_actions:
        return ADDRESSEE_OUT[:-1] + "; withdraw it: jit evidence request withdraw)"
    return ADDRESSEE_OUT


def request_detail(r: pb.EvidenceRequest) -> Table:
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    basis = _label(pb.LegalBasis, r.legal_basis, "LEGAL_BASIS_")
    if r.legal_basis == pb.LEGAL_BASIS_EPOC:
        basis += f" ({_label(pb.EpocProcedure, r.epoc_procedure, 'EPOC_PROCEDURE_')})"
    addressee = r.addressee_jurisdiction
    if r.provider_name:
        addressee = f"{r.provider_name} (established in {r.addressee_jurisdiction})"
    rows = [
        ("id", r.id),
        ("title", r.title),
        *([("victims", victims_label(r.victim_refs))] if r.victim_refs else []),
        ("state", _label(pb.EvidenceRequestState, r.state, "EVIDENCE_REQUEST_STATE_")),
        ("legal basis", basis),
        ("issued by", f"{r.origin_jurisdiction}, {r.issuing_authority}" + (ISSUER_OUT if r.issuer_taken_out else "")),
        ("addressed to", addressee + addressee_out_text(r)),
        ("offence", _label(pb.OffenceCategory, r.offence_category, "OFFENCE_CATEGORY_")),
        ("urgency", _label(pb.Urgency, r.urgency, "URGENCY_")),
        (
            "data",
            ", ".join(category_text(r.legal_basis, o) for o in r.category_outcomes)
            or ", ".join(_label(pb.DataCategory, c, "DATA_CATEGORY_") for c in r.data_categories),
        ),
        ("targets", ", ".join(f"{_label(pb.TargetType, x.type, 'TARGET_TYPE_')}:{x.value}" for x in r.targets)),
        ("visibility", "workspace" if r.visibility == common_pb2.VISIBILITY_WORKSPACE else "restricted to the parties"),
        ("user notice", user_notice_text(r)),
        *([("not notified because", r.notification_exemption_reason)] if r.notification_exemption_reason else []),
        *([("listed offence", listed_offence_text(r))] if r.listed_offence else []),
        ("version", str(r.version)),
        ("items", str(r.item_count)),
    ]
    if r.HasField("replica"):
        rows.append(("replica", replica_note(r)))
    if r.state_reason:
        rows.append(("reason", r.state_reason))
    if r.refusal_ground:
        rows.append(("refused on", refusal_text(r.legal_basis, r.refusal_ground)))
    if r.submission > 1:
        rows.append(("submission", f"{r.submission} (resubmitted after a refusal)"))
    for x in r.refusals:
        cats = ", ".join(_label(pb.DataCategory, c, "DATA_CATEGORY_") for c in x.data_categories)
        what = "refused" if x.whole else f"partly refused ({cats})"
        rows.append(
            (f"refusal {x.submission}", f"{what} {_when(x.refused_at)}: {refusal_text(r.legal_basis, x.ground)}")
        )
    if r.postponed_from:
        resumes = _label(pb.EvidenceRequestState, r.postponed_from, "EVIDENCE_REQUEST_STATE_")
        rows.append(("postponed", f"since {_when(r.postponed_at)}; resumes to {resumes}"))
    for d in r.deadlines:
        overdue = " OVERDUE" if d.overdue else ""
        # A notified delay's date is shown next to the legal deadline, which does not move.
        expected = f"; expected {_when(d.expected_at)} (notified delay)" if d.HasField("expected_at") else ""
        rows.append(
            (
                f"deadline {_label(pb.DeadlineKind, d.kind, 'DEADLINE_KIND_')}",
                f"{_when(d.due_at)}{overdue} ({d.source}){expected}",
            )
        )
    if r.HasField("items_restricted_at"):
        rows.append(
            (
                "items restricted",
                f"since {_when(r.items_restricted_at)}: the enforcing state objected within 96 hours; the items "
                "received until then are kept, not downloaded or exported (Reg. (EU) 2023/1543 Art. 10(4))",
            )
        )
    if r.enforcing_jurisdiction:
        rows.append(("enforcement", enforcement_text(r)))
    if r.HasField("delay"):
        dl = r.delay
        rows.append(
            (
                "delay notified",
                f"{_label(pb.DeadlineKind, dl.deadline, 'DEADLINE_KIND_')} expected {_when(dl.expected_at)}, "
                f"by {dl.notified_by.username} ({dl.notified_by.jurisdiction}) on {_when(dl.notified_at)}: "
                f"{dl.reason}",
            )
        )
    if r.preservation_order_id or r.linked_order.id:
        lo = r.linked_order
        state = lo.state_name.removeprefix("PRESERVATION_ORDER_STATE_").lower() if lo.id else "not replicated yet"
        rows.append(
            ("preservation order", f"{r.preservation_order_id or lo.id} ({state}, expires {_when(lo.expires_at)})")
        )
    for k, v in rows:
        t.add_row(k, v)
    return t


def _show(ctx: typer.Context, r: pb.EvidenceRequest) -> None:
    if _state(ctx).json:
        emit_json(message_dict(r))
    else:
        emit(request_detail(r))
        emit(allowed_line(r.allowed_actions))


def _transition(ctx: typer.Context, method: str, request: Any) -> None:
    _show(ctx, _call(ctx, method, request).request)


# ------------------------------------------------------------------ requests


@request_app.command("create")
def create(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Workspace id.")],
    basis: Annotated[Basis, typer.Option("--basis", help="Legal instrument.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="JUR",
            help="Addressed state (a member, or for an EIO, MLA or EPOC a state outside the JIT), or the "
            "provider's establishment state.",
        ),
    ],
    authority: Annotated[str, typer.Option("--authority", metavar="TEXT", help="Issuing authority.")],
    title: Annotated[str, typer.Option("--title", "-t", metavar="TEXT")],
    targets: Annotated[
        list[str], typer.Option("--target", metavar="TYPE:VALUE", help="account:@x, url:, phone:, email:")
    ],
    data: Annotated[list[Category], typer.Option("--data", help="Data categories (repeat).")],
    offence: Annotated[Offence, typer.Option("--offence")],
    procedure: Annotated[Procedure | None, typer.Option("--procedure", help="EPOC procedure.")] = None,
    provider: Annotated[
        str, typer.Option("--provider", metavar="NAME", help="Service provider (EPOC, SAP, voluntary).")
    ] = "",
    urgency: Annotated[Urgency, typer.Option("--urgency")] = Urgency.normal,
    description: Annotated[str, typer.Option("--description", "-d", metavar="TEXT")] = "",
    workspace_visible: Annotated[bool, typer.Option("--workspace-visible", help="Visible to every member.")] = False,
    share: Annotated[
        list[str] | None, typer.Option("--share", metavar="JUR", help="Also share with (restricted).")
    ] = None,
    preservation_order: Annotated[str, typer.Option("--preservation-order", metavar="ID")] = "",
    notification_exemption: Annotated[
        str,
        typer.Option(
            "--notification-exemption-reason",
            metavar="TEXT",
            help="EPOC without notification for traffic or content data: why the enforcing state is not "
            "notified (Reg. (EU) 2023/1543 Art. 8(2)); required then, refused otherwise.",
        ),
    ] = "",
    listed_offence: Annotated[
        ListedOffence | None,
        typer.Option(
            "--listed-offence",
            help="EPOC or EIO: the listed offence category the request concerns (Reg. (EU) 2023/1543 Annex IV, "
            "Directive 2014/41/EU Annex D); with --max-sentence-months of 36 or more, it is not refused for lack "
            "of double criminality.",
        ),
    ] = None,
    max_sentence_months: Annotated[
        int,
        typer.Option(
            "--max-sentence-months",
            metavar="MONTHS",
            help="With --listed-offence: the maximum custodial sentence for it in the issuing state, in months "
            "(1 to 1200; a life sentence is 1200).",
        ),
    ] = 0,
    victim: Annotated[
        list[str] | None,
        typer.Option(
            "--victim",
            metavar="PSEUDONYM",
            help="A victim the request concerns, by pseudonym (V-NL-0007; repeat for several). Name the victim "
            "here, never in the title or description.",
        ),
    ] = None,
    issue: Annotated[bool, typer.Option("--issue", help="Issue it at once (DRAFT -> ISSUED).")] = False,
    request_id: Annotated[str | None, typer.Option("--request-id", metavar="UUID", help="Idempotency key.")] = None,
) -> None:
    """Create an evidence request (DRAFT; with --issue, ISSUED)."""
    req = pb.CreateRequestRequest(
        request_id=_uuid(request_id, "--request-id") if request_id else str(uuid.uuid4()),
        workspace_id=workspace,
        legal_basis=_enum("LEGAL_BASIS_", basis.value),
        epoc_procedure=_enum("EPOC_PROCEDURE_", procedure.value if procedure else "unspecified"),
        issuing_authority=authority,
        addressee_kind="ADDRESSEE_KIND_SERVICE_PROVIDER" if basis in PROVIDER_BASES else "ADDRESSEE_KIND_MEMBER_STATE",
        addressee_jurisdiction=to.upper(),
        provider_name=provider,
        data_categories=[_enum("DATA_CATEGORY_", c.value) for c in data],
        targets=[target(x) for x in targets],
        offence_category=_enum("OFFENCE_CATEGORY_", offence.value),
        urgency=_enum("URGENCY_", urgency.value),
        title=title,
        description=description,
        visibility=common_pb2.VISIBILITY_WORKSPACE if workspace_visible else common_pb2.VISIBILITY_RESTRICTED,
        shared_with=[j.upper() for j in share or []],
        preservation_order_id=_uuid(preservation_order, "--preservation-order") if preservation_order else "",
        notification_exemption_reason=notification_exemption,
        victim_refs=victim_refs(victim),
        listed_offence=_enum("LISTED_OFFENCE_", listed_offence.value if listed_offence else "unspecified"),
        max_sentence_months=max_sentence_months,
    )
    r = _call(ctx, "CreateRequest", req).request
    if issue:
        r = _call(ctx, "IssueRequest", pb.IssueRequestRequest(id=r.id, expected_version=r.version)).request
    _show(ctx, r)


@request_app.command("list")
def list_requests(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS")] = "",
    victim: Annotated[
        str, typer.Option("--victim", metavar="PSEUDONYM", help="Only requests concerning this victim (V-NL-0007).")
    ] = "",
    page_size: Annotated[int, typer.Option("--limit", metavar="N")] = 50,
) -> None:
    """List the requests you may see."""
    req = pb.ListRequestsRequest(workspace_id=workspace, victim_ref=victim.strip().upper(), page_size=page_size)
    resp = _call(ctx, "ListRequests", req)
    if _state(ctx).json:
        emit_json([message_dict(r) for r in resp.requests])
        return
    emit(requests_table(resp.requests))


def requests_table(requests: Sequence[pb.EvidenceRequest]) -> Table:
    """One row per request, in the order given; a party taken out of the JIT marked ``(out)``
    (REQUEST_ISSUER_TAKEN_OUT, REQUEST_ADDRESSEE_TAKEN_OUT); the victims when any request names one."""
    victims = any(r.victim_refs for r in requests)
    t = Table("id", "state", "basis", "from", "to", "next deadline", "title", *(["victims"] if victims else []))
    for r in requests:
        t.add_row(
            r.id,
            _label(pb.EvidenceRequestState, r.state, "EVIDENCE_REQUEST_STATE_"),
            _label(pb.LegalBasis, r.legal_basis, "LEGAL_BASIS_"),
            r.origin_jurisdiction + (" (out)" if r.issuer_taken_out else ""),
            (r.provider_name or r.addressee_jurisdiction) + (" (out)" if r.addressee_taken_out else ""),
            _when(r.next_deadline_at),
            r.title,
            *([victims_label(r.victim_refs) or "-"] if victims else []),
        )
    return t


@request_app.command("show")
def show(ctx: typer.Context, id: RequestId) -> None:
    """Show one request, its running deadlines and its linked preservation order."""
    _show(ctx, _call(ctx, "GetRequest", pb.GetRequestRequest(id=_uuid(id))).request)


@request_app.command("issue")
def issue_cmd(ctx: typer.Context, id: RequestId, expected_version: Version = 0) -> None:
    """Issuer: DRAFT -> ISSUED (deadlines start)."""
    _transition(ctx, "IssueRequest", pb.IssueRequestRequest(id=_uuid(id), expected_version=expected_version))


@request_app.command("acknowledge")
def acknowledge(
    ctx: typer.Context,
    id: RequestId,
    received_at: Annotated[
        str | None,
        typer.Option("--received-at", metavar="TIME", help="When it was received (default: when it was issued)."),
    ] = None,
    expected_version: Version = 0,
) -> None:
    """Executing side (or the issuer, for a provider): ISSUED -> ACKNOWLEDGED."""
    req = pb.AcknowledgeRequestRequest(id=_uuid(id), expected_version=expected_version)
    if received_at:
        req.received_at.CopyFrom(_ts(parse_instant(received_at)))
    _transition(ctx, "AcknowledgeRequest", req)


@request_app.command("open-review")
def open_review(ctx: typer.Context, id: RequestId, expected_version: Version = 0) -> None:
    """Enforcing state (EPOC with notification): ACKNOWLEDGED -> UNDER_REVIEW."""
    _transition(ctx, "OpenReview", pb.OpenReviewRequest(id=_uuid(id), expected_version=expected_version))


@request_app.command("conclude-review")
def conclude_review(ctx: typer.Context, id: RequestId, note_: Note = "", expected_version: Version = 0) -> None:
    """Enforcing state, no ground raised: UNDER_REVIEW -> IN_EXECUTION."""
    _transition(
        ctx, "ConcludeReview", pb.ConcludeReviewRequest(id=_uuid(id), expected_version=expected_version, note=note_)
    )


@request_app.command("start-execution")
def start_execution(ctx: typer.Context, id: RequestId, note_: Note = "", expected_version: Version = 0) -> None:
    """Executing side (for an EIO: the recognition decision): ACKNOWLEDGED -> IN_EXECUTION.

    An EPOC with notification waits until the enforcing state concluded its review or its 10 days passed
    without a ground (Reg. (EU) 2023/1543 Art. 10(2)); then also from UNDER_REVIEW."""
    _transition(
        ctx, "StartExecution", pb.StartExecutionRequest(id=_uuid(id), expected_version=expected_version, note=note_)
    )


@request_app.command("partially-executed")
def partially_executed(
    ctx: typer.Context, id: RequestId, note_: Note = "", data: Categories = None, expected_version: Version = 0
) -> None:
    """Executing side: -> PARTIALLY_EXECUTED; with --data, those categories are recorded as executed (at least
    one stays open: else complete)."""
    _transition(
        ctx,
        "RecordPartialExecution",
        pb.RecordPartialExecutionRequest(
            id=_uuid(id), expected_version=expected_version, note=note_, data_categories=_categories(data)
        ),
    )


@request_app.command("complete")
def complete(ctx: typer.Context, id: RequestId, note_: Note = "", expected_version: Version = 0) -> None:
    """Executing side: -> EXECUTED."""
    _transition(
        ctx,
        "CompleteExecution",
        pb.CompleteExecutionRequest(id=_uuid(id), expected_version=expected_version, note=note_),
    )


@request_app.command("close")
def close(ctx: typer.Context, id: RequestId, note_: Note = "", expected_version: Version = 0) -> None:
    """Issuer: (PARTIALLY_)EXECUTED -> CLOSED."""
    _transition(
        ctx, "CloseRequest", pb.CloseRequestRequest(id=_uuid(id), expected_version=expected_version, note=note_)
    )


@request_app.command("refuse", help=grounds_help())
def refuse(
    ctx: typer.Context,
    id: RequestId,
    ground: Annotated[Ground, typer.Option("--ground", help="A ground of the request's instrument (listed above).")],
    detail: Annotated[str, typer.Option("--detail", metavar="TEXT")],
    data: Categories = None,
    expected_version: Version = 0,
) -> None:
    _transition(
        ctx,
        "RefuseRequest",
        pb.RefuseRequestRequest(
            id=_uuid(id),
            expected_version=expected_version,
            ground=_enum("REFUSAL_GROUND_", ground.value),
            detail=detail,
            data_categories=_categories(data),
        ),
    )


@request_app.command("not-executed")
def not_executed(
    ctx: typer.Context,
    id: RequestId,
    reason: Annotated[NonExecution, typer.Option("--reason", help="Annex III reason.")],
    detail: Annotated[str, typer.Option("--detail", metavar="TEXT")] = "",
    expected_version: Version = 0,
) -> None:
    """Executing side: -> NOT_EXECUTED with an Annex III reason."""
    _transition(
        ctx,
        "ReportNotExecuted",
        pb.ReportNotExecutedRequest(
            id=_uuid(id),
            expected_version=expected_version,
            reason=_enum("NON_EXECUTION_REASON_", reason.value),
            detail=detail,
        ),
    )


@request_app.command("transfer-enforcement")
def transfer_enforcement(
    ctx: typer.Context,
    id: RequestId,
    enforcing: Annotated[
        str,
        typer.Option(
            "--enforcing-jurisdiction",
            metavar="CODE",
            help="The enforcing state; default: the provider's establishment (the request's addressee).",
        ),
    ] = "",
    note_: Note = "",
    expected_version: Version = 0,
) -> None:
    """Issuer's prosecutor: an EPOC the provider did not comply with (past its deadline without the data, or
    reported not executed) -> IN_ENFORCEMENT; the enforcing state decides within 5 of its working days
    (Reg. (EU) 2023/1543 Art. 16)."""
    _transition(
        ctx,
        "TransferForEnforcement",
        pb.TransferForEnforcementRequest(
            id=_uuid(id), expected_version=expected_version, enforcing_jurisdiction=enforcing.upper(), note=note_
        ),
    )


@request_app.command("recognise-enforcement")
def recognise_enforcement(
    ctx: typer.Context,
    id: RequestId,
    compliance_days: Annotated[
        int,
        typer.Option(
            "--compliance-days",
            metavar="DAYS",
            help="The deadline set for the provider to comply or oppose, in days from now (1 to 90), counted "
            "in the enforcing state's calendar (Art. 16(3)).",
        ),
    ],
    note_: Note = "",
    expected_version: Version = 0,
) -> None:
    """Enforcing state's prosecutor: recognise the transferred order, the provider is formally required to comply
    within --compliance-days -> IN_EXECUTION (or PARTIALLY_EXECUTED when data were delivered before); its
    COMPLIANCE deadline replaces its first one (Reg. (EU) 2023/1543 Art. 16(3))."""
    _transition(
        ctx,
        "RecogniseEnforcement",
        pb.RecogniseEnforcementRequest(
            id=_uuid(id), expected_version=expected_version, note=note_, compliance_days=compliance_days
        ),
    )


@request_app.command("refuse-enforcement")
def refuse_enforcement(
    ctx: typer.Context,
    id: RequestId,
    ground: Annotated[EnforcementGround, typer.Option("--ground", help="A ground of Art. 16(4).")],
    detail: Annotated[str, typer.Option("--detail", metavar="TEXT")],
    expected_version: Version = 0,
) -> None:
    """Enforcing state's prosecutor: refuse recognition on a ground of Reg. (EU) 2023/1543 Art. 16(4) ->
    NOT_ENFORCED."""
    _transition(
        ctx,
        "RefuseEnforcement",
        pb.RefuseEnforcementRequest(
            id=_uuid(id),
            expected_version=expected_version,
            ground=_enum("ENFORCEMENT_REFUSAL_GROUND_", ground.value),
            detail=detail,
        ),
    )


@request_app.command("withdraw")
def withdraw(ctx: typer.Context, id: RequestId, reason: Reason, expected_version: Version = 0) -> None:
    """Issuer: -> WITHDRAWN."""
    _transition(
        ctx,
        "WithdrawRequest",
        pb.WithdrawRequestRequest(id=_uuid(id), expected_version=expected_version, reason=reason),
    )


@request_app.command("postpone")
def postpone(
    ctx: typer.Context,
    id: RequestId,
    reason: Reason,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME")] = None,
    expected_version: Version = 0,
) -> None:
    """Executing side, EIO only (Directive 2014/41 Art. 15): -> POSTPONED."""
    req = pb.PostponeRequestRequest(id=_uuid(id), expected_version=expected_version, reason=reason)
    if until:
        req.until.CopyFrom(_ts(parse_instant(until)))
    _transition(ctx, "PostponeRequest", req)


@request_app.command("resume")
def resume(ctx: typer.Context, id: RequestId, expected_version: Version = 0) -> None:
    """Executing side: POSTPONED -> the state it was postponed from (ACKNOWLEDGED or IN_EXECUTION), its
    deadline counting on the time that was left (Directive 2014/41 Art. 15)."""
    _transition(ctx, "ResumeRequest", pb.ResumeRequestRequest(id=_uuid(id), expected_version=expected_version))


@request_app.command("extend-decision")
def extend_decision(ctx: typer.Context, id: RequestId, reason: Reason, expected_version: Version = 0) -> None:
    """Executing side, EIO only, once: 30 more days to decide (Directive 2014/41 Art. 12(5))."""
    _transition(
        ctx,
        "ExtendDecisionDeadline",
        pb.ExtendDecisionDeadlineRequest(id=_uuid(id), expected_version=expected_version, reason=reason),
    )


@request_app.command("notify-delay")
def notify_delay(
    ctx: typer.Context,
    id: RequestId,
    reason: Reason,
    expected: Annotated[
        str, typer.Option("--expected", metavar="TIME", help="When the decision or execution is expected.")
    ],
    expected_version: Version = 0,
) -> None:
    """Executing side, EIO only: the decision or execution deadline cannot be met; why and when it is
    expected (Directive 2014/41 Art. 12(5), 12(6)). The legal deadline does not move."""
    req = pb.NotifyDelayRequest(id=_uuid(id), expected_version=expected_version, reason=reason)
    req.expected_at.CopyFrom(_ts(parse_instant(expected)))
    _transition(ctx, "NotifyDelay", req)


@request_app.command("user-notice")
def user_notice(
    ctx: typer.Context,
    id: RequestId,
    status: Annotated[Notice, typer.Option("--status")],
    until: Annotated[
        str | None, typer.Option("--until", metavar="TIME", help="End of the non-disclosure order.")
    ] = None,
    expected_version: Version = 0,
) -> None:
    """Issuer: the provider's notice to the account holder (pending, suppressed until a date, sent)."""
    req = pb.UpdateUserNoticeRequest(
        id=_uuid(id), expected_version=expected_version, status=_enum("USER_NOTICE_STATUS_", status.value)
    )
    if until:
        req.suppressed_until.CopyFrom(_ts(parse_instant(until)))
    _transition(ctx, "UpdateUserNotice", req)


@request_app.command("resubmit")
def resubmit(
    ctx: typer.Context,
    id: RequestId,
    clarification: Annotated[
        str, typer.Option("--clarification", metavar="TEXT", help="What you clarify in answer to the refusal.")
    ],
    data: Annotated[
        list[Category] | None, typer.Option("--data", help="Amended data categories (repeat; default: unchanged).")
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", metavar="TEXT", help="Amended description.")
    ] = None,
    expected_version: Version = 0,
) -> None:
    """Issuer: a REFUSED request, clarified, is submitted again (-> ISSUED): a new receipt, its deadlines run
    from now; its earlier refusals stay on the record."""
    req = pb.ResubmitRequestRequest(
        id=_uuid(id), expected_version=expected_version, clarification=clarification, data_categories=_categories(data)
    )
    if description is not None:
        req.description = description
    _transition(ctx, "ResubmitRequest", req)


# ------------------------------------------------------------------ items


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console(stderr=True),  # stdout stays clean for --json and pipes
        transient=False,
    )


def _stub(state: AppState) -> tuple[grpc.Channel, Any, list[tuple[str, str]], str]:
    token = state.session.access_token(state.user())
    addr = state.settings.service_addr("evidence")
    channel = state.settings.channel(addr)
    return channel, evidence_pb2_grpc.EvidenceServiceStub(channel), [("authorization", f"Bearer {token}")], addr


def consent_text(c: pb.UseConsent) -> str:
    """One consent to other use, as a line says it."""
    ref = f", reference {c.reference}" if c.reference else ""
    at = f" on {_when(c.granted_at)}" if c.HasField("granted_at") else ""
    return f"{c.granted_by_jurisdiction} consents{at} to: {c.purpose}{ref}"


def _item_line(item: pb.EvidenceItem) -> str:
    consents = item.use_conditions.consents
    return (
        f"item {item.id}: {item.size_bytes} bytes, {item.media_type}, sha256 {item.sha256}, "
        f"from {item.origin_jurisdiction}"
        + (" - RESTRICTED: kept, not to be downloaded or exported" if item.restricted else "")
        + (
            " - SENSITIVE: opened with a purpose by named roles, exported with a second approval"
            if item.sensitive
            else ""
        )
        + "".join(f"\n  other use: {consent_text(c)}" for c in consents)
    )


@app.command()
def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file received.")],
    request: Annotated[str, typer.Option("--request", metavar="ID", help="The evidence request it answers.")],
    media_type: Annotated[str, typer.Option("--media-type", metavar="TYPE")] = "",
    description: Annotated[str, typer.Option("--description", "-d", metavar="TEXT")] = "",
    origin: Annotated[
        str,
        typer.Option(
            "--origin", metavar="JUR", help="Where it arose: the request's addressee, which executed it (the default)."
        ),
    ] = "",
    conditions: Annotated[
        str, typer.Option("--conditions", metavar="TEXT", help="Use conditions set by the origin.")
    ] = "",
    sensitive: Annotated[
        bool,
        typer.Option(
            "--sensitive",
            help="Intimate images and the like: opened only with a purpose by named roles, never previewed, "
            f"exported only with a second person's approval {legal.cite('SENSITIVE_ITEM_MARKING')}.",
        ),
    ] = False,
) -> None:
    """Upload an evidence item: hashed locally, streamed in 1 MiB chunks, checked and encrypted by the service."""
    state = _state(ctx)
    size = file.stat().st_size
    media = media_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    meta = pb.ItemMetadata(
        request_id=str(uuid.uuid4()),
        evidence_request_id=_uuid(request, "--request"),
        sha256=file_sha256(file),
        size_bytes=size,
        media_type=media,
        filename=file.name,
        description=description,
        origin_jurisdiction=origin.upper(),
        use_conditions=pb.UseConditions(jit_purposes_only=True, conditions=conditions),
        sensitive=sensitive,
    )
    channel, _, md, addr = _stub(state)
    with channel, _progress() as progress:
        task = progress.add_task(f"upload {file.name}", total=size)

        def messages() -> Iterator[bytes]:
            with file.open("rb", buffering=0) as fh:
                for message in upload_messages(meta, fh):
                    yield message
                    progress.update(task, completed=fh.tell())

        try:
            item = upload_call(channel)(messages(), metadata=tuple(md), timeout=TRANSFER_TIMEOUT_S).item
        except grpc.RpcError as exc:
            raise ServiceCallError("evidence", addr, exc) from None
    if state.json:
        emit_json(message_dict(item))
    else:
        typer.echo(_item_line(item))


def _private_new_file(path: Path) -> BinaryIO:
    """A new file open for writing that only its owner may read (0600 from the moment it exists: created
    with that mode, never widened by the umask, never world-readable even briefly). Refuses an existing
    file or a symbolic link in its place."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only narrow the mode; this pins it whatever it is
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


@app.command()
def download(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(metavar="ITEM", help="Evidence item id.")],
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="File to write (must not exist).")],
    purpose: Annotated[str, typer.Option("--purpose", metavar="TEXT", help="Why; recorded in the chain of custody.")],
) -> None:
    """Download an item (decrypted by the service); the digest is checked before the file is kept."""
    state = _state(ctx)
    if out.exists():
        raise CliError(f"{out} exists; choose another --out")
    channel, _, md, addr = _stub(state)
    tmp = out.with_name(out.name + ".part")
    try:
        part = _private_new_file(tmp)
    except FileExistsError:
        channel.close()
        raise CliError(f"{tmp} exists (an interrupted download?); remove it or choose another --out") from None
    try:
        with channel, _progress() as progress, part as fh:
            task = progress.add_task(f"download {out.name}", total=None)
            meta, sha256 = receive_item(
                download_call(channel)(
                    pb.DownloadItemRequest(item_id=_uuid(item, "ITEM"), purpose=purpose),
                    metadata=tuple(md),
                    timeout=TRANSFER_TIMEOUT_S,
                ),
                fh,
                on_item=lambda found: progress.update(task, total=found.size_bytes),
                on_chunk=lambda n: progress.advance(task, n),
            )
        if meta is None or sha256 != meta.sha256:
            raise CliError("downloaded bytes do not match the item's SHA-256; nothing kept")
        os.replace(tmp, out)
    except grpc.RpcError as exc:
        raise ServiceCallError("evidence", addr, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    if state.json:
        emit_json(message_dict(meta))
    else:
        note(f"{out}: {meta.size_bytes} bytes, sha256 {meta.sha256} verified")


@app.command()
def items(ctx: typer.Context, request: Annotated[str, typer.Option("--request", metavar="ID")]) -> None:
    """List the items received against a request."""
    resp = _call(ctx, "ListItems", pb.ListItemsRequest(evidence_request_id=_uuid(request, "--request")))
    if _state(ctx).json:
        emit_json([message_dict(i) for i in resp.items])
        return
    for i in resp.items:
        typer.echo(_item_line(i))


@app.command()
def custody(ctx: typer.Context, item: Annotated[str, typer.Argument(metavar="ITEM")]) -> None:
    """Show an item's chain of custody."""
    resp = _call(ctx, "ListCustody", pb.ListCustodyRequest(item_id=_uuid(item, "ITEM")))
    if _state(ctx).json:
        emit_json([message_dict(e) for e in resp.entries])
        return
    t = Table("#", "action", "who", "when", "purpose", "entry hash")
    for e in resp.entries:
        t.add_row(
            str(e.seq),
            _label(pb.CustodyAction, e.action, "CUSTODY_ACTION_"),
            f"{e.actor.username} ({e.actor.jurisdiction})",
            _when(e.at),
            e.purpose + (f" -> {e.recipient}" if e.recipient else ""),
            e.entry_hash[:16],
        )
    emit(t)


#: The client's id of an act on an item's chain of custody: a retry with the same one records nothing twice.
ONCE_ID = typer.Option("--request-id", metavar="UUID", help="Idempotency key (default: a new one).")


def _once(request_id: str | None) -> str:
    return _uuid(request_id, "--request-id") if request_id else str(uuid.uuid4())


@app.command("record-custody")
def record_custody(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(metavar="ITEM")],
    action: Annotated[CustodyKind, typer.Option("--action")],
    purpose: Annotated[str, typer.Option("--purpose", metavar="TEXT")],
    recipient: Annotated[str, typer.Option("--recipient", metavar="TEXT")] = "",
    request_id: Annotated[str | None, ONCE_ID] = None,
) -> None:
    """Record an export, transfer or seal of an item in its chain of custody. Sent again with the same
    --request-id (after a lost answer), it answers the entry recorded and records no second one."""
    e = _call(
        ctx,
        "RecordCustodyEvent",
        pb.RecordCustodyEventRequest(
            item_id=_uuid(item, "ITEM"),
            action=_enum("CUSTODY_ACTION_", action.value),
            purpose=purpose,
            recipient=recipient,
            request_id=_once(request_id),
        ),
    ).entry
    if _state(ctx).json:
        emit_json(message_dict(e))
    else:
        typer.echo(f"custody entry {e.seq} recorded, hash {e.entry_hash}")


def _entry_out(ctx: typer.Context, e: pb.CustodyEntry, what: str) -> None:
    if _state(ctx).json:
        emit_json(message_dict(e))
    else:
        typer.echo(f"{what}: custody entry {e.seq}, hash {e.entry_hash}")


def _item_out(ctx: typer.Context, item: pb.EvidenceItem) -> None:
    if _state(ctx).json:
        emit_json(message_dict(item))
    else:
        typer.echo(_item_line(item))


REASON = typer.Option("--reason", metavar="TEXT", help="Why; recorded in the chain of custody.")


@item_app.command("mark-sensitive")
def mark_sensitive(
    ctx: typer.Context, item: Annotated[str, typer.Argument(metavar="ITEM")], reason: Annotated[str, REASON]
) -> None:
    """Mark an item sensitive: a prosecutor of the jurisdiction that received it, with a reason."""
    req = pb.MarkItemSensitiveRequest(item_id=_uuid(item, "ITEM"), reason=reason)
    _item_out(ctx, _call(ctx, "MarkItemSensitive", req).item)


@item_app.command("unmark-sensitive")
def unmark_sensitive(
    ctx: typer.Context, item: Annotated[str, typer.Argument(metavar="ITEM")], reason: Annotated[str, REASON]
) -> None:
    """Lift an item's sensitive marking: the same prosecutor's side, with a reason."""
    req = pb.UnmarkItemSensitiveRequest(item_id=_uuid(item, "ITEM"), reason=reason)
    _item_out(ctx, _call(ctx, "UnmarkItemSensitive", req).item)


@item_app.command("export-request")
def export_request(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(metavar="ITEM")],
    purpose: Annotated[str, typer.Option("--purpose", metavar="TEXT", help="Why it leaves.")],
    destination: Annotated[str, typer.Option("--to", metavar="RECIPIENT", help="Where it goes.")],
    request_id: Annotated[str | None, ONCE_ID] = None,
) -> None:
    """Ask to export a sensitive item; another prosecutor of your jurisdiction approves (export-approve),
    then you record the export to that destination (record-custody --action exported --recipient)."""
    req = pb.RequestExportRequest(
        item_id=_uuid(item, "ITEM"), purpose=purpose, destination=destination, request_id=_once(request_id)
    )
    _entry_out(ctx, _call(ctx, "RequestExport", req).entry, "export requested (approve it with this entry's number)")


@item_app.command("export-approve")
def export_approve(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(metavar="ITEM")],
    entry: Annotated[int, typer.Option("--request", metavar="SEQ", help="The EXPORT_REQUESTED entry's number.")],
) -> None:
    """Approve another user's export request of a sensitive item (four eyes: never your own)."""
    req = pb.ApproveExportRequest(item_id=_uuid(item, "ITEM"), export_request_seq=entry)
    _entry_out(ctx, _call(ctx, "ApproveExport", req).entry, "export approved")


@item_app.command("consent")
def consent(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(metavar="ITEM")],
    purpose: Annotated[
        str,
        typer.Option("--purpose", metavar="TEXT", help="The other use consented to (another offence, proceedings)."),
    ],
    reference: Annotated[
        str, typer.Option("--reference", metavar="TEXT", help="Your state's reference for this decision.")
    ] = "",
    request_id: Annotated[
        str | None, typer.Option("--request-id", metavar="UUID", help="Idempotency key (default: a new one).")
    ] = None,
) -> None:
    """Record your state's consent to another use of an item than the JIT's purposes: a prosecutor of the
    state where it arose, on that state's behalf, dated now; kept as given, never withdrawn."""
    req = pb.RecordUseConsentRequest(
        request_id=_uuid(request_id, "--request-id") if request_id else str(uuid.uuid4()),
        item_id=_uuid(item, "ITEM"),
        purpose=purpose,
        reference=reference,
    )
    _item_out(ctx, _call(ctx, "RecordUseConsent", req).item)


@app.command()
def verify(ctx: typer.Context) -> None:
    """Auditors: recompute every item's digest and check every custody chain; exit 1 on any problem."""
    resp = _call(ctx, "VerifyEvidence", pb.VerifyEvidenceRequest(), timeout=TRANSFER_TIMEOUT_S)
    if _state(ctx).json:
        emit_json(message_dict(resp))
    else:
        typer.echo(
            f"evidence: {resp.items_checked} items, {resp.custody_entries_checked} custody entries checked: "
            + ("intact" if resp.ok else f"{len(resp.problems)} PROBLEM(S)")
        )
        for p in resp.problems:
            typer.echo(f"  {p.item_id}: {p.problem}: {p.detail}")
    if not resp.ok:
        raise typer.Exit(1)
