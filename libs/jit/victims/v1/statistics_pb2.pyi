import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from jit.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatisticsRequest(_message.Message):
    __slots__ = ("measure", "groupings", "workspace_id", "period_start", "period_end", "k")
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    GROUPINGS_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    measure: str
    groupings: _containers.RepeatedScalarFieldContainer[str]
    workspace_id: str
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    k: int
    def __init__(self, measure: _Optional[str] = ..., groupings: _Optional[_Iterable[str]] = ..., workspace_id: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., k: _Optional[int] = ...) -> None: ...

class StatisticsCell(_message.Message):
    __slots__ = ("key", "suppressed", "count", "met", "missed", "median_seconds", "open")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MET_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    key: _containers.RepeatedScalarFieldContainer[str]
    suppressed: bool
    count: int
    met: int
    missed: int
    median_seconds: float
    open: int
    def __init__(self, key: _Optional[_Iterable[str]] = ..., suppressed: _Optional[bool] = ..., count: _Optional[int] = ..., met: _Optional[int] = ..., missed: _Optional[int] = ..., median_seconds: _Optional[float] = ..., open: _Optional[int] = ...) -> None: ...

class StatisticsTable(_message.Message):
    __slots__ = ("name", "measure", "groupings", "k", "cells", "total")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    GROUPINGS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    name: str
    measure: str
    groupings: _containers.RepeatedScalarFieldContainer[str]
    k: int
    cells: _containers.RepeatedCompositeFieldContainer[StatisticsCell]
    total: StatisticsCell
    def __init__(self, name: _Optional[str] = ..., measure: _Optional[str] = ..., groupings: _Optional[_Iterable[str]] = ..., k: _Optional[int] = ..., cells: _Optional[_Iterable[_Union[StatisticsCell, _Mapping]]] = ..., total: _Optional[_Union[StatisticsCell, _Mapping]] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ("table", "workspace_ids", "computed_at")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_IDS_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    table: StatisticsTable
    workspace_ids: _containers.RepeatedScalarFieldContainer[str]
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, table: _Optional[_Union[StatisticsTable, _Mapping]] = ..., workspace_ids: _Optional[_Iterable[str]] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportEvaluationRequest(_message.Message):
    __slots__ = ("workspace_id", "k")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    k: int
    def __init__(self, workspace_id: _Optional[str] = ..., k: _Optional[int] = ...) -> None: ...

class ExportEvaluationResponse(_message.Message):
    __slots__ = ("workspace_id", "tables", "csv", "chart_png", "computed_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    CHART_PNG_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    tables: _containers.RepeatedCompositeFieldContainer[StatisticsTable]
    csv: bytes
    chart_png: bytes
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., tables: _Optional[_Iterable[_Union[StatisticsTable, _Mapping]]] = ..., csv: _Optional[bytes] = ..., chart_png: _Optional[bytes] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SpecialCategories(_message.Message):
    __slots__ = ("gender", "age_group", "disability", "ethnicity", "socioeconomic_status")
    GENDER_FIELD_NUMBER: _ClassVar[int]
    AGE_GROUP_FIELD_NUMBER: _ClassVar[int]
    DISABILITY_FIELD_NUMBER: _ClassVar[int]
    ETHNICITY_FIELD_NUMBER: _ClassVar[int]
    SOCIOECONOMIC_STATUS_FIELD_NUMBER: _ClassVar[int]
    gender: str
    age_group: str
    disability: str
    ethnicity: str
    socioeconomic_status: str
    def __init__(self, gender: _Optional[str] = ..., age_group: _Optional[str] = ..., disability: _Optional[str] = ..., ethnicity: _Optional[str] = ..., socioeconomic_status: _Optional[str] = ...) -> None: ...

class SpecialCategoriesRecord(_message.Message):
    __slots__ = ("victim_ref", "workspace_id", "attributes", "purpose", "consent_given_at", "recorded_by", "recorded_at")
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_GIVEN_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    victim_ref: str
    workspace_id: str
    attributes: SpecialCategories
    purpose: str
    consent_given_at: _timestamp_pb2.Timestamp
    recorded_by: _common_pb2.Actor
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, victim_ref: _Optional[str] = ..., workspace_id: _Optional[str] = ..., attributes: _Optional[_Union[SpecialCategories, _Mapping]] = ..., purpose: _Optional[str] = ..., consent_given_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordSpecialCategoriesRequest(_message.Message):
    __slots__ = ("victim_ref", "consent_given", "consent_given_at", "purpose", "attributes")
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    CONSENT_GIVEN_FIELD_NUMBER: _ClassVar[int]
    CONSENT_GIVEN_AT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    victim_ref: str
    consent_given: bool
    consent_given_at: _timestamp_pb2.Timestamp
    purpose: str
    attributes: SpecialCategories
    def __init__(self, victim_ref: _Optional[str] = ..., consent_given: _Optional[bool] = ..., consent_given_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., purpose: _Optional[str] = ..., attributes: _Optional[_Union[SpecialCategories, _Mapping]] = ...) -> None: ...

class RecordSpecialCategoriesResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: SpecialCategoriesRecord
    def __init__(self, record: _Optional[_Union[SpecialCategoriesRecord, _Mapping]] = ...) -> None: ...

class GetSpecialCategoriesRequest(_message.Message):
    __slots__ = ("victim_ref", "purpose")
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    victim_ref: str
    purpose: str
    def __init__(self, victim_ref: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class GetSpecialCategoriesResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: SpecialCategoriesRecord
    def __init__(self, record: _Optional[_Union[SpecialCategoriesRecord, _Mapping]] = ...) -> None: ...

class WithdrawConsentRequest(_message.Message):
    __slots__ = ("victim_ref",)
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    victim_ref: str
    def __init__(self, victim_ref: _Optional[str] = ...) -> None: ...

class WithdrawConsentResponse(_message.Message):
    __slots__ = ("victim_ref", "destroyed_at")
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    DESTROYED_AT_FIELD_NUMBER: _ClassVar[int]
    victim_ref: str
    destroyed_at: _timestamp_pb2.Timestamp
    def __init__(self, victim_ref: _Optional[str] = ..., destroyed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
