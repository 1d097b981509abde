"""``jit victim ...``: register victims as pseudonyms, read an identity with need to know, and record what
a victim was told and where the victim was referred (the victims service; issue 16).

A victim is known by its pseudonym (``V-NL-0007``); commands take the victim's full id (UUID, ``jit victim
list --wide`` or ``--json`` shows it) or its pseudonym. The identity is printed only by ``jit victim
identity --purpose TEXT``, to a prosecutor or police liaison of the victim's jurisdiction; everyone else is
told it does not exist (NOT_FOUND).
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Any

import typer
from google.protobuf import timestamp_pb2
from rich.table import Table
from rich.text import Text

from jit.victims.v1 import victims_pb2 as pb
from jit.victims.v1 import victims_pb2_grpc
from jitcli.render import UTC, allowed_line, emit, emit_json, format_instant, message_dict, note, parse_instant
from jitcli.session import app_state

app = typer.Typer(
    help="Victims as pseudonyms: register, list, show, read an identity (need to know), notices and referrals.",
    no_args_is_help=True,
)

#: A victim's pseudonym, as the victims service makes them.
PSEUDONYM = re.compile(r"^V-[A-Z]{2,8}-[0-9]{4,}$")


class Step(StrEnum):
    rights_explained = "rights-explained"
    complaint_acknowledged = "complaint-acknowledged"
    decision_not_to_prosecute = "decision-not-to-prosecute"
    trial_time_and_place = "trial-time-and-place"
    release_or_escape = "release-or-escape"
    state_of_proceedings = "state-of-proceedings"
    final_judgment = "final-judgment"


class Channel(StrEnum):
    in_person = "in-person"
    letter = "letter"
    email = "email"
    phone = "phone"
    representative = "representative"


VictimRef = Annotated[
    str, typer.Argument(metavar="VICTIM", help="Full victim id (UUID) or pseudonym (V-NL-0007).", show_default=False)
]
Version = Annotated[
    int,
    typer.Option("--expected-version", metavar="N", help="Fail (ABORTED) unless the victim is at this version."),
]
RequestId = Annotated[
    str | None, typer.Option("--request-id", metavar="UUID", help="Idempotency key (UUID); default: a fresh one.")
]


def _enum(prefix: str, label: str) -> str:
    return prefix + label.upper().replace("-", "_")


def _label(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower().replace("_", "-")
    except ValueError:
        return str(value)


def _request_id(value: str | None) -> str:
    if not value:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a UUID", param_hint="--request-id") from None


def _call(ctx: typer.Context, method: str, request: Any) -> Any:
    return app_state(ctx).call("victims", victims_pb2_grpc.VictimServiceStub, method, request)


def victim_id(ctx: typer.Context, value: str) -> str:
    """The victim's id: ``value`` itself when a UUID, else the victim whose pseudonym it is (looked up in
    the caller's workspaces)."""
    value = value.strip()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        pass
    if not PSEUDONYM.fullmatch(value):
        raise typer.BadParameter(
            f"{value!r} is neither a victim id (UUID) nor a pseudonym (V-NL-0007)", param_hint="VICTIM"
        )
    req = pb.ListVictimsRequest(page_size=200)
    while True:
        resp = _call(ctx, "ListVictims", req)
        for v in resp.victims:
            if v.pseudonym == value:
                return str(v.id)
        if not resp.next_page_token:
            break
        req.page_token = resp.next_page_token
    raise typer.BadParameter(f"no victim {value} in your workspaces", param_hint="VICTIM")


def _actor(a: Any, when: timestamp_pb2.Timestamp) -> str:
    who = f"{a.username} ({a.jurisdiction})" if a.username else "-"
    return f"{who} at {format_instant(when.ToDatetime(tzinfo=UTC))}" if when.seconds else who


def _grid(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, Text(value))
    return grid


def victim_detail(v: pb.Victim) -> Table:
    """A victim as every member sees it: never its identity."""
    rows = [
        ("pseudonym", v.pseudonym),
        ("id", v.id),
        ("workspace", v.workspace_id),
        ("victim's jurisdiction", v.victim_jurisdiction),
        ("offences", ", ".join(v.offences) or "-"),
        ("held by", v.origin_jurisdiction),
        ("registered", _actor(v.registered_by, v.created_at)),
        ("notices", str(v.notices_count)),
        ("referrals", str(v.referrals_count)),
    ]
    for r in v.referrals:
        consent = "with consent" if r.consent else "WITHOUT consent"
        rows.append(("referred", f"{r.service_name} on {r.referred_on}, {consent}, by {r.referred_by.username}"))
    rows += [("version", str(v.version)), ("updated", _actor(v.updated_by, v.updated_at))]
    return _grid(rows)


