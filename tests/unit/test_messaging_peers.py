"""Messages of other nodes' channels (``services.messaging.peers``): a peer moves forward only the
messages of the channels it owns; a record its owner withdrew from this node's country takes its thread
away from this node."""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf import any_pb2
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.messaging.v1 import messaging_pb2 as pb
from jit.tasks.v1 import tasks_pb2
from jitlib import crypto, envelopes, joining
from jitlib.actors import Actor
from jitlib.bus import Handler, PoisonMessage
from jitlib.clock import ManualClock
from jitlib.federation import Federation
from jitlib.policy import CHANNEL_RULES, Decision, Operation, decide
from jitlib.principal import Principal
from services.messaging import domain, store
from services.messaging.channels import Channels
from services.messaging.content import Content
from services.messaging.keys import ChannelKeys
from services.messaging.mapping import channel_to_pb, replicated_message_pb
from services.messaging.notices import notice_handler
from services.messaging.peers import apply_message, hold_channel, message_handler, resends

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NL_USER = Actor("u-nl", "nl-prosecutor", "NL")
DE_USER = Actor("u-de", "de-prosecutor", "DE")
NL_CHANNEL = "01935c4e-0000-7000-8000-0000000000c1"
DE_CHANNEL = "01935c4e-0000-7000-8000-0000000000c2"
NL_MESSAGE = "01935c4e-0000-7000-8000-0000000000a1"
NL_POST = "01935c4e-0000-7000-8000-0000000000a2"
TEXT = "the suspect's address is ..."


@dataclass
class Node:
    """NL's messaging store and what ``peers`` needs of ``Channels`` (its content and its insert)."""

    engine: Engine
    keys: ChannelKeys
    content: Content

    def insert(self, session: Session, ch: domain.Channel) -> None:
        """As ``Channels.insert`` stores it: a restricted channel's title sealed under its first key."""
        Channels.insert(self, session, ch)  # type: ignore[arg-type]


@pytest.fixture
def nl_node(tmp_path: Path) -> Iterator[Node]:
    """NL's node: NL's own channel with DE, and one message NL's prosecutor wrote in it."""
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())))
    node = Node(engine, keys, Content(keys, tmp_path))
    ch = domain.new_channel(
        channel_id=NL_CHANNEL, workspace_id="jit-demo", title="NL-DE", opener=NL_USER, members=["DE"], now=T0
    )
    with Session(engine) as s, s.begin():
        node.insert(s, ch)
        body = node.content.seal_body(s, ch, NL_MESSAGE, 1, TEXT)
        m = domain.new_message(
            ch, message_id=NL_MESSAGE, sender=NL_USER, sealed_body=body, sealed_attachments=b"", system=False, now=T0
        )
        store.insert_message(s, m, request_id="r1", request_digest="d")
    yield node
    engine.dispose()


def _de_channel() -> domain.Channel:
    return domain.new_channel(
        channel_id=DE_CHANNEL, workspace_id="jit-demo", title="DE-NL", opener=DE_USER, members=["NL"], now=T0
    )


def _revision(channel_id: str, body: str, *, deleted: bool = False) -> pb.Message:
    m = pb.Message(
        id=NL_MESSAGE,
        channel_id=channel_id,
        seq=1,
        sender=common_pb2.Actor(user_id="u-de", jurisdiction="DE"),
        body=body,
        revision=2,
        deleted=deleted,
    )
    m.posted_at.FromDatetime(T0)
    return m


def _apply(node: Node, m: pb.Message) -> bool:
    with Session(node.engine) as s, s.begin():
        ch = hold_channel(node, s, _de_channel())  # type: ignore[arg-type]
        return apply_message(node, s, ch, m)  # type: ignore[arg-type]


def _held(node: Node) -> tuple[store.MessageInChannel, str]:
    with Session(node.engine) as s:
        held = store.get_message(s, NL_MESSAGE)
        assert held is not None
        return held, node.content.open(s, held.channel, held.message).body


