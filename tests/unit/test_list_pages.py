"""A page of a list, as the services read it (``list_answered``: ``RecordTable.answered_page``, its rows'
stored answers opened) holds each record the caller may see, with exactly the answer of that record as a
read of it loads it (the ORM's row, opened by its load event), on a real SQLite file: sealed text,
parties, deadlines and a delay's sealed reason included. On PostgreSQL too:
tests/integration/test_list_pages_postgresql.py."""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as epb
from jit.tasks.v1 import tasks_pb2 as tpb
from jitlib import crypto, sealing
from jitlib import db as jitlib_db
from jitlib.actors import Actor
from jitlib.clock import Window
from jitlib.db import Database, migrate
from jitlib.ids import new_id
from jitlib.policy import Decision, Operation, VisibilityScope, decide
from jitlib.principal import Principal
from services.evidence import domain as evidence_domain
from services.evidence import store as evidence
from services.evidence.app import MIGRATIONS as EVIDENCE
from services.evidence.deadlines import Deadline, DeadlineKind
from services.evidence.mapping import answered, new_request_from_pb, request_answer
from services.tasks import domain as tasks_domain
from services.tasks import store as tasks
from services.tasks.app import MIGRATIONS as TASKS
from services.tasks.domain import TaskState
from services.tasks.mapping import new_task_from_pb, task_answer

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
WS = "jit-a"
MEMBERS = ("NL", "DE", "IE")
NL = Principal("u-nl", "nl-prosecutor", "NL", frozenset({"prosecutor"}), frozenset({WS}))
SCOPE = VisibilityScope(frozenset({WS}), "NL", True)


def database(tmp_path: Path, migrations: Path, metadata: Any, url: str = "") -> Database:
    """A migrated database with a KEK of its own: a SQLite file in ``tmp_path``, or ``url`` when given."""
    url = url or f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(migrations, url)
    db = Database(url)
    sealing.install(db.info, metadata, crypto.KekRing.parse(base64.b64encode(os.urandom(32)).decode()))
    return db


def actor(jurisdiction: str) -> Actor:
    return Actor(f"u-{jurisdiction.lower()}", f"{jurisdiction.lower()}-prosecutor", jurisdiction)


def visibility(i: int) -> Any:
    return common_pb2.VISIBILITY_RESTRICTED if i % 3 else common_pb2.VISIBILITY_WORKSPACE


def workspace_row(ws_id: str, former: str) -> dict[str, Any]:
    """The workspace directory's row of ``ws_id`` (NL leading NL, DE and IE) with ``former`` taken out."""
    members = ",".join(m for m in MEMBERS if m not in former.split(","))
    return {
        "id": ws_id,
        "name": ws_id,
        "lead": "NL",
        "members": members,
        "former_members": former,
        "legal_basis": "Agreement",
        "starts_on": "2026-01-01",
        "ends_on": "2027-12-31",
        "status": "open",
        "version": 1,
        "updated_at": NOW,
    }


def walk(page: Any, size: int) -> list[Any]:
    """Every page of ``size`` in turn, by the last id of the one before."""
    out: list[Any] = []
    for _ in range(1000):  # more pages than any test has: a page that does not move on fails, not hangs
        found = page(out[-1].id if out else "", size + 1)
        out += found[:size]
        if len(found) <= size:
            return out
    raise AssertionError("the pages do not end")


def new_task(i: int, due_in_days: int | None) -> tasks_domain.Task:
    """The ``i``-th task of a test's workspace, made by the domain as a create makes it."""
    req = tpb.CreateTaskRequest(
        request_id=str(uuid.uuid4()),
        workspace_id=WS,
        title=f"Identify the holder of account {i} «ü»",
        description=f"Subscriber data {i}",
        kind=tpb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
        assignee_jurisdiction=MEMBERS[(i + 1) % 3],
        visibility=visibility(i),
    )
    if due_in_days is not None:
        req.due_at.FromDatetime(NOW + timedelta(days=due_in_days))
    return tasks_domain.create(new_task_from_pb(req), task_id=new_id(), actor=actor(MEMBERS[i % 3]), now=NOW)


def test_a_page_of_tasks_holds_each_visible_task_as_a_read_of_it_loads_it(tmp_path: Path) -> None:
    check_task_pages(database(tmp_path, TASKS, tasks.Base.metadata))


