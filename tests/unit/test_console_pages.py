"""The console's pure parts: the due list, times in the user's and the deadline's zone, the action forms,
refusals in words, the cookie rule, and the workspace home as rendered HTML."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc.aio import AioRpcError, Metadata

from jit.evidence.v1 import evidence_pb2 as ev
from jit.preservation.v1 import preservation_pb2 as pv
from jit.tasks.v1 import tasks_pb2 as tk
from services.console import present
from services.console.actions import ORDER_ACTIONS, REQUEST_ACTIONS, TASK_ACTIONS, TEXT_MAX, FormError, build_request
from services.console.backend import refusal
from services.console.settings import ConsoleSettings
from services.console.web import LABELS

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def ts(value: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def task(title: str, due: dt.datetime) -> tk.Task:
    return tk.Task(id=title, title=title, state=tk.TASK_STATE_ASSIGNED, assignee_jurisdiction="DE", due_at=ts(due))


def test_due_items_are_soonest_first_and_overdue_ones_are_marked() -> None:
    late = task("late", NOW - dt.timedelta(hours=3))
    soon = task("soon", NOW + dt.timedelta(days=1))
    undated = tk.Task(id="x", title="undated", state=tk.TASK_STATE_ASSIGNED)
    request = ev.EvidenceRequest(
        id="r",
        title="EIO to DE",
        addressee_jurisdiction="DE",
        next_deadline_at=ts(NOW + dt.timedelta(days=5)),
        deadlines=[
            ev.Deadline(kind=ev.DEADLINE_KIND_ACKNOWLEDGE, due_at=ts(NOW - dt.timedelta(days=1)), overdue=True),
            ev.Deadline(kind=ev.DEADLINE_KIND_EXECUTE, due_at=ts(NOW + dt.timedelta(days=5)), source="Art. 12(4)"),
            ev.Deadline(kind=ev.DEADLINE_KIND_EXECUTE, due_at=ts(NOW + dt.timedelta(days=90))),  # not the next one
        ],
    )
    order = pv.PreservationOrder(id="o", provider_id="socialnet-ie", expires_at=ts(NOW + dt.timedelta(days=2)))
    items = present.due_items([soon, undated, late], [request], [order], LABELS)
    assert [(i.kind, i.record_id) for i in items] == [
        ("request", "r"),
        ("task", "late"),
        ("task", "soon"),
        ("order", "o"),
        ("request", "r"),
    ]
    assert [i.overdue(NOW) for i in items] == [True, True, False, False, False]
    assert items[-1].legal_jurisdiction == "DE" and "Art. 12(4)" in items[-1].what
    assert items[2].legal_jurisdiction == ""  # a task's due date is the team's, not a legal deadline


def test_times_show_in_the_users_zone_and_a_deadline_in_its_own() -> None:
    due = dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.UTC)
    assert present.when(due, present.zone("Europe%2FAmsterdam")) == "Tue 15 Dec 2026, 17:00 CET"
    assert present.when(due, present.zone("Europe/Dublin")) == "Tue 15 Dec 2026, 16:00 GMT"
    assert present.zone("Mars/Olympus").key == "UTC"
    assert present.zone("x" * 500).key == "UTC"
    assert present.zone(None).key == "UTC"
    zone = present.legal_zone("IE")
    assert zone is not None and zone.key == "Europe/Dublin"
    assert present.legal_zone("ZZ") is None
    assert present.time_left(due, due - dt.timedelta(days=2)) == "2 days left"
    assert present.time_left(due, due + dt.timedelta(hours=3)) == "overdue by 3 hours"


def test_an_action_form_becomes_its_request_or_is_refused_naming_the_field() -> None:
    req = build_request(TASK_ACTIONS["decline"], "t-1", "4", {"reason": "  not ours  "})
    assert (req.id, req.expected_version, req.reason) == ("t-1", 4, "not ours")
    with pytest.raises(FormError, match="Reason: is required"):
        build_request(TASK_ACTIONS["decline"], "t-1", "4", {"reason": "   "})
    with pytest.raises(FormError, match="version: must be a number"):
        build_request(TASK_ACTIONS["accept"], "t-1", "four", {})
    with pytest.raises(FormError, match=f"at most {TEXT_MAX}"):
        build_request(TASK_ACTIONS["complete"], "t-1", "1", {"outcome": "x" * (TEXT_MAX + 1)})
    refuse = REQUEST_ACTIONS["refuse"]
    with pytest.raises(FormError, match="Ground for refusal: choose one"):
        build_request(refuse, "r", "1", {"ground": "999", "detail": "d"})
    ok = build_request(refuse, "r", "1", {"ground": str(ev.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE), "detail": "d"})
    assert ok.ground == ev.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE
    postponed = build_request(REQUEST_ACTIONS["postpone"], "r", "1", {"reason": "trial", "until": "2027-01-31"})
    assert postponed.until.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2027, 1, 31, 23, 59, tzinfo=dt.UTC)
    with pytest.raises(FormError, match="YYYY-MM-DD"):
        build_request(REQUEST_ACTIONS["postpone"], "r", "1", {"reason": "trial", "until": "31/01/2027"})
    assert build_request(ORDER_ACTIONS["extend"], "o", "2", {"ignored": "x"}).expected_version == 2
    # The provider's stated receipt, a day and time in UTC (the browser's datetime-local sends no zone).
    confirm = build_request(ORDER_ACTIONS["confirm"], "o", "2", {"received_at": "2026-11-30T14:05"})
    assert confirm.received_at.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2026, 11, 30, 14, 5, tzinfo=dt.UTC)
    assert not build_request(ORDER_ACTIONS["confirm"], "o", "2", {}).HasField("received_at")
    with pytest.raises(FormError, match="YYYY-MM-DDTHH:MM"):
        build_request(ORDER_ACTIONS["confirm"], "o", "2", {"received_at": "yesterday"})
    notice = build_request(
        ORDER_ACTIONS["update_user_notice"],
        "o",
        "5",
        {"status": str(pv.USER_NOTICE_STATUS_SUPPRESSED), "suppressed_until": "2027-03-01"},
    )
    assert isinstance(notice, pv.UpdateUserNoticeRequest) and notice.status == pv.USER_NOTICE_STATUS_SUPPRESSED
    assert notice.suppressed_until.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2027, 3, 1, 23, 59, tzinfo=dt.UTC)
    assert not build_request(ORDER_ACTIONS["update_user_notice"], "o", "5", {"status": "4"}).HasField(
        "suppressed_until"
    )
    delay = build_request(REQUEST_ACTIONS["notify_delay"], "r", "3", {"reason": "seized", "expected_at": "2027-02-01"})
    assert delay.reason == "seized" and delay.expected_at.ToDatetime(tzinfo=dt.UTC).date() == dt.date(2027, 2, 1)
    with pytest.raises(FormError, match="Expected by"):
        build_request(REQUEST_ACTIONS["notify_delay"], "r", "3", {"reason": "seized"})


def test_every_transition_a_service_may_list_has_its_form() -> None:
    """What the domains name in their transition tables is what the console knows (the clock's own
    'expire' and the system's closure of a follow-up task are never offered to a user; uploads have their
    own form)."""
    from services.evidence.domain import TRANSITIONS as EV
    from services.preservation.domain import TRANSITIONS as PV
    from services.tasks.domain import SYSTEM_ONLY
    from services.tasks.domain import TRANSITIONS as TK

    assert set(TK) - SYSTEM_ONLY == set(TASK_ACTIONS)
    assert set(EV) == set(REQUEST_ACTIONS)
    from services.preservation.domain import CLOCK_ONLY

    assert set(PV) - CLOCK_ONLY == set(ORDER_ACTIONS)


def _rpc_error(code: grpc.StatusCode, details: str) -> AioRpcError:
    return AioRpcError(code, Metadata(), Metadata(), details=details)


def test_refusals_are_words_and_never_echo_unbounded_text() -> None:
    assert "not shared with you" in refusal(_rpc_error(grpc.StatusCode.NOT_FOUND, "task abc not found")).words
    words = refusal(_rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "cannot accept a task that is DONE")).words
    assert words == "Refused: cannot accept a task that is DONE."
    long = refusal(_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "x" * 5000)).words
    assert len(long) <= 300
    assert "reload the page" in refusal(_rpc_error(grpc.StatusCode.ABORTED, "version")).words


@pytest.mark.parametrize(
    ("url", "choice", "secure"),
    [
        ("http://127.0.0.1:8088", "auto", False),
        ("http://localhost:8088", "auto", False),
        ("https://console.jit.example", "auto", True),
        ("http://console.jit.example", "auto", True),
        ("http://127.0.0.1:8088", "true", True),
    ],
)
def test_cookies_are_secure_everywhere_but_plain_http_on_loopback(url: str, choice: str, secure: bool) -> None:
    settings = ConsoleSettings(console_public_url=url, console_cookie_secure=choice)
    assert settings.cookie_secure() is secure


def test_the_workspace_home_marks_overdue_items(monkeypatch: Any) -> None:
    from services.console.sessions import Sessions
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    console = Console(settings, Sessions(settings))
    due = present.due_items(
        [task("late", NOW - dt.timedelta(hours=3)), task("soon", NOW + dt.timedelta(days=1))], [], [], LABELS
    )
    html = console.env.get_template("workspace.html").render(
        ws="jit-demo",
        due=due,
        now=NOW,
        here="home",
        user=None,
        counts={"tasks": 2, "requests": 0, "orders": 0},
        time_left=lambda d: present.time_left(d, NOW),
        legal_zone=present.legal_zone,
        when=lambda v: present.when(v, present.zone("UTC")),
        tz=present.zone("UTC"),
    )
    assert html.count('class="badge overdue">Overdue') == 1
    assert html.index("late") < html.index("soon")
    assert "overdue by 3 hours" in html and "1 day left" in html
    assert "No removal request visible to you" in html


def test_the_workspace_home_lists_removal_requests_with_their_clock() -> None:
    """The console shows a workspace's removal requests read-only: basis, state, due time with the clock's
    source, past due marked, the link to the preservation order, re-uploads (REMOVAL_DSA_ART9_CLOCK)."""
    from jit.preservation.v1 import removal_pb2 as rm
    from services.console.sessions import Sessions
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    console = Console(settings, Sessions(settings))
    late = rm.RemovalRequest(
        id="r1", provider_id="socialnet-ie", basis=rm.REMOVAL_BASIS_DSA_ART9_ORDER, state=rm.REMOVAL_REQUEST_STATE_SENT,
        due_at=ts(NOW - dt.timedelta(hours=2)), past_due=True, clock_source="24 h (Reg. (EU) 2022/2065 Art. 9(1))",
        victim_refs=["V-NL-0001"], reupload_count=2,
    )  # fmt: skip
    linked = rm.RemovalRequest(
        id="r2", provider_id="socialnet-ie", basis=rm.REMOVAL_BASIS_DSA_ART16_NOTICE,
        state=rm.REMOVAL_REQUEST_STATE_REMOVED, due_at=ts(NOW + dt.timedelta(days=1)), decided_at=ts(NOW),
        preservation_order_id="o-1",
    )  # fmt: skip
    html = console.env.get_template("workspace.html").render(
        ws="jit-demo", due=[], now=NOW, here="home", user=None,
        counts={"tasks": 0, "requests": 0, "orders": 1, "removals": 2}, removals=[late, linked],
        time_left=lambda d: present.time_left(d, NOW), legal_zone=present.legal_zone,
        when=lambda v: present.when(v, present.zone("UTC")), tz=present.zone("UTC"), ts=present.instant,
    )  # fmt: skip
    assert html.count("Past due") == 1 and "Art. 9(1)" in html and "dsa art9 order" in html
    assert 'href="/orders/o-1"' in html and "answered in time" in html and "V-NL-0001" in html
    assert "2 removal requests visible to you" in html


def test_the_renegotiation_form_sends_a_day_and_a_priority() -> None:
    """TASK_RENEGOTIATION in the console: a new due day (its end, UTC) and/or priority, with a reason."""
    req = build_request(
        TASK_ACTIONS["renegotiate"], "t-1", "3", {"due_at": "2027-01-31", "priority": "4", "reason": "x"}
    )
    assert isinstance(req, tk.RenegotiateTaskRequest) and req.expected_version == 3 and req.reason == "x"
    assert req.due_at.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2027, 1, 31, 23, 59, tzinfo=dt.UTC)
    assert req.priority == tk.TASK_PRIORITY_URGENT
    only_priority = build_request(TASK_ACTIONS["renegotiate"], "t-1", "3", {"priority": "1", "reason": "x"})
    assert not only_priority.HasField("due_at")
    with pytest.raises(FormError, match="Reason"):
        build_request(TASK_ACTIONS["renegotiate"], "t-1", "3", {"priority": "1"})


def test_a_request_shows_its_notified_delay_next_to_the_legal_deadline() -> None:
    """EIO_DELAY_NOTICE (Directive 2014/41/EU Art. 12(6)): the page shows the legal deadline, the date the
    executing state expects next to it, and who notified the delay, when and why."""
    from services.console.sessions import Sessions
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    console = Console(settings, Sessions(settings))
    due, expected = NOW + dt.timedelta(days=20), NOW + dt.timedelta(days=70)
    ts = lambda v: present.instant(v)  # noqa: E731
    req = ev.EvidenceRequest(
        id="r-1",
        workspace_id="jit-demo",
        title="Subscriber data",
        addressee_jurisdiction="DE",
        state=ev.EVIDENCE_REQUEST_STATE_IN_EXECUTION,
    )
    d = req.deadlines.add(kind=ev.DEADLINE_KIND_EXECUTE, source="Directive 2014/41/EU Art. 12(4)")
    d.due_at.FromDatetime(due)
    d.expected_at.FromDatetime(expected)
    req.delay.deadline = ev.DEADLINE_KIND_EXECUTE
    req.delay.reason = "the server is seized abroad"
    req.delay.expected_at.FromDatetime(expected)
    req.delay.notified_at.FromDatetime(NOW)
    req.delay.notified_by.username = "de-prosecutor"
    req.delay.notified_by.jurisdiction = "DE"
    html = console.env.get_template("request.html").render(
        req=req,
        record=req,
        kind="request",
        items=[],
        user=None,
        legal_zone=present.legal_zone("DE"),
        time_left=lambda v: present.time_left(v, NOW),
        when=lambda v: present.when(v, present.zone("UTC")),
        ts=ts,
        tz=present.zone("UTC"),
        now=NOW,
        upload_max_mb=1,
    )
    assert "the legal deadline does not move" in html and expected.isoformat() in html
    assert due.isoformat() in html and "the server is seized abroad" in html and "de-prosecutor (DE)" in html


def test_a_restricted_item_is_listed_without_a_download_form() -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 10(4)): an item the enforcing state's objection
    restricted is shown as kept but restricted, with no download form; another item keeps its form."""
    from services.console.sessions import Sessions
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    console = Console(settings, Sessions(settings))
    req = ev.EvidenceRequest(id="r-2", workspace_id="jit-demo", title="Content", addressee_jurisdiction="IE")
    req.items_restricted_at.FromDatetime(NOW)
    kept = ev.EvidenceItem(id="i-restricted", filename="chat.json", restricted=True)
    other = ev.EvidenceItem(id="i-open", filename="later.json", allowed_actions=["download"])
    for it in (kept, other):
        it.received_at.FromDatetime(NOW)
    html = console.env.get_template("request.html").render(
        req=req,
        record=req,
        kind="request",
        items=[kept, other],
        user=None,
        legal_zone=present.legal_zone("IE"),
        time_left=lambda v: present.time_left(v, NOW),
        when=lambda v: present.when(v, present.zone("UTC")),
        ts=present.instant,
        tz=present.zone("UTC"),
        now=NOW,
        upload_max_mb=1,
    )
    assert "/items/i-open/download" in html and "/items/i-restricted/download" not in html
    assert "Restricted" in html and "Items restricted" in html


