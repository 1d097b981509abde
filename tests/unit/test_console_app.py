"""The console as a browser meets it: the whole app of ``create_app`` (its body limits and headers, the
CSRF check, the session cookie, the routes), driven in process by Starlette's TestClient.

Two things stand in for what is outside the console: Keycloak (Authlib's code exchange answers a made-up
token, and the OpenID metadata is a fixed dict) and the gRPC services (a backend that answers what each
test sets, and records what it was asked)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import jwt
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.testclient import TestClient

from jit.audit.v1 import audit_pb2
from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as ev
from jit.messaging.v1 import messaging_pb2 as mg
from jit.preservation.v1 import preservation_pb2 as pv
from jit.preservation.v1 import removal_pb2 as rm
from jit.retention.v1 import retention_pb2 as rt
from jit.tasks.v1 import tasks_pb2 as tk
from jit.victims.v1 import victims_pb2 as vc
from jitlib.retention_service import RECORD_TYPES
from services.console import present, web
from services.console.app import SESSION_COOKIE, create_app
from services.console.backend import Refused
from services.console.sessions import LoginRequired, UserSession
from services.console.settings import SERVICES, ConsoleSettings
from services.console.web import HOLD_RECORDS, Console

WS = "jit-demo"
END_SESSION = "http://kc.test/realms/jit/protocol/openid-connect/logout"
CLAIMS = {
    "preferred_username": "nl-prosecutor",
    "jurisdiction": "NL",
    "realm_access": {"roles": ["prosecutor"]},
    "groups": [f"/workspaces/{WS}/NL"],
}


class Services:
    """The gRPC services as the console calls them: each (service, method) answers what the test set (a
    message, or a function of the request); every call is recorded with its token."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, str]] = []
        self.answers: dict[tuple[str, str], Any] = {
            ("evidence", "ListRequests"): ev.ListRequestsResponse(),
            ("tasks", "ListTasks"): tk.ListTasksResponse(),
            ("preservation", "ListOrders"): pv.ListOrdersResponse(),
            ("preservation", "ListProviders"): pv.ListProvidersResponse(),
            ("removal", "ListRemovals"): rm.ListRemovalsResponse(),
        }
        self.streams: list[Callable[[Any, str], AsyncIterator[Any]]] = []

    def asked(self, method: str) -> list[Any]:
        return [request for _, m, request, _ in self.calls if m == method]

    async def call(self, service: str, method: str, request: Any, token: str) -> Any:
        self.calls.append((service, method, request, token))
        answer = self.answers[(service, method)]
        return answer(request) if callable(answer) else answer

    async def audit(self, service: str, method: str, request: Any, token: str) -> Any:
        return await self.call(f"{service} audit", method, request, token)

    async def stream_out(self, service: str, method: str, request: Any, token: str) -> AsyncIterator[Any]:
        self.calls.append((service, method, request, token))
        async for part in self.streams.pop(0)(request, token):
            yield part


class Harness:
    def __init__(self, base_url: str = "http://testserver", **settings: Any) -> None:
        self.app = create_app(ConsoleSettings(console_client_secret="unit-test", **settings))
        starlette_app = self.app.app.__wrapped__  # Guard -> asgi-csrf -> Starlette
        self.console: Console = next(r.endpoint.__self__ for r in starlette_app.routes if getattr(r, "path", "") == "/")
        self.services = Services()
        self.console.backend = self.services  # type: ignore[assignment]
        self.http = TestClient(self.app, base_url=base_url, follow_redirects=False, raise_server_exceptions=False)

        async def metadata() -> dict[str, str]:
            return {"issuer": "http://kc.test/realms/jit", "end_session_endpoint": END_SESSION}

        self.console.sessions.client.load_server_metadata = metadata

    def login(self, claims: dict[str, Any] | None = None) -> UserSession:
        """Log in as NL's prosecutor of the demo workspace, or as ``claims`` say."""
        token = jwt.encode(claims or CLAIMS, "k" * 32, algorithm="HS256")

        async def exchange(request: Any, **kw: Any) -> dict[str, Any]:
            return {
                "access_token": token,
                "refresh_token": "r",
                "id_token": "the-id-token",
                "expires_at": time.time() + 300,
                "refresh_expires_in": 1800,
            }

        self.console.sessions.client.authorize_access_token = exchange
        assert self.http.get("/auth/callback?code=c&state=s").status_code == 303
        (session,) = self.console.sessions._sessions.values()
        return session

    def csrf(self) -> str:
        found = re.search(r'name="csrftoken" value="([^"]+)"', self.http.get("/workspaces").text)
        assert found
        return found.group(1)

    def post(self, path: str, data: dict[str, str]) -> Any:
        """A form post from the workspaces page; the refusal or outcome it leads to, as the page shows it."""
        sent = self.http.post(
            path, data={"csrftoken": self.csrf(), **data}, headers={"referer": "http://testserver/workspaces"}
        )
        return sent, self.http.get(sent.headers["location"]) if sent.status_code == 303 else None


@pytest.fixture
def h() -> Harness:
    return Harness()


def ts(value: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def rid(n: int) -> str:
    return str(uuid.UUID(int=n))


# ---------------------------------------------------------------- what is due, and the lists' pages


def test_the_due_page_asks_for_what_is_due_and_reads_every_page(h: Harness) -> None:
    """The second page of the requests due (past the first 200) has a deadline two days overdue; the
    orders' and removals' second pages their own. All are on the page, and the counts count them."""
    now = dt.datetime.now(dt.UTC)
    first = [ev.EvidenceRequest(id=rid(i + 1), workspace_id=WS, title=f"request {i}") for i in range(200)]
    late = ev.EvidenceRequest(
        id=rid(999),
        workspace_id=WS,
        title="LATE-EIO",
        addressee_jurisdiction="DE",
        next_deadline_at=ts(now - dt.timedelta(days=2)),
        deadlines=[ev.Deadline(kind=ev.DEADLINE_KIND_EXECUTE, due_at=ts(now - dt.timedelta(days=2)), overdue=True)],
    )
    h.services.answers[("evidence", "ListRequests")] = lambda r: (
        ev.ListRequestsResponse(requests=[late])
        if r.page_token == "r2"
        else ev.ListRequestsResponse(requests=first, next_page_token="r2")
    )
    order = pv.PreservationOrder(id=rid(5000), description="LATE-ORDER", expires_at=ts(now + dt.timedelta(days=3)))
    h.services.answers[("preservation", "ListOrders")] = lambda r: (
        pv.ListOrdersResponse(orders=[order]) if r.page_token == "o2" else pv.ListOrdersResponse(next_page_token="o2")
    )
    removal = rm.RemovalRequest(id=rid(6000), provider_id="LATE-PLATFORM", due_at=ts(now))
    h.services.answers[("removal", "ListRemovals")] = lambda r: (
        rm.ListRemovalsResponse(removals=[removal])
        if r.page_token == "m2"
        else rm.ListRemovalsResponse(next_page_token="m2")
    )
    h.login()
    page = h.http.get(f"/w/{WS}").text
    assert "LATE-EIO" in page and "LATE-ORDER" in page and "LATE-PLATFORM" in page
    assert "201 evidence requests" in page and "1 preservation orders" in page and "1 removal requests" in page
    # Asked by date: what is due within the horizon, overdue ones included.
    horizon = dt.datetime.now(dt.UTC) + web.DUE_HORIZON
    for method, field, tokens in (
        ("ListRequests", "deadline_before", ["", "r2"]),
        ("ListOrders", "expires_before", ["", "o2"]),
    ):
        asked = h.services.asked(method)
        assert [a.page_token for a in asked] == tokens
        assert all(now < getattr(a, field).ToDatetime(tzinfo=dt.UTC) <= horizon for a in asked)
    assert "stops at" not in page


def test_the_tasks_page_filters_the_tasks_whose_assignee_was_taken_out(h: Harness) -> None:
    """TASK_TAKEN_BACK: the tasks page's "assignee taken out of the JIT" link asks the service for those tasks
    alone (``assignee_taken_out``), marks them, and says so when there is none; "all tasks" asks for all."""
    out = tk.Task(id=rid(1), workspace_id=WS, title="DE-TASK", assignee_jurisdiction="DE", assignee_taken_out=True)
    out.state = tk.TASK_STATE_ACCEPTED
    h.services.answers[("tasks", "ListTasks")] = lambda r: tk.ListTasksResponse(
        tasks=[out] if r.assignee_taken_out else []
    )
    h.login()
    page = h.http.get(f"/w/{WS}/tasks?taken_out=1").text
    assert "DE-TASK" in page and "taken out</strong>" in page and "No task here" not in page
    assert f'href="/w/{WS}/tasks?taken_out=1" aria-current="page"' in page
    everything = h.http.get(f"/w/{WS}/tasks").text
    assert "DE-TASK" not in everything and "No task here" not in everything
    assert f'href="/w/{WS}/tasks" aria-current="page"' in everything
    assert [a.assignee_taken_out for a in h.services.asked("ListTasks")] == [True, False]
    h.services.answers[("tasks", "ListTasks")] = tk.ListTasksResponse()
    assert (
        "No task here is addressed to a country taken out of the JIT" in h.http.get(f"/w/{WS}/tasks?taken_out=1").text
    )


def test_a_due_page_cut_at_its_last_page_says_so(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "MAX_PAGES", 2)
    h.services.answers[("evidence", "ListRequests")] = lambda r: ev.ListRequestsResponse(
        requests=[ev.EvidenceRequest(id=rid(len(r.page_token) + 1))], next_page_token=r.page_token + "x"
    )
    h.login()
    page = h.http.get(f"/w/{WS}").text
    assert "more than 2 evidence requests" in page and "This page stops at" in page
    assert len(h.services.asked("ListRequests")) == 2


@pytest.mark.parametrize(
    ("path", "service", "method", "answer"),
    [
        (
            "requests",
            "evidence",
            "ListRequests",
            lambda n: ev.ListRequestsResponse(requests=[ev.EvidenceRequest(id=rid(n), title=f"R-{n}")]),
        ),
        (
            "orders",
            "preservation",
            "ListOrders",
            lambda n: pv.ListOrdersResponse(orders=[pv.PreservationOrder(id=rid(n), description=f"R-{n}")]),
        ),
        (
            "victims",
            "victims",
            "ListVictims",
            lambda n: vc.ListVictimsResponse(victims=[vc.Victim(id=rid(n), pseudonym=f"R-{n}")]),
        ),
    ],
)
def test_a_list_offers_its_next_page(h: Harness, path: str, service: str, method: str, answer: Any) -> None:
    def pages(request: Any) -> Any:
        out = answer(2 if request.page_token == "next+page/2" else 1)
        if not request.page_token:
            out.next_page_token = "next+page/2"
        return out

    h.services.answers[(service, method)] = pages
    h.login()
    first = h.http.get(f"/w/{WS}/{path}").text
    link = f"/w/{WS}/{path}?{urllib.parse.urlencode({'page_token': 'next+page/2'})}"
    assert "R-1" in first and f'href="{link}"' in first and "First page" not in first
    second = h.http.get(link).text
    assert "R-2" in second and "Next page" not in second and f'href="/w/{WS}/{path}">First page' in second
    assert [r.page_token for r in h.services.asked(method) if r.workspace_id] == ["", "next+page/2"]
    assert h.http.get(f"/w/{WS}/{path}?page_token={'x' * 600}").status_code == 400


# ---------------------------------------------------------------- drafting a preservation order


def _drafted(h: Harness, kind: str, form: dict[str, Any]) -> Any:
    """The draft form of the workspace's list of ``kind`` posted from that list: the console's answer."""
    return h.http.post(
        f"/w/{WS}/{kind}", data={"csrftoken": h.csrf(), **form}, headers={"referer": f"http://testserver/w/{WS}/{kind}"}
    )


def _socialnet_drafts(h: Harness) -> None:
    """The register holds one platform, SocialNet; a preservation order drafted is answered as ``rid(7)``."""
    h.services.answers[("preservation", "ListProviders")] = pv.ListProvidersResponse(
        providers=[pv.Provider(id="socialnet-ie", name="SocialNet", establishment_jurisdiction="IE")]
    )
    h.services.answers[("preservation", "CreateOrder")] = lambda r: pv.CreateOrderResponse(
        order=pv.PreservationOrder(id=rid(7), workspace_id=r.workspace_id)
    )


def test_a_preservation_order_is_drafted_from_the_orders_page_as_the_form_says(h: Harness) -> None:
    """The orders' page offers a prosecutor the draft form, its providers those the service lists; the form's
    order is the request the service gets: the targets filled in (the empty rows left out), the data ticked,
    the victims and the jurisdictions it is shared with as typed, kept to the parties unless widened. The
    answer's order is where the page goes next."""
    _socialnet_drafts(h)
    h.login()
    page = h.http.get(f"/w/{WS}/orders").text
    assert "Draft a preservation order" in page and '<option value="socialnet-ie">SocialNet (IE)</option>' in page
    form = {
        "request_id": rid(1),
        "legal_basis": str(pv.LEGAL_BASIS_EPOC_PR),
        "provider_id": "socialnet-ie",
        "target_1_kind": str(pv.TARGET_KIND_ACCOUNT_HANDLE),
        "target_1": " @rev3ng3_pics ",
        "target_2_kind": str(pv.TARGET_KIND_URL),
        "target_2": "",
        "target_3_kind": str(pv.TARGET_KIND_URL),
        "target_3": "https://socialnet.example/p/1",
        "description": "Images posted without consent",
        "victim_refs": "v-nl-0007, V-NL-0012",
        "shared_with": "ie, de",
    }
    sent = _drafted(h, "orders", {**form, "data_categories": [str(pv.DATA_CATEGORY_SUBSCRIBER), "3"]})
    assert sent.status_code == 303 and sent.headers["location"] == f"/orders/{rid(7)}"
    (asked,) = h.services.asked("CreateOrder")
    assert asked == pv.CreateOrderRequest(
        request_id=rid(1),
        workspace_id=WS,
        legal_basis=pv.LEGAL_BASIS_EPOC_PR,
        provider_id="socialnet-ie",
        targets=[
            pv.TargetIdentifier(kind=pv.TARGET_KIND_ACCOUNT_HANDLE, value="@rev3ng3_pics"),
            pv.TargetIdentifier(kind=pv.TARGET_KIND_URL, value="https://socialnet.example/p/1"),
        ],
        data_categories=[pv.DATA_CATEGORY_SUBSCRIBER, pv.DATA_CATEGORY_CONTENT],
        description="Images posted without consent",
        visibility=web.PARTIES_ONLY,
        shared_with=["IE", "DE"],
        victim_refs=["V-NL-0007", "V-NL-0012"],
    )


def test_a_preservation_order_is_drafted_with_its_user_notice_suppressed_until_a_day(h: Harness) -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: the order's form asks whether the provider may notify the
    account holder (pending by default) and until which day a non-disclosure order suppresses it; the service
    gets the status and the end of that day in UTC. A day that is no day is refused before any call, and a
    refused draft comes back with the notice as chosen."""
    _socialnet_drafts(h)
    h.login()
    page = h.http.get(f"/w/{WS}/orders").text
    assert '<select id="o-notice" name="user_notice_status"' in page and 'name="user_notice_suppressed_until"' in page
    form = {
        "legal_basis": str(pv.LEGAL_BASIS_EPOC_PR),
        "provider_id": "socialnet-ie",
        "target_1_kind": str(pv.TARGET_KIND_ACCOUNT_HANDLE),
        "target_1": "@rev3ng3_pics",
        "data_categories": [str(pv.DATA_CATEGORY_SUBSCRIBER)],
        "user_notice_status": str(pv.USER_NOTICE_STATUS_SUPPRESSED),
    }
    sent = _drafted(h, "orders", {**form, "user_notice_suppressed_until": "2027-01-31"})
    assert sent.status_code == 303 and sent.headers["location"] == f"/orders/{rid(7)}"
    (asked,) = h.services.asked("CreateOrder")
    assert asked.user_notice_status == pv.USER_NOTICE_STATUS_SUPPRESSED
    end = asked.user_notice_suppressed_until.ToDatetime(tzinfo=dt.UTC)
    assert end == dt.datetime(2027, 1, 31, 23, 59, tzinfo=dt.UTC)
    refused = _drafted(h, "orders", {**form, "user_notice_suppressed_until": "31/01/2027"})
    assert refused.status_code == 303 and len(h.services.asked("CreateOrder")) == 1
    shown = h.http.get(refused.headers["location"]).text
    assert "the end of its suppression is a day (YYYY-MM-DD)" in shown
    assert f'<option value="{pv.USER_NOTICE_STATUS_SUPPRESSED}" selected>' in shown


def test_an_order_s_page_and_list_show_its_user_notice_and_when_its_suppression_lapsed(h: Harness) -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: the order's page shows its user notice until when a
    non-disclosure order suppresses it and, once the service says it has lapsed, that the provider may now tell
    the account holder; the orders' list marks such an order; the prosecutor's form changes the notice."""
    until = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)

    def order(lapsed: bool) -> pv.PreservationOrder:
        o = pv.PreservationOrder(
            id=rid(4),
            workspace_id=WS,
            provider_id="socialnet-ie",
            user_notice_status=pv.USER_NOTICE_STATUS_SUPPRESSED,
            user_notice_suppression_lapsed=lapsed,
            allowed_actions=["update_user_notice"],
            version=3,
        )
        o.user_notice_suppressed_until.CopyFrom(ts(until))
        return o

    h.services.answers[("preservation", "GetOrder")] = pv.GetOrderResponse(order=order(False))
    h.login()
    running = h.http.get(f"/orders/{rid(4)}").text
    assert f'suppressed until <time datetime="{until.isoformat()}">' in running and "Lapsed" not in running
    assert "Update the user notice" in running and 'name="suppressed_until"' in running
    h.services.answers[("preservation", "GetOrder")] = pv.GetOrderResponse(order=order(True))
    lapsed = h.http.get(f"/orders/{rid(4)}").text
    assert "Lapsed</strong>: the non-disclosure order has ended, the provider may tell the account holder" in lapsed
    h.services.answers[("preservation", "ListOrders")] = pv.ListOrdersResponse(orders=[order(True)])
    assert "Notice suppression lapsed" in h.http.get(f"/w/{WS}/orders").text
    h.services.answers[("preservation", "ListOrders")] = pv.ListOrdersResponse(orders=[order(False)])
    assert "Notice suppression lapsed" not in h.http.get(f"/w/{WS}/orders").text


