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

class EvidenceRequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVIDENCE_REQUEST_STATE_UNSPECIFIED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_DRAFT: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_ISSUED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_ACKNOWLEDGED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_UNDER_REVIEW: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_IN_EXECUTION: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_PARTIALLY_EXECUTED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_EXECUTED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_CLOSED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_REFUSED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_NOT_EXECUTED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_WITHDRAWN: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_POSTPONED: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT: _ClassVar[EvidenceRequestState]
    EVIDENCE_REQUEST_STATE_NOT_ENFORCED: _ClassVar[EvidenceRequestState]

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
    LEGAL_BASIS_EIO: _ClassVar[LegalBasis]
    LEGAL_BASIS_MLA: _ClassVar[LegalBasis]
    LEGAL_BASIS_EPOC: _ClassVar[LegalBasis]
    LEGAL_BASIS_SAP_ART7: _ClassVar[LegalBasis]
    LEGAL_BASIS_VOLUNTARY: _ClassVar[LegalBasis]
    LEGAL_BASIS_JIT_DIRECT: _ClassVar[LegalBasis]

class EpocProcedure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EPOC_PROCEDURE_UNSPECIFIED: _ClassVar[EpocProcedure]
    EPOC_PROCEDURE_STANDARD: _ClassVar[EpocProcedure]
    EPOC_PROCEDURE_WITH_NOTIFICATION: _ClassVar[EpocProcedure]
    EPOC_PROCEDURE_EMERGENCY: _ClassVar[EpocProcedure]
    EPOC_PROCEDURE_EMERGENCY_WITH_NOTIFICATION: _ClassVar[EpocProcedure]

class AddresseeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADDRESSEE_KIND_UNSPECIFIED: _ClassVar[AddresseeKind]
    ADDRESSEE_KIND_MEMBER_STATE: _ClassVar[AddresseeKind]
    ADDRESSEE_KIND_SERVICE_PROVIDER: _ClassVar[AddresseeKind]

class DataCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_CATEGORY_UNSPECIFIED: _ClassVar[DataCategory]
    DATA_CATEGORY_SUBSCRIBER: _ClassVar[DataCategory]
    DATA_CATEGORY_TRAFFIC: _ClassVar[DataCategory]
    DATA_CATEGORY_CONTENT: _ClassVar[DataCategory]

class TargetType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TARGET_TYPE_UNSPECIFIED: _ClassVar[TargetType]
    TARGET_TYPE_ACCOUNT_HANDLE: _ClassVar[TargetType]
    TARGET_TYPE_URL: _ClassVar[TargetType]
    TARGET_TYPE_PHONE_NUMBER: _ClassVar[TargetType]
    TARGET_TYPE_EMAIL: _ClassVar[TargetType]

class OffenceCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFENCE_CATEGORY_UNSPECIFIED: _ClassVar[OffenceCategory]
    OFFENCE_CATEGORY_CYBERSTALKING: _ClassVar[OffenceCategory]
    OFFENCE_CATEGORY_CYBERHARASSMENT: _ClassVar[OffenceCategory]
    OFFENCE_CATEGORY_NON_CONSENSUAL_INTIMATE_IMAGES: _ClassVar[OffenceCategory]
    OFFENCE_CATEGORY_DOXXING: _ClassVar[OffenceCategory]
    OFFENCE_CATEGORY_INCITEMENT: _ClassVar[OffenceCategory]
    OFFENCE_CATEGORY_OTHER: _ClassVar[OffenceCategory]

class ListedOffence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LISTED_OFFENCE_UNSPECIFIED: _ClassVar[ListedOffence]
    LISTED_OFFENCE_PARTICIPATION_IN_CRIMINAL_ORGANISATION: _ClassVar[ListedOffence]
    LISTED_OFFENCE_TERRORISM: _ClassVar[ListedOffence]
    LISTED_OFFENCE_TRAFFICKING_IN_HUMAN_BEINGS: _ClassVar[ListedOffence]
    LISTED_OFFENCE_SEXUAL_EXPLOITATION_OF_CHILDREN: _ClassVar[ListedOffence]
    LISTED_OFFENCE_DRUG_TRAFFICKING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_WEAPONS_TRAFFICKING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_CORRUPTION: _ClassVar[ListedOffence]
    LISTED_OFFENCE_FRAUD: _ClassVar[ListedOffence]
    LISTED_OFFENCE_MONEY_LAUNDERING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_COUNTERFEITING_CURRENCY: _ClassVar[ListedOffence]
    LISTED_OFFENCE_COMPUTER_RELATED_CRIME: _ClassVar[ListedOffence]
    LISTED_OFFENCE_ENVIRONMENTAL_CRIME: _ClassVar[ListedOffence]
    LISTED_OFFENCE_FACILITATION_OF_UNAUTHORISED_ENTRY: _ClassVar[ListedOffence]
    LISTED_OFFENCE_MURDER_GRIEVOUS_BODILY_INJURY: _ClassVar[ListedOffence]
    LISTED_OFFENCE_ILLICIT_TRADE_IN_HUMAN_ORGANS: _ClassVar[ListedOffence]
    LISTED_OFFENCE_KIDNAPPING_HOSTAGE_TAKING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_RACISM_AND_XENOPHOBIA: _ClassVar[ListedOffence]
    LISTED_OFFENCE_ORGANISED_OR_ARMED_ROBBERY: _ClassVar[ListedOffence]
    LISTED_OFFENCE_TRAFFICKING_IN_CULTURAL_GOODS: _ClassVar[ListedOffence]
    LISTED_OFFENCE_SWINDLING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_RACKETEERING_AND_EXTORTION: _ClassVar[ListedOffence]
    LISTED_OFFENCE_COUNTERFEITING_AND_PIRACY_OF_PRODUCTS: _ClassVar[ListedOffence]
    LISTED_OFFENCE_FORGERY_OF_ADMINISTRATIVE_DOCUMENTS: _ClassVar[ListedOffence]
    LISTED_OFFENCE_FORGERY_OF_MEANS_OF_PAYMENT: _ClassVar[ListedOffence]
    LISTED_OFFENCE_HORMONAL_SUBSTANCES_TRAFFICKING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_NUCLEAR_MATERIALS_TRAFFICKING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_STOLEN_VEHICLES_TRAFFICKING: _ClassVar[ListedOffence]
    LISTED_OFFENCE_RAPE: _ClassVar[ListedOffence]
    LISTED_OFFENCE_ARSON: _ClassVar[ListedOffence]
    LISTED_OFFENCE_INTERNATIONAL_CRIMINAL_COURT_CRIMES: _ClassVar[ListedOffence]
    LISTED_OFFENCE_UNLAWFUL_SEIZURE_OF_AIRCRAFT_OR_SHIPS: _ClassVar[ListedOffence]
    LISTED_OFFENCE_SABOTAGE: _ClassVar[ListedOffence]