def check_task_pages(db: Database) -> None:
    """Pages of tasks, unfiltered, by state and in a due window, walked by their cursors: each visible task
    the filter keeps, once, in id order, its answer that of the task a read of it loads."""
    made = []
    for i in range(23):
        task = new_task(i, i if i % 2 else None)
        state = TaskState.BLOCKED if i % 4 else TaskState.ASSIGNED
        named = {"victim_refs": victims_of(i)}
        made.append(replace(task, state=state, state_reason=f"waits {i}", terms_reason=f"terms {i}", **named))
    db.write_sync(lambda s: tasks.TASKS.insert_many(s, made[:12]))
    for t in made[12:]:  # as a create writes one
        db.write_sync(lambda s, t=t: tasks.TASKS.insert(s, t, request_id=t.id, request_digest=""))
    # A change that names other victims (none does today) writes their index with the task.
    assert VICTIM not in made[9].victim_refs and VICTIM in made[11].victim_refs
    for i, named in ((9, (VICTIM,)), (11, ("V-NL-00071",))):  # one of NL's workspace, one NL is party to
        renamed = replace(made[i], victim_refs=named, version=made[i].version + 1)
        assert db.write_sync(lambda s, t=renamed, v=made[i].version: tasks.TASKS.update_if_version(s, t, v))
        made[i] = renamed
    window = Window(NOW + timedelta(days=4), NOW + timedelta(days=16))
    # DE taken out of the workspace (its directory's row), IE of another one: the tasks addressed to DE.
    db.write_sync(
        lambda s: s.execute(insert(tasks.RUNTIME.workspaces), [workspace_row(WS, "DE"), workspace_row("jit-b", "IE")])
    )
    taken_out = tasks.TaskFilter(assignee_taken_out=True)
    filters = [
        (tasks.TaskFilter(), lambda t: True),
        (taken_out, lambda t: t.assignee_jurisdiction == "DE"),
        (
            replace(taken_out, states=frozenset({TaskState.BLOCKED})),
            lambda t: t.assignee_jurisdiction == "DE" and t.state is TaskState.BLOCKED,
        ),
        (tasks.TaskFilter(states=frozenset({TaskState.BLOCKED})), lambda t: t.state is TaskState.BLOCKED),
        (tasks.TaskFilter(due=window), lambda t: window.holds(t.due_at)),
        (tasks.TaskFilter(victim_ref=VICTIM), lambda t: VICTIM in t.victim_refs),
        (tasks.TaskFilter(victim_ref=VICTIM, due=window), lambda t: VICTIM in t.victim_refs and window.holds(t.due_at)),
    ]
    with Session(db.engine, info=db.info) as s:
        want = [tasks.get(s, t.id) for t in sorted(made, key=lambda t: t.id)]
        seen = [t for t in want if t is not None and decide(NL, Operation.READ, record=t.access()) is Decision.ALLOW]
        assert 0 < len(seen) < len(made)
        for flt, keeps in filters:

            def page(after: str, limit: int, flt: tasks.TaskFilter = flt) -> list[Any]:
                return tasks.list_answered(s, SCOPE, frozenset({WS}), flt, now=NOW, after_id=after, limit=limit)

            assert [t.victim_refs for t in want] == [t.victim_refs for t in sorted(made, key=lambda t: t.id)]
            assert {made[9].id, made[11].id} <= {t.id for t in seen}
            kept = [t for t in seen if keeps(t)]
            assert 0 < len(kept) < len(seen) or flt == tasks.TaskFilter()
            got = walk(page, 4)
            assert [t.id for t in got] == [t.id for t in kept], flt
            assert [t.answer for t in got] == [task_answer(t).SerializeToString() for t in kept], flt


#: The victim a page of records is asked for; the pseudonym beside it begins alike, but is another's.
VICTIM = "V-NL-0007"


def victims_of(i: int) -> tuple[str, ...]:
    """The victims the ``i``-th record of a test names: ``VICTIM`` for most, with others or alone, some
    only the victim whose pseudonym begins as hers, some none."""
    return (() if i % 5 == 4 else (VICTIM,)) + (("V-NL-00071",) if i % 3 == 1 else ()) + (("V-NL-0070",) * (i % 2))


