"""Output of the ``jit`` command: durations and instants, task tables, JSON and one-line errors.

Everything here is pure (no I/O besides writing to the console it is given), so that it can be unit
tested; ``now`` is always a parameter.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

import grpc
import typer
from google.protobuf import json_format, message
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from jit.tasks.v1 import tasks_pb2
from jitlib import durations

UTC = dt.UTC
#: Console width when stdout is not a terminal: wide enough that table rows stay on one line.
PIPE_WIDTH = 400
CLOSED_STATES = frozenset({tasks_pb2.TASK_STATE_DONE, tasks_pb2.TASK_STATE_VERIFIED, tasks_pb2.TASK_STATE_CANCELLED})
_STATE_STYLE = {
    tasks_pb2.TASK_STATE_BLOCKED: "yellow",
    tasks_pb2.TASK_STATE_DECLINED: "magenta",
    tasks_pb2.TASK_STATE_HANDED_BACK: "magenta",
    tasks_pb2.TASK_STATE_DONE: "green",
    tasks_pb2.TASK_STATE_VERIFIED: "green",
    tasks_pb2.TASK_STATE_CANCELLED: "dim",
}


class CliError(Exception):
    """An expected failure; ``str(exc)`` is the one line shown after ``error:``."""


class ServiceCallError(Exception):
    """A gRPC call to ``service`` at ``addr`` failed."""

    def __init__(self, service: str, addr: str, error: grpc.RpcError) -> None:
        super().__init__(f"{service} at {addr}: {error}")
        self.service = service
        self.addr = addr
        self.error = error


# ------------------------------------------------------------------ durations and instants


#: The platform's one duration parser and formatter (``jitlib.durations``), under the CLI's names.
parse_duration = durations.parse
duration_words = durations.words


def parse_instant(text: str) -> dt.datetime:
    """ISO 8601 instant (``2026-12-31T12:00Z``, ``2026-12-31T13:00+01:00``) -> aware UTC datetime.

    A time without an offset is taken as UTC.
    """
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"invalid time {text!r}: use ISO 8601, e.g. 2026-12-31T12:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def time_left_words(due: dt.datetime, now: dt.datetime) -> str:
    """``"2 days 4 hours"`` before ``due``, ``"overdue by 3 hours"`` after it."""
    delta = due - now
    words = duration_words(delta)
    return words if delta.total_seconds() >= 0 else f"overdue by {words}"


def format_instant(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


class UserNotice(StrEnum):
    """The provider's notice to the account holder, as ``--status`` takes it (an evidence request's or a
    preservation order's ``UpdateUserNotice``; each proto has its own ``UserNoticeStatus``, same names)."""

    pending = "pending"
    suppressed = "suppressed"
    sent = "sent"


def user_notice_text(msg: Any, statuses: Any) -> str:
    """The user notice of ``msg`` (a request or an order to a provider, whose enum is ``statuses``) as shown:
    its status, until when a non-disclosure order suppresses it, and whether that order has lapsed (the
    provider may notify the account holder now)."""
    text = enum_label(statuses, msg.user_notice_status, "USER_NOTICE_STATUS_")
    until = msg.user_notice_suppressed_until
    if msg.HasField("user_notice_suppressed_until") and (until.seconds or until.nanos):
        text += " until " + until.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")
    if msg.user_notice_suppression_lapsed:
        text += " LAPSED: the non-disclosure order has ended, the provider may notify the account holder (renew it)"
    return text


