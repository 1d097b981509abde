"""The retention sweep every service runs (started by the bootstrap, ``jitlib.server``), every
``JIT_RETENTION_SCAN_SECONDS`` and at start:

1. prune its audit log of entries older than 3 years (``jitlib.audit.prune``, rule RETENTION_AUDIT_LOG);
2. for a service whose case content is sealed under per-workspace keys (``jitlib.sealing``: tasks,
   evidence, preservation), crypto-shred each workspace whose time has come (``jitlib.retention``:
   ``service_end`` over the workspace directory, never under a legal hold, never an open workspace):

   - first claim the workspace, in a transaction of its own that locks the workspace's key row (as a
     legal hold's set does) and checks again that it is due: a hold set before is seen (nothing is
     erased), one set after is refused until the shred ends (``RetentionSweep.destroy``);
   - then erase the copies of the workspace's events in the service's own JetStream stream (they carry
     the records' state in clear): each message is deleted with NATS's secure erase (overwritten);
   - then, in one transaction that takes the same lock and checks again: count what is destroyed,
     destroy the workspace key (a tombstone stays, so nothing is sealed again under a new key), delete
     the workspace's outbox rows and dead letters (``sealing.destroy_payloads``: a payload sealed by the
     KEK alone would outlive the key; the events never published are counted, ``sealing.NEVER_PUBLISHED``),
     write a deletion certificate (rule DELETION_CERTIFICATE) naming the audit chain's head at that
     moment, and append the certificate's entry to the chain;
   - after the commit, wipe what the database freed (``sealing.wipe_freed``) and delete the files the
     service names (evidence: the workspace's blob files);
3. finish the shreds a stop left undone after their commit (a kill, a redeploy, an exception between the
   commit and the last file): for each workspace this service certified, delete what is left of its files
   (``Hooks.leftovers``), and wipe what the database freed again when a certificate was written since this
   process last wiped (at the first pass of a process: whenever there is one). Messaging's retention
   scanner claims (``claim``, ``let_go``), erases and finishes its shreds the same way
   (``services.messaging.notices``).

Why a scanner per service rather than one node command on a timer: each service owns its database, its
keys held in memory and its stream; the sweep runs in the process that holds them (no second writer to a
service's tables), on the service's own clock (tests move it), like messaging's retention scanner, whose
channels keep their own clock (``services.messaging.notices``) and which writes the same certificate.

One content key per (service, workspace): a service deletes a workspace's content when the latest of its
record kinds' periods ends (evidence: requests and items together); different services at different times.

A node also holds copies of records of workspaces its country is not a member of (a request addressed to a
state outside the JIT): the directory never announces those workspaces to it, so their dates are not
known here. Such copies are kept the retention years after the last change their owners sent
(``copies_end``), and destroyed like a workspace's content, with their certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from sqlalchemy import MetaData, func, select
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import audit, retention, retention_service, sealing
from jitlib.clock import as_utc
from jitlib.db import RuntimeTables
from jitlib.periodic import Periodic
from jitlib.workspaces import WorkspaceInfo, all_workspaces, get_workspace

log = logging.getLogger(__name__)

#: Who the sweep's audit entries and certificates name.
SYSTEM = audit.AuditEvent("", "system", "jit-system", "SYSTEM", "", "", "")
#: The operation of a certificate's audit entry (its record id is the certificate's digest).
DESTROYED = "jit.retention/DestroyContent"
CERTIFICATE_RECORD = "deletion_certificate"


def certificate_id(service: str, workspace_id: str) -> str:
    """One certificate per (service, workspace): a workspace's content is destroyed once."""
    return f"{service}:{workspace_id}"


def key_id(wrapped: bytes) -> str:
    """A destroyed key's id in a certificate: a fingerprint of its wrapped form, never the key."""
    return hashlib.sha256(wrapped).hexdigest()[:16]


def sealed_counts(session: Session, metadata: MetaData, workspace_id: str) -> dict[str, int]:
    """How many rows of each table with sealed text belong to the workspace (its record kinds)."""
    out: dict[str, int] = {}
    for sealed in sealing.declared_sealed(metadata):
        t = sealed.table
        if t.name in out:
            continue
        n = session.execute(select(func.count()).select_from(t).where(t.c[sealed.workspace] == workspace_id)).scalar()
        out[t.name] = int(n or 0)
    return out