def new_request(i: int) -> evidence_domain.EvidenceRequest:
    """The ``i``-th request of a test's workspace (an EIO to another member), made by the domain as a create
    makes it."""
    req = epb.CreateRequestRequest(
        request_id=str(uuid.uuid4()),
        workspace_id=WS,
        legal_basis=epb.LEGAL_BASIS_EIO,
        issuing_authority="Openbaar Ministerie",
        addressee_kind=epb.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction=MEMBERS[(i + 1) % 3],
        data_categories=[epb.DATA_CATEGORY_SUBSCRIBER],
        targets=[epb.TargetIdentifier(type=epb.TARGET_TYPE_ACCOUNT_HANDLE, value=f"@harasser_{i}")],
        offence_category=epb.OFFENCE_CATEGORY_CYBERSTALKING,
        title=f"Subscriber data of account {i}",
        visibility=visibility(i),
    )
    return evidence_domain.create(new_request_from_pb(req), request_id=new_id(), actor=actor(MEMBERS[i % 3]), now=NOW)


def test_a_page_of_requests_holds_each_visible_request_as_a_read_of_it_loads_it(tmp_path: Path) -> None:
    check_request_pages(database(tmp_path, EVIDENCE, evidence.Base.metadata))


def check_request_pages(db: Database) -> None:
    """A page of requests with none, one or two deadlines (not in the order they were written; a time with a
    fraction of a second, working days), with a delay or without: each with the answer of the request a
    read of it loads."""
    made = []
    for i in range(17):
        r = new_request(i)
        due = Deadline(DeadlineKind.EXECUTE, NOW + timedelta(days=i, microseconds=123450), "test", NOW)
        review = Deadline(DeadlineKind.REVIEW, NOW + timedelta(days=i // 2), "review", NOW, working_days=True)
        deadlines = () if i % 4 == 0 else (due, review) if i % 3 == 0 else (due,)
        delay = evidence_domain.Delay(DeadlineKind.EXECUTE, f"backlog {i}", NOW + timedelta(days=40), NOW, actor("DE"))
        ordered = tuple(sorted(deadlines, key=lambda d: (d.due_at, d.kind.value)))  # as the domain keeps them
        made.append(replace(r, deadlines=ordered, delay=delay if i % 2 else None, victim_refs=victims_of(i)))

    def write(s: Session) -> None:
        evidence.REQUESTS.insert_many(s, made[:9])
        for r in made[9:]:  # as a create writes one
            evidence.REQUESTS.insert(s, r, request_id=r.id, request_digest="")
        rows = [
            {"request_id": r.id, "kind": d.kind.value, "due_at": d.due_at, "counted_from": d.counted_from}
            | {"source": d.source, "working_days": d.working_days, "next_alert_at": None}
            for r in made
            for d in reversed(r.deadlines)
        ]
        s.execute(insert(evidence.DeadlineRow), rows)
        for r in made:
            evidence._write_delay(s, r)

    db.write_sync(write)
    with Session(db.engine, info=db.info) as s:

        def page(after: str, limit: int, flt: evidence.RequestFilter | None = None) -> list[Any]:
            flt = flt or evidence.RequestFilter()
            return evidence.list_answered(s, SCOPE, frozenset({WS}), flt, after_id=after, limit=limit)

        got = [(r.id, r.answer) for r in walk(page, 5)]
        victims = [r.id for r in walk(lambda a, n: page(a, n, evidence.RequestFilter(victim_ref=VICTIM)), 3)]
        want = [evidence.get(s, r.id) for r in sorted(made, key=lambda r: r.id)]
    seen = [r for r in want if r is not None and decide(NL, Operation.READ, record=r.access()) is Decision.ALLOW]
    assert 0 < len(seen) < len(made)
    assert any(r.delay is not None for r in seen) and any(r.delay is None for r in seen)
    assert {len(r.deadlines) for r in seen} == {0, 1, 2}
    assert got == [(r.id, answered(request_answer(r))) for r in seen]
    named = [r.id for r in seen if VICTIM in r.victim_refs]
    assert 3 < len(named) < len(seen) and victims == named


#: The jurisdictions of the parties matrix (``check_party_pages``): "EU", a code of its own, is written
#: inside "EUROPOL", which a party test must not take for it.
PARTY_MEMBERS = ("NL", "DE", "BE", "EU", "EUROPOL")


def party_matrix(kind: str, count: int) -> list[Any]:
    """``count`` tasks (``kind`` "tasks") or evidence requests of the parties matrix: each with an origin, an
    addressee and shares (none, one or several) of ``PARTY_MEMBERS``, restricted but for every fourth."""
    j = PARTY_MEMBERS
    made = []
    for i in range(count):
        record: Any = new_task(i, None) if kind == "tasks" else new_request(i)
        addressee = "assignee_jurisdiction" if kind == "tasks" else "addressee_jurisdiction"
        made.append(
            replace(
                record,
                origin_jurisdiction=j[i % 5],
                **{addressee: j[(i * 3 + 1) % 5]},
                shared_with=tuple(j[k] for k in range(len(j)) if (i * 7 >> k) % 3 == 1),
                restricted=i % 4 != 0,
            )
        )
    return made


def test_each_jurisdiction_pages_the_tasks_and_requests_it_may_read(tmp_path: Path) -> None:
    kinds = (("tasks", TASKS, tasks.Base.metadata), ("requests", EVIDENCE, evidence.Base.metadata))
    for name, migrations, metadata in kinds:
        (tmp_path / name).mkdir()
        db = database(tmp_path / name, migrations, metadata)
        check_party_pages(db, name)
        db.dispose()


def check_party_pages(db: Database, kind: str) -> None:
    """Tasks (or evidence requests) of one workspace, restricted and open, each with an origin, an addressee
    and shares of its own among ``PARTY_MEMBERS``, written by the ways a node writes them (many at once, one
    by one as a create, changed with new shares or opened to the workspace, another node's replica stored
    and stored again with other shares): for each of those jurisdictions in turn, the pages hold exactly
    the records the policy lets it read, in id order. The READ rule's party test as a page tests it (on
    PostgreSQL, on the row's own list of its parties: tests/integration/test_list_pages_postgresql.py)."""
    table: Any = tasks.TASKS if kind == "tasks" else evidence.REQUESTS
    made = party_matrix(kind, 26)
    db.write_sync(lambda s: table.insert_many(s, made[:10]))
    for r in made[10:22]:
        db.write_sync(lambda s, r=r: table.insert(s, r, request_id=r.id, request_digest=""))
    for i, changes in ((3, {"shared_with": ("EUROPOL",)}), (5, {"shared_with": ()}), (8, {"restricted": False})):
        changed = replace(made[i], version=made[i].version + 1, **changes)
        assert db.write_sync(lambda s, c=changed, v=made[i].version: table.update_if_version(s, c, v))
        made[i] = changed
    for r in made[22:]:  # replicas: stored as they came, then again as their owner changed them
        db.write_sync(lambda s, r=r: table.write_replica(s, r, False))
    moved = replace(made[23], shared_with=("BE", "EU"), version=made[23].version + 1)
    db.write_sync(lambda s: table.write_replica(s, moved, True))
    made[23] = moved
    by_id = sorted(made, key=lambda r: r.id)
    through_shares = 0
    for j in PARTY_MEMBERS:
        caller = Principal(f"u-{j.lower()}", f"{j.lower()}-prosecutor", j, frozenset({"prosecutor"}), frozenset({WS}))
        scope = VisibilityScope(frozenset({WS}), j, True)
        with Session(db.engine, info=db.info) as s:

            def page(after: str, limit: int, scope: VisibilityScope = scope, s: Session = s) -> list[Any]:
                if kind == "tasks":
                    flt = tasks.TaskFilter()
                    return tasks.list_answered(s, scope, frozenset({WS}), flt, now=NOW, after_id=after, limit=limit)
                return evidence.list_answered(
                    s, scope, frozenset({WS}), evidence.RequestFilter(), after_id=after, limit=limit
                )

            got = [r.id for r in walk(page, 4)]
        want = [r for r in by_id if decide(caller, Operation.READ, record=r.access()) is Decision.ALLOW]
        assert 0 < len(want) < len(made), j
        assert got == [r.id for r in want], j
        facts = [r.access() for r in want if r.restricted]
        shares_only = [a for a in facts if j in a.shared_with - {a.origin_jurisdiction, a.addressee_jurisdiction}]
        through_shares += len(shares_only)
    assert through_shares >= 5  # seen only as a party it was shared with


def test_the_upgrade_lists_each_records_parties_from_its_parties_rows(tmp_path: Path) -> None:
    """Records stored before their rows listed their parties (the column dropped, the database marked at
    the revision before it): the upgrade lists each record's parties as its writes list them."""
    # Each later revision's columns, made again by the upgrade.
    evidence_later = (
        "listed_offence",
        "max_sentence_months",
        "enforcing_jurisdiction",
        "enforcement_requested_at",
        "enforcement_decided_at",
        "enforcement_refusal_ground",
        "compliance_days",
    )
    # And what later revisions made elsewhere (the custody entries' request ids, the consents' index).
    evidence_statements = (
        "DROP INDEX uq_custody_log_request",
        "ALTER TABLE custody_log DROP COLUMN request_id",
        "ALTER TABLE custody_log DROP COLUMN request_digest",
        "DROP INDEX ix_evidence_items_consents_in_clear",
    )
    for migrations, metadata, before, name, write, later, statements in (
        (TASKS, tasks.Base.metadata, "0016", "tasks", tasks.TASKS.insert_many, (), ()),
        (
            EVIDENCE,
            evidence.Base.metadata,
            "0028",
            "evidence_requests",
            evidence.REQUESTS.insert_many,
            evidence_later,
            evidence_statements,
        ),
    ):
        (tmp_path / name).mkdir()
        db = database(tmp_path / name, migrations, metadata)
        made = party_matrix("tasks" if name == "tasks" else "requests", 12)
        db.write_sync(lambda s, m=made, w=write: w(s, m))
        with db.engine.begin() as conn:
            want = sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT id, parties FROM {name}"))
            conn.exec_driver_sql(f"ALTER TABLE {name} DROP COLUMN parties")
            conn.exec_driver_sql("DROP TABLE federation_links")  # a later revision's, made again
            conn.exec_driver_sql("DROP TABLE last_changes")  # likewise
            conn.exec_driver_sql("ALTER TABLE workspace_keys DROP COLUMN shredding_since")  # likewise
            conn.exec_driver_sql("ALTER TABLE workspaces DROP COLUMN former_members")  # likewise
            for column in later:
                conn.exec_driver_sql(f"ALTER TABLE {name} DROP COLUMN {column}")
            for statement in statements:
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{before}'")
        assert want == sorted((r.id, "".join(f",{j}" for j in sorted(r.parties)) + ",") for r in made)
        assert max(len(r.parties) for r in made) >= 3
        migrate(migrations, str(db.engine.url))
        with db.engine.connect() as conn:
            assert sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT id, parties FROM {name}")) == want
        db.dispose()


@pytest.mark.parametrize(
    ("small_window", "walk_ops", "walk_step", "must", "never"),
    [
        # As served: a window this small is sorted on its own index, never walked.
        (16, 640, 1000, set(), {"filled", "short", "spent"}),
        # Walked within its budget: pages filled, the last short of a page (the window then sorted).
        (0, 640, 1000, {"filled", "short"}, {"spent"}),
        # Walked, its budget spent at once every time: each page sorted.
        (0, 1, 10, {"spent"}, {"filled", "short"}),
        # Walked a few rows a record: some walks spent, others fill their page (in 40 days) or fall short.
        (0, 60, 10, {"spent"}, set()),
    ],
)
@pytest.mark.parametrize("days", [3, 10, 40])
def test_a_due_window_pages_the_tasks_in_it_however_it_is_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_window: int,
    walk_ops: int,
    walk_step: int,
    must: set[str],
    never: set[str],
    days: int,
) -> None:
    """A window's pages on SQLite (``RecordTable._window_page``: walked in id order, or sorted on the window's
    index, or walked and then, the walk short of a page or its budget spent, sorted) hold the visible tasks
    in the window, each once, in id order. After each page the session reads on, its connection no longer
    interrupted."""
    monkeypatch.setattr(jitlib_db, "_SMALL_WINDOW", small_window)
    monkeypatch.setattr(jitlib_db, "_WALK_OPS", walk_ops)
    monkeypatch.setattr(jitlib_db, "_WALK_STEP", walk_step)
    seen: list[str] = []
    walked = jitlib_db._walked

    def counted(session: Session, *args: Any) -> list[Any] | None:
        rows = walked(session, *args)
        seen.append("spent" if rows is None else "filled" if len(rows) == args[-1] else "short")
        # A long statement after it, in the same read: the walk's budget no longer counts.
        assert session.connection().exec_driver_sql(_COUNT_TO_100K).scalar() == 100_000
        return rows

    monkeypatch.setattr(jitlib_db, "_walked", counted)
    db = database(tmp_path, TASKS, tasks.Base.metadata)
    made = [new_task(i, (i * 7) % 41 + 1) for i in range(60)]
    db.write_sync(lambda s: tasks.TASKS.insert_many(s, made))
    window = Window(NOW + timedelta(days=2), NOW + timedelta(days=2 + days))
    with Session(db.engine, info=db.info) as s:

        def page(after: str, limit: int) -> list[Any]:
            flt = tasks.TaskFilter(due=window)
            return tasks.list_answered(s, SCOPE, frozenset({WS}), flt, now=NOW, after_id=after, limit=limit)

        got = [t.id for t in walk(page, 4)]
    want = [
        t.id
        for t in sorted(made, key=lambda t: t.id)
        if t.due_at is not None
        and window.holds(t.due_at)
        and decide(NL, Operation.READ, record=t.access()) is Decision.ALLOW
    ]
    assert len(want) > 4
    assert got == want
    assert must <= set(seen) and not never & set(seen), seen


#: A statement of about a million of SQLite's instructions.
_COUNT_TO_100K = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT count(*) FROM n"
)