def test_an_evidence_request_is_drafted_from_the_requests_page_as_the_form_says(h: Harness) -> None:
    """The requests' page offers a prosecutor the draft form; the form's request is the one the service gets
    (the empty target rows left out, the data ticked, the victims and the jurisdictions it is shared with
    as typed, kept to the parties unless widened), and the answer's request is where the page goes next."""
    h.services.answers[("evidence", "CreateRequest")] = lambda r: ev.CreateRequestResponse(
        request=ev.EvidenceRequest(id=rid(8), workspace_id=r.workspace_id)
    )
    nl_order = pv.PreservationOrder(id=rid(30), origin_jurisdiction="NL", provider_id="socialnet-ie", description="a")
    de_order = pv.PreservationOrder(id=rid(31), origin_jurisdiction="DE", provider_id="socialnet-ie", description="b")
    h.services.answers[("preservation", "ListOrders")] = pv.ListOrdersResponse(orders=[nl_order, de_order])
    h.login()
    page = h.http.get(f"/w/{WS}/requests").text
    assert "Draft an evidence request" in page
    # Production follows only an order of the drafter's own jurisdiction (the service links no other).
    assert f'<option value="{rid(30)}">' in page and rid(31) not in page
    form = {
        "request_id": rid(2),
        "title": "Identify the holder of @doxx_her_now",
        "legal_basis": str(ev.LEGAL_BASIS_EPOC),
        "epoc_procedure": str(ev.EPOC_PROCEDURE_WITH_NOTIFICATION),
        "issuing_authority": "Openbaar Ministerie, Amsterdam",
        "addressee_kind": str(ev.ADDRESSEE_KIND_SERVICE_PROVIDER),
        "addressee_jurisdiction": " ie ",
        "provider_name": "SocialNet Ireland Ltd",
        "notification_exemption_reason": "",
        "target_1_type": str(ev.TARGET_TYPE_ACCOUNT_HANDLE),
        "target_1": "@doxx_her_now",
        "target_1_platform": "socialnet",
        "target_2_type": str(ev.TARGET_TYPE_URL),
        "target_2": "",
        "target_3_type": str(ev.TARGET_TYPE_EMAIL),
        "target_3": "doxx@example.org",
        "offence_category": str(ev.OFFENCE_CATEGORY_DOXXING),
        "urgency": str(ev.URGENCY_URGENT),
        "description": "Subscriber data and logins",
        "victim_refs": "v-nl-0007",
        "shared_with": "de",
        "whole_workspace": "1",
        "preservation_order_id": rid(30),
    }
    sent = _drafted(h, "requests", {**form, "data_categories": [str(ev.DATA_CATEGORY_SUBSCRIBER)]})
    assert sent.status_code == 303 and sent.headers["location"] == f"/requests/{rid(8)}"
    (asked,) = h.services.asked("CreateRequest")
    assert asked == ev.CreateRequestRequest(
        request_id=rid(2),
        workspace_id=WS,
        legal_basis=ev.LEGAL_BASIS_EPOC,
        epoc_procedure=ev.EPOC_PROCEDURE_WITH_NOTIFICATION,
        issuing_authority="Openbaar Ministerie, Amsterdam",
        addressee_kind=ev.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        data_categories=[ev.DATA_CATEGORY_SUBSCRIBER],
        targets=[
            ev.TargetIdentifier(type=ev.TARGET_TYPE_ACCOUNT_HANDLE, value="@doxx_her_now", platform="socialnet"),
            ev.TargetIdentifier(type=ev.TARGET_TYPE_EMAIL, value="doxx@example.org"),
        ],
        offence_category=ev.OFFENCE_CATEGORY_DOXXING,
        urgency=ev.URGENCY_URGENT,
        title="Identify the holder of @doxx_her_now",
        description="Subscriber data and logins",
        visibility=web.WHOLE_WORKSPACE,
        shared_with=["DE"],
        victim_refs=["V-NL-0007"],
        preservation_order_id=rid(30),
    )


def test_an_evidence_request_draft_indicates_its_listed_offence_and_maximum_sentence(h: Harness) -> None:
    """LISTED_OFFENCE_INDICATION: the draft form offers the Annex IV / Annex D categories and the maximum
    sentence in months; what is chosen is what the service gets, a refused draft shows them again as chosen,
    and a sentence that is not a number is refused before any call."""

    def refuse(_request: Any) -> Any:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Refused: max_sentence_months: must be 1 to 1200 months")

    h.services.answers[("evidence", "CreateRequest")] = refuse
    h.login()
    page = h.http.get(f"/w/{WS}/requests").text
    assert 'name="listed_offence"' in page and 'name="max_sentence_months"' in page
    assert f'<option value="{ev.LISTED_OFFENCE_COMPUTER_RELATED_CRIME}">computer related crime</option>' in page
    form = {
        "title": "Who shared the images",
        "legal_basis": str(ev.LEGAL_BASIS_EPOC),
        "epoc_procedure": str(ev.EPOC_PROCEDURE_WITH_NOTIFICATION),
        "issuing_authority": "OM Amsterdam",
        "addressee_kind": str(ev.ADDRESSEE_KIND_SERVICE_PROVIDER),
        "addressee_jurisdiction": "IE",
        "target_1_type": str(ev.TARGET_TYPE_ACCOUNT_HANDLE),
        "target_1": "@d",
        "offence_category": str(ev.OFFENCE_CATEGORY_NON_CONSENSUAL_INTIMATE_IMAGES),
        "listed_offence": str(ev.LISTED_OFFENCE_COMPUTER_RELATED_CRIME),
        "max_sentence_months": " 1300 ",
    }
    sent = _drafted(h, "requests", form)
    (asked,) = h.services.asked("CreateRequest")
    assert asked.listed_offence == ev.LISTED_OFFENCE_COMPUTER_RELATED_CRIME and asked.max_sentence_months == 1300
    shown = h.http.get(sent.headers["location"]).text
    assert "max_sentence_months: must be 1 to 1200 months" in shown
    assert f'<option value="{ev.LISTED_OFFENCE_COMPUTER_RELATED_CRIME}" selected>' in shown
    assert 'name="max_sentence_months" type="number" min="1" max="1200" inputmode="numeric" value=" 1300 "' in shown
    _drafted(h, "requests", {**form, "max_sentence_months": "three years"})
    assert len(h.services.asked("CreateRequest")) == 1  # not a number: refused by the console
    _drafted(h, "requests", {**form, "listed_offence": "", "max_sentence_months": ""})
    none = h.services.asked("CreateRequest")[-1]
    assert none.listed_offence == ev.LISTED_OFFENCE_UNSPECIFIED and none.max_sentence_months == 0


