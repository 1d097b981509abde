"""The messaging rules behind the security review's findings (issue 10), without a server: record
threads take their parties from the record's own state (#2), retention counts from this node's own
sighting of a closure with a grace period and never shreds a reopened workspace (#2), a deleted message's
history is its tombstone (low), and cached keys stop being used once their workspace key is gone (#7).
And what a workspace's shred leaves (review 37): nothing of its text opens with the node's KEK afterwards."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import any_pb2
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2
from jit.messaging.v1 import messaging_pb2
from jit.preservation.v1 import preservation_pb2
from jit.tasks.v1 import tasks_pb2
from jitlib import changes, crypto, retention, retention_sweep, sealing
from jitlib import db as jitdb
from jitlib.actors import Actor
from jitlib.alerts import SYSTEM
from jitlib.auth import Principal
from jitlib.bus import EventConsumer, PoisonMessage
from jitlib.db import Database
from jitlib.envelopes import description_problem
from jitlib.errors import Aborted
from jitlib.federation import Federation
from jitlib.policy import VisibilityScope
from jitlib.runtime import UnitOfWork, current_method
from services.messaging import domain, store
from services.messaging.channels import Channels
from services.messaging.content import Content
from services.messaging.keys import ChannelKeys
from services.messaging.mapping import record_replica
from tests.harness import DeliveredMsg

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WS = "jit-demo"


def _envelope(kind: str, state: Any, *, audience: list[str], record_id: str, version: int = 1) -> Envelope:
    packed = any_pb2.Any()
    packed.Pack(state)
    return Envelope(
        id=str(uuid.uuid4()),
        type="x",
        workspace_id=WS,
        origin_jurisdiction="NL",
        audience=audience,
        aggregate_type=kind,
        aggregate_id=record_id,
        aggregate_version=version,
        state=packed,
    )


# -- #2: a record thread's parties come from the record's state ------------------------------------------


def test_a_task_threads_parties_are_the_tasks_not_the_events_audience() -> None:
    """Finding #2 (audience): the envelope says everyone; the task says NL and DE."""
    task = tasks_pb2.Task(
        id=str(uuid.uuid4()),
        workspace_id=WS,
        origin_jurisdiction="NL",
        assignee_jurisdiction="DE",
        visibility=common_pb2.VISIBILITY_RESTRICTED,
        version=1,
    )
    seen = record_replica(_envelope("task", task, audience=["NL", "DE", "IE", "FR"], record_id=task.id))
    assert seen is not None and seen.restricted and seen.parties == {"NL", "DE"}
    assert domain.thread_members(seen) == ("DE",)
    shared = tasks_pb2.Task()
    shared.CopyFrom(task)
    shared.shared_with[:] = ["IE"]
    again = record_replica(_envelope("task", shared, audience=[], record_id=task.id))
    assert again is not None and again.parties == {"NL", "DE", "IE"}


def test_an_open_tasks_thread_is_open_to_the_workspace() -> None:
    task = tasks_pb2.Task(
        id=str(uuid.uuid4()),
        workspace_id=WS,
        origin_jurisdiction="NL",
        assignee_jurisdiction="DE",
        visibility=common_pb2.VISIBILITY_WORKSPACE,
        version=1,
    )
    seen = record_replica(_envelope("task", task, audience=["NL"], record_id=task.id))
    assert seen is not None and not seen.restricted
    assert not domain.record_thread(seen, channel_id="c", now=T0).restricted


