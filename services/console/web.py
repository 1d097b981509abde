"""The console's pages: server-rendered HTML (Jinja2), a little plain JavaScript for the upload progress
bar and the live thread, and every record read and changed through the gRPC services as the user.

Pages follow post/redirect/get: a form posts, the service decides, and the page it redirects to shows the
outcome (or the refusal, in words) once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from jit.audit.v1 import audit_pb2
from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as ev
from jit.messaging.v1 import messaging_pb2 as mg
from jit.preservation.v1 import preservation_pb2 as pv
from jit.preservation.v1 import removal_pb2 as rm
from jit.preservation.v1 import scorecard_pb2 as sc
from jit.retention.v1 import retention_pb2 as rt
from jit.tasks.v1 import tasks_pb2 as tk
from jit.victims.v1 import statistics_pb2 as st
from jit.victims.v1 import victims_pb2 as vc
from jitlib import legal, stats
from jitlib import scorecard as scorecards
from services.console import present
from services.console.actions import TABLES, FormError, build_request, jurisdictions, pseudonyms, set_instant
from services.console.backend import Backend, Refused
from services.console.sessions import LoginRequired, Sessions, UserSession
from services.console.settings import SERVICES, ConsoleSettings

HERE = Path(__file__).parent
NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NO_WORKSPACE = "Not found: there is no such workspace, or you are not a member."
UPLOAD_CHUNK = 1024 * 1024
TZ_COOKIE = "jit_tz"
LABELS = {
    "task_state": (tk.TaskState, "TASK_STATE_"),
    "deadline_kind": (ev.DeadlineKind, "DEADLINE_KIND_"),
    "order_state": (pv.PreservationOrderState, "PRESERVATION_ORDER_STATE_"),
}
#: Task states in the order a board shows them.
TASK_COLUMNS = [s for s in tk.TaskState.values() if s != 0]
_KINDS = {"task": common_pb2.RECORD_KIND_TASK, "request": common_pb2.RECORD_KIND_EVIDENCE_REQUEST,
          "order": common_pb2.RECORD_KIND_PRESERVATION_ORDER}  # fmt: skip
WHOLE_WORKSPACE, PARTIES_ONLY = common_pb2.VISIBILITY_WORKSPACE, common_pb2.VISIBILITY_RESTRICTED
#: Kinds the system opens by itself, never offered in the form.
_NOT_CREATED_KINDS = (0, tk.TASK_KIND_FOLLOW_UP)
#: The due list shows what is overdue and what falls due within this span (every legal clock of the
#: instruments runs shorter); later dates are on the lists of tasks, requests and orders.
DUE_HORIZON = dt.timedelta(days=365)
#: The most pages of 200 read for one list on one page; a list cut there says so on the page.
MAX_PAGES = 50
#: The longest page token taken from a URL (the services issue short opaque ones).
PAGE_TOKEN_MAX = 512
#: The longest a new task may run (the form's limit, checked here too).
DUE_IN_DAYS_MAX = 1800
#: Whom a page offers a form to write a record (the policy's creators of each kind: prosecutors and police
#: liaisons draft orders, record removal requests and register victims; prosecutors alone draft evidence
#: requests and set legal holds). The services decide; these only choose whom a form is shown to.
PROSECUTORS_AND_LIAISONS = frozenset({"prosecutor", "police_liaison"})
PROSECUTORS = frozenset({"prosecutor"})
#: The legal bases a new order is drafted under, in words.
ORDER_BASES = (
    (pv.LEGAL_BASIS_EPOC_PR, "European Preservation Order (Reg. (EU) 2023/1543)"),
    (pv.LEGAL_BASIS_BUDAPEST_ART29, "Budapest Convention, Art. 29 (expedited preservation)"),
    (pv.LEGAL_BASIS_PROVIDER_VOLUNTARY, "The provider's voluntary preservation"),
    (pv.LEGAL_BASIS_NATIONAL, "National law of my jurisdiction"),
)
#: How many target rows the draft forms show at first, and add each time the user asks for more (an order or
#: a request names a few accounts, links or numbers; images posted at many links, more).
DRAFT_TARGET_ROWS = 3
#: At most this many target rows: the evidence and preservation services' own bound (``TARGETS_MAX``).
DRAFT_TARGETS_MAX = 50
#: The fields of each draft form kept when the service refuses it (``present.Kept``).
TASK_FIELDS = ("title", "description", "victim_refs", "kind", "assignee", "priority", "due_in_days", "whole_workspace")
#: A removal request's item row: its link, the platform's id of it, the account, the hash (an item is sent
#: when one of them is filled).
_REMOVAL_ITEM = ("", "_item", "_account", "_sha256")
#: What a target row may hold besides its kind: those, or a request's platform; a row is filled when one is.
_TARGET_VALUES = (*_REMOVAL_ITEM, "_platform")
_TARGET_FIELDS = (
    "target_rows",
    "more_targets",
    *(f"target_{n}{part}" for n in range(1, DRAFT_TARGETS_MAX + 1) for part in (*_TARGET_VALUES, "_kind", "_type")),
)
ORDER_FIELDS = ("legal_basis", "provider_id", "data_categories", "description", "victim_refs", "shared_with",
                "whole_workspace", "user_notice_status", "user_notice_suppressed_until",
                *_TARGET_FIELDS)  # fmt: skip
#: What an order's form offers for the provider's notice to the account holder, its default first.
ORDER_NOTICES = (
    (pv.USER_NOTICE_STATUS_PENDING, "Pending: the provider may notify the account holder (its default)"),
    (pv.USER_NOTICE_STATUS_SUPPRESSED, "Suppressed by a non-disclosure order (give its end)"),
    (pv.USER_NOTICE_STATUS_SENT, "Sent: the provider has notified the account holder"),
    (pv.USER_NOTICE_STATUS_NOT_APPLICABLE, "Not applicable"),
)
REQUEST_FIELDS = ("title", "legal_basis", "epoc_procedure", "issuing_authority", "addressee_kind",
                  "addressee_jurisdiction", "provider_name", "data_categories", "notification_exemption_reason",
                  "offence_category", "urgency", "description", "victim_refs", "shared_with", "whole_workspace",
                  "preservation_order_id", "listed_offence", "max_sentence_months",
                  *_TARGET_FIELDS)  # fmt: skip
#: What a refused restricted channel's form shows again.
CHANNEL_FIELDS = ("title", "members")
#: What a refused registration of a victim shows again: never the identity, which is typed again.
VICTIM_FIELDS = ("victim_jurisdiction", "languages", "offences")
REMOVAL_FIELDS = ("basis", "national_jurisdiction", "provider_id", "sent_at", "preservation_order_id",
                  "proceed_without_preservation_reason", "victim_refs", *_TARGET_FIELDS)  # fmt: skip
#: The legal bases of a removal request, in words; each has its clock (the service says which and why).
REMOVAL_BASES = (
    (rm.REMOVAL_BASIS_DSA_ART9_ORDER, "Order to act against illegal content (Reg. (EU) 2022/2065, DSA, Art. 9)"),
    (rm.REMOVAL_BASIS_NATIONAL_ORDER, "National removal order"),
    (rm.REMOVAL_BASIS_DSA_ART22_TRUSTED_FLAGGER, "Trusted flagger's notice (DSA Art. 22)"),
    (rm.REMOVAL_BASIS_DSA_ART16_NOTICE, "Notice of illegal content (DSA Art. 16)"),
)
#: The instruments a request is drafted under, in words.
REQUEST_BASES = (
    (ev.LEGAL_BASIS_EIO, "European Investigation Order (Directive 2014/41/EU)"),
    (ev.LEGAL_BASIS_EPOC, "European Production Order (Reg. (EU) 2023/1543)"),
    (ev.LEGAL_BASIS_MLA, "Mutual legal assistance request"),
    (ev.LEGAL_BASIS_SAP_ART7, "Spontaneous exchange or request to a provider (Budapest Convention, Art. 7)"),
    (ev.LEGAL_BASIS_VOLUNTARY, "A provider's voluntary disclosure"),
    (ev.LEGAL_BASIS_JIT_DIRECT, "Direct exchange within the JIT"),
)
_INT32_MAX = 2**31 - 1
#: What a legal hold may name besides the whole workspace, in words (the services' ``RECORD_TYPES``).
HOLD_RECORDS = {
    "task": "task", "evidence_request": "evidence request", "evidence_item": "evidence item",
    "preservation_order": "preservation order", "victim": "victim", "channel": "restricted channel",
}  # fmt: skip
#: The longest reason a service takes for a legal hold (its ``REASON_MAX``).
HOLD_REASON_MAX = 500


def _id(value: str) -> str:
    """A record id from a URL: a UUID, or NOT_FOUND-like refusal (never echoed)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Refused(NOT_FOUND, "Not found: there is no such record, or it is not shared with you.") from None