def instant_rows(msg: Any, fields: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """A (label, instant) row for each timestamp field ``(label, name)`` that ``msg`` has set, in order."""
    return [
        (label, format_instant(getattr(msg, name).ToDatetime(tzinfo=UTC)))
        for label, name in fields
        if msg.HasField(name)
    ]


# ------------------------------------------------------------------ labels


def enum_label(enum_type: Any, value: int, prefix: str) -> str:
    """``TASK_STATE_IN_PROGRESS`` -> ``in-progress`` (the number itself if unknown)."""
    try:
        name = str(enum_type.Name(value))
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower().replace("_", "-")


def state_label(value: int) -> str:
    return enum_label(tasks_pb2.TaskState, value, "TASK_STATE_")


def short_id(record_id: str) -> str:
    """First 8 and last 4 characters of a UUID (UUIDv7s made together share their first 8)."""
    return record_id if len(record_id) <= 14 else f"{record_id[:8]}..{record_id[-4:]}"


def ref_label(ref: Any) -> str:
    from jit.common.v1 import common_pb2

    return f"{enum_label(common_pb2.RecordKind, ref.kind, 'RECORD_KIND_')}:{ref.id}"


def victim_refs(values: Iterable[str] | None) -> list[str]:
    """``--victim`` values as the services take them: pseudonyms (``v-nl-0007`` is ``V-NL-0007``)."""
    return [v.strip().upper() for v in values or []]


def victims_label(refs: Iterable[str]) -> str:
    """The victims a record concerns, by pseudonym: ``V-NL-0001, V-NL-0002`` ("" when none)."""
    return ", ".join(refs)


# ------------------------------------------------------------------ tasks


def message_dict(msg: message.Message) -> dict[str, Any]:
    """Machine-readable form of a proto message (proto3 JSON mapping, proto field names)."""
    return json_format.MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def due_cell(task: tasks_pb2.Task, now: dt.datetime) -> Text:
    if not task.HasField("due_at"):
        return Text("-")
    due = task.due_at.ToDatetime(tzinfo=UTC)
    if task.state in CLOSED_STATES:
        return Text(format_instant(due))
    words = time_left_words(due, now)
    style = "red" if due <= now else ("yellow" if due - now < dt.timedelta(days=2) else "")
    return Text(f"{format_instant(due)} ({words})", style=style)


def assignee_cell(t: tasks_pb2.Task) -> Text:
    """The task's assignee, ``DE (out)`` once it was taken out of the workspace (``assignee_taken_out``: its
    issuer may take the task back, rule TASK_TAKEN_BACK)."""
    if t.assignee_taken_out:
        return Text(f"{t.assignee_jurisdiction} (out)", style="bold red")
    return Text(t.assignee_jurisdiction)


def tasks_table(tasks: Sequence[tasks_pb2.Task], now: dt.datetime, wide: bool = False) -> Table:
    """One row per task: id, title, the victims it concerns (when any task names one), state, assignee
    (``DE (out)`` when taken out of the workspace), origin, due (time left), priority, version."""
    victims = any(t.victim_refs for t in tasks)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("TITLE", overflow="fold")
    if victims:
        table.add_column("VICTIMS", overflow="fold")
    table.add_column("STATE", no_wrap=True)
    table.add_column("TO", no_wrap=True)
    table.add_column("FROM", no_wrap=True)
    table.add_column("DUE", overflow="fold")
    table.add_column("PRIORITY", no_wrap=True)
    table.add_column("VER", justify="right", no_wrap=True)
    for t in tasks:
        table.add_row(
            Text(t.id if wide else short_id(t.id)),
            Text(t.title),
            *([Text(victims_label(t.victim_refs) or "-")] if victims else []),
            Text(state_label(t.state), style=_STATE_STYLE.get(t.state, "")),
            assignee_cell(t),
            Text(t.origin_jurisdiction),
            due_cell(t, now),
            Text(enum_label(tasks_pb2.TaskPriority, t.priority, "TASK_PRIORITY_")),
            Text(str(t.version)),
        )
    return table


def _actor(actor: Any, when: Any) -> str:
    who = f"{actor.username} ({actor.jurisdiction})" if actor.username else "-"
    return f"{who} at {format_instant(when.ToDatetime(tzinfo=UTC))}" if when.seconds else who


def replica_note(record: Any) -> str:
    """For a record read on a node that holds it as a replica: whose it is and how fresh ("" otherwise)."""
    if not record.HasField("replica"):
        return ""
    r = record.replica
    when = format_instant(r.updated_at.ToDatetime(tzinfo=UTC))
    return f"a copy of the {r.owner_node} node's record, last updated {when}"


def allowed_line(actions: Iterable[str]) -> str:
    """``You may: accept, decline``: the actions a record's message says its caller may take now (its
    ``allowed_actions``, decided by the service), or ``You may: nothing now``."""
    return "You may: " + (", ".join(actions) or "nothing now")


def task_detail(t: tasks_pb2.Task, now: dt.datetime) -> Table:
    """All fields of one task, one per line."""
    from jit.common.v1 import common_pb2

    rows: list[tuple[str, Text]] = [
        ("id", Text(t.id)),
        ("workspace", Text(t.workspace_id)),
        ("title", Text(t.title)),
        *([("victims", Text(victims_label(t.victim_refs)))] if t.victim_refs else []),
        ("kind", Text(enum_label(tasks_pb2.TaskKind, t.kind, "TASK_KIND_"))),
        ("state", Text(state_label(t.state), style=_STATE_STYLE.get(t.state, ""))),
    ]
    if t.state_reason:
        rows.append(("reason", Text(t.state_reason)))
    if t.terms_reason:
        rows.append(("terms changed", Text(t.terms_reason)))
    rows += [
        ("from", Text(t.origin_jurisdiction)),
        ("to", assignee_cell(t)),
        ("priority", Text(enum_label(tasks_pb2.TaskPriority, t.priority, "TASK_PRIORITY_"))),
        ("due", due_cell(t, now)),
        ("visibility", Text(enum_label(common_pb2.Visibility, t.visibility, "VISIBILITY_"))),
    ]
    optional = [
        ("shared with", ", ".join(t.shared_with)),
        ("links", ", ".join(ref_label(r) for r in t.links)),
        ("blocked by", ", ".join(ref_label(r) for r in t.blocked_by)),
        ("outcome", t.outcome),
        ("description", t.description),
        ("replica", replica_note(t)),
    ]
    rows += [(k, Text(v)) for k, v in optional if v]
    rows += [
        ("version", Text(str(t.version))),
        ("created", Text(_actor(t.created_by, t.created_at))),
        ("updated", Text(_actor(t.updated_by, t.updated_at))),
    ]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, value)
    return grid


