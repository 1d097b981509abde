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

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_PROPOSED: _ClassVar[TaskState]
    TASK_STATE_ASSIGNED: _ClassVar[TaskState]
    TASK_STATE_ACCEPTED: _ClassVar[TaskState]
    TASK_STATE_DECLINED: _ClassVar[TaskState]
    TASK_STATE_IN_PROGRESS: _ClassVar[TaskState]
    TASK_STATE_BLOCKED: _ClassVar[TaskState]
    TASK_STATE_DONE: _ClassVar[TaskState]
    TASK_STATE_VERIFIED: _ClassVar[TaskState]
    TASK_STATE_CANCELLED: _ClassVar[TaskState]
    TASK_STATE_HANDED_BACK: _ClassVar[TaskState]

class TaskKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_KIND_UNSPECIFIED: _ClassVar[TaskKind]
    TASK_KIND_IDENTIFY_ACCOUNT_HOLDER: _ClassVar[TaskKind]
    TASK_KIND_OBTAIN_EVIDENCE: _ClassVar[TaskKind]
    TASK_KIND_PRESERVE_DATA: _ClassVar[TaskKind]
    TASK_KIND_HEAR_WITNESS: _ClassVar[TaskKind]
    TASK_KIND_SEARCH_AND_SEIZURE: _ClassVar[TaskKind]
    TASK_KIND_ANALYSE: _ClassVar[TaskKind]
    TASK_KIND_VICTIM_SUPPORT: _ClassVar[TaskKind]
    TASK_KIND_FOLLOW_UP: _ClassVar[TaskKind]
    TASK_KIND_OTHER: _ClassVar[TaskKind]

class TaskPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_PRIORITY_UNSPECIFIED: _ClassVar[TaskPriority]
    TASK_PRIORITY_LOW: _ClassVar[TaskPriority]
    TASK_PRIORITY_NORMAL: _ClassVar[TaskPriority]
    TASK_PRIORITY_HIGH: _ClassVar[TaskPriority]
    TASK_PRIORITY_URGENT: _ClassVar[TaskPriority]
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_PROPOSED: TaskState
TASK_STATE_ASSIGNED: TaskState
TASK_STATE_ACCEPTED: TaskState
TASK_STATE_DECLINED: TaskState
TASK_STATE_IN_PROGRESS: TaskState
TASK_STATE_BLOCKED: TaskState
TASK_STATE_DONE: TaskState
TASK_STATE_VERIFIED: TaskState
TASK_STATE_CANCELLED: TaskState
TASK_STATE_HANDED_BACK: TaskState
TASK_KIND_UNSPECIFIED: TaskKind
TASK_KIND_IDENTIFY_ACCOUNT_HOLDER: TaskKind
TASK_KIND_OBTAIN_EVIDENCE: TaskKind
TASK_KIND_PRESERVE_DATA: TaskKind
TASK_KIND_HEAR_WITNESS: TaskKind
TASK_KIND_SEARCH_AND_SEIZURE: TaskKind
TASK_KIND_ANALYSE: TaskKind
TASK_KIND_VICTIM_SUPPORT: TaskKind
TASK_KIND_FOLLOW_UP: TaskKind
TASK_KIND_OTHER: TaskKind
TASK_PRIORITY_UNSPECIFIED: TaskPriority
TASK_PRIORITY_LOW: TaskPriority
TASK_PRIORITY_NORMAL: TaskPriority
TASK_PRIORITY_HIGH: TaskPriority
TASK_PRIORITY_URGENT: TaskPriority