def test_a_refused_draft_comes_back_filled_in_as_typed_once_and_never_in_a_cookie(h: Harness) -> None:
    """The service refuses the draft: the orders' page says why and shows the form as the user filled it
    (texts, the chosen options, the ticked data), so only the refused field needs changing; the next visit
    shows the empty form again. What was typed stays in the console's memory: no cookie carries it."""

    def refuse(_request: Any) -> Any:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Refused: targets[1].value: must be an http(s) URL")

    h.services.answers[("preservation", "ListProviders")] = pv.ListProvidersResponse(
        providers=[pv.Provider(id=p, name=p, establishment_jurisdiction="IE") for p in ("microblog-ie", "socialnet-ie")]
    )
    h.services.answers[("preservation", "CreateOrder")] = refuse
    h.login()
    typed = "Her address & photos <posted> by @doxx_her_now"
    form = {
        "legal_basis": str(pv.LEGAL_BASIS_BUDAPEST_ART29),
        "provider_id": "socialnet-ie",
        "target_1_kind": str(pv.TARGET_KIND_ACCOUNT_HANDLE),
        "target_1": "@doxx_her_now",
        "target_2_kind": str(pv.TARGET_KIND_URL),
        "target_2": "not a link",
        "description": typed,
        "victim_refs": "V-NL-0007",
        "data_categories": [str(pv.DATA_CATEGORY_CONTENT)],
    }
    sent = _drafted(h, "orders", form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/w/{WS}/orders"
    shown = h.http.get(sent.headers["location"])
    page = shown.text
    assert "targets[1].value: must be an http(s) URL" in page
    assert "Her address &amp; photos &lt;posted&gt; by @doxx_her_now</textarea>" in page  # escaped, as typed
    assert 'value="@doxx_her_now"' in page and 'value="not a link"' in page and 'value="V-NL-0007"' in page
    assert f'<option value="{pv.LEGAL_BASIS_BUDAPEST_ART29}" selected>' in page
    assert '<option value="socialnet-ie" selected>' in page and '<option value="microblog-ie">' in page
    assert f'value="{pv.DATA_CATEGORY_CONTENT}" checked>' in page
    assert f'value="{pv.DATA_CATEGORY_SUBSCRIBER}">' in page
    cookie = h.http.cookies.get(SESSION_COOKIE) or ""
    session = base64.b64decode(cookie.split(".")[0] + "==").decode()  # Starlette's signed, not sealed, JSON
    assert "flash" in session or "csrf" in session or session.startswith("{")
    assert "doxx" not in session and "doxx" not in cookie
    again = h.http.get(f"/w/{WS}/orders").text
    assert typed.split()[0] not in again and 'value="@doxx_her_now"' not in again


@pytest.mark.parametrize(
    ("kind", "service", "method", "form", "shown"),
    [
        (
            "tasks", "tasks", "CreateTask",
            {"title": "Hear the witness <in> Hamburg", "kind": "1", "priority": str(tk.TASK_PRIORITY_URGENT),
             "assignee": "DE", "due_in_days": "7", "whole_workspace": "1"},
            ['value="Hear the witness &lt;in&gt; Hamburg"', 'value="DE"', 'value="7"',
             f'<option value="{tk.TASK_PRIORITY_URGENT}" selected>', 'name="whole_workspace" value="1" checked'],
        ),
        (
            "requests", "evidence", "CreateRequest",
            {"title": "Identify @doxx_her_now", "legal_basis": str(ev.LEGAL_BASIS_EPOC),
             "epoc_procedure": str(ev.EPOC_PROCEDURE_EMERGENCY), "issuing_authority": "OM Amsterdam",
             "addressee_kind": str(ev.ADDRESSEE_KIND_SERVICE_PROVIDER), "addressee_jurisdiction": "IE",
             "notification_exemption_reason": "the holder lives in NL", "target_1_type": "1", "target_1": "@d",
             "target_1_platform": "socialnet", "offence_category": str(ev.OFFENCE_CATEGORY_DOXXING)},
            ['value="Identify @doxx_her_now"', f'<option value="{ev.EPOC_PROCEDURE_EMERGENCY}" selected>',
             'value="OM Amsterdam"', ">the holder lives in NL</textarea>", 'value="socialnet"',
             f'<option value="{ev.OFFENCE_CATEGORY_DOXXING}" selected>'],
        ),
        (
            "removals", "removal", "CreateRemoval",
            {"basis": str(rm.REMOVAL_BASIS_NATIONAL_ORDER), "national_jurisdiction": "DE", "target_1_account": "@d",
             "target_2_sha256": "not a hash", "proceed_without_preservation_reason": "It spreads <fast>"},
            [f'<option value="{rm.REMOVAL_BASIS_NATIONAL_ORDER}" selected>', 'value="DE"', 'value="@d"',
             'value="not a hash"', ">It spreads &lt;fast&gt;</textarea>"],
        ),
    ],
)  # fmt: skip
def test_a_refused_task_or_request_draft_comes_back_filled_in(
    h: Harness, kind: str, service: str, method: str, form: dict[str, str], shown: list[str]
) -> None:
    def refuse(_request: Any) -> Any:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Refused: something in the draft")

    h.services.answers[(service, method)] = refuse
    h.login()
    sent = _drafted(h, kind, form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/w/{WS}/{kind}"
    page = h.http.get(sent.headers["location"]).text
    assert "Refused: something in the draft" in page
    assert [s for s in shown if s not in page] == []
    assert [s for s in shown if s in h.http.get(f"/w/{WS}/{kind}").text and "selected" in s] == []


def test_more_target_rows_come_back_with_what_was_typed_and_every_filled_row_is_sent(h: Harness) -> None:
    """Images posted at many links: the order's form shows three target rows, and its "more target rows"
    button brings the form back as typed with three more, at the first new row, asking nothing of the
    service; the draft then sends every filled row."""
    _socialnet_drafts(h)
    h.login()
    page = h.http.get(f"/w/{WS}/orders").text
    assert 'id="o-target-3"' in page and 'id="o-target-4"' not in page and 'name="more_targets"' in page
    links = {f"target_{n}": f"https://socialnet.example/p/{n}" for n in range(1, 4)}
    kinds = {f"target_{n}_kind": str(pv.TARGET_KIND_URL) for n in range(1, 6)}
    form = {"legal_basis": str(pv.LEGAL_BASIS_EPOC_PR), "provider_id": "socialnet-ie", **kinds, **links}
    more = _drafted(h, "orders", {**form, "target_rows": "3", "more_targets": "1"})
    assert more.status_code == 303 and more.headers["location"] == f"/w/{WS}/orders#o-target-4-kind"
    assert h.services.asked("CreateOrder") == []
    page = h.http.get(f"/w/{WS}/orders").text
    assert 'id="o-target-6"' in page and 'id="o-target-7"' not in page and 'name="target_rows" value="6"' in page
    assert [n for n in range(1, 4) if f'value="https://socialnet.example/p/{n}"' not in page] == []
    assert '<option value="socialnet-ie" selected>' in page
    sent = _drafted(h, "orders", {**form, "target_rows": "6", "target_5": "https://socialnet.example/p/5"})
    assert sent.status_code == 303 and sent.headers["location"] == f"/orders/{rid(7)}"
    (asked,) = h.services.asked("CreateOrder")
    assert [t.value for t in asked.targets] == [f"https://socialnet.example/p/{n}" for n in (1, 2, 3, 5)]


@pytest.mark.parametrize(
    ("typed", "rows", "more"),
    [
        ({"target_rows": "49"}, 49, 50),  # never past the services' bound, and no button at it
        ({"target_rows": "50"}, 50, 50),
        ({"target_rows": "9" * 5000}, 3, 6),  # not a number the form gave
        ({"target_rows": "-4"}, 3, 6),
        ({"target_rows": "3", "target_12": "@posted_here"}, 12, 15),  # every filled row is shown
    ],
)
def test_the_target_rows_a_draft_form_shows_are_bounded(
    h: Harness, typed: dict[str, str], rows: int, more: int
) -> None:
    h.login()
    answer = _drafted(h, "requests", {**typed, "more_targets": "1"})
    assert answer.headers["location"] == f"/w/{WS}/requests#r-target-{min(rows + 1, more)}-type"
    page = h.http.get(f"/w/{WS}/requests").text
    assert f'id="r-target-{more}"' in page and f'id="r-target-{more + 1}"' not in page
    assert ('name="more_targets"' in page) is (more < web.DRAFT_TARGETS_MAX)
    assert h.services.asked("CreateRequest") == []


def test_a_refused_draft_shows_no_more_target_rows_than_the_services_take(h: Harness) -> None:
    def refuse(_request: Any) -> Any:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Refused: title is required")

    h.services.answers[("evidence", "CreateRequest")] = refuse
    h.login()
    sent = _drafted(h, "requests", {"target_rows": "999", "target_1": "@d", "legal_basis": str(ev.LEGAL_BASIS_EIO)})
    assert sent.headers["location"] == f"/w/{WS}/requests"
    page = h.http.get(sent.headers["location"]).text
    last = web.DRAFT_TARGETS_MAX
    assert f'id="r-target-{last}"' in page and f'id="r-target-{last + 1}"' not in page and 'value="@d"' in page


# ---------------------------------------------------------------- removal requests to platforms


def _removal(**fields: Any) -> rm.RemovalRequest:
    due = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)
    return rm.RemovalRequest(
        id=rid(40), workspace_id=WS, origin_jurisdiction="NL", version=2, provider_id="socialnet-ie",
        state=rm.REMOVAL_REQUEST_STATE_REMOVED, basis=rm.REMOVAL_BASIS_DSA_ART9_ORDER,
        items=[rm.ContentItem(url="https://socialnet.example/p/9", sha256="ab" * 32),
               rm.ContentItem(account="@doxx_her_now")],
        sent_at=ts(due - dt.timedelta(days=1)), due_at=ts(due), clock_source="DSA Art. 9: without undue delay",
        victim_refs=["V-NL-0007"], **fields,
    )  # fmt: skip


def test_a_removal_request_is_recorded_from_the_removals_page_as_the_form_says(h: Harness) -> None:
    """The removals' page lists the workspace's removal requests and offers the form: the items filled in
    (a row with any of its fields; the empty ones left out, hashes in lower case), the basis and whose law,
    the platform from the register, when it was sent (UTC), the order it keeps or why none, the victims."""
    h.services.answers[("removal", "ListRemovals")] = rm.ListRemovalsResponse(removals=[_removal()])
    _socialnet_drafts(h)
    h.services.answers[("preservation", "ListOrders")] = pv.ListOrdersResponse(
        orders=[pv.PreservationOrder(id=rid(30), provider_id="socialnet-ie", description="Her photos")]
    )
    h.services.answers[("removal", "CreateRemoval")] = lambda r: rm.CreateRemovalResponse(
        removal=rm.RemovalRequest(id=rid(41), workspace_id=r.workspace_id)
    )
    h.login()
    page = h.http.get(f"/w/{WS}/removals").text
    assert f'<a href="/removals/{rid(40)}">socialnet-ie</a>' in page and "Record removal request" in page
    assert f'<option value="{rid(30)}">socialnet-ie: Her photos' in page
    form = {
        "request_id": rid(2),
        "basis": str(rm.REMOVAL_BASIS_NATIONAL_ORDER),
        "national_jurisdiction": "nl",
        "provider_id": "socialnet-ie",
        "sent_at": "2026-03-02T09:30",
        "target_1": " https://socialnet.example/p/9 ",
        "target_1_sha256": "AB" * 32,
        "target_2": "",
        "target_3_account": "@doxx_her_now",
        "preservation_order_id": rid(30),
        "victim_refs": "v-nl-0007",
    }
    sent = _drafted(h, "removals", form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/removals/{rid(41)}"
    (asked,) = h.services.asked("CreateRemoval")
    want = rm.CreateRemovalRequest(
        request_id=rid(2),
        workspace_id=WS,
        basis=rm.REMOVAL_BASIS_NATIONAL_ORDER,
        national_jurisdiction="NL",
        provider_id="socialnet-ie",
        items=[rm.ContentItem(url="https://socialnet.example/p/9", sha256="ab" * 32),
               rm.ContentItem(account="@doxx_her_now")],
        preservation_order_id=rid(30),
        victim_refs=["V-NL-0007"],
    )  # fmt: skip
    want.sent_at.FromDatetime(dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC))
    assert asked == want


def test_a_removal_page_shows_its_clock_and_items_and_records_the_platforms_answers(h: Harness) -> None:
    """The page shows what the service answers (state, clock and its source, items, the victims) and a form
    for each answer the service lists for the user: blocked in some jurisdictions sends them as codes, a
    re-upload picks one of the items with a hash."""
    h.services.answers[("removal", "GetRemoval")] = rm.GetRemovalResponse(
        removal=_removal(allowed_actions=["appealed", "reupload", "geoblocked"])
    )
    h.services.answers[("removal", "RecordGeoBlocked")] = rm.RecordGeoBlockedResponse()
    h.services.answers[("removal", "RecordReupload")] = rm.RecordReuploadResponse()
    h.login()
    page = h.http.get(f"/removals/{rid(40)}").text
    assert "Removal request to socialnet-ie" in page and "DSA Art. 9: without undue delay" in page
    assert "<code>https://socialnet.example/p/9</code>" in page and "@doxx_her_now" in page and "V-NL-0007" in page
    assert "Record the uploader&#39;s appeal" in page and "Record a re-upload" in page
    assert f'<option value="{"ab" * 32}">https://socialnet.example/p/9 (SHA-256 abababababab…)</option>' in page
    assert "Record removed" not in page  # not listed for the user: not offered
    back = {"referer": f"http://testserver/removals/{rid(40)}"}
    csrf = h.csrf()
    blocked = h.http.post(f"/act/removal/{rid(40)}/geoblocked", headers=back,
                          data={"csrftoken": csrf, "version": "2", "blocked_in": "nl, de"})  # fmt: skip
    assert blocked.status_code == 303 and blocked.headers["location"] == f"/removals/{rid(40)}"
    assert h.services.asked("RecordGeoBlocked") == [
        rm.RecordGeoBlockedRequest(id=rid(40), expected_version=2, blocked_in=["NL", "DE"])
    ]
    again = {"csrftoken": csrf, "version": "2", "sha256": "ab" * 32, "url": "https://mirror.example/9"}
    h.http.post(f"/act/removal/{rid(40)}/reupload", headers=back, data=again)
    assert h.services.asked("RecordReupload") == [
        rm.RecordReuploadRequest(id=rid(40), expected_version=2, sha256="ab" * 32, url="https://mirror.example/9")
    ]


def _transferred(actions: list[str], **fields: Any) -> ev.EvidenceRequest:
    r = ev.EvidenceRequest(
        id=rid(50),
        workspace_id=WS,
        origin_jurisdiction="NL",
        title="Traffic data of @harasser_x",
        legal_basis=ev.LEGAL_BASIS_EPOC,
        epoc_procedure=ev.EPOC_PROCEDURE_STANDARD,
        addressee_kind=ev.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        version=7,
        allowed_actions=actions,
        **fields,
    )
    return r


def test_a_request_page_offers_the_enforcement_forms_the_service_lists_and_sends_what_they_say(h: Harness) -> None:
    """EPOC_ENFORCEMENT_TRANSFER, EPOC_ENFORCEMENT_REFUSAL_GROUNDS: the issuer's prosecutor, to whom the service
    lists the transfer, gets its form (the enforcing state optional) and it sends the transfer; the enforcing
    state's prosecutor gets the recognition and the refusal with the closed list of Art. 16(4); the page shows
    the transfer and the ENFORCEMENT deadline in the enforcing state's time."""
    h.services.answers[("evidence", "ListItems")] = ev.ListItemsResponse()
    h.services.answers[("evidence", "GetRequest")] = ev.GetRequestResponse(
        request=_transferred(["transfer_for_enforcement"], state=ev.EVIDENCE_REQUEST_STATE_IN_EXECUTION)
    )
    h.services.answers[("evidence", "TransferForEnforcement")] = ev.TransferForEnforcementResponse()
    h.login()
    page = h.http.get(f"/requests/{rid(50)}").text
    assert "Transfer for enforcement" in page and 'name="enforcing_jurisdiction"' in page
    assert "Refuse recognition" not in page and "Recognise" not in page
    back = {"referer": f"http://testserver/requests/{rid(50)}"}
    form = {"csrftoken": h.csrf(), "version": "7", "enforcing_jurisdiction": "ie", "note": "no data by the deadline"}
    sent = h.http.post(f"/act/request/{rid(50)}/transfer_for_enforcement", headers=back, data=form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/requests/{rid(50)}"
    (asked,) = h.services.asked("TransferForEnforcement")
    assert (asked.id, asked.expected_version, asked.note) == (rid(50), 7, "no data by the deadline")
    assert asked.enforcing_jurisdiction in ("ie", "IE")  # the service validates the code and names the field

    transferred = _transferred(
        ["recognise_enforcement", "refuse_enforcement"],
        state=ev.EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT,
        enforcing_jurisdiction="DE",  # a legal representative there, the provider being established in IE
    )
    transferred.enforcement_requested_at.FromDatetime(dt.datetime(2026, 10, 22, 9, tzinfo=dt.UTC))
    d = transferred.deadlines.add(kind=ev.DEADLINE_KIND_ENFORCEMENT, working_days=True, source="Art. 16(2)")
    d.due_at.FromDatetime(dt.datetime(2026, 10, 31, 0, tzinfo=dt.UTC))
    h.services.answers[("evidence", "GetRequest")] = ev.GetRequestResponse(request=transferred)
    h.services.answers[("evidence", "RefuseEnforcement")] = ev.RefuseEnforcementResponse()
    page = h.http.get(f"/requests/{rid(50)}").text
    assert "Transfer for enforcement" not in page
    assert "Recognise: order the provider to comply" in page and "Refuse recognition (Art. 16(4))" in page
    assert "transferred to DE on" in page and "its recognition decision is awaited" in page
    # Counted in the enforcing state's days: shown in its time, not the provider's establishment's.
    assert "enforcement (working days)" in page and "DE: 31 Oct 2026, 01:00 Europe/Berlin" in page
    grounds = re.findall(r'<option value="(\d+)">', page.split("/refuse_enforcement")[1].split("</form>")[0])
    assert [int(g) for g in grounds] == list(range(1, 8))
    refuse = {"csrftoken": h.csrf(), "version": "7", "ground": "4", "detail": "deleted before"}
    h.http.post(f"/act/request/{rid(50)}/refuse_enforcement", headers=back, data=refuse)
    assert h.services.asked("RefuseEnforcement") == [
        ev.RefuseEnforcementRequest(
            id=rid(50),
            expected_version=7,
            ground=ev.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED,
            detail="deleted before",
        )
    ]


def test_the_recognition_form_sends_the_days_to_comply_and_the_page_shows_the_compliance_deadline(h: Harness) -> None:
    """EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: the enforcing state's prosecutor types the days the provider has to
    comply (required, a whole number: else the form says so and nothing is sent); once recognised, the page says
    within how many days and shows the COMPLIANCE deadline in the enforcing state's time, not overdue."""
    h.services.answers[("evidence", "ListItems")] = ev.ListItemsResponse()
    transferred = _transferred(["recognise_enforcement", "refuse_enforcement"],
                               state=ev.EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT, enforcing_jurisdiction="DE")  # fmt: skip
    transferred.enforcement_requested_at.FromDatetime(dt.datetime(2026, 10, 22, 9, tzinfo=dt.UTC))
    h.services.answers[("evidence", "GetRequest")] = ev.GetRequestResponse(request=transferred)
    h.services.answers[("evidence", "RecogniseEnforcement")] = ev.RecogniseEnforcementResponse()
    h.login()
    page = h.http.get(f"/requests/{rid(50)}").text
    form = page.split("/recognise_enforcement")[1].split("</form>")[0]
    assert 'type="number" id="f-recognise_enforcement-compliance_days" name="compliance_days"' in form
    assert "required" in form and "Days to comply or oppose (Art. 16(3); 1 to 90)" in page
    back = {"referer": f"http://testserver/requests/{rid(50)}"}
    for bad, why in (("", "is required"), ("ten", "a whole number"), ("99999999999", "a whole number")):
        refused = h.http.post(f"/act/request/{rid(50)}/recognise_enforcement", headers=back,
                              data={"csrftoken": h.csrf(), "version": "7", "compliance_days": bad})  # fmt: skip
        assert refused.status_code == 303, bad
        assert (
            f"Refused: Days to comply or oppose (Art. 16(3); 1 to 90): {why}."
            in h.http.get(refused.headers["location"]).text
        ), bad
    assert h.services.asked("RecogniseEnforcement") == []  # nothing sent
    h.http.post(f"/act/request/{rid(50)}/recognise_enforcement", headers=back,
                data={"csrftoken": h.csrf(), "version": "7", "compliance_days": "10", "note": "served"})  # fmt: skip
    assert h.services.asked("RecogniseEnforcement") == [
        ev.RecogniseEnforcementRequest(id=rid(50), expected_version=7, compliance_days=10, note="served")
    ]

    recognised = _transferred([], state=ev.EVIDENCE_REQUEST_STATE_IN_EXECUTION, enforcing_jurisdiction="DE",
                              compliance_days=10)  # fmt: skip
    recognised.enforcement_requested_at.FromDatetime(dt.datetime(2026, 10, 22, 9, tzinfo=dt.UTC))
    recognised.enforcement_decided_at.FromDatetime(dt.datetime(2026, 10, 23, 9, tzinfo=dt.UTC))
    d = recognised.deadlines.add(kind=ev.DEADLINE_KIND_COMPLIANCE, source="Art. 16(3)")
    d.due_at.FromDatetime(dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.UTC))
    h.services.answers[("evidence", "GetRequest")] = ev.GetRequestResponse(request=recognised)
    page = h.http.get(f"/requests/{rid(50)}").text
    assert "recognised: the provider is required to comply within 10 days (Art. 16(3))" in page
    assert "<td>compliance</td>" in page and "DE: 03 Nov 2026, 00:00 Europe/Berlin" in page
    assert "Overdue" not in page


def _epoc_pr(actions: list[str], **fields: Any) -> pv.PreservationOrder:
    """An EPOC-PR of NL to SocialNet (established in IE), as the service answers it with ``actions`` listed."""
    return pv.PreservationOrder(
        id=rid(60),
        workspace_id=WS,
        origin_jurisdiction="NL",
        legal_basis=pv.LEGAL_BASIS_EPOC_PR,
        provider_id="socialnet-ie",
        version=4,
        allowed_actions=actions,
        **fields,
    )


def test_an_order_page_offers_the_epoc_pr_enforcement_forms_the_service_lists_and_sends_what_they_say(
    h: Harness,
) -> None:
    """EPOC_PR_ENFORCEMENT_TRANSFER, EPOC_PR_ENFORCEMENT_RECOGNISED, EPOC_ENFORCEMENT_REFUSAL_GROUNDS: the issuer's
    prosecutor gets the transfer's form once the service lists it (the provider in default), not before, and it
    sends the transfer with the state and the note typed; the enforcing state's prosecutor (IE, outside the
    workspace) gets the recognition and the refusal with the closed list of Art. 16(4), and each sends its
    fields; the transfer is not offered to IE."""
    issued = pv.PRESERVATION_ORDER_STATE_ISSUED
    h.services.answers[("preservation", "GetOrder")] = pv.GetOrderResponse(
        order=_epoc_pr(["update_user_notice"], state=issued)
    )
    h.services.answers[("preservation", "TransferForEnforcement")] = pv.TransferForEnforcementResponse()
    h.login()
    page = h.http.get(f"/orders/{rid(60)}").text
    assert "Update the user notice" in page and "Transfer for enforcement" not in page  # not in default yet
    h.services.answers[("preservation", "GetOrder")] = pv.GetOrderResponse(
        order=_epoc_pr(["update_user_notice", "transfer_for_enforcement"], state=issued)
    )
    page = h.http.get(f"/orders/{rid(60)}").text
    assert "Transfer for enforcement" in page and 'name="enforcing_jurisdiction"' in page
    assert "Recognise: require the provider to preserve" not in page and "Refuse recognition" not in page
    back = {"referer": f"http://testserver/orders/{rid(60)}"}
    form = {"csrftoken": h.csrf(), "version": "4", "enforcing_jurisdiction": "IE", "note": "never confirmed"}
    sent = h.http.post(f"/act/order/{rid(60)}/transfer_for_enforcement", headers=back, data=form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/orders/{rid(60)}"
    assert h.services.asked("TransferForEnforcement") == [
        pv.TransferForEnforcementRequest(
            id=rid(60), expected_version=4, enforcing_jurisdiction="IE", note="never confirmed"
        )
    ]

    ie = Harness()
    ie.services.answers[("preservation", "GetOrder")] = pv.GetOrderResponse(
        order=_epoc_pr(
            ["recognise_enforcement", "refuse_enforcement"],
            state=pv.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT,
            enforcing_jurisdiction="IE",
        )
    )
    ie.services.answers[("preservation", "RecogniseEnforcement")] = pv.RecogniseEnforcementResponse()
    ie.services.answers[("preservation", "RefuseEnforcement")] = pv.RefuseEnforcementResponse()
    ie.login({"preferred_username": "ie-prosecutor", "jurisdiction": "IE", "realm_access": {"roles": ["prosecutor"]}})
    page = ie.http.get(f"/orders/{rid(60)}").text
    assert "Recognise: require the provider to preserve" in page and "Refuse recognition (Art. 16(4))" in page
    assert "Transfer for enforcement" not in page
    grounds = re.findall(r'<option value="(\d+)">', page.split("/refuse_enforcement")[1].split("</form>")[0])
    assert [int(g) for g in grounds] == list(range(1, 8))
    recognise = {"csrftoken": ie.csrf(), "version": "4", "note": "served on the provider"}
    assert ie.http.post(f"/act/order/{rid(60)}/recognise_enforcement", headers=back, data=recognise).status_code == 303
    refuse = {"csrftoken": ie.csrf(), "version": "4", "ground": "4", "detail": "nothing stored at receipt"}
    assert ie.http.post(f"/act/order/{rid(60)}/refuse_enforcement", headers=back, data=refuse).status_code == 303
    assert ie.services.asked("RecogniseEnforcement") == [
        pv.RecogniseEnforcementRequest(id=rid(60), expected_version=4, note="served on the provider")
    ]
    assert ie.services.asked("RefuseEnforcement") == [
        pv.RefuseEnforcementRequest(
            id=rid(60),
            expected_version=4,
            ground=pv.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED,
            detail="nothing stored at receipt",
        )
    ]


def test_an_order_page_shows_the_transfer_the_enforcing_states_deadline_and_its_decision(h: Harness) -> None:
    """EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS, EPOC_PR_ENFORCEMENT_RECOGNISED: the order's page
    shows what the request's page shows of an enforcement: the transfer, the enforcing state's deadline in its
    own time (IE: its bank holiday of 26 Oct 2026 not counted) while it has not decided, then its recognition,
    or its refusal with the ground, and no deadline."""
    requested, decided = dt.datetime(2026, 10, 22, 9, tzinfo=dt.UTC), dt.datetime(2026, 10, 23, 9, tzinfo=dt.UTC)

    def shown(state: int, **fields: Any) -> str:
        order = _epoc_pr([], state=state, enforcing_jurisdiction="IE", **fields)
        order.enforcement_requested_at.FromDatetime(requested)
        if state != pv.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT:
            order.enforcement_decided_at.FromDatetime(decided)
        h.services.answers[("preservation", "GetOrder")] = pv.GetOrderResponse(order=order)
        page = h.http.get(f"/orders/{rid(60)}")
        assert page.status_code == 200
        return page.text

    h.login()
    waiting = shown(pv.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT)
    assert f'transferred to IE on <time datetime="{requested.isoformat()}">' in waiting
    assert "its recognition decision is awaited" in waiting and 'id="deadlines">Legal deadlines' in waiting
    assert "<td>enforcement (working days)</td>" in waiting and "IE: 31 Oct 2026, 00:00 Europe/Dublin" in waiting
    recognised = shown(pv.PRESERVATION_ORDER_STATE_ISSUED)
    assert "recognised: the provider is required to preserve on" in recognised
    assert f'<time datetime="{decided.isoformat()}">' in recognised
    refused = shown(pv.PRESERVATION_ORDER_STATE_NOT_ENFORCED, enforcement_refusal_ground=4)
    assert "recognition refused (data not stored) on" in refused
    for page in (recognised, refused):
        assert "transferred to IE on" in page and "Legal deadlines" not in page and "Europe/Dublin" not in page


def test_a_removal_page_says_the_same_of_preservation_whether_or_not_an_order_it_may_not_read_exists(
    h: Harness,
) -> None:
    """Security review: the page said "none you may read" when the service gave neither the order's id nor a
    reason, which only a removal linked to an order the user may not read did. The service now gives a user
    outside the issuing jurisdiction neither in both cases, and the page says neutrally who recorded it; the
    link is shown to who may read the order and the reason to the issuing jurisdiction."""
    h.login()
    shown = {}
    for case, fields in {
        "neither": {},
        "order": {"preservation_order_id": rid(30)},
        "reason": {"proceed_without_preservation_reason": "gone already"},
    }.items():
        h.services.answers[("removal", "GetRemoval")] = rm.GetRemovalResponse(removal=_removal(**fields))
        page = h.http.get(f"/removals/{rid(40)}").text
        shown[case] = page.split("<dt>Preservation order</dt>", 1)[1].split("</dd>", 1)[0]
    assert shown["neither"] == "<dd>recorded by NL, not shown to you"
    assert "may read" not in shown["neither"] and "none" not in shown["neither"]
    assert shown["order"] == f'<dd><a href="/orders/{rid(30)}">the live order of this content</a>'
    assert shown["reason"] == "<dd>none: gone already"


# ---------------------------------------------------------------- victims

CREATED = ts(dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))


def test_a_victim_is_registered_from_the_victims_page_and_known_by_pseudonym_from_then_on(h: Harness) -> None:
    """The victims' page offers a prosecutor the registration form: the identity, the languages and the
    offences are the request the service gets; the answer's pseudonym is what the next page says."""
    h.services.answers[("victims", "RegisterVictim")] = lambda r: vc.RegisterVictimResponse(
        victim=vc.Victim(id=rid(50), pseudonym="V-NL-0008", workspace_id=r.workspace_id)
    )
    h.services.answers[("victims", "GetVictim")] = vc.GetVictimResponse(
        victim=vc.Victim(
            id=rid(50), pseudonym="V-NL-0008", workspace_id=WS, origin_jurisdiction="NL", created_at=CREATED
        )
    )
    h.services.answers[("victims", "ListVictimNotices")] = vc.ListVictimNoticesResponse()
    h.services.answers[("victims", "ListVictims")] = vc.ListVictimsResponse()
    h.login()
    assert "Register a victim" in h.http.get(f"/w/{WS}/victims").text
    form = {"request_id": rid(3), "victim_jurisdiction": "nl", "full_name": " Anna de Vries ",
            "date_of_birth": "1999-04-02", "contact": "anna@example.org", "languages": "NL, en",
            "needs": "An interpreter", "offences": ["DOXXING", "NON_CONSENSUAL_INTIMATE_IMAGES"]}  # fmt: skip
    sent = _drafted(h, "victims", form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/victims/{rid(50)}"
    (asked,) = h.services.asked("RegisterVictim")
    assert asked == vc.RegisterVictimRequest(
        request_id=rid(3), workspace_id=WS, victim_jurisdiction="NL",
        identity=vc.VictimIdentity(full_name="Anna de Vries", date_of_birth="1999-04-02", contact="anna@example.org",
                                   languages=["nl", "en"], needs="An interpreter"),
        offences=["DOXXING", "NON_CONSENSUAL_INTIMATE_IMAGES"],
    )  # fmt: skip
    page = h.http.get(sent.headers["location"]).text
    assert "Victim registered as V-NL-0008" in page and "Anna" not in page


def test_a_refused_registration_keeps_no_identity(h: Harness) -> None:
    def refuse(_request: Any) -> Any:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Refused: identity.languages[0]: must be a language tag")

    h.services.answers[("victims", "RegisterVictim")] = refuse
    h.services.answers[("victims", "ListVictims")] = vc.ListVictimsResponse()
    session = h.login()
    form = {"victim_jurisdiction": "DE", "full_name": "Anna de Vries", "contact": "Hauptstrasse 1",
            "needs": "shelter", "languages": "dutch", "offences": ["CYBERSTALKING"]}  # fmt: skip
    sent = _drafted(h, "victims", form)
    assert sent.headers["location"] == f"/w/{WS}/victims"
    assert session.kept_form is not None and "Anna" not in repr(session.kept_form)  # in the console's memory
    page = h.http.get(sent.headers["location"]).text
    assert "identity.languages[0]" in page and 'value="DE"' in page and 'value="dutch"' in page
    assert 'value="CYBERSTALKING" checked' in page
    assert [t for t in ("Anna", "Hauptstrasse", "shelter") if t in page] == []


def test_a_victims_page_lists_the_notices_and_records_a_notice_and_a_referral(h: Harness) -> None:
    """What the victim was told, as the service lists it; the forms of the actions the service lists for
    the user (the identity has its own form): a notice with its step, channel (never the system's) and
    language, a referral only with the box of the victim's consent ticked, each with a request id of its own."""
    victim = vc.Victim(id=rid(50), pseudonym="V-NL-0008", workspace_id=WS, origin_jurisdiction="NL",
                       created_at=CREATED, version=3, allowed_actions=["identity", "notice", "refer"])  # fmt: skip
    h.services.answers[("victims", "GetVictim")] = vc.GetVictimResponse(victim=victim)
    told = vc.VictimNotice(step=vc.NOTICE_STEP_CONTENT_REMOVED, channel=vc.NOTICE_CHANNEL_SYSTEM,
                           told_at=ts(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)))  # fmt: skip
    h.services.answers[("victims", "ListVictimNotices")] = vc.ListVictimNoticesResponse(notices=[told])
    h.services.answers[("victims", "RecordVictimNotice")] = vc.RecordVictimNoticeResponse()
    h.services.answers[("victims", "RecordReferral")] = vc.RecordReferralResponse()
    h.login()
    page = h.http.get(f"/victims/{rid(50)}").text
    assert "content removed" in page and "still to be told" in page
    assert "Record what the victim was told" in page and "Record a referral" in page
    assert "identity: on the command line" not in page and "Read identity" in page
    channels = re.search(r'<select id="f-notice-channel".*?</select>', page, re.S)
    assert channels is not None and "in person" in channels.group(0) and "system" not in channels.group(0)
    ids = re.findall(r'name="request_id" value="([0-9a-f-]{36})"', page)
    assert len(set(ids)) == 2
    back = {"referer": f"http://testserver/victims/{rid(50)}"}
    csrf = h.csrf()
    notice = {"csrftoken": csrf, "version": "3", "request_id": ids[0], "step": str(vc.NOTICE_STEP_RIGHTS_EXPLAINED),
              "channel": str(vc.NOTICE_CHANNEL_IN_PERSON), "language": "nl", "note": ""}  # fmt: skip
    assert h.http.post(f"/act/victim/{rid(50)}/notice", headers=back, data=notice).status_code == 303
    assert h.services.asked("RecordVictimNotice") == [
        vc.RecordVictimNoticeRequest(request_id=ids[0], victim_id=rid(50), expected_version=3,
                                     step=vc.NOTICE_STEP_RIGHTS_EXPLAINED, channel=vc.NOTICE_CHANNEL_IN_PERSON,
                                     language="nl")
    ]  # fmt: skip
    refer = {"csrftoken": csrf, "version": "3", "request_id": ids[1], "service_name": "Slachtofferhulp"}
    refused = h.http.post(f"/act/victim/{rid(50)}/refer", headers=back, data={**refer, "referred_on": "2026-03-02"})
    assert refused.status_code == 303 and h.services.asked("RecordReferral") == []  # no consent ticked
    assert "The victim consented to the referral: is required" in h.http.get(refused.headers["location"]).text
    consented = {**refer, "consent": "1", "referred_on": "2026-03-02"}
    h.http.post(f"/act/victim/{rid(50)}/refer", headers=back, data=consented)
    assert h.services.asked("RecordReferral") == [
        vc.RecordReferralRequest(request_id=ids[1], victim_id=rid(50), expected_version=3,
                                 service_name="Slachtofferhulp", referred_on="2026-03-02", consent=True)
    ]  # fmt: skip


# ---------------------------------------------------------------- the auditor's checks


def test_an_auditor_verifies_every_evidence_item_and_the_audit_page_shows_the_answer_once(h: Harness) -> None:
    for service in SERVICES:
        h.services.answers[(f"{service} audit", "VerifyAuditChain")] = audit_pb2.VerifyAuditChainResponse(
            intact=True, entries_checked=7, head_hash="ab" * 32
        )
    answers = [
        ev.VerifyEvidenceResponse(items_checked=3, custody_entries_checked=11, ok=True),
        ev.VerifyEvidenceResponse(
            items_checked=3, custody_entries_checked=11, ok=False,
            problems=[ev.ItemProblem(item_id=rid(9), problem="digest_mismatch", detail="x" * 5000)],
        ),
    ]  # fmt: skip
    h.services.answers[("evidence", "VerifyEvidence")] = lambda _r: answers.pop(0)
    h.login()
    assert "Every item intact" not in h.http.get("/audit").text
    sent = h.http.post("/audit/evidence", data={"csrftoken": h.csrf()}, headers={"referer": "http://testserver/audit"})
    assert sent.status_code == 303 and sent.headers["location"] == "/audit"
    page = h.http.get("/audit").text
    assert "Every item intact:</strong> 3 item(s)" in page and "11 chain of custody entries" in page
    assert "Every item intact" not in h.http.get("/audit").text  # shown once
    h.http.post("/audit/evidence", data={"csrftoken": h.csrf()}, headers={"referer": "http://testserver/audit"})
    page = h.http.get("/audit").text
    assert "Problems found" in page and f'href="/items/{rid(9)}/custody"' in page and "digest mismatch" in page
    assert "x" * 300 in page and "x" * 301 not in page
    assert len(h.services.asked("VerifyEvidence")) == 2


def test_what_a_refused_draft_keeps_is_bounded() -> None:
    class Form:
        def getlist(self, name: str) -> list[str]:
            return ["x" * 50_000] * 100 if name == "description" else []

    kept = present.Kept.of(Form(), ("description", "title"))
    assert list(kept.values) == ["description"]
    assert len(kept.values["description"]) == present.KEPT_VALUES_MAX
    assert {len(v) for v in kept.values["description"]} == {present.KEPT_TEXT_MAX}
    assert kept.value("title", "default") == "default" and not kept.chosen("title", "x")
    assert present.NOT_KEPT.chosen("priority", 2, default=True)


def test_the_lists_offer_no_draft_to_who_may_not_draft(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CLAIMS, "realm_access", {"roles": ["auditor"]})
    h.login()
    page = h.http.get(f"/w/{WS}/orders").text
    assert "Draft a preservation order" not in page and not h.services.asked("ListProviders")
    assert "Draft an evidence request" not in h.http.get(f"/w/{WS}/requests").text


# ---------------------------------------------------------------- logging in and out


def test_logout_ends_the_keycloak_session_also_after_the_console_forgot_its_own(h: Harness) -> None:
    session = h.login()
    token = h.csrf()
    session.last_seen -= 31 * 60  # idle past JIT_CONSOLE_IDLE_MINUTES (or the console restarted)
    out = h.http.post("/logout", data={"csrftoken": token})
    assert out.status_code == 303
    url = urllib.parse.urlsplit(out.headers["location"])
    query = urllib.parse.parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == END_SESSION
    assert query["client_id"] == ["jit-console"] and query["post_logout_redirect_uri"] == ["http://127.0.0.1:8088/"]
    assert "id_token_hint" not in query


def test_logout_of_a_live_session_names_its_id_token_and_ends_it(h: Harness) -> None:
    h.login()
    out = h.http.post("/logout", data={"csrftoken": h.csrf()})
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(out.headers["location"]).query)["id_token_hint"] == [
        "the-id-token"
    ]
    assert not h.console.sessions._sessions