# ------------------------------------------------------------------ errors


def _rich_status(err: Any) -> status_pb2.Status | None:
    trailers = getattr(err, "trailing_metadata", None)
    for key, value in (trailers() if callable(trailers) else None) or ():
        if key == "grpc-status-details-bin":
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                return None
    return None


def rpc_error_text(err: Any, service: str = "tasks", addr: str = "") -> str:
    """``CODE: details`` of a grpc.RpcError, with the field violations / reason of its rich status.

    A transport failure (UNAVAILABLE without a rich status) becomes a hint to start the service.
    """
    code = err.code() if callable(getattr(err, "code", None)) else None
    name = code.name if isinstance(code, grpc.StatusCode) else str(code or "UNKNOWN")
    details = " ".join(str((err.details() if callable(getattr(err, "details", None)) else "") or "").split())
    status = _rich_status(err)
    if code is grpc.StatusCode.UNAVAILABLE and status is None:
        if any(word in details.lower() for word in ("ssl", "handshake", "certificate", "tls")):
            return (
                f"{service} service at {addr}: the TLS connection failed (does JIT_TLS_CA_FILE name the CA that "
                "issued its certificate? with mutual TLS, set JIT_TLS_CLIENT_CERT_FILE and JIT_TLS_CLIENT_KEY_FILE)"
            )
        return f"{service} service not reachable at {addr} (is it running? try make run)"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED and status is None:
        return f"{name}: no answer from the {service} service at {addr} in time"
    violations: list[str] = []
    reasons: list[str] = []
    for detail in status.details if status is not None else ():
        bad, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
        if detail.Unpack(bad):
            violations += [f"{v.field}: {v.description}" for v in bad.field_violations]
        elif detail.Unpack(info) and info.reason:
            reasons.append(info.reason)
    text = "; ".join(violations) if violations else (details or (status.message if status else ""))
    if reasons:
        text = f"{text} [{', '.join(reasons)}]" if text else ", ".join(reasons)
    return f"{name}: {text}" if text else name


