"""What the messaging service consumes: the records' events (a system notice in each record's thread),
and the retention clock that shreds a closed workspace's channels. Each handler runs in the consumer's
transaction, once per event (inbox).

Nothing here takes access or a date from an event's payload when this node can decide itself:

- a record thread's parties come from the record's own state carried in the event (origin, addressee,
  shared with, restricted), computed as the owning service's policy does, never from the envelope's
  ``audience``; an event whose state cannot be read, or does not describe the record its envelope
  names, is set aside (dead letter) and changes nothing;
- the retention period counts from when this node's workspace directory first saw a workspace closed
  (never from an event's ``closed_at``), a grace period follows it, and the shred runs only while the
  directory still says the workspace is closed: a reopened (or unknown) workspace is never shredded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import preservation_pb2
from jitlib import audit, envelopes, legal, retention, retention_service, retention_sweep, sealing
from jitlib.alerts import SYSTEM, Alert, AlertScanner, Emit, Scan
from jitlib.bus import Handler, PoisonMessage, after_commit
from jitlib.db import RuntimeTables
from jitlib.ids import new_id
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.workspaces import all_workspaces, get_workspace
from services.messaging import domain, store
from services.messaging.channels import Channels
from services.messaging.live import Live
from services.messaging.mapping import record_replica

log = logging.getLogger(__name__)

#: The aggregate types whose events become notices in their record's thread.
THREADED = frozenset(domain.THREADED.values())
#: The record type of the audit entries that start and stop a workspace's retention clock.
CLOSURE = "workspace_closure"


def _expires_in(env: Envelope) -> str:
    """ "in 7 days" for a preservation order's expiry warning; "" for any other event."""
    warning = preservation_pb2.ExpiryWarning()
    if not env.state.Unpack(warning):
        return ""
    return domain.expires_in(timedelta(seconds=warning.offset_seconds))


#: A preservation order's warnings of the end of a non-disclosure order (no expiry of the preservation).
_SUPPRESSION_KINDS = frozenset(
    {preservation_pb2.WARNING_KIND_NOTICE_SUPPRESSION_ENDING, preservation_pb2.WARNING_KIND_NOTICE_SUPPRESSION_LAPSED}
)


def _suppression_text(env: Envelope) -> str:
    """The line for a warning of the end of a non-disclosure order suppressing an order's user notice; ""
    for any other event."""
    warning = preservation_pb2.ExpiryWarning()
    if not env.state.Unpack(warning) or warning.kind not in _SUPPRESSION_KINDS:
        return ""
    return domain.suppression_notice_text(timedelta(seconds=warning.offset_seconds))


