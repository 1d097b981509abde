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

class PreservationOrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESERVATION_ORDER_STATE_UNSPECIFIED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_DRAFT: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_ISSUED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_CONFIRMED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_EXTENDED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_PRODUCED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_EXPIRED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_LIFTED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_NOT_EXECUTED: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_IN_ENFORCEMENT: _ClassVar[PreservationOrderState]
    PRESERVATION_ORDER_STATE_NOT_ENFORCED: _ClassVar[PreservationOrderState]

class EnforcementRefusalGround(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENFORCEMENT_REFUSAL_GROUND_UNSPECIFIED: _ClassVar[EnforcementRefusalGround]
    ENFORCEMENT_REFUSAL_GROUND_NOT_ISSUED_BY_COMPETENT_AUTHORITY: _ClassVar[EnforcementRefusalGround]
    ENFORCEMENT_REFUSAL_GROUND_OFFENCE_NOT_COVERED: _ClassVar[EnforcementRefusalGround]
    ENFORCEMENT_REFUSAL_GROUND_IMPOSSIBLE_OR_MANIFEST_ERRORS: _ClassVar[EnforcementRefusalGround]
    ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED: _ClassVar[EnforcementRefusalGround]
    ENFORCEMENT_REFUSAL_GROUND_SERVICE_NOT_COVERED: _ClassVar[EnforcementRefusalGround]
    ENFORCEMENT_REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE: _ClassVar[EnforcementRefusalGround]
    ENFORCEMENT_REFUSAL_GROUND_FUNDAMENTAL_RIGHTS: _ClassVar[EnforcementRefusalGround]

class LegalBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEGAL_BASIS_UNSPECIFIED: _ClassVar[LegalBasis]
    LEGAL_BASIS_EPOC_PR: _ClassVar[LegalBasis]
    LEGAL_BASIS_BUDAPEST_ART29: _ClassVar[LegalBasis]
    LEGAL_BASIS_PROVIDER_VOLUNTARY: _ClassVar[LegalBasis]
    LEGAL_BASIS_NATIONAL: _ClassVar[LegalBasis]

class TargetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TARGET_KIND_UNSPECIFIED: _ClassVar[TargetKind]
    TARGET_KIND_ACCOUNT_HANDLE: _ClassVar[TargetKind]
    TARGET_KIND_URL: _ClassVar[TargetKind]
    TARGET_KIND_PHONE_NUMBER: _ClassVar[TargetKind]
    TARGET_KIND_EMAIL: _ClassVar[TargetKind]

class DataCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_CATEGORY_UNSPECIFIED: _ClassVar[DataCategory]
    DATA_CATEGORY_SUBSCRIBER: _ClassVar[DataCategory]
    DATA_CATEGORY_TRAFFIC: _ClassVar[DataCategory]
    DATA_CATEGORY_CONTENT: _ClassVar[DataCategory]

class NotExecutedReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOT_EXECUTED_REASON_UNSPECIFIED: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_INCOMPLETE: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_MANIFEST_ERRORS: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_INSUFFICIENT_INFORMATION: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_DATA_NOT_HELD: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_DE_FACTO_IMPOSSIBLE: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_INVALID_ISSUING_AUTHORITY: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_NOT_COVERED: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_IMMUNITIES: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_CONFLICT_OF_LAW: _ClassVar[NotExecutedReason]
    NOT_EXECUTED_REASON_OTHER: _ClassVar[NotExecutedReason]

class UserNoticeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USER_NOTICE_STATUS_UNSPECIFIED: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_NOT_APPLICABLE: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_PENDING: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_SUPPRESSED: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_SENT: _ClassVar[UserNoticeStatus]

class WarningKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WARNING_KIND_UNSPECIFIED: _ClassVar[WarningKind]
    WARNING_KIND_BEFORE_EXPIRY: _ClassVar[WarningKind]
    WARNING_KIND_AT_EXPIRY: _ClassVar[WarningKind]
    WARNING_KIND_PRODUCTION_ENDED: _ClassVar[WarningKind]
    WARNING_KIND_PRODUCTION_NOT_COUNTED: _ClassVar[WarningKind]
    WARNING_KIND_NOTICE_SUPPRESSION_ENDING: _ClassVar[WarningKind]
    WARNING_KIND_NOTICE_SUPPRESSION_LAPSED: _ClassVar[WarningKind]
    WARNING_KIND_ENFORCEMENT_DECISION_DUE: _ClassVar[WarningKind]
    WARNING_KIND_ENFORCEMENT_DECISION_PASSED: _ClassVar[WarningKind]

class ProductionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCTION_OUTCOME_UNSPECIFIED: _ClassVar[ProductionOutcome]
    PRODUCTION_OUTCOME_REFUSED: _ClassVar[ProductionOutcome]
    PRODUCTION_OUTCOME_WITHDRAWN: _ClassVar[ProductionOutcome]
    PRODUCTION_OUTCOME_NOT_EXECUTED: _ClassVar[ProductionOutcome]
    PRODUCTION_OUTCOME_NOT_COUNTED: _ClassVar[ProductionOutcome]
PRESERVATION_ORDER_STATE_UNSPECIFIED: PreservationOrderState
PRESERVATION_ORDER_STATE_DRAFT: PreservationOrderState
PRESERVATION_ORDER_STATE_ISSUED: PreservationOrderState
PRESERVATION_ORDER_STATE_CONFIRMED: PreservationOrderState
PRESERVATION_ORDER_STATE_EXTENDED: PreservationOrderState
PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED: PreservationOrderState
PRESERVATION_ORDER_STATE_PRODUCED: PreservationOrderState
PRESERVATION_ORDER_STATE_EXPIRED: PreservationOrderState
PRESERVATION_ORDER_STATE_LIFTED: PreservationOrderState
PRESERVATION_ORDER_STATE_NOT_EXECUTED: PreservationOrderState
PRESERVATION_ORDER_STATE_IN_ENFORCEMENT: PreservationOrderState
PRESERVATION_ORDER_STATE_NOT_ENFORCED: PreservationOrderState
ENFORCEMENT_REFUSAL_GROUND_UNSPECIFIED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_NOT_ISSUED_BY_COMPETENT_AUTHORITY: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_OFFENCE_NOT_COVERED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_IMPOSSIBLE_OR_MANIFEST_ERRORS: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_SERVICE_NOT_COVERED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_FUNDAMENTAL_RIGHTS: EnforcementRefusalGround
LEGAL_BASIS_UNSPECIFIED: LegalBasis
LEGAL_BASIS_EPOC_PR: LegalBasis
LEGAL_BASIS_BUDAPEST_ART29: LegalBasis
LEGAL_BASIS_PROVIDER_VOLUNTARY: LegalBasis
LEGAL_BASIS_NATIONAL: LegalBasis
TARGET_KIND_UNSPECIFIED: TargetKind
TARGET_KIND_ACCOUNT_HANDLE: TargetKind
TARGET_KIND_URL: TargetKind
TARGET_KIND_PHONE_NUMBER: TargetKind
TARGET_KIND_EMAIL: TargetKind
DATA_CATEGORY_UNSPECIFIED: DataCategory
DATA_CATEGORY_SUBSCRIBER: DataCategory
DATA_CATEGORY_TRAFFIC: DataCategory
DATA_CATEGORY_CONTENT: DataCategory
NOT_EXECUTED_REASON_UNSPECIFIED: NotExecutedReason
NOT_EXECUTED_REASON_INCOMPLETE: NotExecutedReason
NOT_EXECUTED_REASON_MANIFEST_ERRORS: NotExecutedReason
NOT_EXECUTED_REASON_INSUFFICIENT_INFORMATION: NotExecutedReason
NOT_EXECUTED_REASON_DATA_NOT_HELD: NotExecutedReason
NOT_EXECUTED_REASON_DE_FACTO_IMPOSSIBLE: NotExecutedReason
NOT_EXECUTED_REASON_INVALID_ISSUING_AUTHORITY: NotExecutedReason
NOT_EXECUTED_REASON_NOT_COVERED: NotExecutedReason
NOT_EXECUTED_REASON_IMMUNITIES: NotExecutedReason
NOT_EXECUTED_REASON_CONFLICT_OF_LAW: NotExecutedReason
NOT_EXECUTED_REASON_OTHER: NotExecutedReason
USER_NOTICE_STATUS_UNSPECIFIED: UserNoticeStatus
USER_NOTICE_STATUS_NOT_APPLICABLE: UserNoticeStatus
USER_NOTICE_STATUS_PENDING: UserNoticeStatus
USER_NOTICE_STATUS_SUPPRESSED: UserNoticeStatus
USER_NOTICE_STATUS_SENT: UserNoticeStatus
WARNING_KIND_UNSPECIFIED: WarningKind
WARNING_KIND_BEFORE_EXPIRY: WarningKind
WARNING_KIND_AT_EXPIRY: WarningKind
WARNING_KIND_PRODUCTION_ENDED: WarningKind
WARNING_KIND_PRODUCTION_NOT_COUNTED: WarningKind
WARNING_KIND_NOTICE_SUPPRESSION_ENDING: WarningKind
WARNING_KIND_NOTICE_SUPPRESSION_LAPSED: WarningKind
WARNING_KIND_ENFORCEMENT_DECISION_DUE: WarningKind
WARNING_KIND_ENFORCEMENT_DECISION_PASSED: WarningKind
PRODUCTION_OUTCOME_UNSPECIFIED: ProductionOutcome
PRODUCTION_OUTCOME_REFUSED: ProductionOutcome
PRODUCTION_OUTCOME_WITHDRAWN: ProductionOutcome
PRODUCTION_OUTCOME_NOT_EXECUTED: ProductionOutcome
PRODUCTION_OUTCOME_NOT_COUNTED: ProductionOutcome

class TargetIdentifier(_message.Message):
    __slots__ = ("kind", "value")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    kind: TargetKind
    value: str
    def __init__(self, kind: _Optional[_Union[TargetKind, str]] = ..., value: _Optional[str] = ...) -> None: ...

class PreservationOrder(_message.Message):
    __slots__ = ("id", "workspace_id", "origin_jurisdiction", "state", "version", "expires_at", "follow_up_request_id", "visibility", "shared_with", "legal_basis", "provider_id", "targets", "data_categories", "description", "provider_reference", "state_reason", "not_executed_reason", "issued_at", "confirmed_at", "extension_count", "extension_deadline", "created_by", "created_at", "updated_by", "updated_at", "confirmation_overdue", "produced_at", "replica", "allowed_actions", "received_at", "clock_stopped_at", "clock_remaining_seconds", "victim_refs", "production_requested_at", "user_notice_status", "user_notice_suppressed_until", "user_notice_suppression_lapsed", "issuer_taken_out", "enforcing_jurisdiction", "enforcement_requested_at", "enforcement_decided_at", "enforcement_refusal_ground")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    NOT_EXECUTED_REASON_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATION_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    PRODUCED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOCK_STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOCK_REMAINING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    PRODUCTION_REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_SUPPRESSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_SUPPRESSION_LAPSED_FIELD_NUMBER: _ClassVar[int]
    ISSUER_TAKEN_OUT_FIELD_NUMBER: _ClassVar[int]
    ENFORCING_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_REFUSAL_GROUND_FIELD_NUMBER: _ClassVar[int]
    id: str
    workspace_id: str
    origin_jurisdiction: str
    state: PreservationOrderState
    version: int
    expires_at: _timestamp_pb2.Timestamp
    follow_up_request_id: str
    visibility: _common_pb2.Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    legal_basis: LegalBasis
    provider_id: str
    targets: _containers.RepeatedCompositeFieldContainer[TargetIdentifier]
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    description: str
    provider_reference: str
    state_reason: str
    not_executed_reason: NotExecutedReason
    issued_at: _timestamp_pb2.Timestamp
    confirmed_at: _timestamp_pb2.Timestamp
    extension_count: int
    extension_deadline: _timestamp_pb2.Timestamp
    created_by: _common_pb2.Actor
    created_at: _timestamp_pb2.Timestamp
    updated_by: _common_pb2.Actor
    updated_at: _timestamp_pb2.Timestamp
    confirmation_overdue: bool
    produced_at: _timestamp_pb2.Timestamp
    replica: _common_pb2.Replica
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    received_at: _timestamp_pb2.Timestamp
    clock_stopped_at: _timestamp_pb2.Timestamp
    clock_remaining_seconds: int
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    production_requested_at: _timestamp_pb2.Timestamp
    user_notice_status: UserNoticeStatus
    user_notice_suppressed_until: _timestamp_pb2.Timestamp
    user_notice_suppression_lapsed: bool
    issuer_taken_out: bool
    enforcing_jurisdiction: str
    enforcement_requested_at: _timestamp_pb2.Timestamp
    enforcement_decided_at: _timestamp_pb2.Timestamp
    enforcement_refusal_ground: EnforcementRefusalGround
    def __init__(self, id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., state: _Optional[_Union[PreservationOrderState, str]] = ..., version: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., follow_up_request_id: _Optional[str] = ..., visibility: _Optional[_Union[_common_pb2.Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., provider_id: _Optional[str] = ..., targets: _Optional[_Iterable[_Union[TargetIdentifier, _Mapping]]] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ..., description: _Optional[str] = ..., provider_reference: _Optional[str] = ..., state_reason: _Optional[str] = ..., not_executed_reason: _Optional[_Union[NotExecutedReason, str]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., extension_count: _Optional[int] = ..., extension_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confirmation_overdue: _Optional[bool] = ..., produced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replica: _Optional[_Union[_common_pb2.Replica, _Mapping]] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., clock_stopped_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., clock_remaining_seconds: _Optional[int] = ..., victim_refs: _Optional[_Iterable[str]] = ..., production_requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_notice_status: _Optional[_Union[UserNoticeStatus, str]] = ..., user_notice_suppressed_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_notice_suppression_lapsed: _Optional[bool] = ..., issuer_taken_out: _Optional[bool] = ..., enforcing_jurisdiction: _Optional[str] = ..., enforcement_requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enforcement_decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enforcement_refusal_ground: _Optional[_Union[EnforcementRefusalGround, str]] = ...) -> None: ...

class ExpiryWarning(_message.Message):
    __slots__ = ("order", "offset_seconds", "expires_at", "first", "due_at", "kind", "reason", "production_request_id", "production_outcome")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    OFFSET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PRODUCTION_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCTION_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    offset_seconds: int
    expires_at: _timestamp_pb2.Timestamp
    first: bool
    due_at: _timestamp_pb2.Timestamp
    kind: WarningKind
    reason: str
    production_request_id: str
    production_outcome: ProductionOutcome
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ..., offset_seconds: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first: _Optional[bool] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[WarningKind, str]] = ..., reason: _Optional[str] = ..., production_request_id: _Optional[str] = ..., production_outcome: _Optional[_Union[ProductionOutcome, str]] = ...) -> None: ...

class Provider(_message.Message):
    __slots__ = ("id", "name", "establishment_jurisdiction", "legal_representative", "preferred_channel", "preservation_period_days", "extension_days", "extension_min_notice_days", "max_extensions", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ESTABLISHMENT_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REPRESENTATIVE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PRESERVATION_PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_DAYS_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_MIN_NOTICE_DAYS_FIELD_NUMBER: _ClassVar[int]
    MAX_EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    establishment_jurisdiction: str
    legal_representative: str
    preferred_channel: str
    preservation_period_days: int
    extension_days: int
    extension_min_notice_days: int
    max_extensions: int
    source: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., establishment_jurisdiction: _Optional[str] = ..., legal_representative: _Optional[str] = ..., preferred_channel: _Optional[str] = ..., preservation_period_days: _Optional[int] = ..., extension_days: _Optional[int] = ..., extension_min_notice_days: _Optional[int] = ..., max_extensions: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class CreateOrderRequest(_message.Message):
    __slots__ = ("request_id", "workspace_id", "legal_basis", "provider_id", "targets", "data_categories", "description", "visibility", "shared_with", "victim_refs", "user_notice_status", "user_notice_suppressed_until")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_SUPPRESSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    workspace_id: str
    legal_basis: LegalBasis
    provider_id: str
    targets: _containers.RepeatedCompositeFieldContainer[TargetIdentifier]
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    description: str
    visibility: _common_pb2.Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    user_notice_status: UserNoticeStatus
    user_notice_suppressed_until: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., provider_id: _Optional[str] = ..., targets: _Optional[_Iterable[_Union[TargetIdentifier, _Mapping]]] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ..., description: _Optional[str] = ..., visibility: _Optional[_Union[_common_pb2.Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ..., victim_refs: _Optional[_Iterable[str]] = ..., user_notice_status: _Optional[_Union[UserNoticeStatus, str]] = ..., user_notice_suppressed_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("workspace_id", "states", "provider_id", "expires_after", "expires_before", "confirmation_overdue_only", "page_size", "page_token", "victim_ref")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATION_OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    states: _containers.RepeatedScalarFieldContainer[PreservationOrderState]
    provider_id: str
    expires_after: _timestamp_pb2.Timestamp
    expires_before: _timestamp_pb2.Timestamp
    confirmation_overdue_only: bool
    page_size: int
    page_token: str
    victim_ref: str
    def __init__(self, workspace_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[PreservationOrderState, str]]] = ..., provider_id: _Optional[str] = ..., expires_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confirmation_overdue_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., victim_ref: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[PreservationOrder]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[PreservationOrder, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class IssueOrderRequest(_message.Message):
    __slots__ = ("id", "expected_version", "issued_at", "received_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    issued_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IssueOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class ConfirmOrderRequest(_message.Message):
    __slots__ = ("id", "expected_version", "confirmed_at", "provider_reference", "received_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    confirmed_at: _timestamp_pb2.Timestamp
    provider_reference: str
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provider_reference: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfirmOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class ExtendOrderRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ExtendOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class MarkProductionRequestedRequest(_message.Message):
    __slots__ = ("id", "expected_version", "follow_up_request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    follow_up_request_id: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., follow_up_request_id: _Optional[str] = ...) -> None: ...

class MarkProductionRequestedResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class MarkProducedRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class MarkProducedResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class LiftOrderRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class LiftOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class RecordNotExecutedRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason", "details")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: NotExecutedReason
    details: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[_Union[NotExecutedReason, str]] = ..., details: _Optional[str] = ...) -> None: ...

class RecordNotExecutedResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class UpdateUserNoticeRequest(_message.Message):
    __slots__ = ("id", "expected_version", "status", "suppressed_until")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    status: UserNoticeStatus
    suppressed_until: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., status: _Optional[_Union[UserNoticeStatus, str]] = ..., suppressed_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpdateUserNoticeResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class TransferForEnforcementRequest(_message.Message):
    __slots__ = ("id", "expected_version", "enforcing_jurisdiction", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENFORCING_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    enforcing_jurisdiction: str
    note: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., enforcing_jurisdiction: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class TransferForEnforcementResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class RecogniseEnforcementRequest(_message.Message):
    __slots__ = ("id", "expected_version", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    note: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class RecogniseEnforcementResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class RefuseEnforcementRequest(_message.Message):
    __slots__ = ("id", "expected_version", "ground", "detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    GROUND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    ground: EnforcementRefusalGround
    detail: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., ground: _Optional[_Union[EnforcementRefusalGround, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class RefuseEnforcementResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: PreservationOrder
    def __init__(self, order: _Optional[_Union[PreservationOrder, _Mapping]] = ...) -> None: ...

class ListProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[Provider]
    def __init__(self, providers: _Optional[_Iterable[_Union[Provider, _Mapping]]] = ...) -> None: ...

class GetProviderRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetProviderResponse(_message.Message):
    __slots__ = ("provider",)
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    provider: Provider
    def __init__(self, provider: _Optional[_Union[Provider, _Mapping]] = ...) -> None: ...