class Urgency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    URGENCY_UNSPECIFIED: _ClassVar[Urgency]
    URGENCY_NORMAL: _ClassVar[Urgency]
    URGENCY_URGENT: _ClassVar[Urgency]
    URGENCY_EMERGENCY: _ClassVar[Urgency]

class UserNoticeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USER_NOTICE_STATUS_UNSPECIFIED: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_NOT_APPLICABLE: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_PENDING: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_SUPPRESSED: _ClassVar[UserNoticeStatus]
    USER_NOTICE_STATUS_SENT: _ClassVar[UserNoticeStatus]

class RefusalGround(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUSAL_GROUND_UNSPECIFIED: _ClassVar[RefusalGround]
    REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE: _ClassVar[RefusalGround]
    REFUSAL_GROUND_FUNDAMENTAL_RIGHTS: _ClassVar[RefusalGround]
    REFUSAL_GROUND_NE_BIS_IN_IDEM: _ClassVar[RefusalGround]
    REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY: _ClassVar[RefusalGround]
    REFUSAL_GROUND_OTHER: _ClassVar[RefusalGround]
    REFUSAL_GROUND_NATIONAL_SECURITY: _ClassVar[RefusalGround]
    REFUSAL_GROUND_NON_CRIMINAL_PROCEEDINGS: _ClassVar[RefusalGround]
    REFUSAL_GROUND_EXTRATERRITORIALITY: _ClassVar[RefusalGround]
    REFUSAL_GROUND_MEASURE_RESTRICTED: _ClassVar[RefusalGround]
    REFUSAL_GROUND_POLITICAL_OFFENCE: _ClassVar[RefusalGround]
    REFUSAL_GROUND_FISCAL_OFFENCE: _ClassVar[RefusalGround]
    REFUSAL_GROUND_ESSENTIAL_INTERESTS: _ClassVar[RefusalGround]

class DataCategoryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_CATEGORY_STATE_UNSPECIFIED: _ClassVar[DataCategoryState]
    DATA_CATEGORY_STATE_OPEN: _ClassVar[DataCategoryState]
    DATA_CATEGORY_STATE_REFUSED: _ClassVar[DataCategoryState]
    DATA_CATEGORY_STATE_EXECUTED: _ClassVar[DataCategoryState]

class NonExecutionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NON_EXECUTION_REASON_UNSPECIFIED: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_INCOMPLETE: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_MANIFEST_ERRORS: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_INSUFFICIENT_INFORMATION: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_DATA_NOT_HELD: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_DE_FACTO_IMPOSSIBLE: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_INVALID_ISSUING_AUTHORITY: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_OFFENCE_NOT_COVERED: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_SERVICE_NOT_COVERED: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_IMMUNITIES: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_CONFLICT_OF_LAW: _ClassVar[NonExecutionReason]
    NON_EXECUTION_REASON_OTHER: _ClassVar[NonExecutionReason]

class DeadlineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEADLINE_KIND_UNSPECIFIED: _ClassVar[DeadlineKind]
    DEADLINE_KIND_ACKNOWLEDGE: _ClassVar[DeadlineKind]
    DEADLINE_KIND_DECIDE: _ClassVar[DeadlineKind]
    DEADLINE_KIND_EXECUTE: _ClassVar[DeadlineKind]
    DEADLINE_KIND_PRODUCE: _ClassVar[DeadlineKind]
    DEADLINE_KIND_REVIEW: _ClassVar[DeadlineKind]
    DEADLINE_KIND_OBJECTION: _ClassVar[DeadlineKind]
    DEADLINE_KIND_NON_DISCLOSURE: _ClassVar[DeadlineKind]
    DEADLINE_KIND_ENFORCEMENT: _ClassVar[DeadlineKind]
    DEADLINE_KIND_COMPLIANCE: _ClassVar[DeadlineKind]

class CustodyAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTODY_ACTION_UNSPECIFIED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_RECEIVED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_ACCESSED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_DOWNLOADED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_EXPORTED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_TRANSFERRED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_SEALED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_RESTRICTED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_MARKED_SENSITIVE: _ClassVar[CustodyAction]
    CUSTODY_ACTION_UNMARKED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_EXPORT_REQUESTED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_EXPORT_APPROVED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_CONSENT_RECORDED: _ClassVar[CustodyAction]
EVIDENCE_REQUEST_STATE_UNSPECIFIED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_DRAFT: EvidenceRequestState
EVIDENCE_REQUEST_STATE_ISSUED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_ACKNOWLEDGED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_UNDER_REVIEW: EvidenceRequestState
EVIDENCE_REQUEST_STATE_IN_EXECUTION: EvidenceRequestState
EVIDENCE_REQUEST_STATE_PARTIALLY_EXECUTED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_EXECUTED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_CLOSED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_REFUSED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_NOT_EXECUTED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_WITHDRAWN: EvidenceRequestState
EVIDENCE_REQUEST_STATE_POSTPONED: EvidenceRequestState
EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT: EvidenceRequestState
EVIDENCE_REQUEST_STATE_NOT_ENFORCED: EvidenceRequestState
ENFORCEMENT_REFUSAL_GROUND_UNSPECIFIED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_NOT_ISSUED_BY_COMPETENT_AUTHORITY: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_OFFENCE_NOT_COVERED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_IMPOSSIBLE_OR_MANIFEST_ERRORS: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_SERVICE_NOT_COVERED: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE: EnforcementRefusalGround
ENFORCEMENT_REFUSAL_GROUND_FUNDAMENTAL_RIGHTS: EnforcementRefusalGround
LEGAL_BASIS_UNSPECIFIED: LegalBasis
LEGAL_BASIS_EIO: LegalBasis
LEGAL_BASIS_MLA: LegalBasis
LEGAL_BASIS_EPOC: LegalBasis
LEGAL_BASIS_SAP_ART7: LegalBasis
LEGAL_BASIS_VOLUNTARY: LegalBasis
LEGAL_BASIS_JIT_DIRECT: LegalBasis
EPOC_PROCEDURE_UNSPECIFIED: EpocProcedure
EPOC_PROCEDURE_STANDARD: EpocProcedure
EPOC_PROCEDURE_WITH_NOTIFICATION: EpocProcedure
EPOC_PROCEDURE_EMERGENCY: EpocProcedure
EPOC_PROCEDURE_EMERGENCY_WITH_NOTIFICATION: EpocProcedure
ADDRESSEE_KIND_UNSPECIFIED: AddresseeKind
ADDRESSEE_KIND_MEMBER_STATE: AddresseeKind
ADDRESSEE_KIND_SERVICE_PROVIDER: AddresseeKind
DATA_CATEGORY_UNSPECIFIED: DataCategory
DATA_CATEGORY_SUBSCRIBER: DataCategory
DATA_CATEGORY_TRAFFIC: DataCategory
DATA_CATEGORY_CONTENT: DataCategory
TARGET_TYPE_UNSPECIFIED: TargetType
TARGET_TYPE_ACCOUNT_HANDLE: TargetType
TARGET_TYPE_URL: TargetType
TARGET_TYPE_PHONE_NUMBER: TargetType
TARGET_TYPE_EMAIL: TargetType
OFFENCE_CATEGORY_UNSPECIFIED: OffenceCategory
OFFENCE_CATEGORY_CYBERSTALKING: OffenceCategory
OFFENCE_CATEGORY_CYBERHARASSMENT: OffenceCategory
OFFENCE_CATEGORY_NON_CONSENSUAL_INTIMATE_IMAGES: OffenceCategory
OFFENCE_CATEGORY_DOXXING: OffenceCategory
OFFENCE_CATEGORY_INCITEMENT: OffenceCategory
OFFENCE_CATEGORY_OTHER: OffenceCategory
LISTED_OFFENCE_UNSPECIFIED: ListedOffence
LISTED_OFFENCE_PARTICIPATION_IN_CRIMINAL_ORGANISATION: ListedOffence
LISTED_OFFENCE_TERRORISM: ListedOffence
LISTED_OFFENCE_TRAFFICKING_IN_HUMAN_BEINGS: ListedOffence
LISTED_OFFENCE_SEXUAL_EXPLOITATION_OF_CHILDREN: ListedOffence
LISTED_OFFENCE_DRUG_TRAFFICKING: ListedOffence
LISTED_OFFENCE_WEAPONS_TRAFFICKING: ListedOffence
LISTED_OFFENCE_CORRUPTION: ListedOffence
LISTED_OFFENCE_FRAUD: ListedOffence
LISTED_OFFENCE_MONEY_LAUNDERING: ListedOffence
LISTED_OFFENCE_COUNTERFEITING_CURRENCY: ListedOffence
LISTED_OFFENCE_COMPUTER_RELATED_CRIME: ListedOffence
LISTED_OFFENCE_ENVIRONMENTAL_CRIME: ListedOffence
LISTED_OFFENCE_FACILITATION_OF_UNAUTHORISED_ENTRY: ListedOffence
LISTED_OFFENCE_MURDER_GRIEVOUS_BODILY_INJURY: ListedOffence
LISTED_OFFENCE_ILLICIT_TRADE_IN_HUMAN_ORGANS: ListedOffence
LISTED_OFFENCE_KIDNAPPING_HOSTAGE_TAKING: ListedOffence
LISTED_OFFENCE_RACISM_AND_XENOPHOBIA: ListedOffence
LISTED_OFFENCE_ORGANISED_OR_ARMED_ROBBERY: ListedOffence
LISTED_OFFENCE_TRAFFICKING_IN_CULTURAL_GOODS: ListedOffence
LISTED_OFFENCE_SWINDLING: ListedOffence
LISTED_OFFENCE_RACKETEERING_AND_EXTORTION: ListedOffence
LISTED_OFFENCE_COUNTERFEITING_AND_PIRACY_OF_PRODUCTS: ListedOffence
LISTED_OFFENCE_FORGERY_OF_ADMINISTRATIVE_DOCUMENTS: ListedOffence
LISTED_OFFENCE_FORGERY_OF_MEANS_OF_PAYMENT: ListedOffence
LISTED_OFFENCE_HORMONAL_SUBSTANCES_TRAFFICKING: ListedOffence
LISTED_OFFENCE_NUCLEAR_MATERIALS_TRAFFICKING: ListedOffence
LISTED_OFFENCE_STOLEN_VEHICLES_TRAFFICKING: ListedOffence
LISTED_OFFENCE_RAPE: ListedOffence
LISTED_OFFENCE_ARSON: ListedOffence
LISTED_OFFENCE_INTERNATIONAL_CRIMINAL_COURT_CRIMES: ListedOffence
LISTED_OFFENCE_UNLAWFUL_SEIZURE_OF_AIRCRAFT_OR_SHIPS: ListedOffence
LISTED_OFFENCE_SABOTAGE: ListedOffence
URGENCY_UNSPECIFIED: Urgency
URGENCY_NORMAL: Urgency
URGENCY_URGENT: Urgency
URGENCY_EMERGENCY: Urgency
USER_NOTICE_STATUS_UNSPECIFIED: UserNoticeStatus
USER_NOTICE_STATUS_NOT_APPLICABLE: UserNoticeStatus
USER_NOTICE_STATUS_PENDING: UserNoticeStatus
USER_NOTICE_STATUS_SUPPRESSED: UserNoticeStatus
USER_NOTICE_STATUS_SENT: UserNoticeStatus
REFUSAL_GROUND_UNSPECIFIED: RefusalGround
REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE: RefusalGround
REFUSAL_GROUND_FUNDAMENTAL_RIGHTS: RefusalGround
REFUSAL_GROUND_NE_BIS_IN_IDEM: RefusalGround
REFUSAL_GROUND_NO_DOUBLE_CRIMINALITY: RefusalGround
REFUSAL_GROUND_OTHER: RefusalGround
REFUSAL_GROUND_NATIONAL_SECURITY: RefusalGround
REFUSAL_GROUND_NON_CRIMINAL_PROCEEDINGS: RefusalGround
REFUSAL_GROUND_EXTRATERRITORIALITY: RefusalGround
REFUSAL_GROUND_MEASURE_RESTRICTED: RefusalGround
REFUSAL_GROUND_POLITICAL_OFFENCE: RefusalGround
REFUSAL_GROUND_FISCAL_OFFENCE: RefusalGround
REFUSAL_GROUND_ESSENTIAL_INTERESTS: RefusalGround
DATA_CATEGORY_STATE_UNSPECIFIED: DataCategoryState
DATA_CATEGORY_STATE_OPEN: DataCategoryState
DATA_CATEGORY_STATE_REFUSED: DataCategoryState
DATA_CATEGORY_STATE_EXECUTED: DataCategoryState
NON_EXECUTION_REASON_UNSPECIFIED: NonExecutionReason
NON_EXECUTION_REASON_INCOMPLETE: NonExecutionReason
NON_EXECUTION_REASON_MANIFEST_ERRORS: NonExecutionReason
NON_EXECUTION_REASON_INSUFFICIENT_INFORMATION: NonExecutionReason
NON_EXECUTION_REASON_DATA_NOT_HELD: NonExecutionReason
NON_EXECUTION_REASON_DE_FACTO_IMPOSSIBLE: NonExecutionReason
NON_EXECUTION_REASON_INVALID_ISSUING_AUTHORITY: NonExecutionReason
NON_EXECUTION_REASON_OFFENCE_NOT_COVERED: NonExecutionReason
NON_EXECUTION_REASON_SERVICE_NOT_COVERED: NonExecutionReason
NON_EXECUTION_REASON_IMMUNITIES: NonExecutionReason
NON_EXECUTION_REASON_CONFLICT_OF_LAW: NonExecutionReason
NON_EXECUTION_REASON_OTHER: NonExecutionReason
DEADLINE_KIND_UNSPECIFIED: DeadlineKind
DEADLINE_KIND_ACKNOWLEDGE: DeadlineKind
DEADLINE_KIND_DECIDE: DeadlineKind
DEADLINE_KIND_EXECUTE: DeadlineKind
DEADLINE_KIND_PRODUCE: DeadlineKind
DEADLINE_KIND_REVIEW: DeadlineKind
DEADLINE_KIND_OBJECTION: DeadlineKind
DEADLINE_KIND_NON_DISCLOSURE: DeadlineKind
DEADLINE_KIND_ENFORCEMENT: DeadlineKind
DEADLINE_KIND_COMPLIANCE: DeadlineKind
CUSTODY_ACTION_UNSPECIFIED: CustodyAction
CUSTODY_ACTION_RECEIVED: CustodyAction
CUSTODY_ACTION_ACCESSED: CustodyAction
CUSTODY_ACTION_DOWNLOADED: CustodyAction
CUSTODY_ACTION_EXPORTED: CustodyAction
CUSTODY_ACTION_TRANSFERRED: CustodyAction
CUSTODY_ACTION_SEALED: CustodyAction
CUSTODY_ACTION_RESTRICTED: CustodyAction
CUSTODY_ACTION_MARKED_SENSITIVE: CustodyAction
CUSTODY_ACTION_UNMARKED: CustodyAction
CUSTODY_ACTION_EXPORT_REQUESTED: CustodyAction
CUSTODY_ACTION_EXPORT_APPROVED: CustodyAction
CUSTODY_ACTION_CONSENT_RECORDED: CustodyAction

class TargetIdentifier(_message.Message):
    __slots__ = ("type", "value", "platform")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    type: TargetType
    value: str
    platform: str
    def __init__(self, type: _Optional[_Union[TargetType, str]] = ..., value: _Optional[str] = ..., platform: _Optional[str] = ...) -> None: ...

class DataCategoryOutcome(_message.Message):
    __slots__ = ("category", "state", "ground", "decided_at")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    GROUND_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    category: DataCategory
    state: DataCategoryState
    ground: RefusalGround
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, category: _Optional[_Union[DataCategory, str]] = ..., state: _Optional[_Union[DataCategoryState, str]] = ..., ground: _Optional[_Union[RefusalGround, str]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("submission", "ground", "data_categories", "refused_at", "whole")
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    GROUND_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    REFUSED_AT_FIELD_NUMBER: _ClassVar[int]
    WHOLE_FIELD_NUMBER: _ClassVar[int]
    submission: int
    ground: RefusalGround
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    refused_at: _timestamp_pb2.Timestamp
    whole: bool
    def __init__(self, submission: _Optional[int] = ..., ground: _Optional[_Union[RefusalGround, str]] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ..., refused_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., whole: _Optional[bool] = ...) -> None: ...

class Deadline(_message.Message):
    __slots__ = ("kind", "due_at", "source", "working_days", "counted_from", "overdue", "expected_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKING_DAYS_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FROM_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: DeadlineKind
    due_at: _timestamp_pb2.Timestamp
    source: str
    working_days: bool
    counted_from: _timestamp_pb2.Timestamp
    overdue: bool
    expected_at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[DeadlineKind, str]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., working_days: _Optional[bool] = ..., counted_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ..., expected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DelayNotice(_message.Message):
    __slots__ = ("deadline", "reason", "expected_at", "notified_at", "notified_by")
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTIFIED_BY_FIELD_NUMBER: _ClassVar[int]
    deadline: DeadlineKind
    reason: str
    expected_at: _timestamp_pb2.Timestamp
    notified_at: _timestamp_pb2.Timestamp
    notified_by: _common_pb2.Actor
    def __init__(self, deadline: _Optional[_Union[DeadlineKind, str]] = ..., reason: _Optional[str] = ..., expected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notified_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ...) -> None: ...

class LinkedOrder(_message.Message):
    __slots__ = ("id", "state", "state_name", "expires_at", "version", "names_this_request")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAMES_THIS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: int
    state_name: str
    expires_at: _timestamp_pb2.Timestamp
    version: int
    names_this_request: bool
    def __init__(self, id: _Optional[str] = ..., state: _Optional[int] = ..., state_name: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., names_this_request: _Optional[bool] = ...) -> None: ...

class EvidenceRequest(_message.Message):
    __slots__ = ("id", "workspace_id", "origin_jurisdiction", "state", "version", "preservation_order_id", "visibility", "shared_with", "addressee_jurisdiction", "legal_basis", "epoc_procedure", "issuing_authority", "addressee_kind", "provider_name", "data_categories", "targets", "offence_category", "urgency", "title", "description", "user_notice_status", "user_notice_suppressed_until", "deadlines", "next_deadline_at", "issued_at", "received_at", "decided_at", "state_reason", "refusal_ground", "non_execution_reason", "decision_deadline_extended", "postponed_until", "linked_order", "created_by", "created_at", "updated_by", "updated_at", "item_count", "replica", "allowed_actions", "category_outcomes", "refusals", "submission", "postponed_from", "postponed_at", "decision_suspended_seconds", "execution_suspended_seconds", "delay", "notification_exemption_reason", "items_restricted_at", "victim_refs", "user_notice_suppression_lapsed", "listed_offence", "max_sentence_months", "enforcing_jurisdiction", "enforcement_requested_at", "enforcement_decided_at", "enforcement_refusal_ground", "compliance_days", "issuer_taken_out", "addressee_taken_out")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PRESERVATION_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    ADDRESSEE_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    EPOC_PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    ISSUING_AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    ADDRESSEE_KIND_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    OFFENCE_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_SUPPRESSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    DEADLINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_GROUND_FIELD_NUMBER: _ClassVar[int]
    NON_EXECUTION_REASON_FIELD_NUMBER: _ClassVar[int]
    DECISION_DEADLINE_EXTENDED_FIELD_NUMBER: _ClassVar[int]
    POSTPONED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    LINKED_ORDER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    POSTPONED_FROM_FIELD_NUMBER: _ClassVar[int]
    POSTPONED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_SUSPENDED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_SUSPENDED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_EXEMPTION_REASON_FIELD_NUMBER: _ClassVar[int]
    ITEMS_RESTRICTED_AT_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_SUPPRESSION_LAPSED_FIELD_NUMBER: _ClassVar[int]
    LISTED_OFFENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_SENTENCE_MONTHS_FIELD_NUMBER: _ClassVar[int]
    ENFORCING_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_REFUSAL_GROUND_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_DAYS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_TAKEN_OUT_FIELD_NUMBER: _ClassVar[int]
    ADDRESSEE_TAKEN_OUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    workspace_id: str
    origin_jurisdiction: str
    state: EvidenceRequestState
    version: int
    preservation_order_id: str
    visibility: _common_pb2.Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    addressee_jurisdiction: str
    legal_basis: LegalBasis
    epoc_procedure: EpocProcedure
    issuing_authority: str
    addressee_kind: AddresseeKind
    provider_name: str
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    targets: _containers.RepeatedCompositeFieldContainer[TargetIdentifier]
    offence_category: OffenceCategory
    urgency: Urgency
    title: str
    description: str
    user_notice_status: UserNoticeStatus
    user_notice_suppressed_until: _timestamp_pb2.Timestamp
    deadlines: _containers.RepeatedCompositeFieldContainer[Deadline]
    next_deadline_at: _timestamp_pb2.Timestamp
    issued_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    state_reason: str
    refusal_ground: RefusalGround
    non_execution_reason: NonExecutionReason
    decision_deadline_extended: bool
    postponed_until: _timestamp_pb2.Timestamp
    linked_order: LinkedOrder
    created_by: _common_pb2.Actor
    created_at: _timestamp_pb2.Timestamp
    updated_by: _common_pb2.Actor
    updated_at: _timestamp_pb2.Timestamp
    item_count: int
    replica: _common_pb2.Replica
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    category_outcomes: _containers.RepeatedCompositeFieldContainer[DataCategoryOutcome]
    refusals: _containers.RepeatedCompositeFieldContainer[Refusal]
    submission: int
    postponed_from: EvidenceRequestState
    postponed_at: _timestamp_pb2.Timestamp
    decision_suspended_seconds: int
    execution_suspended_seconds: int
    delay: DelayNotice
    notification_exemption_reason: str
    items_restricted_at: _timestamp_pb2.Timestamp
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    user_notice_suppression_lapsed: bool
    listed_offence: ListedOffence
    max_sentence_months: int
    enforcing_jurisdiction: str
    enforcement_requested_at: _timestamp_pb2.Timestamp
    enforcement_decided_at: _timestamp_pb2.Timestamp
    enforcement_refusal_ground: EnforcementRefusalGround
    compliance_days: int
    issuer_taken_out: bool
    addressee_taken_out: bool
    def __init__(self, id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., state: _Optional[_Union[EvidenceRequestState, str]] = ..., version: _Optional[int] = ..., preservation_order_id: _Optional[str] = ..., visibility: _Optional[_Union[_common_pb2.Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ..., addressee_jurisdiction: _Optional[str] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., epoc_procedure: _Optional[_Union[EpocProcedure, str]] = ..., issuing_authority: _Optional[str] = ..., addressee_kind: _Optional[_Union[AddresseeKind, str]] = ..., provider_name: _Optional[str] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ..., targets: _Optional[_Iterable[_Union[TargetIdentifier, _Mapping]]] = ..., offence_category: _Optional[_Union[OffenceCategory, str]] = ..., urgency: _Optional[_Union[Urgency, str]] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., user_notice_status: _Optional[_Union[UserNoticeStatus, str]] = ..., user_notice_suppressed_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadlines: _Optional[_Iterable[_Union[Deadline, _Mapping]]] = ..., next_deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_reason: _Optional[str] = ..., refusal_ground: _Optional[_Union[RefusalGround, str]] = ..., non_execution_reason: _Optional[_Union[NonExecutionReason, str]] = ..., decision_deadline_extended: _Optional[bool] = ..., postponed_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., linked_order: _Optional[_Union[LinkedOrder, _Mapping]] = ..., created_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., item_count: _Optional[int] = ..., replica: _Optional[_Union[_common_pb2.Replica, _Mapping]] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., category_outcomes: _Optional[_Iterable[_Union[DataCategoryOutcome, _Mapping]]] = ..., refusals: _Optional[_Iterable[_Union[Refusal, _Mapping]]] = ..., submission: _Optional[int] = ..., postponed_from: _Optional[_Union[EvidenceRequestState, str]] = ..., postponed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_suspended_seconds: _Optional[int] = ..., execution_suspended_seconds: _Optional[int] = ..., delay: _Optional[_Union[DelayNotice, _Mapping]] = ..., notification_exemption_reason: _Optional[str] = ..., items_restricted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., victim_refs: _Optional[_Iterable[str]] = ..., user_notice_suppression_lapsed: _Optional[bool] = ..., listed_offence: _Optional[_Union[ListedOffence, str]] = ..., max_sentence_months: _Optional[int] = ..., enforcing_jurisdiction: _Optional[str] = ..., enforcement_requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enforcement_decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enforcement_refusal_ground: _Optional[_Union[EnforcementRefusalGround, str]] = ..., compliance_days: _Optional[int] = ..., issuer_taken_out: _Optional[bool] = ..., addressee_taken_out: _Optional[bool] = ...) -> None: ...

class DeadlineAlert(_message.Message):
    __slots__ = ("request", "deadline", "seconds_before", "passed")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    deadline: Deadline
    seconds_before: int
    passed: bool
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ..., deadline: _Optional[_Union[Deadline, _Mapping]] = ..., seconds_before: _Optional[int] = ..., passed: _Optional[bool] = ...) -> None: ...

class CreateRequestRequest(_message.Message):
    __slots__ = ("request_id", "workspace_id", "legal_basis", "epoc_procedure", "issuing_authority", "addressee_kind", "addressee_jurisdiction", "provider_name", "data_categories", "targets", "offence_category", "urgency", "title", "description", "visibility", "shared_with", "preservation_order_id", "user_notice_status", "user_notice_suppressed_until", "notification_exemption_reason", "victim_refs", "listed_offence", "max_sentence_months")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    EPOC_PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    ISSUING_AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    ADDRESSEE_KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESSEE_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    OFFENCE_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    PRESERVATION_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_NOTICE_SUPPRESSED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_EXEMPTION_REASON_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    LISTED_OFFENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_SENTENCE_MONTHS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    workspace_id: str
    legal_basis: LegalBasis
    epoc_procedure: EpocProcedure
    issuing_authority: str
    addressee_kind: AddresseeKind
    addressee_jurisdiction: str
    provider_name: str
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    targets: _containers.RepeatedCompositeFieldContainer[TargetIdentifier]
    offence_category: OffenceCategory
    urgency: Urgency
    title: str
    description: str
    visibility: _common_pb2.Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    preservation_order_id: str
    user_notice_status: UserNoticeStatus
    user_notice_suppressed_until: _timestamp_pb2.Timestamp
    notification_exemption_reason: str
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    listed_offence: ListedOffence
    max_sentence_months: int
    def __init__(self, request_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., epoc_procedure: _Optional[_Union[EpocProcedure, str]] = ..., issuing_authority: _Optional[str] = ..., addressee_kind: _Optional[_Union[AddresseeKind, str]] = ..., addressee_jurisdiction: _Optional[str] = ..., provider_name: _Optional[str] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ..., targets: _Optional[_Iterable[_Union[TargetIdentifier, _Mapping]]] = ..., offence_category: _Optional[_Union[OffenceCategory, str]] = ..., urgency: _Optional[_Union[Urgency, str]] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., visibility: _Optional[_Union[_common_pb2.Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ..., preservation_order_id: _Optional[str] = ..., user_notice_status: _Optional[_Union[UserNoticeStatus, str]] = ..., user_notice_suppressed_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notification_exemption_reason: _Optional[str] = ..., victim_refs: _Optional[_Iterable[str]] = ..., listed_offence: _Optional[_Union[ListedOffence, str]] = ..., max_sentence_months: _Optional[int] = ...) -> None: ...

class CreateRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class GetRequestRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class ListRequestsRequest(_message.Message):
    __slots__ = ("workspace_id", "states", "legal_basis", "addressee_jurisdiction", "origin_jurisdiction", "deadline_before", "page_size", "page_token", "victim_ref")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    ADDRESSEE_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    states: _containers.RepeatedScalarFieldContainer[EvidenceRequestState]
    legal_basis: LegalBasis
    addressee_jurisdiction: str
    origin_jurisdiction: str
    deadline_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    victim_ref: str
    def __init__(self, workspace_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[EvidenceRequestState, str]]] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., addressee_jurisdiction: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., deadline_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., victim_ref: _Optional[str] = ...) -> None: ...

class ListRequestsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[EvidenceRequest]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[EvidenceRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class IssueRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class IssueRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class AcknowledgeRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version", "received_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AcknowledgeRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class OpenReviewRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class OpenReviewResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class ConcludeReviewRequest(_message.Message):
    __slots__ = ("id", "expected_version", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    note: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class ConcludeReviewResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class StartExecutionRequest(_message.Message):
    __slots__ = ("id", "expected_version", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    note: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class StartExecutionResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class RecordPartialExecutionRequest(_message.Message):
    __slots__ = ("id", "expected_version", "note", "data_categories")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    note: str
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., note: _Optional[str] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ...) -> None: ...

class RecordPartialExecutionResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class CompleteExecutionRequest(_message.Message):
    __slots__ = ("id", "expected_version", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    note: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class CompleteExecutionResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class CloseRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    note: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class CloseRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class RefuseRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version", "ground", "detail", "data_categories")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    GROUND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    ground: RefusalGround
    detail: str
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., ground: _Optional[_Union[RefusalGround, str]] = ..., detail: _Optional[str] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ...) -> None: ...

class RefuseRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class ReportNotExecutedRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason", "detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: NonExecutionReason
    detail: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[_Union[NonExecutionReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class ReportNotExecutedResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class WithdrawRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class WithdrawRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class PostponeRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason", "until")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    until: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PostponeRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class ResumeRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ResumeRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class ExtendDecisionDeadlineRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ExtendDecisionDeadlineResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class NotifyDelayRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason", "expected_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    expected_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ..., expected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NotifyDelayResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class ResubmitRequestRequest(_message.Message):
    __slots__ = ("id", "expected_version", "clarification", "data_categories", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLARIFICATION_FIELD_NUMBER: _ClassVar[int]
    DATA_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    clarification: str
    data_categories: _containers.RepeatedScalarFieldContainer[DataCategory]
    description: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., clarification: _Optional[str] = ..., data_categories: _Optional[_Iterable[_Union[DataCategory, str]]] = ..., description: _Optional[str] = ...) -> None: ...

class ResubmitRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class RecogniseEnforcementRequest(_message.Message):
    __slots__ = ("id", "expected_version", "note", "compliance_days")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_DAYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    note: str
    compliance_days: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., note: _Optional[str] = ..., compliance_days: _Optional[int] = ...) -> None: ...

class RecogniseEnforcementResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EvidenceRequest
    def __init__(self, request: _Optional[_Union[EvidenceRequest, _Mapping]] = ...) -> None: ...

class UseConsent(_message.Message):
    __slots__ = ("purpose", "granted_by_jurisdiction", "granted_at", "reference")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    GRANTED_BY_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    GRANTED_AT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    purpose: str
    granted_by_jurisdiction: str
    granted_at: _timestamp_pb2.Timestamp
    reference: str
    def __init__(self, purpose: _Optional[str] = ..., granted_by_jurisdiction: _Optional[str] = ..., granted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reference: _Optional[str] = ...) -> None: ...

class UseConditions(_message.Message):
    __slots__ = ("jit_purposes_only", "conditions", "consents")
    JIT_PURPOSES_ONLY_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    jit_purposes_only: bool
    conditions: str
    consents: _containers.RepeatedCompositeFieldContainer[UseConsent]
    def __init__(self, jit_purposes_only: _Optional[bool] = ..., conditions: _Optional[str] = ..., consents: _Optional[_Iterable[_Union[UseConsent, _Mapping]]] = ...) -> None: ...

class EvidenceItem(_message.Message):
    __slots__ = ("id", "workspace_id", "request_id", "origin_jurisdiction", "media_type", "size_bytes", "sha256", "use_conditions", "filename", "description", "received_by", "received_at", "custody_entries", "restricted", "sensitive", "allowed_actions", "pending_export")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    USE_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    CUSTODY_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PENDING_EXPORT_FIELD_NUMBER: _ClassVar[int]
    id: str
    workspace_id: str
    request_id: str
    origin_jurisdiction: str
    media_type: str
    size_bytes: int
    sha256: str
    use_conditions: UseConditions
    filename: str
    description: str
    received_by: _common_pb2.Actor
    received_at: _timestamp_pb2.Timestamp
    custody_entries: int
    restricted: bool
    sensitive: bool
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    pending_export: PendingExport
    def __init__(self, id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., request_id: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., media_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., use_conditions: _Optional[_Union[UseConditions, _Mapping]] = ..., filename: _Optional[str] = ..., description: _Optional[str] = ..., received_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., custody_entries: _Optional[int] = ..., restricted: _Optional[bool] = ..., sensitive: _Optional[bool] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., pending_export: _Optional[_Union[PendingExport, _Mapping]] = ...) -> None: ...

class PendingExport(_message.Message):
    __slots__ = ("request", "approval")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    request: CustodyEntry
    approval: CustodyEntry
    def __init__(self, request: _Optional[_Union[CustodyEntry, _Mapping]] = ..., approval: _Optional[_Union[CustodyEntry, _Mapping]] = ...) -> None: ...

class ItemMetadata(_message.Message):
    __slots__ = ("request_id", "evidence_request_id", "sha256", "size_bytes", "media_type", "filename", "description", "origin_jurisdiction", "use_conditions", "sensitive")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    USE_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    evidence_request_id: str
    sha256: str
    size_bytes: int
    media_type: str
    filename: str
    description: str
    origin_jurisdiction: str
    use_conditions: UseConditions
    sensitive: bool
    def __init__(self, request_id: _Optional[str] = ..., evidence_request_id: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., media_type: _Optional[str] = ..., filename: _Optional[str] = ..., description: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., use_conditions: _Optional[_Union[UseConditions, _Mapping]] = ..., sensitive: _Optional[bool] = ...) -> None: ...

class UploadItemRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: ItemMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[ItemMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: EvidenceItem
    def __init__(self, item: _Optional[_Union[EvidenceItem, _Mapping]] = ...) -> None: ...

class DownloadItemRequest(_message.Message):
    __slots__ = ("item_id", "purpose")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    purpose: str
    def __init__(self, item_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class DownloadItemResponse(_message.Message):
    __slots__ = ("item", "chunk")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    item: EvidenceItem
    chunk: bytes
    def __init__(self, item: _Optional[_Union[EvidenceItem, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: EvidenceItem
    def __init__(self, item: _Optional[_Union[EvidenceItem, _Mapping]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("evidence_request_id",)
    EVIDENCE_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    evidence_request_id: str
    def __init__(self, evidence_request_id: _Optional[str] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[EvidenceItem]
    def __init__(self, items: _Optional[_Iterable[_Union[EvidenceItem, _Mapping]]] = ...) -> None: ...

class CustodyEntry(_message.Message):
    __slots__ = ("seq", "item_id", "action", "actor", "at", "purpose", "recipient", "sha256", "prev_hash", "entry_hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    item_id: str
    action: CustodyAction
    actor: _common_pb2.Actor
    at: _timestamp_pb2.Timestamp
    purpose: str
    recipient: str
    sha256: str
    prev_hash: str
    entry_hash: str
    def __init__(self, seq: _Optional[int] = ..., item_id: _Optional[str] = ..., action: _Optional[_Union[CustodyAction, str]] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., purpose: _Optional[str] = ..., recipient: _Optional[str] = ..., sha256: _Optional[str] = ..., prev_hash: _Optional[str] = ..., entry_hash: _Optional[str] = ...) -> None: ...

class RecordCustodyEventRequest(_message.Message):
    __slots__ = ("item_id", "action", "purpose", "recipient", "request_id")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    action: CustodyAction
    purpose: str
    recipient: str
    request_id: str
    def __init__(self, item_id: _Optional[str] = ..., action: _Optional[_Union[CustodyAction, str]] = ..., purpose: _Optional[str] = ..., recipient: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RecordCustodyEventResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: CustodyEntry
    def __init__(self, entry: _Optional[_Union[CustodyEntry, _Mapping]] = ...) -> None: ...

class ListCustodyRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class ListCustodyResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[CustodyEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[CustodyEntry, _Mapping]]] = ...) -> None: ...

class VerifyEvidenceRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ItemProblem(_message.Message):
    __slots__ = ("item_id", "problem", "detail")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    problem: str
    detail: str
    def __init__(self, item_id: _Optional[str] = ..., problem: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class VerifyEvidenceResponse(_message.Message):
    __slots__ = ("items_checked", "custody_entries_checked", "problems", "ok")
    ITEMS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    CUSTODY_ENTRIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    items_checked: int
    custody_entries_checked: int
    problems: _containers.RepeatedCompositeFieldContainer[ItemProblem]
    ok: bool
    def __init__(self, items_checked: _Optional[int] = ..., custody_entries_checked: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[ItemProblem, _Mapping]]] = ..., ok: _Optional[bool] = ...) -> None: ...

class MarkItemSensitiveRequest(_message.Message):
    __slots__ = ("item_id", "reason")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    reason: str
    def __init__(self, item_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class MarkItemSensitiveResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: EvidenceItem
    def __init__(self, item: _Optional[_Union[EvidenceItem, _Mapping]] = ...) -> None: ...

class UnmarkItemSensitiveRequest(_message.Message):
    __slots__ = ("item_id", "reason")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    reason: str
    def __init__(self, item_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UnmarkItemSensitiveResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: EvidenceItem
    def __init__(self, item: _Optional[_Union[EvidenceItem, _Mapping]] = ...) -> None: ...

class RequestExportRequest(_message.Message):
    __slots__ = ("item_id", "purpose", "destination", "request_id")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    purpose: str
    destination: str
    request_id: str
    def __init__(self, item_id: _Optional[str] = ..., purpose: _Optional[str] = ..., destination: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RequestExportResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: CustodyEntry
    def __init__(self, entry: _Optional[_Union[CustodyEntry, _Mapping]] = ...) -> None: ...

class ApproveExportRequest(_message.Message):
    __slots__ = ("item_id", "export_request_seq")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORT_REQUEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    export_request_seq: int
    def __init__(self, item_id: _Optional[str] = ..., export_request_seq: _Optional[int] = ...) -> None: ...

class ApproveExportResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: CustodyEntry
    def __init__(self, entry: _Optional[_Union[CustodyEntry, _Mapping]] = ...) -> None: ...

class RecordUseConsentRequest(_message.Message):
    __slots__ = ("request_id", "item_id", "purpose", "reference")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    item_id: str
    purpose: str
    reference: str
    def __init__(self, request_id: _Optional[str] = ..., item_id: _Optional[str] = ..., purpose: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class RecordUseConsentResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: EvidenceItem
    def __init__(self, item: _Optional[_Union[EvidenceItem, _Mapping]] = ...) -> None: ...