def test_records_show_the_victims_they_concern_by_pseudonym_and_the_task_form_asks_for_them() -> None:
    """VICTIM_BY_PSEUDONYM in the console: a task's, request's and order's page and their lists show the
    victims' pseudonyms; the new-task form takes them, separated by commas or spaces."""
    from services.console.actions import pseudonyms

    console, common = _task_page_context()
    refs = ["V-NL-0001", "V-NL-0002"]
    t = tk.Task(id="t-1", workspace_id="jit-demo", title="Identify the uploader", victim_refs=refs)
    t.created_at.FromDatetime(NOW)
    r = ev.EvidenceRequest(id="r-1", workspace_id="jit-demo", title="Subscriber data", victim_refs=refs[:1])
    o = pv.PreservationOrder(id="o-1", workspace_id="jit-demo", provider_id="socialnet-ie", victim_refs=refs[1:])
    pages = {
        "task.html": dict(task=t, record=t, kind="task"),
        "request.html": dict(req=r, record=r, kind="request"),
        "order.html": dict(order=o, record=o, kind="order"),
        "tasks.html": dict(ws="jit-demo", columns=[(tk.TASK_STATE_ASSIGNED, [t])], kinds=[], priorities=[]),
        "requests.html": dict(ws="jit-demo", requests=[r]),
        "orders.html": dict(ws="jit-demo", orders=[o]),
    }
    expected = {"task.html": refs, "request.html": refs[:1], "order.html": refs[1:], "tasks.html": refs}
    expected |= {"requests.html": refs[:1], "orders.html": refs[1:]}
    for name, ctx in pages.items():
        html = console.env.get_template(name).render(**common, **ctx)
        assert [ref for ref in refs if ref in html] == expected[name], name
        assert ", ".join(expected[name]) in html and "Victims" in html, name
    form = console.env.get_template("tasks.html").render(**common, **pages["tasks.html"])
    assert 'name="victim_refs"' in form and "never in the title or description" in form
    assert pseudonyms(" v-nl-0001, V-NL-0002  V-NL-0003,") == ["V-NL-0001", "V-NL-0002", "V-NL-0003"]