@pytest.mark.parametrize(("body", "deleted"), [("", True), ("DE's words in NL's message", False)])
def test_a_peer_cannot_delete_or_rewrite_a_message_of_a_channel_it_does_not_own(
    nl_node: Node, body: str, deleted: bool
) -> None:
    """DE's node holds the replica of NL's message, so it knows its id; it sends it as a message of a
    channel DE owns (so its envelope passes ``check_inbound``): NL's node refuses it and keeps its own."""
    with pytest.raises(PoisonMessage, match="never changes channel"):
        _apply(nl_node, _revision(DE_CHANNEL, body, deleted=deleted))
    held, text = _held(nl_node)
    assert held.channel.id == NL_CHANNEL
    assert (held.message.revision, held.message.deleted, text) == (1, False, TEXT)


def test_a_message_that_names_another_channel_than_it_came_with_is_refused(nl_node: Node) -> None:
    with pytest.raises(PoisonMessage, match="another channel"):
        _apply(nl_node, _revision(NL_CHANNEL, "DE's words"))
    held, text = _held(nl_node)
    assert (held.message.revision, text) == (1, TEXT)


# -- a record withdrawn from this node's country: its thread too ------------------------------------------

TASK_ID = "01935c4e-0000-7000-8000-000000000001"
THREAD = "01935c4e-0000-7000-8000-0000000000d1"
DE_READER = Principal("u-de2", "de-prosecutor", "DE", frozenset({"prosecutor"}), frozenset({"jit-demo"}))


def _task_event(version: int, assignee: str) -> Envelope:
    task = tasks_pb2.Task(
        id=TASK_ID,
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        assignee_jurisdiction=assignee,
        visibility=common_pb2.VISIBILITY_RESTRICTED,
        version=version,
    )
    packed = any_pb2.Any()
    packed.Pack(task)
    return Envelope(
        id=f"e-{version}",
        type="jit.tasks.v1.TaskAssigned",
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        audience=sorted({"NL", assignee}),
        aggregate_type="task",
        aggregate_id=TASK_ID,
        aggregate_version=version,
        state=packed,
    )


@pytest.fixture
def de_node(tmp_path: Path) -> Iterator[tuple[Node, Channels, Handler]]:
    """DE's messaging: NL's restricted task for DE known from its event, its thread (NL's channel) held
    here with one message of NL's prosecutor; the handler of the task events DE's node takes in."""
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())))
    node = Node(engine, keys, Content(keys, tmp_path))
    rt = types.SimpleNamespace(
        federation=Federation.parse("DE", "NL,IE"),
        clock=ManualClock(T0),
        tables=store.RUNTIME,
        workspaces=types.SimpleNamespace(get=lambda _ws: None, joins=None),
    )
    channels = Channels(rt, node.content)  # type: ignore[arg-type]
    handler = notice_handler(rt, channels, types.SimpleNamespace(notify=lambda _id: None), notices=False)  # type: ignore[arg-type]
    with Session(engine) as s, s.begin():
        handler(s, _task_event(1, "DE"))
        replica = store.get_replica(s, "task", TASK_ID)
        assert replica is not None
        thread = domain.record_thread(replica, channel_id=THREAD, now=T0)
        channels.insert(s, thread)
        body = node.content.seal_body(s, thread, NL_MESSAGE, 1, TEXT)
        m = domain.new_message(
            thread,
            message_id=NL_MESSAGE,
            sender=NL_USER,
            sealed_body=body,
            sealed_attachments=b"",
            system=False,
            now=T0,
        )
        store.insert_message(s, m, request_id=NL_MESSAGE, request_digest="")
    yield node, channels, handler
    engine.dispose()


def _thread(node: Node) -> tuple[domain.Channel, domain.Opened]:
    with Session(node.engine) as s:
        held = store.get_message(s, NL_MESSAGE)
        assert held is not None
        return held.channel, node.content.open(s, held.channel, held.message)