@pytest.mark.parametrize(
    ("procedure", "party"),
    [
        (evidence_pb2.EPOC_PROCEDURE_STANDARD, False),  # the provider's state is not notified: no party
        (evidence_pb2.EPOC_PROCEDURE_WITH_NOTIFICATION, True),
    ],
)
def test_an_epoc_to_a_provider_makes_its_state_a_party_only_when_notified(procedure: int, party: bool) -> None:
    """As the evidence service's policy: a non-notified EPOC is not seen by the provider's state, whatever
    the event's audience says."""
    request = evidence_pb2.EvidenceRequest(
        id=str(uuid.uuid4()),
        workspace_id=WS,
        origin_jurisdiction="NL",
        addressee_kind=evidence_pb2.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="IE",
        legal_basis=evidence_pb2.LEGAL_BASIS_EPOC,
        epoc_procedure=procedure,
        visibility=common_pb2.VISIBILITY_RESTRICTED,
        version=2,
    )
    alert = evidence_pb2.DeadlineAlert(request=request)
    for state in (request, alert):
        seen = record_replica(
            _envelope("evidence_request", state, audience=["NL", "IE"], record_id=request.id, version=2)
        )
        assert seen is not None and ("IE" in seen.parties) is party


def test_a_preservation_orders_parties_are_its_origin_and_those_it_is_shared_with() -> None:
    order = preservation_pb2.PreservationOrder(
        id=str(uuid.uuid4()), workspace_id=WS, origin_jurisdiction="NL", shared_with=["DE"], version=3
    )
    warning = preservation_pb2.ExpiryWarning(order=order, offset_seconds=7 * 86400)
    for state in (order, warning):
        seen = record_replica(
            _envelope("preservation_order", state, audience=["NL", "DE", "IE"], record_id=order.id, version=3)
        )
        assert seen is not None and seen.restricted and seen.parties == {"NL", "DE"}


def test_a_record_event_whose_state_is_not_the_record_is_refused() -> None:
    """Finding #2: such an event is set aside (the consumer dead-letters it); nothing is taken from it."""
    task_id = str(uuid.uuid4())
    assert record_replica(_envelope("task", common_pb2.Workspace(id=WS), audience=["IE"], record_id=task_id)) is None
    other = tasks_pb2.Task(id=str(uuid.uuid4()), workspace_id=WS, origin_jurisdiction="NL", version=1)
    seen = record_replica(_envelope("task", other, audience=[], record_id=task_id))
    assert seen is not None
    problem = description_problem(_envelope("task", other, audience=[], record_id=task_id), seen)
    assert problem == "the envelope does not describe the record its state carries"
    bad = domain.task_replica(
        id=task_id, workspace_id=WS, origin_jurisdiction="NL", assignee="xx", restricted=True, shared_with=[], version=1
    )
    assert domain.replica_problem(bad)


# -- #2: closures ---------------------------------------------------------------------------------------


def test_the_retention_clock_starts_when_this_node_sees_a_closure_and_stops_when_it_is_undone() -> None:
    """Finding #2 (closure): what an event claims about the date does not matter; the directory's state
    does."""
    start, stop = domain.closures_to_update({"a": "closed", "b": "open", "c": "closed"}, frozenset({"c", "b", "d"}))
    assert start == ["a"]  # closed, not yet recorded: the clock starts now
    assert stop == ["b", "d"]  # reopened, or no longer known: the clock stops
    due = domain.shred_due_at(T0, timedelta(days=30), timedelta(days=7))
    assert due == T0 + timedelta(days=37)


def test_only_a_workspace_still_closed_with_the_same_closure_is_shredded() -> None:
    assert domain.may_shred("closed", recorded_closure=T0, due_closure=T0)
    assert not domain.may_shred("open", recorded_closure=T0, due_closure=T0)
    assert not domain.may_shred(None, recorded_closure=T0, due_closure=T0)
    assert not domain.may_shred("closed", recorded_closure=None, due_closure=T0)
    assert not domain.may_shred("closed", recorded_closure=T0 + timedelta(days=1), due_closure=T0)


# -- low: a deleted message's history ----------------------------------------------------------------------