def test_a_sensitive_item_is_listed_by_its_metadata_with_no_preview_and_asks_for_a_purpose() -> None:
    """SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE: a sensitive item shows its size, digest, media type and the word
    Sensitive, never its name, description or an image; its download form asks for a purpose; a user the
    service did not let open it gets no form; the approval form carries the export request's number."""
    from services.console.sessions import Sessions
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    console = Console(settings, Sessions(settings))
    req = ev.EvidenceRequest(id="r-3", workspace_id="jit-demo", title="Images", addressee_jurisdiction="DE")
    opener = ev.EvidenceItem(
        id="i-s1", filename="victim.jpg", description="image of V-NL-0007", media_type="image/jpeg",
        size_bytes=4321, sha256="ab" * 32, sensitive=True, allowed_actions=["download", "approve_export"],
    )  # fmt: skip
    opener.pending_export.request.seq = 7
    opener.pending_export.request.recipient = "Rechtbank Amsterdam"
    opener.pending_export.request.purpose = "trial"
    opener.pending_export.request.actor.username = "nl-liaison"
    other = ev.EvidenceItem(id="i-s2", media_type="image/png", size_bytes=99, sensitive=True)
    for it in (opener, other):
        it.received_at.FromDatetime(NOW)
    html = console.env.get_template("request.html").render(
        req=req, record=req, kind="request", items=[opener, other], user=None,
        legal_zone=present.legal_zone("DE"), time_left=lambda v: present.time_left(v, NOW),
        when=lambda v: present.when(v, present.zone("UTC")), ts=present.instant, tz=present.zone("UTC"),
        now=NOW, upload_max_mb=1,
    )  # fmt: skip
    assert "victim.jpg" not in html and "V-NL-0007" not in html
    assert "<img" not in html and "<video" not in html and "<iframe" not in html and "<object" not in html
    assert "Sensitive" in html and "ab" * 32 in html and "4321 bytes" in html and "image/jpeg" in html
    assert "/items/i-s1/download" in html and "Purpose of opening this sensitive item" in html
    assert "/items/i-s2/download" not in html and "You may not open this sensitive item" in html
    assert "/act/item/i-s1/approve_export" in html and 'name="export_request_seq" value="7"' in html
    assert "awaiting a second prosecutor" in html


