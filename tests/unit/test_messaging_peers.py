"""Messages of other nodes' channels (``services.messaging.peers``): a peer moves forward only the
messages of the channels it owns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from jit.common.v1 import common_pb2
from jit.messaging.v1 import messaging_pb2 as pb
from jitlib import crypto
from jitlib.actors import Actor
from jitlib.bus import PoisonMessage
from services.messaging import domain, store
from services.messaging.content import Content
from services.messaging.keys import ChannelKeys
from services.messaging.peers import apply_message, hold_channel

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NL_USER = Actor("u-nl", "nl-prosecutor", "NL")
DE_USER = Actor("u-de", "de-prosecutor", "DE")
NL_CHANNEL = "01935c4e-0000-7000-8000-0000000000c1"
DE_CHANNEL = "01935c4e-0000-7000-8000-0000000000c2"
NL_MESSAGE = "01935c4e-0000-7000-8000-0000000000a1"
TEXT = "the suspect's address is ..."


@dataclass
class Node:
    """NL's messaging store and what ``peers`` needs of ``Channels`` (its content and its insert)."""

    engine: object
    keys: ChannelKeys
    content: Content

    def insert(self, session: Session, ch: domain.Channel) -> None:
        store.insert_channel(session, ch)
        self.keys.create(session, ch, ch.key_version, ch.created_at)


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
    with Session(node.engine) as s, s.begin():  # type: ignore[call-overload]
        ch = hold_channel(node, s, _de_channel())  # type: ignore[arg-type]
        return apply_message(node, s, ch, m)  # type: ignore[arg-type]


def _held(node: Node) -> tuple[store.MessageInChannel, str]:
    with Session(node.engine) as s:  # type: ignore[call-overload]
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
