"""A task's replicas on other countries' nodes (``jitlib.replicas`` with ``services.tasks.app.REPLICAS``):
a country a change takes out of a task's audience has its copy withdrawn."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2
from jitlib import crypto, envelopes, replicas, sealing
from jitlib.actors import Actor
from jitlib.bus import PoisonMessage
from jitlib.clock import ManualClock
from jitlib.federation import Federation
from jitlib.policy import TASK_RULES, Decision, Operation, VisibilityScope, decide
from jitlib.principal import Principal
from services.tasks import app, domain, events, store
from services.tasks.domain import NewTask, Task, TransitionInput
from services.tasks.mapping import task_to_pb

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-prosecutor", "NL")
DE = Actor("u-de", "de-liaison", "DE")
MEMBERS = frozenset({"NL", "DE", "IE"})
DE_USER = Principal("u-de2", "de-prosecutor", "DE", frozenset({"prosecutor"}), frozenset({"jit-demo"}))


@pytest.fixture
def de_node() -> Iterator[Session]:
    """DE's tasks database (it holds replicas of NL's tasks)."""
    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    with Session(engine, info=info) as s, s.begin():
        yield s
    engine.dispose()


def _event(task: Task, event: str, before: Task | None = None) -> Envelope:
    return events.envelope(task, task_to_pb(task, task.updated_at), event, MEMBERS, task.updated_at, before=before)


def _restricted_task_for_de() -> Task:
    cmd = NewTask(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        title="Hear the witness in Hamburg",
        description="confidential: the witness lives at ...",
        kind="HEAR_WITNESS",
        assignee_jurisdiction="DE",
        priority="NORMAL",
        due_at=None,
        restricted=True,
    )
    return domain.create(cmd, task_id="01935c4e-0000-7000-8000-000000000001", actor=NL, now=T0)


def _declined_then_reassigned_to_ie(task: Task) -> tuple[Task, Task]:
    declined = domain.apply(
        task, "decline", TransitionInput(reason="no capacity"), actor=DE, now=T0 + timedelta(hours=1), members=MEMBERS
    )
    reassigned = domain.apply(
        declined, "assign", TransitionInput(new_assignee="IE"), actor=NL, now=T0 + timedelta(hours=2), members=MEMBERS
    )
    return declined, reassigned


def test_a_restricted_task_reassigned_away_from_de_is_withdrawn_from_des_node(de_node: Session) -> None:
    """NL's restricted task for DE, declined by DE, reassigned to IE: DE's node had its copy (and showed it to
    DE's users); the reassignment names DE in ``withdrawn_from``, DE's node gets its withdrawal (nothing of
    the new state) and drops the copy, so DE's users get NOT_FOUND there as on NL's node."""
    nl_fed = Federation.parse("NL", "DE,IE")
    assert nl_fed is not None
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, reassigned = _declined_then_reassigned_to_ie(task)
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(declined, "declined", before=task), "DE")
    held = store.get(de_node, task.id)
    assert held is not None and decide(DE_USER, Operation.READ, TASK_RULES, record=held.access()) is Decision.ALLOW

    assigned = _event(reassigned, "assigned", before=declined)
    assert (list(assigned.audience), list(assigned.withdrawn_from)) == (["IE", "NL"], ["DE"])
    assert nl_fed.recipients(assigned.audience) == ["IE"]
    withdrawal = envelopes.withdrawal(assigned, "DE")
    assert not withdrawal.HasField("state")

    assert replicas.apply(app.REPLICAS, clock, de_node, withdrawal, "DE")
    assert store.get(de_node, task.id) is None
    assert decide(DE_USER, Operation.READ, TASK_RULES, record=reassigned.access()) is not Decision.ALLOW


def test_a_withdrawal_older_than_the_copy_held_changes_nothing(de_node: Session) -> None:
    """IE declined too and DE was given the task back before the withdrawal was applied: DE keeps that copy."""
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, reassigned = _declined_then_reassigned_to_ie(task)
    ie = Actor("u-ie", "ie-liaison", "IE")
    ie_declined = domain.apply(
        reassigned, "decline", TransitionInput(reason="no"), actor=ie, now=T0 + timedelta(hours=3), members=MEMBERS
    )
    back = domain.apply(
        ie_declined,
        "assign",
        TransitionInput(new_assignee="DE"),
        actor=NL,
        now=T0 + timedelta(hours=4),
        members=MEMBERS,
    )
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(back, "assigned", before=ie_declined), "DE")
    withdrawal = envelopes.withdrawal(_event(reassigned, "assigned", before=declined), "DE")
    assert not replicas.apply(app.REPLICAS, clock, de_node, withdrawal, "DE")
    held = store.get(de_node, task.id)
    assert held is not None and (held.version, held.assignee_jurisdiction) == (back.version, "DE")


def test_a_change_that_keeps_every_party_withdraws_from_no_one() -> None:
    task = _restricted_task_for_de()
    declined, _ = _declined_then_reassigned_to_ie(task)
    assert list(_event(declined, "declined", before=task).withdrawn_from) == []


def test_a_withdrawal_is_applied_only_on_the_node_it_names_and_only_by_the_owner(de_node: Session) -> None:
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, reassigned = _declined_then_reassigned_to_ie(task)
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    withdrawal = envelopes.withdrawal(_event(reassigned, "assigned", before=declined), "DE")
    assert not replicas.apply(app.REPLICAS, clock, de_node, withdrawal, "IE")  # not IE's to drop
    assert store.get(de_node, task.id) is not None
    forged = Envelope()
    forged.CopyFrom(withdrawal)
    forged.origin_jurisdiction = "IE"
    with pytest.raises(PoisonMessage, match="owner"):
        replicas.apply(app.REPLICAS, clock, de_node, forged, "DE")
    assert store.get(de_node, task.id) is not None


def test_an_older_event_delivered_after_the_withdrawal_does_not_bring_the_task_back(de_node: Session) -> None:
    """DE's node dropped its copy on the withdrawal (version 3); the declined event (version 2) is then
    delivered again (a redelivery after a crash, a link resuming out of order): the copy stays dropped,
    and DE's users still get NOT_FOUND."""
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, reassigned = _declined_then_reassigned_to_ie(task)
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    withdrawal = envelopes.withdrawal(_event(reassigned, "assigned", before=declined), "DE")
    assert replicas.apply(app.REPLICAS, clock, de_node, withdrawal, "DE")

    assert not replicas.apply(app.REPLICAS, clock, de_node, _event(declined, "declined", before=task), "DE")
    assert not replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    assert store.get(de_node, task.id) is None


def test_a_withdrawal_that_overtakes_the_tasks_events_keeps_them_out(de_node: Session) -> None:
    """The withdrawal reaches DE's node before any event of the task (DE's node held no copy yet): the
    task's older events that come after it make no copy."""
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, reassigned = _declined_then_reassigned_to_ie(task)
    withdrawal = envelopes.withdrawal(_event(reassigned, "assigned", before=declined), "DE")
    assert not replicas.apply(app.REPLICAS, clock, de_node, withdrawal, "DE")  # nothing held to drop
    assert not replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    assert not replicas.apply(app.REPLICAS, clock, de_node, _event(declined, "declined", before=task), "DE")
    assert store.get(de_node, task.id) is None


def test_a_task_given_back_to_de_after_its_withdrawal_is_held_again(de_node: Session) -> None:
    """IE declined too and NL assigned the task to DE again (version 5): that newer event passes the
    withdrawal and DE's node holds the task again; an event older than the withdrawal still does not."""
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, reassigned = _declined_then_reassigned_to_ie(task)
    ie = Actor("u-ie", "ie-liaison", "IE")
    ie_declined = domain.apply(
        reassigned, "decline", TransitionInput(reason="no"), actor=ie, now=T0 + timedelta(hours=3), members=MEMBERS
    )
    back = domain.apply(
        ie_declined,
        "assign",
        TransitionInput(new_assignee="DE"),
        actor=NL,
        now=T0 + timedelta(hours=4),
        members=MEMBERS,
    )
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    withdrawal = envelopes.withdrawal(_event(reassigned, "assigned", before=declined), "DE")
    assert replicas.apply(app.REPLICAS, clock, de_node, withdrawal, "DE")

    assert replicas.apply(app.REPLICAS, clock, de_node, _event(back, "assigned", before=ie_declined), "DE")
    held = store.get(de_node, task.id)
    assert held is not None and (held.version, held.assignee_jurisdiction) == (back.version, "DE")
    assert decide(DE_USER, Operation.READ, TASK_RULES, record=held.access()) is Decision.ALLOW
    assert not replicas.apply(app.REPLICAS, clock, de_node, _event(declined, "declined", before=task), "DE")
    assert store.get(de_node, task.id) == held


def test_a_withdrawn_task_is_not_taken_back_from_another_owner(de_node: Session) -> None:
    """A record never changes owner, withdrawn or not: an event of the same id from another origin, newer
    than the withdrawal, is set aside."""
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, reassigned = _declined_then_reassigned_to_ie(task)
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    assert replicas.apply(
        app.REPLICAS, clock, de_node, envelopes.withdrawal(_event(reassigned, "assigned", before=declined), "DE"), "DE"
    )
    ie = Actor("u-ie", "ie-liaison", "IE")
    forged = replace(reassigned, origin_jurisdiction="IE", version=9, updated_by=ie)
    with pytest.raises(PoisonMessage, match="owner"):
        replicas.apply(app.REPLICAS, clock, de_node, _event(forged, "changed"), "DE")
    assert store.get(de_node, task.id) is None


# -- listed from its stored answer ------------------------------------------------------------------

DE_SCOPE = VisibilityScope(workspaces=frozenset({"jit-demo"}), jurisdiction="DE", may_read_content=True)


def _listed_as_held(de_node: Session, clock: ManualClock, task_id: str) -> tasks_pb2.Task:
    held = store.get(de_node, task_id)
    assert held is not None and held.replicated_at == clock.now()
    listed = store.list_answered(
        de_node, DE_SCOPE, frozenset({"jit-demo"}), store.TaskFilter(), now=clock.now(), after_id="", limit=10
    )
    (row,) = listed
    assert row.task is None and row.answer is not None, "answered from its row, not its stored answer"
    assert (row.state, row.due_at, row.access) == (held.state, held.due_at, held.access())
    message = tasks_pb2.Task.FromString(row.answer)
    assert message == task_to_pb(held, clock.now()) and message.HasField("replica")
    return message


def test_a_replica_is_listed_from_its_stored_answer_as_this_node_holds_it(de_node: Session) -> None:
    """``ListTasks`` on DE's node answers NL's task from the answer written with DE's copy (not from its
    row), and that answer is the copy's message as DE's node gives it (``replica`` set), after NL's later
    change as after its creation."""
    clock = ManualClock(T0)
    task = _restricted_task_for_de()
    declined, _ = _declined_then_reassigned_to_ie(task)
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(task, "created"), "DE")
    assert _listed_as_held(de_node, clock, task.id).state == tasks_pb2.TASK_STATE_ASSIGNED
    clock.advance(timedelta(hours=2))
    assert replicas.apply(app.REPLICAS, clock, de_node, _event(declined, "declined", before=task), "DE")
    assert _listed_as_held(de_node, clock, task.id).state == tasks_pb2.TASK_STATE_DECLINED