def test_the_item_forms_become_their_requests() -> None:
    """SENSITIVE_ITEM_EXPORT_FOUR_EYES: the console's item forms name the item and carry what the page took
    from it (the export request's number, the approved destination, the export as the custody action)."""
    from services.console.actions import ITEM_ACTIONS

    approve = build_request(ITEM_ACTIONS["approve_export"], "i-1", "", {"export_request_seq": "7"})
    assert approve == ev.ApproveExportRequest(item_id="i-1", export_request_seq=7)
    with pytest.raises(FormError, match="whole number"):
        build_request(ITEM_ACTIONS["approve_export"], "i-1", "", {"export_request_seq": "x"})
    form = {"purpose": "trial", "recipient": "Court", "request_id": "0f1e2d3c-4b5a-4968-8776-655443322110"}
    export = build_request(ITEM_ACTIONS["export"], "i-1", "", form)
    assert export == ev.RecordCustodyEventRequest(
        item_id="i-1",
        action=ev.CUSTODY_ACTION_EXPORTED,
        purpose="trial",
        recipient="Court",
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
    )
    # The form's request id is new each time the page is shown: a form sent twice records one act.
    (once,) = [i for i in ITEM_ACTIONS["export"].inputs if i.name == "request_id"]
    assert once.value is not None and once.value(None) != once.value(None)
    with pytest.raises(FormError, match="Reason"):
        build_request(ITEM_ACTIONS["mark_sensitive"], "i-1", "", {})
    from services.evidence.domain import ITEM_ACTIONS as OFFERED

    assert set(OFFERED) - {"download"} == set(ITEM_ACTIONS)  # every item action the service lists has a form


