import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetScorecardRequest(_message.Message):
    __slots__ = ("workspace_id", "period_start", "period_end", "k")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    k: int
    def __init__(self, workspace_id: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., k: _Optional[int] = ...) -> None: ...

class AnswerFigures(_message.Message):
    __slots__ = ("kind", "suppressed", "asked", "answered", "median_seconds", "p90_seconds", "decided", "share_late")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    ASKED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P90_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_FIELD_NUMBER: _ClassVar[int]
    SHARE_LATE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    suppressed: bool
    asked: int
    answered: int
    median_seconds: float
    p90_seconds: float
    decided: int
    share_late: float
    def __init__(self, kind: _Optional[str] = ..., suppressed: _Optional[bool] = ..., asked: _Optional[int] = ..., answered: _Optional[int] = ..., median_seconds: _Optional[float] = ..., p90_seconds: _Optional[float] = ..., decided: _Optional[int] = ..., share_late: _Optional[float] = ...) -> None: ...

class RefusalCount(_message.Message):
    __slots__ = ("refused", "reason", "suppressed", "count")
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    refused: str
    reason: str
    suppressed: bool
    count: int
    def __init__(self, refused: _Optional[str] = ..., reason: _Optional[str] = ..., suppressed: _Optional[bool] = ..., count: _Optional[int] = ...) -> None: ...

class PlatformScore(_message.Message):
    __slots__ = ("provider_id", "provider_name", "answers", "refusals", "reuploads_suppressed", "reuploads")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    REUPLOADS_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    REUPLOADS_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    provider_name: str
    answers: _containers.RepeatedCompositeFieldContainer[AnswerFigures]
    refusals: _containers.RepeatedCompositeFieldContainer[RefusalCount]
    reuploads_suppressed: bool
    reuploads: int
    def __init__(self, provider_id: _Optional[str] = ..., provider_name: _Optional[str] = ..., answers: _Optional[_Iterable[_Union[AnswerFigures, _Mapping]]] = ..., refusals: _Optional[_Iterable[_Union[RefusalCount, _Mapping]]] = ..., reuploads_suppressed: _Optional[bool] = ..., reuploads: _Optional[int] = ...) -> None: ...

class GetScorecardResponse(_message.Message):
    __slots__ = ("k", "platforms", "workspace_ids", "computed_at")
    K_FIELD_NUMBER: _ClassVar[int]
    PLATFORMS_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_IDS_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    k: int
    platforms: _containers.RepeatedCompositeFieldContainer[PlatformScore]
    workspace_ids: _containers.RepeatedScalarFieldContainer[str]
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, k: _Optional[int] = ..., platforms: _Optional[_Iterable[_Union[PlatformScore, _Mapping]]] = ..., workspace_ids: _Optional[_Iterable[str]] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