class Task(_message.Message):
    __slots__ = ("id", "workspace_id", "title", "description", "kind", "origin_jurisdiction", "assignee_jurisdiction", "priority", "due_at", "visibility", "shared_with", "links", "state", "state_reason", "version", "created_by", "created_at", "updated_by", "updated_at", "overdue", "outcome", "blocked_by", "replica", "allowed_actions", "terms_reason", "victim_refs", "assignee_taken_out")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_BY_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    TERMS_REASON_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_TAKEN_OUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    workspace_id: str
    title: str
    description: str
    kind: TaskKind
    origin_jurisdiction: str
    assignee_jurisdiction: str
    priority: TaskPriority
    due_at: _timestamp_pb2.Timestamp
    visibility: _common_pb2.Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    links: _containers.RepeatedCompositeFieldContainer[_common_pb2.RecordRef]
    state: TaskState
    state_reason: str
    version: int
    created_by: _common_pb2.Actor
    created_at: _timestamp_pb2.Timestamp
    updated_by: _common_pb2.Actor
    updated_at: _timestamp_pb2.Timestamp
    overdue: bool
    outcome: str
    blocked_by: _containers.RepeatedCompositeFieldContainer[_common_pb2.RecordRef]
    replica: _common_pb2.Replica
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    terms_reason: str
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    assignee_taken_out: bool
    def __init__(self, id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[_Union[TaskKind, str]] = ..., origin_jurisdiction: _Optional[str] = ..., assignee_jurisdiction: _Optional[str] = ..., priority: _Optional[_Union[TaskPriority, str]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., visibility: _Optional[_Union[_common_pb2.Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ..., links: _Optional[_Iterable[_Union[_common_pb2.RecordRef, _Mapping]]] = ..., state: _Optional[_Union[TaskState, str]] = ..., state_reason: _Optional[str] = ..., version: _Optional[int] = ..., created_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ..., outcome: _Optional[str] = ..., blocked_by: _Optional[_Iterable[_Union[_common_pb2.RecordRef, _Mapping]]] = ..., replica: _Optional[_Union[_common_pb2.Replica, _Mapping]] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., terms_reason: _Optional[str] = ..., victim_refs: _Optional[_Iterable[str]] = ..., assignee_taken_out: _Optional[bool] = ...) -> None: ...

class CreateTaskRequest(_message.Message):
    __slots__ = ("request_id", "workspace_id", "title", "description", "kind", "assignee_jurisdiction", "priority", "due_at", "visibility", "shared_with", "links", "proposal_only", "victim_refs")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_ONLY_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    workspace_id: str
    title: str
    description: str
    kind: TaskKind
    assignee_jurisdiction: str
    priority: TaskPriority
    due_at: _timestamp_pb2.Timestamp
    visibility: _common_pb2.Visibility
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    links: _containers.RepeatedCompositeFieldContainer[_common_pb2.RecordRef]
    proposal_only: bool
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[_Union[TaskKind, str]] = ..., assignee_jurisdiction: _Optional[str] = ..., priority: _Optional[_Union[TaskPriority, str]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., visibility: _Optional[_Union[_common_pb2.Visibility, str]] = ..., shared_with: _Optional[_Iterable[str]] = ..., links: _Optional[_Iterable[_Union[_common_pb2.RecordRef, _Mapping]]] = ..., proposal_only: _Optional[bool] = ..., victim_refs: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("workspace_id", "states", "assignee_jurisdiction", "origin_jurisdiction", "overdue_only", "due_after", "due_before", "page_size", "page_token", "victim_ref", "assignee_taken_out")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    DUE_AFTER_FIELD_NUMBER: _ClassVar[int]
    DUE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REF_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_TAKEN_OUT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    states: _containers.RepeatedScalarFieldContainer[TaskState]
    assignee_jurisdiction: str
    origin_jurisdiction: str
    overdue_only: bool
    due_after: _timestamp_pb2.Timestamp
    due_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    victim_ref: str
    assignee_taken_out: bool
    def __init__(self, workspace_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[TaskState, str]]] = ..., assignee_jurisdiction: _Optional[str] = ..., origin_jurisdiction: _Optional[str] = ..., overdue_only: _Optional[bool] = ..., due_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., victim_ref: _Optional[str] = ..., assignee_taken_out: _Optional[bool] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AssignTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "assignee_jurisdiction", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    assignee_jurisdiction: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., assignee_jurisdiction: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AssignTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class AcceptTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class AcceptTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class DeclineTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DeclineTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class StartTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class StartTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class BlockTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason", "blocked_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    blocked_by: _containers.RepeatedCompositeFieldContainer[_common_pb2.RecordRef]
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ..., blocked_by: _Optional[_Iterable[_Union[_common_pb2.RecordRef, _Mapping]]] = ...) -> None: ...

class BlockTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class UnblockTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UnblockTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class CompleteTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "outcome")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    outcome: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., outcome: _Optional[str] = ...) -> None: ...

class CompleteTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class VerifyTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class VerifyTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ReopenTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ReopenTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class RenegotiateTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason", "due_at", "clear_due_at", "priority")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    CLEAR_DUE_AT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    due_at: _timestamp_pb2.Timestamp
    clear_due_at: bool
    priority: TaskPriority
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., clear_due_at: _Optional[bool] = ..., priority: _Optional[_Union[TaskPriority, str]] = ...) -> None: ...

class RenegotiateTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class HandBackTaskRequest(_message.Message):
    __slots__ = ("id", "expected_version", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    expected_version: int
    reason: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class HandBackTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...
