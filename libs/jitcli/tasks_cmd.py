"""``jit task ...``: create, list and show cross-border tasks, and move them through their states.

Each transition is one command; who may do what is decided by the tasks service (issuer side:
assign, verify, reopen, renegotiate, cancel; addressee side: accept, decline, start, block, unblock,
complete, hand-back).
Task ids are full UUIDs (``jit task list --wide`` or ``--json`` shows them).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any

import typer
from google.protobuf import timestamp_pb2

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitcli.render import (
    UTC,
    allowed_line,
    emit,
    emit_json,
    message_dict,
    note,
    parse_duration,
    parse_instant,
    task_detail,
    tasks_table,
    victim_refs,
)
from jitcli.session import app_state

app = typer.Typer(
    help="Cross-border tasks: create, list, show, and move them through their states.", no_args_is_help=True
)


class Kind(StrEnum):
    identify_account_holder = "identify-account-holder"
    obtain_evidence = "obtain-evidence"
    preserve_data = "preserve-data"
    hear_witness = "hear-witness"
    search_and_seizure = "search-and-seizure"
    analyse = "analyse"
    victim_support = "victim-support"
    follow_up = "follow-up"
    other = "other"


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class State(StrEnum):
    proposed = "proposed"
    assigned = "assigned"
    accepted = "accepted"
    declined = "declined"
    in_progress = "in-progress"
    blocked = "blocked"
    done = "done"
    verified = "verified"
    cancelled = "cancelled"
    handed_back = "handed-back"


#: ``--link`` / ``--blocked-by`` prefixes and the record kinds they name.
LINK_KINDS = {
    "task": common_pb2.RECORD_KIND_TASK,
    "evidence-request": common_pb2.RECORD_KIND_EVIDENCE_REQUEST,
    "preservation-order": common_pb2.RECORD_KIND_PRESERVATION_ORDER,
    "evidence-item": common_pb2.RECORD_KIND_EVIDENCE_ITEM,
    "channel": common_pb2.RECORD_KIND_CHANNEL,
}

Version = Annotated[
    int,
    typer.Option(
        "--expected-version",
        metavar="N",
        help="Fail (ABORTED) unless the task is still at this version; 0: no check.",
    ),
]
TaskId = Annotated[str, typer.Argument(metavar="ID", help="Full task id (UUID).", show_default=False)]
Reason = Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why; recorded on the task.", show_default=False)]


# ------------------------------------------------------------------ helpers


def _enum(prefix: str, label: str) -> str:
    """``("TASK_STATE_", "in-progress")`` -> ``"TASK_STATE_IN_PROGRESS"`` (protobuf takes enum names)."""
    return prefix + label.upper().replace("-", "_")


def _ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def task_id(value: str) -> str:
    """``value`` as a canonical UUID; short ids are refused."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a full task id (UUID); `jit task list --wide` shows them", param_hint="ID"
        ) from None


def _request_id(value: str | None) -> str:
    if not value:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a UUID", param_hint="--request-id") from None


def record_ref(value: str, option: str) -> common_pb2.RecordRef:
    """``task:<uuid>`` -> RecordRef."""
    kind, _, ref_id = value.partition(":")
    if kind not in LINK_KINDS:
        raise typer.BadParameter(
            f"{value!r}: use KIND:UUID with KIND one of {', '.join(LINK_KINDS)}", param_hint=option
        )
    try:
        canonical = str(uuid.UUID(ref_id))
    except ValueError:
        raise typer.BadParameter(f"{value!r}: {ref_id!r} is not a UUID", param_hint=option) from None
    return common_pb2.RecordRef(kind=LINK_KINDS[kind], id=canonical)


def _duration(value: str, option: str) -> dt.timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def due_at(due: str | None, due_in: str | None, now: dt.datetime) -> dt.datetime | None:
    """The due instant from ``--due`` or ``--due-in`` (not both)."""
    if due and due_in:
        raise typer.BadParameter("give --due or --due-in, not both", param_hint="--due")
    if due_in:
        return now + _duration(due_in, "--due-in")
    if due:
        try:
            return parse_instant(due)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--due") from None
    return None


_state = app_state