def write_certificate(session: Session, tables: RuntimeTables, cert: retention.Certificate) -> None:
    """Store the certificate and append its entry (record id: its digest) to the audit chain, in the
        caller's transaction, linked at once. ``cert.audit_head`` must be the head just before, every entry committed
    until then linked (``audit.chain_head``, whose lock the caller then holds: the entry comes right after it)."""
    session.execute(
        tables.deletion_certificates.insert().values(
            id=cert.id,
            workspace_id=cert.workspace_id,
            issued_at=cert.destroyed_at,
            body=cert.canonical(),
            digest=cert.digest(),
        )
    )
    entry = audit.AuditEvent(
        operation=DESTROYED,
        user_id=SYSTEM.user_id if cert.by == "system" else cert.by,
        username=SYSTEM.username if cert.by == "system" else cert.by,
        jurisdiction=SYSTEM.jurisdiction,
        record_type=CERTIFICATE_RECORD,
        record_id=cert.digest(),
        workspace_id=cert.workspace_id,
    )
    audit.append(session, tables, [entry], cert.destroyed_at)


def certificates(session: Session, tables: RuntimeTables) -> list[tuple[retention.Certificate, bool]]:
    """Every certificate the service wrote, with whether its stored digest still matches its body."""
    t = tables.deletion_certificates
    out = []
    for row in session.execute(select(t).order_by(t.c.issued_at, t.c.id)).mappings():
        import json

        cert = retention.Certificate.from_dict(json.loads(row["body"]))
        out.append((cert, cert.digest() == row["digest"]))
    return out


def has_certificate(session: Session, tables: RuntimeTables, cert_id: str) -> bool:
    t = tables.deletion_certificates
    return session.execute(select(t.c.id).where(t.c.id == cert_id)).first() is not None


def claim(
    claims: sealing.WorkspaceClaims,
    session: Session,
    workspace_id: str,
    due: Callable[[], bool],
    now: datetime,
    owner: str = "",
) -> bool:
    """The first step of a shred, in a transaction of its own (the sweep's, messaging's scanner's): lock the
    workspace's key row (as a legal hold's set does, ``retention_service``), check again that the workspace
    is ``due()`` (what the service's pass found may have changed since: a hold set, a reopening), and claim
    it (``sealing.WorkspaceClaims.claim``): from its commit on, a hold is refused until the shred ends or lets
    it go. False, and any claim a stopped pass left let go, when it is no longer due: nothing is erased.
    ``owner``: who claims, where the claims table names it (messaging: one id per scanner; a claim another
    owner holds is then left as it is, ``sealing.WorkspaceClaims.claim``)."""
    claims.lock(session, workspace_id, create=False)
    if not due():
        claims.claim(session, workspace_id, None)  # a claim a stopped pass left
        return False
    claims.claim(session, workspace_id, now, owner)
    return True


def let_go(claims: sealing.WorkspaceClaims, session: Session, workspace_id: str, owner: str = "") -> None:
    """Let a shred's claim go (its erasure failed, or a hold stopped it), in a transaction of its own: only
    ``owner``'s where the claims table names owners (``sealing.WorkspaceClaims.release``)."""
    claims.lock(session, workspace_id, create=False)
    claims.release(session, workspace_id, owner)


@dataclass
class Hooks:
    """What a service adds to the generic shred (``ServiceSpec.extra["retention"]``)."""

    #: The files to delete once the workspace's key is destroyed (evidence: its blob files), read in the
    #: shred's transaction, deleted after the commit.
    files: Callable[[Session, str], Sequence[Path]] = field(default=lambda _s, _ws: [])
    #: What else the service erases in the shred's transaction (text it cannot seal): record kind -> count,
    #: added to the certificate's counts (evidence: the custody entries' purposes and recipients).
    erase: Callable[[Session, str], dict[str, int]] = field(default=lambda _s, _ws: {})
    #: Delete whatever files of a destroyed workspace are still there, those ``files`` named and any other
    #: (evidence: its blob folder); returns how many were. Run after each shred, and at every pass for each
    #: workspace destroyed, so that a shred stopped after its commit is finished.
    leftovers: Callable[[str], int] = field(default=lambda _ws: 0)


@dataclass(frozen=True)
class SweepReport:
    pruned: int = 0
    destroyed: tuple[retention.Certificate, ...] = ()


