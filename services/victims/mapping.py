"""Conversions between the jit.victims.v1 messages and the domain types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from jit.common.v1 import common_pb2
from jit.victims.v1 import victims_pb2 as pb
from jitlib.fields import same_fields
from jitlib.mapping import actor_from_pb, actor_pb, dt_to_ts, enum_from_pb, enum_name, ts_to_dt
from services.victims.domain import (
    Identity,
    NewNotice,
    NewReferral,
    NewVictim,
    Notice,
    NoticeChannel,
    NoticeStep,
    Referral,
    Victim,
)


def new_victim_from_pb(req: pb.RegisterVictimRequest) -> NewVictim:
    return NewVictim(
        request_id=req.request_id,
        workspace_id=req.workspace_id,
        victim_jurisdiction=req.victim_jurisdiction,
        identity=identity_from_pb(req.identity),
        offences=tuple(o.strip().upper() for o in req.offences),
    )


def identity_from_pb(msg: pb.VictimIdentity) -> Identity:
    return Identity(
        full_name=msg.full_name.strip(),
        date_of_birth=msg.date_of_birth,
        contact=msg.contact,
        languages=tuple(msg.languages),
        needs=msg.needs,
    )


def identity_to_pb(identity: Identity) -> pb.VictimIdentity:
    return pb.VictimIdentity(
        **same_fields(identity, "full_name date_of_birth contact needs"), languages=list(identity.languages)
    )


def referral_to_pb(r: Referral) -> pb.Referral:
    return pb.Referral(
        **same_fields(r, "id service_name referred_on consent"),
        referred_by=actor_pb(r.referred_by),
        recorded_at=dt_to_ts(r.recorded_at),
    )


def victim_to_pb(victim: Victim, allowed_actions: Sequence[str] = ()) -> pb.Victim:
    """The pseudonym-level victim as a message: never its identity. ``allowed_actions`` only in an answer
    to a caller, never in an event's state."""
    return pb.Victim(
        **same_fields(victim, "id pseudonym workspace_id origin_jurisdiction victim_jurisdiction version"),
        registered_by=actor_pb(victim.created_by),
        created_at=dt_to_ts(victim.created_at),
        updated_by=actor_pb(victim.updated_by),
        updated_at=dt_to_ts(victim.updated_at),
        notices_count=victim.notices_count,
        referrals_count=len(victim.referrals),
        referrals=[referral_to_pb(r) for r in victim.referrals],
        offences=list(victim.offences),
        replica=(
            common_pb2.Replica(owner_node=victim.origin_jurisdiction, updated_at=dt_to_ts(victim.replicated_at))
            if victim.replicated_at is not None
            else None
        ),
        allowed_actions=allowed_actions or None,
    )


def victim_from_pb(msg: pb.Victim) -> Victim:
    """A victim from the state its events carry (a replica of the lead's node's record)."""
    # Not ``record_fields_from_pb``: a victim has no visibility nor sharing (it is open to the workspace)
    # and names its maker ``registered_by``.
    return Victim(
        id=msg.id,
        workspace_id=msg.workspace_id,
        origin_jurisdiction=msg.origin_jurisdiction,
        version=msg.version,
        created_by=actor_from_pb(msg.registered_by),
        created_at=msg.created_at.ToDatetime(tzinfo=UTC),
        updated_by=actor_from_pb(msg.updated_by),
        updated_at=msg.updated_at.ToDatetime(tzinfo=UTC),
        pseudonym=msg.pseudonym,
        victim_jurisdiction=msg.victim_jurisdiction,
        notices_count=msg.notices_count,
        offences=tuple(msg.offences),
        referrals=tuple(
            Referral(
                id=r.id,
                service_name=r.service_name,
                referred_on=r.referred_on,
                consent=r.consent,
                referred_by=actor_from_pb(r.referred_by),
                recorded_at=r.recorded_at.ToDatetime(tzinfo=UTC),
            )
            for r in msg.referrals
        ),
    )


def _enum(enum: object, value: int, prefix: str, members: type, field: str, unknown: list[str]) -> object:
    if enum_name(enum, value, prefix) is None:  # type: ignore[arg-type]
        unknown.append(field)
        return None
    return enum_from_pb(enum, value, prefix, members)  # type: ignore[arg-type]


def new_notice_from_pb(req: pb.RecordVictimNoticeRequest) -> NewNotice:
    unknown: list[str] = []
    step = _enum(pb.NoticeStep, req.step, "NOTICE_STEP_", NoticeStep, "step", unknown)
    channel = _enum(pb.NoticeChannel, req.channel, "NOTICE_CHANNEL_", NoticeChannel, "channel", unknown)
    return NewNotice(
        request_id=req.request_id,
        victim_id=req.victim_id,
        expected_version=req.expected_version,
        step=step,  # type: ignore[arg-type]
        told_at=ts_to_dt(req.told_at, req.HasField("told_at")),
        language=req.language,
        channel=channel,  # type: ignore[arg-type]
        note=req.note,
        unknown_enums=tuple(unknown),
    )


def notice_to_pb(n: Notice) -> pb.VictimNotice:
    return pb.VictimNotice(
        id=n.id,
        victim_id=n.victim_id,
        step="NOTICE_STEP_" + n.step.value,  # type: ignore[arg-type]
        told_at=dt_to_ts(n.told_at),
        told_by=actor_pb(n.told_by),
        language=n.language,
        channel="NOTICE_CHANNEL_" + n.channel.value,  # type: ignore[arg-type]
        note=n.note,
        recorded_at=dt_to_ts(n.recorded_at),
    )


def new_referral_from_pb(req: pb.RecordReferralRequest) -> NewReferral:
    return NewReferral(**same_fields(req, "request_id victim_id expected_version service_name referred_on consent"))
