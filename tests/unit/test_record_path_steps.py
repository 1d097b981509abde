"""Steps of ``jitlib.records.RecordPath`` every service's servicer takes:

- what ``create_record`` asks the workspace before a new record is built (``admit``, and the victims
  directory of a path made with ``victims``): the refusals come in one INVALID_ARGUMENT, the domain's
  first, then each unknown pseudonym by position, and nothing is written;
- what ``load_for_change`` checks before the domain applies a change: the id, the change's own fields and
  the expected version in one INVALID_ARGUMENT (nothing read), a stale version ABORTED, a closed workspace
  refused, else the record and its workspace's members.

The runtime here is a stand-in that keeps the victims directory in a real SQLite database and opens
workspaces as ``Runtime.open_workspace`` does; the services' integration tests run the same path against
their servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import MetaData, create_engine, insert
from sqlalchemy.orm import Session

from jit.tasks.v1 import tasks_pb2
from jitlib import victimdir
from jitlib.actors import Actor, Versioned
from jitlib.auth import Principal
from jitlib.clock import ManualClock
from jitlib.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument
from jitlib.policy import (
    PRESERVATION_ORDER_RULES,
    REMOVAL_REQUEST_RULES,
    TASK_RULES,
    Operation,
    RecordAccess,
    RecordRules,
)
from jitlib.records import RecordPath, store_change
from jitlib.runtime import Runtime
from jitlib.workspaces import WorkspaceInfo

T = TypeVar("T")
WORKSPACE = WorkspaceInfo(
    id="jit-demo", name="demo", lead="NL", members=frozenset({"NL", "DE"}), status="open", version=1
)


@dataclass(frozen=True)
class Cmd:
    workspace_id: str
    request_id: str
    victim_refs: tuple[str, ...] = ()


class StandIn:
    """The parts of ``Runtime`` a create touches, with the victims directory in a real database and every
    write counted (none should happen when the workspace refuses)."""

    def __init__(self, session: Session, workspace: WorkspaceInfo = WORKSPACE) -> None:
        self.session = session
        self.reads = 0
        self.writes = 0
        self.federation = None
        self.workspaces = {workspace.id: workspace}
        self.clock = ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
        self.call_key = b"a node's key"  # Runtime.call_key
        self.call_keys = (self.call_key,)  # Runtime.call_keys

    async def authorize(self, *args: Any, **kwargs: Any) -> None:
        return None

    def require_home_node(self, principal: Principal) -> None:
        return None

    def require_owner(self, origin: str, record_type: str) -> None:
        return None

    def open_workspace(self, workspace_id: str, *, new_case_record: bool = False) -> WorkspaceInfo:
        return Runtime.open_workspace(self, workspace_id, new_case_record=new_case_record)  # type: ignore[arg-type]

    async def read(self, fn: Callable[[Session], T], *, on_loop: bool = False) -> T:
        self.reads += 1
        return fn(self.session)

    async def change(self, principal: Principal, fn: Callable[[Any], T], *, on_loop: bool = False) -> T:
        self.writes += 1
        return None  # type: ignore[return-value]


@pytest.fixture
def directory() -> Iterator[tuple[Session, Any]]:
    metadata = MetaData()
    table = victimdir.pseudonyms_table(metadata)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        session.execute(
            insert(table).values(
                workspace_id="jit-demo", pseudonym="V-NL-0001", registered_at=datetime(2026, 12, 1, tzinfo=UTC)
            )
        )
        yield session, table
    engine.dispose()


def principal() -> Principal:
    return Principal(
        user_id="u-1", username="nl-prosecutor", jurisdiction="NL", roles=frozenset({"prosecutor"}),
        workspaces=frozenset({"jit-demo"}),
    )  # fmt: skip


def create(path: RecordPath[Any], cmd: Cmd, admit: Callable[[WorkspaceInfo], list[FieldViolation]] | None) -> Any:
    built: list[WorkspaceInfo] = []

    def build(workspace: WorkspaceInfo) -> Any:
        built.append(workspace)
        return object()

    request = tasks_pb2.CreateTaskRequest(request_id=cmd.request_id, workspace_id=cmd.workspace_id)
    call = path.create_record(principal(), request, cmd, build, None, lambda *_: None, admit=admit)  # type: ignore[arg-type]
    return asyncio.run(call), built


def path_of(rt: StandIn, victims: Any) -> RecordPath[Any]:
    return RecordPath(rt, TASK_RULES, lambda s, i: None, lambda r: r, lambda s, u, r: None, victims=victims)  # type: ignore[arg-type]


def test_the_workspace_refuses_the_domains_violations_then_each_unknown_victim_and_nothing_is_written(
    directory: tuple[Session, Any],
) -> None:
    session, table = directory
    rt = StandIn(session)
    cmd = Cmd("jit-demo", "r-1", ("V-NL-0001", "V-NL-0002", "V-DE-0003"))
    with pytest.raises(InvalidArgument) as refused:
        create(path_of(rt, table), cmd, lambda ws: [FieldViolation("shared_with[0]", f"not a member of {ws.id}")])
    assert [v.field for v in refused.value.violations] == ["shared_with[0]", "victim_refs[1]"]
    assert "not a victim registered" in refused.value.violations[1].description
    assert rt.writes == 0


def test_known_victims_and_an_empty_admission_let_the_record_be_built_and_written(
    directory: tuple[Session, Any],
) -> None:
    session, table = directory
    rt = StandIn(session)
    (created, built) = create(path_of(rt, table), Cmd("jit-demo", "r-1", ("V-NL-0001",)), lambda ws: [])
    assert built == [WORKSPACE] and rt.writes == 1 and not created.replayed


def test_a_path_without_a_victims_directory_reads_none(directory: tuple[Session, Any]) -> None:
    session, _ = directory
    rt = StandIn(session)
    (_, built) = create(path_of(rt, None), Cmd("jit-demo", "r-1", ("V-NL-0002",)), None)
    assert built == [WORKSPACE] and rt.reads == 0 and rt.writes == 1


# -- load_for_change ------------------------------------------------------------------------------------

NL = Actor("u-1", "nl-prosecutor", "NL")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Widget(Versioned):
    id: str = "01935c4e-0000-7000-8000-000000000001"
    workspace_id: str = "jit-demo"
    origin_jurisdiction: str = "NL"
    restricted: bool = False


WIDGET = Widget(version=3, created_by=NL, created_at=T0, updated_by=NL, updated_at=T0)


@dataclass(frozen=True)
class Change:
    id: str = WIDGET.id
    expected_version: int = 3


def change_path(rt: StandIn) -> RecordPath[Widget]:
    return RecordPath(rt, TASK_RULES, lambda s, i: WIDGET if i == WIDGET.id else None, RecordAccess.of)  # type: ignore[arg-type]


def load(rt: StandIn, change: Change, violations: list[FieldViolation]) -> tuple[Widget, frozenset[str]]:
    return asyncio.run(change_path(rt).load_for_change(principal(), change, Operation.ISSUER_ACT, violations))


def test_a_change_s_id_own_fields_and_version_are_refused_together_before_anything_is_read(
    directory: tuple[Session, Any],
) -> None:
    rt = StandIn(directory[0])
    with pytest.raises(InvalidArgument) as refused:
        load(rt, Change(id="not-an-id", expected_version=-1), [FieldViolation("reason", "is required")])
    assert [v.field for v in refused.value.violations] == ["id", "reason", "expected_version"]
    assert rt.reads == 0


def test_a_change_gives_the_record_and_its_workspace_s_members(directory: tuple[Session, Any]) -> None:
    rt = StandIn(directory[0])
    assert load(rt, Change(), []) == (WIDGET, WORKSPACE.members)
    assert load(rt, Change(expected_version=0), [])[0] is WIDGET  # 0: whatever version it is now


def test_a_change_from_a_stale_view_is_aborted(directory: tuple[Session, Any]) -> None:
    with pytest.raises(Aborted) as stale:
        load(StandIn(directory[0]), Change(expected_version=2), [])
    assert stale.value.reason == "VERSION_MISMATCH" and stale.value.metadata == {"current_version": "3"}


def test_a_change_in_a_closed_workspace_is_refused(directory: tuple[Session, Any]) -> None:
    closed = WorkspaceInfo(id="jit-demo", name="demo", lead="NL", members=WORKSPACE.members, status="closed", version=2)
    with pytest.raises(FailedPrecondition) as refused:
        load(StandIn(directory[0], closed), Change(), [])
    assert refused.value.reason == "WORKSPACE_CLOSED"


# -- a list's audit entry -----------------------------------------------------------------------------


class ListStandIn:
    """The parts of ``Runtime`` a list touches. ``change`` records the audit entries its unit of work queues,
    as committed once it returns; with ``commit_waits_for_read`` it returns only after the page was read
    (as PostgreSQL's commit waits for its fsync on one worker thread while another reads the page)."""

    def __init__(self, *, commit_waits_for_read: bool = False, fail_commit: bool = False, fail_read: bool = False):
        self.committed: list[tuple[str, str, str]] = []
        self.page_read = asyncio.Event()
        self.commit_waits_for_read = commit_waits_for_read
        self.fail_commit, self.fail_read = fail_commit, fail_read
        self.workspaces = {WORKSPACE.id: WORKSPACE}

    async def authorize(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def change(self, principal: Principal, fn: Callable[[Any], T], *, on_loop: bool = False) -> T:
        queued: list[tuple[str, str, str]] = []

        class Uow:
            def audit(self, record_type: str, record_id: str, workspace_id: str, outcome: str = "ok") -> None:
                queued.append((record_type, record_id, workspace_id))

        result = fn(Uow())
        if self.commit_waits_for_read:
            await asyncio.wait_for(self.page_read.wait(), 30)  # a guard against a hang, not a timing
        if self.fail_commit:
            raise RuntimeError("the audit entry did not commit")
        self.committed += queued
        return result

    async def read(self, fn: Callable[[Session], T], *, on_loop: bool = False) -> T:
        if self.fail_read:
            raise RuntimeError("the page's query failed")
        result = fn(None)  # type: ignore[arg-type]
        self.page_read.set()
        return result


def list_tasks(rt: ListStandIn, workspace_id: str = "jit-demo") -> list[str]:
    path = RecordPath(rt, TASK_RULES, lambda s, i: None, lambda r: r)  # type: ignore[arg-type]
    return asyncio.run(path.list_in_workspaces(principal(), workspace_id, lambda s, scope, ws: ["t-1", "t-2"]))


def test_a_list_reads_its_page_while_its_audit_entry_commits_and_answers_once_both_finished() -> None:
    """The page is read while the entry's commit is still waiting (it waits for the read here: done one
    after the other, the list would never finish)."""
    rt = ListStandIn(commit_waits_for_read=True)
    assert list_tasks(rt) == ["t-1", "t-2"]
    assert rt.committed == [("task", "*", "jit-demo")]


def test_a_list_whose_audit_entry_does_not_commit_answers_nothing() -> None:
    rt = ListStandIn(fail_commit=True)
    with pytest.raises(RuntimeError, match="did not commit"):
        list_tasks(rt)
    assert rt.committed == []


def test_a_list_whose_query_fails_keeps_its_audit_entry_an_attempt_to_read() -> None:
    rt = ListStandIn(fail_read=True)
    with pytest.raises(RuntimeError, match="query failed"):
        list_tasks(rt)
    assert rt.committed == [("task", "*", "jit-demo")]


# -- store_change -----------------------------------------------------------------------------------------


class Unit:
    """The parts of ``UnitOfWork`` a change's write touches: its session, and what it did, in order."""

    def __init__(self) -> None:
        self.session = object()
        self.done: list[tuple[Any, ...]] = []

    def audit(self, record_type: str, record_id: str, workspace_id: str) -> None:
        self.done.append(("audit", record_type, record_id, workspace_id))


def write_change(rules: RecordRules, stored: bool) -> Unit:
    uow = Unit()
    after = replace(WIDGET, version=4)

    def update(session: Any, record: Widget, expected_version: int) -> bool:
        uow.done.append(("update", session, record, expected_version))
        return stored

    store_change(uow, rules, WIDGET, after, update, lambda u, r: u.done.append(("announce", r.version)))  # type: ignore[arg-type]
    return uow


def test_a_change_is_stored_under_the_read_version_then_announced_then_audited_as_its_kind() -> None:
    uow = write_change(TASK_RULES, stored=True)
    assert uow.done == [
        ("update", uow.session, replace(WIDGET, version=4), 3),
        ("announce", 4),
        ("audit", "task", WIDGET.id, "jit-demo"),
    ]


@pytest.mark.parametrize(
    ("rules", "label"),
    [
        (TASK_RULES, "task"),
        (PRESERVATION_ORDER_RULES, "preservation order"),
        (REMOVAL_REQUEST_RULES, "removal request"),
    ],
)
def test_a_change_that_lost_the_race_is_aborted_naming_its_kind_and_neither_announced_nor_audited(
    rules: RecordRules, label: str
) -> None:
    with pytest.raises(Aborted) as lost:
        write_change(rules, stored=False)
    assert lost.value.reason == "CONCURRENT_UPDATE"
    assert str(lost.value) == f"{label} was changed by someone else meanwhile; re-read it"