def test_the_login_page_never_shows_the_error_a_link_carries(h: Harness) -> None:
    words = "Your account is suspended. Call +31 20 000 0000 to restore it. " * 50
    page = h.http.get("/auth/callback", params={"error": words})
    assert page.status_code == 400
    assert "suspended" not in page.text and "the login did not complete. Please log in again." in page.text
    cancelled = h.http.get("/auth/callback", params={"error": "access_denied"})
    assert "the login was cancelled or refused" in cancelled.text


# ---------------------------------------------------------------- legal holds


def test_a_legal_hold_is_set_and_released_in_every_service_and_a_refusal_names_the_service(h: Harness) -> None:
    """The page lists each service's holds as it answers (one that fails says so in its row); the form sets
    the hold on the whole workspace in every service with one request id, and says in which it did not take
    and why; releasing asks every service; a hold needs its reason."""
    at = ts(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    held = rt.LegalHold(workspace_id=WS, reason="Appeal pending", set_by="nl-prosecutor", set_by_jurisdiction="NL",
                        set_at=at, active=True)  # fmt: skip
    for service in SERVICES:
        h.services.answers[(f"{service}.retention", "ListLegalHolds")] = rt.ListLegalHoldsResponse(
            holds=[held] if service == "tasks" else []
        )
        h.services.answers[(f"{service}.retention", "SetLegalHold")] = rt.SetLegalHoldResponse(hold=held)
        h.services.answers[(f"{service}.retention", "ReleaseLegalHold")] = rt.ReleaseLegalHoldResponse(hold=held)

    def down(_request: Any) -> Any:
        raise Refused(grpc.StatusCode.UNAVAILABLE, "The service is not reachable now: try again in a moment.")

    h.services.answers[("messaging.retention", "ListLegalHolds")] = down
    h.services.answers[("victims.retention", "SetLegalHold")] = down
    h.login()
    page = h.http.get(f"/w/{WS}/retention").text
    assert (
        "Appeal pending" in page and "the whole workspace</th>" in page and "<strong>active</strong> in tasks<" in page
    )
    assert "<li><strong>messaging</strong>: The service is not reachable now" in page
    back = {"referer": f"http://testserver/w/{WS}/retention"}
    csrf = h.csrf()
    form = {"csrftoken": csrf, "request_id": rid(5), "reason": " Appeal pending "}
    sent = h.http.post(f"/w/{WS}/retention", headers=back, data=form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/w/{WS}/retention"
    want = rt.SetLegalHoldRequest(request_id=rid(5), workspace_id=WS, reason="Appeal pending")
    assert h.services.asked("SetLegalHold") == [want] * len(SERVICES)
    said = h.http.get(sent.headers["location"]).text
    assert "Legal hold set in tasks, evidence, preservation, messaging; not in victims: The service is not" in said
    h.http.post(f"/w/{WS}/retention", headers=back, data={"csrftoken": csrf, "release": "1", "request_id": rid(7)})
    let = rt.ReleaseLegalHoldRequest(request_id=rid(7), workspace_id=WS)
    assert h.services.asked("ReleaseLegalHold") == [let] * len(SERVICES)
    assert "Legal hold released in every service" in h.http.get(f"/w/{WS}/retention").text
    no_reason = h.http.post(f"/w/{WS}/retention", headers=back, data={"csrftoken": csrf, "reason": " "})
    assert "reason is required" in h.http.get(no_reason.headers["location"]).text
    assert len(h.services.asked("SetLegalHold")) == len(SERVICES)


def test_a_legal_hold_on_one_record_is_shown_once_with_where_it_is_active_and_released_from_its_row(
    h: Harness,
) -> None:
    """Holds are listed one row per thing held, whatever the number of services holding it (active in some,
    released in others); a record's hold is set and released in every service by its kind and id; a kind no
    hold names, or a kind without its id, is refused before any service is asked; a record's page opens the
    form on that record."""
    at, later = ts(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)), ts(dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC))
    on_task = {"workspace_id": WS, "record_type": "task", "record_id": rid(9), "set_by": "nl-prosecutor",
               "set_by_jurisdiction": "NL"}  # fmt: skip
    kept = rt.LegalHold(**on_task, reason="The suspect's appeal", set_at=later, active=True)
    let_go = rt.LegalHold(**on_task, reason="Appeal filed", set_at=at, active=False, released_at=later,
                          released_by="nl-prosecutor")  # fmt: skip
    workspace = rt.LegalHold(workspace_id=WS, reason="Trial", set_by="nl-prosecutor", set_by_jurisdiction="NL",
                             set_at=later, active=False, released_at=later, released_by="nl-prosecutor")  # fmt: skip
    listed = {"tasks": [kept, workspace], "evidence": [let_go], "preservation": [workspace]}
    for service in SERVICES:
        h.services.answers[(f"{service}.retention", "ListLegalHolds")] = rt.ListLegalHoldsResponse(
            holds=listed.get(service, [])
        )
        h.services.answers[(f"{service}.retention", "SetLegalHold")] = rt.SetLegalHoldResponse(hold=kept)
        h.services.answers[(f"{service}.retention", "ReleaseLegalHold")] = rt.ReleaseLegalHoldResponse(hold=kept)
    h.login()
    page = h.http.get(f"/w/{WS}/retention").text
    assert page.count(f"<code>{rid(9)}</code>") == 1 and page.count("the whole workspace</th>") == 1
    assert "<strong>active</strong> in tasks; released in evidence" in page
    assert "<p>Appeal filed</p><p>The suspect&#39;s appeal</p>" in page  # each reason, oldest first
    assert f"Release the hold on task {rid(9)} in every service" in page
    assert "Release the workspace&#39;s legal hold" not in page  # released everywhere: nothing to release
    assert page.index("the whole workspace</th>") < page.index(f"<code>{rid(9)}</code>")
    back = {"referer": f"http://testserver/w/{WS}/retention"}
    csrf = h.csrf()
    hold = {"csrftoken": csrf, "request_id": rid(6), "record_type": "task", "record_id": rid(9), "reason": "Appeal"}
    said = h.http.get(h.http.post(f"/w/{WS}/retention", headers=back, data=hold).headers["location"]).text
    want = rt.SetLegalHoldRequest(request_id=rid(6), workspace_id=WS, record_type="task", record_id=rid(9),
                                  reason="Appeal")  # fmt: skip
    assert h.services.asked("SetLegalHold") == [want] * len(SERVICES)
    assert f"Legal hold on the task {rid(9)} set in every service" in said
    release = {"csrftoken": csrf, "release": "1", "record_type": "task", "record_id": rid(9), "request_id": rid(8)}
    h.http.post(f"/w/{WS}/retention", headers=back, data=release)
    let = rt.ReleaseLegalHoldRequest(request_id=rid(8), workspace_id=WS, record_type="task", record_id=rid(9))
    assert h.services.asked("ReleaseLegalHold") == [let] * len(SERVICES)
    for bad, words in (
        ({"record_type": "removal", "record_id": rid(9)}, "record_type is not a kind of record"),
        ({"record_type": "victim", "record_id": " "}, "record_id is required: the id of the victim"),
    ):
        refused = h.http.post(f"/w/{WS}/retention", headers=back, data={"csrftoken": csrf, "reason": "x", **bad})
        assert words in h.http.get(refused.headers["location"]).text
    assert len(h.services.asked("SetLegalHold")) == len(SERVICES)
    opened = h.http.get(f"/w/{WS}/retention", params={"record": f"preservation_order:{rid(4)}"}).text
    assert '<option value="preservation_order" selected>' in opened and f'value="{rid(4)}"' in opened
    assert '<option value="" selected>' in h.http.get(f"/w/{WS}/retention", params={"record": "removal:x"}).text