def notice_handler(rt: Runtime, channels: Channels, live: Live, *, notices: bool = True) -> Handler:
    """A record's events: what this service knows of the record (its thread's visibility) and, with
    ``notices``, a system notice in its thread. Another node's records (on a federation) take no notice
    here: their owner's node posts it in its thread, and it arrives as that node's message."""

    node = rt.federation.node if rt.federation is not None else ""

    def handle(session: Session, env: Envelope) -> None:
        if env.aggregate_type not in THREADED or not env.aggregate_id:
            return
        if envelopes.withdrawn_here(env, node):
            withdraw(session, env)
            return
        seen = record_replica(env)
        if seen is None:
            raise PoisonMessage(f"{env.type or 'event'}: its state is not the {env.aggregate_type} it names")
        problem = envelopes.description_problem(env, seen) or domain.replica_problem(seen)
        if problem:
            raise PoisonMessage(f"{env.type or 'event'}: {problem}")
        now = rt.clock.now()
        current = store.get_replica(session, seen.kind, seen.id)
        replica = domain.replica_after(current, seen)
        if replica is not current:
            store.put_replica(session, replica, new=current is None)
            if current is not None:
                _given_to_more(session, current, replica)
        if not notices:
            return
        if store.workspace_shredded(session, replica.workspace_id):
            return  # retention ended: the workspace takes no more notices, nor new threads
        # System notices are written even in a closed workspace: they record what happened.
        thread = channels.record_thread(session, replica, now)
        if thread.shredded_at is not None:
            return
        text = _suppression_text(env) or domain.notice_text(
            env.type, env.aggregate_type, env.actor.jurisdiction, _expires_in(env)
        )
        uow = UnitOfWork(session, rt.tables, SYSTEM)
        channels.post(
            uow,
            thread.id,
            sender=domain.SYSTEM_SENDER,
            text=text,
            files=[],
            request_id=f"event:{env.id}",
            digest="",
            now=now,
            system=True,
        )
        audit.record(session, rt.tables, uow.audits, now)

        def committed() -> None:
            # As ``Runtime.change`` does: the events go to the relay from memory, none read back.
            if uow.staged:
                rt.relay.committed(uow.staged)
            if uow.emitted > len(uow.staged):
                rt.relay.wake()
            live.notify(thread.id)

        after_commit(session, committed)

    def _given_to_more(session: Session, before: domain.RecordReplica, after: domain.RecordReplica) -> None:
        """A record of this node given to more countries (a restricted task reassigned to IE, made visible
        to the workspace): its thread's messages so far are sent to their nodes, as to a country that joins
        the workspace (``jitlib.joining``, which sends each message the country may read now; those it held
        already change nothing there). Its later messages reach them as any."""
        joins = rt.workspaces.joins
        if joins is None or after.origin_jurisdiction != node:
            return
        members = rt.members_of(after)
        audience = envelopes.access_audience(after.access(), members)
        earlier = envelopes.access_audience(before.access(), members)
        # The second pass sends everything again, not only what changed: a node given a record back drops
        # a copy that overtakes the record's event there (its thread, shredded at the withdrawal, is held
        # again only once the record names its country: ``peers.given_back``); by then it has it.
        if joins.note(session, after.workspace_id, sorted(set(audience) - set(earlier)), again_whole=True):
            after_commit(session, joins.wake)

    def withdraw(session: Session, env: Envelope) -> None:
        """The owner took this node's country out of the record's audience (``jitlib.replicas``): what this
        node knows of the record names its origin alone, and its thread is shredded here."""
        current = store.get_replica(session, env.aggregate_type, env.aggregate_id)
        if current is not None and current.origin_jurisdiction != env.origin_jurisdiction:
            raise PoisonMessage(f"{env.type or 'event'}: a record is withdrawn by its owner only")
        if current is not None and current.version >= env.aggregate_version:
            return  # given back to this node's country since
        withdrawn = domain.withdrawn_replica(
            kind=env.aggregate_type,
            id=env.aggregate_id,
            workspace_id=env.workspace_id,
            origin_jurisdiction=env.origin_jurisdiction,
            version=env.aggregate_version,
        )
        store.put_replica(session, withdrawn, new=current is None)
        now = rt.clock.now()
        uow = UnitOfWork(session, rt.tables, SYSTEM)
        thread = channels.withdraw_thread(uow, withdrawn, now)
        audit.record(session, rt.tables, uow.audits, now)
        if thread is not None:
            after_commit(session, lambda: live.notify(thread.id))

    return handle


# -- retention ----------------------------------------------------------------------------------------


def retention_scan(retention: timedelta, grace: timedelta, tables: RuntimeTables) -> Scan:
    """Alerts for workspaces whose retention and grace period have ended since this node saw them closed,
    and that no legal hold keeps (rule LEGAL_HOLD: a held workspace makes no alert, so its release lets
    the alert come). The alert's key names the closure (a reopened, closed-again workspace is a new one)."""

    def scan(session: Session, now: datetime) -> Sequence[Alert]:
        return [
            Alert(
                key=f"shred:{ws}:{seen.isoformat()}",
                due_at=domain.shred_due_at(seen, retention, grace),
                payload=(ws, seen),
            )
            for ws, seen in store.closures_due(session, now - retention - grace)
            if not _held(session, tables, ws)
        ]

    return scan


