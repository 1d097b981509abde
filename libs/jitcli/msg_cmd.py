"""``jit msg ...``: talk across borders in encrypted channels and record threads.

A CHANNEL argument is a channel id, or ``workspace:<workspace id>`` for the workspace's channel, or
``task:<uuid>`` / ``evidence-request:<uuid>`` / ``preservation-order:<uuid>`` for a record's thread
(opened on first use, visible to whoever may see the record).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import mimetypes
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from opentelemetry.instrumentation.grpc import client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from rich.table import Table

from jit.common.v1 import common_pb2
from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jitcli.render import (
    CliError,
    ServiceCallError,
    emit,
    emit_json,
    format_instant,
    message_dict,
    note,
    terminal_safe,
)
from jitcli.session import _tracer_provider, app_state

app = typer.Typer(help="Secure messaging: channels, record threads, live follow, attachments.", no_args_is_help=True)

THREAD_KINDS = {
    "task": common_pb2.RECORD_KIND_TASK,
    "evidence-request": common_pb2.RECORD_KIND_EVIDENCE_REQUEST,
    "preservation-order": common_pb2.RECORD_KIND_PRESERVATION_ORDER,
}
ChannelArg = Annotated[str, typer.Argument(metavar="CHANNEL", help="Channel id, workspace:<id> or <kind>:<uuid>.")]
MessageId = Annotated[str, typer.Argument(metavar="MESSAGE", help="Full message id (UUID).")]


_state = app_state


def _call(ctx: typer.Context, method: str, request: Any) -> Any:
    return _state(ctx).call("messaging", messaging_pb2_grpc.MessagingServiceStub, method, request)


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a full {what} id (UUID)") from None


def resolve_channel(ctx: typer.Context, target: str) -> pb.Channel:
    """A channel id, or the workspace channel / record thread named by ``kind:id`` (opened if needed)."""
    kind, sep, ref = target.partition(":")
    if not sep:
        return _call(ctx, "GetChannel", pb.GetChannelRequest(id=_uuid(target, "channel"))).channel
    if kind == "workspace":
        return _call(ctx, "OpenWorkspaceChannel", pb.OpenWorkspaceChannelRequest(workspace_id=ref)).channel
    if kind in THREAD_KINDS:
        record = common_pb2.RecordRef(kind=THREAD_KINDS[kind], id=_uuid(ref, kind))
        return _call(ctx, "OpenRecordThread", pb.OpenRecordThreadRequest(record=record)).channel
    raise typer.BadParameter(f"{target!r}: use a channel id, workspace:<id> or one of {', '.join(THREAD_KINDS)}")


def _when(ts: Any) -> str:
    return format_instant(ts.ToDatetime(tzinfo=dt.UTC)) if ts.seconds else ""


def _title(ch: pb.Channel) -> str:
    """A channel's title as printed: one line, nothing that acts on a terminal."""
    return terminal_safe(ch.title, one_line=True)


def _line(m: pb.Message, *, one_line: bool = False) -> tuple[str, str, str, str]:
    """A message's number, time, sender and text, all of it terminal-safe (what other users wrote never
    reaches the terminal as escape sequences or markup). ``one_line`` (``follow``): line breaks in the
    text show as " ⏎ ", so a message cannot forge a line of its own (a "system" line, say)."""
    who = "system" if m.system else terminal_safe(f"{m.sender.username} ({m.sender.jurisdiction})", one_line=True)
    if m.shredded:
        body = "[content destroyed at the end of retention]"
    elif m.deleted:
        body = "[deleted]"
    else:
        body = terminal_safe(m.body, one_line=one_line) + (" [edited]" if m.revision > 1 else "")
        sep = " |" if one_line else "\n "
        for i, a in enumerate(m.attachments):
            name = terminal_safe(f"{a.filename} ({a.media_type}, {a.size} bytes)", one_line=True)
            body += f"{sep} attachment {i}: {name}"
    return str(m.seq), _when(m.posted_at), who, body


def follow_line(m: pb.Message) -> str:
    """One message of ``jit msg follow``, on exactly one line."""
    seq, when, who, body = _line(m, one_line=True)
    return f"#{seq} {when} {who}: {body}"


def _messages_table(messages: list[pb.Message]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None)
    for col in ("#", "WHEN", "FROM", "MESSAGE"):
        table.add_column(col)
    for m in messages:
        table.add_row(*_line(m))
    return table