def test_a_request_shows_its_user_notice_suppressed_until_and_lapsed_once_the_order_ended() -> None:
    """USER_NOTICE_SUPPRESSION_LAPSES: where the page shows the user notice, it shows until when a
    non-disclosure order suppresses it, and, once the service says it has lapsed, that the provider may now
    notify the account holder."""
    from services.console.sessions import Sessions
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    console = Console(settings, Sessions(settings))
    until = NOW - dt.timedelta(hours=1)

    def page(lapsed: bool) -> str:
        req = ev.EvidenceRequest(
            id="r-3",
            workspace_id="jit-demo",
            title="Subscriber data",
            addressee_jurisdiction="IE",
            user_notice_status=ev.USER_NOTICE_STATUS_SUPPRESSED,
            user_notice_suppression_lapsed=lapsed,
        )
        req.user_notice_suppressed_until.FromDatetime(until)
        return console.env.get_template("request.html").render(
            req=req,
            record=req,
            kind="request",
            items=[],
            user=None,
            legal_zone=present.legal_zone("IE"),
            time_left=lambda v: present.time_left(v, NOW),
            when=lambda v: present.when(v, present.zone("UTC")),
            ts=present.instant,
            tz=present.zone("UTC"),
            now=NOW,
            upload_max_mb=1,
        )

    running, lapsed = page(False), page(True)
    assert f'until <time datetime="{until.isoformat()}">' in running and "Lapsed" not in running
    assert f'until <time datetime="{until.isoformat()}">' in lapsed
    assert "Lapsed</strong>: the non-disclosure order has ended, the provider may notify the account holder" in lapsed


