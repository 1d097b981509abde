"""jit.victims.v1.VictimService: turns RPCs into domain decisions and store calls, in that order:
validate input -> load -> policy -> domain rule -> write change + event + audit in one transaction.

Nothing here logs, audits or publishes a victim's identity: it goes from the request into the sealed
``victim_identities`` row, and out only in GetVictimIdentity's answer to a need-to-know caller."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import grpc

from jit.victims.v1 import victims_pb2 as pb
from jit.victims.v1 import victims_pb2_grpc
from jitlib import auth, paging, validate
from jitlib.envelopes import request_digest
from jitlib.errors import FailedPrecondition, InvalidArgument, NotFound
from jitlib.ids import new_id
from jitlib.policy import VICTIM_RULES, Operation
from jitlib.records import RecordPath, get_rpc, page, store_change
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.workspaces import WorkspaceInfo
from services.victims import domain, events, store
from services.victims.domain import Identity, Victim
from services.victims.mapping import (
    identity_to_pb,
    new_notice_from_pb,
    new_referral_from_pb,
    new_victim_from_pb,
    notice_to_pb,
    referral_to_pb,
    victim_to_pb,
)

RECORD = "victim"
#: The audit's record type of an identity read (a refused one too): apart from the victim's own reads.
IDENTITY_RECORD = "victim_identity"


def announce(event: str, members: frozenset[str], now: datetime) -> Callable[[UnitOfWork, Victim], None]:
    """What announces a change of a victim in its unit of work: the ``event``, with the pseudonym-level
    victim as state, to ``members``."""

    def emit(uow: UnitOfWork, victim: Victim) -> None:
        uow.emit(events.subject(victim, event), events.envelope(victim, victim_to_pb(victim), event, members, now))

    return emit


def registration_digest(request: pb.RegisterVictimRequest) -> str:
    """The fingerprint of a registration kept in clear for its replays: without the identity, whose hash
    next to a known request id would let anyone with the database try names and birth dates against it.
    A replay's identity is compared with the sealed one instead."""
    bare = pb.RegisterVictimRequest()
    bare.CopyFrom(request)
    bare.ClearField("identity")
    return request_digest(bare)


