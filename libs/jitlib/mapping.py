"""Conversions every service's mapping needs between protobuf messages and domain values."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from google.protobuf import descriptor_pool, timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from jit.common.v1 import common_pb2
from jitlib import validate
from jitlib.actors import Actor
from jitlib.clock import Window
from jitlib.errors import FieldViolation, InvalidArgument
from jitlib.policy import StoredRecord

S = TypeVar("S")
E = TypeVar("E", bound=enum.Enum)


def enum_name(enum: EnumTypeWrapper, value: int, prefix: str) -> str | None:
    """The name of a proto enum value without its prefix; None for a value this build does not know."""
    try:
        name = enum.Name(value)
    except ValueError:
        return None
    return name.removeprefix(prefix)


def enum_from_pb(enum: EnumTypeWrapper, value: int, prefix: str, members: type[E]) -> E | None:
    """The member of the domain enum ``members`` a proto enum value names (a record's state, say:
    ``TASK_STATE_ACCEPTED``, prefix ``TASK_STATE_``, is ``TaskState("ACCEPTED")``); None for UNSPECIFIED
    and for a value this build does not know."""
    name = enum_name(enum, value, prefix)
    if name is None or name == "UNSPECIFIED":
        return None
    return members(name)


def enum_value(enum: EnumTypeWrapper, value: int, prefix: str) -> str | None:
    """The enum value's name without its prefix; "" for UNSPECIFIED; None when unknown."""
    name = enum_name(enum, value, prefix)
    return "" if name == "UNSPECIFIED" else name


def stored_enum(enum: EnumTypeWrapper, value: int, prefix: str, field: str) -> str:
    """An enum of a record's state read back (another node's record) that may be unset ("" for
    UNSPECIFIED); ValueError naming ``field`` when unknown."""
    name = enum_value(enum, value, prefix)
    if name is None:
        raise ValueError(field)
    return name


def required_stored_enum(enum: EnumTypeWrapper, value: int, prefix: str, field: str) -> str:
    """An enum of a record's state read back that is always set; ValueError naming ``field`` when unknown
    or UNSPECIFIED."""
    name = stored_enum(enum, value, prefix, field)
    if not name:
        raise ValueError(field)
    return name


