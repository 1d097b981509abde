"""A retried task change answers as its first call did (``jitlib.changes``), on real servers, SQLite and
PostgreSQL: a client whose change was made but whose answer was lost retries the same request with the same
``expected_version`` and is answered with the task as it is now, nothing written twice (no second event),
the replay audited as a read; another user's identical request, a changed body, or a task changed in between
are ABORTED VERSION_MISMATCH as before. With ``expected_version`` 0 an identical retry is a replay too while
the task was not changed since: a renegotiation retried is no longer refused as NO_CHANGE. A retry sent while
its first call is still in flight (the client's deadline expired while the server committed) is answered the
same, though its write lost the race to that first call (``RecordPath.check_race``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from sqlalchemy import func, select

from jit.audit.v1 import audit_pb2, audit_pb2_grpc
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from services.tasks.store import RUNTIME
from tests import harness
from tests.harness import error_reason, eventually, md, rid

pytestmark = pytest.mark.integration
WS = "jit-demo"


def ts(dt: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt)
    return out


class Client:
    def __init__(self, svc: Any, tokens: Any) -> None:
        self.svc = svc
        self.stub = tasks_pb2_grpc.TaskServiceStub(svc.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=15)

    def create(self) -> pb.Task:
        ask = pb.CreateTaskRequest(
            request_id=rid(),
            workspace_id=WS,
            title="Identify the holder of @harasser_x",
            kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction="DE",
            due_at=ts(datetime.now(UTC) + timedelta(days=10)),
        )
        return self.call("nl-prosecutor", "CreateTask", ask).task

    def aborted(self, user: str, method: str, request: Any) -> str:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        assert info.value.code() == grpc.StatusCode.ABORTED
        return error_reason(info.value)

    def at_once(self, calls: list[tuple[str, str, Any]]) -> list[Any]:
        """Send every (user, method, request) at once, without waiting for any answer first: each answer's
        task, or the error it was refused with."""
        return harness.at_once(self.stub, self.tokens, calls, "task", timeout=15)

    def events(self) -> int:
        """The events the service wrote (its outbox rows)."""
        count = select(func.count()).select_from(RUNTIME.outbox)
        return int(self.svc.loop.run(self.svc.rt.read(lambda s: s.scalar(count))))

    def outcomes(self, record_id: str, operation: str) -> list[str]:
        """The outcomes of the audit entries of ``operation`` on the record, once linked into the chain."""
        auditor = md(self.tokens("nl-auditor"))
        found: list[str] = []
        ask = audit_pb2.ListAuditEntriesRequest(page_size=1000)
        while True:
            page = self.audit.ListAuditEntries(ask, metadata=auditor)
            found += [e.outcome for e in page.entries if e.record_id == record_id and e.operation.endswith(operation)]
            if not page.next_page_token:
                return found
            ask.page_token = page.next_page_token


@pytest.fixture(scope="module")
def client(tasks_svc: Any, tokens: Any) -> Client:
    return Client(tasks_svc, tokens)


def same_task(a: pb.Task, b: pb.Task) -> bool:
    return (a.id, a.version, a.state, a.updated_by, a.updated_at) == (
        b.id,
        b.version,
        b.state,
        b.updated_by,
        b.updated_at,
    )


def test_a_retried_change_answers_the_task_as_its_first_call_did_writes_nothing_and_is_audited_as_replayed(
    client: Client,
) -> None:
    task = client.create()
    accept = pb.AcceptTaskRequest(id=task.id, expected_version=task.version)
    first = client.call("de-liaison", "AcceptTask", accept).task
    assert first.version == task.version + 1 and first.state == pb.TASK_STATE_ACCEPTED
    events = client.events()
    # The answer was lost: the client sends the same request again.
    again = client.call("de-liaison", "AcceptTask", accept).task
    assert same_task(again, first)
    assert client.events() == events  # no second event
    got = client.call("de-liaison", "GetTask", pb.GetTaskRequest(id=task.id)).task
    assert got.version == first.version
    eventually(lambda: client.outcomes(task.id, "/AcceptTask") == ["ok", "replayed"])


def test_another_user_s_identical_request_is_aborted(client: Client) -> None:
    task = client.create()
    accept = pb.AcceptTaskRequest(id=task.id, expected_version=task.version)
    client.call("de-liaison", "AcceptTask", accept)
    # de-prosecutor may accept a task addressed to DE too, but did not make this change.
    assert client.aborted("de-prosecutor", "AcceptTask", accept) == "VERSION_MISMATCH"


def test_a_retry_with_another_body_is_aborted(client: Client) -> None:
    task = client.create()
    decline = pb.DeclineTaskRequest(id=task.id, expected_version=task.version, reason="the account is hosted in IE")
    declined = client.call("de-liaison", "DeclineTask", decline).task
    assert same_task(client.call("de-liaison", "DeclineTask", decline).task, declined)
    changed = pb.DeclineTaskRequest(id=task.id, expected_version=task.version, reason="the account is hosted in FR")
    assert client.aborted("de-liaison", "DeclineTask", changed) == "VERSION_MISMATCH"


def test_a_retry_after_the_task_changed_again_is_aborted(client: Client) -> None:
    task = client.create()
    accept = pb.AcceptTaskRequest(id=task.id, expected_version=task.version)
    accepted = client.call("de-liaison", "AcceptTask", accept).task
    client.call("de-liaison", "StartTask", pb.StartTaskRequest(id=task.id, expected_version=accepted.version))
    assert client.aborted("de-liaison", "AcceptTask", accept) == "VERSION_MISMATCH"


def test_a_renegotiation_at_version_0_retried_answers_as_it_did_instead_of_no_change(client: Client) -> None:
    """``expected_version`` 0 ("whatever it is now"): the retry of the call that made the current version is
    answered as it was. Without the replay it was refused as NO_CHANGE (the terms it asks are the task's
    now), telling the issuer their renegotiation failed although it was made."""
    task = client.create()
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    ask = pb.RenegotiateTaskRequest(id=task.id, reason="DE needs the provider's answer first", due_at=ts(later))
    first = client.call("nl-prosecutor", "RenegotiateTask", ask).task
    events = client.events()
    again = client.call("nl-prosecutor", "RenegotiateTask", ask).task
    assert same_task(again, first) and client.events() == events
    # Changed since: the retry is a new change again (here refused by the domain, the terms being the same).
    client.call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=task.id))
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-prosecutor", "RenegotiateTask", ask)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(info.value) == "NO_CHANGE"


ROUNDS = 8


@pytest.mark.parametrize("at_version", [True, False], ids=["at-its-version", "at-version-0"])
def test_two_identical_calls_of_one_user_at_once_are_both_answered_with_the_one_change_made(
    client: Client, at_version: bool
) -> None:
    """The retry arrives while the first call is in flight: whichever reads the task first, both are answered
    OK with the same task, one version made and one event. Several rounds, so that in some the second call
    reads the task before the first one's commit and its write loses the race (on PostgreSQL it waits for
    the first one's row, then matches none): without the look again, ABORTED CONCURRENT_UPDATE."""
    made: list[str] = []
    for _ in range(ROUNDS):
        task = client.create()
        made.append(task.id)
        accept = pb.AcceptTaskRequest(id=task.id, expected_version=task.version if at_version else 0)
        events = client.events()
        one, other = client.at_once([("de-liaison", "AcceptTask", accept)] * 2)
        assert isinstance(one, pb.Task) and isinstance(other, pb.Task), (one, other)
        assert same_task(one, other) and one.version == task.version + 1 and one.state == pb.TASK_STATE_ACCEPTED
        assert client.events() == events + 1
        got = client.call("de-liaison", "GetTask", pb.GetTaskRequest(id=task.id)).task
        assert same_task(got, one)
    # Each round: one change made, one answered as its replay (audited as a read).
    for task_id in made:
        eventually(lambda: sorted(client.outcomes(task_id, "/AcceptTask")) == ["ok", "replayed"])  # noqa: B023 - run at once


def test_two_users_identical_calls_at_once_make_one_change_and_the_other_is_aborted(client: Client) -> None:
    for _ in range(ROUNDS):
        task = client.create()
        accept = pb.AcceptTaskRequest(id=task.id, expected_version=task.version)
        events = client.events()
        answers = client.at_once([("de-liaison", "AcceptTask", accept), ("de-prosecutor", "AcceptTask", accept)])
        made = [a for a in answers if isinstance(a, pb.Task)]
        refused = [a for a in answers if isinstance(a, grpc.RpcError)]
        assert len(made) == 1 and len(refused) == 1, answers
        assert made[0].version == task.version + 1
        assert refused[0].code() == grpc.StatusCode.ABORTED
        assert error_reason(refused[0]) in {"VERSION_MISMATCH", "CONCURRENT_UPDATE"}
        assert client.events() == events + 1