#: Whether a workspace's content is due for its shred now (read in the caller's transaction): the claim's
#: and the shred's check, under the workspace key row's lock.
StillDue = Callable[[Session, str, datetime], bool]


def still_due(retention: timedelta, grace: timedelta, tables: RuntimeTables) -> StillDue:
    """What ``retention_scan`` finds, for one workspace, as its directory and holds are now: its closure is
    recorded and not shredded, its retention and grace periods have ended, the directory still says it is
    closed, and no hold keeps it."""

    def due(session: Session, workspace_id: str, now: datetime) -> bool:
        seen = store.closure_seen_at(session, workspace_id)
        if seen is None or domain.shred_due_at(seen, retention, grace) > now:
            return False
        info = get_workspace(session, tables, workspace_id)
        if not domain.may_shred(info.status if info else None, recorded_closure=seen, due_closure=seen):
            return False
        return not _held(session, tables, workspace_id)

    return due


def _held(session: Session, tables: RuntimeTables, workspace_id: str) -> bool:
    """A hold of the directory (``jit admin retention hold``) or of this service (a prosecutor's)."""
    info = get_workspace(session, tables, workspace_id)
    return (info is not None and bool(info.legal_hold)) or retention_service.held(session, tables, workspace_id)


class HeldMeanwhile(Exception):
    """A legal hold was set between the scan and the shred: the alert is not recorded, nothing shredded."""


#: This service's stream, whose copies of a shredded workspace's events are erased.
STREAM = "JIT_MESSAGING"
#: Per workspace about to be shredded: how many of its events the scan erased from JIT_MESSAGING first.
Erased = dict[str, int]


def shredder(
    rt: Runtime, channels: Channels, live: Live, loop: asyncio.AbstractEventLoop, erased: Erased | None = None
) -> Emit:
    """Shred a workspace whose alert is due, if the directory still says it is closed (in the alert's
    transaction: it is recorded as sent either way, and a new closure makes a new alert)."""

    def shred(uow: UnitOfWork, alert: Alert) -> None:
        ws, seen = alert.payload
        # The last check, under the lock the scan's claim and a legal hold's set take (``RetentionScanner``):
        # a prosecutor's hold is refused since the claim, an administrator's (the directory's) still stops it.
        channels.content.keys.claims.lock(uow.session, ws, create=False)
        info = get_workspace(uow.session, rt.tables, ws)
        recorded = store.closure_seen_at(uow.session, ws)
        if not domain.may_shred(info.status if info else None, recorded_closure=recorded, due_closure=seen):
            log.warning("workspace %s is no longer closed here: its content is not shredded", ws)
            return
        if _held(uow.session, rt.tables, ws):
            raise HeldMeanwhile(f"workspace {ws} is under a legal hold: its content is not shredded")
        now = rt.clock.now()
        session = uow.session
        counts = store.retention_counts(session, ws)
        key_ids = tuple(retention_sweep.key_id(w) for w in store.live_wrapped_keys(session, ws))
        head_seq, head_hash = audit.chain_head(session, rt.tables)
        shredded = channels.shred_workspace(uow, ws, now, counts)
        cert = retention.Certificate(
            id=retention_sweep.certificate_id(rt.name, ws),
            service=rt.name,
            workspace_id=ws,
            counts=counts,
            key_ids=key_ids,
            destroyed_at=now,
            by="system",
            why=f"seen closed on {seen.date().isoformat()}, then the retention and grace periods "
            f"{legal.cite('RETENTION_MESSAGES')}",
            audit_head=retention.Head(rt.name, head_seq, head_hash),
            files_deleted=len(shredded),
            # Read, not taken: a transaction that rolls back keeps the count for the shred that commits.
            stream_messages_erased=(erased or {}).get(ws, 0),
        )
        retention_sweep.write_certificate(session, rt.tables, cert)

        def committed() -> None:
            if erased is not None:
                erased.pop(ws, None)
            rt.relay.wake()
            live.forget_workspace(ws)
            for channel_id in shredded:
                channels.content.remove_channel_files(channel_id)

        # Once committed only: a shred that rolls back (a failing commit) deletes no file of channels it kept.
        event.listen(session, "after_commit", lambda _s: loop.call_soon_threadsafe(committed), once=True)

    return shred