class VictimServicer(victims_pb2_grpc.VictimServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.victims = RecordPath(rt, VICTIM_RULES, store.get, Victim.access, store.find_by_request)

    def _view(self, principal: auth.Principal, victim: Victim, now: datetime) -> pb.Victim:
        """The victim as an answer to ``principal``, with what they may do on it now."""
        return victim_to_pb(victim, self.victims.allowed_actions(victim, domain.allowed_actions(victim, principal)))

    # -- register and read ------------------------------------------------------------------------

    async def RegisterVictim(
        self, request: pb.RegisterVictimRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterVictimResponse:
        rt, principal, now = self.rt.call()
        cmd = new_victim_from_pb(request)
        InvalidArgument.raise_for(domain.new_victim_violations(cmd, now))
        # Who registers: a member, and of the lead's or the victim's jurisdiction (the policy's PARTY_ACT
        # on the victim-to-be).
        await rt.authorize(
            principal, Operation.CREATE, VICTIM_RULES, record_type=RECORD, record_id="", workspace_id=cmd.workspace_id
        )
        known = rt.workspaces.get(cmd.workspace_id)
        if known is not None and cmd.victim_jurisdiction in known.members:
            await rt.authorize(
                principal,
                Operation.PARTY_ACT,
                VICTIM_RULES,
                record_type=RECORD,
                record_id="",
                record=domain.prospective_access(cmd, known.lead),
                action="register",
            )
        digest = registration_digest(request)
        made: list[Victim] = []

        def build(workspace: WorkspaceInfo) -> Victim:
            InvalidArgument.raise_for(domain.membership_violations(cmd, workspace.members))
            # The pseudonym's number is drawn in the transaction that writes the victim (``write``).
            return domain.register(
                cmd, victim_id=new_id(), lead=workspace.lead, sequence=0, actor=principal.actor, now=now
            )

        def write(uow: UnitOfWork, draft: Victim, workspace: WorkspaceInfo) -> None:
            sequence = store.next_sequence(uow.session, workspace.lead)
            victim = domain.register(
                cmd, victim_id=draft.id, lead=workspace.lead, sequence=sequence, actor=principal.actor, now=now
            )
            store.VICTIMS.insert(uow.session, victim, request_id=cmd.request_id, request_digest=digest)
            store.write_identity(uow.session, victim, cmd.identity)
            announce("registered", workspace.members, now)(uow, victim)
            uow.audit(RECORD, victim.id, victim.workspace_id)
            made.append(victim)

        created = await self.victims.create(principal, cmd, digest, build, write, action="register", owned_by_lead=True)
        if created.replayed:
            victim = created.record
            stored = await rt.read(lambda s: store.identity_of(s, victim.id))
            if stored != cmd.identity:
                raise FailedPrecondition(
                    "REQUEST_ID_REUSED",
                    "request_id was already used for a different victim; generate a new one",
                    {"field": "request_id"},
                )
        else:
            victim = made[-1]
        return pb.RegisterVictimResponse(victim=self._view(principal, victim, now))

    GetVictim = get_rpc("victims", pb.GetVictimResponse, "victim")

    async def ListVictims(
        self, request: pb.ListVictimsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListVictimsResponse:
        _, principal, now = self.rt.call()
        size, violations = validate.page_size(request.page_size)
        violations += validate.workspace_id("workspace_id", request.workspace_id, required=False)
        violations += validate.jurisdiction("victim_jurisdiction", request.victim_jurisdiction, required=False)
        InvalidArgument.raise_for(violations)
        after = paging.after_id(request)
        found = await self.victims.list_in_workspaces(
            principal,
            request.workspace_id,
            store.list_visible,
            victim_jurisdiction=request.victim_jurisdiction,
            after_id=after,
            limit=size + 1,
        )
        victims, token = page(found, size, lambda v: paging.token_after_id(v.id, request))
        return pb.ListVictimsResponse(victims=[self._view(principal, v, now) for v in victims], next_page_token=token)

    async def GetVictimIdentity(
        self, request: pb.GetVictimIdentityRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetVictimIdentityResponse:
        """Need to know only (the policy's READ_PERSONAL; legal VICTIM_IDENTITY_NEED_TO_KNOW): anyone else
        gets NOT_FOUND, audited as such. Each read is audited and its purpose kept, sealed."""
        rt, principal, now = self.rt.call()
        InvalidArgument.raise_for(validate.uuid("id", request.id) + domain.purpose_violations(request.purpose))
        victim = await rt.read(lambda s: store.get(s, request.id))
        await rt.authorize(
            principal,
            Operation.READ_PERSONAL,
            VICTIM_RULES,
            record_type=IDENTITY_RECORD,
            record_id=request.id,
            record=victim.access() if victim is not None else None,
            action="read the identity of",
        )
        assert victim is not None  # authorize refuses a missing victim as NOT_FOUND
        # The identity is only on the lead's node (legal VICTIM_HELD_BY_LEAD): a replica asks it there.
        rt.require_owner(victim.origin_jurisdiction, RECORD)

        def read_and_log(uow: UnitOfWork) -> Identity:
            identity = store.identity_of(uow.session, victim.id)
            if identity is None:
                raise NotFound(IDENTITY_RECORD, victim.id)
            # A shredded identity reads as destroyed, never as an error; its read is audited, and there is
            # no key left to seal the purpose with, nor anything it would explain.
            if not store.destroyed(identity):
                store.record_identity_read(
                    uow.session,
                    read_id=new_id(),
                    victim=victim,
                    reader=principal.actor,
                    purpose=request.purpose,
                    now=now,
                )
            uow.audit(IDENTITY_RECORD, victim.id, victim.workspace_id)
            return identity

        identity = await rt.change(principal, read_and_log)
        return pb.GetVictimIdentityResponse(
            victim=self._view(principal, victim, now), identity=identity_to_pb(identity)
        )

    # -- information rights and referrals ------------------------------------------------------------

    async def RecordVictimNotice(
        self, request: pb.RecordVictimNoticeRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordVictimNoticeResponse:
        """What the victim was told (legal VICTIM_INFORMATION_RIGHTS), by the lead or the victim's
        jurisdiction; idempotent by ``request_id``, version-checked, audited and announced."""
        rt, principal, now = self.rt.call()
        cmd = new_notice_from_pb(request)
        InvalidArgument.raise_for(domain.notice_violations(cmd, now))
        digest = request_digest(request)
        victim = await self.victims.load_visible(
            principal, cmd.victim_id, Operation.PARTY_ACT, action="record a notice for", field="victim_id"
        )

        async def replay() -> pb.RecordVictimNoticeResponse | None:
            stored = await rt.read(lambda s: store.notice_by_request(s, principal.user_id, cmd.request_id))
            if stored is None:
                return None
            if stored.digest != digest:
                raise FailedPrecondition(
                    "REQUEST_ID_REUSED",
                    "request_id was already used for a different notice; generate a new one",
                    {"field": "request_id"},
                )
            notice = stored.record
            current = await rt.read(lambda s: store.get(s, cmd.victim_id))
            assert current is not None
            return pb.RecordVictimNoticeResponse(
                victim=self._view(principal, current, now), notice=notice_to_pb(notice)
            )

        earlier = await replay()
        if earlier is not None:
            return earlier
        self.victims.check_version(victim.version, cmd.expected_version)
        members = self.victims.members_for_change(victim)
        updated, notice = domain.record_notice(victim, cmd, notice_id=new_id(), actor=principal.actor, now=now)

        def write(uow: UnitOfWork) -> None:
            store_change(
                uow,
                VICTIM_RULES,
                victim,
                updated,
                store.VICTIMS.update_if_version,
                announce("notice_recorded", members, now),
            )
            store.insert_notice(uow.session, notice, request_id=cmd.request_id, request_digest=digest)

        # The same request_id raced in at once: one of the two loses the version guard (ABORTED), and its
        # retry is answered by ``replay``; the notices' unique (teller, request) index is the backstop.
        await rt.change(principal, write)
        return pb.RecordVictimNoticeResponse(victim=self._view(principal, updated, now), notice=notice_to_pb(notice))

    async def ListVictimNotices(
        self, request: pb.ListVictimNoticesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListVictimNoticesResponse:
        rt, principal = self.rt, auth.current()
        victim = await self.victims.load_visible(principal, request.victim_id, Operation.READ, field="victim_id")
        # Notices stay on the lead's node (their notes are not replicated): a replica asks it there.
        rt.require_owner(victim.origin_jurisdiction, RECORD)

        def list_and_log(uow: UnitOfWork) -> list[domain.Notice]:
            uow.audit("victim_notice", victim.id, victim.workspace_id)
            return store.notices_of(uow.session, victim.id)

        notices = await rt.change(principal, list_and_log)
        return pb.ListVictimNoticesResponse(notices=[notice_to_pb(n) for n in notices])

    async def RecordReferral(
        self, request: pb.RecordReferralRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordReferralResponse:
        """A referral to a victim support service, only with the victim's consent (legal
        VICTIM_SUPPORT_REFERRAL); idempotent by ``request_id``, version-checked, audited and announced."""
        rt, principal, now = self.rt.call()
        cmd = new_referral_from_pb(request)
        InvalidArgument.raise_for(domain.referral_violations(cmd, now))
        digest = request_digest(request)
        victim = await self.victims.load_visible(
            principal, cmd.victim_id, Operation.PARTY_ACT, action="refer", field="victim_id"
        )
        earlier = domain.referral_by_request(victim, principal.user_id, cmd.request_id)
        if earlier is not None:
            if earlier.request_digest != digest:
                raise FailedPrecondition(
                    "REQUEST_ID_REUSED",
                    "request_id was already used for a different referral; generate a new one",
                    {"field": "request_id"},
                )
            return pb.RecordReferralResponse(
                victim=self._view(principal, victim, now), referral=referral_to_pb(earlier)
            )
        self.victims.check_version(victim.version, cmd.expected_version)
        members = self.victims.members_for_change(victim)
        updated, referral = domain.record_referral(
            victim, cmd, referral_id=new_id(), digest=digest, actor=principal.actor, now=now
        )

        await rt.change(
            principal,
            lambda uow: store_change(
                uow,
                VICTIM_RULES,
                victim,
                updated,
                store.VICTIMS.update_if_version,
                announce("referral_recorded", members, now),
            ),
        )
        return pb.RecordReferralResponse(victim=self._view(principal, updated, now), referral=referral_to_pb(referral))
