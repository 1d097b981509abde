import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Visibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VISIBILITY_UNSPECIFIED: _ClassVar[Visibility]
    VISIBILITY_WORKSPACE: _ClassVar[Visibility]
    VISIBILITY_RESTRICTED: _ClassVar[Visibility]

class RecordKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_KIND_UNSPECIFIED: _ClassVar[RecordKind]
    RECORD_KIND_TASK: _ClassVar[RecordKind]
    RECORD_KIND_EVIDENCE_REQUEST: _ClassVar[RecordKind]
    RECORD_KIND_PRESERVATION_ORDER: _ClassVar[RecordKind]
    RECORD_KIND_EVIDENCE_ITEM: _ClassVar[RecordKind]
    RECORD_KIND_CHANNEL: _ClassVar[RecordKind]

class WorkspaceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKSPACE_STATUS_UNSPECIFIED: _ClassVar[WorkspaceStatus]
    WORKSPACE_STATUS_OPEN: _ClassVar[WorkspaceStatus]
    WORKSPACE_STATUS_CLOSED: _ClassVar[WorkspaceStatus]
VISIBILITY_UNSPECIFIED: Visibility
VISIBILITY_WORKSPACE: Visibility
VISIBILITY_RESTRICTED: Visibility
RECORD_KIND_UNSPECIFIED: RecordKind
RECORD_KIND_TASK: RecordKind
RECORD_KIND_EVIDENCE_REQUEST: RecordKind
RECORD_KIND_PRESERVATION_ORDER: RecordKind
RECORD_KIND_EVIDENCE_ITEM: RecordKind
RECORD_KIND_CHANNEL: RecordKind
WORKSPACE_STATUS_UNSPECIFIED: WorkspaceStatus
WORKSPACE_STATUS_OPEN: WorkspaceStatus
WORKSPACE_STATUS_CLOSED: WorkspaceStatus

class RecordRef(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: RecordKind
    id: str
    def __init__(self, kind: _Optional[_Union[RecordKind, str]] = ..., id: _Optional[str] = ...) -> None: ...

class Replica(_message.Message):
    __slots__ = ("owner_node", "updated_at")
    OWNER_NODE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    owner_node: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, owner_node: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Actor(_message.Message):
    __slots__ = ("user_id", "username", "jurisdiction")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    username: str
    jurisdiction: str
    def __init__(self, user_id: _Optional[str] = ..., username: _Optional[str] = ..., jurisdiction: _Optional[str] = ...) -> None: ...

class Workspace(_message.Message):
    __slots__ = ("id", "name", "lead", "members", "legal_basis", "starts_on", "ends_on", "status", "version", "closed_at", "legal_hold", "retention_years", "proceedings_closed_on", "former_members")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEAD_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    STARTS_ON_FIELD_NUMBER: _ClassVar[int]
    ENDS_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    RETENTION_YEARS_FIELD_NUMBER: _ClassVar[int]
    PROCEEDINGS_CLOSED_ON_FIELD_NUMBER: _ClassVar[int]
    FORMER_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    lead: str
    members: _containers.RepeatedScalarFieldContainer[str]
    legal_basis: str
    starts_on: str
    ends_on: str
    status: WorkspaceStatus
    version: int
    closed_at: str
    legal_hold: str
    retention_years: int
    proceedings_closed_on: str
    former_members: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., lead: _Optional[str] = ..., members: _Optional[_Iterable[str]] = ..., legal_basis: _Optional[str] = ..., starts_on: _Optional[str] = ..., ends_on: _Optional[str] = ..., status: _Optional[_Union[WorkspaceStatus, str]] = ..., version: _Optional[int] = ..., closed_at: _Optional[str] = ..., legal_hold: _Optional[str] = ..., retention_years: _Optional[int] = ..., proceedings_closed_on: _Optional[str] = ..., former_members: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkspacePeriodWarning(_message.Message):
    __slots__ = ("workspace", "label", "days_left", "ended", "channel_id", "message_id")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    workspace: Workspace
    label: str
    days_left: int
    ended: bool
    channel_id: str
    message_id: str
    def __init__(self, workspace: _Optional[_Union[Workspace, _Mapping]] = ..., label: _Optional[str] = ..., days_left: _Optional[int] = ..., ended: _Optional[bool] = ..., channel_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...
