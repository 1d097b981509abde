"""The fields every record message shares are mapped once, from the domain record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from jit.common.v1 import common_pb2
from jit.tasks.v1 import tasks_pb2
from jitlib.actors import Actor
from jitlib.errors import MAX_VIOLATIONS, FieldViolation, InvalidArgument
from jitlib.mapping import (
    RecordMapping,
    dt_to_ts,
    enum_from_pb,
    new_record_fields_from_pb,
    record_pb_fields,
    timestamp_check,
)
from services.tasks.domain import Task, TaskState

MAKER = Actor("u-1", "alice", "FR")
CHANGER = Actor("u-2", "bob", "DE")
MADE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CHANGED = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def _task(*, restricted: bool, shared_with: tuple[str, ...] = ()) -> Task:
    return Task(
        id="01935c4e-0000-7000-8000-000000000001",
        workspace_id="jit-demo",
        title="t",
        description="",
        kind="OTHER",
        origin_jurisdiction="FR",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=restricted,
        shared_with=shared_with,
        links=(),
        state=TaskState.ASSIGNED,
        version=3,
        created_by=MAKER,
        created_at=MADE,
        updated_by=CHANGER,
        updated_at=CHANGED,
    )


def test_the_common_fields_of_a_record_message() -> None:
    msg = tasks_pb2.Task(**record_pb_fields(_task(restricted=True, shared_with=("IT", "ES"))))
    assert (msg.id, msg.workspace_id, msg.origin_jurisdiction, msg.version) == (
        "01935c4e-0000-7000-8000-000000000001",
        "jit-demo",
        "FR",
        3,
    )
    assert msg.visibility == common_pb2.VISIBILITY_RESTRICTED
    assert list(msg.shared_with) == ["IT", "ES"]
    assert (msg.created_by.user_id, msg.created_by.jurisdiction) == ("u-1", "FR")
    assert (msg.updated_by.username, msg.updated_by.jurisdiction) == ("bob", "DE")
    assert msg.created_at.ToDatetime(tzinfo=UTC) == MADE
    assert msg.updated_at.ToDatetime(tzinfo=UTC) == CHANGED


def test_an_open_record_is_visible_to_the_workspace() -> None:
    msg = tasks_pb2.Task(**record_pb_fields(_task(restricted=False)))
    assert msg.visibility == common_pb2.VISIBILITY_WORKSPACE
    assert list(msg.shared_with) == []


def test_a_state_is_read_from_its_proto_enum_value_once_for_every_service() -> None:
    def state(value: int) -> TaskState | None:
        return enum_from_pb(tasks_pb2.TaskState, value, "TASK_STATE_", TaskState)

    assert state(tasks_pb2.TASK_STATE_ACCEPTED) is TaskState.ACCEPTED
    assert state(tasks_pb2.TASK_STATE_UNSPECIFIED) is None
    assert state(999) is None  # a value of a newer build


def test_a_create_request_s_record_fields_are_restricted_unless_opened_to_the_workspace() -> None:
    def fields(visibility: int) -> tuple[dict[str, object], list[str]]:
        unknown: list[str] = ["kind"]
        req = tasks_pb2.CreateTaskRequest(
            request_id="r-1", workspace_id="jit-demo", visibility=visibility, shared_with=["NL"]
        )
        return new_record_fields_from_pb(req, unknown), unknown

    opened, unknown = fields(common_pb2.VISIBILITY_WORKSPACE)
    assert opened == {"request_id": "r-1", "workspace_id": "jit-demo", "restricted": False, "shared_with": ("NL",)}
    assert unknown == ["kind"]
    assert fields(common_pb2.VISIBILITY_UNSPECIFIED)[0]["restricted"] is True
    assert fields(common_pb2.VISIBILITY_RESTRICTED)[0]["restricted"] is True
    strange, unknown = fields(99)
    assert strange["restricted"] is True and unknown == ["kind", "visibility"]


def test_a_kind_s_record_mapping_carries_its_state_both_ways_and_refuses_an_unknown_one() -> None:
    fields = RecordMapping(tasks_pb2.TaskState, "TASK_STATE_", TaskState, "task state")
    task = _task(restricted=True, shared_with=("IT",))
    msg = tasks_pb2.Task(**fields.to_pb(task))
    assert msg.state == tasks_pb2.TASK_STATE_ASSIGNED
    back = fields.from_pb(msg)
    assert back["state"] is TaskState.ASSIGNED
    assert (back["id"], back["shared_with"], back["version"]) == (task.id, ("IT",), 3)
    msg.state = tasks_pb2.TASK_STATE_UNSPECIFIED
    with pytest.raises(ValueError, match="task state"):
        fields.from_pb(msg)


@pytest.mark.parametrize(
    "at",
    [
        MADE,
        datetime(2026, 12, 3, 11, 59, 58, 999_999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(1969, 12, 31, 23, 59, 59, 250_000, tzinfo=UTC),
        datetime(2026, 7, 1, 12, 0),  # naive: read as UTC
    ],
)
def test_an_instant_maps_to_the_timestamp_protobuf_itself_makes(at: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(at)
    assert dt_to_ts(at) == expected


def test_a_kind_s_list_filters_use_the_common_page_policy_and_name_a_bad_state_with_its_article() -> None:
    from jit.evidence.v1 import evidence_pb2
    from services.evidence.domain import State as RequestState

    tasks = RecordMapping(tasks_pb2.TaskState, "TASK_STATE_", TaskState, "task state")
    size, states, violations = tasks.list_filters(
        tasks_pb2.ListTasksRequest(states=[tasks_pb2.TASK_STATE_ACCEPTED, 999])
    )
    assert size == 50
    assert states == frozenset({TaskState.ACCEPTED})
    assert [(v.field, v.description) for v in violations] == [("states[1]", "is not a task state")]

    size, _, violations = tasks.list_filters(tasks_pb2.ListTasksRequest(page_size=201))
    assert size == 201
    assert [(v.field, v.description) for v in violations] == [("page_size", "must be between 1 and 200")]

    requests = RecordMapping(
        evidence_pb2.EvidenceRequestState, "EVIDENCE_REQUEST_STATE_", RequestState, "evidence request state"
    )
    _, _, violations = requests.list_filters(evidence_pb2.ListRequestsRequest(states=[999], page_size=200))
    assert [(v.field, v.description) for v in violations] == [("states[0]", "is not an evidence request state")]


def list_requests() -> list[tuple[RecordMapping[Any], Callable[..., Any]]]:
    """Each kind's mapping with its List request: every List of a record filters on a victim."""
    from jit.evidence.v1 import evidence_pb2
    from jit.preservation.v1 import preservation_pb2, removal_pb2
    from services.evidence.mapping import REQUEST_FIELDS
    from services.preservation.mapping import ORDER_FIELDS
    from services.preservation.removal_mapping import REMOVAL_FIELDS
    from services.tasks.mapping import TASK_FIELDS

    return [
        (TASK_FIELDS, tasks_pb2.ListTasksRequest),
        (REQUEST_FIELDS, evidence_pb2.ListRequestsRequest),
        (ORDER_FIELDS, preservation_pb2.ListOrdersRequest),
        (REMOVAL_FIELDS, removal_pb2.ListRemovalsRequest),
    ]


