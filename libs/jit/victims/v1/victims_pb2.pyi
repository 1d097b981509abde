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

class NoticeStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_STEP_UNSPECIFIED: _ClassVar[NoticeStep]
    NOTICE_STEP_RIGHTS_EXPLAINED: _ClassVar[NoticeStep]
    NOTICE_STEP_COMPLAINT_ACKNOWLEDGED: _ClassVar[NoticeStep]
    NOTICE_STEP_DECISION_NOT_TO_PROSECUTE: _ClassVar[NoticeStep]
    NOTICE_STEP_TRIAL_TIME_AND_PLACE: _ClassVar[NoticeStep]
    NOTICE_STEP_RELEASE_OR_ESCAPE: _ClassVar[NoticeStep]
    NOTICE_STEP_STATE_OF_PROCEEDINGS: _ClassVar[NoticeStep]
    NOTICE_STEP_FINAL_JUDGMENT: _ClassVar[NoticeStep]
    NOTICE_STEP_CONTENT_REMOVED: _ClassVar[NoticeStep]
    NOTICE_STEP_CONTENT_RESTORED: _ClassVar[NoticeStep]

class NoticeChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_CHANNEL_UNSPECIFIED: _ClassVar[NoticeChannel]
    NOTICE_CHANNEL_IN_PERSON: _ClassVar[NoticeChannel]
    NOTICE_CHANNEL_LETTER: _ClassVar[NoticeChannel]
    NOTICE_CHANNEL_EMAIL: _ClassVar[NoticeChannel]
    NOTICE_CHANNEL_PHONE: _ClassVar[NoticeChannel]
    NOTICE_CHANNEL_REPRESENTATIVE: _ClassVar[NoticeChannel]
    NOTICE_CHANNEL_SYSTEM: _ClassVar[NoticeChannel]
NOTICE_STEP_UNSPECIFIED: NoticeStep
NOTICE_STEP_RIGHTS_EXPLAINED: NoticeStep
NOTICE_STEP_COMPLAINT_ACKNOWLEDGED: NoticeStep
NOTICE_STEP_DECISION_NOT_TO_PROSECUTE: NoticeStep
NOTICE_STEP_TRIAL_TIME_AND_PLACE: NoticeStep
NOTICE_STEP_RELEASE_OR_ESCAPE: NoticeStep
NOTICE_STEP_STATE_OF_PROCEEDINGS: NoticeStep
NOTICE_STEP_FINAL_JUDGMENT: NoticeStep
NOTICE_STEP_CONTENT_REMOVED: NoticeStep
NOTICE_STEP_CONTENT_RESTORED: NoticeStep
NOTICE_CHANNEL_UNSPECIFIED: NoticeChannel
NOTICE_CHANNEL_IN_PERSON: NoticeChannel
NOTICE_CHANNEL_LETTER: NoticeChannel
NOTICE_CHANNEL_EMAIL: NoticeChannel
NOTICE_CHANNEL_PHONE: NoticeChannel
NOTICE_CHANNEL_REPRESENTATIVE: NoticeChannel
NOTICE_CHANNEL_SYSTEM: NoticeChannel

class Victim(_message.Message):
    __slots__ = ("id", "pseudonym", "workspace_id", "origin_jurisdiction", "victim_jurisdiction", "version", "registered_by", "created_at", "updated_by", "updated_at", "notices_count", "referrals_count", "referrals", "replica", "allowed_actions", "offences")
    ID_FIELD_NUMBER: _ClassVar[int]
    PSEUDONYM_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    VICTIM_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTICES_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFERRALS_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFERRALS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    OFFENCES_FIELD_NUMBER: _ClassVar[int]
    id: str
    pseudonym: str
    workspace_id: str
    origin_jurisdiction: str
    victim_jurisdiction: str
    version: int
    registered_by: _common_pb2.Actor
    created_at: _timestamp_pb2.Timestamp
    updated_by: _common_pb2.Actor
    updated_at: _timestamp_pb2.Timestamp
    notices_count: int
    referrals_count: int
    referrals: _containers.RepeatedCompositeFieldContainer[Referral]
    replica: _common_pb2.Replica
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    offences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., pseudonym: _Optional[str] = ..., workspace_id: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., victim_jurisdiction: _Optional[str] = ..., version: _Optional[int] = ..., registered_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notices_count: _Optional[int] = ..., referrals_count: _Optional[int] = ..., referrals: _Optional[_Iterable[_Union[Referral, _Mapping]]] = ..., replica: _Optional[_Union[_common_pb2.Replica, _Mapping]] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., offences: _Optional[_Iterable[str]] = ...) -> None: ...

class VictimIdentity(_message.Message):
    __slots__ = ("full_name", "date_of_birth", "contact", "languages", "needs")
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    full_name: str
    date_of_birth: str
    contact: str
    languages: _containers.RepeatedScalarFieldContainer[str]
    needs: str
    def __init__(self, full_name: _Optional[str] = ..., date_of_birth: _Optional[str] = ..., contact: _Optional[str] = ..., languages: _Optional[_Iterable[str]] = ..., needs: _Optional[str] = ...) -> None: ...

