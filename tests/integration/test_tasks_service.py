"""The tasks service end to end with real Keycloak tokens, real NATS JetStream and a real database
(each test module runs once on SQLite and once on PostgreSQL)."""

from __future__ import annotations

import base64
import concurrent.futures
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from opentelemetry import propagate, trace
from sqlalchemy import func, select

from jit.audit.v1 import audit_pb2, audit_pb2_grpc
from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from services.tasks.store import RUNTIME, TaskRow
from tests.conftest import read_stream
from tests.harness import (
    announce_victim,
    error_reason,
    eventually,
    field_violations,
    md,
    new_pseudonym,
    registered_victims,
    rid,
    victims_known,
)

pytestmark = pytest.mark.integration
WS = "jit-demo"


def ts(dt: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt)
    return out


class Client:
    def __init__(self, svc: Any, tokens: Any) -> None:
        self.stub = tasks_pb2_grpc.TaskServiceStub(svc.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any, **kw: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=15, **kw)

    def create(self, user: str = "nl-prosecutor", **over: Any) -> pb.Task:
        fields: dict[str, Any] = dict(
            request_id=rid(),
            workspace_id=WS,
            title="Identify the holder of @harasser_x",
            kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction="DE",
            due_at=ts(datetime.now(UTC) + timedelta(days=10)),
        )
        fields.update(over)
        return self.call(user, "CreateTask", pb.CreateTaskRequest(**fields)).task

    def code_of(self, user: str, method: str, request: Any) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        return info.value.code()


@pytest.fixture(scope="module")
def client(tasks_svc: Any, tokens: Any) -> Client:
    return Client(tasks_svc, tokens)


def count_rows(svc: Any) -> tuple[int, int]:
    def q(s: Any) -> tuple[int, int]:
        tasks = s.scalar(select(func.count()).select_from(TaskRow))
        events = s.scalar(select(func.count()).select_from(RUNTIME.outbox))
        return int(tasks or 0), int(events or 0)

    return svc.loop.run(svc.rt.read(q))