def test_task_taken_back_in_the_console_marks_the_assignee_taken_out_and_the_assign_form_sends_a_reason() -> None:
    """TASK_TAKEN_BACK in the console: a task whose assignee was taken out of the JIT says so on its page and
    in the task board; the assign form sends the new member and an optional reason."""
    console, common = _task_page_context()
    for out in (False, True):
        t = tk.Task(id="t-1", workspace_id="jit-demo", title="Identify the uploader", assignee_jurisdiction="DE")
        t.assignee_taken_out = out
        t.created_at.FromDatetime(NOW)
        page = console.env.get_template("task.html").render(**common, task=t, record=t, kind="task")
        board = console.env.get_template("tasks.html").render(
            **common, ws="jit-demo", columns=[(tk.TASK_STATE_ACCEPTED, [t])], kinds=[], priorities=[]
        )
        assert ("Taken out of the JIT" in page) is out and ("taken out</strong>" in board) is out
    req = build_request(TASK_ACTIONS["assign"], "t-1", "3", {"assignee_jurisdiction": "IE", "reason": "DE left"})
    assert isinstance(req, tk.AssignTaskRequest) and req.assignee_jurisdiction == "IE" and req.reason == "DE left"
    assert build_request(TASK_ACTIONS["assign"], "t-1", "3", {}).reason == ""


def _task_page_context() -> tuple[Any, dict[str, Any]]:
    """A console and what its task pages are rendered with, for an NL prosecutor of jit-demo (UTC)."""
    from types import SimpleNamespace

    from services.console.sessions import Sessions
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    common = dict(
        user=SimpleNamespace(roles=("prosecutor",), workspaces=("jit-demo",), jurisdiction="NL"),
        when=lambda v: present.when(v, present.zone("UTC")),
        ts=present.instant,
        tz=present.zone("UTC"),
        now=NOW,
        time_left=lambda v: present.time_left(v, NOW),
        legal_zone=present.legal_zone("DE"),
        upload_max_mb=1,
        items=[],
    )
    return Console(settings, Sessions(settings)), common


