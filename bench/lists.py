"""Lists over many records: ``ListTasks`` and ``ListRequests`` in one workspace holding 100,000 tasks and
100,000 evidence requests, next to a bare grpc.aio echo measured in interleaved trials of the same run:

    BENCH lists_<backend>_<list> p50_ms=<x> spread_ms=<a..b> p99_ms=<y> ratio_p50=<x / echo p50> trials=<n>

For each service: the first page (no filter), a deep page (page 500 of the unfiltered list, fetched with
the token the previous page gave), a filter by state, a due window, and one victim's records (each record
names one of 1,000 victims, each victim named by every 1,000th record: 100 of 100,000, spread over the
whole list). Pages are 50 records, the default.

The rows are seeded before the services start, through each service's own store: the domain's ``create``
makes each record, ``RecordTable.insert_many`` seals its text under the workspace's key (the same KEK file
the service then opens them with) and writes it with its parties, and the evidence requests' running
deadlines go into the store's deadline table. Not through 100,000 RPCs (an hour of creates), and without
the outbox events and audit entries a create writes: a list reads neither. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from bench import services
from bench.run import ISSUER, announce_workspace, make_key, percentile, start
from jitdev.nats import NatsInstance
from jitdev.postgres import PostgresInstance
from jitdev.procs import free_port, port_open, terminate, wait_until
from jitdev.stack import _grpc_healthy

WORKSPACE = "jit-bench"
PAGE = 50
#: The jurisdictions of the workspace: NL (the benchmark's caller, a prosecutor), DE and IE.
MEMBERS = ("NL", "DE", "IE")
TASK_STATES = (
    ("ASSIGNED", 30),
    ("ACCEPTED", 15),
    ("IN_PROGRESS", 25),
    ("BLOCKED", 5),
    ("DONE", 10),
    ("VERIFIED", 10),
    ("CANCELLED", 5),
)
REQUEST_STATES = (
    ("DRAFT", 10),
    ("ISSUED", 20),
    ("ACKNOWLEDGED", 15),
    ("UNDER_REVIEW", 5),
    ("IN_EXECUTION", 25),
    ("EXECUTED", 15),
    ("CLOSED", 10),
)
#: States in which an evidence request has a deadline running (the others have none).
RUNNING = frozenset({"ISSUED", "ACKNOWLEDGED", "UNDER_REVIEW", "IN_EXECUTION"})


def _weighted(choices: tuple[tuple[str, int], ...], rng: random.Random) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _actor(jurisdiction: str) -> Any:
    from jitlib.actors import Actor

    return Actor(f"bench-{jurisdiction.lower()}", f"bench-{jurisdiction.lower()}-prosecutor", jurisdiction)


#: The victim whose records a list asks for (``victim_of``).
VICTIM = "V-NL-0007"


def victim_of(i: int) -> str:
    """The victim the ``i``-th record names: one of 1,000, each named by every 1,000th record."""
    return f"V-NL-{i % 1000:04}"


def seed_tasks(session: Any, count: int, now: datetime, rng: random.Random) -> None:
    """``count`` tasks of the workspace, made by the tasks domain and written by its store: issued by each
    member in turn to another, 70 % restricted (the caller NL sees those it is a party to), in the states
    of ``TASK_STATES``, 90 % with a due date in the next year."""
    from jit.common.v1 import common_pb2
    from jit.tasks.v1 import tasks_pb2 as pb
    from jitlib.ids import new_id
    from services.tasks import domain, store
    from services.tasks.domain import TaskState
    from services.tasks.mapping import new_task_from_pb

    tasks = []
    for i in range(count):
        origin = MEMBERS[i % 3]
        assignee = MEMBERS[(i + 1 + rng.randrange(2)) % 3]
        req = pb.CreateTaskRequest(
            request_id=str(uuid.uuid4()),
            workspace_id=WORKSPACE,
            title=f"Identify the holder of account {i}",
            description="Subscriber and IP data of the account, last 90 days.",
            kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction=assignee,
            visibility=common_pb2.VISIBILITY_RESTRICTED if rng.random() < 0.7 else common_pb2.VISIBILITY_WORKSPACE,
            victim_refs=[victim_of(i)],
        )
        if rng.random() < 0.9:
            req.due_at.FromDatetime(now + timedelta(seconds=rng.randrange(365 * 86400)))
        task = domain.create(new_task_from_pb(req), task_id=new_id(), actor=_actor(origin), now=now)
        tasks.append(replace(task, state=TaskState(_weighted(TASK_STATES, rng))))
    store.TASKS.insert_many(session, tasks)


def seed_requests(session: Any, count: int, now: datetime, rng: random.Random) -> None:
    """``count`` evidence requests of the workspace, made by the evidence domain and written by its store:
    EPOCs to a provider in IE and EIOs to DE or IE, in the states of ``REQUEST_STATES``; those in a
    running state have a deadline in the next 120 days (in the store's deadline table, as an issued request
    has)."""
    from sqlalchemy import insert

    from jit.common.v1 import common_pb2
    from jit.evidence.v1 import evidence_pb2 as pb
    from jitlib.ids import new_id
    from services.evidence import domain, store
    from services.evidence.deadlines import COUNTING, Deadline, DeadlineKind
    from services.evidence.domain import State
    from services.evidence.mapping import new_request_from_pb

    requests, deadlines = [], []
    for i in range(count):
        origin = MEMBERS[i % 3]
        epoc = i % 2 == 0
        req = pb.CreateRequestRequest(
            request_id=str(uuid.uuid4()),
            workspace_id=WORKSPACE,
            legal_basis=pb.LEGAL_BASIS_EPOC if epoc else pb.LEGAL_BASIS_EIO,
            issuing_authority="Openbaar Ministerie",
            addressee_kind=pb.ADDRESSEE_KIND_SERVICE_PROVIDER if epoc else pb.ADDRESSEE_KIND_MEMBER_STATE,
            # An EPOC goes to a provider of another member state than its issuer's (EPOC_ONLY_BETWEEN_BOUND_STATES).
            addressee_jurisdiction=(("DE" if origin == "IE" else "IE") if epoc else MEMBERS[(i + 1) % 3]),
            data_categories=[pb.DATA_CATEGORY_SUBSCRIBER],
            targets=[pb.TargetIdentifier(type=pb.TARGET_TYPE_ACCOUNT_HANDLE, value=f"@harasser_{i}")],
            offence_category=pb.OFFENCE_CATEGORY_CYBERSTALKING,
            title=f"Subscriber data of account {i}",
            visibility=common_pb2.VISIBILITY_RESTRICTED if rng.random() < 0.7 else common_pb2.VISIBILITY_WORKSPACE,
            victim_refs=[victim_of(i)],
        )
        if epoc:
            req.epoc_procedure = pb.EPOC_PROCEDURE_STANDARD
            req.provider_name = "Videohost GmbH" if origin == "IE" else "SocialNet Ireland Ltd"
        r = domain.create(new_request_from_pb(req), request_id=new_id(), actor=_actor(origin), now=now)
        state = _weighted(REQUEST_STATES, rng)
        running: tuple[Deadline, ...] = ()
        if state in RUNNING:
            due = now + timedelta(seconds=rng.randrange(120 * 86400))
            running = (Deadline(DeadlineKind.EXECUTE, due, "bench", now),)
            deadlines.append(
                {
                    "request_id": r.id,
                    "kind": "EXECUTE",
                    "due_at": due,
                    "counted_from": now,
                    "source": "bench",
                    "working_days": False,
                    "next_alert_at": None,
                }
            )
        requests.append(replace(r, state=State(state), deadlines=running, issued_at=now if state != "DRAFT" else None))
    store.REQUESTS.insert_many(session, requests)
    if deadlines:
        session.execute(insert(store.DeadlineRow), deadlines)
    # These deadlines are a due window to list, not counted from the requests' clocks: recorded as counted
    # the service's way, so that its start's recount (services.evidence.recount) leaves them.
    if not store.recounted(session, COUNTING):
        store.mark_recounted(session, COUNTING, now, 0)


def seed(service: str, url: str, kek_file: Path, count: int, batch: int = 5000) -> float:
    """Migrate ``service``'s database and write ``count`` records into it; returns the seconds it took."""
    from jitlib import crypto, db, sealing

    name, seeder = {"tasks": ("tasks", seed_tasks), "evidence": ("evidence", seed_requests)}[service]
    _settings, spec = services.settings_and_spec(name, 0, url, kek_file.parent)
    t0 = time.perf_counter()
    db.migrate(spec.migrations_dir, url)
    database = db.Database(url)
    sealing.install(database.info, spec.metadata, crypto.KekRing.from_file(kek_file))
    rng, now = random.Random(17), datetime.now(UTC)
    try:
        for start in range(0, count, batch):
            size = min(batch, count - start)
            database.write_sync(lambda s, n=size: seeder(s, n, now, rng))
        if not database.sqlite:
            # What autovacuum does soon after a bulk load: the planner's statistics of the new rows.
            with database.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        database.dispose()
    return time.perf_counter() - t0


