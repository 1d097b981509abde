import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from jit.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RemovalRequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REMOVAL_REQUEST_STATE_UNSPECIFIED: _ClassVar[RemovalRequestState]
    REMOVAL_REQUEST_STATE_SENT: _ClassVar[RemovalRequestState]
    REMOVAL_REQUEST_STATE_ACKNOWLEDGED: _ClassVar[RemovalRequestState]
    REMOVAL_REQUEST_STATE_REMOVED: _ClassVar[RemovalRequestState]
    REMOVAL_REQUEST_STATE_GEO_BLOCKED: _ClassVar[RemovalRequestState]
    REMOVAL_REQUEST_STATE_REFUSED: _ClassVar[RemovalRequestState]
    REMOVAL_REQUEST_STATE_APPEALED: _ClassVar[RemovalRequestState]
    REMOVAL_REQUEST_STATE_RESTORED: _ClassVar[RemovalRequestState]

class RemovalBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REMOVAL_BASIS_UNSPECIFIED: _ClassVar[RemovalBasis]
    REMOVAL_BASIS_DSA_ART9_ORDER: _ClassVar[RemovalBasis]
    REMOVAL_BASIS_NATIONAL_ORDER: _ClassVar[RemovalBasis]
    REMOVAL_BASIS_DSA_ART22_TRUSTED_FLAGGER: _ClassVar[RemovalBasis]
    REMOVAL_BASIS_DSA_ART16_NOTICE: _ClassVar[RemovalBasis]

class RefusalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUSAL_REASON_UNSPECIFIED: _ClassVar[RefusalReason]
    REFUSAL_REASON_NOT_ILLEGAL: _ClassVar[RefusalReason]
    REFUSAL_REASON_NOT_FOUND: _ClassVar[RefusalReason]
    REFUSAL_REASON_INSUFFICIENT_INFORMATION: _ClassVar[RefusalReason]
    REFUSAL_REASON_OUT_OF_SCOPE: _ClassVar[RefusalReason]
    REFUSAL_REASON_OTHER: _ClassVar[RefusalReason]
REMOVAL_REQUEST_STATE_UNSPECIFIED: RemovalRequestState
REMOVAL_REQUEST_STATE_SENT: RemovalRequestState
REMOVAL_REQUEST_STATE_ACKNOWLEDGED: RemovalRequestState
REMOVAL_REQUEST_STATE_REMOVED: RemovalRequestState
REMOVAL_REQUEST_STATE_GEO_BLOCKED: RemovalRequestState
REMOVAL_REQUEST_STATE_REFUSED: RemovalRequestState
REMOVAL_REQUEST_STATE_APPEALED: RemovalRequestState
REMOVAL_REQUEST_STATE_RESTORED: RemovalRequestState
REMOVAL_BASIS_UNSPECIFIED: RemovalBasis
REMOVAL_BASIS_DSA_ART9_ORDER: RemovalBasis
REMOVAL_BASIS_NATIONAL_ORDER: RemovalBasis
REMOVAL_BASIS_DSA_ART22_TRUSTED_FLAGGER: RemovalBasis
REMOVAL_BASIS_DSA_ART16_NOTICE: RemovalBasis
REFUSAL_REASON_UNSPECIFIED: RefusalReason
REFUSAL_REASON_NOT_ILLEGAL: RefusalReason
REFUSAL_REASON_NOT_FOUND: RefusalReason
REFUSAL_REASON_INSUFFICIENT_INFORMATION: RefusalReason
REFUSAL_REASON_OUT_OF_SCOPE: RefusalReason
REFUSAL_REASON_OTHER: RefusalReason