def _call(ctx: typer.Context, method: str, request: Any) -> Any:
    return _state(ctx).call("tasks", tasks_pb2_grpc.TaskServiceStub, method, request)


def _show(ctx: typer.Context, task: tasks_pb2.Task) -> None:
    if _state(ctx).json:
        emit_json(message_dict(task))
    else:
        emit(task_detail(task, dt.datetime.now(UTC)))
        emit(allowed_line(task.allowed_actions))


def _run(ctx: typer.Context, method: str, request: Any) -> None:
    """Call ``method`` and show the task it returns."""
    _show(ctx, _call(ctx, method, request).task)


# ------------------------------------------------------------------ commands


@app.command()
def create(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Workspace id, e.g. jit-demo.")],
    title: Annotated[str, typer.Option("--title", "-t", metavar="TEXT", help="Short title.")],
    assignee: Annotated[
        str, typer.Option("--assignee", "-a", metavar="JUR", help="Member jurisdiction it is addressed to.")
    ],
    kind: Annotated[Kind, typer.Option("--kind", help="What kind of task.")] = Kind.other,
    description: Annotated[str, typer.Option("--description", "-d", metavar="TEXT", help="Details.")] = "",
    priority: Annotated[Priority, typer.Option("--priority")] = Priority.normal,
    due: Annotated[
        str | None, typer.Option("--due", metavar="TIME", help="Due instant, e.g. 2026-12-31T12:00Z.")
    ] = None,
    due_in: Annotated[
        str | None, typer.Option("--due-in", metavar="DURATION", help="Due after a duration, e.g. 7d, 36h.")
    ] = None,
    workspace_visible: Annotated[
        bool, typer.Option("--workspace-visible", help="Visible to every member (default: only the parties).")
    ] = False,
    share: Annotated[
        list[str] | None,
        typer.Option("--share", metavar="JUR", help="Also share a restricted task with this jurisdiction."),
    ] = None,
    link: Annotated[
        list[str] | None,
        typer.Option(
            "--link",
            metavar="KIND:UUID",
            help="Related record: task:UUID, evidence-request:UUID, preservation-order:UUID.",
        ),
    ] = None,
    victim: Annotated[
        list[str] | None,
        typer.Option(
            "--victim",
            metavar="PSEUDONYM",
            help="A victim the task concerns, by pseudonym (V-NL-0007; repeat for several). Name the victim "
            "here, never in the title or description.",
        ),
    ] = None,
    proposal: Annotated[bool, typer.Option("--proposal", help="Keep it PROPOSED (not sent yet).")] = False,
    request_id: Annotated[
        str | None,
        typer.Option("--request-id", metavar="UUID", help="Idempotency key (UUID); default: a fresh one."),
    ] = None,
) -> None:
    """Create a task addressed to one member jurisdiction (you are the issuer)."""
    now = dt.datetime.now(UTC)
    when = due_at(due, due_in, now)
    req = tasks_pb2.CreateTaskRequest(
        request_id=_request_id(request_id),
        workspace_id=workspace,
        title=title,
        description=description,
        kind=_enum("TASK_KIND_", kind.value),
        assignee_jurisdiction=assignee.upper(),
        priority=_enum("TASK_PRIORITY_", priority.value),
        visibility=common_pb2.VISIBILITY_WORKSPACE if workspace_visible else common_pb2.VISIBILITY_RESTRICTED,
        shared_with=[s.upper() for s in share or []],
        links=[record_ref(v, "--link") for v in link or []],
        proposal_only=proposal,
        victim_refs=victim_refs(victim),
    )
    if when is not None:
        req.due_at.CopyFrom(_ts(when))
    _show(ctx, _call(ctx, "CreateTask", req).task)


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", metavar="WS", help="Only this workspace.")] = "",
    state: Annotated[list[State] | None, typer.Option("--state", "-s", help="Only these states.")] = None,
    assignee: Annotated[
        str, typer.Option("--assignee", metavar="JUR", help="Only tasks addressed to this jurisdiction.")
    ] = "",
    origin: Annotated[
        str, typer.Option("--origin", metavar="JUR", help="Only tasks issued by this jurisdiction.")
    ] = "",
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open tasks past their due time.")] = False,
    victim: Annotated[
        str, typer.Option("--victim", metavar="PSEUDONYM", help="Only tasks concerning this victim (V-NL-0007).")
    ] = "",
    taken_out: Annotated[
        bool,
        typer.Option(
            "--taken-out",
            help="Only tasks whose assignee was taken out of the workspace (DE (out)): to assign to a current member.",
        ),
    ] = False,
    due_within: Annotated[
        str | None,
        typer.Option("--due-within", metavar="DURATION", help="Only tasks due in the next DURATION, e.g. 7d."),
    ] = None,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=200, help="Tasks per page.")] = 50,
    page_token: Annotated[
        str, typer.Option("--page-token", metavar="TOKEN", help="Continue from a previous page.")
    ] = "",
    all_pages: Annotated[bool, typer.Option("--all", help="Follow next_page_token to the end.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show full task ids.")] = False,
) -> None:
    """List the tasks you may see, oldest first."""
    now = dt.datetime.now(UTC)
    req = tasks_pb2.ListTasksRequest(
        workspace_id=workspace,
        states=[_enum("TASK_STATE_", s.value) for s in state or []],
        assignee_jurisdiction=assignee.upper(),
        origin_jurisdiction=origin.upper(),
        overdue_only=overdue,
        victim_ref=victim.strip().upper(),
        assignee_taken_out=taken_out,
        page_size=page_size,
        page_token=page_token,
    )
    if due_within:
        req.due_after.CopyFrom(_ts(now))
        req.due_before.CopyFrom(_ts(now + _duration(due_within, "--due-within")))
    tasks: list[tasks_pb2.Task] = []
    while True:
        resp = _call(ctx, "ListTasks", req)
        tasks.extend(resp.tasks)
        if not (all_pages and resp.next_page_token):
            break
        req.page_token = resp.next_page_token
    if _state(ctx).json:
        emit_json({"tasks": [message_dict(t) for t in tasks], "next_page_token": resp.next_page_token})
        return
    if tasks:
        emit(tasks_table(tasks, now, wide=wide))
    else:
        note("no tasks")
    if resp.next_page_token:
        note(f"more tasks: add --all, or --page-token {resp.next_page_token}")