def explain(service: str, url: str, kek_file: Path, deep: int) -> list[str]:
    """The query plan of each list's page query (the store's own SQL, caught as it runs): EXPLAIN QUERY
    PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL."""
    from sqlalchemy import event, select
    from sqlalchemy.orm import Session

    from jitlib import crypto, db, sealing, sqlexec
    from jitlib.policy import VisibilityScope

    _settings, spec = services.settings_and_spec(service, 0, url, kek_file.parent)
    database = db.Database(url)
    sealing.install(database.info, spec.metadata, crypto.KekRing.from_file(kek_file))
    seen: list[tuple[str, Any]] = []
    event.listen(database.engine, "before_cursor_execute", lambda *a: seen.append((a[2], a[3])))
    sqlexec.executed.set(seen)  # a page's rows are read below SQLAlchemy's execution
    scope, workspaces, now = (
        VisibilityScope(frozenset({WORKSPACE}), "NL", True),
        frozenset({WORKSPACE}),
        datetime.now(UTC),
    )
    if service == "tasks":
        from jitlib.clock import Window
        from services.tasks import store as tasks
        from services.tasks.domain import TaskState

        row: Any = tasks.TaskRow
        window = tasks.TaskFilter(due=Window(now + timedelta(days=30), now + timedelta(days=44)))
        filters: dict[str, Any] = {
            "first_page": tasks.TaskFilter(),
            "state": tasks.TaskFilter(states=frozenset({TaskState.BLOCKED})),
            "due_window": window,
            "victim": tasks.TaskFilter(victim_ref=VICTIM),
        }

        def page(s: Any, flt: Any, after: str) -> Any:
            return tasks.list_answered(s, scope, workspaces, flt, now=now, after_id=after, limit=PAGE + 1)
    else:
        from services.evidence import store as evidence
        from services.evidence.domain import State

        row = evidence.RequestRow
        filters = {
            "first_page": evidence.RequestFilter(),
            "state": evidence.RequestFilter(states=frozenset({State.UNDER_REVIEW})),
            "due_window": evidence.RequestFilter(deadline_before=now + timedelta(days=7)),
            "victim": evidence.RequestFilter(victim_ref=VICTIM),
        }

        def page(s: Any, flt: Any, after: str) -> Any:
            return evidence.list_answered(s, scope, workspaces, flt, after_id=after, limit=PAGE + 1)

    out = []
    try:
        with database.engine.connect() as conn, Session(conn, info=database.info) as s:
            deep_after = s.scalar(select(row.id).order_by(row.id).offset(deep * PAGE).limit(1)) or ""
            for name, flt, after in [
                *((n, f, "") for n, f in filters.items()),
                ("deep_page", filters["first_page"], deep_after),
            ]:
                seen.clear()
                page(s, flt, after)
                # Each statement with a LIMIT: the page's (on SQLite a window's count and walk before it).
                out.append(f"# {service} {name}:")
                prefix = "EXPLAIN QUERY PLAN " if database.sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
                for sql, params in [(q, p) for q, p in seen if "LIMIT" in q]:
                    plan = conn.exec_driver_sql(prefix + sql, params).all()
                    out += [f"#   {r[-1] if database.sqlite else r[0]}" for r in plan] + ["#   --"]
    finally:
        database.dispose()
    return out


