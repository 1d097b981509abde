"""The shapes every service used to write itself, now once in jitlib: pure unit tests of each helper."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from google.protobuf import any_pb2, timestamp_pb2
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2
from jitlib import auth
from jitlib.actors import Actor
from jitlib.clock import ManualClock
from jitlib.db import new_metadata
from jitlib.envelopes import RecordEvents, description_problem
from jitlib.errors import Unauthenticated
from jitlib.fields import same_fields
from jitlib.mapping import record_access_from_pb
from jitlib.policy import AccessParties, RecordAccess
from jitlib.principal import Principal
from jitlib.runtime import Runtime
from jitlib.tables import ServiceBase, shared_tables

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-liaison", "NL")


@dataclass(frozen=True)
class _Record:
    id: str = "01935c4e-0000-7000-8000-000000000001"
    workspace_id: str = "jit-demo"
    origin_jurisdiction: str = "NL"
    version: int = 4
    restricted: bool = True
    shared_with: tuple[str, ...] = ()
    updated_by: Actor = NL
    updated_at: datetime = T0

    @property
    def parties(self) -> frozenset[str]:
        return frozenset({self.origin_jurisdiction, "DE", *self.shared_with})


EVENTS = RecordEvents("widgets", "Widget", aggregate_type="widget")


def test_record_events_name_the_subject_by_origin_and_the_type_by_message_and_event() -> None:
    assert EVENTS.subject(_Record(), "handed_back") == "jit.widgets.NL.handed_back"
    assert EVENTS.event_type("handed_back") == "jit.widgets.v1.WidgetHandedBack"
    assert EVENTS.event_type("created") == "jit.widgets.v1.WidgetCreated"


def test_record_events_envelope_carries_the_change_for_the_record_s_audience() -> None:
    state = common_pb2.Actor(user_id="state")
    env = EVENTS.envelope(_Record(), state, "created", frozenset({"NL", "DE", "IE"}), T0)
    assert (env.type, env.aggregate_type, env.aggregate_id, env.aggregate_version) == (
        "jit.widgets.v1.WidgetCreated",
        "widget",
        _Record().id,
        4,
    )
    # Restricted: its parties only; open: every member too.
    assert list(env.audience) == ["DE", "NL"]
    opened = EVENTS.envelope(_Record(restricted=False), state, "created", frozenset({"NL", "DE", "IE"}), T0)
    assert list(opened.audience) == ["DE", "IE", "NL"]
    unpacked = common_pb2.Actor()
    assert env.state.Unpack(unpacked) and unpacked.user_id == "state"
    assert env.actor.username == "nl-liaison"


@pytest.mark.parametrize(
    "now",
    [
        T0,
        datetime(2026, 3, 2, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(1969, 12, 31, 23, 59, 59, 5),
    ],
)
def test_an_envelope_s_time_and_state_are_what_timestamp_and_any_make(now: datetime) -> None:
    # Made in place (its fields given to the constructor): consumers and peers read the same bytes as
    # Timestamp.FromDatetime and Any.Pack gave (a naive time read as UTC).
    state = tasks_pb2.Task(id="t", title="a title", version=2)
    env = EVENTS.envelope(_Record(), state, "created", ["NL"], now)
    occurred = timestamp_pb2.Timestamp()
    occurred.FromDatetime(now)
    packed = any_pb2.Any()
    packed.Pack(state)
    assert env.occurred_at == occurred
    assert env.state.SerializeToString(deterministic=True) == packed.SerializeToString(deterministic=True)


def test_record_events_typed_envelope_takes_the_type_whole() -> None:
    env = EVENTS.typed_envelope(_Record(), common_pb2.Actor(), "jit.widgets.v1.WidgetWarning", ["NL"], T0)
    assert env.type == "jit.widgets.v1.WidgetWarning"


def test_shared_tables_declares_what_the_service_asks_for_and_refuses_the_rest() -> None:
    metadata = new_metadata()
    tables = shared_tables(metadata, victims=True)
    assert {"outbox", "inbox", "audit_log", "workspace_keys", "victim_pseudonyms"} <= set(metadata.tables)
    assert "alerts_sent" not in metadata.tables
    assert tables.runtime.outbox is metadata.tables["outbox"]
    assert tables.victims is metadata.tables["victim_pseudonyms"]
    assert tables.workspace_keys is metadata.tables["workspace_keys"]
    with pytest.raises(LookupError, match="alerts_sent"):
        _ = tables.alerts


def test_shared_tables_without_sealing_keeps_no_workspace_keys() -> None:
    metadata = new_metadata()
    tables = shared_tables(metadata, sealed=False, alerts=True)
    assert tables.alerts is metadata.tables["alerts_sent"]
    assert "workspace_keys" not in metadata.tables
    with pytest.raises(LookupError):
        _ = tables.workspace_keys


class _WidgetBase(ServiceBase, DeclarativeBase, sealed=False, alerts=True):
    """A service's declarative base, as a store declares it."""


class _OtherBase(ServiceBase, DeclarativeBase, victims=True):
    """Another service's."""


class _WidgetRow(_WidgetBase):
    __tablename__ = "widgets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)


