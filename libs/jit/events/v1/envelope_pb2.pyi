import datetime

from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from jit.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("id", "type", "occurred_at", "workspace_id", "origin_jurisdiction", "audience", "aggregate_type", "aggregate_id", "aggregate_version", "actor", "state", "withdrawn_from", "resent_to", "field_audiences")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FROM_FIELD_NUMBER: _ClassVar[int]
    RESENT_TO_FIELD_NUMBER: _ClassVar[int]
    FIELD_AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    workspace_id: str
    origin_jurisdiction: str
    audience: _containers.RepeatedScalarFieldContainer[str]
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    actor: _common_pb2.Actor
    state: _any_pb2.Any
    withdrawn_from: _containers.RepeatedScalarFieldContainer[str]
    resent_to: _containers.RepeatedScalarFieldContainer[str]
    field_audiences: _containers.RepeatedCompositeFieldContainer[FieldAudience]
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., workspace_id: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., audience: _Optional[_Iterable[str]] = ..., aggregate_type: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., aggregate_version: _Optional[int] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., state: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., withdrawn_from: _Optional[_Iterable[str]] = ..., resent_to: _Optional[_Iterable[str]] = ..., field_audiences: _Optional[_Iterable[_Union[FieldAudience, _Mapping]]] = ...) -> None: ...

class FieldAudience(_message.Message):
    __slots__ = ("path", "audience")
    PATH_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    path: str
    audience: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, path: _Optional[str] = ..., audience: _Optional[_Iterable[str]] = ...) -> None: ...
