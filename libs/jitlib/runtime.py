"""What a service's servicer works with: settings, the database, the outbox relay, the clock, and the
unit of work that writes a change, its events and its audit entries in one transaction."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

import grpc
from google.protobuf.message import Message
from nats.js.api import StreamConfig
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import audit, crypto, outbox, period
from jitlib.auth import Principal, current
from jitlib.bus import Bus, EventConsumer, Handler
from jitlib.clock import Clock
from jitlib.config import CommonSettings, ServiceSettings
from jitlib.crypto import KekRing
from jitlib.db import Database, RuntimeTables
from jitlib.errors import FailedPrecondition, NotFound, PermissionDenied, bounded
from jitlib.federation import Federation, inbound_filter
from jitlib.forwarding import ForwardedRefusal, Forwarder, OwnedElsewhere
from jitlib.outbox import OutboxRelay
from jitlib.policy import Decision, Operation, RecordAccess, RecordRules, decide
from jitlib.sealing import ContentKeys
from jitlib.workspaces import DirectorySync, WorkspaceInfo

T = TypeVar("T")

#: What the key of the call fingerprints is derived for (``Runtime.call_key``, ``jitlib.changes``).
CALL_KEY_PURPOSE = "jit call fingerprints v1"

#: Full name of the RPC being served, e.g. "/jit.tasks.v1.TaskService/AcceptTask" (set by the server).
current_method: contextvars.ContextVar[str] = contextvars.ContextVar("jit_method", default="internal")


class Published(Protocol):
    """A record whose events have an audience: its workspace and the jurisdictions it concerns."""

    @property
    def workspace_id(self) -> str: ...

    @property
    def parties(self) -> frozenset[str]: ...


@dataclass
class UnitOfWork:
    """One transaction: the change, the events it emits (outbox) and its audit entries."""

    session: Session
    tables: RuntimeTables
    principal: Principal
    audits: list[audit.AuditEvent] = field(default_factory=list)
    emitted: int = 0
    #: The events ``emit`` staged, handed to the relay once the transaction commits.
    staged: list[outbox.Staged] = field(default_factory=list)
    #: The node's key for the fingerprints of the calls that change records (``Runtime.call_key``), and the
    #: keys a retry's fingerprint is compared under (``Runtime.call_keys``; empty: ``call_key`` alone).
    call_key: bytes = b""
    call_keys: tuple[bytes, ...] = ()

    def emit(self, subject: str, envelope: Envelope) -> None:
        self.staged.append(outbox.stage(self.session, self.tables, subject, envelope))
        self.emitted += 1

    def audit(self, record_type: str, record_id: str, workspace_id: str, outcome: str = "ok") -> None:
        self.audits.append(
            audit.AuditEvent(
                operation=current_method.get(),
                user_id=self.principal.user_id,
                username=self.principal.username,
                jurisdiction=self.principal.jurisdiction,
                record_type=record_type,
                # A refusal can name what the caller sent: ``audit.record`` bounds every field.
                record_id=record_id,
                workspace_id=workspace_id,
                outcome=outcome,
            )
        )


@dataclass
class Runtime:
    name: str
    common: CommonSettings
    settings: ServiceSettings
    db: Database
    tables: RuntimeTables
    bus: Bus
    relay: OutboxRelay
    clock: Clock
    #: The workspace directory (members, status), kept in memory from the workspaces stream.
    workspaces: DirectorySync
    #: This node's country and its peers, on a federation of per-country nodes; None on a single node.
    federation: Federation | None = None
    #: On a federation: sends a command to the node that owns its record.
    forwarder: Forwarder | None = None
    #: The node's key-encryption keys (current and previous), and this service's workspace content keys
    #: (``jitlib.sealing``; None for a service that keeps its own).
    keks: KekRing | None = None
    content_keys: ContentKeys | None = None
    #: Links the audit entries each change records into the hash chain, soon after its commit (``jitlib.audit``).
    chainer: audit.Chainer | None = None

    #: ``call_keys``' cache: the ring's KEK ids it was derived for, and the keys (each derived once per KEK).
    _call_keys: tuple[tuple[str, ...], tuple[bytes, ...]] = field(default=((), ()), init=False, repr=False)

    @property
    def call_keys(self) -> tuple[bytes, ...]:
        """The keys of this node's call fingerprints (``jitlib.changes``), one derived from each KEK its ring
        holds, the current KEK's first: a new change's fingerprint is made under the first, and a retry
        matches one made under any of them, so a KEK rotation (and a restart) keeps the retries of the calls
        before it answered as replays while their KEK is in the ring; once it is dropped, their fingerprints
        no longer match (those retries are answered ABORTED, as any stale view). Derived: a database alone
        cannot confirm a guess of a request's text against them; every process of the service derives the
        same ones. Each is derived once per KEK id and kept while the ring holds it (the ring reloads)."""
        if self.keks is None:
            return (b"",)
        ids, keys = self._call_keys
        if ids != self.keks.ids:
            held = dict(zip(ids, keys, strict=True))
            ring = self.keks
            fresh = tuple(held.get(i) or crypto.derived_key(self._kek(ring, i), CALL_KEY_PURPOSE) for i in ring.ids)
            self._call_keys = ids, keys = ring.ids, fresh
        return keys

    @staticmethod
    def _kek(ring: KekRing, kek_id: str) -> crypto.Kek:
        kek = ring.get(kek_id)
        assert kek is not None  # an id of the ring's own
        return kek

    @property
    def call_key(self) -> bytes:
        """The key a new change's call fingerprint is made under: the one derived from the current KEK
        (``call_keys``)."""
        return self.call_keys[0]

    async def change(self, principal: Principal, fn: Callable[[UnitOfWork], T], *, on_loop: bool = False) -> T:
        """Run ``fn`` as one unit of work: the change, its outbox events and its audit entries commit
        together or not at all (the entries recorded unlinked, no lock taken; the chainer links them into
        the chain just after the commit, ``jitlib.audit.record``). ``fn`` is synchronous and does no I/O
        but the database's. ``on_loop``: tried on the event loop first (``Database.write``), so ``fn`` may
        run twice and must keep nothing of a run but what it returns and writes through its unit of work."""
        emitted = 0
        staged: list[outbox.Staged] = []

        def unit(session: Session) -> T:
            nonlocal emitted, staged
            keys = self.call_keys
            uow = UnitOfWork(session, self.tables, principal, call_key=keys[0], call_keys=keys)
            result = fn(uow)
            audit.record(session, self.tables, uow.audits, self.clock.now())
            emitted, staged = uow.emitted, uow.staged
            return result

        result = await self.db.write(unit, on_loop=on_loop)
        if staged:
            self.relay.committed(staged)  # published from memory, without reading the outbox back
        if emitted > len(staged):
            self.relay.wake()  # rows staged without ``emit``: the relay scans for them
        return result

    async def read(self, fn: Callable[[Session], T], *, streamed: bool = False, on_loop: bool = False) -> T:
        return await self.db.read(fn, streamed=streamed, on_loop=on_loop)

    def members_of(self, record: Published) -> frozenset[str]:
        """The audience of a record's events on a system path (a clock, a consumer): its workspace's
        members, or the record's own parties while this node has not heard of the workspace yet. Unlike
        ``RecordPath.members_for_change`` a closed workspace is not refused: the system paths go on in a
        closed workspace; a user's change (an RPC) goes through ``members_for_change`` and is refused."""
        workspace = self.workspaces.get(record.workspace_id)
        return workspace.members if workspace is not None else frozenset(record.parties)

    def call(self) -> tuple[Runtime, Principal, datetime]:
        """What an RPC starts from: this runtime, the caller (``auth.current()``, set by the server's
        call entry) and the time of the call on this runtime's clock: ``rt, principal, now = self.rt.call()``."""
        return self, current(), self.clock.now()

    def consumers_here_and_from_peers(
        self, name: str, stream: StreamConfig, subjects: str, handler: Handler
    ) -> list[EventConsumer]:
        """``handler`` on this node's ``subjects`` of ``stream`` (consumer ``name``) and, on a federation
        with peers, on the same subjects as the peers' nodes send them (``JIT_IN``, consumer ``name-in``,
        each event checked against its sender and audience)."""
        out = [self.consumer(name, stream, subjects, handler)]
        fed = self.federation
        if fed is not None and fed.peers:
            out.append(
                self.consumer(f"{name}-in", fed.inbound_stream(), inbound_filter(subjects), handler, inbound=True)
            )
        return out

    def consumer(
        self,
        name: str,
        stream: StreamConfig,
        subjects: str,
        handler: Handler,
        *,
        inbound: bool = False,
        batch: int = 1,
        retries_dead_letters: bool = False,
    ) -> EventConsumer:
        """A durable consumer of this service (named ``<consumer group>-<name>``) of ``subjects`` on
        ``stream``, with the inbox and dead letters in this service's database. ``inbound``: it reads
        what peers' nodes sent (``JIT_IN``), each event checked against its sender and audience. ``batch``:
        up to that many events of a fetch handled in one transaction (``EventConsumer``).
        ``retries_dead_letters``: what it set aside is handled again at each start, before it reads its
        stream (``EventConsumer.retry_dead_letters``): only for a handler that may take an event late."""
        group = self.settings.consumer_group or self.name
        return EventConsumer(
            self.bus,
            self.db,
            self.tables,
            durable=f"{group}-{name}",
            stream=stream,
            filter_subject=subjects,
            handler=handler,
            clock=self.clock,
            inbound_for=self.federation.node if inbound and self.federation is not None else None,
            batch=batch,
            retries_dead_letters=retries_dead_letters,
        )

    async def forward(self, owner: str, request: Message, principal: Principal) -> bytes:
        """The current call, sent to ``owner``'s node with the caller's token: its answer's bytes, or
        ``ForwardedRefusal`` with its status. For a servicer that must do something with the owner's
        answer (most calls are forwarded by the server without the servicer knowing)."""
        if self.forwarder is None:
            raise OwnedElsewhere(owner, owner, "record")
        answer = await self.forwarder.forward(owner, current_method.get(), request.SerializeToString(), principal.token)
        if answer.code is not grpc.StatusCode.OK:
            raise ForwardedRefusal(answer)
        return answer.payload

    def require_home_node(self, principal: Principal) -> None:
        """On a federation, a user creates records on their own country's node, which owns them."""
        fed = self.federation
        if fed is not None and principal.jurisdiction != fed.node:
            raise FailedPrecondition(
                "NOT_YOUR_NODE",
                f"this is the {fed.node} node: a user of {principal.jurisdiction} creates records on the "
                f"{principal.jurisdiction} node, which owns them",
                {"node": fed.node, "jurisdiction": principal.jurisdiction},
            )

    def require_owner(self, origin: str, record_type: str) -> None:
        """On a federation, only the node of a record's origin changes it; elsewhere it is a replica."""
        fed = self.federation
        if fed is not None and not fed.is_owner(origin):
            raise OwnedElsewhere(origin, fed.node, record_type)

    def open_workspace(self, workspace_id: str, *, new_case_record: bool = False) -> WorkspaceInfo:
        """The workspace from the directory, refused (FAILED_PRECONDITION) when unknown here or closed;
        with ``new_case_record``, also once its agreed period ended (``JIT_PERIOD_ENDED``, by this
        service's clock): the check of every create path of a task, evidence request or order."""
        workspace = self.workspaces.get(workspace_id)
        if workspace is None:
            raise FailedPrecondition(
                "WORKSPACE_UNKNOWN",
                f"workspace {bounded(workspace_id)} is not known to this node yet (directory not synchronised)",
                {"field": "workspace_id"},
            )
        if not workspace.is_open:
            raise FailedPrecondition(
                "WORKSPACE_CLOSED", f"workspace {bounded(workspace_id)} is closed", {"field": "workspace_id"}
            )
        if new_case_record:
            period.require_running(workspace.id, workspace.ends_on, self.clock.now())
        return workspace

    async def authorize(
        self,
        principal: Principal,
        operation: Operation,
        rules: RecordRules | None,
        *,
        record_type: str,
        record_id: str,
        record: RecordAccess | None = None,
        workspace_id: str | None = None,
        action: str = "",
        origin_state: str | None = None,
    ) -> None:
        """Apply the access policy; a refusal is audited (in its own transaction) and raised as
        PERMISSION_DENIED or NOT_FOUND. ``origin_state``: an ORIGIN_STATE_ACT's jurisdiction (``decide``)."""
        decision = decide(
            principal, operation, rules, record=record, workspace_id=workspace_id, origin_state=origin_state
        )
        if decision is Decision.ALLOW:
            return
        ws = record.workspace_id if record is not None else (workspace_id or "")
        outcome = "not_found" if decision is Decision.NOT_FOUND else "denied"
        await self.change(principal, lambda uow: uow.audit(record_type, record_id, ws, outcome=outcome))
        if decision is Decision.NOT_FOUND:
            if record is None and workspace_id is not None:
                raise NotFound("workspace", workspace_id)
            raise NotFound(record_type, record_id)
        verb = action or operation.value.replace("_", " ")
        side = {
            Operation.ISSUER_ACT: "only the issuing jurisdiction",
            Operation.ADDRESSEE_ACT: "only the addressed jurisdiction",
            Operation.PARTY_ACT: "only the issuing or the addressed jurisdiction",
            Operation.ANY_PARTY_ACT: "only a jurisdiction party to it",
            Operation.ORIGIN_STATE_ACT: f"only the state where it arose ({origin_state})",
            Operation.CREATE: "only an issuing role",
        }.get(operation, "only a case role")
        raise PermissionDenied(
            "NOT_ALLOWED",
            f"{principal.username} ({principal.jurisdiction}) may not {verb} this {record_type}: "
            f"{side} may, with the right role",
            {"operation": operation.value, "action": verb, "jurisdiction": principal.jurisdiction},
        )