def test_a_service_base_holds_its_own_metadata_with_jitlib_s_tables_and_the_service_s() -> None:
    metadata = _WidgetBase.metadata
    assert metadata is _WidgetBase.registry.metadata is _WidgetRow.__table__.metadata
    assert metadata.naming_convention == new_metadata().naming_convention  # the migrations' constraint names
    assert _WidgetBase.tables.alerts is metadata.tables["alerts_sent"]
    assert {"outbox", "audit_log", "widgets"} <= set(metadata.tables)
    assert "workspace_keys" not in metadata.tables and "victim_pseudonyms" not in metadata.tables
    # Each base has its own: the other service's tables are not in this one's metadata, nor the reverse.
    assert _OtherBase.metadata is not metadata and "widgets" not in _OtherBase.metadata.tables
    assert _OtherBase.tables.victims is _OtherBase.metadata.tables["victim_pseudonyms"]


def test_only_the_declarative_base_takes_jitlib_s_table_options() -> None:
    with pytest.raises(TypeError, match="only the declarative base"):

        class _Gadget(_WidgetBase, victims=True):
            __tablename__ = "gadgets"

            id: Mapped[str] = mapped_column(String(36), primary_key=True)


@dataclass(frozen=True)
class _Addressed(AccessParties):
    origin_jurisdiction: str = "NL"
    workspace_id: str = "jit-demo"
    restricted: bool = True
    shared_with: tuple[str, ...] = ("IE",)

    def access(self) -> RecordAccess:
        return RecordAccess.of(self, addressee="DE")


def test_a_record_s_parties_are_those_of_its_access() -> None:
    assert _Addressed().parties == frozenset({"NL", "DE", "IE"}) == _Addressed().access().parties


def test_same_fields_copies_the_named_attributes_by_name() -> None:
    record = _Record()
    assert same_fields(record, "id workspace_id  version") == {
        "id": record.id,
        "workspace_id": "jit-demo",
        "version": 4,
    }
    assert common_pb2.Actor(**same_fields(NL, "user_id username jurisdiction")) == common_pb2.Actor(
        user_id="u-nl", username="nl-liaison", jurisdiction="NL"
    )
    assert same_fields(record, "") == {}


def test_same_fields_refuses_a_name_the_source_lacks() -> None:
    with pytest.raises(AttributeError):
        same_fields(_Record(), "id no_such_field")


@pytest.mark.parametrize(
    ("visibility", "restricted"),
    [
        (common_pb2.VISIBILITY_WORKSPACE, False),
        (common_pb2.VISIBILITY_RESTRICTED, True),
        (common_pb2.VISIBILITY_UNSPECIFIED, True),
        (99, True),  # a value this build does not know keeps the record restricted
    ],
)
def test_record_access_from_pb_reads_who_may_see_a_record(visibility: int, restricted: bool) -> None:
    msg = tasks_pb2.Task(
        id="t-1", workspace_id="jit-demo", origin_jurisdiction="NL", version=3, shared_with=["DE"], title="x"
    )
    msg.visibility = visibility  # type: ignore[assignment]
    assert record_access_from_pb(msg) == {
        "id": "t-1",
        "workspace_id": "jit-demo",
        "origin_jurisdiction": "NL",
        "version": 3,
        "restricted": restricted,
        "shared_with": ("DE",),
    }


def test_an_rpc_starts_from_its_runtime_its_caller_and_the_time_of_the_call() -> None:
    caller = Principal("u-nl", "nl-liaison", "NL", frozenset({"police_liaison"}), frozenset({"jit-demo"}))
    rt = SimpleNamespace(clock=ManualClock(T0))
    token = auth.bind(caller)
    try:
        assert Runtime.call(rt) == (rt, caller, T0)  # type: ignore[arg-type]
    finally:
        auth.unbind(token)


def test_an_rpc_without_a_caller_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated):
        Runtime.call(SimpleNamespace(clock=ManualClock(T0)))  # type: ignore[arg-type]


def test_an_envelope_must_describe_the_record_its_state_carries() -> None:
    record = _Record()
    env = EVENTS.envelope(record, common_pb2.Actor(), "created", ["NL"], T0)
    assert description_problem(env, record) == ""
    for other in (
        replace(record, id="another"),
        replace(record, workspace_id="ws-2"),
        replace(record, origin_jurisdiction="DE"),
    ):
        assert description_problem(env, other) == "the envelope does not describe the record its state carries"
    assert description_problem(env, replace(record, version=5)) == "the envelope's version is not the record's"


def test_a_system_path_s_audience_is_the_workspace_s_members_or_the_record_s_parties() -> None:
    known = SimpleNamespace(members=frozenset({"NL", "DE", "IE"}), is_open=False)
    directory = SimpleNamespace(get=lambda ws: known if ws == "jit-demo" else None)
    rt = SimpleNamespace(workspaces=directory)
    # A closed workspace is not refused here: a clock or a consumer goes on in it.
    assert Runtime.members_of(rt, _Record()) == {"NL", "DE", "IE"}  # type: ignore[arg-type]
    unheard = replace(_Record(), workspace_id="not-yet-heard-of", shared_with=("FR",))
    assert Runtime.members_of(rt, unheard) == {"NL", "DE", "FR"}  # type: ignore[arg-type]