# -- the lists --------------------------------------------------------------------------------------


def _ts(at: datetime) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


class Lists:
    """The list calls measured, each a ``call()`` that checks it got a full page."""

    def __init__(self, channels: dict[str, grpc.aio.Channel], token: str) -> None:
        from jit.evidence.v1 import evidence_pb2_grpc
        from jit.tasks.v1 import tasks_pb2_grpc

        self.md = (("authorization", f"Bearer {token}"),)
        self.tasks = tasks_pb2_grpc.TaskServiceStub(channels["tasks"])
        self.evidence = evidence_pb2_grpc.EvidenceServiceStub(channels["evidence"])

    async def _page(self, kind: str, req: Any) -> Any:
        if kind == "tasks":
            resp = await self.tasks.ListTasks(req, metadata=self.md, timeout=60)
            found = len(resp.tasks)
        else:
            resp = await self.evidence.ListRequests(req, metadata=self.md, timeout=60)
            found = len(resp.requests)
        if found != PAGE:
            raise RuntimeError(f"{kind}: a page of {found} records, not {PAGE}")
        return resp

    async def deep_token(self, kind: str, page: int) -> tuple[str, list[float]]:
        """The token of page ``page`` of the unfiltered list, found by following the tokens from the first
        page (and each page's latency on the way)."""
        token, times = "", []
        for _ in range(page - 1):
            t0 = time.perf_counter()
            resp = await self._page(kind, self.request(kind, page_token=token))
            times.append((time.perf_counter() - t0) * 1000)
            token = resp.next_page_token
        return token, times

    @staticmethod
    def request(kind: str, **fields: Any) -> Any:
        from jit.evidence.v1 import evidence_pb2
        from jit.tasks.v1 import tasks_pb2

        cls = tasks_pb2.ListTasksRequest if kind == "tasks" else evidence_pb2.ListRequestsRequest
        return cls(workspace_id=WORKSPACE, page_size=PAGE, **fields)

    def calls(self, tokens: dict[str, str], now: datetime) -> dict[str, Callable[[], Awaitable[Any]]]:
        from jit.evidence.v1 import evidence_pb2
        from jit.tasks.v1 import tasks_pb2

        r = self.request
        window = {"due_after": _ts(now + timedelta(days=30)), "due_before": _ts(now + timedelta(days=44))}
        return {
            "tasks_first_page": lambda: self._page("tasks", r("tasks")),
            "tasks_deep_page": lambda: self._page("tasks", r("tasks", page_token=tokens["tasks"])),
            "tasks_state": lambda: self._page("tasks", r("tasks", states=[tasks_pb2.TASK_STATE_BLOCKED])),
            "tasks_due_window": lambda: self._page("tasks", r("tasks", **window)),
            "tasks_victim": lambda: self._page("tasks", r("tasks", victim_ref=VICTIM)),
            "requests_first_page": lambda: self._page("evidence", r("evidence")),
            "requests_deep_page": lambda: self._page("evidence", r("evidence", page_token=tokens["evidence"])),
            "requests_state": lambda: self._page(
                "evidence", r("evidence", states=[evidence_pb2.EVIDENCE_REQUEST_STATE_UNDER_REVIEW])
            ),
            "requests_due_window": lambda: self._page(
                "evidence", r("evidence", deadline_before=_ts(now + timedelta(days=7)))
            ),
            "requests_victim": lambda: self._page("evidence", r("evidence", victim_ref=VICTIM)),
        }