def test_a_deleted_messages_history_is_its_tombstone_only() -> None:
    sender = Actor("u1", "u1", "NL")
    current = domain.Message(
        id="m", channel_id="c", seq=1, sender=sender, system=False, revision=3, deleted=True, key_version=1,
        sealed_body=b"", posted_at=T0,
    )  # fmt: skip
    kept = [domain.Revision("m", r, 1, b"sealed", False, sender, T0 + timedelta(minutes=r)) for r in (1, 2)]
    assert domain.history(current, kept) == [current]
    live = domain.Message(
        id="m", channel_id="c", seq=1, sender=sender, system=False, revision=3, deleted=False, key_version=1,
        sealed_body=b"", posted_at=T0,
    )  # fmt: skip
    assert [m.revision for m in domain.history(live, kept)] == [1, 2, 3]


# -- #7: keys ----------------------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _channel(workspace: str = WS) -> domain.Channel:
    return domain.new_channel(
        channel_id=str(uuid.uuid4()),
        workspace_id=workspace,
        title="t",
        opener=Actor("u1", "u1", "NL"),
        members=["DE"],
        now=T0,
    )


def test_channel_keys_are_wrapped_by_a_workspace_key_and_die_with_it_within_the_recheck_bound() -> None:
    """Finding #7: a channel key is wrapped by its workspace's key, which the KEK wraps; once the workspace
    key is deleted (by another replica, say) a cached key is used at most ``recheck_seconds`` longer."""
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    ticks = Ticks()
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())), recheck_seconds=5.0, monotonic=ticks)
    ch = _channel()
    with Session(engine) as session, session.begin():
        store.insert_channel(session, ch)
        keys.create(session, ch, 1, T0)
    with Session(engine) as session:
        wrapped_workspace = store.load_workspace_key(session, WS)
        found = store.load_key(session, ch.id, 1)
        assert wrapped_workspace is not None and found is not None and found[1] == store.BY_WORKSPACE
        data_key = keys.get(session, ch, 1)
        assert keys.cached(WS)
    # The channel key opens with the workspace key, not with the KEK.
    with pytest.raises(crypto.KeyError_):
        crypto.unwrap(crypto.new_data_key(), found[0].wrapped or b"")
    with Session(engine) as session, session.begin():  # another replica shreds the workspace
        store.delete_workspace_key(session, WS)
        store.destroy_keys(session, ch.id, T0)
        store.record_closure(session, WS, T0)
        store.mark_workspace_shredded(session, WS, T0)
    with Session(engine) as session:
        ticks.now = 4.9
        assert keys.get(session, ch, 1) == data_key  # within the bound: still the cached key
        ticks.now = 5.1
        with pytest.raises(crypto.Shredded):
            keys.get(session, ch, 1)
    assert not keys.cached(WS)


def test_a_shredded_workspace_takes_no_new_key() -> None:
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())))
    ch = _channel()
    with Session(engine) as session, session.begin():
        store.insert_channel(session, ch)
        store.record_closure(session, WS, T0)
        store.mark_workspace_shredded(session, WS, T0)
        with pytest.raises(crypto.Shredded):
            keys.create(session, ch, 1, T0)


def test_the_attachment_list_is_sealed() -> None:
    """Finding #7: names, media types, sizes and digests are sealed like the body."""
    from services.messaging.content import Content

    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())))
    content = Content(keys, blob_dir=__import__("pathlib").Path("/nonexistent"))
    ch = _channel()
    files = [domain.NewAttachment("operation-nightjar.pdf", "application/pdf", b"the plan")]
    metas = domain.describe(files, message_id="m", key_version=1)
    with Session(engine) as session, session.begin():
        store.insert_channel(session, ch)
        keys.create(session, ch, 1, T0)
        sealed = content.seal_attachments(session, ch, "m", metas)
        assert b"nightjar" not in sealed and metas[0].sha256.encode() not in sealed
        msg = domain.new_message(
            ch, message_id="m", sender=Actor("u1", "u1", "NL"), sealed_body=content.seal_body(session, ch, "m", 1, "x"),
            sealed_attachments=sealed, system=False, now=T0,
        )  # fmt: skip
        assert content.open(session, ch, msg).attachments == metas


