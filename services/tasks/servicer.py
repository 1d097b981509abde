"""jit.tasks.v1.TaskService: turns RPCs into domain decisions and store calls, in that order:
validate input -> load -> policy -> domain rule -> write change + event + audit in one transaction."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy.exc import IntegrityError

from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitlib import auth, paging
from jitlib.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument
from jitlib.ids import is_uuid, new_id
from jitlib.policy import CASE_ROLES, TASK_RULES, Operation, visibility_scope
from jitlib.runtime import Runtime, UnitOfWork
from services.tasks import domain, events, store
from services.tasks.domain import Actor, TransitionInput
from services.tasks.mapping import (
    links_from_pb,
    new_task_from_pb,
    request_digest,
    state_from_pb,
    task_to_pb,
    ts_to_dt,
)

DEFAULT_PAGE = 50
MAX_PAGE = 200
RECORD = "task"


def _actor(p: auth.Principal) -> Actor:
    return Actor(p.user_id, p.username, p.jurisdiction)


class TaskServicer(tasks_pb2_grpc.TaskServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- create and read --------------------------------------------------------------------------

    async def CreateTask(
        self, request: tasks_pb2.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.CreateTaskResponse:
        rt, principal = self.rt, auth.current()
        now = rt.clock.now()
        cmd = new_task_from_pb(request)
        InvalidArgument.raise_for(domain.new_task_violations(cmd, now))
        await rt.authorize(
            principal,
            Operation.CREATE,
            TASK_RULES,
            record_type=RECORD,
            record_id="",
            workspace_id=cmd.workspace_id,
            action="create",
        )
        digest = request_digest(request)
        try:
            workspace = rt.open_workspace(cmd.workspace_id)
            InvalidArgument.raise_for(domain.membership_violations(cmd, workspace.members))
        except (FailedPrecondition, InvalidArgument):
            # A replay of a request that succeeded before still gets its stored result.
            replay = await rt.read(lambda s: store.find_by_request(s, principal.user_id, cmd.request_id))
            if replay is not None:
                return self._replayed(replay, digest, now)
            raise
        task = domain.create(cmd, task_id=new_id(), actor=_actor(principal), now=now)
        state = task_to_pb(task, now)
        members = workspace.members

        def write(uow: UnitOfWork) -> None:
            store.insert_task(uow.session, task, request_id=cmd.request_id, request_digest=digest)
            uow.emit(events.subject(task, "created"), events.envelope(task, state, "created", members, now))
            uow.audit(RECORD, task.id, task.workspace_id)

        try:
            await rt.change(principal, write)
        except IntegrityError:
            # The request_id was used before (a retry, or a concurrent duplicate): the unique index on
            # (creator, request_id) refused the insert, so return what the first call stored.
            replay = await rt.read(lambda s: store.find_by_request(s, principal.user_id, cmd.request_id))
            if replay is None:
                raise
            return self._replayed(replay, digest, now)
        return tasks_pb2.CreateTaskResponse(task=state)

    def _replayed(self, replay: store.StoredRequest, digest: str, now: Any) -> tasks_pb2.CreateTaskResponse:
        if replay.digest != digest:
            raise FailedPrecondition(
                "REQUEST_ID_REUSED",
                "request_id was already used for a different task; generate a new one",
                {"field": "request_id", "task_id": replay.task.id},
            )
        return tasks_pb2.CreateTaskResponse(task=task_to_pb(replay.task, now))

    async def _load_visible(
        self, principal: auth.Principal, task_id: str, operation: Operation, action: str = ""
    ) -> domain.Task:
        if not is_uuid(task_id):
            raise InvalidArgument.one("id", "must be a UUID")
        task = await self.rt.read(lambda session: store.get(session, task_id))
        await self.rt.authorize(
            principal,
            operation,
            TASK_RULES,
            record_type=RECORD,
            record_id=task_id,
            record=task.access() if task is not None else None,
            action=action,
        )
        assert task is not None  # authorize refuses a missing record as NOT_FOUND
        return task

    async def GetTask(
        self, request: tasks_pb2.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.GetTaskResponse:
        principal = auth.current()
        task = await self._load_visible(principal, request.id, Operation.READ)
        await self.rt.change(principal, lambda uow: uow.audit(RECORD, task.id, task.workspace_id))
        return tasks_pb2.GetTaskResponse(task=task_to_pb(task, self.rt.clock.now()))

    async def ListTasks(
        self, request: tasks_pb2.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.ListTasksResponse:
        rt, principal = self.rt, auth.current()
        now = rt.clock.now()
        violations: list[FieldViolation] = []
        size = request.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            violations.append(FieldViolation("page_size", f"must be between 1 and {MAX_PAGE}"))
        states = set()
        for i, value in enumerate(request.states):
            st = state_from_pb(value)
            if st is None:
                violations.append(FieldViolation(f"states[{i}]", "is not a task state"))
            else:
                states.add(st)
        for name in ("assignee_jurisdiction", "origin_jurisdiction"):
            value = getattr(request, name)
            if value and not auth.is_jurisdiction(value):
                violations.append(FieldViolation(name, "must be a jurisdiction code"))
        if request.workspace_id and not domain.WORKSPACE_ID.match(request.workspace_id):
            violations.append(FieldViolation("workspace_id", "must be a workspace id"))
        due_after = ts_to_dt(request.due_after, request.HasField("due_after"))
        due_before = ts_to_dt(request.due_before, request.HasField("due_before"))
        if due_after and due_before and due_after >= due_before:
            violations.append(FieldViolation("due_before", "must be later than due_after"))
        InvalidArgument.raise_for(violations)
        after = paging.after_id(request)
        if request.workspace_id:
            await rt.authorize(
                principal, Operation.READ, None, record_type=RECORD, record_id="", workspace_id=request.workspace_id
            )
            workspaces = frozenset({request.workspace_id})
        else:
            # Every workspace of the caller's: a member of none simply sees an empty list, while a role
            # without access to case content is refused as for any workspace.
            if not principal.workspaces and principal.roles & CASE_ROLES:
                return tasks_pb2.ListTasksResponse()
            await rt.authorize(
                principal,
                Operation.READ,
                None,
                record_type=RECORD,
                record_id="",
                workspace_id=next(iter(principal.workspaces), "-"),
            )
            workspaces = principal.workspaces
        flt = store.TaskFilter(
            workspace_ids=workspaces,
            states=frozenset(states),
            assignee_jurisdiction=request.assignee_jurisdiction,
            origin_jurisdiction=request.origin_jurisdiction,
            overdue_only=request.overdue_only,
            due_after=due_after,
            due_before=due_before,
        )
        scope = visibility_scope(principal)

        def list_and_log(uow: UnitOfWork) -> list[domain.Task]:
            uow.audit(RECORD, "*", request.workspace_id or "*")
            return store.list_visible(uow.session, scope, flt, now=now, after_id=after, limit=size + 1)

        tasks = await rt.change(principal, list_and_log)
        token = paging.token_after_id(tasks[size - 1].id, request) if len(tasks) > size else ""
        return tasks_pb2.ListTasksResponse(tasks=[task_to_pb(t, now) for t in tasks[:size]], next_page_token=token)

    # -- transitions ------------------------------------------------------------------------------

    async def _transition(
        self, action: str, task_id: str, expected_version: int, data: TransitionInput
    ) -> tasks_pb2.Task:
        rt, principal = self.rt, auth.current()
        t = domain.TRANSITIONS[action]
        violations = domain.transition_violations(t, data)
        if not is_uuid(task_id):
            violations.insert(0, FieldViolation("id", "must be a UUID"))
        if expected_version < 0:
            violations.append(FieldViolation("expected_version", "must not be negative"))
        InvalidArgument.raise_for(violations)
        task = await self._load_visible(principal, task_id, t.operation, action)
        if expected_version and expected_version != task.version:
            raise Aborted(
                "VERSION_MISMATCH",
                f"task is at version {task.version}, not {expected_version}; re-read it",
                {"current_version": str(task.version)},
            )
        now = rt.clock.now()
        workspace = rt.workspaces.get(task.workspace_id)
        if workspace is not None and not workspace.is_open:
            raise FailedPrecondition(
                "WORKSPACE_CLOSED", f"workspace {task.workspace_id} is closed", {"workspace_id": task.workspace_id}
            )
        members = workspace.members if workspace else frozenset(task.parties)
        updated = domain.apply(task, action, data, actor=_actor(principal), now=now, members=members)
        state = task_to_pb(updated, now)

        def write(uow: UnitOfWork) -> None:
            if not store.update_if_version(uow.session, updated, task.version):
                raise Aborted("CONCURRENT_UPDATE", "task was changed by someone else meanwhile; re-read it")
            uow.emit(events.subject(updated, t.event), events.envelope(updated, state, t.event, members, now))
            uow.audit(RECORD, updated.id, updated.workspace_id)

        await rt.change(principal, write)
        return state

    async def AssignTask(self, request: tasks_pb2.AssignTaskRequest, context: Any) -> tasks_pb2.AssignTaskResponse:
        data = TransitionInput(new_assignee=request.assignee_jurisdiction)
        return tasks_pb2.AssignTaskResponse(
            task=await self._transition("assign", request.id, request.expected_version, data)
        )

    async def AcceptTask(self, request: tasks_pb2.AcceptTaskRequest, context: Any) -> tasks_pb2.AcceptTaskResponse:
        return tasks_pb2.AcceptTaskResponse(
            task=await self._transition("accept", request.id, request.expected_version, TransitionInput())
        )

    async def DeclineTask(self, request: tasks_pb2.DeclineTaskRequest, context: Any) -> tasks_pb2.DeclineTaskResponse:
        data = TransitionInput(reason=request.reason)
        return tasks_pb2.DeclineTaskResponse(
            task=await self._transition("decline", request.id, request.expected_version, data)
        )

    async def StartTask(self, request: tasks_pb2.StartTaskRequest, context: Any) -> tasks_pb2.StartTaskResponse:
        return tasks_pb2.StartTaskResponse(
            task=await self._transition("start", request.id, request.expected_version, TransitionInput())
        )

    async def BlockTask(self, request: tasks_pb2.BlockTaskRequest, context: Any) -> tasks_pb2.BlockTaskResponse:
        data = TransitionInput(reason=request.reason, blocked_by=links_from_pb(request.blocked_by))
        return tasks_pb2.BlockTaskResponse(
            task=await self._transition("block", request.id, request.expected_version, data)
        )

    async def UnblockTask(self, request: tasks_pb2.UnblockTaskRequest, context: Any) -> tasks_pb2.UnblockTaskResponse:
        return tasks_pb2.UnblockTaskResponse(
            task=await self._transition("unblock", request.id, request.expected_version, TransitionInput())
        )

    async def CompleteTask(
        self, request: tasks_pb2.CompleteTaskRequest, context: Any
    ) -> tasks_pb2.CompleteTaskResponse:
        data = TransitionInput(outcome=request.outcome)
        return tasks_pb2.CompleteTaskResponse(
            task=await self._transition("complete", request.id, request.expected_version, data)
        )

    async def VerifyTask(self, request: tasks_pb2.VerifyTaskRequest, context: Any) -> tasks_pb2.VerifyTaskResponse:
        return tasks_pb2.VerifyTaskResponse(
            task=await self._transition("verify", request.id, request.expected_version, TransitionInput())
        )

    async def ReopenTask(self, request: tasks_pb2.ReopenTaskRequest, context: Any) -> tasks_pb2.ReopenTaskResponse:
        data = TransitionInput(reason=request.reason)
        return tasks_pb2.ReopenTaskResponse(
            task=await self._transition("reopen", request.id, request.expected_version, data)
        )

    async def CancelTask(self, request: tasks_pb2.CancelTaskRequest, context: Any) -> tasks_pb2.CancelTaskResponse:
        data = TransitionInput(reason=request.reason)
        return tasks_pb2.CancelTaskResponse(
            task=await self._transition("cancel", request.id, request.expected_version, data)
        )