@pytest.mark.parametrize("index", range(4))
def test_every_kind_s_list_filters_refuse_a_victim_that_is_not_a_pseudonym_and_take_one_that_is(index: int) -> None:
    fields, request = list_requests()[index]
    _, _, violations = fields.list_filters(request(victim_ref="Jane Doe, born 1990"))
    assert [v.field for v in violations] == ["victim_ref"]
    assert "must be a victim pseudonym" in violations[0].description
    assert "Jane" not in violations[0].description  # what the caller sent is not echoed
    assert fields.list_filters(request(victim_ref="V-NL-0007"))[2] == []
    assert fields.list_filters(request())[2] == []


# -- a request's Timestamps, checked on its way in (jitlib.server.CallEntry) ----------------------------

CREATE_TASK = "/jit.tasks.v1.TaskService/CreateTask"
UPLOAD_ITEM = "/jit.evidence.v1.EvidenceService/UploadItem"


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (2**62, 0),
        (-(2**40), 0),
        (253_402_300_800, 0),
        (-62_135_596_801, 0),
        (1_900_000_000, -1),
        (1_900_000_000, 10**9),
    ],
)
def test_a_timestamp_outside_what_protobuf_reads_is_refused_by_its_field(seconds: int, nanos: int) -> None:
    check = timestamp_check(CREATE_TASK)
    assert check is not None
    req = tasks_pb2.CreateTaskRequest(due_at=Timestamp(seconds=seconds, nanos=nanos))
    with pytest.raises(InvalidArgument) as info:
        check(req)
    assert [v.field for v in info.value.violations] == ["due_at"]
    assert str(seconds) not in info.value.message


@pytest.mark.parametrize(("seconds", "nanos"), [(253_402_300_799, 999_999_999), (-62_135_596_800, 0), (0, 0)])
def test_the_first_and_last_instants_a_timestamp_holds_are_accepted(seconds: int, nanos: int) -> None:
    check = timestamp_check(CREATE_TASK)
    assert check is not None
    req = tasks_pb2.CreateTaskRequest(due_at=Timestamp(seconds=seconds, nanos=nanos))
    check(req)
    assert req.due_at.ToDatetime(tzinfo=UTC)  # what the servicer then reads, without ValueError


def test_a_nested_timestamp_in_a_repeated_field_is_named_by_its_path() -> None:
    from jit.evidence.v1 import evidence_pb2

    check = timestamp_check(UPLOAD_ITEM)
    assert check is not None
    first = evidence_pb2.UploadItemRequest()
    first.metadata.use_conditions.consents.add().granted_at.seconds = 1_900_000_000
    first.metadata.use_conditions.consents.add().granted_at.nanos = -5
    with pytest.raises(InvalidArgument) as info:
        check(first)
    assert [v.field for v in info.value.violations] == ["metadata.use_conditions.consents[1].granted_at"]
    check(evidence_pb2.UploadItemRequest(chunk=b"bytes"))  # a chunk holds no time


def test_a_request_without_timestamps_or_a_method_of_bytes_costs_no_check() -> None:
    assert timestamp_check("/jit.tasks.v1.TaskService/GetTask") is None
    assert timestamp_check("/bench.Echo/Echo") is None
    assert timestamp_check("/grpc.health.v1.Health/Check") is None


def test_a_status_names_at_most_twenty_problems_and_counts_the_rest() -> None:
    err = InvalidArgument([FieldViolation(f"states[{i}]", "is not a task state") for i in range(20_000)])
    assert len(err.violations) == MAX_VIOLATIONS
    assert err.violations[-1] == FieldViolation(
        "request", f"and {20_000 - MAX_VIOLATIONS + 1} more problems, not listed"
    )
    assert len(err.to_status().SerializeToString()) < 4096
    assert len(InvalidArgument([FieldViolation("a", "b")] * MAX_VIOLATIONS).violations) == MAX_VIOLATIONS