def _channel_table(channels: list[pb.Channel]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None)
    for col in ("ID", "KIND", "TITLE", "MEMBERS", "MESSAGES"):
        table.add_column(col)
    for c in channels:
        kind = pb.ChannelKind.Name(c.kind).removeprefix("CHANNEL_KIND_").lower()
        members = terminal_safe(", ".join(c.members), one_line=True) or "all members"
        table.add_row(terminal_safe(c.id), kind, _title(c), members, str(c.last_seq))
    return table


@app.command()
def channels(ctx: typer.Context, workspace: Annotated[str, typer.Option("--workspace", "-w")] = "jit-demo") -> None:
    """List the channels of a workspace you can see."""
    found = list(_call(ctx, "ListChannels", pb.ListChannelsRequest(workspace_id=workspace)).channels)
    emit_json([message_dict(c) for c in found]) if _state(ctx).json else emit(_channel_table(found))


@app.command("create-channel")
def create_channel(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", "-t")],
    member: Annotated[list[str], typer.Option("--member", "-m", help="Another member jurisdiction (repeat).")],
    workspace: Annotated[str, typer.Option("--workspace", "-w")] = "jit-demo",
) -> None:
    """Open a restricted channel with some member jurisdictions."""
    ch = _call(
        ctx,
        "CreateChannel",
        pb.CreateChannelRequest(request_id=str(uuid.uuid4()), workspace_id=workspace, title=title, members=member),
    ).channel
    emit_json(message_dict(ch)) if _state(ctx).json else emit(_channel_table([ch]))


@app.command()
def send(
    ctx: typer.Context,
    channel: ChannelArg,
    text: Annotated[str, typer.Argument(metavar="TEXT")] = "",
    attach: Annotated[list[Path] | None, typer.Option("--attach", "-a", help="A file to attach (repeat).")] = None,
) -> None:
    """Post a message (and attachments) to a channel or a record's thread."""
    ch = resolve_channel(ctx, channel)
    files = []
    for path in attach or []:
        if not path.is_file():
            raise CliError(f"{path}: no such file")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files.append(pb.Attachment(filename=path.name, media_type=media, content=path.read_bytes()))
    msg = _call(
        ctx,
        "PostMessage",
        pb.PostMessageRequest(request_id=str(uuid.uuid4()), channel_id=ch.id, body=text, attachments=files),
    ).message
    emit_json(message_dict(msg)) if _state(ctx).json else note(f"sent #{msg.seq} to {_title(ch)} ({msg.id})")


@app.command()
def read(
    ctx: typer.Context,
    channel: ChannelArg,
    after: Annotated[int, typer.Option("--after", help="Only messages after this number.")] = 0,
    mark_read: Annotated[bool, typer.Option("--mark-read/--no-mark-read", help="Record read receipts.")] = True,
) -> None:
    """Show the messages of a channel (and record that you read them)."""
    ch = resolve_channel(ctx, channel)
    msgs = list(_call(ctx, "ListMessages", pb.ListMessagesRequest(channel_id=ch.id, after_seq=after)).messages)
    if mark_read and msgs:
        _call(ctx, "MarkRead", pb.MarkReadRequest(channel_id=ch.id, up_to_seq=msgs[-1].seq))
    if _state(ctx).json:
        emit_json({"channel": message_dict(ch), "messages": [message_dict(m) for m in msgs]})
    else:
        note(f"{_title(ch)} ({terminal_safe(ch.id)})")
        emit(_messages_table(msgs))


@app.command()
def follow(
    ctx: typer.Context,
    channel: ChannelArg,
    after: Annotated[int, typer.Option("--after", help="Start after this message number (0: from the start).")] = 0,
) -> None:
    """Stream a channel live (Ctrl-C to stop). Reconnect with --after N to get exactly what you missed."""
    state = _state(ctx)
    ch = resolve_channel(ctx, channel)
    token = state.session.access_token(state.user())
    addr = state.settings.service_addr("messaging")
    with state.settings.channel(addr) as raw:
        stub = messaging_pb2_grpc.MessagingServiceStub(
            intercept_channel(raw, client_interceptor(tracer_provider=_tracer_provider()))
        )
        call = stub.Subscribe(
            pb.SubscribeRequest(channel_id=ch.id, after_seq=after), metadata=(("authorization", f"Bearer {token}"),)
        )
        note(f"following {_title(ch)} ({terminal_safe(ch.id)}); Ctrl-C to stop")
        try:
            for resp in call:
                m = resp.message
                if state.json:
                    emit_json(message_dict(m))
                else:
                    emit(follow_line(m))
        except KeyboardInterrupt:
            call.cancel()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise ServiceCallError("messaging", addr, exc) from None