def test_a_task_withdrawn_from_de_takes_its_thread_away_from_des_node(de_node: tuple[Node, Channels, Handler]) -> None:
    """NL reassigned the task to IE: DE's node gets the withdrawal; the thread it held is shredded there and
    no longer shown to DE's users."""
    node, _, handler = de_node
    thread, opened = _thread(node)
    assert opened.body == TEXT
    assert decide(DE_READER, Operation.READ, CHANNEL_RULES, record=thread.access()) is Decision.ALLOW

    reassigned = _task_event(2, "IE")
    reassigned.withdrawn_from.append("DE")
    with Session(node.engine) as s, s.begin():
        handler(s, envelopes.withdrawal(reassigned, "DE"))
    thread, opened = _thread(node)
    assert opened.shredded and opened.body == ""
    assert decide(DE_READER, Operation.READ, CHANNEL_RULES, record=thread.access()) is not Decision.ALLOW
    with Session(node.engine) as s:
        replica = store.get_replica(s, "task", TASK_ID)
    assert replica is not None and replica.version == 2 and replica.parties == {"NL"}

    # The task's earlier event, redelivered late, does not give the thread back.
    with Session(node.engine) as s, s.begin():
        handler(s, _task_event(1, "DE"))
        replica = store.get_replica(s, "task", TASK_ID)
    assert replica is not None and replica.version == 2


def test_a_restricted_channel_from_another_node_is_held_with_its_title_sealed_under_this_nodes_keys(
    de_node: tuple[Node, Channels, Handler],
) -> None:
    """NL's node sends a post of its restricted channel with DE, the channel's title in the event's state:
    DE's node holds the channel with the title sealed under its own key for the channel, as it seals the
    message's text, and answers it to its users."""
    node, channels, _ = de_node
    secret = "NL-DE: Jan Jansen's second phone +31 6 1234 5678"
    ch = domain.new_channel(
        channel_id=NL_CHANNEL, workspace_id="jit-demo", title=secret, opener=NL_USER, members=["DE"], now=T0
    )
    m = domain.new_message(
        ch, message_id=NL_POST, sender=NL_USER, sealed_body=b"", sealed_attachments=b"", system=False, now=T0
    )
    state = replicated_message_pb(ch, m, TEXT)
    packed = any_pb2.Any()
    packed.Pack(state)
    env = Envelope(
        id="e-post", workspace_id="jit-demo", origin_jurisdiction="NL", aggregate_type="message",
        aggregate_id=NL_POST, aggregate_version=1, state=packed,
    )  # fmt: skip
    loop = types.SimpleNamespace(call_soon_threadsafe=lambda *_: None)
    live = types.SimpleNamespace(notify=lambda _id: None)
    handle = message_handler(None, channels, live, loop)  # type: ignore[arg-type]
    with Session(node.engine) as s, s.begin():
        handle(s, env)
    with node.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT * FROM channels WHERE id = ?", (NL_CHANNEL,)).one()
    assert not [c for c in row if secret in str(c) or (isinstance(c, bytes) and secret.encode() in c)]
    with Session(node.engine) as s:
        held = channels.load(s, NL_CHANNEL)
        message = store.get_message(s, NL_POST)
        assert message is not None
        text = node.content.open(s, message.channel, message.message).body
    assert held is not None and channel_to_pb(held).title == secret and text == TEXT


# -- a country that joins a workspace: the messages of the channels this node owns there ---------------

T1 = datetime(2026, 3, 2, tzinfo=UTC)
W_CHANNEL = "01935c4e-0000-7000-8000-0000000000e1"  # NL's workspace channel
R_CHANNEL = "01935c4e-0000-7000-8000-0000000000e2"  # NL's restricted channel with DE
S_CHANNEL = "01935c4e-0000-7000-8000-0000000000e3"  # NL's, shredded
MEMBERS = frozenset({"NL", "DE", "IE"})


def _post(node: Node, s: Session, ch: domain.Channel, seq: int, text: str) -> domain.Message:
    message_id = f"01935c4e-0000-7000-8000-0000000{ch.id[-2:]}{seq:03d}"
    m = domain.new_message(
        replace(ch, next_seq=seq),
        message_id=message_id,
        sender=NL_USER,
        sealed_body=node.content.seal_body(s, ch, message_id, 1, text),
        sealed_attachments=b"",
        system=False,
        now=T0,
    )
    store.insert_message(s, m, request_id=message_id, request_digest="")
    return m


def _revise(node: Node, s: Session, ch: domain.Channel, m: domain.Message, text: str | None) -> None:
    sealed = node.content.seal_body(s, ch, m.id, m.revision + 1, text or "")
    after, _ = domain.revise(m, ch, editor=NL_USER, sealed_body=sealed, deleted=text is None, now=T1)
    assert store.update_if_revision(s, after, m.revision)


