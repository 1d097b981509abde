"""The retry of a change answers as its first call did (``jitlib.changes``, ``RecordPath.check_change``,
``store_change``): the pure parts (the call's fingerprint, when a call replays the last change) and the
record path's steps against a real SQLite table of last changes. The services' integration tests
(tests/integration/test_tasks_retries.py, tests/integration/evidence/test_evidence_retries.py) run them
on real servers."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from jit.tasks.v1 import tasks_pb2
from jitlib import auth, changes, crypto, sealing
from jitlib.actors import Actor, Versioned
from jitlib.auth import Principal
from jitlib.db import new_metadata, runtime_tables
from jitlib.errors import Aborted
from jitlib.forwarding import OwnedElsewhere
from jitlib.policy import TASK_RULES, Operation, RecordAccess
from jitlib.records import RecordPath, Replayed, store_change, transition_rpc
from jitlib.runtime import CALL_KEY_PURPOSE, Runtime, UnitOfWork, current_method

T = TypeVar("T")
KEY = b"a node's key for its call fingerprints"
DECLINE = "/jit.tasks.v1.TaskService/DeclineTask"
NL = Actor("u-1", "nl-prosecutor", "NL")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
WIDGET_ID = "01935c4e-0000-7000-8000-000000000001"


def request(expected: int = 3, reason: str = "hosted in IE") -> tasks_pb2.DeclineTaskRequest:
    return tasks_pb2.DeclineTaskRequest(id=WIDGET_ID, expected_version=expected, reason=reason)


def principal(user_id: str = "u-1", jurisdiction: str = "NL") -> Principal:
    return Principal(
        user_id=user_id, username="someone", jurisdiction=jurisdiction, roles=frozenset({"prosecutor"}),
        workspaces=frozenset({"jit-demo"}),
    )  # fmt: skip


# -- the pure parts --------------------------------------------------------------------------------------------


def test_a_fingerprint_is_a_digest_of_the_caller_the_method_and_the_request() -> None:
    one = changes.fingerprint(KEY, "u-1", "NL", DECLINE, request())
    assert len(one) == 64 and int(one, 16) >= 0  # SHA-256, hex: nothing of the request in clear
    assert one == changes.fingerprint(KEY, "u-1", "NL", DECLINE, request())
    others = {
        changes.fingerprint(KEY, "u-2", "NL", DECLINE, request()),
        changes.fingerprint(KEY, "u-1", "DE", DECLINE, request()),
        changes.fingerprint(KEY, "u-1", "NL", "/jit.tasks.v1.TaskService/StartTask", request()),
        changes.fingerprint(KEY, "u-1", "NL", DECLINE, request(expected=4)),
        changes.fingerprint(KEY, "u-1", "NL", DECLINE, request(reason="hosted in FR")),
        # The parts are length-prefixed: moving a character from one part to the next is another call.
        changes.fingerprint(KEY, "u-1N", "L", DECLINE, request()),
    }
    assert one not in others and len(others) == 6


def test_a_fingerprint_is_keyed_by_the_nodes_kek_so_the_database_alone_confirms_no_guess() -> None:
    """Under another key (another node's KEK, or none) the same call has another fingerprint: one who holds
    the database but not the KEK cannot confirm an exact guess of a request's text (its reason) against it."""
    kek = crypto.Kek(bytes(range(32)))
    key = crypto.derived_key(kek, CALL_KEY_PURPOSE)
    assert key == crypto.derived_key(crypto.Kek(bytes(range(32))), CALL_KEY_PURPOSE)  # every process alike
    assert key not in (kek.key, crypto.derived_key(kek, "another purpose"))
    guess = changes.fingerprint(b"", "u-1", "NL", DECLINE, request())
    assert changes.fingerprint(key, "u-1", "NL", DECLINE, request()) not in (guess, CALL)


CALL = changes.fingerprint(KEY, "u-1", "NL", DECLINE, request())


@pytest.mark.parametrize(
    ("last", "current", "expected", "replays"),
    [
        (changes.LastChange(4, CALL), 4, 3, True),  # one behind, made by this call
        (changes.LastChange(4, CALL), 4, 0, True),  # "whatever it is now", not changed since
        (changes.LastChange(4, CALL), 5, 3, False),  # changed again since
        (changes.LastChange(4, CALL), 5, 0, False),  # changed since (a clock: it records no call)
        (changes.LastChange(4, CALL), 4, 2, False),  # two behind: not this call's retry
        (changes.LastChange(4, "0" * 64), 4, 3, False),  # another call made it
        (None, 4, 3, False),  # no call recorded
    ],
)
def test_a_call_replays_the_last_change_only_when_it_made_it_and_nothing_changed_since(
    last: changes.LastChange | None, current: int, expected: int, replays: bool
) -> None:
    assert changes.replays(last, current, expected, CALL) is replays


# -- the record path -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Widget(Versioned):
    id: str = WIDGET_ID
    workspace_id: str = "jit-demo"
    origin_jurisdiction: str = "NL"
    restricted: bool = False


WIDGET = Widget(version=3, created_by=NL, created_at=T0, updated_by=NL, updated_at=T0)


class StandIn:
    """The parts of ``Runtime`` a change touches, on a real SQLite database of the runtime tables."""

    def __init__(self, session: Session, *, replica: bool = False) -> None:
        self.session = session
        self.replica = replica
        self.tables = RUNTIME
        self.federation = None
        self.workspaces: dict[str, Any] = {}
        self.reads = 0
        self.call_key = KEY
        self.call_keys = (KEY,)
        self.audits: list[tuple[str, str, str, str]] = []

    async def authorize(self, *args: Any, **kwargs: Any) -> None:
        return None

    def require_owner(self, origin: str, record_type: str) -> None:
        if self.replica:
            raise OwnedElsewhere(origin, "nl", record_type)

    async def read(self, fn: Callable[[Session], T], *, on_loop: bool = False) -> T:
        self.reads += 1
        return fn(self.session)

    async def change(self, principal: Principal, fn: Callable[[Any], T], *, on_loop: bool = False) -> T:
        uow = UnitOfWork(self.session, RUNTIME, principal, call_key=KEY)  # type: ignore[arg-type]
        result = fn(uow)
        self.audits += [(a.operation, a.record_id, a.user_id, a.outcome) for a in uow.audits]
        return result


RUNTIME = runtime_tables(new_metadata())


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    kept = [RUNTIME.last_changes, RUNTIME.outbox, RUNTIME.dead_letters]
    RUNTIME.last_changes.metadata.create_all(engine, tables=kept)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def serving() -> Iterator[Callable[[Any], None]]:
    """Serve a call of DeclineTask with the given request, as the server's call entry binds it."""
    tokens: list[Any] = [current_method.set(DECLINE)]

    def serve(message: Any) -> None:
        tokens.append(changes.current_request.set(message))

    yield serve
    for token in reversed(tokens[1:]):  # the last set first: each reset restores the value before it
        changes.current_request.reset(token)
    current_method.reset(tokens[0])


def nothing(*_: Any) -> None:
    return None


def write(rt: StandIn, who: Principal, before: Widget) -> Widget:
    """A change of ``before`` stored through ``store_change`` in a unit of work of ``who``."""
    after = replace(before, version=before.version + 1)

    def stored(uow: UnitOfWork) -> None:  # the store's update succeeds here
        store_change(uow, TASK_RULES, before, after, lambda *_: True, nothing)

    asyncio.run(rt.change(who, stored))
    return after


def check(rt: StandIn, who: Principal, record: Widget, expected: int) -> None:
    path = RecordPath(rt, TASK_RULES, lambda s, i: record, RecordAccess.of)  # type: ignore[arg-type]
    asyncio.run(path.check_change(who, record, expected))


def test_a_change_made_by_a_call_records_its_fingerprint_and_version_and_nothing_of_the_request(
    session: Session, serving: Callable[[Any], None]
) -> None:
    serving(request())
    rt = StandIn(session)
    write(rt, principal(), WIDGET)
    row = session.execute(select(RUNTIME.last_changes)).one()
    assert (row.record_type, row.record_id, row.version, row.fingerprint) == ("task", WIDGET.id, 4, CALL)
    assert row.workspace_id == "jit-demo"
    write(rt, principal(), replace(WIDGET, version=4))  # one row per record: its last change
    assert session.execute(select(RUNTIME.last_changes.c.version)).scalars().all() == [5]


def test_a_workspace_shred_deletes_its_records_fingerprints_and_no_other_workspaces(
    session: Session, serving: Callable[[Any], None]
) -> None:
    """A fingerprint digests the request's text (a reason, terms), which an exact guess could confirm: the
    workspace's retention shred (``sealing.destroy_payloads``) deletes its records' rows with its content."""
    serving(request())
    rt = StandIn(session)
    write(rt, principal(), WIDGET)
    write(rt, principal(), replace(WIDGET, id="01935c4e-0000-7000-8000-000000000002", workspace_id="jit-other"))
    sealing.destroy_payloads(session, RUNTIME, "jit-demo")
    left = session.execute(select(RUNTIME.last_changes.c.workspace_id)).scalars().all()
    assert left == ["jit-other"]


def test_a_change_outside_a_call_records_none(session: Session) -> None:
    write(StandIn(session), principal(), WIDGET)
    assert session.execute(select(RUNTIME.last_changes)).all() == []


def test_the_retry_of_the_call_that_made_the_version_is_replayed_and_audited_as_such(
    session: Session, serving: Callable[[Any], None]
) -> None:
    serving(request(expected=3))
    rt = StandIn(session)
    now = write(rt, principal(), WIDGET)
    with pytest.raises(Replayed) as replayed:
        check(rt, principal(), now, 3)
    assert replayed.value.record is now
    assert rt.audits[-1] == (DECLINE, WIDGET.id, "u-1", "replayed")


@pytest.mark.parametrize(
    ("who", "retried"),
    [
        (principal("u-2"), request(expected=3)),  # another user
        (principal(), request(expected=3, reason="hosted in FR")),  # another body
    ],
)
def test_another_caller_or_body_is_aborted_as_before(
    session: Session, serving: Callable[[Any], None], who: Principal, retried: Any
) -> None:
    serving(request(expected=3))
    rt = StandIn(session)
    now = write(rt, principal(), WIDGET)
    serving(retried)
    with pytest.raises(Aborted) as stale:
        check(rt, who, now, 3)
    assert stale.value.reason == "VERSION_MISMATCH"


def test_a_retry_across_a_later_change_is_aborted_as_before(session: Session, serving: Callable[[Any], None]) -> None:
    serving(request(expected=3))
    rt = StandIn(session)
    now = write(rt, principal(), WIDGET)
    later = replace(now, version=5)  # a clock's change: it recorded no call
    with pytest.raises(Aborted):
        check(rt, principal(), later, 3)


def test_a_current_view_reads_no_last_change(session: Session, serving: Callable[[Any], None]) -> None:
    serving(request(expected=3))
    rt = StandIn(session)
    check(rt, principal(), WIDGET, 3)
    assert rt.reads == 0 and rt.audits == []


@pytest.mark.parametrize("expected", [0, 2, 3])
def test_on_a_replica_a_view_not_its_current_one_goes_to_the_owner_which_knows_the_calls(
    session: Session, serving: Callable[[Any], None], expected: int
) -> None:
    """A replica keeps no last changes: the owner decides whether the call is a retry (or stale)."""
    serving(request(expected=expected))
    rt = StandIn(session, replica=True)
    with pytest.raises(OwnedElsewhere):
        check(rt, principal(), replace(WIDGET, version=4), expected)
    check(rt, principal(), replace(WIDGET, version=4), 4)  # its current view: checked here, nothing to forward
    assert rt.reads == 0


def change(rt: StandIn, who: Principal, record: Widget, expected: int) -> None:
    """A change's steps before the domain: the record loaded for the change, then its version checked."""
    path = RecordPath(rt, TASK_RULES, lambda s, i: record, RecordAccess.of)  # type: ignore[arg-type]

    async def steps() -> None:
        loaded = await path.load_visible(who, record.id, Operation.ADDRESSEE_ACT)
        await path.check_change(who, loaded, expected)

    asyncio.run(steps())


@pytest.mark.parametrize("expected", [0, 3])
def test_a_retry_reads_its_last_change_in_the_records_own_read(
    session: Session, serving: Callable[[Any], None], expected: int
) -> None:
    """The record's last change is read with the record, in one read unit, when the call may be its retry
    (0 or one version behind): a transition pays no second read for the retry's check."""
    serving(request(expected=expected))
    rt = StandIn(session)
    now = write(rt, principal(), WIDGET)
    with pytest.raises(Replayed):
        change(rt, principal(), now, expected)
    assert rt.reads == 1
    rt.reads = 0
    if expected:  # another user's call from the version before: read with the record too, and stale
        with pytest.raises(Aborted):
            change(rt, principal("u-2"), now, expected)
    else:  # from 0 ("whatever it is now"): not a retry, the change goes on
        change(rt, principal("u-2"), now, expected)
    assert rt.reads == 1


def test_the_last_change_kept_is_the_loaded_records_at_its_version(
    session: Session, serving: Callable[[Any], None]
) -> None:
    """What the load kept answers only for the record and version it was read with: the check of the loaded
    record reads nothing more, the same record at another version (changed since the load) is read by the
    check itself. A read has no ``expected_version``."""
    serving(request(expected=3))
    rt = StandIn(session)
    now = write(rt, principal(), WIDGET)
    path = RecordPath(rt, TASK_RULES, lambda s, i: now, RecordAccess.of)  # type: ignore[arg-type]

    async def steps() -> None:
        loaded = await path.load_visible(principal(), now.id, Operation.ADDRESSEE_ACT)
        assert rt.reads == 1
        with pytest.raises(Replayed):
            await path.check_change(principal(), loaded, 3)
        assert rt.reads == 1
        with pytest.raises(Aborted):  # version 5 (a clock's change since): its last change read, not this call's
            await path.check_change(principal(), replace(loaded, version=5), 4)
        assert rt.reads == 2

    asyncio.run(steps())
    assert changes.expected_version() == 3
    serving(tasks_pb2.GetTaskRequest(id=WIDGET.id))
    assert changes.expected_version() is None


# -- a retry that races its first call (``changes.raced``, ``RecordPath.check_race``, ``transition_rpc``) -------


@pytest.mark.parametrize(
    ("last", "current", "read", "expected", "raced"),
    [
        (changes.LastChange(4, CALL), 4, 3, 3, True),  # one past the version asked from, made by this call
        (changes.LastChange(4, CALL), 4, 3, 0, True),  # "whatever it is now": one past the version read
        (changes.LastChange(4, "0" * 64), 4, 3, 3, False),  # another call won the race
        (changes.LastChange(4, "0" * 64), 4, 3, 0, False),
        (changes.LastChange(4, CALL), 5, 3, 3, False),  # this call's version, changed again since (a clock)
        (changes.LastChange(5, CALL), 5, 3, 3, False),  # two past the version asked from
        (changes.LastChange(5, CALL), 5, 3, 0, False),  # two past the version read
        (None, 4, 3, 3, False),  # made by no call (the service's own clock)
        (changes.LastChange(3, CALL), 3, 3, 3, False),  # not changed at all (the write lost to no one)
    ],
)
def test_a_lost_write_raced_its_own_first_call_only_when_that_call_made_the_next_version(
    last: changes.LastChange | None, current: int, read: int, expected: int, raced: bool
) -> None:
    assert changes.raced(last, current, read, expected, CALL) is raced


class Clock:
    def now(self) -> datetime:
        return T0


class Racing:
    """A servicer with one transition: it loads the widget and checks the change, then, before its own
    version-guarded write, ``first`` (another call in flight, None for none) writes the next version; its
    own write then fails as a lost race does."""

    def __init__(self, rt: StandIn, first: Callable[[], None] | None) -> None:
        self.rt = rt
        rt.clock = Clock()  # type: ignore[attr-defined]
        self.stored = WIDGET
        self.path = RecordPath(rt, TASK_RULES, lambda s, i: self.stored, RecordAccess.of)  # type: ignore[arg-type]
        self.first = first

    async def _transition(self, action: str, request: Any) -> Any:
        who = auth.current()
        loaded = await self.path.load_visible(who, request.id, Operation.ADDRESSEE_ACT)
        await self.path.check_change(who, loaded, request.expected_version)
        if self.first is not None:
            self.first()
        after = replace(loaded, version=loaded.version + 1)
        guarded = lambda *_: self.stored.version == loaded.version  # noqa: E731 - the store's version guard
        await self.rt.change(who, lambda uow: store_change(uow, TASK_RULES, loaded, after, guarded, nothing))
        self.stored = after
        return after

    def _view(self, principal: Principal, record: Widget, now: datetime) -> Widget:
        return record

    Decline = transition_rpc("decline", lambda task: task, "task")

    def serve(self, who: Principal) -> Any:
        token = auth.bind(who)
        try:
            return asyncio.run(self.Decline(changes.current_request.get(), None))
        finally:
            auth.unbind(token)


def first_call(racing: Racing, who: Principal) -> Callable[[], None]:
    """The first attempt of a call by ``who``, committing while the one being served is in flight."""

    def commit() -> None:  # as ``write``, from within the served call's event loop
        before, rt = racing.stored, racing.rt
        after = replace(before, version=before.version + 1)
        uow = UnitOfWork(rt.session, RUNTIME, who, call_key=KEY)  # type: ignore[arg-type]
        store_change(uow, TASK_RULES, before, after, lambda *_: True, nothing)
        rt.audits += [(a.operation, a.record_id, a.user_id, a.outcome) for a in uow.audits]
        racing.stored = after

    return commit


@pytest.mark.parametrize("expected", [3, 0])
def test_a_retry_whose_write_lost_to_its_own_first_call_is_answered_as_a_replay(
    session: Session, serving: Callable[[Any], None], expected: int
) -> None:
    serving(request(expected=expected))
    rt = StandIn(session)
    racing = Racing(rt, None)
    racing.first = first_call(racing, principal())
    answered = racing.serve(principal())
    assert answered is racing.stored and answered.version == 4  # the record as the first call made it
    assert rt.audits[-1] == (DECLINE, WIDGET.id, "u-1", "replayed")
    assert session.execute(select(RUNTIME.last_changes.c.version)).scalars().all() == [4]


@pytest.mark.parametrize(
    ("first", "retried"),
    [
        (principal("u-2"), request(expected=3)),  # another user's identical call won the race
        (principal(), request(expected=3, reason="hosted in FR")),  # the same user, another body
    ],
)
def test_a_write_that_lost_to_another_call_stays_aborted(
    session: Session, serving: Callable[[Any], None], first: Principal, retried: Any
) -> None:
    serving(request(expected=3))
    rt = StandIn(session)
    racing = Racing(rt, None)
    made = first_call(racing, first)

    def other_call() -> None:  # the winner's request is bound while it commits, then the loser's again
        token = changes.current_request.set(request(expected=3))
        try:
            made()
        finally:
            changes.current_request.reset(token)

    racing.first = other_call
    serving(retried)
    with pytest.raises(Aborted) as lost:
        racing.serve(principal())
    assert lost.value.reason == "CONCURRENT_UPDATE"
    assert [a[3] for a in rt.audits] == ["ok"]  # the winner's change; nothing replayed


def test_a_write_that_lost_to_a_later_change_of_its_first_call_stays_aborted(
    session: Session, serving: Callable[[Any], None]
) -> None:
    serving(request(expected=3))
    rt = StandIn(session)
    racing = Racing(rt, None)
    made = first_call(racing, principal())

    def twice() -> None:  # this call's first attempt, then a clock's change (it records no call)
        made()
        racing.stored = replace(racing.stored, version=5)

    racing.first = twice
    with pytest.raises(Aborted) as lost:
        racing.serve(principal())
    assert lost.value.reason == "CONCURRENT_UPDATE"


def test_a_transition_that_wins_is_answered_with_its_change(session: Session, serving: Callable[[Any], None]) -> None:
    serving(request(expected=3))
    rt = StandIn(session)
    answered = Racing(rt, None).serve(principal())
    assert answered.version == 4 and [a[3] for a in rt.audits] == ["ok"]


# -- across a KEK rotation (``Runtime.call_keys``) --------------------------------------------------------------


def node_with(ring: crypto.KekRing) -> Runtime:
    """A service's runtime holding ``ring`` (its call keys need nothing else of it)."""
    return Runtime(*(None,) * 9, keks=ring)  # type: ignore[arg-type]


def test_a_fingerprint_kept_under_a_previous_kek_matches_while_the_ring_holds_it(
    serving: Callable[[Any], None],
) -> None:
    """The KEK rotated (the new one first in the file, the old one after it) and the service restarted: the
    retry of a call whose fingerprint was kept under the old KEK still replays it, while a new change is
    fingerprinted under the new KEK; once the old KEK is dropped from the ring, it no longer matches."""
    old, new = crypto.Kek(bytes(range(32))), crypto.Kek(bytes(range(1, 33)))
    serving(request(expected=3))
    before = node_with(crypto.KekRing([old]))
    assert before.call_keys == (crypto.derived_key(old, CALL_KEY_PURPOSE),)  # one key: one HMAC per call
    kept = changes.LastChange(4, changes.fingerprint(before.call_key, "u-1", "NL", DECLINE, request()))

    rotated = node_with(crypto.KekRing([new, old]))  # a restart after the rotation
    assert rotated.call_key == crypto.derived_key(new, CALL_KEY_PURPOSE)  # new changes: under the new KEK
    call = changes.of_call(principal(), rotated.call_keys)
    assert call is not None and call[0] != kept.fingerprint
    assert changes.replays(kept, 4, 3, call) and changes.raced(kept, 4, 3, 3, call)
    assert not changes.replays(kept, 4, 3, changes.of_call(principal("u-2"), rotated.call_keys) or ())

    dropped = node_with(crypto.KekRing([new]))
    assert not changes.replays(kept, 4, 3, changes.of_call(principal(), dropped.call_keys) or ())


def test_the_call_keys_follow_the_ring_as_it_reloads_each_derived_once(tmp_path: Any) -> None:
    """The ring reads its file again while the service runs: the call keys follow it (the current KEK's first),
    a KEK's key derived once and kept while the ring holds it."""
    old, new = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    path = tmp_path / "kek.b64"
    path.write_text(f"{old}\n")
    rt = node_with(crypto.KekRing.from_file(path))
    (old_key,) = rt.call_keys
    path.write_text(f"{new}\n{old}\n")
    os.utime(path, ns=(1, 1))  # another stamp, whatever the clock's resolution
    assert rt.keks is not None and rt.keks.reload()
    new_key, again = rt.call_keys
    assert again is old_key and rt.call_key is new_key != old_key
    assert rt.call_keys is rt.call_keys  # nothing derived while the ring stays as it is
