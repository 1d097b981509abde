"""Per-country nodes: what leaves a node, for whom, and how a node takes in what others send it.

A node is the platform of one country (``JIT_NODE_JURISDICTION=NL``). It owns the records whose origin is
its country and is their only writer. Another node receives a record only when that node's country is in
the event's audience, as a read-only replica. The links are NATS, configured in ``jitlib.natsconf``:

- on the owner, the outbox writes one more row per entitled peer, on ``jit.out.<peer>.<subject>``, in the
  same transaction as the change; the relay publishes it into the stream ``JIT_OUT_<OWNER>``;
- each peer's stream ``JIT_IN`` sources from the owner's ``JIT_OUT_<OWNER>`` across JetStream domains,
  only ``jit.out.<peer>.>`` (the hub's account imports name exactly those subjects: the broker, not this
  code, stops IE from reading what NL sends DE), and stores it as ``jit.in.<owner>.<subject>``; the
  receiving server writes the owner's name in, so a peer cannot pass its events off as another's;
- a service applies what arrives through its inbox, once, at the owner's version.

When a link is cut, the owner's stream keeps what is owed and the source resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nats.js.api import ExternalStream, StorageType, StreamConfig, StreamSource, SubjectTransform

from jitlib.jurisdictions import is_jurisdiction

#: The stream a node's peers take in what is sent to them from (one per node, named by its country).
OUT_PREFIX = "jit.out"
IN_PREFIX = "jit.in"
INBOUND_STREAM = "JIT_IN"
#: How long an owner keeps what it sent, for a peer whose link is down (days). Beyond that a peer must
#: be re-seeded; the figure is an operator's choice, documented in the README.
DEFAULT_RETENTION_DAYS = 90
#: How long the broker remembers a message id to drop a republished duplicate (seconds).
DUPLICATE_WINDOW_SECONDS = 24 * 3600.0


def domain(jurisdiction: str) -> str:
    """The JetStream domain of a country's node: its code in lower case (``nl``)."""
    return jurisdiction.lower()


def outbound_stream_name(owner: str) -> str:
    return f"JIT_OUT_{owner.upper()}"


def deliver_prefix(recipient: str, owner: str) -> str:
    """Where the owner's server delivers what ``recipient`` sources from it (``fed.deliver.de.nl``)."""
    return f"fed.deliver.{domain(recipient)}.{domain(owner)}"


@dataclass(frozen=True)
class Federation:
    """This node's country and the countries whose nodes it is linked to."""

    node: str
    peers: frozenset[str]
    retention_days: int = DEFAULT_RETENTION_DAYS

    @classmethod
    def parse(
        cls, node: str, peers: str | Iterable[str], retention_days: int = DEFAULT_RETENTION_DAYS
    ) -> Federation | None:
        """From the settings; ``None`` when no node country is set (one node for every country)."""
        node = node.strip().upper()
        if not node:
            return None
        if not is_jurisdiction(node):
            raise ValueError("node_jurisdiction: write a country code such as NL")
        items = peers.split(",") if isinstance(peers, str) else list(peers)
        codes = {p.strip().upper() for p in items if p.strip()}
        bad = sorted(p for p in codes if not is_jurisdiction(p))
        if bad:
            raise ValueError("federation_peers: write country codes separated by commas, such as DE,IE")
        return cls(node, frozenset(codes - {node}), retention_days)

    def is_owner(self, origin: str) -> bool:
        return origin == self.node

    def recipients(self, audience: Iterable[str]) -> list[str]:
        """The peers an event goes to: those in its audience (need to know), never this node itself."""
        return sorted(set(audience) & self.peers)

    def outbound_stream(self) -> StreamConfig:
        return StreamConfig(
            name=outbound_stream_name(self.node),
            subjects=[f"{OUT_PREFIX}.>"],
            storage=StorageType.FILE,
            max_age=self.retention_days * 86400.0,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )

    def inbound_stream(self) -> StreamConfig:
        """``JIT_IN``: what every peer's node sends this one, each stored under ``jit.in.<peer>.``. Its copies
        age out after the same ``retention_days`` as the outbound stream's: the services hold what they
        took in (replicas, the directory) in their databases, and a peer's record states and message texts
        must not outlive, in clear on this node's stream, what the retention sweep destroys."""
        me = domain(self.node)
        return StreamConfig(
            name=INBOUND_STREAM,
            storage=StorageType.FILE,
            max_age=self.retention_days * 86400.0,
            sources=[
                StreamSource(
                    name=outbound_stream_name(peer),
                    external=ExternalStream(api=f"$JS.{domain(peer)}.API", deliver=deliver_prefix(self.node, peer)),
                    subject_transforms=[
                        SubjectTransform(src=f"{OUT_PREFIX}.{me}.>", dest=f"{IN_PREFIX}.{domain(peer)}.>")
                    ],
                )
                for peer in sorted(self.peers)
            ],
        )

    def streams(self) -> list[StreamConfig]:
        """The outbound stream, and the inbound one when there is a peer to source from."""
        return [self.outbound_stream(), *([self.inbound_stream()] if self.peers else [])]


def outbound_subject(recipient: str, subject: str) -> str:
    """``jit.tasks.NL.created`` for DE → ``jit.out.de.tasks.NL.created``."""
    rest = subject.removeprefix("jit.")
    return f"{OUT_PREFIX}.{domain(recipient)}.{rest}"


def inbound_filter(service_subjects: str) -> str:
    """The ``JIT_IN`` subjects of a local subject pattern: ``jit.tasks.>`` → ``jit.in.*.tasks.>``."""
    return f"{IN_PREFIX}.*.{service_subjects.removeprefix('jit.')}"


def sender_of(inbound_subject: str) -> str:
    """The country whose node sent an event, from the subject its arrival was stored under (written by
    this node's server, not by the sender): ``jit.in.nl.tasks.NL.created`` → ``NL``."""
    tokens = inbound_subject.split(".")
    if len(tokens) < 4 or f"{tokens[0]}.{tokens[1]}" != IN_PREFIX:
        return ""
    return tokens[2].upper()