@dataclass(frozen=True)
class Listing:
    """Every record of a paged list, or the first ``MAX_PAGES`` pages of it (``complete`` false): a page
    that shows it says when the list was cut."""

    items: list[Any]
    complete: bool

    @property
    def count(self) -> str:
        return str(len(self.items)) if self.complete else f"more than {len(self.items)}"


def _timestamp(value: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def _page_token(request: Request) -> str:
    """The page of a list the URL asks for (a token the service issued; it refuses one it did not)."""
    token = request.query_params.get("page_token", "")
    if len(token) > PAGE_TOKEN_MAX:
        raise Refused(INVALID, "Refused: page_token is not one this console gave: open the list again.")
    return token


def _csrf(request: Request) -> str:
    """The form token asgi-csrf put in the request's scope, for the forms a page (or a live fragment) draws."""
    token = request.scope.get("csrftoken")
    return str(token()) if token else ""


def _next_page(request: Request, token: str) -> str | None:
    """The URL of the list's next page, or None on its last page."""
    return f"{request.url.path}?{urllib.parse.urlencode({'page_token': token})}" if token else None


@dataclass
class Ctx:
    """One request of a logged-in user."""

    request: Request
    user: UserSession
    token: str
    tz: ZoneInfo
    now: dt.datetime

    def offered(self, roles: frozenset[str]) -> bool:
        """Whether the page shows the user a form meant for ``roles`` (the service decides the request)."""
        return bool(roles & set(self.user.roles))

    def hold_link(self, workspace_id: str, record_type: str, record_id: str) -> str | None:
        """Where a record's page sends a prosecutor to set a legal hold on it (the services decide whether
        they may: the lead's prosecutors), or None."""
        if not self.offered(PROSECUTORS) or workspace_id not in self.user.workspaces:
            return None
        return f"/w/{workspace_id}/retention?{urllib.parse.urlencode({'record': f'{record_type}:{record_id}'})}"


def _choices(enum: Any, leave_out: tuple[int, ...] = (0,)) -> list[tuple[int, str]]:
    """An enum's values a form offers (number, name), its UNSPECIFIED (or ``leave_out``) left out."""
    return [(v.number, v.name) for v in enum.DESCRIPTOR.values if v.number not in leave_out]


def _enum_name(enum: Any, raw: object) -> str:
    """The name of the value a form sent as its number; ValueError for a number the enum does not have."""
    return str(enum.Name(int(str(raw or 0))))


def _typed_targets(form: Any, make: Callable[[int, str], Message]) -> list[Any]:
    """A draft form's targets: ``make(n, value)`` for each of its rows whose value was filled in (an empty
    row is left out); ``make`` reads the row's other fields and raises ValueError for an unknown kind."""
    rows = ((n, str(form.get(f"target_{n}") or "").strip()) for n in range(1, DRAFT_TARGETS_MAX + 1))
    return [make(n, value) for n, value in rows if value]


def _target_rows(kept: present.Kept) -> range:
    """The target rows a draft form shows: ``DRAFT_TARGET_ROWS``, or as many as the kept form had (its
    ``target_rows``, and at least up to its last filled row), never more than ``DRAFT_TARGETS_MAX``."""
    try:
        asked = int(kept.value("target_rows") or DRAFT_TARGET_ROWS)
    except ValueError:
        asked = DRAFT_TARGET_ROWS
    filled = [
        n for n in range(1, DRAFT_TARGETS_MAX + 1) if any(kept.value(f"target_{n}{p}").strip() for p in _TARGET_VALUES)
    ]
    return range(1, min(max(asked, DRAFT_TARGET_ROWS, *filled), DRAFT_TARGETS_MAX) + 1)


class Console:
    """The Starlette routes of the console, over the services (:class:`Backend`) and the login."""

    #: The gRPC channels, opened when the server starts (they belong to its event loop).
    backend: Backend

    def __init__(self, settings: ConsoleSettings, sessions: Sessions) -> None:
        self.settings = settings
        self.sessions = sessions
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            label=present.label,
            in_zone=present.in_zone,
            tk=tk,
            ev=ev,
            pv=pv,
            rm=rm,
            mg=mg,
            vc=vc,
            actions=TABLES,
            max_records=MAX_PAGES * 200,
            kept=present.NOT_KEPT,  # a draft form's own defaults; a refused one's values where it goes back
        )

    # ------------------------------------------------------------ plumbing

    def render(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        tz = present.zone(request.cookies.get(TZ_COOKIE))
        flash = request.session.pop("flash", None)
        html = self.env.get_template(name).render(
            request=request,
            csrftoken=_csrf(request),
            flash=flash,
            tz=tz,
            when=lambda v: present.when(v, tz),
            ts=present.instant,
            now=dt.datetime.now(dt.UTC),
            **ctx,
        )
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def guarded(self, handler: Callable[[Ctx], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            user = self.sessions.current(request)
            if user is None:
                return self._to_login(request)
            try:
                token = await self.sessions.access_token(user)
            except LoginRequired:
                return self._to_login(request)
            ctx = Ctx(request, user, token, present.zone(request.cookies.get(TZ_COOKIE)), dt.datetime.now(dt.UTC))
            try:
                return await handler(ctx)
            except Refused as refused:
                if request.method == "POST":
                    request.session["flash"] = {"kind": "error", "text": refused.words}
                    back = self._back(request)
                    kept = getattr(request.state, "kept_form", None)
                    if kept is not None:  # a draft form: shown again as typed where the refusal goes back
                        user.kept_form = (urllib.parse.urlsplit(back).path, kept)
                    return RedirectResponse(back, status_code=303)
                return self.render(request, "refused.html", status=_http_status(refused), user=user, refused=refused)

        return endpoint

    def _to_login(self, request: Request) -> Response:
        if request.method != "GET":
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse("/login?" + urllib.parse.urlencode({"next": request.url.path}), status_code=303)

    @staticmethod
    def _back(request: Request) -> str:
        """Where a form came from (a path of this console only), else the start page."""
        target = request.headers.get("referer", "")
        parts = urllib.parse.urlsplit(target)
        base = urllib.parse.urlsplit(str(request.base_url))
        if parts.netloc == base.netloc and parts.path.startswith("/"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return "/"

    @staticmethod
    def _done(request: Request, text: str, to: str | None = None) -> RedirectResponse:
        request.session["flash"] = {"kind": "ok", "text": text}
        return RedirectResponse(to or Console._back(request), status_code=303)

    @staticmethod
    def _more_targets(c: Ctx, kept: present.Kept, first_field: str) -> Response | None:
        """A draft form posted by its "more target rows" button: nothing goes to the service; the form comes
        back as typed (kept in the session as a refused one is) with ``DRAFT_TARGET_ROWS`` more rows, at
        the first new row (``first_field``: its id, with ``{n}`` for its number). None for a draft."""
        if kept.value("more_targets") != "1":
            return None
        rows = _target_rows(kept)
        more = min(len(rows) + DRAFT_TARGET_ROWS, DRAFT_TARGETS_MAX)
        back = Console._back(c.request)
        shown = present.Kept({**kept.values, "target_rows": (str(more),)})
        c.user.kept_form = (urllib.parse.urlsplit(back).path, shown)
        return RedirectResponse(f"{back}#{first_field.format(n=min(len(rows) + 1, more))}", status_code=303)

    # ------------------------------------------------------------ login

    async def home(self, request: Request) -> Response:
        if self.sessions.current(request) is not None:
            return RedirectResponse("/workspaces", status_code=303)
        return self.render(request, "start.html", user=None)

    async def login(self, request: Request) -> Response:
        target = request.query_params.get("next", "/workspaces")
        request.session["next"] = target if target.startswith("/") and not target.startswith("//") else "/workspaces"
        return await self.sessions.begin(request)

    async def callback(self, request: Request) -> Response:
        target = request.session.get("next") or "/workspaces"
        try:
            await self.sessions.finish(request)
        except LoginRequired as exc:
            return self.render(request, "start.html", status=400, user=None, problem=str(exc))
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        """Ends the console's session, then Keycloak's (its end-session endpoint), also when the console
        no longer holds a session: the user's Keycloak session may well be alive."""
        user = self.sessions.current(request)
        request.session.clear()
        if user is not None:
            self.sessions.end(user)
        return RedirectResponse(await self.sessions.logout_url(user), status_code=303)

    async def healthz(self, request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    # ------------------------------------------------------------ workspaces and the due list

    async def workspaces(self, c: Ctx) -> Response:
        return self.render(
            c.request, "workspaces.html", user=c.user, workspaces=c.user.workspaces,
            addressed=await self._addressed_from_outside(c),
        )  # fmt: skip

    async def _addressed_from_outside(self, c: Ctx) -> Listing:
        """The evidence requests addressed to the user's jurisdiction by workspaces it is not a member of (an
        instrument toward a state outside the JIT: jitlib.legal JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES). The
        service lists them, by its policy, with the user's own workspaces' when no workspace is named; a
        caller it refuses (operators, auditors) has none."""
        ask = ev.ListRequestsRequest(addressee_jurisdiction=c.user.jurisdiction, page_size=200)
        try:
            found = await self._every_page(c, "evidence", "ListRequests", ask, "requests")
        except Refused:
            return Listing([], True)
        mine = set(c.user.workspaces)
        return Listing([r for r in found.items if r.workspace_id not in mine], found.complete)

    async def _every_page(self, c: Ctx, service: str, method: str, ask: Message, field: str) -> Listing:
        """Every record a paged List call answers, following its page tokens (at most ``MAX_PAGES``)."""
        out: list[Any] = []
        token = ""
        for _ in range(MAX_PAGES):
            request = type(ask)()
            request.CopyFrom(ask)
            request.page_token = token  # type: ignore[attr-defined]
            page = await self.backend.call(service, method, request, c.token)
            out += getattr(page, field)
            token = page.next_page_token
            if not token:
                return Listing(out, True)
        return Listing(out, False)

    async def workspace(self, c: Ctx) -> Response:
        """What is due: the open tasks, the evidence requests' running legal deadlines and the preservation
        orders' expiries, overdue or within ``DUE_HORIZON``, asked of the services by those dates (every
        page), and the workspace's removal requests."""
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        horizon = c.now + DUE_HORIZON
        tasks = await self._all_tasks(c, ws)
        open_tasks = [
            t for t in tasks.items
            if t.state in _OPEN_TASK_STATES and t.HasField("due_at") and t.due_at.ToDatetime(tzinfo=dt.UTC) < horizon
        ]  # fmt: skip
        ask_requests = ev.ListRequestsRequest(workspace_id=ws, deadline_before=_timestamp(horizon), page_size=200)
        requests = await self._every_page(c, "evidence", "ListRequests", ask_requests, "requests")
        ask_orders = pv.ListOrdersRequest(workspace_id=ws, expires_before=_timestamp(horizon), page_size=200)
        orders = await self._every_page(c, "preservation", "ListOrders", ask_orders, "orders")
        removals = await self._every_page(
            c, "removal", "ListRemovals", rm.ListRemovalsRequest(workspace_id=ws, page_size=200), "removals"
        )
        due = present.due_items(open_tasks, requests.items, orders.items, LABELS)
        return self.render(
            c.request, "workspace.html", user=c.user, ws=ws, due=due, horizon_days=DUE_HORIZON.days,
            time_left=lambda d: present.time_left(d, c.now), legal_zone=present.legal_zone,
            counts={"tasks": tasks.count, "requests": requests.count, "orders": orders.count,
                    "removals": removals.count},
            cut=not (tasks.complete and requests.complete and orders.complete and removals.complete),
            removals=removals.items,
        )  # fmt: skip

    async def _all_tasks(self, c: Ctx, ws: str, *, taken_out: bool = False) -> Listing:
        """The workspace's tasks (every page); ``taken_out``: only those whose assignee was taken out of it."""
        ask = tk.ListTasksRequest(workspace_id=ws, page_size=200, assignee_taken_out=taken_out)
        return await self._every_page(c, "tasks", "ListTasks", ask, "tasks")

    # ------------------------------------------------------------ tasks

    async def tasks(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        # ``?taken_out=1``: the tasks whose assignee was taken out of the JIT, for their issuer to assign anew.
        taken_out = c.request.query_params.get("taken_out") == "1"
        tasks = await self._all_tasks(c, ws, taken_out=taken_out)
        columns = [(s, [t for t in tasks.items if t.state == s]) for s in TASK_COLUMNS]
        return self.render(
            c.request, "tasks.html", user=c.user, ws=ws, columns=columns, cut=not tasks.complete, taken_out=taken_out,
            kinds=_choices(tk.TaskKind, _NOT_CREATED_KINDS),
            priorities=_choices(tk.TaskPriority),
            new_request_id=uuid.uuid4(), kept=c.user.take_form(c.request.url.path) or present.NOT_KEPT,
        )  # fmt: skip

    async def create_task(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        form = await c.request.form()
        c.request.state.kept_form = present.Kept.of(form, TASK_FIELDS)
        try:
            days = int(str(form.get("due_in_days") or "0"))
            # Enum names: a number the enum does not have is refused here, by name.
            kind = _enum_name(tk.TaskKind, form.get("kind"))
            priority = _enum_name(tk.TaskPriority, form.get("priority"))
        except ValueError:
            raise Refused(INVALID, "Refused: kind, priority and days must be chosen from the form.") from None
        if not 0 <= days <= DUE_IN_DAYS_MAX:
            raise Refused(INVALID, f"Refused: Due in (days): from 0 to {DUE_IN_DAYS_MAX}.")
        req = tk.CreateTaskRequest(
            request_id=str(form.get("request_id") or uuid.uuid4()),
            workspace_id=ws,
            title=str(form.get("title") or ""),
            description=str(form.get("description") or ""),
            kind=kind,
            assignee_jurisdiction=str(form.get("assignee") or "").strip().upper(),
            priority=priority,
            # Restricted to the parties unless the issuer widens it, as the service's own default.
            visibility=WHOLE_WORKSPACE if form.get("whole_workspace") else PARTIES_ONLY,
            victim_refs=pseudonyms(str(form.get("victim_refs") or "")),
        )
        if days > 0:
            req.due_at.FromDatetime(c.now + dt.timedelta(days=days))
        task = (await self.backend.call("tasks", "CreateTask", req, c.token)).task
        return self._done(c.request, f"Task created and sent to {task.assignee_jurisdiction}.", f"/tasks/{task.id}")

    async def task(self, c: Ctx) -> Response:
        task = (
            await self.backend.call("tasks", "GetTask", tk.GetTaskRequest(id=_id(c.request.path_params["id"])), c.token)
        ).task
        return self.render(
            c.request, "task.html", user=c.user, task=task, kind="task", record=task,
            hold=c.hold_link(task.workspace_id, "task", task.id),
        )  # fmt: skip

    # ------------------------------------------------------------ evidence requests

    async def request_page(self, c: Ctx) -> Response:
        rid = _id(c.request.path_params["id"])
        req = (await self.backend.call("evidence", "GetRequest", ev.GetRequestRequest(id=rid), c.token)).request
        items = (
            await self.backend.call("evidence", "ListItems", ev.ListItemsRequest(evidence_request_id=rid), c.token)
        ).items
        return self.render(
            c.request, "request.html", user=c.user, req=req, items=items, kind="request", record=req,
            time_left=lambda d: present.time_left(d, c.now),
            upload_max_mb=self.settings.console_upload_max_mb,
            hold=c.hold_link(req.workspace_id, "evidence_request", req.id),
        )  # fmt: skip

    async def requests(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        ask = ev.ListRequestsRequest(workspace_id=ws, page_size=200, page_token=_page_token(c.request))
        page = await self.backend.call("evidence", "ListRequests", ask, c.token)
        drafts = c.offered(PROSECUTORS)
        # The orders a request may follow (production after preservation): the service links only one of
        # the drafter's own jurisdiction in this workspace, and says so otherwise.
        orders = (
            [o for o in (await self.backend.call(
                "preservation", "ListOrders", pv.ListOrdersRequest(workspace_id=ws, page_size=200), c.token
            )).orders if o.origin_jurisdiction == c.user.jurisdiction]
            if drafts else []
        )  # fmt: skip

        kept = c.user.take_form(c.request.url.path) or present.NOT_KEPT
        return self.render(
            c.request, "requests.html", user=c.user, ws=ws, requests=page.requests,
            later=bool(ask.page_token), next_page=_next_page(c.request, page.next_page_token),
            drafts=drafts, orders=orders, bases=REQUEST_BASES, new_request_id=uuid.uuid4(),
            procedures=_choices(ev.EpocProcedure), addressee_kinds=_choices(ev.AddresseeKind),
            categories=_choices(ev.DataCategory), target_types=_choices(ev.TargetType),
            offences=_choices(ev.OffenceCategory), urgencies=_choices(ev.Urgency),
            listed_offences=_choices(ev.ListedOffence), sentence_max=legal.MAX_SENTENCE_MONTHS_MAX,
            target_rows=_target_rows(kept), more_rows=DRAFT_TARGET_ROWS, targets_max=DRAFT_TARGETS_MAX, kept=kept,
        )  # fmt: skip

    async def create_request(self, c: Ctx) -> Response:
        """An evidence request drafted in the form of the requests' page: the service checks it (the
        instrument against the addressee, the data, the targets, the members) and answers with the draft or
        the reason."""
        ws = c.request.path_params["ws"]
        form = await c.request.form()
        kept = c.request.state.kept_form = present.Kept.of(form, REQUEST_FIELDS)
        more = self._more_targets(c, kept, "r-target-{n}-type")
        if more is not None:
            return more

        def number(enum: Any, field: str) -> str:
            return _enum_name(enum, form.get(field))

        def target(n: int, value: str) -> Message:
            platform = str(form.get(f"target_{n}_platform") or "").strip()
            return ev.TargetIdentifier(type=number(ev.TargetType, f"target_{n}_type"), value=value, platform=platform)

        try:
            basis, procedure = number(ev.LegalBasis, "legal_basis"), number(ev.EpocProcedure, "epoc_procedure")
            kind, offence = number(ev.AddresseeKind, "addressee_kind"), number(ev.OffenceCategory, "offence_category")
            urgency, listed = number(ev.Urgency, "urgency"), number(ev.ListedOffence, "listed_offence")
            # Left empty: no indication (0); the service checks the range and that it goes with the offence.
            months = int(str(form.get("max_sentence_months") or "").strip() or 0)
            if not -(2**31) <= months < 2**31:  # beyond the field's int32: not a sentence the service checks
                raise ValueError(months)
            categories = [_enum_name(ev.DataCategory, v) for v in form.getlist("data_categories")]
            targets = _typed_targets(form, target)
        except ValueError:
            raise Refused(
                INVALID, "Refused: the instrument, the addressee, the data, the targets' kinds, the offence, the "
                "urgency and the listed offence must be chosen from the form, the maximum sentence a number of months."
            ) from None  # fmt: skip
        req = ev.CreateRequestRequest(
            request_id=str(form.get("request_id") or uuid.uuid4()),
            workspace_id=ws,
            legal_basis=basis,
            epoc_procedure=procedure,
            issuing_authority=str(form.get("issuing_authority") or ""),
            addressee_kind=kind,
            addressee_jurisdiction=str(form.get("addressee_jurisdiction") or "").strip().upper(),
            provider_name=str(form.get("provider_name") or "").strip(),
            data_categories=categories,
            targets=targets,
            offence_category=offence,
            urgency=urgency,
            title=str(form.get("title") or ""),
            description=str(form.get("description") or ""),
            # Restricted to the parties unless the issuer widens it, as for a task.
            visibility=WHOLE_WORKSPACE if form.get("whole_workspace") else PARTIES_ONLY,
            shared_with=jurisdictions(str(form.get("shared_with") or "")),
            notification_exemption_reason=str(form.get("notification_exemption_reason") or ""),
            victim_refs=pseudonyms(str(form.get("victim_refs") or "")),
            preservation_order_id=str(form.get("preservation_order_id") or ""),
            listed_offence=listed,
            max_sentence_months=months,
        )
        created = (await self.backend.call("evidence", "CreateRequest", req, c.token)).request
        drafted = "Evidence request drafted: issue it from its page when it is ready to go."
        return self._done(c.request, drafted, f"/requests/{created.id}")

    async def upload(self, c: Ctx) -> Response:
        """The browser sends the file as the raw body, its SHA-256 (computed in the browser) and name in
        headers; the console streams it to the evidence service in 1 MiB chunks, holding none of it."""
        rid = _id(c.request.path_params["id"])
        h = c.request.headers
        limit = self.settings.console_upload_max_mb * 1024 * 1024
        try:
            size = int(h.get("content-length") or "-1")
        except ValueError:
            size = -1
        if size < 0 or size > limit:
            return _json(
                {"error": f"the file must be sent with its length, at most {self.settings.console_upload_max_mb} MB"},
                413,
            )
        meta = ev.ItemMetadata(
            request_id=h.get("x-upload-id") or str(uuid.uuid4()),
            evidence_request_id=rid,
            sha256=(h.get("x-sha256") or "").lower(),
            size_bytes=size,
            media_type=h.get("content-type") or "application/octet-stream",
            filename=urllib.parse.unquote(h.get("x-filename") or "")[:255],
            description=urllib.parse.unquote(h.get("x-description") or "")[:2000],
            origin_jurisdiction=(h.get("x-origin") or "").upper()[:16],
            sensitive=h.get("x-sensitive") == "1",
        )

        async def parts() -> AsyncIterator[ev.UploadItemRequest]:
            yield ev.UploadItemRequest(metadata=meta)
            buffer = bytearray()
            async for piece in c.request.stream():
                buffer += piece
                while len(buffer) >= UPLOAD_CHUNK:
                    yield ev.UploadItemRequest(chunk=bytes(buffer[:UPLOAD_CHUNK]))
                    del buffer[:UPLOAD_CHUNK]
            if buffer:
                yield ev.UploadItemRequest(chunk=bytes(buffer))

        try:
            item = (await self.backend.stream_in("evidence", "UploadItem", parts(), c.token)).item
        except Refused as refused:
            return _json({"error": refused.words}, _http_status(refused))
        return _json({"id": item.id, "sha256": item.sha256, "href": f"/requests/{rid}#item-{item.id}"}, 201)

    async def download(self, c: Ctx) -> Response:
        item_id = _id(c.request.path_params["id"])
        form = await c.request.form()
        purpose = str(form.get("purpose") or "").strip()
        if not purpose:
            raise Refused(INVALID, "Refused: purpose is required: say why you open the item.")
        stream = self.backend.stream_out(
            "evidence", "DownloadItem", ev.DownloadItemRequest(item_id=item_id, purpose=purpose), c.token
        )
        first = await anext(stream)  # the item's metadata; a refusal is raised here, before any byte is sent
        item = first.item
        # A sensitive item's file name may say what it shows: it is saved under its id (never shown inline).
        name = f"{item.id}.bin" if item.sensitive or not item.filename else item.filename

        async def body() -> AsyncIterator[bytes]:
            async for part in stream:
                if part.WhichOneof("part") == "chunk":
                    yield part.chunk

        disposition = f"attachment; filename*=UTF-8''{urllib.parse.quote(name)}"
        headers = {
            "Content-Disposition": disposition,
            "Content-Length": str(item.size_bytes),
            "Cache-Control": "no-store",
            "X-Content-SHA256": item.sha256,
        }
        return StreamingResponse(body(), media_type="application/octet-stream", headers=headers)

    async def custody(self, c: Ctx) -> Response:
        item_id = _id(c.request.path_params["id"])
        item = (await self.backend.call("evidence", "GetItem", ev.GetItemRequest(item_id=item_id), c.token)).item
        entries = (
            await self.backend.call("evidence", "ListCustody", ev.ListCustodyRequest(item_id=item_id), c.token)
        ).entries
        return self.render(
            c.request, "custody.html", user=c.user, item=item, entries=entries,
            hold=c.hold_link(item.workspace_id, "evidence_item", item.id),
        )  # fmt: skip

    # ------------------------------------------------------------ preservation orders

    async def orders(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        ask = pv.ListOrdersRequest(workspace_id=ws, page_size=200, page_token=_page_token(c.request))
        page = await self.backend.call("preservation", "ListOrders", ask, c.token)
        drafts = c.offered(PROSECUTORS_AND_LIAISONS)
        providers = (
            (await self.backend.call("preservation", "ListProviders", pv.ListProvidersRequest(), c.token)).providers
            if drafts else ()
        )  # fmt: skip
        kept = c.user.take_form(c.request.url.path) or present.NOT_KEPT
        return self.render(
            c.request, "orders.html", user=c.user, ws=ws, orders=page.orders,
            time_left=lambda d: present.time_left(d, c.now),
            later=bool(ask.page_token), next_page=_next_page(c.request, page.next_page_token),
            drafts=drafts, providers=providers, bases=ORDER_BASES, new_request_id=uuid.uuid4(),
            target_rows=_target_rows(kept), more_rows=DRAFT_TARGET_ROWS, targets_max=DRAFT_TARGETS_MAX, kept=kept,
            target_kinds=_choices(pv.TargetKind),
            categories=_choices(pv.DataCategory), notices=ORDER_NOTICES,
        )  # fmt: skip

    async def create_order(self, c: Ctx) -> Response:
        """A preservation order drafted in the form of the orders' page: the service checks it (the provider,
        the targets, the legal basis against the members) and answers with the draft or the reason."""
        ws = c.request.path_params["ws"]
        form = await c.request.form()
        kept = c.request.state.kept_form = present.Kept.of(form, ORDER_FIELDS)
        more = self._more_targets(c, kept, "o-target-{n}-kind")
        if more is not None:
            return more

        def target(n: int, value: str) -> Message:
            return pv.TargetIdentifier(kind=_enum_name(pv.TargetKind, form.get(f"target_{n}_kind")), value=value)

        try:
            # Enum numbers: one the enum does not have is refused here, by its field.
            basis = _enum_name(pv.LegalBasis, form.get("legal_basis"))
            categories = [_enum_name(pv.DataCategory, v) for v in form.getlist("data_categories")]
            targets = _typed_targets(form, target)
            notice = _enum_name(pv.UserNoticeStatus, form.get("user_notice_status"))
            day = str(form.get("user_notice_suppressed_until") or "").strip()
            # A day, as the end of that day in UTC (as the order page's "Suppressed until (day)").
            until = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(23, 59), tzinfo=dt.UTC) if day else None
        except ValueError:
            raise Refused(
                INVALID, "Refused: the legal basis, the kinds of targets and the data must be chosen from the form, as "
                "must the notice to the account holder; the end of its suppression is a day (YYYY-MM-DD)."
            ) from None  # fmt: skip
        req = pv.CreateOrderRequest(
            request_id=str(form.get("request_id") or uuid.uuid4()),
            workspace_id=ws,
            legal_basis=basis,
            provider_id=str(form.get("provider_id") or ""),
            targets=targets,
            data_categories=categories,
            description=str(form.get("description") or ""),
            # Restricted to the parties unless the issuer widens it, as for a task.
            visibility=WHOLE_WORKSPACE if form.get("whole_workspace") else PARTIES_ONLY,
            shared_with=jurisdictions(str(form.get("shared_with") or "")),
            victim_refs=pseudonyms(str(form.get("victim_refs") or "")),
            user_notice_status=notice,
        )
        if until is not None:
            req.user_notice_suppressed_until.FromDatetime(until)
        order = (await self.backend.call("preservation", "CreateOrder", req, c.token)).order
        drafted = "Preservation order drafted: record it as sent once the provider has it."
        return self._done(c.request, drafted, f"/orders/{order.id}")

    async def order(self, c: Ctx) -> Response:
        order = (
            await self.backend.call(
                "preservation", "GetOrder", pv.GetOrderRequest(id=_id(c.request.path_params["id"])), c.token
            )
        ).order
        return self.render(
            c.request, "order.html", user=c.user, order=order, kind="order", record=order,
            time_left=lambda d: present.time_left(d, c.now), enforcement_due=present.order_enforcement_deadline(order),
            hold=c.hold_link(order.workspace_id, "preservation_order", order.id),
        )  # fmt: skip

    # ------------------------------------------------------------ removal requests to platforms

    async def removals(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        ask = rm.ListRemovalsRequest(workspace_id=ws, page_size=200, page_token=_page_token(c.request))
        page = await self.backend.call("removal", "ListRemovals", ask, c.token)
        drafts = c.offered(PROSECUTORS_AND_LIAISONS)
        providers: Any = ()
        orders: Any = ()
        if drafts:
            # The register's platforms, and the orders a removal may keep (preserve before removing: the
            # service finds the live order of the same target itself, and refuses one that is not live).
            ask_orders = pv.ListOrdersRequest(workspace_id=ws, page_size=200)
            providers = (
                await self.backend.call("preservation", "ListProviders", pv.ListProvidersRequest(), c.token)
            ).providers
            orders = (await self.backend.call("preservation", "ListOrders", ask_orders, c.token)).orders
        kept = c.user.take_form(c.request.url.path) or present.NOT_KEPT
        return self.render(
            c.request, "removals.html", user=c.user, ws=ws, removals=page.removals,
            time_left=lambda d: present.time_left(d, c.now),
            later=bool(ask.page_token), next_page=_next_page(c.request, page.next_page_token),
            drafts=drafts, providers=providers, bases=REMOVAL_BASES, orders=orders, new_request_id=uuid.uuid4(),
            target_rows=_target_rows(kept), more_rows=DRAFT_TARGET_ROWS, targets_max=DRAFT_TARGETS_MAX, kept=kept,
        )  # fmt: skip

    async def create_removal(self, c: Ctx) -> Response:
        """A removal request sent to a platform, recorded from the form of the removals' page: the service
        checks it (the items, the basis and its clock, preserve before removing) and answers with the record
        or the reason."""
        ws = c.request.path_params["ws"]
        form = await c.request.form()
        kept = c.request.state.kept_form = present.Kept.of(form, REMOVAL_FIELDS)
        more = self._more_targets(c, kept, "m-target-{n}")
        if more is not None:
            return more

        def text(name: str) -> str:
            return str(form.get(name) or "").strip()

        try:
            basis = _enum_name(rm.RemovalBasis, form.get("basis"))
        except ValueError:
            raise Refused(INVALID, "Refused: the legal basis must be chosen from the form.") from None
        items = [
            rm.ContentItem(url=text(f"target_{n}"), platform_item_id=text(f"target_{n}_item"),
                           account=text(f"target_{n}_account"), sha256=text(f"target_{n}_sha256").lower())
            for n in range(1, DRAFT_TARGETS_MAX + 1)
            if any(text(f"target_{n}{part}") for part in _REMOVAL_ITEM)
        ]  # fmt: skip
        req = rm.CreateRemovalRequest(
            request_id=text("request_id") or str(uuid.uuid4()),
            workspace_id=ws,
            basis=basis,
            national_jurisdiction=text("national_jurisdiction").upper(),
            provider_id=text("provider_id"),
            items=items,
            preservation_order_id=text("preservation_order_id"),
            proceed_without_preservation_reason=str(form.get("proceed_without_preservation_reason") or ""),
            victim_refs=pseudonyms(text("victim_refs")),
        )
        if text("sent_at"):
            try:
                set_instant(req.sent_at, text("sent_at"), "Sent to the platform at")
            except FormError as exc:
                raise Refused(INVALID, f"Refused: {exc}.") from None
        created = (await self.backend.call("removal", "CreateRemoval", req, c.token)).removal
        recorded = "Removal request recorded: record the platform's answers on its page as they come."
        return self._done(c.request, recorded, f"/removals/{created.id}")

    async def removal(self, c: Ctx) -> Response:
        removal = (
            await self.backend.call(
                "removal", "GetRemoval", rm.GetRemovalRequest(id=_id(c.request.path_params["id"])), c.token
            )
        ).removal
        return self.render(c.request, "removal.html", user=c.user, removal=removal, kind="removal", record=removal,
                           bases=dict(REMOVAL_BASES), time_left=lambda d: present.time_left(d, c.now))  # fmt: skip

    # ------------------------------------------------------------ victims (pseudonyms; identity by need to know)

    async def victims(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        ask = vc.ListVictimsRequest(workspace_id=ws, page_size=200, page_token=_page_token(c.request))
        page = await self.backend.call("victims", "ListVictims", ask, c.token)
        return self.render(
            c.request, "victims.html", user=c.user, ws=ws, victims=page.victims,
            later=bool(ask.page_token), next_page=_next_page(c.request, page.next_page_token),
            registers=c.offered(PROSECUTORS_AND_LIAISONS), offences=stats.OFFENCES,
            new_request_id=uuid.uuid4(), kept=c.user.take_form(c.request.url.path) or present.NOT_KEPT,
        )  # fmt: skip

    async def register_victim(self, c: Ctx) -> Response:
        """A victim registered from the form of the victims' page: the identity goes to the victims service,
        sealed there, and the page shows the pseudonym the service gives; nothing of the identity is kept
        here, not even when the service refuses the form (it is typed again)."""
        ws = c.request.path_params["ws"]
        form = await c.request.form()
        c.request.state.kept_form = present.Kept.of(form, VICTIM_FIELDS)

        def text(name: str) -> str:
            return str(form.get(name) or "").strip()

        req = vc.RegisterVictimRequest(
            request_id=text("request_id") or str(uuid.uuid4()),
            workspace_id=ws,
            victim_jurisdiction=text("victim_jurisdiction").upper(),
            identity=vc.VictimIdentity(
                full_name=text("full_name"),
                date_of_birth=text("date_of_birth"),
                contact=str(form.get("contact") or ""),
                languages=text("languages").lower().replace(",", " ").split(),
                needs=str(form.get("needs") or ""),
            ),
            offences=[str(o) for o in form.getlist("offences")],
        )
        victim = (await self.backend.call("victims", "RegisterVictim", req, c.token)).victim
        registered = f"Victim registered as {victim.pseudonym}: name them by this pseudonym only from now on."
        return self._done(c.request, registered, f"/victims/{victim.id}")

    async def victim(self, c: Ctx) -> Response:
        """A victim by pseudonym, never its identity; the identity form only for whom the service says may
        read it (``allowed_actions``)."""
        victim = (
            await self.backend.call(
                "victims", "GetVictim", vc.GetVictimRequest(id=_id(c.request.path_params["id"])), c.token
            )
        ).victim
        return self.render(
            c.request, "victim.html", user=c.user, victim=victim, identity=None, kind="victim", record=victim,
            notices=await self._notices(c, victim), hold=c.hold_link(victim.workspace_id, "victim", victim.id),
        )  # fmt: skip

    async def _notices(self, c: Ctx, victim: Any) -> Any:
        """What the victim was told, as the victims service lists it (the lead's node keeps the notices: on
        another node, or refused, None and the page says where they are)."""
        try:
            return (
                await self.backend.call(
                    "victims", "ListVictimNotices", vc.ListVictimNoticesRequest(victim_id=victim.id), c.token
                )
            ).notices
        except Refused:
            return None

    async def victim_identity(self, c: Ctx) -> Response:
        """The identity, after the user stated why: shown in this answer only (no-store), never kept in the
        session nor put in a URL. The service audits the read and keeps the purpose."""
        victim_id = _id(c.request.path_params["id"])
        form = await c.request.form()
        purpose = str(form.get("purpose") or "").strip()
        if not purpose:
            raise Refused(INVALID, "Refused: purpose is required: say why you read the victim's identity.")
        answer = await self.backend.call(
            "victims", "GetVictimIdentity", vc.GetVictimIdentityRequest(id=victim_id, purpose=purpose), c.token
        )
        return self.render(
            c.request, "victim.html", user=c.user, victim=answer.victim, identity=answer.identity,
            kind="victim", record=answer.victim, notices=await self._notices(c, answer.victim),
            hold=c.hold_link(answer.victim.workspace_id, "victim", answer.victim.id),
        )  # fmt: skip

    # ------------------------------------------------------------ statistics and the JIT's evaluation

    @staticmethod
    def _statistics_request(c: Ctx, ws: str) -> st.GetStatisticsRequest:
        """The table the form asks for: its choices go to the service, which checks them (and refuses a k
        under the node's in words)."""
        q = c.request.query_params
        measure = q.get("measure") or "requests"
        groupings = [g for g in (q.get("by") or "", q.get("by2") or "") if g]
        return st.GetStatisticsRequest(measure=measure, groupings=groupings, workspace_id=ws, k=_k(c.request))

    async def statistics(self, c: Ctx) -> Response:
        """A table of counts of the workspace, small cells suppressed by the service, and its chart."""
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        request = self._statistics_request(c, ws)
        answer = await self.backend.call("statistics", "GetStatistics", request, c.token)
        table = stats.table_from_pb(answer.table)
        return self.render(
            c.request,
            "statistics.html",
            user=c.user,
            ws=ws,
            table=table,
            rows=stats.table_rows(table),
            chart=f"/w/{ws}/statistics/chart.png?{c.request.url.query}",
            measures=[m.value for m in stats.Measure],
            dimensions=stats.DIMENSIONS[table.measure],
            suppressed=stats.SUPPRESSED,
        )

    async def statistics_chart(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        answer = await self.backend.call("statistics", "GetStatistics", self._statistics_request(c, ws), c.token)
        table = stats.table_from_pb(answer.table)
        title = f"{table.measure.value} by {', '.join(table.groupings) or 'nothing'} (k = {table.k})"
        png = stats.chart_png([(title, table)], ws)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def evaluation(self, c: Ctx) -> Response:
        """The JIT's evaluation as a download: the CSV or the PNG (its lead's prosecutors only)."""
        ws, kind = c.request.path_params["ws"], c.request.path_params["kind"]
        if ws not in c.user.workspaces or kind not in ("csv", "png"):
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        answer = await self.backend.call(
            "statistics", "ExportEvaluation", st.ExportEvaluationRequest(workspace_id=ws), c.token
        )
        body, media = (answer.csv, "text/csv; charset=utf-8") if kind == "csv" else (answer.chart_png, "image/png")
        disposition = f'attachment; filename="{ws}-evaluation.{kind}"'
        return Response(
            body, media_type=media, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
        )

    # ------------------------------------------------------------ the scorecard per platform

    @staticmethod
    def _scorecard_request(c: Ctx, ws: str) -> sc.GetScorecardRequest:
        return sc.GetScorecardRequest(workspace_id=ws, k=_k(c.request))

    async def scorecard(self, c: Ctx) -> Response:
        """How each platform answered in the workspace (what the user may read), small cells suppressed by
        the service, and its chart."""
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        answer = await self.backend.call("scorecard", "GetScorecard", self._scorecard_request(c, ws), c.token)
        return self.render(
            c.request,
            "scorecard.html",
            user=c.user,
            ws=ws,
            k=answer.k,
            platforms=answer.platforms,
            answers=scorecards.answer_rows(answer),
            refusals=scorecards.refusal_rows(answer),
            reuploads=scorecards.reupload_rows(answer),
            chart=f"/w/{ws}/scorecard/chart.png?{c.request.url.query}",
            suppressed=stats.SUPPRESSED,
        )

    async def scorecard_chart(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        answer = await self.backend.call("scorecard", "GetScorecard", self._scorecard_request(c, ws), c.token)
        png = scorecards.chart_png(answer, f"Platform scorecard: {ws} (k = {answer.k})")
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------ actions on any record

    async def act(self, c: Ctx) -> Response:
        kind, action_name = c.request.path_params["kind"], c.request.path_params["action"]
        record_id = _id(c.request.path_params["id"])
        table = TABLES.get(kind)
        action = table.get(action_name) if table else None
        if action is None:
            raise Refused(NOT_FOUND, "Not found: no such action.")
        form: dict[str, str] = {}
        for k, v in (await c.request.form()).multi_items():  # a box ticked for each of several choices
            form[k] = f"{form[k]},{v}" if k in form else str(v)
        try:
            req = build_request(action, record_id, form.get("version", ""), form)
        except FormError as exc:
            raise Refused(INVALID, f"Refused: {exc}.") from None
        await self.backend.call(action.service, action.method, req, c.token)
        return self._done(c.request, f"Done: {action.label.lower()}.")

    # ------------------------------------------------------------ threads, live

    async def thread(self, c: Ctx) -> Response:
        kind = c.request.path_params["kind"]
        if kind not in _KINDS:
            raise Refused(NOT_FOUND, "Not found: no such kind of record.")
        ref = common_pb2.RecordRef(kind=_KINDS[kind], id=_id(c.request.path_params["id"]))
        channel = (
            await self.backend.call("messaging", "OpenRecordThread", mg.OpenRecordThreadRequest(record=ref), c.token)
        ).channel
        return await self._channel_page(c, channel, back=f"/{kind}s/{ref.id}")

    async def workspace_channel(self, c: Ctx) -> Response:
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        channel = (
            await self.backend.call(
                "messaging", "OpenWorkspaceChannel", mg.OpenWorkspaceChannelRequest(workspace_id=ws), c.token
            )
        ).channel
        return await self._channel_page(c, channel, back=f"/w/{ws}")

    async def channels(self, c: Ctx) -> Response:
        """The workspace's channels the user may read (the workspace's own, and those restricted to some of its
        jurisdictions; records' threads are on the records' pages), and the form to open a restricted one."""
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        found = await self.backend.call("messaging", "ListChannels", mg.ListChannelsRequest(workspace_id=ws), c.token)
        restricted = [ch for ch in found.channels if ch.kind == mg.CHANNEL_KIND_RESTRICTED]
        return self.render(
            c.request, "channels.html", user=c.user, ws=ws, channels=restricted, new_request_id=uuid.uuid4(),
            kept=c.user.take_form(c.request.url.path) or present.NOT_KEPT,
        )  # fmt: skip

    async def create_channel(self, c: Ctx) -> Response:
        """A channel restricted to the user's jurisdiction and those named (members of the workspace: the
        service checks), for what the others must not read."""
        ws = c.request.path_params["ws"]
        form = await c.request.form()
        c.request.state.kept_form = present.Kept.of(form, CHANNEL_FIELDS)
        req = mg.CreateChannelRequest(
            request_id=str(form.get("request_id") or uuid.uuid4()),
            workspace_id=ws,
            title=str(form.get("title") or "").strip(),
            members=jurisdictions(str(form.get("members") or "")),
        )
        channel = (await self.backend.call("messaging", "CreateChannel", req, c.token)).channel
        return self._done(c.request, "Channel opened: only its jurisdictions read it.", f"/channels/{channel.id}")

    async def channel(self, c: Ctx) -> Response:
        channel = (
            await self.backend.call(
                "messaging", "GetChannel", mg.GetChannelRequest(id=_id(c.request.path_params["cid"])), c.token
            )
        ).channel
        hold = c.hold_link(channel.workspace_id, "channel", channel.id)
        return await self._channel_page(c, channel, back=f"/w/{channel.workspace_id}/channels", hold=hold)

    async def _channel_page(self, c: Ctx, channel: Any, back: str, hold: str | None = None) -> Response:
        after = max(0, channel.last_seq - 100)
        messages = (
            await self.backend.call(
                "messaging",
                "ListMessages",
                mg.ListMessagesRequest(channel_id=channel.id, after_seq=after, page_size=100),
                c.token,
            )
        ).messages
        last = messages[-1].seq if messages else after
        return self.render(
            c.request,
            "thread.html",
            user=c.user,
            channel=channel,
            messages=messages,
            last_seq=last,
            back=back,
            new_request_id=uuid.uuid4(),
            hold=hold,
        )

    async def post_message(self, c: Ctx) -> Response:
        cid = _id(c.request.path_params["cid"])
        form = await c.request.form()
        body = str(form.get("body") or "")
        req = mg.PostMessageRequest(request_id=str(form.get("request_id") or uuid.uuid4()), channel_id=cid, body=body)
        await self.backend.call("messaging", "PostMessage", req, c.token)
        return RedirectResponse(self._back(c.request), status_code=303)

    async def edit_message(self, c: Ctx) -> Response:
        """A new revision of the user's own message (the service keeps the earlier ones and refuses another
        sender's, or a revision someone else made meanwhile)."""
        form = await c.request.form()
        revision = str(form.get("expected_revision") or "0")
        if not (revision.isascii() and revision.isdigit() and int(revision) < 2**31):
            raise Refused(INVALID, "Refused: expected_revision: must be a whole number.")
        req = mg.EditMessageRequest(
            id=_id(c.request.path_params["id"]), body=str(form.get("body") or ""), expected_revision=int(revision)
        )
        await self.backend.call("messaging", "EditMessage", req, c.token)
        return self._done(c.request, "Message changed.")

    async def rotate_key(self, c: Ctx) -> Response:
        """A new data key for the channel's new messages, from the key version the page showed: the form sent
        again (its answer lost, a second click) is refused by the service (KEY_VERSION_MISMATCH), never a
        second rotation."""
        form = await c.request.form()
        version = str(form.get("expected_key_version") or "0")
        if not (version.isascii() and version.isdigit() and int(version) < 2**31):
            raise Refused(INVALID, "Refused: expected_key_version: must be a whole number.")
        req = mg.RotateChannelKeyRequest(
            channel_id=_id(c.request.path_params["cid"]), expected_key_version=int(version)
        )
        rotated = (await self.backend.call("messaging", "RotateChannelKey", req, c.token)).channel
        return self._done(c.request, f"Key rotated: new messages are sealed under key version {rotated.key_version}.")

    async def delete_message(self, c: Ctx) -> Response:
        """The user's own message deleted: a revision without its content; the thread says it was deleted."""
        await self.backend.call(
            "messaging", "DeleteMessage", mg.DeleteMessageRequest(id=_id(c.request.path_params["id"])), c.token
        )
        return self._done(c.request, "Message deleted.")

    async def live(self, c: Ctx) -> Response:
        """Server-sent events: each new message of the channel as an HTML fragment, from the messaging
        service's Subscribe stream (it checks access when the stream opens, and ends it when the token it
        was opened with expires: the stream is opened again, from the last message sent, with the session's
        renewed token, while the session lasts)."""
        cid = _id(c.request.path_params["cid"])
        # A reconnecting browser says what it has (Last-Event-ID, the seq of the last message it got).
        after = 0
        for given in (c.request.query_params.get("after", ""), c.request.headers.get("last-event-id", "")):
            if given.isascii() and given.isdigit() and len(given) < 19:
                after = max(after, int(given))
        template = self.env.get_template("message.html")
        tz, csrf = c.tz, _csrf(c.request)

        async def events() -> AsyncIterator[dict[str, str]]:
            seen, token = after, c.token
            while True:
                stream = self.backend.stream_out(
                    "messaging", "Subscribe", mg.SubscribeRequest(channel_id=cid, after_seq=seen), token
                )
                try:
                    async for part in stream:
                        html = template.render(
                            m=part.message, when=lambda v: present.when(v, tz), ts=present.instant, me=c.user, csrf=csrf
                        )
                        seen = max(seen, part.message.seq)
                        yield {"event": "message", "id": str(part.message.seq), "data": html}
                    return
                except Refused as refused:
                    renewed = await self._renewed_token(c.user, token) if refused.reason == "TOKEN_EXPIRED" else None
                    if renewed is None:
                        yield {"event": "refused", "data": refused.words}
                        return
                    token = renewed

        return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})

    async def _renewed_token(self, user: UserSession, expired: str) -> str | None:
        """A newer access token than ``expired`` while the user's session lasts, else None."""
        if not self.sessions.held(user):
            return None
        try:
            token = await self.sessions.access_token(user)
        except LoginRequired:
            return None
        return token if token != expired else None

    # ------------------------------------------------------------ legal holds

    @staticmethod
    async def _each_service(call: Callable[[str], Awaitable[Any]]) -> list[tuple[str, Any, str | None]]:
        """``call`` asked of every service at once: (service, its answer, None) or (service, None, why it
        refused or failed), in ``SERVICES``' order."""

        async def one(service: str) -> tuple[str, Any, str | None]:
            try:
                return service, await call(service), None
            except Refused as refused:
                return service, None, refused.words

        return list(await asyncio.gather(*(one(service) for service in SERVICES)))

    async def retention(self, c: Ctx) -> Response:
        """The workspace's legal holds, one row per thing held (the whole workspace, or one record) with the
        services where each is active or released, as each service answers; a service that refuses or fails
        says so (each keeps its own data, and its own holds)."""
        ws = c.request.path_params["ws"]
        if ws not in c.user.workspaces:
            raise Refused(NOT_FOUND, NO_WORKSPACE)
        ask = rt.ListLegalHoldsRequest(workspace_id=ws)
        answers = await self._each_service(
            lambda service: self.backend.call(f"{service}.retention", "ListLegalHolds", ask, c.token)
        )
        kind, _, rid = str(c.request.query_params.get("record") or "").partition(":")
        held = present.holds((service, answer.holds) for service, answer, problem in answers if problem is None)
        return self.render(
            c.request, "retention.html", user=c.user, ws=ws, new_request_id=uuid.uuid4(), sets=c.offered(PROSECUTORS),
            held=held, release_ids=[uuid.uuid4() for _ in held],
            failed=[(service, problem) for service, _, problem in answers if problem is not None],
            records=HOLD_RECORDS, reason_max=HOLD_REASON_MAX,
            # A record's page links here with ``?record=KIND:ID``: the form opens on that record.
            record=(kind, rid[:64]) if kind in HOLD_RECORDS else ("", ""),
        )  # fmt: skip

    async def change_hold(self, c: Ctx) -> Response:
        """A legal hold on the whole workspace or on one of its records, set (with its reason) or released in
        every service at once, as ``jit retention hold`` does: the page says in which it took and why not in
        the others. Each form carries one request id for every service, so sending it again (for those, or a
        double click) sets or releases nothing twice: a service that took it answers what it did."""
        ws = c.request.path_params["ws"]
        form = await c.request.form()
        release = form.get("release") == "1"
        kind = str(form.get("record_type") or "")
        rid = str(form.get("record_id") or "").strip()
        if kind and kind not in HOLD_RECORDS:
            raise Refused(INVALID, "Refused: record_type is not a kind of record a legal hold may name.")
        if kind and not rid:
            raise Refused(INVALID, f"Refused: record_id is required: the id of the {HOLD_RECORDS[kind]} to hold.")
        reason = str(form.get("reason") or "").strip()
        if not release and not reason:
            raise Refused(INVALID, "Refused: reason is required: say why nothing of the workspace may be deleted.")
        request_id = str(form.get("request_id") or uuid.uuid4())
        ask: Message = (
            rt.ReleaseLegalHoldRequest(
                request_id=request_id, workspace_id=ws, record_type=kind, record_id=rid if kind else ""
            )
            if release
            else rt.SetLegalHoldRequest(
                request_id=request_id, workspace_id=ws, record_type=kind, record_id=rid if kind else "", reason=reason
            )
        )
        method = "ReleaseLegalHold" if release else "SetLegalHold"
        answers = await self._each_service(
            lambda service: self.backend.call(f"{service}.retention", method, ask, c.token)
        )
        took = [service for service, _, problem in answers if problem is None]
        refused = [f"{service}: {problem}" for service, _, problem in answers if problem is not None]
        done = "released" if release else "set"
        on = f" on the {HOLD_RECORDS[kind]} {rid[:64]}" if kind else ""
        if not refused:
            return self._done(c.request, f"Legal hold{on} {done} in every service ({', '.join(took)}).")
        text = f"Legal hold{on} {done} in {', '.join(took) or 'no service'}; not in {'; '.join(refused)}"
        c.request.session["flash"] = {"kind": "error", "text": text[:600]}
        return RedirectResponse(self._back(c.request), status_code=303)

    # ------------------------------------------------------------ the auditor

    async def audit(self, c: Ctx) -> Response:
        ask = audit_pb2.VerifyAuditChainRequest()
        chains = await self._each_service(lambda service: self.backend.audit(service, "VerifyAuditChain", ask, c.token))
        checked, c.user.evidence_check = c.user.evidence_check, None
        return self.render(c.request, "audit.html", user=c.user, chains=chains, evidence=checked)

    async def verify_evidence(self, c: Ctx) -> Response:
        """An auditor's check of every stored evidence item (its SHA-256 recomputed from the bytes) and every
        chain of custody, by the evidence service (``VerifyEvidence``); the audit page shows the answer once."""
        c.user.evidence_check = await self.backend.call(
            "evidence", "VerifyEvidence", ev.VerifyEvidenceRequest(), c.token
        )
        return RedirectResponse("/audit", status_code=303)

    # ------------------------------------------------------------ routes

    def routes(self) -> list[Any]:
        g = self.guarded
        return [
            Route("/", self.home),
            Route("/healthz", self.healthz),
            Route("/login", self.login),
            Route("/auth/callback", self.callback),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/workspaces", g(self.workspaces)),
            Route("/w/{ws}", g(self.workspace)),
            Route("/w/{ws}/tasks", g(self.tasks)),
            Route("/w/{ws}/tasks", g(self.create_task), methods=["POST"]),
            Route("/w/{ws}/requests", g(self.requests)),
            Route("/w/{ws}/requests", g(self.create_request), methods=["POST"]),
            Route("/w/{ws}/orders", g(self.orders)),
            Route("/w/{ws}/orders", g(self.create_order), methods=["POST"]),
            Route("/w/{ws}/removals", g(self.removals)),
            Route("/w/{ws}/removals", g(self.create_removal), methods=["POST"]),
            Route("/w/{ws}/channel", g(self.workspace_channel)),
            Route("/w/{ws}/channels", g(self.channels)),
            Route("/w/{ws}/retention", g(self.retention)),
            Route("/w/{ws}/retention", g(self.change_hold), methods=["POST"]),
            Route("/w/{ws}/channels", g(self.create_channel), methods=["POST"]),
            Route("/w/{ws}/victims", g(self.victims)),
            Route("/w/{ws}/victims", g(self.register_victim), methods=["POST"]),
            Route("/w/{ws}/statistics", g(self.statistics)),
            Route("/w/{ws}/statistics/chart.png", g(self.statistics_chart)),
            Route("/w/{ws}/scorecard", g(self.scorecard)),
            Route("/w/{ws}/scorecard/chart.png", g(self.scorecard_chart)),
            Route("/w/{ws}/evaluation.{kind}", g(self.evaluation)),
            Route("/victims/{id}", g(self.victim)),
            Route("/victims/{id}/identity", g(self.victim_identity), methods=["POST"]),
            Route("/tasks/{id}", g(self.task)),
            Route("/requests/{id}", g(self.request_page)),
            Route("/requests/{id}/items", g(self.upload), methods=["POST"]),
            Route("/items/{id}/download", g(self.download), methods=["POST"]),
            Route("/items/{id}/custody", g(self.custody)),
            Route("/orders/{id}", g(self.order)),
            Route("/removals/{id}", g(self.removal)),
            Route("/act/{kind}/{id}/{action}", g(self.act), methods=["POST"]),
            Route("/thread/{kind}/{id}", g(self.thread)),
            Route("/channels/{cid}/messages", g(self.post_message), methods=["POST"]),
            Route("/channels/{cid}/rotate-key", g(self.rotate_key), methods=["POST"]),
            Route("/channels/{cid}/live", g(self.live)),
            Route("/channels/{cid}", g(self.channel)),
            Route("/messages/{id}/edit", g(self.edit_message), methods=["POST"]),
            Route("/messages/{id}/delete", g(self.delete_message), methods=["POST"]),
            Route("/audit", g(self.audit)),
            Route("/audit/evidence", g(self.verify_evidence), methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]


_OPEN_TASK_STATES = {
    tk.TASK_STATE_PROPOSED, tk.TASK_STATE_ASSIGNED, tk.TASK_STATE_DECLINED, tk.TASK_STATE_ACCEPTED,
    tk.TASK_STATE_IN_PROGRESS, tk.TASK_STATE_BLOCKED, tk.TASK_STATE_HANDED_BACK,
}  # fmt: skip


def _k(request: Request) -> int:
    """The smallest count shown (``k``) the URL asks for; 0 (absent) is the node's own. The service refuses
    one under the node's in words."""
    raw = request.query_params.get("k") or "0"
    if not (raw.isascii() and raw.isdigit() and int(raw) <= _INT32_MAX):
        raise Refused(INVALID, "Refused: k must be a whole number, 5 or more.")
    return int(raw)


def _http_status(refused: Refused) -> int:
    return {
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.FAILED_PRECONDITION: 409,
        grpc.StatusCode.ALREADY_EXISTS: 409,
        grpc.StatusCode.ABORTED: 409,
        grpc.StatusCode.UNAUTHENTICATED: 401,
        grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    }.get(refused.code, 503)


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")
