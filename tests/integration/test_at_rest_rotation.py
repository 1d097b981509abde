"""The key-encryption key rotated without downtime, and a database from before sealing taken over, on
SQLite and PostgreSQL: the tasks service with the real Keycloak and NATS.

Rotation: a new KEK is put first in the KEK file beside the old one; the service reads the file again,
rewraps every data key under the new KEK while a client keeps creating and reading tasks (no call fails),
and the retry of a change made before the rotation is still answered as a replay (its call's fingerprint,
kept under the old KEK, matches while the ring holds it); then the old KEK is removed (the retry is then a
stale view), and a service started with the new KEK alone reads every task, while one
with the old KEK alone cannot. Existing data: rows written in clear at revision 0002 are sealed when the
service starts, their clear columns emptied, and a search of every table's contents with SQL finds none
of their text."""

from __future__ import annotations

import base64
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from sqlalchemy import LargeBinary, MetaData, String, Text, create_engine, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitlib import crypto, db, sealing
from jitlib.actors import Actor
from jitlib.config import CommonSettings
from jitlib.db import creation_columns
from services.tasks import domain, store
from services.tasks.app import MIGRATIONS, TasksSettings, spec
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, error_reason, eventually, md, rid, start_service

pytestmark = pytest.mark.integration
WS = "jit-demo"


def kek_line() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def write_kek_file(path: Path, *lines: str) -> None:
    """Replace the KEK file in one step, as an operator's editor or `install` would (0600)."""
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f"{line}\n" for line in lines))
    os.replace(tmp, path)


def start(url: str, kek_file: Path, keycloak: Any, nats_server: Any, state: Path) -> RunningService:
    common = CommonSettings(
        nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state, kek_file=kek_file, kek_check_seconds=0.2
    )
    settings = TasksSettings(listen="127.0.0.1:0", database_url=url, consumer_group=f"rot-{uuid.uuid4().hex[:8]}")
    svc = start_service(spec(), settings, common)
    wait_for_workspace(svc, WS)
    return svc


def other_database(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'old-tasks.db'}"
    return str(request.getfixturevalue("postgres").create_database(f"tasks_old_{uuid.uuid4().hex[:10]}"))


def rows_holding(engine: Engine, text: str) -> list[str]:
    """Every (table.column) of the database whose contents hold ``text``, searched with SQL: text columns
    with LIKE, binary ones for its UTF-8 bytes."""
    meta = MetaData()
    meta.reflect(engine)
    found = []
    with engine.connect() as conn:
        for table in meta.tables.values():
            for col in table.columns:
                cond: Any
                if isinstance(col.type, String | Text):
                    cond = col.like(f"%{text}%")
                elif isinstance(col.type, LargeBinary):
                    needle = text.encode()
                    cond = (  # PostgreSQL: in the hex text of the bytes (a superset of the true matches)
                        func.strpos(func.encode(col, "hex"), needle.hex()) > 0
                        if engine.dialect.name == "postgresql"
                        else func.instr(col, needle) > 0
                    )
                else:
                    continue
                if conn.execute(select(func.count()).select_from(table).where(or_(cond))).scalar_one():
                    found.append(f"{table.name}.{col.name}")
    return found


def accepted_under(stub: Any, tokens: Any) -> tuple[pb.AcceptTaskRequest, pb.Task]:
    """A task created by NL and accepted by DE: the accept's request and its answer."""
    task = stub.CreateTask(
        pb.CreateTaskRequest(
            request_id=rid(),
            workspace_id=WS,
            title="Accepted before the rotation",
            kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction="DE",
        ),
        metadata=md(tokens("nl-prosecutor")),
        timeout=15,
    ).task
    accept = pb.AcceptTaskRequest(id=task.id, expected_version=task.version)
    return accept, stub.AcceptTask(accept, metadata=md(tokens("de-liaison")), timeout=15).task