def test_the_messaging_database_overwrites_what_it_deletes(tmp_path: Any) -> None:
    """Finding #7 (b): SQLite's secure_delete is on for every connection of the messaging database, even
    where the library's default is off (this build's default is on; the test turns it off first)."""
    from sqlalchemy import event

    from jitlib.db import Database

    database = Database(f"sqlite:///{tmp_path / 'm.db'}")

    @event.listens_for(database.engine, "connect")
    def _library_default_off(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=OFF")

    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 0
    sealing.enable_secure_delete(database.engine)
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    database.dispose()


def test_keys_not_confirmed_lately_are_dropped_from_memory() -> None:
    """Finding #7 (e): a replica that missed a shred's event does not keep the keys in memory for good."""
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    ticks = Ticks()
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())), recheck_seconds=5.0, monotonic=ticks)
    ch = _channel()
    with Session(engine) as session, session.begin():
        store.insert_channel(session, ch)
        keys.create(session, ch, 1, T0)
        keys.get(session, ch, 1)
    keys.drop_stale()
    assert keys.cached(WS)
    ticks.now = 6.0
    keys.drop_stale()
    assert not keys.cached(WS)


# -- review 37: what a workspace's shred leaves -----------------------------------------------------------


NL = Actor("u-nl", "anna", "NL")


class _NoDirectory:
    def get(self, _workspace_id: str) -> None:
        return None


@dataclass
class _Rt:
    """What ``Channels`` uses of the ``Runtime``: the federation, the relay's sealer (the KEK), the directory."""

    relay: Any
    federation: Federation | None = None
    workspaces: _NoDirectory = field(default_factory=_NoDirectory)
    tables: Any = store.RUNTIME

    def members_of(self, record: Any) -> frozenset[str]:
        return frozenset(record.parties)


@dataclass
class _Node:
    database: Database
    channels: Channels
    ring: crypto.KekRing

    def session(self) -> Session:
        return Session(self.database.engine, info=self.database.info)

    def shred(self, workspace_id: str = WS) -> dict[str, int]:
        """The workspace shredded; what its certificate's counts gain from it (``sealing.NEVER_PUBLISHED``)."""
        counts: dict[str, int] = {}
        with self.session() as session, session.begin():
            store.record_closure(session, workspace_id, T0)
            self.channels.shred_workspace(UnitOfWork(session, store.RUNTIME, SYSTEM), workspace_id, T0, counts)
        return counts

    def opened_payloads(self) -> list[bytes]:
        """Every outbox payload and dead letter, opened as the node's KEK opens them (None: it does not)."""
        ob, dl = store.RUNTIME.outbox, store.RUNTIME.dead_letters
        out = []
        with self.session() as session:
            for row in session.execute(select(ob.c.id, ob.c.subject, ob.c.payload)).all():
                if row.subject.startswith("jit.peers."):
                    out.append(crypto.KekSealer(self.ring).open(row.payload, row.id))
                else:
                    out.append(sealing.open_payload(session, row.payload, row.id) or b"")
            for d in session.execute(select(dl)).all():
                name = sealing.dead_letter_name(d.consumer, d.event_id, d.subject)
                out.append(sealing.open_payload(session, d.payload, name) or b"" if d.payload else b"")
        return out


@pytest.fixture
def node(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 'messaging.db'}")
    store.Base.metadata.create_all(database.engine)
    ring = crypto.KekRing([crypto.Kek(crypto.new_data_key())])
    sealing.install(database.info, store.Base.metadata, ring)
    sealing.enable_secure_delete(database.engine)
    rt = _Rt(relay=SimpleNamespace(sealer=crypto.KekSealer(ring)), federation=Federation.parse("NL", "DE"))
    channels = Channels(rt, Content(ChannelKeys(crypto.KeyRing(ring)), tmp_path / "blobs"))  # type: ignore[arg-type]
    yield _Node(database, channels, ring)
    database.dispose()