async def _timed(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def measure_backend(
    ports: dict[str, int], echo_port: int, token: str, trials: int, calls: int, deep: int
) -> tuple[list[list[float]], dict[str, list[list[float]]], dict[str, float]]:
    """Interleaved trials: echo, then each list, ``trials`` times; ``calls`` calls each per trial."""
    channels = {k: grpc.aio.insecure_channel(f"127.0.0.1:{p}") for k, p in ports.items()}
    echo_ch = grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}")
    try:
        lists = Lists(channels, token)
        tokens, walks = {}, {}
        for kind in ("tasks", "evidence"):
            tokens[kind], times = await lists.deep_token(kind, deep)
            walks[kind] = statistics.median(times)
        kinds = lists.calls(tokens, datetime.now(UTC))
        echo = echo_ch.unary_unary("/bench.Echo/Echo")
        payload = b"x" * 200
        for call in kinds.values():  # warm-up
            await _timed(call, 3)
        await _timed(lambda: echo(payload), 50)
        floor: list[list[float]] = []
        figures: dict[str, list[list[float]]] = {k: [] for k in kinds}
        for _ in range(trials):
            floor.append(await _timed(lambda: echo(payload), calls))
            for name, call in kinds.items():
                figures[name].append(await _timed(call, calls))
        return floor, figures, walks
    finally:
        for ch in (*channels.values(), echo_ch):
            await ch.close()


def trial_line(name: str, trials: list[list[float]], floor_p50: float | None) -> str:
    p50s = [statistics.median(t) for t in trials]
    every = [x for t in trials for x in t]
    p50 = statistics.median(p50s)
    ratio = f" ratio_p50={p50 / floor_p50:.2f}" if floor_p50 else ""
    return (
        f"BENCH {name} p50_ms={p50:.3f} spread_ms={min(p50s):.3f}..{max(p50s):.3f} "
        f"p99_ms={percentile(every, 0.99):.3f}{ratio} trials={len(trials)}"
    )


