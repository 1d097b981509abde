"""What ``RecordPath.create_record`` asks the workspace before a new record is built (``admit``, and the
victims directory of a path made with ``victims``): the refusals come in one INVALID_ARGUMENT, the
domain's first, then each unknown pseudonym by position, and nothing is written. The runtime here is a
stand-in that keeps the victims directory in a real SQLite database; the services' integration tests
run the same path against their servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import MetaData, create_engine, insert
from sqlalchemy.orm import Session

from jit.tasks.v1 import tasks_pb2
from jitlib import victimdir
from jitlib.auth import Principal
from jitlib.errors import FieldViolation, InvalidArgument
from jitlib.policy import TASK_RULES
from jitlib.records import RecordPath
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

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reads = 0
        self.writes = 0
        self.federation = None

    async def authorize(self, *args: Any, **kwargs: Any) -> None:
        return None

    def require_home_node(self, principal: Principal) -> None:
        return None

    def open_workspace(self, workspace_id: str, *, new_case_record: bool = False) -> WorkspaceInfo:
        return WORKSPACE

    async def read(self, fn: Callable[[Session], T]) -> T:
        self.reads += 1
        return fn(self.session)

    async def change(self, principal: Principal, fn: Callable[[Any], T]) -> T:
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