class VictimNotice(_message.Message):
    __slots__ = ("id", "victim_id", "step", "told_at", "told_by", "language", "channel", "note", "recorded_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    VICTIM_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOLD_AT_FIELD_NUMBER: _ClassVar[int]
    TOLD_BY_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    victim_id: str
    step: NoticeStep
    told_at: _timestamp_pb2.Timestamp
    told_by: _common_pb2.Actor
    language: str
    channel: NoticeChannel
    note: str
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., victim_id: _Optional[str] = ..., step: _Optional[_Union[NoticeStep, str]] = ..., told_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., told_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., language: _Optional[str] = ..., channel: _Optional[_Union[NoticeChannel, str]] = ..., note: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Referral(_message.Message):
    __slots__ = ("id", "service_name", "referred_on", "consent", "referred_by", "recorded_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    REFERRED_ON_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    REFERRED_BY_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    service_name: str
    referred_on: str
    consent: bool
    referred_by: _common_pb2.Actor
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., service_name: _Optional[str] = ..., referred_on: _Optional[str] = ..., consent: _Optional[bool] = ..., referred_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterVictimRequest(_message.Message):
    __slots__ = ("request_id", "workspace_id", "victim_jurisdiction", "identity", "offences")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    VICTIM_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    OFFENCES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    workspace_id: str
    victim_jurisdiction: str
    identity: VictimIdentity
    offences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., victim_jurisdiction: _Optional[str] = ..., identity: _Optional[_Union[VictimIdentity, _Mapping]] = ..., offences: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterVictimResponse(_message.Message):
    __slots__ = ("victim",)
    VICTIM_FIELD_NUMBER: _ClassVar[int]
    victim: Victim
    def __init__(self, victim: _Optional[_Union[Victim, _Mapping]] = ...) -> None: ...

class GetVictimRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetVictimResponse(_message.Message):
    __slots__ = ("victim",)
    VICTIM_FIELD_NUMBER: _ClassVar[int]
    victim: Victim
    def __init__(self, victim: _Optional[_Union[Victim, _Mapping]] = ...) -> None: ...

class ListVictimsRequest(_message.Message):
    __slots__ = ("workspace_id", "victim_jurisdiction", "page_size", "page_token")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    VICTIM_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    victim_jurisdiction: str
    page_size: int
    page_token: str
    def __init__(self, workspace_id: _Optional[str] = ..., victim_jurisdiction: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVictimsResponse(_message.Message):
    __slots__ = ("victims", "next_page_token")
    VICTIMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    victims: _containers.RepeatedCompositeFieldContainer[Victim]
    next_page_token: str
    def __init__(self, victims: _Optional[_Iterable[_Union[Victim, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetVictimIdentityRequest(_message.Message):
    __slots__ = ("id", "purpose")
    ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    id: str
    purpose: str
    def __init__(self, id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class GetVictimIdentityResponse(_message.Message):
    __slots__ = ("victim", "identity")
    VICTIM_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    victim: Victim
    identity: VictimIdentity
    def __init__(self, victim: _Optional[_Union[Victim, _Mapping]] = ..., identity: _Optional[_Union[VictimIdentity, _Mapping]] = ...) -> None: ...

class RecordVictimNoticeRequest(_message.Message):
    __slots__ = ("request_id", "victim_id", "expected_version", "step", "told_at", "language", "channel", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VICTIM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOLD_AT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    victim_id: str
    expected_version: int
    step: NoticeStep
    told_at: _timestamp_pb2.Timestamp
    language: str
    channel: NoticeChannel
    note: str
    def __init__(self, request_id: _Optional[str] = ..., victim_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., step: _Optional[_Union[NoticeStep, str]] = ..., told_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., language: _Optional[str] = ..., channel: _Optional[_Union[NoticeChannel, str]] = ..., note: _Optional[str] = ...) -> None: ...

class RecordVictimNoticeResponse(_message.Message):
    __slots__ = ("victim", "notice")
    VICTIM_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    victim: Victim
    notice: VictimNotice
    def __init__(self, victim: _Optional[_Union[Victim, _Mapping]] = ..., notice: _Optional[_Union[VictimNotice, _Mapping]] = ...) -> None: ...

class ListVictimNoticesRequest(_message.Message):
    __slots__ = ("victim_id",)
    VICTIM_ID_FIELD_NUMBER: _ClassVar[int]
    victim_id: str
    def __init__(self, victim_id: _Optional[str] = ...) -> None: ...

class ListVictimNoticesResponse(_message.Message):
    __slots__ = ("notices",)
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    notices: _containers.RepeatedCompositeFieldContainer[VictimNotice]
    def __init__(self, notices: _Optional[_Iterable[_Union[VictimNotice, _Mapping]]] = ...) -> None: ...

class RecordReferralRequest(_message.Message):
    __slots__ = ("request_id", "victim_id", "expected_version", "service_name", "referred_on", "consent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VICTIM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    REFERRED_ON_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    victim_id: str
    expected_version: int
    service_name: str
    referred_on: str
    consent: bool
    def __init__(self, request_id: _Optional[str] = ..., victim_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., service_name: _Optional[str] = ..., referred_on: _Optional[str] = ..., consent: _Optional[bool] = ...) -> None: ...

class RecordReferralResponse(_message.Message):
    __slots__ = ("victim", "referral")
    VICTIM_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_FIELD_NUMBER: _ClassVar[int]
    victim: Victim
    referral: Referral
    def __init__(self, victim: _Optional[_Union[Victim, _Mapping]] = ..., referral: _Optional[_Union[Referral, _Mapping]] = ...) -> None: ...