def ts_to_dt(ts: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    """A Timestamp field as an aware UTC datetime (None when the field is not set). A request's Timestamps
    were checked on its way in (``timestamp_check``, in ``jitlib.server.CallEntry``)."""
    return ts.ToDatetime(tzinfo=UTC) if present else None


#: What a Timestamp may hold (google/protobuf/timestamp.proto): 0001-01-01T00:00:00Z to
#: 9999-12-31T23:59:59.999999999Z, nanos from 0 to 999,999,999. protobuf refuses anything else when the
#: Timestamp is read as a datetime.
_SECONDS = range(-62_135_596_800, 253_402_300_800)
_NANOS = range(1_000_000_000)
_TIMESTAMP = timestamp_pb2.Timestamp.DESCRIPTOR.full_name
INVALID_TIME = "must be a time from the year 1 to 9999 (nanos 0 to 999999999)"

#: How to reach every Timestamp of a message type: (field name, repeated, None for a Timestamp or the
#: plan of the message it holds), only for the fields that lead to one.
_Plan = tuple[tuple[str, bool, "_Plan | None"], ...]


def _plan(descriptor: Any, seen: dict[str, _Plan]) -> _Plan:
    known = seen.get(descriptor.full_name)
    if known is not None:
        return known
    seen[descriptor.full_name] = ()  # a message that holds itself: its own Timestamps are reached once
    steps: list[tuple[str, bool, _Plan | None]] = []
    for f in descriptor.fields:
        held = f.message_type
        if held is None:
            continue
        repeated = f.is_repeated
        if held.GetOptions().map_entry:
            continue  # no request of this API has a map; a map's values would need their keys in the path
        if held.full_name == _TIMESTAMP:
            steps.append((f.name, repeated, None))
        elif sub := _plan(held, seen):
            steps.append((f.name, repeated, sub))
    plan = seen[descriptor.full_name] = tuple(steps)
    return plan


def _invalid_time(message: Any, plan: _Plan, prefix: str) -> str | None:
    for name, repeated, sub in plan:
        if repeated:
            for i, held in enumerate(getattr(message, name)):
                bad = _invalid_held(held, sub, f"{prefix}{name}[{i}]")
                if bad is not None:
                    return bad
        elif message.HasField(name):
            bad = _invalid_held(getattr(message, name), sub, f"{prefix}{name}")
            if bad is not None:
                return bad
    return None


def _invalid_held(held: Any, sub: _Plan | None, path: str) -> str | None:
    if sub is not None:
        return _invalid_time(held, sub, path + ".")
    return None if held.seconds in _SECONDS and held.nanos in _NANOS else path


@functools.cache
def _plan_of(descriptor: Any) -> _Plan:
    return _plan(descriptor, {})


def holds_time(descriptor: Any) -> bool:
    """Whether a message of this type may hold a Timestamp (a field of one, or of a message that does)."""
    return bool(_plan_of(descriptor))


def invalid_time(message: Any) -> str | None:
    """The path of the first Timestamp ``message`` holds, nested ones too (``replica.updated_at``,
    ``items[2].received_at``), that is no time from the year 1 to 9999 (``INVALID_TIME``); None when all
    are. What a peer's event carries is checked so (``jitlib.bus.check_inbound``), as a request is on
    its way in (``timestamp_check``)."""
    return _invalid_time(message, _plan_of(message.DESCRIPTOR), "")


def timestamp_check(method: str) -> Callable[[Any], None] | None:
    """A check of every Timestamp a request of the gRPC ``method`` (``/package.Service/Method``) holds,
    nested ones too: it raises ``InvalidArgument`` naming the first field that holds no valid time (without
    its value). None when the method's request holds no Timestamp, or is not in the descriptor pool (a
    method of bytes), so its requests cost nothing to check."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    except KeyError:
        return None
    plan = _plan(found.input_type, {})
    if not plan:
        return None

    def check(message: Any) -> None:
        bad = _invalid_time(message, plan, "")
        if bad is not None:
            raise InvalidArgument.one(bad, INVALID_TIME)

    return check


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def dt_to_ts(dt: datetime) -> timestamp_pb2.Timestamp:
    """The instant as a Timestamp (a naive datetime read as UTC, as ``Timestamp.FromDatetime`` reads it):
    its seconds and nanoseconds from the epoch, counted without the time tuple ``FromDatetime`` builds (a
    list's page makes three per record)."""
    return timestamp_pb2.Timestamp(**ts_fields(dt))


def ts_fields(dt: datetime) -> dict[str, int]:
    """The fields of ``dt_to_ts(dt)``: given to a message's constructor for a Timestamp field, the Timestamp
    is made in place, not made and then copied in (half the cost: a list's page has a few per record)."""
    since = (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)) - _EPOCH
    return {"seconds": since.days * 86400 + since.seconds, "nanos": since.microseconds * 1000}


def ts_fields_or_none(dt: datetime | None) -> dict[str, int] | None:
    """``ts_fields`` of an optional instant: None leaves the field unset."""
    return ts_fields(dt) if dt is not None else None


def actor_pb(actor: Actor) -> common_pb2.Actor:
    return common_pb2.Actor(**actor_fields(actor))


def actor_fields(actor: Actor) -> dict[str, str]:
    """The fields of ``actor_pb(actor)``, for a message's constructor (as ``ts_fields``)."""
    return {"user_id": actor.user_id, "username": actor.username, "jurisdiction": actor.jurisdiction}


def actor_from_pb(msg: common_pb2.Actor) -> Actor:
    return Actor(msg.user_id, msg.username, msg.jurisdiction)


def record_pb_fields(record: StoredRecord) -> dict[str, Any]:
    """The fields every governed record's message has (id, workspace, origin, version, visibility,
    sharing, maker and last change), for ``pb.Task(**record_pb_fields(task), ...)``: the protobuf side
    of what ``jitlib.db.RecordFields`` reads from a row. Its messages are given as their fields
    (``actor_fields``, ``ts_fields``), which the constructor makes in place."""
    return {
        "id": record.id,
        "workspace_id": record.workspace_id,
        "origin_jurisdiction": record.origin_jurisdiction,
        "version": record.version,
        "visibility": common_pb2.VISIBILITY_RESTRICTED if record.restricted else common_pb2.VISIBILITY_WORKSPACE,
        "shared_with": record.shared_with or None,
        "created_by": actor_fields(record.created_by),
        "created_at": ts_fields(record.created_at),
        "updated_by": actor_fields(record.updated_by),
        "updated_at": ts_fields(record.updated_at),
        "replica": (
            {"owner_node": record.origin_jurisdiction, "updated_at": ts_fields(record.replicated_at)}
            if record.replicated_at is not None
            else None
        ),
    }


def record_access_from_pb(msg: Any) -> dict[str, Any]:
    """Who may see a record, from its message: its id, workspace, origin, version, whether it is restricted
    (only VISIBILITY_WORKSPACE opens it; any other value, one this build does not know too, keeps it
    restricted) and whom it is shared with. What a replica or a projection built from the state an event
    carries needs of every record."""
    return {
        "id": msg.id,
        "workspace_id": msg.workspace_id,
        "origin_jurisdiction": msg.origin_jurisdiction,
        "restricted": msg.visibility != common_pb2.VISIBILITY_WORKSPACE,
        "shared_with": tuple(msg.shared_with),
        "version": msg.version,
    }


def record_fields_from_pb(msg: Any) -> dict[str, Any]:
    """The inverse of ``record_pb_fields``: a record's common fields from its message (a replica of
    another node's record is rebuilt from the state its events carry)."""
    return {
        **record_access_from_pb(msg),
        "created_by": actor_from_pb(msg.created_by),
        "created_at": msg.created_at.ToDatetime(tzinfo=UTC),
        "updated_by": actor_from_pb(msg.updated_by),
        "updated_at": msg.updated_at.ToDatetime(tzinfo=UTC),
    }


_VISIBILITIES = (common_pb2.VISIBILITY_UNSPECIFIED, common_pb2.VISIBILITY_WORKSPACE, common_pb2.VISIBILITY_RESTRICTED)


def restricted_from_pb(visibility: int) -> bool | None:
    """Need to know by default: a record is restricted to its parties unless its issuer opens it to the
    whole workspace (VISIBILITY_WORKSPACE). None for a value this build does not know."""
    if visibility not in _VISIBILITIES:
        return None
    return visibility != common_pb2.VISIBILITY_WORKSPACE


def new_record_fields_from_pb(req: Any, unknown: list[str]) -> dict[str, Any]:
    """What a create request carries for every new record: the client's request id, the workspace, and who
    may see it (``restricted_from_pb``, need to know when unspecified; ``shared_with``). A visibility this
    build does not know adds "visibility" to ``unknown`` (and the record stays restricted)."""
    restricted = restricted_from_pb(req.visibility)
    if restricted is None:
        unknown.append("visibility")
    return {
        "request_id": req.request_id,
        "workspace_id": req.workspace_id,
        "restricted": restricted is not False,
        "shared_with": tuple(req.shared_with),
    }


@dataclass(frozen=True)
class RecordMapping(Generic[E]):
    """The fields every record of one kind has, in its messages and back, with its state: the proto enum
    ``states`` whose values are ``prefix`` and the name of a member of ``members`` (``TASK_STATE_ACCEPTED``
    is ``TaskState.ACCEPTED``). ``state_name`` names the state in errors ("task state")."""

    states: EnumTypeWrapper
    prefix: str
    members: type[E]
    state_name: str

    def state_from_pb(self, value: int) -> E | None:
        """The state a message's value names; None for UNSPECIFIED and for a value this build does not know."""
        return enum_from_pb(self.states, value, self.prefix, self.members)

    def list_filters(self, request: Any) -> tuple[int, frozenset[E], list[FieldViolation]]:
        """What a List request of this kind of record has (``list_filters``): its page size on the common
        page policy, its states filter, its workspace; each bad state named as "a/an <state_name>". And the
        victim it may ask about: every kind of record names victims by pseudonym, and its List filters on
        one (``victim_ref``, ``jitlib.visibility.PartyIndex.bound``)."""
        article = "an" if self.state_name[:1] in "aeiou" else "a"
        size, states, violations = list_filters(request, self.state_from_pb, f"{article} {self.state_name}")
        violations += validate.victim_ref("victim_ref", request.victim_ref, required=False)
        return size, states, violations

    def to_pb(self, record: Any) -> dict[str, Any]:
        """The message fields of ``record`` every record has (``record_pb_fields``), and its state."""
        return {**record_pb_fields(record), "state": self.prefix + record.state.value}

    def from_pb(self, msg: Any) -> dict[str, Any]:
        """The inverse of ``to_pb`` (another node's record, from the state its events carry); ValueError
        naming the state when it is UNSPECIFIED or unknown here."""
        state = self.state_from_pb(msg.state)
        if state is None:
            raise ValueError(self.state_name)
        return {**record_fields_from_pb(msg), "state": state}

    def new_from_pb(self, req: Any, unknown: list[str]) -> dict[str, Any]:
        """What a create request of the kind carries for every new record (``new_record_fields_from_pb``)."""
        return new_record_fields_from_pb(req, unknown)


def states_from_pb(
    values: Iterable[int], convert: Callable[[int], S | None], what: str
) -> tuple[frozenset[S], list[FieldViolation]]:
    """A List request's ``states`` filter: the states, and a violation for each value that is not ``what``."""
    states: set[S] = set()
    violations: list[FieldViolation] = []
    for i, value in enumerate(values):
        state = convert(value)
        if state is None:
            violations.append(FieldViolation(f"states[{i}]", f"is not {what}"))
        else:
            states.add(state)
    return frozenset(states), violations


def list_filters(
    request: Any,
    convert: Callable[[int], S | None],
    what: str,
    *,
    default: int = validate.DEFAULT_PAGE,
    maximum: int = validate.MAX_PAGE,
) -> tuple[int, frozenset[S], list[FieldViolation]]:
    """What every List request has: its page size, its ``states`` filter (each value ``what``) and an
    optional ``workspace_id``; with the violations found, for the caller to add its own to."""
    size, violations = validate.page_size(request.page_size, default=default, maximum=maximum)
    states, bad_states = states_from_pb(request.states, convert, what)
    violations += bad_states
    violations += validate.workspace_id("workspace_id", request.workspace_id, required=False)
    return size, states, violations


def window_from_pb(request: Any, after: str, before: str, violations: list[FieldViolation]) -> Window:
    """A List request's time window [``after``, ``before``) (two optional Timestamp fields); a window that
    ends before it starts adds a violation on ``before``."""
    start = ts_to_dt(getattr(request, after), request.HasField(after))
    end = ts_to_dt(getattr(request, before), request.HasField(before))
    if start and end and start >= end:
        violations.append(FieldViolation(before, f"must be later than {after}"))
    return Window(start, end)