def _open_restricted(
    node: _Node, title: str = "t", workspace_id: str = WS, request_id: str | None = None
) -> domain.Channel:
    ch = domain.new_channel(
        channel_id=str(uuid.uuid4()), workspace_id=workspace_id, title=title, opener=NL, members=["DE"], now=T0
    )
    with node.session() as session, session.begin():
        node.channels.insert(session, ch, request_id=request_id, digest="d" if request_id else None)
    return ch


def _post(node: _Node, ch: domain.Channel, text: str) -> None:
    with node.session() as session, session.begin():
        node.channels.post(
            UnitOfWork(session, store.RUNTIME, SYSTEM), ch.id, sender=NL, text=text, files=[],
            request_id=str(uuid.uuid4()), digest="", now=T0,
        )  # fmt: skip


def test_a_message_sent_to_peers_is_gone_from_the_outbox_once_its_workspace_is_shredded(node: _Node) -> None:
    """On a federation the owner's outbox row of each message for peers holds its text, sealed by the KEK
    (``Channels._to_peers``): the shred deletes it, and nothing of the workspace opens with the KEK after.
    Another workspace's rows stay."""
    secret, other = "the suspect's new address is Kerkstraat 1", "the other case's text"
    _post(node, _open_restricted(node), secret)
    _post(node, _open_restricted(node, workspace_id="jit-other"), other)
    assert any(secret.encode() in p for p in node.opened_payloads())
    with node.session() as session:
        ob = store.RUNTIME.outbox
        unsent = session.execute(
            select(func.count()).select_from(ob).where(ob.c.workspace_id == WS, ob.c.published_at.is_(None))
        ).scalar()
    assert unsent
    # No relay ran: the workspace's events were never published, and the certificate says how many.
    assert node.shred() == {sealing.NEVER_PUBLISHED: unsent}
    opened = node.opened_payloads()
    assert not [p for p in opened if secret.encode() in p], "the shred left the text readable with the KEK"
    assert any(other.encode() in p for p in opened)
    with node.session() as session:
        ob = store.RUNTIME.outbox
        subjects = session.execute(select(ob.c.subject).where(ob.c.workspace_id == WS)).scalars().all()
    assert [s.rsplit(".", 1)[-1] for s in subjects] == ["shredded"]  # the shred's own event still goes out


def test_a_dead_lettered_record_event_of_a_shredded_workspace_is_deleted_with_it(node: _Node) -> None:
    """A task's event that messaging's notice consumer refused is kept as a dead letter, sealed (messaging
    has no content keys of ``jitlib.sealing``: by the KEK alone); the workspace's shred deletes it."""
    secret = "Identify the holder of account zz-dead-letter-5512"
    task = tasks_pb2.Task(id=str(uuid.uuid4()), workspace_id=WS, title=secret, origin_jurisdiction="NL")
    env = _envelope("task", task, audience=["NL"], record_id=task.id)

    def refuse(_session: Session, _env: Envelope) -> None:
        raise PoisonMessage("refused")

    consumer = EventConsumer(
        None,  # type: ignore[arg-type]
        node.database,
        store.RUNTIME,
        durable="tasks-notices",
        stream=None,  # type: ignore[arg-type]
        filter_subject="jit.tasks.>",
        handler=refuse,
    )
    refused = DeliveredMsg(env, "jit.tasks.NL.created")
    asyncio.run(consumer.process(refused))  # type: ignore[arg-type]
    assert refused.outcome == "term"  # set aside, never redelivered
    assert any(secret.encode() in p for p in node.opened_payloads())
    node.shred()
    assert not [p for p in node.opened_payloads() if secret.encode() in p]
    # One refused after the shred (a late redelivery) keeps nothing of it.
    with node.session() as session, session.begin():
        retention_sweep.write_certificate(session, store.RUNTIME, _certificate())
    later = _envelope("task", task, audience=["NL"], record_id=task.id, version=2)
    late = DeliveredMsg(later, "jit.tasks.NL.changed")
    asyncio.run(consumer.process(late))  # type: ignore[arg-type]
    assert late.outcome == "term"
    with node.session() as session:
        dl = store.RUNTIME.dead_letters
        assert session.execute(select(dl.c.payload).where(dl.c.event_id == later.id)).scalar() == b""
    assert not [p for p in node.opened_payloads() if secret.encode() in p]