class RetentionScanner(AlertScanner):
    """The retention clock, every ``interval`` seconds (and at start):

    1. look at the workspace directory as this node holds it: record when a workspace is first seen
       closed, forget the closure of one reopened (or no longer known);
    2. claim each workspace whose retention and grace period have ended, then erase its events from
       JIT_MESSAGING (``claim_and_erase``: nothing is erased of a workspace a hold keeps);
    3. shred each of them (``AlertScanner``: once, even with several replicas scanning; the shredder takes
       the same lock and checks again), then let go of the claims no shred ended;
    4. finish: delete the blob files of shredded channels (also those a crash left behind), and push what
       a shred freed out of the database files (``jitlib.sealing.wipe_freed``).

    Before all that, the keys this process holds but has not used lately are dropped (``drop_stale``).
    """

    #: A hold set between the claim and the shred stops that workspace's shred, and is no failure of the pass.
    stops = (HeldMeanwhile,)

    def __init__(
        self,
        rt: Runtime,
        channels: Channels,
        scan: Scan,
        emit: Emit,
        *,
        interval: float,
        still_due: StillDue,
        erased: Erased | None = None,
    ) -> None:
        #: The workspaces this scan claimed and erased: the only ones it shreds.
        self._claimed: set[str] = set()

        def claimed_due(session: Session, now: datetime) -> Sequence[Alert]:
            return [Alert(*a) for a in scan(session, now) if a[2][0] in self._claimed]

        super().__init__(rt, store.ALERTS, claimed_due, emit, interval=interval)
        self.rt = rt
        self.channels = channels
        self._scan_due = scan
        self._still_due = still_due
        #: Shared with the shredder: the erasures its certificates report.
        self.erased: Erased = erased if erased is not None else {}
        #: The certificates whose shred this process saw wiped out of the database files (``wipe_freed``).
        self._wiped: set[str] = set()
        #: This scanner's id, written with each claim it takes (``workspace_keys.shredding_by``): it lets go of
        #: its own claims only, never of one another process (sharing the database) still erases under.
        self.owner = new_id()

    def due(self, session: Session, now: datetime) -> list[str]:
        """The workspaces whose shred is due now (a scan's finding; ``claim_and_erase`` checks each again),
        and those a claim names (one a stopped scan left: taken again when still due, else let go)."""
        found = [a[2][0] for a in self._scan_due(session, now) if a[1] <= now]
        return list(dict.fromkeys([*found, *self.channels.content.keys.claims.claimed(session)]))

    async def claim_and_erase(self, workspace_id: str) -> bool:
        """Before a due workspace is shredded, erase its events from this service's stream (channel events
        carry channel titles in clear), as ``jitlib.retention_sweep`` does in the other services: first claim
        it (``retention_sweep.claim``: its key row locked, due checked again, claimed, committed; a legal hold
        set before is seen and nothing is erased, one asked after is refused, CONTENT_BEING_DESTROYED), then
        erase. False when it is not due any more (nothing erased). NATS unreachable: the claim is let go
        and the scan fails; the shred waits for the next one."""
        claims = self.channels.content.keys.claims
        now = self.rt.clock.now()

        def claim(session: Session) -> bool:
            return retention_sweep.claim(
                claims, session, workspace_id, lambda: self._still_due(session, workspace_id, now), now, self.owner
            )

        if not await self.rt.db.write(claim):
            return False
        try:
            await self.rt.bus.wait_ready(timeout=5.0)
            erased = await retention_sweep.erase_workspace_messages(self.rt.bus.js, STREAM, workspace_id)
        except Exception as exc:
            await self._let_go(workspace_id)
            raise RuntimeError(f"erasing workspace {workspace_id}'s events from JIT_MESSAGING failed ({exc})") from exc
        self.erased[workspace_id] = self.erased.get(workspace_id, 0) + erased
        return True

    def _certified(self, session: Session) -> set[str]:
        """The ids of the certificates of this service's shreds."""
        t = self.rt.tables.deletion_certificates
        prefix = retention_sweep.certificate_id(self.rt.name, "")
        return set(session.execute(select(t.c.id).where(t.c.id.startswith(prefix))).scalars())

    async def _let_go(self, workspace_id: str) -> None:
        claims = self.channels.content.keys.claims
        await self.rt.db.write(lambda session: retention_sweep.let_go(claims, session, workspace_id, self.owner))

    def _observe(self, uow: UnitOfWork) -> None:
        session = uow.session
        directory = {w.id: w.status for w in all_workspaces(session, self.rt.tables)}
        start, stop = domain.closures_to_update(directory, store.pending_closures(session))
        now = self.rt.clock.now()
        for ws in start:  # the retention clock starts (and shows in the audit chain)
            store.record_closure(session, ws, now)
            uow.audit(CLOSURE, ws, ws)
        for ws in stop:
            log.warning("workspace %s reopened (or unknown) here: its retention clock stops", ws)
            store.forget_closure(session, ws)
            uow.audit(CLOSURE, ws, ws)

    async def scan_once(self) -> int:
        """One pass (see the class); returns how many workspaces it shredded. A workspace stopped (a hold set
        by the directory between its claim and its shred: ``HeldMeanwhile``) or failing (its erasure, its
        shred) is let go and stops none of the others: they are shredded in this pass all the same, the pass
        finishes, then fails with the first failure (a hold is no failure: it is logged)."""
        self.channels.content.keys.drop_stale()
        await self.rt.change(SYSTEM, self._observe)
        now = self.rt.clock.now()
        failed: Exception | None = None
        shredded: list[str] = []
        sent = 0
        try:
            for ws in await self.rt.read(lambda s: self.due(s, now)):
                try:
                    if await self.claim_and_erase(ws):
                        self._claimed.add(ws)
                except Exception as exc:  # its claim is let go (``claim_and_erase``); the others go on
                    log.warning("workspace %s: %s; the other workspaces due are shredded all the same", ws, exc)
                    failed = failed or exc
            try:  # shreds what this scan claimed and erased, nothing else; a hold is one of ``stops``
                sent = await super().scan_once()
            except Exception as exc:  # each alert was tried (``AlertScanner``), the failing ones logged
                failed = failed or exc
            claimed = sorted(self._claimed)
            shredded = await self.rt.read(lambda s: [ws for ws in claimed if store.workspace_shredded(s, ws)])
        finally:
            # A shred deleted its workspace's key row, and the claim with it; a workspace a hold stopped
            # (HeldMeanwhile: the directory's), or whose shred failed, is let go (taken again when due).
            for ws in sorted(self._claimed):
                await self._let_go(ws)
            self._claimed.clear()
        content = self.channels.content
        leftover = await self.rt.read(lambda s: store.shredded_among(s, content.channels_with_files()))
        for channel_id in leftover:
            content.remove_channel_files(channel_id)
        # What a shred freed is wiped after its commit; a stop before the wipe (a kill, a failing wipe) left the
        # destroyed keys' old copies in the files: a certificate this process has not seen wiped is wiped for
        # (at a process's first pass: whenever there is one), as ``retention_sweep.finish_destroyed`` does.
        certified = await self.rt.read(self._certified)
        if shredded or certified - self._wiped:
            await asyncio.to_thread(sealing.wipe_freed, self.rt.db.engine, store.SHRED_TABLES)
            self._wiped |= certified
        if failed is not None:
            raise failed
        return max(sent, len(shredded))