def _show(ctx: typer.Context, victim: pb.Victim) -> None:
    if app_state(ctx).json:
        emit_json(message_dict(victim))
        return
    emit(victim_detail(victim))
    emit(allowed_line(victim.allowed_actions))


# ------------------------------------------------------------------ commands


@app.command()
def register(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Workspace id, e.g. jit-demo.")],
    jurisdiction: Annotated[
        str, typer.Option("--jurisdiction", "-j", metavar="JUR", help="The victim's jurisdiction (a member).")
    ],
    name: Annotated[str, typer.Option("--name", metavar="TEXT", help="The victim's full name (sealed).")],
    born: Annotated[str, typer.Option("--born", metavar="YYYY-MM-DD", help="Date of birth.")] = "",
    contact: Annotated[str, typer.Option("--contact", metavar="TEXT", help="How to reach the victim.")] = "",
    language: Annotated[
        list[str] | None, typer.Option("--language", "-l", metavar="TAG", help="A language the victim understands.")
    ] = None,
    needs: Annotated[str, typer.Option("--needs", metavar="TEXT", help="Protection or assistance needs.")] = "",
    offence: Annotated[
        list[str] | None,
        typer.Option(
            "--offence",
            metavar="OFFENCE",
            help="An offence the victim suffered (Directive (EU) 2024/1385): non-consensual-intimate-images, "
            "cyberstalking, cyberharassment, doxxing, incitement, other. Repeatable.",
        ),
    ] = None,
    request_id: RequestId = None,
) -> None:
    """Register a victim in a workspace: you get its pseudonym. The identity is sealed; only the victim's
    jurisdiction reads it back."""
    req = pb.RegisterVictimRequest(
        request_id=_request_id(request_id),
        workspace_id=workspace,
        victim_jurisdiction=jurisdiction.upper(),
        identity=pb.VictimIdentity(
            full_name=name, date_of_birth=born, contact=contact, languages=language or [], needs=needs
        ),
        offences=[o.strip().upper().replace("-", "_") for o in offence or []],
    )
    _show(ctx, _call(ctx, "RegisterVictim", req).victim)


@app.command("list")
def list_victims(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Only this workspace.")] = "",
    jurisdiction: Annotated[
        str, typer.Option("--jurisdiction", "-j", metavar="JUR", help="Only victims of this jurisdiction.")
    ] = "",
    wide: Annotated[bool, typer.Option("--wide", help="Show the full victim ids.")] = False,
) -> None:
    """List the victims of your workspaces by pseudonym, oldest first."""
    req = pb.ListVictimsRequest(workspace_id=workspace, victim_jurisdiction=jurisdiction.upper(), page_size=200)
    victims: list[pb.Victim] = []
    while True:
        resp = _call(ctx, "ListVictims", req)
        victims.extend(resp.victims)
        if not resp.next_page_token:
            break
        req.page_token = resp.next_page_token
    if app_state(ctx).json:
        emit_json({"victims": [message_dict(v) for v in victims]})
        return
    if not victims:
        note("no victims")
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("pseudonym", "workspace", "jurisdiction", "notices", "referrals", "registered by", "id"):
        table.add_column(col, overflow="fold" if col == "id" else "ellipsis")
    for v in victims:
        table.add_row(
            v.pseudonym,
            v.workspace_id,
            v.victim_jurisdiction,
            str(v.notices_count),
            str(v.referrals_count),
            f"{v.registered_by.username} ({v.registered_by.jurisdiction})",
            v.id if wide else v.id[:8],
        )
    emit(table)


@app.command()
def show(ctx: typer.Context, victim: VictimRef) -> None:
    """Show a victim by pseudonym: never its identity."""
    _show(ctx, _call(ctx, "GetVictim", pb.GetVictimRequest(id=victim_id(ctx, victim))).victim)