class RetentionSweep(Periodic):
    """The sweep of one service (see the module's docstring)."""

    def __init__(
        self,
        rt: Any,
        metadata: MetaData,
        streams: Sequence[str],
        *,
        default_years: int,
        audit_years: int = retention.AUDIT_YEARS,
        interval: float = 3600.0,
        hooks: Hooks | None = None,
    ) -> None:
        super().__init__(interval, "retention-sweep")
        self.rt = rt
        self.metadata = metadata
        self.streams = list(streams)
        self.default_years = default_years
        self.audit_years = audit_years
        self.hooks = hooks or Hooks()
        self.content = rt.content_keys is not None and rt.name in retention.SERVICE_KINDS
        #: The certificates whose shred this process finished (files deleted, what the database freed wiped).
        self._finished: set[str] = set()
        #: Per workspace not yet certified: how many of its stream messages this process erased (a failed
        #: erasure's or shred's too), for its certificate.
        self._erased: dict[str, int] = {}

    async def run_pass(self) -> SweepReport:
        return await self.sweep_once()

    def _end(self, info: WorkspaceInfo, session: Session) -> retention.End:
        facts = info.retention_facts()
        if not facts.legal_hold and retention_service.held(session, self.rt.tables, info.id):
            facts = replace(facts, legal_hold="a prosecutor's hold in this service")
        return retention.service_end(self.rt.name, facts, self.default_years)

    async def sweep_once(self) -> SweepReport:
        """One pass: prune the audit log, destroy what is due. Returns what it did."""
        now = self.rt.clock.now()
        cutoff = retention.audit_cutoff(now, self.audit_years)
        pruned = await self.rt.db.write(lambda s: audit.prune(s, self.rt.tables, cutoff, now, SYSTEM))
        if pruned.problem:
            log.error("audit log of %s not pruned: %s", self.rt.name, pruned.problem)
        elif pruned.pruned:
            log.info("audit log of %s: %d entries older than %d years pruned", self.rt.name, pruned.pruned, 3)
        if not self.content:
            return SweepReport(pruned.pruned)
        due = await self.rt.read(self.due)
        # A claim a stopped pass left (a killed process) on a workspace no longer due (the directory's hold
        # since, which no claim refuses) would refuse a prosecutor's hold as long as that lasts: its destroy's
        # claim finds it not due and lets it go. One still due is in ``due``, taken again.
        stale = await self.rt.read(self.rt.content_keys.claims.claimed)
        done = []
        # One workspace's failure (its erasure's or its shred's; its claim let go by ``destroy``) stops none of
        # the others: each is destroyed in this pass, the pass finishes, then fails with the first failure (the
        # failing one is taken again at the next pass). A hold set meanwhile is no failure: ``destroy`` returns
        # None.
        failed: Exception | None = None
        for ws in [*due, *(w for w in stale if w not in due)]:
            try:
                cert = await self.destroy(ws)
            except Exception as exc:
                log.warning(
                    "retention: destroying workspace %s in %s failed (%s); the others go on", ws, self.rt.name, exc
                )
                failed = failed or exc
                continue
            if cert is not None:
                done.append(cert)
        await self.finish_destroyed()
        if failed is not None:
            raise failed
        return SweepReport(pruned.pruned, tuple(done))

    async def finish_destroyed(self) -> None:
        """Finish every shred of this service whose steps after the commit may not have run: delete what is
        left of each destroyed workspace's files, and wipe what the database freed when a certificate is not
        known here as finished (a stop between the commit and the wipe left the destroyed key's old copies in
        the files: SQLite's write-ahead log)."""
        prefix = certificate_id(self.rt.name, "")
        t = self.rt.tables.deletion_certificates
        destroyed = await self.rt.read(
            lambda s: dict(s.execute(select(t.c.id, t.c.workspace_id).where(t.c.id.startswith(prefix))).tuples().all())
        )
        left = 0
        for ws in destroyed.values():
            left += await asyncio.to_thread(self.hooks.leftovers, ws)
        if left:
            log.warning("retention: %d files of destroyed workspaces of %s were left; deleted", left, self.rt.name)
        if destroyed.keys() - self._finished:
            await asyncio.to_thread(sealing.wipe_freed, self.rt.db.engine)
            self._finished |= destroyed.keys()

    def due(self, session: Session) -> list[str]:
        """The workspaces whose content is due for destruction here now (a pass's finding; ``destroy``
        checks each again)."""
        now = self.rt.clock.now()
        known = all_workspaces(session, self.rt.tables)
        ends = {w.id: self._end(w, session) for w in known}
        ends.update(self.copies_ends(session, exclude=set(ends)))
        return [
            ws
            for ws, end in ends.items()
            if end.due(now) and not has_certificate(session, self.rt.tables, certificate_id(self.rt.name, ws))
        ]

    def copies_ends(self, session: Session, exclude: set[str]) -> dict[str, retention.End]:
        """The workspaces this service holds other nodes' records of but the directory does not know
        (this node's country is not a member: an addressee outside the JIT), each with ``copies_end``."""
        last: dict[str, datetime] = {}
        for sealed in sealing.declared_sealed(self.metadata):
            t = sealed.table
            if "replicated_at" not in t.c:
                continue
            ws_col = t.c[sealed.workspace]
            query = select(ws_col, func.max(t.c.replicated_at)).where(t.c.replicated_at.is_not(None)).group_by(ws_col)
            for ws, at in session.execute(query):
                if ws not in exclude and at is not None:
                    at = as_utc(at)
                    last[ws] = max(last.get(ws, at), at)
        return {ws: self.copies_end(session, ws, at) for ws, at in last.items()}

    def copies_end(self, session: Session, workspace_id: str, last_change: datetime) -> retention.End:
        """When the copies of a workspace this node is not a member of may be destroyed: the retention
        years after the last change their owners sent, taken as the end of the workspace and of its
        proceedings; never under a hold set in this service."""
        day = last_change.date()
        facts = retention.Facts(workspace_id, closed=True, ends_on=day, proceedings_closed_on=day)
        if retention_service.held(session, self.rt.tables, workspace_id):
            facts = replace(facts, legal_hold="a prosecutor's hold in this service")
        end = retention.service_end(self.rt.name, facts, self.default_years)
        if end.held or end.at is None:
            return end
        return replace(
            end,
            why=f"copies of other nodes' records in a workspace this node's country is not a member of: kept "
            f"{self.default_years} years (the node's default) after the last change their owners sent "
            f"({day.isoformat()}), until {(end.at - timedelta(days=1)).date().isoformat()}",
        )

    def _end_of(self, session: Session, workspace_id: str) -> retention.End | None:
        """The end of a workspace's content here: from the directory, or of copies only (``copies_ends``)."""
        info = get_workspace(session, self.rt.tables, workspace_id)
        if info is not None:
            return self._end(info, session)
        return self.copies_ends(session, exclude=set()).get(workspace_id)

    def _still_due(self, session: Session, workspace_id: str) -> retention.End | None:
        """The workspace's end when it is still due here (no hold since, no certificate yet), else None."""
        end = self._end_of(session, workspace_id)
        cid = certificate_id(self.rt.name, workspace_id)
        if end is None or not end.due(self.rt.clock.now()) or has_certificate(session, self.rt.tables, cid):
            return None
        return end

    def _claim(self, session: Session, workspace_id: str) -> bool:
        """The first step of a shred (``claim``), with this service's content keys and due check."""

        def due() -> bool:
            return self._still_due(session, workspace_id) is not None

        return claim(self.rt.content_keys.claims, session, workspace_id, due, self.rt.clock.now())

    def _let_go(self, session: Session, workspace_id: str) -> None:
        let_go(self.rt.content_keys.claims, session, workspace_id)

    async def destroy(self, workspace_id: str) -> retention.Certificate | None:
        """Destroy a due workspace's content in this service, with its certificate; None when it is no
        longer due (a hold set meanwhile) or another replica did it first.

        Three steps, so that nothing is erased of a workspace a hold keeps: claim it (``_claim``: locked,
        checked again, claimed, committed; a legal hold set before the lock is seen, one set after it is
        refused, ``CONTENT_BEING_DESTROYED``); erase its stream copies; then shred in one transaction that
        takes the same lock and checks again (an administrator's hold announced meanwhile still stops it: the
        directory's hold cannot be refused, so its stream copies may be gone while the database keeps the
        rest). The erasure failing (NATS unreachable, a deletion refused) or that transaction failing lets the
        claim go, and the exception goes to the caller (the pass fails; its next one claims the workspace
        again and erases what is left, before the key is destroyed). The certificate counts every message of
        the workspace this process erased, in this call and in the failed ones before it, once."""
        if not await self.rt.db.write(lambda s: self._claim(s, workspace_id)):
            return None
        try:
            erased = await self._erase_stream_copies(workspace_id)
        except Exception:
            await self.rt.db.write(lambda s: self._let_go(s, workspace_id))
            raise
        files: list[Path] = []

        def unit(session: Session) -> retention.Certificate | None:
            tables = self.rt.tables
            keys = self.rt.content_keys
            keys.lock(session, workspace_id, create=False)
            end = self._still_due(session, workspace_id)
            if end is None:
                keys.claim(session, workspace_id, None)
                return None
            now = self.rt.clock.now()
            cid = certificate_id(self.rt.name, workspace_id)
            kt = keys.table
            wrapped = session.execute(select(kt.c.wrapped).where(kt.c.workspace_id == workspace_id)).scalar()
            counts = sealed_counts(session, self.metadata, workspace_id)
            files.extend(self.hooks.files(session, workspace_id))
            counts.update(self.hooks.erase(session, workspace_id))
            keys.shred(session, workspace_id)
            keys.claim(session, workspace_id, None)
            payloads = sealing.destroy_payloads(session, tables, workspace_id, counts)
            log.info("retention: workspace %s in %s: %s deleted", workspace_id, self.rt.name, payloads)
            seq, head_hash = audit.chain_head(session, tables)
            cert = retention.Certificate(
                id=cid,
                service=self.rt.name,
                workspace_id=workspace_id,
                counts=counts,
                key_ids=(key_id(wrapped),) if wrapped else (),
                destroyed_at=now,
                by="system",
                why=end.why,
                audit_head=retention.Head(self.rt.name, seq, head_hash),
                files_deleted=len(files),
                stream_messages_erased=erased,
            )
            write_certificate(session, tables, cert)
            return cert

        try:
            cert = await self.rt.db.write(unit)
        except Exception:
            # Rolled back, the key kept: the claim is let go (a hold is not refused for a shred not under way),
            # and the next pass claims the workspace again.
            await self.rt.db.write(lambda s: self._let_go(s, workspace_id))
            raise
        if cert is None:
            return None
        self._erased.pop(workspace_id, None)  # counted in the certificate
        await asyncio.to_thread(sealing.wipe_freed, self.rt.db.engine)
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        await asyncio.to_thread(self.hooks.leftovers, workspace_id)
        self._finished.add(cert.id)
        log.info("retention: the content of workspace %s in %s is destroyed (%s)", workspace_id, self.rt.name, cert.id)
        return cert

    async def _erase_stream_copies(self, workspace_id: str) -> int:
        """Erase (NATS secure delete: overwritten) every message of the workspace in this service's own
        streams. Returns how many of the workspace's messages this process erased so far: in this call and
        in earlier ones that failed (a shred not yet certified), each counted once. Raises when NATS cannot
        be reached or an erasure fails (what it erased before that stays counted)."""
        bus = self.rt.bus
        try:
            await bus.wait_ready(timeout=5.0)
        except TimeoutError:
            raise RuntimeError(
                f"NATS cannot be reached: the events of workspace {workspace_id} are not erased from the streams"
            ) from None

        def counted() -> None:
            self._erased[workspace_id] = self._erased.get(workspace_id, 0) + 1

        for stream in self.streams:
            try:
                await erase_workspace_messages(bus.js, stream, workspace_id, on_erased=counted)
            except Exception as exc:
                raise RuntimeError(f"erasing workspace {workspace_id}'s events from {stream} failed ({exc})") from exc
        return self._erased.get(workspace_id, 0)