class ContentItem(_message.Message):
    __slots__ = ("url", "platform_item_id", "account", "sha256")
    URL_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    url: str
    platform_item_id: str
    account: str
    sha256: str
    def __init__(self, url: _Optional[str] = ..., platform_item_id: _Optional[str] = ..., account: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class Reupload(_message.Message):
    __slots__ = ("sha256", "url", "seen_at", "recorded_by")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    url: str
    seen_at: _timestamp_pb2.Timestamp
    recorded_by: _common_pb2.Actor
    def __init__(self, sha256: _Optional[str] = ..., url: _Optional[str] = ..., seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ...) -> None: ...

class RemovalRequest(_message.Message):
    __slots__ = ("id", "workspace_id", "origin_jurisdiction", "state", "version", "basis", "national_jurisdiction", "provider_id", "items", "sent_at", "due_at", "clock_seconds", "clock_source", "acknowledged_at", "decided_at", "answered_at", "removed_at", "past_due", "refusal_reason", "state_reason", "blocked_in", "reupload_count", "reuploads", "preservation_order_id", "proceed_without_preservation_reason", "victim_refs", "created_by", "created_at", "updated_by", "updated_at", "replica", "allowed_actions", "visibility", "shared_with")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    NATIONAL_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    CLOCK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_SOURCE_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_AT_FIELD_NUMBER: _ClassVar[int]
    PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_IN_FIELD_NUMBER: _ClassVar[int]
    REUPLOAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    REUPLOADS_FIELD_NUMBER: _ClassVar[int]
    PRESERVATION_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROCEED_WITHOUT_PRESERVATION_REASON_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    id: str
    workspace_id: str
    origin_jurisdiction: str
    state: RemovalRequestState
    version: int
    basis: RemovalBasis
    national_jurisdiction: str
    provider_id: str
    items: _containers.RepeatedCompositeFieldContainer[ContentItem]
    sent_at: _timestamp_pb2.Timestamp
    due_at: _timestamp_pb2.Timestamp
    clock_seconds: int
    clock_source: str
    acknowledged_at: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    answered_at: _timestamp_pb2.Timestamp
    removed_at: _timestamp_pb2.Timestamp
    past_due: bool
    refusal_reason: RefusalReason
    state_reason: str
    blocked_in: _containers.RepeatedScalarFieldContainer[str]
    reupload_count: int
    reuploads: _containers.RepeatedCompositeFieldContainer[Reupload]
    preservation_order_id: str
    proceed_without_preservation_reason: str
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    created_by: _common_pb2.Actor
    created_at: _timestamp_pb2.Timestamp
    updated_by: _common_pb2.Actor
    updated_at: _timestamp_pb2.Timestamp
    replica: _common_pb2.Replica
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    visibility: _common_pb2.Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., state: _Optional[_Union[RemovalRequestState, str]] = ..., version: _Optional[int] = ..., basis: _Optional[_Union[RemovalBasis, str]] = ..., national_jurisdiction: _Optional[str] = ..., provider_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[ContentItem, _Mapping]]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., clock_seconds: _Optional[int] = ..., clock_source: _Optional[str] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., removed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., past_due: _Optional[bool] = ..., refusal_reason: _Optional[_Union[RefusalReason, str]] = ..., state_reason: _Optional[str] = ..., blocked_in: _Optional[_Iterable[str]] = ..., reupload_count: _Optional[int] = ..., reuploads: _Optional[_Iterable[_Union[Reupload, _Mapping]]] = ..., preservation_order_id: _Optional[str] = ..., proceed_without_preservation_reason: _Optional[str] = ..., victim_refs: _Optional[_Iterable[str]] = ..., created_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replica: _Optional[_Union[_common_pb2.Replica, _Mapping]] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., visibility: _Optional[_Union[_common_pb2.Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRemovalRequest(_message.Message):
    __slots__ = ("request_id", "workspace_id", "basis", "national_jurisdiction", "provider_id", "items", "sent_at", "preservation_order_id", "proceed_without_preservation_reason", "victim_refs")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    NATIONAL_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    PRESERVATION_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROCEED_WITHOUT_PRESERVATION_REASON_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    workspace_id: str
    basis: RemovalBasis
    national_jurisdiction: str
    provider_id: str
    items: _containers.RepeatedCompositeFieldContainer[ContentItem]
    sent_at: _timestamp_pb2.Timestamp
    preservation_order_id: str
    proceed_without_preservation_reason: str
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., basis: _Optional[_Union[RemovalBasis, str]] = ..., national_jurisdiction: _Optional[str] = ..., provider_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[ContentItem, _Mapping]]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., preservation_order_id: _Optional[str] = ..., proceed_without_preservation_reason: _Optional[str] = ..., victim_refs: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRemovalResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class GetRemovalRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRemovalResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class ListRemovalsRequest(_message.Message):
    __slots__ = ("workspace_id", "states", "provider_id", "victim_ref", "page_size", "page_token")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    states: _containers.RepeatedScalarFieldContainer[RemovalRequestState]
    provider_id: str
    victim_ref: str
    page_size: int
    page_token: str
    def __init__(self, workspace_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[RemovalRequestState, str]]] = ..., provider_id: _Optional[str] = ..., victim_ref: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRemovalsResponse(_message.Message):
    __slots__ = ("removals", "next_page_token")
    REMOVALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    removals: _containers.RepeatedCompositeFieldContainer[RemovalRequest]
    next_page_token: str
    def __init__(self, removals: _Optional[_Iterable[_Union[RemovalRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AcknowledgeRemovalRequest(_message.Message):
    __slots__ = ("id", "expected_version", "answered_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    answered_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AcknowledgeRemovalResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class RecordRemovedRequest(_message.Message):
    __slots__ = ("id", "expected_version", "answered_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    answered_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordRemovedResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class RecordGeoBlockedRequest(_message.Message):
    __slots__ = ("id", "expected_version", "answered_at", "blocked_in")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_IN_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    answered_at: _timestamp_pb2.Timestamp
    blocked_in: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., blocked_in: _Optional[_Iterable[str]] = ...) -> None: ...

class RecordGeoBlockedResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class RecordRefusedRequest(_message.Message):
    __slots__ = ("id", "expected_version", "answered_at", "reason", "details")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    answered_at: _timestamp_pb2.Timestamp
    reason: RefusalReason
    details: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[_Union[RefusalReason, str]] = ..., details: _Optional[str] = ...) -> None: ...

class RecordRefusedResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class RecordAppealedRequest(_message.Message):
    __slots__ = ("id", "expected_version", "answered_at", "details")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    answered_at: _timestamp_pb2.Timestamp
    details: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., details: _Optional[str] = ...) -> None: ...

class RecordAppealedResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class RecordRestoredRequest(_message.Message):
    __slots__ = ("id", "expected_version", "answered_at", "details")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    answered_at: _timestamp_pb2.Timestamp
    details: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., details: _Optional[str] = ...) -> None: ...

class RecordRestoredResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...

class RecordReuploadRequest(_message.Message):
    __slots__ = ("id", "expected_version", "sha256", "url", "seen_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    sha256: str
    url: str
    seen_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., sha256: _Optional[str] = ..., url: _Optional[str] = ..., seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordReuploadResponse(_message.Message):
    __slots__ = ("removal",)
    REMOVAL_FIELD_NUMBER: _ClassVar[int]
    removal: RemovalRequest
    def __init__(self, removal: _Optional[_Union[RemovalRequest, _Mapping]] = ...) -> None: ...