@app.command()
def edit(ctx: typer.Context, id: MessageId, text: Annotated[str, typer.Argument(metavar="TEXT")]) -> None:
    """Replace your message's text (a new revision; the history keeps the old one)."""
    msg = _call(ctx, "EditMessage", pb.EditMessageRequest(id=_uuid(id, "message"), body=text)).message
    emit_json(message_dict(msg)) if _state(ctx).json else note(f"#{msg.seq} is now at revision {msg.revision}")


@app.command()
def delete(ctx: typer.Context, id: MessageId) -> None:
    """Delete your message (a revision that removes the content; the history records it)."""
    msg = _call(ctx, "DeleteMessage", pb.DeleteMessageRequest(id=_uuid(id, "message"))).message
    emit_json(message_dict(msg)) if _state(ctx).json else note(f"#{msg.seq} deleted")


@app.command()
def history(ctx: typer.Context, id: MessageId) -> None:
    """Every revision of a message, oldest first."""
    revs = list(_call(ctx, "GetMessageHistory", pb.GetMessageHistoryRequest(id=_uuid(id, "message"))).revisions)
    emit_json([message_dict(m) for m in revs]) if _state(ctx).json else emit(_messages_table(revs))


@app.command()
def receipts(ctx: typer.Context, id: MessageId) -> None:
    """Who received and read your message, and when."""
    rows = list(_call(ctx, "ListReceipts", pb.ListReceiptsRequest(message_id=_uuid(id, "message"))).receipts)
    if _state(ctx).json:
        emit_json([message_dict(r) for r in rows])
        return
    table = Table(show_header=True, header_style="bold", box=None)
    for col in ("READER", "DELIVERED", "READ"):
        table.add_column(col)
    for r in rows:
        reader = terminal_safe(f"{r.reader.username} ({r.reader.jurisdiction})", one_line=True)
        table.add_row(reader, _when(r.delivered_at), _when(r.read_at))
    emit(table)


def write_private(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to a file only its owner may read: created 0600 (``O_CREAT | O_EXCL``), never
    wider whatever the umask, never through a symbolic link. An existing file is refused
    (``FileExistsError``) unless ``overwrite``: then the data goes to a new private file beside it, which
    replaces it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    target = path
    if overwrite and (path.exists() or path.is_symlink()):
        target = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    fd = os.open(target, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
        if target != path:
            os.replace(target, path)
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise


@app.command()
def attachment(
    ctx: typer.Context,
    id: MessageId,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the file (readable by you only).")],
    index: Annotated[int, typer.Option("--index", "-i")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the file if it exists.")] = False,
) -> None:
    """Download an attachment of a message (written 0600; an existing file is kept unless --overwrite)."""
    if out.exists() and not overwrite:
        raise CliError(f"{out} exists; choose another --out or pass --overwrite")
    att = _call(ctx, "GetAttachment", pb.GetAttachmentRequest(message_id=_uuid(id, "message"), index=index)).attachment
    try:
        write_private(out, att.content, overwrite=overwrite)
    except FileExistsError:
        raise CliError(f"{out} exists; choose another --out or pass --overwrite") from None
    note(f"wrote {out} ({att.size} bytes, sha256 {terminal_safe(att.sha256, one_line=True)})")


@app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    channel: ChannelArg,
    from_version: Annotated[
        int | None,
        typer.Option(
            "--from-version",
            min=1,
            help="The key version you saw (default: the channel's as read now). Another current version is "
            "refused, so a rotation sent again (its answer lost) never rotates twice.",
        ),
    ] = None,
) -> None:
    """Start a new data key for the channel's new messages (old ones stay readable)."""
    found = resolve_channel(ctx, channel)
    expected = from_version if from_version is not None else found.key_version
    request = pb.RotateChannelKeyRequest(channel_id=found.id, expected_key_version=expected)
    ch = _call(ctx, "RotateChannelKey", request)
    note(f"{_title(ch.channel)}: key version {ch.channel.key_version}")