def test_a_renewed_hold_keeps_its_history_on_the_page_and_each_release_button_sends_its_own_request_id(
    h: Harness,
) -> None:
    """A service keeps every hold it set on a thing: one renewed (set again while active) and the one that
    renewed it are one row, active in that service, with the history of both (the first shown renewed, with
    its reason); each release button carries a request id of its own, so a retried release is answered as
    the first one was, and two buttons never share one."""
    at, later = ts(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)), ts(dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC))
    who = {"workspace_id": WS, "set_by": "nl-prosecutor", "set_by_jurisdiction": "NL"}
    renewed = rt.LegalHold(**who, id=rid(1), reason="Appeal filed", set_at=at, active=False, released_at=later,
                           released_by="nl-prosecutor", superseded_by=rid(2))  # fmt: skip
    current = rt.LegalHold(**who, id=rid(2), reason="Appeal pending", set_at=later, active=True)
    on_task = rt.LegalHold(**who, id=rid(3), record_type="task", record_id=rid(9), reason="Trial", set_at=at,
                           active=True)  # fmt: skip
    for service in SERVICES:
        h.services.answers[(f"{service}.retention", "ListLegalHolds")] = rt.ListLegalHoldsResponse(
            holds=[renewed, on_task, current] if service == "tasks" else [current]
        )
    h.login()
    page = h.http.get(f"/w/{WS}/retention").text
    assert page.count("the whole workspace</th>") == 1
    assert f"<strong>active</strong> in {', '.join(SERVICES)}<" in page  # the renewed one is not "released"
    assert "<p>Appeal filed</p><p>Appeal pending</p>" in page
    assert "History (6 holds)" in page and page.count("<details>") == 1  # the task's hold has no history
    assert "tasks: set by nl-prosecutor (NL)" in page and ": Appeal filed</li>" in page
    history = page[page.index("History (6") :]
    assert history.index("renewed <time") < history.index(": Appeal filed</li>")
    ids = re.findall(r'name="request_id" value="([^"]+)"', page)
    assert len(ids) == 3 and len(set(ids)) == 3  # two release buttons and the form: an id each