@app.command()
def show(ctx: typer.Context, id: TaskId) -> None:
    """Show one task with all its fields."""
    _run(ctx, "GetTask", tasks_pb2.GetTaskRequest(id=task_id(id)))


@app.command()
def assign(
    ctx: typer.Context,
    id: TaskId,
    to: Annotated[str, typer.Option("--to", metavar="JUR", help="Address it to another member jurisdiction.")] = "",
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (optional); recorded on the task.", show_default=False)
    ] = "",
    expected_version: Version = 0,
) -> None:
    """Send a proposed, declined or handed-back task to its (or another) jurisdiction; a task whose assignee
    was taken out of the workspace (`DE (out)` in the list), from any open state, to a current member.
    Issuer only."""
    req = tasks_pb2.AssignTaskRequest(
        id=task_id(id), expected_version=expected_version, assignee_jurisdiction=to.upper(), reason=reason
    )
    _run(ctx, "AssignTask", req)


@app.command()
def accept(ctx: typer.Context, id: TaskId, expected_version: Version = 0) -> None:
    """Accept a task addressed to your jurisdiction."""
    _run(ctx, "AcceptTask", tasks_pb2.AcceptTaskRequest(id=task_id(id), expected_version=expected_version))


@app.command()
def decline(ctx: typer.Context, id: TaskId, reason: Reason, expected_version: Version = 0) -> None:
    """Decline a task addressed to your jurisdiction, with a reason."""
    req = tasks_pb2.DeclineTaskRequest(id=task_id(id), expected_version=expected_version, reason=reason)
    _run(ctx, "DeclineTask", req)


@app.command()
def start(ctx: typer.Context, id: TaskId, expected_version: Version = 0) -> None:
    """Start work on an accepted task."""
    _run(ctx, "StartTask", tasks_pb2.StartTaskRequest(id=task_id(id), expected_version=expected_version))