def _certificate() -> retention.Certificate:
    """The certificate messaging's shredder writes with the shred (``notices.shredder``)."""
    return retention.Certificate(
        id=retention_sweep.certificate_id("messaging", WS), service="messaging", workspace_id=WS, counts={},
        key_ids=(), destroyed_at=T0, by="system", why="test", audit_head=retention.Head("messaging", 0, ""),
    )  # fmt: skip


def test_a_shredded_restricted_channels_title_is_gone_from_the_table_and_from_its_answers(node: _Node) -> None:
    """A restricted channel's title is what its opener wrote (case content): the shred erases it, so it is
    neither in the channels table nor in GetChannel's and ListChannels' answers. Another workspace's stays."""
    from services.messaging.mapping import channel_to_pb

    secret = "NL-DE: Jan Jansen's second phone +31 6 1234 5678"
    ch = _open_restricted(node, secret)
    other = _open_restricted(node, "another case's channel", workspace_id="jit-other")
    node.shred()
    with node.session() as session:
        after, kept = node.channels.load(session, ch.id), node.channels.load(session, other.id)
        listed = node.channels.list_visible(session, NL_SCOPE, frozenset({WS}))
        row = session.execute(select(store.ChannelRow).where(store.ChannelRow.id == ch.id)).scalar_one()
    assert after is not None and after.shredded_at is not None and kept is not None
    assert kept.title == "another case's channel"
    assert channel_to_pb(after).title == sealing.DESTROYED and [c.title for c in listed] == [sealing.DESTROYED]
    assert (row.title, row.sealed_title) == (sealing.DESTROYED, None)  # its ciphertext goes with its keys


NL_SCOPE = VisibilityScope(workspaces=frozenset({WS, "jit-other"}), jurisdiction="NL", may_read_content=True)


def _raw_cells(node: _Node) -> list[Any]:
    """Every cell of the channels table, as a reader of the database file gets it (no keys, no ORM)."""
    with node.database.engine.connect() as conn:
        return [cell for row in conn.exec_driver_sql("SELECT * FROM channels").all() for cell in row]


