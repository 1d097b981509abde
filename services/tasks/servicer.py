"""jit.tasks.v1.TaskService: turns RPCs into domain decisions and store calls, in that order:
validate input -> load -> policy -> domain rule -> write change + event + audit in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitlib import auth, paging, validate
from jitlib.errors import FieldViolation, InvalidArgument
from jitlib.fields import same_fields
from jitlib.ids import new_id
from jitlib.mapping import window_from_pb
from jitlib.policy import TASK_RULES
from jitlib.records import RecordPath, get_rpc, page, store_change, transition_rpc
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.wire import ListWire
from jitlib.workspaces import WorkspaceInfo
from services.tasks import domain, events, store
from services.tasks.domain import Task
from services.tasks.mapping import TASK_FIELDS, new_task_from_pb, task_fields, task_to_pb, transition_input

#: A ``ListTasks`` answer written from the tasks' stored answers (``store.list_answered``).
_LIST = ListWire(tasks_pb2.Task, tasks_pb2.ListTasksResponse, "tasks")
_OVERDUE = _LIST.true("overdue")
_TAKEN_OUT = _LIST.true("assignee_taken_out")
_ACTIONS = _LIST.strings("allowed_actions")


class TaskServicer(tasks_pb2_grpc.TaskServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.tasks = RecordPath(
            rt, TASK_RULES, store.get, Task.access, store.find_by_request, victims=store.VICTIMS, pages_on_loop=True
        )

    def _view(self, principal: auth.Principal, task: Task, now: datetime) -> tasks_pb2.Task:
        """The task as an answer to ``principal``: with the actions they may take on it now. An event's
        state is ``task_to_pb`` without them (they are the caller's, not the task's)."""
        return tasks_pb2.Task(**self._view_fields(principal, task, now))

    def _view_fields(self, principal: auth.Principal, task: Task, now: datetime) -> dict[str, Any]:
        """The fields of ``_view``'s message (``task_fields``), with whether its assignee was taken out of
        the workspace (which lets its issuer take it back: ``domain.transitions``)."""
        out = self._taken_out(task.workspace_id, task.assignee_jurisdiction)
        actions = self.tasks.allowed_actions(task, domain.allowed_actions(task, principal, out))
        return task_fields(task, now, actions, assignee_taken_out=out)

    def _taken_out(self, workspace_id: str, assignee: str) -> bool:
        """Whether ``assignee`` was taken out of ``workspace_id``, as this node's directory says now
        (``domain.assignee_taken_out``; never for a workspace it does not know yet)."""
        workspace = self.rt.workspaces.get(workspace_id)
        return workspace is not None and domain.assignee_taken_out(assignee, workspace.members)

    # -- create and read --------------------------------------------------------------------------

    async def CreateTask(
        self, request: tasks_pb2.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.CreateTaskResponse:
        _, principal, now = self.rt.call()
        cmd = new_task_from_pb(request)
        InvalidArgument.raise_for(domain.new_task_violations(cmd, now))

        def admit(workspace: WorkspaceInfo) -> list[FieldViolation]:
            return domain.membership_violations(cmd, workspace.members, workspace.lead)

        def build(workspace: WorkspaceInfo) -> Task:
            return domain.create(cmd, task_id=new_id(), actor=principal.actor, now=now)

        states: list[tasks_pb2.Task] = []

        def announce(uow: UnitOfWork, task: Task, workspace: WorkspaceInfo) -> None:
            state = task_to_pb(task, now)
            uow.emit(events.subject(task, "created"), events.envelope(task, state, "created", workspace.members, now))
            states.append(state)

        created = await self.tasks.create_record(principal, request, cmd, build, store.TASKS, announce, admit=admit)
        if created.replayed or not states:
            return tasks_pb2.CreateTaskResponse(task=self._view(principal, created.record, now))
        # The answer is the event's state (made once) with what the caller may do now.
        answer = tasks_pb2.CreateTaskResponse()
        answer.task.CopyFrom(states[-1])
        task = created.record
        # A new task's assignee is a member (``membership_violations``): never one taken out.
        answer.task.allowed_actions.extend(self.tasks.allowed_actions(task, domain.allowed_actions(task, principal)))
        return answer

    GetTask = get_rpc("tasks", tasks_pb2.GetTaskResponse, "task")

    async def ListTasks(self, request: tasks_pb2.ListTasksRequest, context: grpc.aio.ServicerContext) -> bytes:
        """A page of tasks, as the serialized ``ListTasksResponse``: each task's stored answer with what the
        caller may do on it and whether it is overdue now (``jitlib.answers``); a task whose answer does
        not open (written before, its workspace shredded) made from its row as ``_view`` makes it."""
        _, principal, now = self.rt.call()
        size, states, violations = TASK_FIELDS.list_filters(request)
        violations += validate.jurisdiction("assignee_jurisdiction", request.assignee_jurisdiction, required=False)
        violations += validate.jurisdiction("origin_jurisdiction", request.origin_jurisdiction, required=False)
        due = window_from_pb(request, "due_after", "due_before", violations)
        InvalidArgument.raise_for(violations)
        after = paging.after_id(request)
        flt = store.TaskFilter(
            **same_fields(
                request, "assignee_jurisdiction origin_jurisdiction overdue_only victim_ref assignee_taken_out"
            ),
            states=states,
            due=due,
        )
        found = await self.tasks.list_in_workspaces(
            principal, request.workspace_id, store.list_answered, flt, now=now, after_id=after, limit=size + 1
        )
        listed, token = page(found, size, lambda t: paging.token_after_id(t.id, request))
        elements = []
        # The actions field (with the taken-out flag) for each (state, access facts) the page holds, worked
        # out once for the page: its tasks mostly share them (the workspace and the assignee are part of the
        # facts; the caller is the same throughout).
        offers: dict[tuple[object, ...], bytes] = {}
        for t in listed:
            if t.answer is not None:
                body = t.answer
                if domain.overdue(t.due_at, t.state, now):
                    body += _OVERDUE
                key = (t.state, t.access)
                field = offers.get(key)
                if field is None:
                    out = self._taken_out(t.workspace_id, t.access.addressee_jurisdiction or "")
                    actions = self.tasks.actions_in(t.workspace_id, domain.offered(t.state, t.access, principal, out))
                    field = offers[key] = (_TAKEN_OUT if out else b"") + (_ACTIONS(actions) if actions else b"")
                body += field
            elif t.task is not None:
                body = self._view(principal, t.task, now).SerializeToString()
            else:
                continue
            elements.append(_LIST.element(body))
        return _LIST.response(elements, token)

    # -- transitions ------------------------------------------------------------------------------

    async def _transition(self, action: str, request: Any) -> tasks_pb2.Task:
        rt, principal = self.rt, auth.current()
        t = domain.TRANSITIONS[action]
        data = transition_input(request)
        now = rt.clock.now()
        violations = domain.transition_violations(t, data, now)
        task, members = await self.tasks.load_for_change(principal, request, t.operation, violations, action=action)
        updated = domain.apply(task, action, data, actor=principal.actor, now=now, members=members)

        def announce(uow: UnitOfWork, changed: Task) -> None:
            state = task_to_pb(changed, now)
            # ``before``: an assignment may take the former assignee's country out of the audience.
            envelope = events.envelope(changed, state, t.event, members, now, before=task)
            uow.emit(events.subject(changed, t.event), envelope)

        await rt.change(
            principal, lambda uow: store_change(uow, TASK_RULES, task, updated, store.TASKS.update_if_version, announce)
        )
        return self._view(principal, updated, now)

    AssignTask = transition_rpc("assign", tasks_pb2.AssignTaskResponse, "task")
    AcceptTask = transition_rpc("accept", tasks_pb2.AcceptTaskResponse, "task")
    DeclineTask = transition_rpc("decline", tasks_pb2.DeclineTaskResponse, "task")
    StartTask = transition_rpc("start", tasks_pb2.StartTaskResponse, "task")
    BlockTask = transition_rpc("block", tasks_pb2.BlockTaskResponse, "task")
    UnblockTask = transition_rpc("unblock", tasks_pb2.UnblockTaskResponse, "task")
    CompleteTask = transition_rpc("complete", tasks_pb2.CompleteTaskResponse, "task")
    VerifyTask = transition_rpc("verify", tasks_pb2.VerifyTaskResponse, "task")
    ReopenTask = transition_rpc("reopen", tasks_pb2.ReopenTaskResponse, "task")
    CancelTask = transition_rpc("cancel", tasks_pb2.CancelTaskResponse, "task")
    HandBackTask = transition_rpc("hand_back", tasks_pb2.HandBackTaskResponse, "task")
    RenegotiateTask = transition_rpc("renegotiate", tasks_pb2.RenegotiateTaskResponse, "task")