@dataclass
class Stage:
    """What a list benchmark runs in (``staged``): its work folder, the benchmark's signing key (its JWKS
    file) and a token of the NL prosecutor, the node's KEK file, NATS with the workspace announced, the echo
    server, and a durable PostgreSQL, started when a backend first needs it."""

    work: Path
    jwks: Path
    token: str
    kek_file: Path
    nats: NatsInstance
    pg: PostgresInstance
    echo_port: int

    def databases(self, backend: str, records: int, *, explain_deep: int | None = None) -> dict[str, str]:
        """Each service's database on ``backend``, migrated and seeded with ``records`` of its records (and
        with ``explain_deep``, its lists' plans printed, the deep page that one)."""
        urls = {}
        for service in ("tasks", "evidence"):
            if backend == "sqlite":
                urls[service] = f"sqlite:///{self.work / f'{service}.db'}"
            else:
                if self.pg.process is None:
                    self.pg.start()
                urls[service] = self.pg.create_database(f"bench_{service}_{uuid.uuid4().hex[:8]}")
            secs = seed(service, urls[service], self.kek_file, records)
            print(f"# {backend}: seeded {records} {service} records in {secs:.1f} s", flush=True)
            if explain_deep is not None:
                print("\n".join(explain(service, urls[service], self.kek_file, explain_deep)), flush=True)
        return urls


@contextlib.contextmanager
def staged(prefix: str, *, keep: bool = False) -> Iterator[Stage]:
    """A ``Stage`` in a new work folder, stopped and removed at the end (kept with ``keep`` or a failure)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    jwks, token = make_key(work)
    from jitlib import crypto

    kek_file = work / "kek.b64"
    crypto.generate_kek_file(kek_file)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    pg = PostgresInstance(free_port(), work / "pg" / "data", work / "pg.log", durable=True)
    echo: subprocess.Popen[bytes] | None = None
    failed = False
    try:
        asyncio.run(announce_workspace(nats_i.url))
        echo_port = free_port()
        echo = start(["echo"], work / "echo.log", echo_port)
        wait_until(lambda: port_open(echo_port), 30, "echo server")
        yield Stage(work, jwks, token, kek_file, nats_i, pg, echo_port)
    except BaseException:
        failed = True
        raise
    finally:
        if echo is not None:
            terminate(echo)
        nats_i.stop()
        pg.stop()
        if keep or failed:
            print(f"# kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=100_000, help="tasks, and evidence requests, seeded")
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--calls", type=int, default=20, help="calls of each list per trial")
    p.add_argument("--deep-page", type=int, default=500, help="the deep page measured (of 50 records)")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--explain", action="store_true", help="print each list query's plan after seeding")
    p.add_argument("--keep", action="store_true", help="keep the work folder (databases, logs)")
    p.add_argument(
        "--profile", type=Path, help="run each service under pyinstrument; reports go here (<service>-<backend>.txt)"
    )
    a = p.parse_args()
    with staged("jit-bench-lists-", keep=a.keep) as st:
        for backend in a.backends.split(","):
            urls = st.databases(backend, a.records, explain_deep=a.deep_page if a.explain else None)
            procs: list[subprocess.Popen[bytes]] = []
            try:
                ports = {}
                for service, url in urls.items():
                    ports[service] = free_port()
                    log = st.work / f"{service}-{backend}.log"
                    report = None
                    if a.profile is not None:
                        a.profile.mkdir(parents=True, exist_ok=True)
                        report = a.profile.resolve() / f"{service}-{backend}.txt"
                    proc = services.start(
                        service, ports[service], url, st.nats.url, st.jwks, ISSUER, log, profile=report
                    )
                    procs.append(proc)
                    wait_until(lambda port=ports[service]: _grpc_healthy(port), 120, service, log, proc)
                time.sleep(1.0)  # let the workspace directory catch up
                floor, figures, walks = asyncio.run(
                    measure_backend(ports, st.echo_port, st.token, a.trials, a.calls, a.deep_page)
                )
            finally:
                for proc in procs:
                    terminate(proc, timeout=120 if a.profile else 20)  # a profiler writes its report at exit
            floor_p50 = statistics.median(statistics.median(t) for t in floor)
            print(trial_line(f"lists_{backend}_grpc_echo_floor", floor, None), flush=True)
            for name, trials in figures.items():
                print(trial_line(f"lists_{backend}_{name}", trials, floor_p50), flush=True)
            for kind, walk in walks.items():
                print(
                    f"# {backend}: following {kind} tokens to page {a.deep_page}: p50 {walk:.3f} ms a page", flush=True
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