def test_cross_border_task_lifecycle(client: Client) -> None:
    task = client.create()
    assert task.state == pb.TASK_STATE_ASSIGNED
    assert task.origin_jurisdiction == "NL" and task.assignee_jurisdiction == "DE"
    assert task.visibility == common_pb2.VISIBILITY_RESTRICTED  # need to know by default

    t = client.call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id)).task
    assert t.state == pb.TASK_STATE_ACCEPTED and t.updated_by.jurisdiction == "DE"
    client.call("de-liaison", "StartTask", pb.StartTaskRequest(id=task.id))
    t = client.call("de-liaison", "CompleteTask", pb.CompleteTaskRequest(id=task.id, outcome="Holder identified")).task
    assert t.state == pb.TASK_STATE_DONE

    # The DE prosecutor sees the task but is not its issuer: may not verify.
    assert (
        client.code_of("de-prosecutor", "VerifyTask", pb.VerifyTaskRequest(id=task.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    t = client.call("nl-prosecutor", "VerifyTask", pb.VerifyTaskRequest(id=task.id)).task
    assert t.state == pb.TASK_STATE_VERIFIED and t.version == 5


def test_nl_liaison_cannot_accept_a_task_addressed_to_de(client: Client) -> None:
    task = client.create()
    assert (
        client.code_of("nl-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )


def test_ie_sees_a_task_only_when_it_is_workspace_visible(client: Client) -> None:
    restricted = client.create()
    open_task = client.create(visibility=common_pb2.VISIBILITY_WORKSPACE)
    assert client.code_of("ie-liaison", "GetTask", pb.GetTaskRequest(id=restricted.id)) == grpc.StatusCode.NOT_FOUND
    assert client.call("ie-liaison", "GetTask", pb.GetTaskRequest(id=open_task.id)).task.id == open_task.id
    listed = {
        t.id for t in client.call("ie-liaison", "ListTasks", pb.ListTasksRequest(workspace_id=WS, page_size=200)).tasks
    }
    assert open_task.id in listed and restricted.id not in listed
    shared = client.create(shared_with=["IE"])
    assert client.call("ie-liaison", "GetTask", pb.GetTaskRequest(id=shared.id)).task.id == shared.id


def test_a_non_member_gets_not_found_for_everything(client: Client) -> None:
    task = client.create(visibility=common_pb2.VISIBILITY_WORKSPACE)
    assert client.code_of("fr-prosecutor", "GetTask", pb.GetTaskRequest(id=task.id)) == grpc.StatusCode.NOT_FOUND
    assert client.code_of("fr-prosecutor", "AcceptTask", pb.AcceptTaskRequest(id=task.id)) == grpc.StatusCode.NOT_FOUND
    assert (
        client.code_of("fr-prosecutor", "ListTasks", pb.ListTasksRequest(workspace_id=WS)) == grpc.StatusCode.NOT_FOUND
    )
    with pytest.raises(grpc.RpcError) as info:
        client.create("fr-prosecutor")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    # Same answer as for an id that does not exist at all.
    missing = "01935c4e-0000-7000-8000-00000000dead"
    assert client.code_of("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=missing)) == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("user", ["nl-operator", "nl-auditor"])
def test_operators_and_auditors_never_read_case_content(client: Client, user: str) -> None:
    task = client.create(visibility=common_pb2.VISIBILITY_WORKSPACE)
    assert client.code_of(user, "GetTask", pb.GetTaskRequest(id=task.id)) == grpc.StatusCode.PERMISSION_DENIED
    assert client.code_of(user, "ListTasks", pb.ListTasksRequest()) == grpc.StatusCode.PERMISSION_DENIED


def test_requests_without_a_valid_token_are_unauthenticated(tasks_svc: Any) -> None:
    stub = tasks_pb2_grpc.TaskServiceStub(tasks_svc.channel)
    for metadata in ([], [("authorization", "Bearer not-a-jwt")], [("authorization", "Basic abc")]):
        with pytest.raises(grpc.RpcError) as info:
            stub.GetTask(pb.GetTaskRequest(id=rid()), metadata=metadata, timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_event_reaches_jetstream_and_continues_the_rpc_trace(client: Client, nats_server: Any, spans: Any) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("cli create task") as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        trace_id = format(span.get_span_context().trace_id, "032x")
        req = pb.CreateTaskRequest(
            request_id=rid(), workspace_id=WS, title="Trace me", kind=pb.TASK_KIND_OTHER, assignee_jurisdiction="DE"
        )
        task = client.stub.CreateTask(
            req, metadata=md(client.tokens("nl-prosecutor")) + list(carrier.items()), timeout=15
        ).task

    def mine() -> list[Any]:
        return [
            m
            for m in read_stream(nats_server.url, "JIT_TASKS", "jit.tasks.NL.created")
            if Envelope.FromString(m.data).aggregate_id == task.id
        ]

    from tests.harness import eventually

    msgs = eventually(mine)
    assert len(msgs) == 1
    env = Envelope.FromString(msgs[0].data)
    assert env.type == "jit.tasks.v1.TaskCreated" and env.origin_jurisdiction == "NL"
    assert sorted(env.audience) == ["DE", "NL"]  # restricted: only the parties
    state = pb.Task()
    assert env.state.Unpack(state) and state.id == task.id and state.version == 1
    assert list(task.allowed_actions) == ["renegotiate", "cancel"] and list(state.allowed_actions) == []
    assert msgs[0].headers["Nats-Msg-Id"] == env.id
    traceparent = msgs[0].headers["traceparent"]
    assert traceparent.split("-")[1] == trace_id
    # The publish span is a child of the RPC's server span, in the same trace.
    finished = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    names = {s.name for s in finished}
    assert "/jit.tasks.v1.TaskService/CreateTask" in names
    assert "jit.tasks.NL.created publish" in names


def test_a_create_is_one_transaction_of_four_statements_traced_as_one_span(
    client: Client, spans: Any, tasks_svc: Any
) -> None:
    """The create path's cost in statements and spans: the task, its parties, the outbox event, and its
    audit entry recorded unlinked (no lock on the chain head: the chainer links it after the commit, in
    its own untraced transaction); one span for the transaction, not one per statement; the event
    published from memory by the relay (its own span), without reading the outbox back. On PostgreSQL
    the four INSERTs are one statement (``jitlib.sqlexec.deferring``)."""
    client.create()  # the workspace's content key and the chain head are now known to the process
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("cli create task") as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        trace_id = span.get_span_context().trace_id
        client.stub.CreateTask(
            pb.CreateTaskRequest(
                request_id=rid(), workspace_id=WS, title="Count me", kind=pb.TASK_KIND_OTHER, assignee_jurisdiction="DE"
            ),
            metadata=md(client.tokens("nl-prosecutor")) + list(carrier.items()),
            timeout=15,
        )

    def traced() -> list[Any]:
        mine = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
        return mine if any(s.name.endswith(" publish") for s in mine) else []

    names = sorted(s.name for s in eventually(traced) if s.name != "cli create task")
    assert names == ["/jit.tasks.v1.TaskService/CreateTask", "db write", "jit.tasks.NL.created publish"]
    (write,) = [s for s in traced() if s.name == "db write"]
    assert write.attributes["db.statement_count"] == (4 if tasks_svc.rt.db.sqlite else 1)


def test_create_is_idempotent_by_request_id(client: Client, tasks_svc: Any) -> None:
    req = pb.CreateTaskRequest(
        request_id=rid(), workspace_id=WS, title="Once only", kind=pb.TASK_KIND_OTHER, assignee_jurisdiction="DE"
    )
    before = count_rows(tasks_svc)
    first = client.call("nl-prosecutor", "CreateTask", req).task
    again = client.call("nl-prosecutor", "CreateTask", req).task
    assert first.id == again.id
    assert count_rows(tasks_svc) == (before[0] + 1, before[1] + 1)
    req.title = "Something else"
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "CreateTask", req)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(info.value) == "REQUEST_ID_REUSED"


def test_concurrent_updates_are_caught_by_the_version_check(client: Client) -> None:
    task = client.create()
    assert (
        client.code_of("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id, expected_version=7))
        == grpc.StatusCode.ABORTED
    )

    def accept(user: str) -> str:
        try:
            accepted = client.call(user, "AcceptTask", pb.AcceptTaskRequest(id=task.id)).task
            return f"OK {accepted.version} {accepted.updated_by.username}"
        except grpc.RpcError as err:
            return err.code().name

    # Two users at once, twice each: one acceptance is applied. A user's identical call that reads the
    # task after it is the retry of it, answered as it was (jitlib.changes); every other is refused.
    users = ["de-liaison", "de-prosecutor"] * 2
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(accept, users))
    answered = {o for o in outcomes if o.startswith("OK")}
    assert len(answered) == 1 and answered <= {"OK 2 de-liaison", "OK 2 de-prosecutor"}, outcomes
    assert set(outcomes) - answered <= {"ABORTED", "FAILED_PRECONDITION"}
    final = client.call("de-liaison", "GetTask", pb.GetTaskRequest(id=task.id)).task
    assert final.version == 2


BAD_CREATES = [
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"description": "x" * 10_001}, "description"),
    ({"request_id": "123"}, "request_id"),
    ({"workspace_id": "no spaces allowed"}, "workspace_id"),
    ({"kind": pb.TASK_KIND_UNSPECIFIED}, "kind"),
    ({"kind": 99}, "kind"),
    ({"assignee_jurisdiction": "Deutschland"}, "assignee_jurisdiction"),
    ({"assignee_jurisdiction": "FR"}, "assignee_jurisdiction"),  # not a member
    ({"shared_with": ["PL"]}, "shared_with[0]"),  # not a member
    ({"due_at": ts(datetime.now(UTC) - timedelta(hours=1))}, "due_at"),
    ({"links": [common_pb2.RecordRef(kind=common_pb2.RECORD_KIND_TASK, id="nope")]}, "links[0].id"),
    ({"victim_refs": ["V-NL-0007", "the victim, Anna"]}, "victim_refs[1]"),  # words about her, not a pseudonym
    ({"victim_refs": ["V-NL-7"]}, "victim_refs[0]"),
    ({"victim_refs": ["V-NL-0007", "V-NL-0007"]}, "victim_refs[1]"),
    ({"victim_refs": ["V-DE-0007"]}, "victim_refs[0]"),  # jit-demo is led by NL: its victims are V-NL-...
    ({"victim_refs": [f"V-NL-{n:04}" for n in range(51)]}, "victim_refs"),
]


@pytest.mark.parametrize(("over", "field"), BAD_CREATES, ids=[f for _, f in BAD_CREATES])
def test_bad_create_is_invalid_argument_naming_the_field_and_writes_nothing(
    client: Client, tasks_svc: Any, over: dict[str, Any], field: str
) -> None:
    before = count_rows(tasks_svc)
    with pytest.raises(grpc.RpcError) as info:
        client.create(**over)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(info.value)
    assert field in violations, violations
    assert violations[field]
    assert count_rows(tasks_svc) == before


def test_illegal_transition_is_failed_precondition_and_writes_nothing(client: Client, tasks_svc: Any) -> None:
    task = client.create()
    before = count_rows(tasks_svc)
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "VerifyTask", pb.VerifyTaskRequest(id=task.id))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(info.value) == "ILLEGAL_TRANSITION"
    assert "ASSIGNED" in info.value.details()
    assert count_rows(tasks_svc) == before


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        ("GetTask", pb.GetTaskRequest(id="../../etc/passwd"), "id"),
        ("AcceptTask", pb.AcceptTaskRequest(id=""), "id"),
        ("DeclineTask", pb.DeclineTaskRequest(id="01935c4e-0000-7000-8000-000000000001"), "reason"),
        ("ListTasks", pb.ListTasksRequest(workspace_id=WS, page_size=1_000_000), "page_size"),
        ("ListTasks", pb.ListTasksRequest(workspace_id=WS, page_size=-1), "page_size"),
        ("ListTasks", pb.ListTasksRequest(workspace_id=WS, page_token="garbage"), "page_token"),
        ("ListTasks", pb.ListTasksRequest(workspace_id=WS, victim_ref="Anna"), "victim_ref"),
        ("ListTasks", pb.ListTasksRequest(workspace_id=WS, states=[42]), "states[0]"),
    ],
)
def test_malformed_requests_name_the_field(client: Client, method: str, request_: Any, field: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", method, request_)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(info.value)


def test_list_filters_and_pages(client: Client, tasks_svc: Any) -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    created = [
        client.create(
            title=f"paged {i}", due_at=ts(soon + timedelta(hours=i)), assignee_jurisdiction="IE" if i % 2 else "DE"
        )
        for i in range(5)
    ]
    ids = {t.id for t in created}
    window = pb.ListTasksRequest(
        workspace_id=WS,
        due_after=ts(soon - timedelta(minutes=1)),
        due_before=ts(soon + timedelta(hours=5)),
        page_size=2,
    )
    seen: list[str] = []
    while True:
        page = client.call("nl-prosecutor", "ListTasks", window)
        assert len(page.tasks) <= 2
        seen += [t.id for t in page.tasks]
        if not page.next_page_token:
            break
        window.page_token = page.next_page_token
    assert set(seen) == ids and len(seen) == len(set(seen))
    to_ie = client.call(
        "nl-prosecutor", "ListTasks", pb.ListTasksRequest(workspace_id=WS, assignee_jurisdiction="IE", page_size=200)
    )
    assert {t.id for t in to_ie.tasks} >= {t.id for t in created if t.assignee_jurisdiction == "IE"}
    assert all(t.assignee_jurisdiction == "IE" for t in to_ie.tasks)
    # A token is bound to its filter.
    with pytest.raises(grpc.RpcError) as info:
        client.call(
            "nl-prosecutor",
            "ListTasks",
            pb.ListTasksRequest(workspace_id=WS, page_token=page.next_page_token or window.page_token, page_size=2),
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_overdue_is_derived_when_time_passes(client: Client, tasks_svc: Any) -> None:
    task = client.create(due_at=ts(datetime.now(UTC) + timedelta(days=3)))
    overdue_now = client.call(
        "nl-prosecutor", "ListTasks", pb.ListTasksRequest(workspace_id=WS, overdue_only=True, page_size=200)
    )
    assert task.id not in {t.id for t in overdue_now.tasks}
    tasks_svc.app.clock.advance(timedelta(days=4))
    try:
        later = client.call(
            "nl-prosecutor", "ListTasks", pb.ListTasksRequest(workspace_id=WS, overdue_only=True, page_size=200)
        )
        assert task.id in {t.id for t in later.tasks}
        assert client.call("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=task.id)).task.overdue
    finally:
        tasks_svc.app.clock.advance(timedelta(days=-4))


def test_audit_chain_is_intact_and_readable_only_by_auditors(client: Client) -> None:
    client.create()
    assert client.code_of("fr-prosecutor", "GetTask", pb.GetTaskRequest(id=rid())) in {
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
    }
    auditor = md(client.tokens("nl-auditor"))
    report = client.audit.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(), metadata=auditor, timeout=15)
    assert report.intact and report.entries_checked > 0
    with pytest.raises(grpc.RpcError) as info:
        client.audit.VerifyAuditChain(
            audit_pb2.VerifyAuditChainRequest(), metadata=md(client.tokens("nl-prosecutor")), timeout=15
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    entries = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000), metadata=auditor).entries
    outcomes = {(e.username, e.outcome) for e in entries}
    assert ("fr-prosecutor", "not_found") in outcomes  # refused attempts are logged too
    assert all(e.time_zone == "UTC" and e.jurisdiction for e in entries)


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"99999999999999999999999").decode(),  # past SQLite's 64-bit integers
        base64.urlsafe_b64encode(b"-1").decode(),
        base64.urlsafe_b64encode(b"7" * 4000).decode(),
        "not base64 at all",
    ],
    ids=["beyond-64-bits", "negative", "long", "garbage"],
)
def test_an_audit_page_token_this_service_never_issued_is_refused_by_name(client: Client, token: str) -> None:
    client.create()
    client.create()  # at least two entries: a first page of one has a next
    auditor = md(client.tokens("nl-auditor"))
    with pytest.raises(grpc.RpcError) as info:
        client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_token=token), metadata=auditor)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert list(field_violations(info.value)) == ["page_token"]
    first = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1), metadata=auditor)
    assert first.next_page_token  # a token it issued is taken
    client.audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(page_size=1, page_token=first.next_page_token), metadata=auditor
    )