def test_the_kek_is_rotated_while_the_service_serves(
    db_url: str, keycloak: Any, nats_server: Any, demo_workspace_synced: str, tokens: Any, tmp_path: Path
) -> None:
    old, new = kek_line(), kek_line()
    old_id, new_id = crypto.KekRing.parse(old).current.id, crypto.KekRing.parse(new).current.id
    kek_file = tmp_path / "kek.b64"
    write_kek_file(kek_file, old)
    svc = start(db_url, kek_file, keycloak, nats_server, tmp_path)
    stub = tasks_pb2_grpc.TaskServiceStub(svc.channel)
    token = tokens("nl-prosecutor")
    titles: dict[str, str] = {}
    errors: list[str] = []
    calls = [0]
    stop = threading.Event()

    def create_and_read() -> None:
        while not stop.is_set():
            title = f"Rotation task {len(titles)} {uuid.uuid4().hex[:6]}"
            try:
                t = stub.CreateTask(
                    pb.CreateTaskRequest(
                        request_id=rid(),
                        workspace_id=WS,
                        title=title,
                        description=f"described {title}",
                        kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
                        assignee_jurisdiction="DE",
                    ),
                    metadata=md(token),
                    timeout=15,
                ).task
                titles[t.id] = title
                for task_id in list(titles)[-5:]:
                    got = stub.GetTask(pb.GetTaskRequest(id=task_id), metadata=md(token), timeout=15).task
                    if got.title != titles[task_id]:
                        errors.append(f"{task_id} read {got.title!r}")
                calls[0] += 1
            except grpc.RpcError as exc:
                errors.append(f"{exc.code()}: {exc.details()}")

    rotation = svc.app.spec.extra["kek_rotation"]
    client = threading.Thread(target=create_and_read, daemon=True)
    try:
        eventually(lambda: rotation.settled_on == old_id, timeout=30)
        accept, accepted = accepted_under(stub, tokens)  # its call's fingerprint kept under the old KEK
        client.start()
        eventually(lambda: calls[0] >= 3, timeout=60)
        write_kek_file(kek_file, new, old)  # the new KEK first; the old one still opens what it wrapped
        eventually(lambda: rotation.settled_on == new_id, timeout=60)
        # The accept's answer was lost: sent again while the ring still holds the old KEK, it is a replay.
        again = stub.AcceptTask(accept, metadata=md(tokens("de-liaison")), timeout=15).task
        assert (again.version, again.updated_at) == (accepted.version, accepted.updated_at)
        # Every data key is under the new KEK (the workspace's, and any other workspace's this consumer
        # group made from the suite's shared streams).
        assert set(sealing.db_kek_usage(svc.rt.db, svc.app.spec.metadata)) == {new_id}
        at = calls[0]
        eventually(lambda: calls[0] >= at + 3, timeout=60)
        write_kek_file(kek_file, new)  # the old KEK removed
        eventually(lambda: svc.rt.keks.ids == (new_id,), timeout=30)
        # Its fingerprints no longer match: the same retry is a stale view now.
        with pytest.raises(grpc.RpcError) as stale:
            stub.AcceptTask(accept, metadata=md(tokens("de-liaison")), timeout=15)
        assert stale.value.code() == grpc.StatusCode.ABORTED and error_reason(stale.value) == "VERSION_MISMATCH"
        at = calls[0]
        eventually(lambda: calls[0] >= at + 3, timeout=60)
    finally:
        stop.set()
        client.join(30)
        svc.stop()
    assert errors == []
    assert len(titles) >= 9

    only_new = start(db_url, kek_file, keycloak, nats_server, tmp_path)
    try:
        stub = tasks_pb2_grpc.TaskServiceStub(only_new.channel)
        for task_id, title in titles.items():
            assert stub.GetTask(pb.GetTaskRequest(id=task_id), metadata=md(token), timeout=15).task.title == title
    finally:
        only_new.stop()

    old_file = tmp_path / "old-kek.b64"
    write_kek_file(old_file, old)
    only_old = start(db_url, old_file, keycloak, nats_server, tmp_path)
    try:
        stub = tasks_pb2_grpc.TaskServiceStub(only_old.channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetTask(pb.GetTaskRequest(id=next(iter(titles))), metadata=md(token), timeout=15)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(info.value) == "KEY_UNAVAILABLE"
    finally:
        only_old.stop()


def test_a_database_from_before_sealing_is_sealed_when_the_service_starts(
    db_url: str,
    request: pytest.FixtureRequest,
    keycloak: Any,
    nats_server: Any,
    demo_workspace_synced: str,
    tokens: Any,
    tmp_path: Path,
) -> None:
    url = other_database(db_url, request, tmp_path)
    db.migrate(MIGRATIONS, url, revision="0002")  # the schema before sealing
    mark = uuid.uuid4().hex[:10]
    now = datetime.now(UTC)
    actor = Actor("u-nl-old", "nl-prosecutor", "NL")
    tasks = []
    for i in range(3):
        cmd = domain.NewTask(
            request_id=str(uuid.uuid4()),
            workspace_id=WS,
            title=f"Old clear title {i} zz{mark}",
            description=f"Old clear description zz{mark}",
            kind="IDENTIFY_ACCOUNT_HOLDER",
            assignee_jurisdiction="DE",
            priority="NORMAL",
            due_at=now + timedelta(days=5),
            restricted=False,
        )
        tasks.append(domain.create(cmd, task_id=str(uuid.uuid4()), actor=actor, now=now))
    engine = create_engine(db.sync_url(url))
    try:
        meta = MetaData()
        meta.reflect(engine, only=["tasks", "outbox"])
        with Session(engine) as s, s.begin():
            old_tasks = meta.tables["tasks"]
            for t in tasks:
                row = {**creation_columns(t, request_id=str(uuid.uuid4()), request_digest=""), **store._columns(t)}
                # Columns added after 0002 (terms_reason, ...) did not exist then; a new task leaves them empty.
                later = {k: v for k, v in row.items() if k not in old_tasks.c}
                assert all(v in ("", None) for v in later.values()), later
                s.execute(old_tasks.insert().values(**{k: v for k, v in row.items() if k in old_tasks.c}))
                store.PARTIES.write(s, t.id, t.parties)
            # An event an older version wrote (and sent): the task's state, title included, in clear.
            state = any_pb2.Any()
            state.Pack(pb.Task(id=tasks[0].id, workspace_id=WS, title=tasks[0].title))
            event = Envelope(id=str(uuid.uuid4()), type="jit.tasks.v1.Task", workspace_id=WS, state=state)
            s.execute(
                meta.tables["outbox"]
                .insert()
                .values(
                    id=event.id,
                    subject="jit.tasks.NL.created",
                    event_type=event.type,
                    payload=event.SerializeToString(),
                    headers="{}",
                    created_at=now,
                    published_at=now,
                    attempts=1,
                )
            )
        assert rows_holding(engine, f"zz{mark}") == ["outbox.payload", "tasks.title", "tasks.description"]

        kek_file = tmp_path / "kek.b64"
        write_kek_file(kek_file, kek_line())
        svc = start(url, kek_file, keycloak, nats_server, tmp_path)
        try:
            assert rows_holding(engine, f"zz{mark}") == []
            with engine.connect() as conn:
                clear = conn.execute(select(store.TaskRow.title).where(store.TaskRow.title != "")).all()
                unsealed = conn.execute(select(store.TaskRow.id).where(store.TaskRow.sealed.is_(None))).all()
            assert clear == [] and unsealed == []
            stub = tasks_pb2_grpc.TaskServiceStub(svc.channel)
            token = tokens("nl-prosecutor")
            for t in tasks:
                got = stub.GetTask(pb.GetTaskRequest(id=t.id), metadata=md(token), timeout=15).task
                assert got.title == t.title and got.description == t.description
            # A change after the migration is sealed like any other write.
            changed = stub.CancelTask(
                pb.CancelTaskRequest(id=tasks[0].id, reason=f"no longer needed zz{mark}"),
                metadata=md(token),
                timeout=15,
            ).task
            assert changed.state_reason == f"no longer needed zz{mark}"
            eventually(lambda: svc.loop.run(svc.rt.relay.pending_count()) == 0, timeout=30)
            assert rows_holding(engine, f"zz{mark}") == []
        finally:
            svc.stop()
    finally:
        engine.dispose()
