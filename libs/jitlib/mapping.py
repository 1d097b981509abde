"""Conversions every service's mapping needs between protobuf messages and domain values."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from jit.common.v1 import common_pb2
from jitlib.actors import Actor


def enum_name(enum: EnumTypeWrapper, value: int, prefix: str) -> str | None:
    """The name of a proto enum value without its prefix; None for a value this build does not know."""
    try:
        name = enum.Name(value)
    except ValueError:
        return None
    return name.removeprefix(prefix)


def ts_to_dt(ts: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    """A Timestamp field as an aware UTC datetime (None when the field is not set)."""
    return ts.ToDatetime(tzinfo=UTC) if present else None


def dt_to_ts(dt: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt)
    return ts


def actor_pb(actor: Actor) -> common_pb2.Actor:
    return common_pb2.Actor(user_id=actor.user_id, username=actor.username, jurisdiction=actor.jurisdiction)


def actor_from_pb(msg: common_pb2.Actor) -> Actor:
    return Actor(msg.user_id, msg.username, msg.jurisdiction)