def test_events_are_written_with_every_change(client: Client, tasks_svc: Any) -> None:
    before = count_rows(tasks_svc)[1]
    task = client.create()
    client.call("de-liaison", "DeclineTask", pb.DeclineTaskRequest(id=task.id, reason="Not under our law"))
    client.call("nl-prosecutor", "AssignTask", pb.AssignTaskRequest(id=task.id, assignee_jurisdiction="IE"))
    t = client.call("ie-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id)).task
    assert t.assignee_jurisdiction == "IE" and t.version == 4
    assert count_rows(tasks_svc)[1] == before + 4
    # The DE liaison was a party before the reassignment; now a restricted task is IE's and NL's only.
    assert client.code_of("de-liaison", "GetTask", pb.GetTaskRequest(id=task.id)) == grpc.StatusCode.NOT_FOUND


def test_each_side_is_told_what_it_may_do_now(client: Client) -> None:
    """The same task tells its issuer and its addressee different actions, from the one policy and the
    state machine; an action listed goes through, one not listed is refused."""
    task = client.create()

    def allowed(user: str) -> list[str]:
        return list(client.call(user, "GetTask", pb.GetTaskRequest(id=task.id)).task.allowed_actions)

    assert allowed("nl-prosecutor") == ["renegotiate", "cancel"]
    assert allowed("de-liaison") == ["accept", "decline"]
    assert allowed("nl-liaison") == []  # sees it (NL's task) but acts on neither side
    # Not listed for the issuer: refused by the policy. Listed for the addressee: goes through.
    assert (
        client.code_of("nl-prosecutor", "AcceptTask", pb.AcceptTaskRequest(id=task.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    accepted = client.call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id)).task
    assert list(accepted.allowed_actions) == ["start", "hand_back"]  # the answer tells what comes next
    # Not listed any more: refused by the state machine.
    assert (
        client.code_of("de-liaison", "DeclineTask", pb.DeclineTaskRequest(id=task.id, reason="too late"))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    listed = client.call("de-liaison", "ListTasks", pb.ListTasksRequest(workspace_id=WS, page_size=200)).tasks
    assert [list(t.allowed_actions) for t in listed if t.id == task.id] == [["start", "hand_back"]]
    assert allowed("nl-prosecutor") == ["renegotiate", "cancel"]


def audit_operations(client: Client, record_id: str) -> list[str]:
    auditor = md(client.tokens("nl-auditor"))
    entries = client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000), metadata=auditor)
    found = [e.operation for e in entries.entries if e.record_id == record_id]
    while entries.next_page_token:
        entries = client.audit.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(page_size=1000, page_token=entries.next_page_token), metadata=auditor
        )
        found += [e.operation for e in entries.entries if e.record_id == record_id]
    return found