@pytest.fixture
def owner(nl_node: Node) -> Node:
    """NL's node (``nl_node``: NL's channel with DE and its message) with more of its own channels in
    jit-demo: the workspace channel (a message as posted, one edited, one deleted on T1), a restricted one
    with DE (one message) and a shredded one (one message); and DE's channel with a message, held here."""
    ws = domain.workspace_channel(channel_id=W_CHANNEL, workspace_id="jit-demo", name="JIT", lead="NL", now=T0)
    restricted = replace(_de_channel(), id=R_CHANNEL, origin_jurisdiction="NL", members=("DE",))
    shredded = replace(restricted, id=S_CHANNEL)
    with Session(nl_node.engine) as s, s.begin():
        for ch in (ws, restricted, shredded, _de_channel()):
            nl_node.insert(s, ch)
        _post(nl_node, s, _de_channel(), 1, "DE's, held here")
        _post(nl_node, s, ws, 1, "as posted")
        _revise(nl_node, s, ws, _post(nl_node, s, ws, 2, "a first draft"), "as corrected")
        _revise(nl_node, s, ws, _post(nl_node, s, ws, 3, "posted by mistake"), None)
        _post(nl_node, s, restricted, 1, "NL to DE only")
        _post(nl_node, s, shredded, 1, "shredded")
        store.mark_shredded(s, S_CHANNEL, T1)
    return nl_node


def _resent(node: Node, changed_since: datetime | None = None) -> list[tuple[str, Envelope]]:
    """What the resend kind makes of NL's channels in jit-demo, read in pages of 2 as ``jitlib.joining``
    walks them (each page after the cursor of the last one's last message)."""
    rt = types.SimpleNamespace(relay=types.SimpleNamespace(sealer=None))
    (kind,) = resends(rt, node)  # type: ignore[arg-type]
    out, after = [], ""
    with Session(node.engine) as s:
        while page := kind.page(s, "jit-demo", "NL", after, changed_since, 2):
            out += [kind.event(s, found, MEMBERS, T1) for found in page]
            after = kind.key(page[-1])
    return out


def _sent(event: Envelope) -> pb.ReplicatedMessage:
    state = pb.ReplicatedMessage()
    assert event.state.Unpack(state)
    return state


def test_a_joined_country_is_sent_each_message_of_the_channels_this_node_owns_as_it_reads_now(owner: Node) -> None:
    sent = _resent(owner)
    # Once each, channel by channel in seq order; not the DE channel's message held here, nor the shredded
    # channel's (its key is destroyed).
    got = [(_sent(e).channel.id, _sent(e).message.seq) for _, e in sent]
    assert got == [(NL_CHANNEL, 1), (W_CHANNEL, 1), (W_CHANNEL, 2), (W_CHANNEL, 3), (R_CHANNEL, 1)]
    by_seq = {(_sent(e).channel.id, _sent(e).message.seq): (subject, e) for subject, e in sent}
    subject, event = by_seq[(W_CHANNEL, 2)]
    assert subject == "jit.peers.messaging.NL.shared" and event.origin_jurisdiction == "NL"
    # The copy the channel's owner sends its peers: the edited message as edited, the deleted one without text.
    assert (_sent(event).message.body, _sent(event).message.revision) == ("as corrected", 2)
    deleted = _sent(by_seq[(W_CHANNEL, 3)][1]).message
    assert deleted.deleted and deleted.body == ""
    assert _sent(by_seq[(W_CHANNEL, 1)][1]).message.body == "as posted"
    # For the channel's audience now: every member for the workspace channel, its parties for a restricted one.
    assert list(event.audience) == ["DE", "IE", "NL"]
    assert list(by_seq[(R_CHANNEL, 1)][1].audience) == ["DE", "NL"]
    # A restricted channel goes with its title as its readers see it (sealed at rest here, sealed there again).
    assert _sent(by_seq[(R_CHANNEL, 1)][1]).channel.title == "DE-NL"


def test_the_second_pass_sends_only_the_messages_posted_or_revised_since(owner: Node) -> None:
    got = [(_sent(e).channel.id, _sent(e).message.seq) for _, e in _resent(owner, changed_since=T1)]
    assert got == [(W_CHANNEL, 2), (W_CHANNEL, 3)]