def _in_files(node: _Node, secret: str) -> bool:
    """Whether ``secret`` is anywhere in the database's files, its write-ahead log checkpointed first."""
    path = Path(str(node.database.engine.url.database))
    with node.database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    files = [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return any(secret.encode() in p.read_bytes() for p in files)


def test_a_restricted_channels_title_is_sealed_at_rest_and_answered_to_its_parties(node: _Node) -> None:
    """Review 37 #2: a restricted channel's title is what its opener wrote; no reader of the database file
    finds it (sealed under the channel's key, bound to the channel), while GetChannel, ListChannels, a
    replay of CreateChannel, RotateChannelKey and the copy for other nodes still answer it. A record
    thread's title ("task <id>") and the workspace channel's (the workspace's name) are no user's words:
    in clear."""
    from services.messaging.mapping import channel_to_pb

    secret = "NL-DE: Jan Jansen's second phone +31 6 1234 5678"
    ch = _open_restricted(node, secret, request_id="r-1")
    thread = domain.record_thread(
        domain.task_replica(
            id=str(uuid.uuid4()), workspace_id=WS, origin_jurisdiction="NL", assignee="DE", restricted=True,
            shared_with=[], version=1,
        ),
        channel_id=str(uuid.uuid4()), now=T0,
    )  # fmt: skip
    workspace = domain.workspace_channel(
        channel_id=str(uuid.uuid4()), workspace_id=WS, name="JIT demo", lead="NL", now=T0
    )
    with node.session() as session, session.begin():
        node.channels.insert(session, thread)
        node.channels.insert(session, workspace)
    cells = _raw_cells(node)
    assert not [c for c in cells if secret in str(c) or (isinstance(c, bytes) and secret.encode() in c)]
    assert thread.title in cells and "JIT demo" in cells
    assert _in_files(node, "JIT demo")  # what is in clear shows in the file ...
    assert not _in_files(node, secret), "the title is in clear in the database file"  # ... the title does not

    with node.session() as session:
        got = node.channels.load(session, ch.id)
        listed = node.channels.list_visible(session, NL_SCOPE, frozenset({WS}))
        replay = node.channels.find_by_request(session, NL.user_id, "r-1")
        held = store.get_channel(session, ch.id)
    assert got is not None and channel_to_pb(got).title == secret
    assert {c.id: channel_to_pb(c).title for c in listed} == {
        ch.id: secret,
        thread.id: thread.title,
        workspace.id: "JIT demo",
    }
    assert replay is not None and replay.record.title == secret
    assert held is not None and held.title == "" and held.sealed_title
    with pytest.raises(ValueError, match="sealed"):  # a read that forgot to open it is never answered ""
        channel_to_pb(held)
    with node.session() as session, session.begin():  # a new key version: the title keeps its own
        rotated = node.channels.rotate_key(UnitOfWork(session, store.RUNTIME, SYSTEM), ch.id, T0)
    assert rotated.key_version == 2 and channel_to_pb(rotated).title == secret
    # A post goes to DE's node with its channel, the title opened for it (sealed there again).
    _post(node, ch, "hello")
    replicated = []
    for payload in node.opened_payloads():
        env = Envelope.FromString(payload)
        state = messaging_pb2.ReplicatedMessage()
        if env.state.Unpack(state):
            replicated.append(state.channel.title)
    assert replicated == [secret]
    assert not _in_files(node, secret)


def test_titles_written_in_clear_before_they_were_sealed_are_sealed_at_start(tmp_path: Path) -> None:
    """A database of the version before migration 0008 holds restricted channels' titles in clear: after the
    migration, the start's backfill (``jitlib.sealing.backfill_all``, with the step ``app`` declares) seals
    each under its channel's key, and erases the title of a channel shredded before shreds erased titles.
    A record thread's title stays as it is."""
    from services.messaging.app import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'messaging.db'}"
    jitdb.migrate(MIGRATIONS, url, revision="0007")
    database = Database(url)
    ring = crypto.KekRing([crypto.Kek(crypto.new_data_key())])
    sealing.install(database.info, store.Base.metadata, ring)
    keys = ChannelKeys(crypto.KeyRing(ring))
    live, gone = "NL-DE: the informant's name is Piet", "NL-DE: a shredded case's channel"
    written = [
        (str(uuid.uuid4()), WS, "RESTRICTED", live),
        (str(uuid.uuid4()), "jit-old", "RESTRICTED", gone),
        (str(uuid.uuid4()), WS, "RECORD", "task 1234"),
    ]
    with Session(database.engine, info=database.info) as session, session.begin():
        for channel_id, workspace_id, kind, title in written:  # as the version before 0008 wrote them
            session.execute(
                text(
                    "INSERT INTO channels (id, workspace_id, kind, title, origin_jurisdiction, members, key_version,"
                    " next_seq, created_by_id, created_at, restricted) VALUES (:id, :ws, :kind, :title, 'NL', 'DE',"
                    " 1, 1, 'u-nl', :at, 1)"
                ),
                {"id": channel_id, "ws": workspace_id, "kind": kind, "title": title, "at": T0},
            )
            stored = domain.Channel(
                id=channel_id, workspace_id=workspace_id, kind=kind, title=title, origin_jurisdiction="NL",
                members=("DE",), record=None, key_version=1, next_seq=1, created_by_id="u-nl", created_at=T0,
            )  # fmt: skip
            keys.create(session, stored, 1, T0)
        old_id = written[1][0]
        store.record_closure(session, "jit-old", T0)  # the old version's shred: keys gone, title kept
        keys.destroy_workspace(session, "jit-old", [old_id], T0)
        store.mark_shredded(session, old_id, T0)
        store.mark_workspace_shredded(session, "jit-old", T0)
    jitdb.migrate(MIGRATIONS, url)
    assert sealing.backfill_all(database.write_sync, store.Base.metadata) == 2
    assert sealing.backfill_all(database.write_sync, store.Base.metadata) == 0
    with database.engine.connect() as conn:
        cells = [c for row in conn.exec_driver_sql("SELECT * FROM channels").all() for c in row]
    assert not [c for c in cells if live in str(c) or gone in str(c)] and "task 1234" in cells
    channels = Channels(_Rt(relay=None), Content(ChannelKeys(crypto.KeyRing(ring)), tmp_path / "blobs"))  # type: ignore[arg-type]
    with Session(database.engine, info=database.info) as session:
        titles = [(c.title if (c := channels.load(session, w[0])) else None) for w in written]
    assert titles == [live, sealing.DESTROYED, "task 1234"]
    database.dispose()