def _victim_list(db: Database, ref: str) -> list[str]:
    with Session(db.engine, info=db.info) as s:
        flt = tasks.TaskFilter(victim_ref=ref)
        return [t.id for t in tasks.list_answered(s, SCOPE, frozenset({WS}), flt, now=NOW, after_id="", limit=51)]


def _indexed(db: Database) -> list[tuple[str, str]]:
    table = tasks.VICTIMS_NAMED.table
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(table.select().order_by(*table.c))]


def test_a_replicas_victims_are_those_its_owner_sent_until_it_is_withdrawn(tmp_path: Path) -> None:
    """Another node's task, stored as it came (``RecordTable.write_replica``), is listed under the victims
    it names; written again naming others, under those only; withdrawn (``delete_replica``), under none,
    and nothing of it is left in the victims' index."""
    db = database(tmp_path, TASKS, tasks.Base.metadata)
    task = replace(new_task(3, None), victim_refs=(VICTIM,))  # of NL's workspace, open to it
    db.write_sync(lambda s: tasks.TASKS.write_replica(s, task, False))
    assert _victim_list(db, VICTIM) == [task.id] and _indexed(db) == [(task.id, VICTIM)]
    moved = replace(task, victim_refs=("V-NL-0070", "V-NL-00071"), version=task.version + 1)
    db.write_sync(lambda s: tasks.TASKS.write_replica(s, moved, True))
    assert _victim_list(db, VICTIM) == [] and _victim_list(db, "V-NL-0070") == [task.id]
    assert _indexed(db) == [(task.id, "V-NL-00071"), (task.id, "V-NL-0070")]
    db.write_sync(lambda s: tasks.TASKS.delete_replica(s, task.id))
    assert _victim_list(db, "V-NL-0070") == [] and _indexed(db) == []