@app.command()
def identity(
    ctx: typer.Context,
    victim: VictimRef,
    purpose: Annotated[
        str, typer.Option("--purpose", metavar="TEXT", help="Why you read it (required, kept with the read).")
    ],
) -> None:
    """Read a victim's identity: prosecutors and police liaisons of the victim's jurisdiction only, with a
    purpose; each read is audited."""
    resp = _call(ctx, "GetVictimIdentity", pb.GetVictimIdentityRequest(id=victim_id(ctx, victim), purpose=purpose))
    if app_state(ctx).json:
        emit_json({"victim": message_dict(resp.victim), "identity": message_dict(resp.identity)})
        return
    i = resp.identity
    rows = [
        ("pseudonym", resp.victim.pseudonym),
        ("name", i.full_name),
        ("born", i.date_of_birth or "-"),
        ("contact", i.contact or "-"),
        ("languages", ", ".join(i.languages) or "-"),
        ("needs", i.needs or "-"),
    ]
    emit(_grid(rows))


@app.command()
def notice(
    ctx: typer.Context,
    victim: VictimRef,
    step: Annotated[Step, typer.Option("--step", help="The key step the victim was told about.")],
    language: Annotated[str, typer.Option("--language", "-l", metavar="TAG", help="Language told in, e.g. nl.")],
    how: Annotated[Channel, typer.Option("--how", help="How the victim was told.")],
    at: Annotated[
        str | None, typer.Option("--at", metavar="TIME", help="When (default now), e.g. 2026-12-01T10:00Z.")
    ] = None,
    text: Annotated[str, typer.Option("--note", metavar="TEXT", help="A note (sealed).")] = "",
    expected_version: Version = 0,
    request_id: RequestId = None,
) -> None:
    """Record what the victim was told, when, in which language and how (Directive 2012/29/EU Arts. 4, 6)."""
    req = pb.RecordVictimNoticeRequest(
        request_id=_request_id(request_id),
        victim_id=victim_id(ctx, victim),
        expected_version=expected_version,
        step=_enum("NOTICE_STEP_", step.value),  # type: ignore[arg-type]
        language=language,
        channel=_enum("NOTICE_CHANNEL_", how.value),  # type: ignore[arg-type]
        note=text,
    )
    if at:
        try:
            when = parse_instant(at)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--at") from None
        req.told_at.FromDatetime(when)
    resp = _call(ctx, "RecordVictimNotice", req)
    if app_state(ctx).json:
        emit_json({"victim": message_dict(resp.victim), "notice": message_dict(resp.notice)})
        return
    note(f"notice recorded: {resp.notice.id}")
    _show(ctx, resp.victim)


@app.command()
def notices(ctx: typer.Context, victim: VictimRef) -> None:
    """What the victim was told, oldest first."""
    resp = _call(ctx, "ListVictimNotices", pb.ListVictimNoticesRequest(victim_id=victim_id(ctx, victim)))
    if app_state(ctx).json:
        emit_json({"notices": [message_dict(n) for n in resp.notices]})
        return
    if not resp.notices:
        note("no notices")
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("told at", "step", "language", "how", "by", "note"):
        table.add_column(col)
    for n in resp.notices:
        table.add_row(
            format_instant(n.told_at.ToDatetime(tzinfo=UTC)),
            _label(pb.NoticeStep, n.step, "NOTICE_STEP_"),
            n.language,
            _label(pb.NoticeChannel, n.channel, "NOTICE_CHANNEL_"),
            f"{n.told_by.username} ({n.told_by.jurisdiction})",
            Text(n.note),
        )
    emit(table)


@app.command()
def refer(
    ctx: typer.Context,
    victim: VictimRef,
    service: Annotated[str, typer.Option("--service", metavar="TEXT", help="The victim support service.")],
    consent: Annotated[
        bool, typer.Option("--consent", help="The victim consented to the referral (required: Art. 8(2)).")
    ] = False,
    on: Annotated[str, typer.Option("--on", metavar="YYYY-MM-DD", help="Date of the referral (default today).")] = "",
    expected_version: Version = 0,
    request_id: RequestId = None,
) -> None:
    """Record a referral to a victim support service, with the victim's consent (Directive 2012/29/EU
    Arts. 8-9)."""
    req = pb.RecordReferralRequest(
        request_id=_request_id(request_id),
        victim_id=victim_id(ctx, victim),
        expected_version=expected_version,
        service_name=service,
        referred_on=on,
        consent=consent,
    )
    resp = _call(ctx, "RecordReferral", req)
    if app_state(ctx).json:
        emit_json({"victim": message_dict(resp.victim), "referral": message_dict(resp.referral)})
        return
    _show(ctx, resp.victim)