async def erase_workspace_messages(
    js: Any, stream: str, workspace_id: str, *, on_erased: Callable[[], None] | None = None
) -> int:
    """Delete (with erase) every message of ``stream`` whose envelope names ``workspace_id``; returns how many
    this call erased (``on_erased`` is called after each, so a caller counts them even when a later one
    fails). A message another erasure deletes meanwhile (another replica's pass over the same
    workspace) is skipped, not an error: that pass would otherwise fail and let go of the claim while the
    other still erases (``claim``), and a hold could then be set over copies being erased."""
    from nats.js.errors import APIError, NotFoundError

    info = await js.stream_info(stream)
    first, last = info.state.first_seq, info.state.last_seq
    erased = 0
    # A stream that never held a message reports 0 and 0, and message 0 is a bad request: none to erase.
    for seq in range(max(first, 1), last + 1):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:
            continue
        try:
            env = Envelope.FromString(msg.data or b"")
        except DecodeError:
            continue
        if env.workspace_id == workspace_id:
            try:
                await js.delete_msg(stream, seq)
            except APIError:
                try:
                    await js.get_msg(stream, seq)
                except NotFoundError:
                    continue  # erased meanwhile by another pass
                raise
            erased += 1
            if on_erased is not None:
                on_erased()
    return erased