def error_text(exc: BaseException) -> str | None:
    """The one line to show for an exception the command knows, or None."""
    from jitcli.kcadmin import WorkspaceAdminError
    from jitlib.pki import PkiError
    from jitlib.tls import TlsConfigError

    if isinstance(exc, ServiceCallError):
        return rpc_error_text(exc.error, exc.service, exc.addr)
    if isinstance(exc, CliError | WorkspaceAdminError):
        return " ".join(str(exc).split())
    if isinstance(exc, TlsConfigError | PkiError):
        return f"TLS setting: {' '.join(str(exc).split())}"
    return None


# ------------------------------------------------------------------ user text on a terminal

#: Characters that act on a terminal instead of showing: C0 controls but newline and tab, DEL, C1 controls
#: (0x9b is a one-byte CSI), and the bidirectional overrides and isolates that reorder what is shown.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SHOWN_FOR_UNSAFE = "\ufffd"


def terminal_safe(text: str, *, one_line: bool = False) -> str:
    """User text as plain characters: anything that would act on the terminal (escape sequences such as
    an OSC 52 clipboard write or a hidden link, a carriage return, a bidi override) shows as U+FFFD, so
    tampering is visible and harmless. ``one_line`` also shows line breaks as " ⏎ ", so text cannot
    start a line of its own (forge a "system" line in a feed)."""
    safe = _UNSAFE.sub(_SHOWN_FOR_UNSAFE, text)
    if one_line:
        safe = safe.replace("\n", " \u23ce ").replace("\t", " ")
    return safe


def scrub(msg: message.Message) -> message.Message:
    """Make every string of a response terminal-safe, in place (nested messages and lists included)."""
    for field, value in msg.ListFields():
        if field.type == field.TYPE_STRING:
            if field.is_repeated:
                value[:] = [terminal_safe(v) for v in value]
            else:
                setattr(msg, field.name, terminal_safe(value))
        elif field.type == field.TYPE_MESSAGE:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                for key in list(value):
                    item = value[key]
                    if isinstance(item, message.Message):
                        scrub(item)
                    elif isinstance(item, str):
                        value[key] = terminal_safe(item)
            elif field.is_repeated:
                for item in value:
                    scrub(item)
            else:
                scrub(value)
    return msg


# ------------------------------------------------------------------ output


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (plain, no colours: for scripts). The data is exact; the
    characters that could act on a terminal are written as JSON escapes (``\\u001b``), which is the same
    JSON."""
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    typer.echo(_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def console(**kw: Any) -> Console:
    """A console that never reads markup or emoji codes in what it prints: ``[/]`` in a message body is
    text, not a closing tag."""
    return Console(highlight=False, markup=False, emoji=False, **kw)


def emit(renderable: RenderableType | str) -> None:
    """Print a table on stdout; into a pipe (and without ``COLUMNS``) rows are never wrapped."""
    out = console()
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = console(width=PIPE_WIDTH)
    out.print(Text(terminal_safe(renderable)) if isinstance(renderable, str) else renderable)


def note(text: str) -> None:
    """A remark on stderr (hints, summaries), so stdout stays clean for pipes."""
    typer.echo(terminal_safe(text), err=True)


def fail(text: str) -> None:
    """Print ``error: <text>`` on stderr."""
    typer.echo(f"error: {terminal_safe(text, one_line=True)}", err=True)


def join_nonempty(items: Iterable[str], sep: str = ", ") -> str:
    return sep.join(i for i in items if i) or "-"