@app.command()
def block(
    ctx: typer.Context,
    id: TaskId,
    reason: Reason,
    blocked_by: Annotated[
        list[str] | None,
        typer.Option(
            "--blocked-by",
            metavar="KIND:UUID",
            help="Record it waits on: evidence-request:UUID, preservation-order:UUID ...",
        ),
    ] = None,
    expected_version: Version = 0,
) -> None:
    """Mark a task in progress as blocked, e.g. waiting on an evidence request."""
    req = tasks_pb2.BlockTaskRequest(
        id=task_id(id),
        expected_version=expected_version,
        reason=reason,
        blocked_by=[record_ref(v, "--blocked-by") for v in blocked_by or []],
    )
    _run(ctx, "BlockTask", req)


@app.command()
def unblock(ctx: typer.Context, id: TaskId, expected_version: Version = 0) -> None:
    """Resume a blocked task."""
    _run(ctx, "UnblockTask", tasks_pb2.UnblockTaskRequest(id=task_id(id), expected_version=expected_version))


@app.command()
def complete(
    ctx: typer.Context,
    id: TaskId,
    outcome: Annotated[
        str, typer.Option("--outcome", metavar="TEXT", help="What was done or found.", show_default=False)
    ],
    expected_version: Version = 0,
) -> None:
    """Report a task in progress as done, with its outcome."""
    req = tasks_pb2.CompleteTaskRequest(id=task_id(id), expected_version=expected_version, outcome=outcome)
    _run(ctx, "CompleteTask", req)


@app.command()
def verify(ctx: typer.Context, id: TaskId, expected_version: Version = 0) -> None:
    """Confirm a done task. Issuer only."""
    _run(ctx, "VerifyTask", tasks_pb2.VerifyTaskRequest(id=task_id(id), expected_version=expected_version))


@app.command()
def reopen(ctx: typer.Context, id: TaskId, reason: Reason, expected_version: Version = 0) -> None:
    """Send a done task back to in progress, with a reason. Issuer only."""
    req = tasks_pb2.ReopenTaskRequest(id=task_id(id), expected_version=expected_version, reason=reason)
    _run(ctx, "ReopenTask", req)


@app.command()
def cancel(ctx: typer.Context, id: TaskId, reason: Reason, expected_version: Version = 0) -> None:
    """Cancel an open task, with a reason. Issuer only."""
    req = tasks_pb2.CancelTaskRequest(id=task_id(id), expected_version=expected_version, reason=reason)
    _run(ctx, "CancelTask", req)


@app.command("hand-back")
def hand_back(ctx: typer.Context, id: TaskId, reason: Reason, expected_version: Version = 0) -> None:
    """Give an accepted, started or blocked task back to its issuer, with a reason."""
    req = tasks_pb2.HandBackTaskRequest(id=task_id(id), expected_version=expected_version, reason=reason)
    _run(ctx, "HandBackTask", req)


@app.command()
def renegotiate(
    ctx: typer.Context,
    id: TaskId,
    reason: Reason,
    due: Annotated[
        str | None, typer.Option("--due", metavar="TIME", help="New due instant, e.g. 2026-12-31T12:00Z.")
    ] = None,
    due_in: Annotated[
        str | None, typer.Option("--due-in", metavar="DURATION", help="New due date after a duration, e.g. 14d.")
    ] = None,
    clear_due: Annotated[bool, typer.Option("--clear-due", help="Remove the due date.")] = False,
    priority: Annotated[Priority | None, typer.Option("--priority", help="New priority.")] = None,
    expected_version: Version = 0,
) -> None:
    """Change an open task's due date and/or priority, with a reason. Issuer only (the addressee asks in the
    task's thread: jit msg)."""
    when = due_at(due, due_in, dt.datetime.now(UTC))
    if when is not None and clear_due:
        raise typer.BadParameter("give --due/--due-in or --clear-due, not both", param_hint="--clear-due")
    if when is None and not clear_due and priority is None:
        raise typer.BadParameter("give --due, --due-in, --clear-due or --priority", param_hint="--due")
    req = tasks_pb2.RenegotiateTaskRequest(
        id=task_id(id), expected_version=expected_version, reason=reason, clear_due_at=clear_due
    )
    if when is not None:
        req.due_at.CopyFrom(_ts(when))
    if priority is not None:
        req.priority = _enum("TASK_PRIORITY_", priority.value)  # type: ignore[assignment]
    _run(ctx, "RenegotiateTask", req)