def test_a_restricted_task_reassigned_to_ie_sends_ie_its_threads_messages_so_far(tmp_path: Path) -> None:
    """On NL's node (the task's and its thread's owner): the task restricted to NL and DE, then reassigned to
    IE. IE's node had nothing of its thread; the reassignment notes IE as a country the workspace's messages
    it may now read go to (``jitlib.joining``, which sends the thread's since its audience names IE now).
    Neither the first event nor a later one that gives IE nothing new notes anything."""
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    keys = ChannelKeys(crypto.KeyRing(crypto.Kek(crypto.new_data_key())))
    clock = ManualClock(T0)
    joins = joining.Joins(
        None,  # type: ignore[arg-type]  # noting needs no database of its own: the handler's session
        store.RUNTIME,
        clock,
        "NL",
        frozenset({"DE", "IE"}),
        [],
        committed=lambda _rows: None,
    )
    directory = types.SimpleNamespace(get=lambda _ws: None, joins=joins)
    rt = types.SimpleNamespace(
        federation=Federation.parse("NL", "DE,IE"),
        clock=clock,
        tables=store.RUNTIME,
        workspaces=directory,
        members_of=lambda record: frozenset({"NL", "DE", "IE"}),
    )
    channels = Channels(rt, Content(keys, tmp_path))  # type: ignore[arg-type]
    handler = notice_handler(rt, channels, types.SimpleNamespace(notify=lambda _id: None), notices=False)  # type: ignore[arg-type]

    def noted() -> list[str]:
        with Session(engine) as s:
            return list(s.scalars(select(store.RUNTIME.workspace_joins.c.countries)))

    for version, assignee in ((1, "DE"), (2, "IE")):
        with Session(engine) as s, s.begin():
            handler(s, _task_event(version, assignee))
    assert noted() == ["IE", "IE"]  # the first pass and the second
    with Session(engine) as s:
        since = s.scalars(select(store.RUNTIME.workspace_joins.c.changed_since)).all()
    # Both send every message: a copy that overtakes the record's event on a node the record is given back
    # to is dropped there (its thread is held again once the record names its country), so the second
    # pass sends it again, not only what changed.
    assert since == [None, None]
    with Session(engine) as s, s.begin():
        handler(s, _task_event(3, "IE"))
    assert noted() == ["IE", "IE"]
    engine.dispose()


def test_a_thread_withdrawn_from_de_comes_back_only_with_its_record(de_node: tuple[Node, Channels, Handler]) -> None:
    """After the withdrawal, a copy of the thread's message (sent before it, taken in after it) does not
    bring the thread back to DE's node; once the task is given back to DE (a newer event naming DE), the
    owner's copies hold it again there, readable, under new keys of DE's node."""
    node, channels, handler = de_node
    thread, _ = _thread(node)
    with Session(node.engine) as s:
        held = store.get_message(s, NL_MESSAGE)
    assert held is not None
    copy = any_pb2.Any()
    copy.Pack(replicated_message_pb(thread, held.message, TEXT))
    envelope = Envelope(
        id="e-copy", workspace_id="jit-demo", origin_jurisdiction="NL", aggregate_type="message",
        aggregate_id=NL_MESSAGE, aggregate_version=1, state=copy,
    )  # fmt: skip
    rt = types.SimpleNamespace(
        federation=Federation.parse("DE", "NL,IE"), members_of=lambda _record: frozenset({"NL", "DE", "IE"})
    )
    loop = types.SimpleNamespace(call_soon_threadsafe=lambda *_: None)
    copies = message_handler(rt, channels, types.SimpleNamespace(notify=lambda _id: None), loop)  # type: ignore[arg-type]

    reassigned = _task_event(2, "IE")
    reassigned.withdrawn_from.append("DE")
    with Session(node.engine) as s, s.begin():
        handler(s, envelopes.withdrawal(reassigned, "DE"))
    with Session(node.engine) as s, s.begin():
        copies(s, envelope)
    _, opened = _thread(node)
    assert opened.shredded and opened.body == ""

    with Session(node.engine) as s, s.begin():
        handler(s, _task_event(3, "DE"))
    with Session(node.engine) as s, s.begin():
        copies(s, envelope)
    again, opened = _thread(node)
    assert not opened.shredded and opened.body == TEXT and again.shredded_at is None