def test_an_order_whose_issuer_was_taken_out_says_so_on_its_page_and_in_the_list() -> None:
    """ORDER_ISSUER_TAKEN_OUT in the console: the order's page and the workspace's orders list mark an issuer
    taken out of the JIT (``issuer_taken_out``), and no other."""
    from jit.preservation.v1 import preservation_pb2 as pv

    console, common = _task_page_context()
    for out in (False, True):
        o = pv.PreservationOrder(id="o-1", workspace_id="jit-demo", origin_jurisdiction="DE", provider_id="p")
        o.issuer_taken_out = out
        page = console.env.get_template("order.html").render(**common, order=o, record=o, kind="order")
        listed = console.env.get_template("orders.html").render(**common, ws="jit-demo", orders=[o], providers=[])
        assert ("Taken out of the JIT</strong>: its node sends nothing more" in page) is out
        assert ("issuer DE taken out" in listed) is out


def test_an_order_page_shows_its_enforcement_and_the_enforcing_states_deadline_in_its_time() -> None:
    """EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS in the console: an EPOC-PR transferred to IE shows
    the transfer and the enforcing state's deadline (5 of IE's working days: its October bank holiday not
    counted), in IE's time, while IE has not decided, also once production was requested meanwhile
    (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION); once recognised or refused (with its ground), or ended
    undecided, no deadline runs."""
    console, common = _task_page_context()
    requested, decided = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)

    def page(state: int, decision: bool = False, ground: int = 0, at: dt.datetime = requested) -> str:
        o = pv.PreservationOrder(id="o-1", workspace_id="jit-demo", origin_jurisdiction="NL", provider_id="p",
                                 legal_basis=pv.LEGAL_BASIS_EPOC_PR, state=state, enforcing_jurisdiction="IE",
                                 enforcement_refusal_ground=ground)  # fmt: skip
        o.enforcement_requested_at.FromDatetime(at)
        if decision:
            o.enforcement_decided_at.FromDatetime(decided)
        return console.env.get_template("order.html").render(
            **common, order=o, record=o, kind="order", enforcement_due=present.order_enforcement_deadline(o)
        )

    waiting = page(pv.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT)
    assert f'transferred to IE on <time datetime="{requested.isoformat()}">' in waiting
    assert "its recognition decision is awaited" in waiting
    # Thu 26 Nov: Fri 27, Mon 30, Tue 1, Wed 2, Thu 3 Dec; ends with Thu 3 Dec in Dublin.
    assert "<td>enforcement (working days)</td>" in waiting and "IE: 04 Dec 2026, 00:00 Europe/Dublin" in waiting
    assert "1 day 12 hours left" in waiting and "Overdue" not in waiting
    assert "Reg. (EU) 2023/1543 Art. 16(2)" in waiting
    during_production = page(pv.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED)
    assert "IE: 04 Dec 2026, 00:00 Europe/Dublin" in during_production
    # Transferred Thu 22 Oct: Mon 26 Oct is an Irish public holiday, so Fri 30 Oct is the fifth working day.
    late = page(pv.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT, at=dt.datetime(2026, 10, 22, 9, tzinfo=dt.UTC))
    assert "IE: 31 Oct 2026, 00:00 Europe/Dublin" in late and '<strong class="badge overdue">Overdue</strong>' in late

    recognised = page(pv.PRESERVATION_ORDER_STATE_ISSUED, decision=True)
    assert "recognised: the provider is required to preserve on" in recognised and decided.isoformat() in recognised
    refused = page(pv.PRESERVATION_ORDER_STATE_NOT_ENFORCED, decision=True,
                   ground=pv.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED)  # fmt: skip
    assert "recognition refused (data not stored) on" in refused
    lifted = page(pv.PRESERVATION_ORDER_STATE_LIFTED)
    recognised_during_production = page(pv.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED, decision=True)
    for shown in (recognised, refused, lifted, recognised_during_production):
        assert "transferred to IE on" in shown
        assert "Legal deadlines" not in shown and "Europe/Dublin" not in shown