@pytest.mark.parametrize(
    ("migrations", "metadata", "before", "victims", "write"),
    [
        pytest.param(
            TASKS,
            tasks.Base.metadata,
            "0015",
            "task_victims",
            lambda s, n: tasks.TASKS.insert_many(s, [replace(new_task(i, None), victim_refs=victims_of(i)) for i in n]),
            id="tasks",
        ),
        pytest.param(
            EVIDENCE,
            evidence.Base.metadata,
            "0027",
            "evidence_request_victims",
            lambda s, n: evidence.REQUESTS.insert_many(
                s, [replace(new_request(i), victim_refs=victims_of(i)) for i in n]
            ),
            id="requests",
        ),
    ],
)
def test_the_upgrade_fills_the_victims_index_from_the_records_stored(
    tmp_path: Path, migrations: Path, metadata: Any, before: str, victims: str, write: Any
) -> None:
    """Records stored before the victims' index existed (its table dropped, the database marked at the
    revision before it): the upgrade makes the table and fills it with each victim each record names."""
    db = database(tmp_path, migrations, metadata)
    db.write_sync(lambda s: write(s, range(12)))
    with db.engine.begin() as conn:
        want = sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {victims}"))
        conn.exec_driver_sql(f"DROP TABLE {victims}")
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{before}'")
    assert len(want) == sum(len(victims_of(i)) for i in range(12)) > 12
    migrate(migrations, str(db.engine.url), str(int(before) + 1).zfill(4))  # to the victims' revision
    with db.engine.connect() as conn:
        assert sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {victims}")) == want
    db.dispose()