ROTATE = "/jit.messaging.v1.MessagingService/RotateChannelKey"


def _issuer(user_id: str = "u-nl") -> Principal:
    return Principal(
        user_id=user_id, username=user_id, jurisdiction="NL", roles=frozenset({"prosecutor"}),
        workspaces=frozenset({WS}),
    )  # fmt: skip


def _rotate(node: _Node, who: Principal, channel_id: str, expected: int) -> tuple[domain.Channel, list[str]]:
    """A RotateChannelKey call served as the server's call entry binds it (its method and request): the
    channel it answers and its audit entries' outcomes."""
    request = messaging_pb2.RotateChannelKeyRequest(channel_id=channel_id, expected_key_version=expected)
    tokens = (current_method.set(ROTATE), changes.current_request.set(request))
    try:
        with node.session() as session, session.begin():
            uow = UnitOfWork(session, store.RUNTIME, who, call_key=b"a node's call key")
            rotated = node.channels.rotate_key(uow, channel_id, T0, expected)
    finally:
        changes.current_request.reset(tokens[1])
        current_method.reset(tokens[0])
    return rotated, [a.outcome for a in uow.audits]


@pytest.mark.parametrize("expected", [0, 1])
def test_a_rotation_sent_again_after_its_answer_was_lost_is_replayed_not_rotated_again(
    node: _Node, expected: int
) -> None:
    """The retry of the rotation that made the key version (the same caller and request), from 0 ("whatever it
    is now") or from the version before, is answered with the channel as it is: no second key version, its
    audit entry a replay. Another caller's rotation from 0 still rotates; after that, the first caller's retry
    from 0 is a new rotation (something rotated since), and from the old version stale."""
    ch = _open_restricted(node, "NL-DE: rotations")
    first, outcomes = _rotate(node, _issuer(), ch.id, expected)
    assert (first.key_version, outcomes) == (2, ["ok"])
    again, outcomes = _rotate(node, _issuer(), ch.id, expected)
    assert (again.key_version, again.title, outcomes) == (2, "NL-DE: rotations", ["replayed"])
    with node.session() as session:
        versions = select(store.ChannelKey.version).where(store.ChannelKey.channel_id == ch.id)
        assert sorted(session.scalars(versions)) == [1, 2]
    other, outcomes = _rotate(node, _issuer("u-nl-2"), ch.id, 0)
    assert (other.key_version, outcomes) == (3, ["ok"])
    if expected:
        with pytest.raises(Aborted) as stale:
            _rotate(node, _issuer(), ch.id, expected)
        assert stale.value.reason == "KEY_VERSION_MISMATCH"
    else:
        assert _rotate(node, _issuer(), ch.id, expected)[0].key_version == 4