def test_a_records_page_links_a_prosecutor_to_a_hold_on_it_and_nobody_else(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = ts(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    task = tk.GetTaskResponse(task=tk.Task(id=rid(3), workspace_id=WS, created_at=at))
    h.services.answers[("tasks", "GetTask")] = task
    h.services.answers[("preservation", "GetOrder")] = pv.GetOrderResponse(
        order=pv.PreservationOrder(id=rid(4), workspace_id=WS, created_at=at)
    )
    other = tk.GetTaskResponse(task=tk.Task(id=rid(5), workspace_id="jit-other", created_at=at))
    h.login()
    task_link = f'href="/w/{WS}/retention?record=task%3A{rid(3)}"'
    assert task_link in h.http.get(f"/tasks/{rid(3)}").text
    assert f"record=preservation_order%3A{rid(4)}" in h.http.get(f"/orders/{rid(4)}").text
    h.services.answers[("tasks", "GetTask")] = other  # a replica of a workspace the user is no member of
    assert "Set a legal hold" not in h.http.get(f"/tasks/{rid(5)}").text
    monkeypatch.setitem(CLAIMS, "realm_access", {"roles": ["police_liaison"]})
    liaison = Harness()
    liaison.services.answers[("tasks", "GetTask")] = task
    liaison.login()
    assert "Set a legal hold" not in liaison.http.get(f"/tasks/{rid(3)}").text


def test_the_consoles_hold_records_are_the_kinds_the_services_hold() -> None:
    assert set(HOLD_RECORDS) == RECORD_TYPES


# ---------------------------------------------------------------- restricted channels


def test_a_restricted_channel_is_opened_and_listed_with_the_jurisdictions_that_read_it(h: Harness) -> None:
    """The channels' page lists the restricted channels the service lists for the user (not the records'
    threads, nor the workspace's own channel, which has its link); the form opens one with the named
    jurisdictions, and its page is the thread, back to the list."""
    at = ts(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    nl_de = mg.Channel(
        id=rid(71),
        workspace_id=WS,
        kind=mg.CHANNEL_KIND_RESTRICTED,
        title="NL-DE: her lawyer",
        members=["DE"],
        origin_jurisdiction="NL",
        restricted=True,
        last_seq=2,
        created_at=at,
    )
    thread = mg.Channel(id=rid(72), workspace_id=WS, kind=mg.CHANNEL_KIND_RECORD, title="Task thread")
    everyone = mg.Channel(id=rid(73), workspace_id=WS, kind=mg.CHANNEL_KIND_WORKSPACE, title="jit-demo")  # fmt: skip
    h.services.answers[("messaging", "ListChannels")] = mg.ListChannelsResponse(channels=[nl_de, thread, everyone])
    h.services.answers[("messaging", "CreateChannel")] = lambda r: mg.CreateChannelResponse(
        channel=mg.Channel(id=rid(74), workspace_id=r.workspace_id)
    )
    h.services.answers[("messaging", "GetChannel")] = mg.GetChannelResponse(channel=nl_de)
    h.services.answers[("messaging", "ListMessages")] = mg.ListMessagesResponse()
    h.login()
    page = h.http.get(f"/w/{WS}/channels").text
    assert f'<a href="/channels/{rid(71)}">NL-DE: her lawyer</a>' in page and "DE, NL" in page
    assert "Task thread" not in page and f"/channels/{rid(73)}" not in page
    sent = _drafted(h, "channels", {"request_id": rid(4), "title": " Her lawyer's contacts ", "members": "de"})
    assert sent.status_code == 303 and sent.headers["location"] == f"/channels/{rid(74)}"
    assert h.services.asked("CreateChannel") == [
        mg.CreateChannelRequest(request_id=rid(4), workspace_id=WS, title="Her lawyer's contacts", members=["DE"])
    ]
    shown = h.http.get(f"/channels/{rid(71)}").text
    assert "NL-DE: her lawyer" in shown and "Seen only by DE, NL" in shown and f'href="/w/{WS}/channels"' in shown
    assert h.services.asked("GetChannel") == [mg.GetChannelRequest(id=rid(71))]


# ---------------------------------------------------------------- a channel's key


def test_a_channels_key_is_rotated_from_the_version_the_page_showed(h: Harness) -> None:
    """The thread's rotate form carries the key version the page showed; the service gets it (so the form
    sent again is refused there, never a second rotation), and a version that is not a number is refused
    before any call."""
    h.services.answers[("messaging", "OpenRecordThread")] = mg.OpenRecordThreadResponse(
        channel=mg.Channel(id=rid(60), workspace_id=WS, title="Thread", last_seq=0, key_version=3)
    )
    h.services.answers[("messaging", "ListMessages")] = mg.ListMessagesResponse()
    h.services.answers[("messaging", "RotateChannelKey")] = mg.RotateChannelKeyResponse(
        channel=mg.Channel(id=rid(60), workspace_id=WS, title="Thread", key_version=4)
    )
    h.login()
    page = h.http.get(f"/thread/task/{rid(1)}").text
    assert f'action="/channels/{rid(60)}/rotate-key"' in page and 'name="expected_key_version" value="3"' in page
    back = {"referer": f"http://testserver/thread/task/{rid(1)}"}
    form = {"csrftoken": h.csrf(), "expected_key_version": "3"}
    sent = h.http.post(f"/channels/{rid(60)}/rotate-key", headers=back, data=form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/thread/task/{rid(1)}"
    assert "key version 4" in h.http.get(sent.headers["location"]).text
    assert h.services.asked("RotateChannelKey") == [
        mg.RotateChannelKeyRequest(channel_id=rid(60), expected_key_version=3)
    ]
    refused = h.http.post(f"/channels/{rid(60)}/rotate-key", headers=back, data={**form, "expected_key_version": "x"})
    assert "expected_key_version: must be a whole number" in h.http.get(refused.headers["location"]).text
    assert len(h.services.asked("RotateChannelKey")) == 1


# ---------------------------------------------------------------- a user's own messages


def test_a_user_edits_or_deletes_only_their_own_messages(h: Harness) -> None:
    """The thread offers to edit or delete the user's own messages (not another's, not the system's, not a
    deleted one), in the page and in the live stream; the service gets the revision the page showed."""
    at = ts(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    me = common_pb2.Actor(user_id="u1", username="nl-prosecutor", jurisdiction="NL")
    de = common_pb2.Actor(user_id="u2", username="de-liaison", jurisdiction="DE")
    messages = [
        mg.Message(id=rid(61), seq=1, sender=me, body="Mine, with a typo", revision=2, posted_at=at),
        mg.Message(id=rid(62), seq=2, sender=de, body="DE's", revision=1, posted_at=at),
        mg.Message(id=rid(63), seq=3, sender=me, body="", revision=3, deleted=True, posted_at=at),
        mg.Message(id=rid(64), seq=4, sender=me, body="NL accepted the task", system=True, posted_at=at),
    ]  # fmt: skip
    h.services.answers[("messaging", "OpenRecordThread")] = mg.OpenRecordThreadResponse(
        channel=mg.Channel(id=rid(60), workspace_id=WS, title="Thread", last_seq=4)
    )
    h.services.answers[("messaging", "ListMessages")] = mg.ListMessagesResponse(messages=messages)
    h.services.answers[("messaging", "EditMessage")] = mg.EditMessageResponse()
    h.services.answers[("messaging", "DeleteMessage")] = mg.DeleteMessageResponse()
    h.login()
    page = h.http.get(f"/thread/task/{rid(1)}").text
    assert re.findall(r'action="/messages/([0-9a-f-]{36})/edit"', page) == [rid(61)]
    assert 'name="expected_revision" value="2"' in page and ">Mine, with a typo</textarea>" in page
    back = {"referer": f"http://testserver/thread/task/{rid(1)}"}
    csrf = h.csrf()
    edit = {"csrftoken": csrf, "expected_revision": "2", "body": "Mine, without the typo"}
    sent = h.http.post(f"/messages/{rid(61)}/edit", headers=back, data=edit)
    assert sent.status_code == 303 and sent.headers["location"] == f"/thread/task/{rid(1)}"
    assert h.services.asked("EditMessage") == [
        mg.EditMessageRequest(id=rid(61), body="Mine, without the typo", expected_revision=2)
    ]
    refused = h.http.post(f"/messages/{rid(61)}/edit", headers=back, data={**edit, "expected_revision": "\u00b2"})
    assert "expected_revision: must be a whole number" in h.http.get(refused.headers["location"]).text
    h.http.post(f"/messages/{rid(61)}/delete", headers=back, data={"csrftoken": csrf})
    assert h.services.asked("DeleteMessage") == [mg.DeleteMessageRequest(id=rid(61))]

    async def own_then_other(request: Any, token: str) -> AsyncIterator[Any]:
        yield mg.SubscribeResponse(message=messages[0])
        yield mg.SubscribeResponse(message=messages[1])

    h.services.streams = [own_then_other]
    live = h.http.get(f"/channels/{rid(60)}/live?after=0").text
    assert live.count("/edit") == 1 and f"/messages/{rid(61)}/edit" in live
    assert f'name="csrftoken" value="{csrf}"' in live


# ---------------------------------------------------------------- the live thread


def _message(seq: int) -> mg.SubscribeResponse:
    return mg.SubscribeResponse(
        message=mg.Message(id=f"m{seq}", seq=seq, body=f"body {seq}", posted_at=ts(dt.datetime.now(dt.UTC)))
    )


async def _expires_after(seq: int, token: str) -> AsyncIterator[Any]:
    yield _message(seq)
    raise Refused(
        grpc.StatusCode.UNAUTHENTICATED, "Your session is not accepted any more: log in again.", "TOKEN_EXPIRED"
    )


def test_a_live_thread_goes_on_with_a_renewed_token_from_where_it_was(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The messaging service ends the stream when the token it was opened with expires; the session is
    still good: the console opens it again after the last message sent, with the renewed token."""
    session = h.login()
    renewed = iter(["token-1", "token-2", "token-3"])

    async def access_token(s: UserSession) -> str:
        return next(renewed)

    monkeypatch.setattr(h.console.sessions, "access_token", access_token)

    async def then_one_more(request: Any, token: str) -> AsyncIterator[Any]:
        yield _message(6)

    h.services.streams = [lambda r, t: _expires_after(5, t), then_one_more]
    body = h.http.get(f"/channels/{rid(7)}/live?after=4").text
    assert "id: 5" in body and "id: 6" in body and "event: refused" not in body
    opened = [(request.after_seq, token) for _, m, request, token in h.services.calls if m == "Subscribe"]
    assert opened == [(4, "token-1"), (5, "token-2")]
    assert h.console.sessions.held(session)


@pytest.mark.parametrize("why", ["session ended", "keycloak refuses", "same token"])
def test_a_live_thread_stops_in_words_when_the_session_cannot_go_on(
    h: Harness, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """The user logged out in another tab, Keycloak refuses to renew the session, or the token was not
    renewed (the console's clock says it holds): the stream ends, saying so."""
    session = h.login()
    calls = 0

    async def access_token(s: UserSession) -> str:
        nonlocal calls
        calls += 1
        if calls > 1 and why == "keycloak refuses":
            raise LoginRequired("your session ended in Keycloak")
        return "token-1" if why == "same token" or calls == 1 else "token-2"

    async def expires(request: Any, token: str) -> AsyncIterator[Any]:
        yield _message(5)
        if why == "session ended":
            h.console.sessions.end(session)
        async for part in _expires_after(6, token):
            yield part

    monkeypatch.setattr(h.console.sessions, "access_token", access_token)
    h.services.streams = [expires, lambda r, t: _expires_after(7, t)]
    body = h.http.get(f"/channels/{rid(7)}/live").text
    assert "id: 5" in body and "event: refused" in body and "log in again" in body
    assert len(h.services.asked("Subscribe")) == 1


def test_an_open_live_thread_does_not_keep_an_idle_session(h: Harness) -> None:
    """Asking whether the session still holds (as a live stream does) is not using it."""
    session = h.login()
    session.last_seen -= 29 * 60
    seen = session.last_seen
    assert h.console.sessions.held(session) and session.last_seen == seen
    session.last_seen -= 2 * 60
    assert not h.console.sessions.held(session)


# ---------------------------------------------------------------- bad input is refused in words


@pytest.mark.parametrize(
    "path",
    [
        f"/w/{WS}/statistics?k=3000000000",
        f"/w/{WS}/statistics/chart.png?k=99999999999",
        f"/w/{WS}/scorecard?k=3000000000",
        f"/w/{WS}/scorecard?k=%C2%B2",
    ],
)
def test_a_k_out_of_range_is_refused_in_words(h: Harness, path: str) -> None:
    h.login()
    page = h.http.get(path)
    assert page.status_code == 400 and "k must be a whole number" in page.text


@pytest.mark.parametrize(
    ("path", "form", "words"),
    [
        (
            f"/w/{WS}/tasks",
            {"title": "t", "kind": "1", "priority": "2", "assignee": "DE", "due_in_days": "99999999"},
            "Due in (days): from 0 to 1800",
        ),
        (
            f"/act/item/{rid(1)}/approve_export",
            {"export_request_seq": "99999999999999999999"},
            "Export request: a whole number",
        ),
        (f"/act/item/{rid(1)}/approve_export", {"export_request_seq": "\u00b2"}, "Export request: a whole number"),
        (
            f"/act/request/{rid(1)}/report_not_executed",
            {"version": "1", "reason": "\u00b2"},
            "Why: choose one of the listed values",
        ),
        (
            f"/act/request/{rid(1)}/refuse",
            {"version": "1", "ground": "1", "detail": "d", "data_categories": "\u00b2"},
            "choose among the listed values",
        ),
        (
            f"/act/order/{rid(1)}/confirm",
            {"version": "1", "received_at": "9999-12-31T23:00-05:00"},
            "before the year 9999",
        ),
        (f"/act/order/{rid(1)}/extend", {"version": "99999999999999999999"}, "version: must be a number"),
        (
            f"/w/{WS}/orders",
            {"legal_basis": "99", "provider_id": "socialnet-ie", "target_1_kind": "1", "target_1": "@a"},
            "the kinds of targets and the data must be chosen from the form",
        ),
        (
            f"/w/{WS}/orders",
            {"legal_basis": "1", "provider_id": "socialnet-ie", "target_1_kind": "\u00b2", "target_1": "@a"},
            "the kinds of targets and the data must be chosen from the form",
        ),
        (
            f"/w/{WS}/requests",
            {"title": "t", "legal_basis": "1", "addressee_kind": "7", "target_1_type": "1", "target_1": "@a"},
            "the targets&#39; kinds, the offence, the urgency and the listed offence must be chosen from the form",
        ),
        (
            f"/w/{WS}/requests",
            {
                "title": "t",
                "legal_basis": "1",
                "addressee_kind": "1",
                "target_1_type": "1",
                "target_1": "@a",
                "listed_offence": "99",
            },
            "the listed offence must be chosen from the form, the maximum sentence a number of months",
        ),
        (
            f"/w/{WS}/requests",
            {
                "title": "t",
                "legal_basis": "1",
                "addressee_kind": "1",
                "target_1_type": "1",
                "target_1": "@a",
                "max_sentence_months": "99999999999999999999",
            },
            "the maximum sentence a number of months",
        ),
        (
            f"/w/{WS}/requests",
            {"title": "t", "legal_basis": "1", "addressee_kind": "1", "target_1_type": "9", "target_1": "@a"},
            "must be chosen from the form",
        ),
        (f"/w/{WS}/removals", {"basis": "9", "target_1": "https://a.example/1"}, "the legal basis must be chosen"),
        (
            f"/w/{WS}/removals",
            {"basis": "1", "target_1": "https://a.example/1", "sent_at": "yesterday"},
            "Sent to the platform at: a day and time",
        ),
    ],
)
def test_a_form_value_out_of_range_is_refused_in_words(h: Harness, path: str, form: dict[str, str], words: str) -> None:
    h.login()
    sent, shown = h.post(path, form)
    assert sent.status_code == 303 and shown.status_code == 200
    assert words in shown.text and 'class="flash error"' in shown.text


@pytest.mark.parametrize("after", ["?after=%C2%B2", "?after=99999999999999999999"])
def test_a_live_thread_ignores_a_position_it_cannot_read(h: Harness, after: str) -> None:
    h.login()

    async def nothing(request: Any, token: str) -> AsyncIterator[Any]:
        return
        yield

    h.services.streams = [nothing]
    assert h.http.get(f"/channels/{rid(7)}/live{after}").status_code == 200
    assert h.services.asked("Subscribe")[0].after_seq == 0


def test_a_time_zone_cookie_naming_a_folder_falls_back_to_utc(h: Harness) -> None:
    h.login()
    h.http.cookies.set("jit_tz", "Europe")
    assert h.http.get("/workspaces").status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body", "words"),
    [
        ("multipart/form-data", b"x", "without its multipart boundary"),
        ("application/x-www-form-urlencoded", b"csrftoken=a&reason=\xff", "not sent as UTF-8"),
    ],
)
def test_a_form_body_the_console_cannot_read_is_refused_in_words(
    h: Harness, content_type: str, body: bytes, words: str
) -> None:
    h.login()
    h.csrf()
    out = h.http.post(f"/act/task/{rid(1)}/accept", content=body, headers={"content-type": content_type})
    assert out.status_code == 400 and words in out.text


# ---------------------------------------------------------------- cookies and headers


def test_the_csrf_cookie_is_sent_on_arrival_from_another_site_and_checked_in_words(h: Harness) -> None:
    """SameSite=Lax, as the session cookie: a browser sends it when a link elsewhere opens the console,
    so the token of the forms open in other tabs stays the one of the cookie."""
    h.login()
    page = h.http.get("/workspaces")
    cookie = next(v for k, v in page.headers.multi_items() if k == "set-cookie" and v.startswith("csrftoken="))
    assert "SameSite=Lax" in cookie
    forged = h.http.post(f"/act/task/{rid(1)}/accept", data={"csrftoken": "forged", "version": "1"})
    assert forged.status_code == 403 and "Reload the page" in forged.text


def test_https_pages_tell_browsers_to_keep_to_https() -> None:
    https = Harness("https://jit.nl.example", console_public_url="https://jit.nl.example")
    assert https.http.get("/").headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in Harness().http.get("/").headers


def _consented_item(item_id: str, allowed: list[str]) -> ev.EvidenceItem:
    item = ev.EvidenceItem(
        id=item_id, request_id=rid(50), workspace_id=WS, origin_jurisdiction="DE", filename="chat.txt",
        media_type="text/plain", size_bytes=12, sha256="cd" * 32, allowed_actions=allowed,
    )  # fmt: skip
    item.received_at.FromDatetime(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
    given = item.use_conditions.consents.add(
        purpose="prosecution of a related fraud case", granted_by_jurisdiction="DE", reference="StA 276 Js 1/26"
    )
    given.granted_at.FromDatetime(dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC))
    return item


def test_the_originating_states_prosecutor_records_its_consent_from_the_item_and_the_consents_are_shown(
    h: Harness,
) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT: an item the service lists ``record_use_consent`` for (the originating
    state's prosecutor) has the consent form, with the CSRF token and a new request id each time the page is
    shown; an item it does not list it for has none; every item shows its consents and whose consent another
    use needs, on the request page and the chain of custody. The form becomes RecordUseConsent; a post without
    the CSRF token is refused and calls nothing."""
    req = ev.EvidenceRequest(id=rid(50), workspace_id=WS, title="Chat logs", addressee_jurisdiction="DE")
    mine, other = _consented_item(rid(51), ["record_use_consent"]), _consented_item(rid(52), [])
    h.services.answers[("evidence", "GetRequest")] = ev.GetRequestResponse(request=req)
    h.services.answers[("evidence", "ListItems")] = ev.ListItemsResponse(items=[mine, other])
    h.services.answers[("evidence", "RecordUseConsent")] = ev.RecordUseConsentResponse(item=mine)
    h.login()
    page = h.http.get(f"/requests/{rid(50)}").text
    assert f'action="/act/item/{rid(51)}/record_use_consent"' in page
    assert f"/act/item/{rid(52)}/record_use_consent" not in page
    form = page.split(f'action="/act/item/{rid(51)}/record_use_consent"')[1].split("</form>")[0]
    assert 'name="csrftoken"' in form and 'name="purpose"' in form and 'name="reference"' in form
    ids = re.findall(r'name="request_id" value="([0-9a-f-]{36})"', form)
    again = h.http.get(f"/requests/{rid(50)}").text.split(f"/act/item/{rid(51)}/record_use_consent")[1]
    assert len(ids) == 1 and ids[0] not in again.split("</form>")[0]  # a new one each time it is shown
    assert page.count("DE consents to: prosecution of a related fraud case (reference StA 276 Js 1/26)") == 2
    assert page.count("another use needs the consent of DE, where it arose") == 2

    back = {"referer": f"http://testserver/requests/{rid(50)}"}
    sent = {"purpose": "trial for extortion in NL", "reference": "StA 1", "request_id": ids[0]}
    refused = h.http.post(f"/act/item/{rid(51)}/record_use_consent", headers=back, data=sent)
    assert refused.status_code == 403 and h.services.asked("RecordUseConsent") == []
    done = h.http.post(f"/act/item/{rid(51)}/record_use_consent", headers=back, data={"csrftoken": h.csrf(), **sent})
    assert done.status_code == 303
    assert h.services.asked("RecordUseConsent") == [
        ev.RecordUseConsentRequest(
            item_id=rid(51), request_id=ids[0], purpose="trial for extortion in NL", reference="StA 1"
        )
    ]
    missing = h.http.post(
        f"/act/item/{rid(51)}/record_use_consent", headers=back,
        data={"csrftoken": h.csrf(), "request_id": ids[0], "purpose": " "},
    )  # fmt: skip
    assert missing.status_code in (303, 400) and len(h.services.asked("RecordUseConsent")) == 1

    h.services.answers[("evidence", "GetItem")] = ev.GetItemResponse(item=other)
    h.services.answers[("evidence", "ListCustody")] = ev.ListCustodyResponse()
    custody = h.http.get(f"/items/{rid(52)}/custody").text
    assert "DE consents to: prosecution of a related fraud case" in custody