def test_task_renegotiation_by_the_issuer_is_version_checked_audited_and_published(
    client: Client, tasks_svc: Any, nats_server: Any
) -> None:
    """TASK_RENEGOTIATION (GUESS, no legal text): the issuer changes an open task's due date and priority with
    a reason; a stale version is ABORTED, the addressee is refused (it asks through the thread), a bad date
    writes nothing; the change is audited and published as ``renegotiated``; overdue follows the new date."""
    task = client.create(due_at=ts(datetime.now(UTC) + timedelta(days=3)))
    accepted = client.call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id)).task
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    ask = pb.RenegotiateTaskRequest(
        id=task.id, reason="DE needs the provider's answer first", due_at=ts(later), priority=pb.TASK_PRIORITY_URGENT
    )
    assert client.code_of("de-liaison", "RenegotiateTask", ask) == grpc.StatusCode.PERMISSION_DENIED
    stale = pb.RenegotiateTaskRequest()
    stale.CopyFrom(ask)
    stale.expected_version = task.version
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "RenegotiateTask", stale)
    assert info.value.code() == grpc.StatusCode.ABORTED and error_reason(info.value) == "VERSION_MISMATCH"
    before = count_rows(tasks_svc)
    for bad, field in (
        (pb.RenegotiateTaskRequest(id=task.id, reason="x", due_at=ts(datetime.now(UTC) - timedelta(days=1))), "due_at"),
        (pb.RenegotiateTaskRequest(id=task.id, reason="x"), "due_at"),
        (pb.RenegotiateTaskRequest(id=task.id, reason="x", priority=42), "priority"),
        (pb.RenegotiateTaskRequest(id=task.id, priority=pb.TASK_PRIORITY_LOW), "reason"),
    ):
        with pytest.raises(grpc.RpcError) as info:
            client.call("nl-prosecutor", "RenegotiateTask", bad)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(info.value)
    assert count_rows(tasks_svc) == before

    ask.expected_version = accepted.version
    moved = client.call("nl-prosecutor", "RenegotiateTask", ask).task
    assert moved.state == pb.TASK_STATE_ACCEPTED and moved.version == accepted.version + 1
    assert moved.due_at.ToDatetime(tzinfo=UTC) == later and moved.priority == pb.TASK_PRIORITY_URGENT
    assert moved.terms_reason == "DE needs the provider's answer first"
    seen = client.call("de-liaison", "GetTask", pb.GetTaskRequest(id=task.id)).task
    assert seen.terms_reason == moved.terms_reason and seen.due_at == moved.due_at
    # The same terms again change nothing and write nothing.
    before = count_rows(tasks_svc)
    with pytest.raises(grpc.RpcError) as info:
        client.call(
            "nl-prosecutor", "RenegotiateTask", pb.RenegotiateTaskRequest(id=task.id, reason="x", due_at=ts(later))
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(info.value) == "NO_CHANGE"
    assert count_rows(tasks_svc) == before
    assert "/jit.tasks.v1.TaskService/RenegotiateTask" in audit_operations(client, task.id)

    def published() -> list[Envelope]:
        envs = [
            Envelope.FromString(m.data) for m in read_stream(nats_server.url, "JIT_TASKS", "jit.tasks.NL.renegotiated")
        ]
        return [e for e in envs if e.aggregate_id == task.id]

    from tests.harness import eventually

    env = eventually(published)[0]
    state = pb.Task()
    assert env.type == "jit.tasks.v1.TaskRenegotiated" and env.state.Unpack(state)
    assert state.terms_reason == moved.terms_reason and state.version == moved.version

    # Overdue is derived from the new due date: 4 days on, the old date has passed, the new one has not.
    tasks_svc.app.clock.advance(timedelta(days=4))
    try:
        assert not client.call("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=task.id)).task.overdue
    finally:
        tasks_svc.app.clock.advance(timedelta(days=-4))


def test_task_hand_back_by_the_addressee_lets_the_issuer_reassign(client: Client, tasks_svc: Any) -> None:
    """TASK_HAND_BACK (GUESS, no legal text): the addressee hands back a started task with a reason; the
    issuer sees HANDED_BACK and the reason, and may assign it to another member; a reason is required and
    a task not accepted cannot be handed back."""
    task = client.create()
    with pytest.raises(grpc.RpcError) as info:
        client.call("de-liaison", "HandBackTask", pb.HandBackTaskRequest(id=task.id, reason="not ours"))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(info.value) == "ILLEGAL_TRANSITION"
    client.call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id))
    started = client.call("de-liaison", "StartTask", pb.StartTaskRequest(id=task.id)).task
    assert "hand_back" in started.allowed_actions
    with pytest.raises(grpc.RpcError) as info:
        client.call("de-liaison", "HandBackTask", pb.HandBackTaskRequest(id=task.id))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(info.value)
    assert (
        client.code_of("nl-prosecutor", "HandBackTask", pb.HandBackTaskRequest(id=task.id, reason="x"))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    back = client.call(
        "de-liaison",
        "HandBackTask",
        pb.HandBackTaskRequest(id=task.id, expected_version=started.version, reason="The account is hosted in IE"),
    ).task
    assert back.state == pb.TASK_STATE_HANDED_BACK and back.state_reason == "The account is hosted in IE"
    issuer_view = client.call("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=task.id)).task
    assert issuer_view.state_reason == "The account is hosted in IE"
    assert list(issuer_view.allowed_actions) == ["assign", "renegotiate", "cancel"]
    assert list(client.call("de-liaison", "GetTask", pb.GetTaskRequest(id=task.id)).task.allowed_actions) == []
    again = client.call(
        "nl-prosecutor", "AssignTask", pb.AssignTaskRequest(id=task.id, assignee_jurisdiction="IE")
    ).task
    assert again.state == pb.TASK_STATE_ASSIGNED and again.assignee_jurisdiction == "IE"
    assert "/jit.tasks.v1.TaskService/HandBackTask" in audit_operations(client, task.id)


def test_a_task_refers_to_its_victims_by_pseudonym_and_lists_filter_by_one(
    client: Client, tasks_svc: Any, nats_server: Any
) -> None:
    """VICTIM_BY_PSEUDONYM (issue 16): tasks refer to the victim's pseudonym (Directive 2012/29/EU
    Art. 21), not to words about her in a title; ListTasks finds a victim's tasks, and a longer pseudonym that
    begins alike is another."""
    victim, other = registered_victims(tasks_svc, nats_server.url, 2)
    longer = victim + "1"
    announce_victim(nats_server.url, longer)
    eventually(lambda: victims_known(tasks_svc, WS, longer))
    both = client.create(victim_refs=[victim, other], visibility=common_pb2.VISIBILITY_WORKSPACE)
    assert list(both.victim_refs) == [victim, other]
    alone = client.create(victim_refs=[longer])
    client.create()
    got = client.call("de-liaison", "GetTask", pb.GetTaskRequest(id=both.id)).task
    assert list(got.victim_refs) == [victim, other]

    def listed(user: str, ref: str) -> list[str]:
        req = pb.ListTasksRequest(workspace_id=WS, victim_ref=ref, page_size=200)
        return [t.id for t in client.call(user, "ListTasks", req).tasks]

    assert listed("nl-prosecutor", victim) == [both.id]
    assert listed("nl-prosecutor", other) == [both.id]
    assert listed("nl-prosecutor", longer) == [alone.id]
    assert listed("ie-liaison", longer) == []  # restricted to NL and DE: the filter never widens visibility

    # The event carries them: another node's replica of the task refers to the same victims.
    def published() -> list[list[str]]:
        out = []
        for m in read_stream(nats_server.url, "JIT_TASKS", "jit.tasks.NL.created"):
            env, state = Envelope.FromString(m.data), pb.Task()
            if env.aggregate_id == both.id and env.state.Unpack(state):
                out.append(list(state.victim_refs))
        return out

    assert eventually(published) == [[victim, other]]


def test_a_task_names_only_victims_its_workspace_registered(client: Client, tasks_svc: Any, nats_server: Any) -> None:
    """VICTIM_BY_PSEUDONYM: a well-formed pseudonym the workspace's victims service never announced, or one
    of another workspace, is INVALID_ARGUMENT naming victim_refs[i], and nothing is written; once the
    victims service announces it (jitlib.victimdir), the same request goes through."""
    elsewhere = new_pseudonym()
    announce_victim(nats_server.url, elsewhere, workspace="another-jit")
    eventually(lambda: victims_known(tasks_svc, "another-jit", elsewhere))
    late = new_pseudonym()
    req = pb.CreateTaskRequest(
        request_id=rid(),
        workspace_id=WS,
        title="Identify the uploader",
        kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
        assignee_jurisdiction="DE",
        victim_refs=[late, elsewhere],
    )
    before = count_rows(tasks_svc)
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "CreateTask", req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(info.value)) == {"victim_refs[0]", "victim_refs[1]"}
    assert count_rows(tasks_svc) == before
    announce_victim(nats_server.url, late)
    eventually(lambda: victims_known(tasks_svc, WS, late))
    del req.victim_refs[1]
    assert list(client.call("nl-prosecutor", "CreateTask", req).task.victim_refs) == [late]
