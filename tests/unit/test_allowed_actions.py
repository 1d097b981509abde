"""What a record tells its caller they may do now (``allowed_actions`` of tasks, evidence requests and
preservation orders), as a matrix: every state x instrument or clock x caller (issuing side, addressed or
shared side, another member, auditor, operator). The expectation is not written out: it is derived by
attempting what the servicer does on the RPC, the policy's ``decide`` with the operation and rules the
servicer asks and the domain's ``apply`` (``receiving_check`` for an upload), so that an action is listed
if and only if calling it would get past both. The actions are those the servicers have an RPC for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jitlib.errors import FailedPrecondition
from jitlib.policy import (
    PRESERVATION_ORDER_RULES,
    TASK_RULES,
    Decision,
    Members,
    Operation,
    RecordRules,
    decide,
)
from jitlib.principal import Principal
from services.evidence import domain as evidence
from services.evidence.servicer import EvidenceServicer
from services.preservation import domain as preservation
from services.preservation import providers
from services.preservation.servicer import PreservationServicer
from services.tasks import domain as tasks
from services.tasks.servicer import TaskServicer
from tests.unit.test_evidence_rules import new as new_request
from tests.unit.test_task_state_machine import new_cmd

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WS = "jit-demo"
ISSUER, OTHER = "NL", "BE"
MEMBERS = frozenset({"NL", "DE", "IE", "BE"})
TASK_ID = "01935c4e-0000-7000-8000-0000000000aa"
REQUEST_ID = "0190f7a0-0000-7000-8000-0000000000aa"


def rpc_actions(servicer: type) -> frozenset[str]:
    """The actions a servicer has a transition RPC for (``jitlib.records.transition_rpc`` names them)."""
    names = (getattr(v, "__name__", "") for v in vars(servicer).values())
    return frozenset(n.removeprefix("transition_") for n in names if n.startswith("transition_"))


def principal(jurisdiction: str, role: str) -> Principal:
    user = f"{jurisdiction.lower()}-{role}"
    return Principal(f"u-{user}", user, jurisdiction, frozenset({role}), frozenset({WS}))


def callers(addressee: str) -> Iterator[tuple[str, Principal]]:
    """Every kind of caller of a record issued by NL and addressed to (or shared with) ``addressee``."""
    for role in ("prosecutor", "police_liaison", "participant"):
        yield f"issuer {role}", principal(ISSUER, role)
        yield f"addressee {role}", principal(addressee, role)
        yield f"other member {role}", principal(OTHER, role)
    yield "auditor", principal(ISSUER, "auditor")
    yield "operator", principal(ISSUER, "operator")


def passes(attempt: Callable[..., Any], *args: Any, **kw: Any) -> bool:
    """Whether the domain lets an action through (the state check every RPC makes after the policy)."""
    try:
        attempt(*args, **kw)
    except FailedPrecondition:
        return False
    return True


def allows(p: Principal, operation: Operation, rules: RecordRules, record: Any) -> bool:
    return decide(p, operation, rules, record=record.access()) is Decision.ALLOW


# ---- tasks ---------------------------------------------------------------------------------------------

TASK_INPUT = tasks.TransitionInput(reason="because", outcome="holder identified", priority="URGENT")


def task(state: tasks.TaskState, restricted: bool) -> tasks.Task:
    p = principal(ISSUER, "prosecutor")
    made = tasks.create(new_cmd(restricted=restricted), task_id=TASK_ID, actor=p.actor, now=NOW)
    return replace(made, state=state)


def task_expected(t: tasks.Task, p: Principal) -> tuple[str, ...]:
    return tuple(
        action
        for action, tr in tasks.TRANSITIONS.items()
        if action in rpc_actions(TaskServicer)
        and allows(p, tr.operation, TASK_RULES, t)
        and passes(tasks.apply, t, action, TASK_INPUT, actor=p.actor, now=NOW, members=MEMBERS)
    )


def task_cases(state: tasks.TaskState) -> Iterator[tuple[str, tasks.Task, Principal]]:
    for restricted in (False, True):
        for who, p in callers("DE"):
            yield f"{who}, restricted={restricted}", task(state, restricted), p


@pytest.mark.parametrize("state", list(tasks.TaskState))
def test_task_actions_are_those_the_policy_and_the_state_allow(state: tasks.TaskState) -> None:
    for case, t, p in task_cases(state):
        assert tasks.allowed_actions(t, p) == task_expected(t, p), case


#: The workspace once DE, the tasks' addressee, was taken out of it (JIT_MEMBER_TAKEN_OUT).
DE_OUT = Members(MEMBERS - {"DE"}, {"DE"})


@pytest.mark.parametrize("state", list(tasks.TaskState))
def test_task_actions_once_the_assignee_was_taken_out(state: tasks.TaskState) -> None:
    """TASK_TAKEN_BACK: with DE taken out, what a task lists (``taken_out``) is still exactly what the policy
    and ``apply`` let through (an assignment to a current member, IE)."""
    data = replace(TASK_INPUT, new_assignee="IE")
    for case, t, p in task_cases(state):
        expected = tuple(
            action
            for action, tr in tasks.TRANSITIONS.items()
            if action in rpc_actions(TaskServicer)
            and allows(p, tr.operation, TASK_RULES, t)
            and passes(tasks.apply, t, action, data if action == "assign" else TASK_INPUT, actor=p.actor, now=NOW,
                       members=DE_OUT)
        )  # fmt: skip
        assert tasks.allowed_actions(t, p, taken_out=True) == expected, case


def test_task_matrix_covers_every_rpc_and_nothing_else() -> None:
    listed = {a for state in tasks.TaskState for _, t, p in task_cases(state) for a in tasks.allowed_actions(t, p)}
    assert listed == rpc_actions(TaskServicer) == set(tasks.TRANSITIONS) - tasks.SYSTEM_ONLY


def test_an_assigned_task_shows_each_side_its_own_actions() -> None:
    t = task(tasks.TaskState.ASSIGNED, True)
    assert tasks.allowed_actions(t, principal("DE", "police_liaison")) == ("accept", "decline")
    assert tasks.allowed_actions(t, principal("NL", "prosecutor")) == ("renegotiate", "cancel")
    assert tasks.allowed_actions(t, principal("NL", "police_liaison")) == ()
    assert tasks.allowed_actions(t, principal("NL", "auditor")) == ()


# ---- evidence requests ---------------------------------------------------------------------------------

EVIDENCE_INPUT = evidence.TransitionInput(
    reason="because",
    refusal_ground="FUNDAMENTAL_RIGHTS",
    non_execution_reason="DATA_NOT_HELD",
    postponed_until=NOW + timedelta(days=10),
    user_notice_status="SENT",
    expected_at=NOW + timedelta(days=30),
)
#: (legal basis, EPOC procedure, addressee kind, addressee): every way a request is addressed and reviewed.
INSTRUMENTS = [
    ("EIO", "", "MEMBER_STATE", "DE"),
    ("MLA", "", "MEMBER_STATE", "DE"),
    ("JIT_DIRECT", "", "MEMBER_STATE", "DE"),
    ("EPOC", "STANDARD", "SERVICE_PROVIDER", "IE"),
    ("EPOC", "WITH_NOTIFICATION", "SERVICE_PROVIDER", "IE"),
    ("EPOC", "EMERGENCY", "SERVICE_PROVIDER", "IE"),
    ("EPOC", "EMERGENCY_WITH_NOTIFICATION", "SERVICE_PROVIDER", "IE"),
    ("SAP_ART7", "", "SERVICE_PROVIDER", "IE"),
    ("VOLUNTARY", "", "SERVICE_PROVIDER", "IE"),
]


#: How long ago the request was received: within every review or objection window, and after them all
#: (a notified EPOC's 10 days, an emergency's 96 hours), since what the clock allows changes then.
RECEIVED_AGO = (timedelta(days=2), timedelta(days=11))


def request(
    instrument: tuple[str, str, str, str],
    state: evidence.State,
    extended: bool,
    restricted: bool = True,
    received_ago: timedelta = RECEIVED_AGO[0],
) -> evidence.EvidenceRequest:
    basis, procedure, kind, addressee = instrument
    cmd = new_request(
        legal_basis=basis,
        epoc_procedure=procedure,
        addressee_kind=kind,
        addressee_jurisdiction=addressee,
        provider_name="SocialNet Ireland" if kind == "SERVICE_PROVIDER" else "",
        urgency="",
        restricted=restricted,
    )
    p = principal(ISSUER, "prosecutor")
    r = evidence.create(cmd, request_id=REQUEST_ID, actor=p.actor, now=NOW)
    issued = None if state is evidence.State.DRAFT else NOW - received_ago
    r = replace(r, state=state, issued_at=issued, received_at=issued, decision_extended=extended)
    if state in (evidence.State.IN_ENFORCEMENT, evidence.State.NOT_ENFORCED) and r.legal_basis == "EPOC":
        # Transferred to the provider's establishment state, which reads it from then on.
        r = replace(r, enforcing_jurisdiction=r.addressee_jurisdiction, enforcement_requested_at=issued)
    return r


def evidence_expected(r: evidence.EvidenceRequest, p: Principal) -> tuple[str, ...]:
    # A ground for refusal of the request's own instrument (each has its list).
    data = replace(EVIDENCE_INPUT, refusal_ground=(evidence.REFUSAL_GROUNDS.get(r.legal_basis) or ("",))[0])
    out = [
        action
        for action, tr in evidence.TRANSITIONS.items()
        if allows(p, evidence.operation_for(tr, r), evidence.rules_for(action), r)
        and passes(evidence.apply, r, action, data, actor=p.actor, now=NOW)
    ]
    # Items keep the request's parties as addressed (EPOC_ENFORCING_STATE_SEES_THE_ORDER).
    items = decide(p, evidence.upload_operation(p, r), evidence.EVIDENCE_ITEM_RULES, record=r.item_access())
    if items is Decision.ALLOW and passes(evidence.receiving_check, r):
        out.append("upload_item")
    return tuple(out)


def request_cases(
    instrument: tuple[str, str, str, str], state: evidence.State
) -> Iterator[tuple[str, evidence.EvidenceRequest, Principal]]:
    for extended in (False, True):
        for restricted in (False, True):
            for ago in RECEIVED_AGO:
                for who, p in callers(instrument[3]):
                    yield (
                        f"{who}, extended={extended}, restricted={restricted}, received {ago} ago",
                        request(instrument, state, extended, restricted, ago),
                        p,
                    )


@pytest.mark.parametrize("state", list(evidence.State))
@pytest.mark.parametrize("instrument", INSTRUMENTS, ids="-".join)
def test_request_actions_are_those_the_policy_the_state_and_the_instrument_allow(
    instrument: tuple[str, str, str, str], state: evidence.State
) -> None:
    for case, r, p in request_cases(instrument, state):
        assert evidence.allowed_actions(r, p, NOW) == evidence_expected(r, p), case


def test_request_matrix_covers_every_rpc_and_nothing_else() -> None:
    listed = {
        a
        for instrument in INSTRUMENTS
        for state in evidence.State
        for _, r, p in request_cases(instrument, state)
        for a in evidence.allowed_actions(r, p, NOW)
    }
    assert listed == rpc_actions(EvidenceServicer) | {"upload_item"}
    assert rpc_actions(EvidenceServicer) == set(evidence.TRANSITIONS)


#: (instrument, state, caller, what the caller is told), written out for reading.
REQUEST_EXAMPLES = [
    # A provider is not a user: the issuer records its answers. Its establishment state, not notified, is
    # no party: it does not even see a restricted request.
    (INSTRUMENTS[3], "ISSUED", ("NL", "prosecutor"), "acknowledge report_not_executed withdraw update_user_notice"),
    (INSTRUMENTS[3], "ISSUED", ("IE", "prosecutor"), ""),
    # An EIO in execution: the executing state acts, and either side receives evidence.
    (
        INSTRUMENTS[0],
        "IN_EXECUTION",
        ("DE", "police_liaison"),
        "partially_execute complete report_not_executed postpone upload_item",
    ),
    (INSTRUMENTS[0], "IN_EXECUTION", ("NL", "police_liaison"), "upload_item"),
    (INSTRUMENTS[0], "IN_EXECUTION", ("NL", "prosecutor"), "withdraw upload_item"),
]


@pytest.mark.parametrize(("instrument", "state", "caller", "told"), REQUEST_EXAMPLES)
def test_request_examples(
    instrument: tuple[str, str, str, str], state: str, caller: tuple[str, str], told: str
) -> None:
    r = request(instrument, evidence.State(state), False)
    assert evidence.allowed_actions(r, principal(*caller), NOW) == tuple(told.split())


# ---- preservation orders -------------------------------------------------------------------------------

RULES = preservation.Rules(providers=providers.load())
PRESERVATION_INPUT = preservation.TransitionInput(
    reason="no longer needed",
    not_executed_reason="DATA_NOT_HELD",
    follow_up_request_id="0190f7a0-0000-7000-8000-0000000000ee",
)
#: (legal basis, provider): every clock rule (no extension, one, several, unlimited with notice).
CLOCKS = [
    (preservation.LegalBasis.EPOC_PR, "socialnet-ie"),
    (preservation.LegalBasis.BUDAPEST_ART29, "socialnet-ie"),
    (preservation.LegalBasis.PROVIDER_VOLUNTARY, "socialnet-ie"),
    (preservation.LegalBasis.PROVIDER_VOLUNTARY, "chatapp-nl"),
    (preservation.LegalBasis.PROVIDER_VOLUNTARY, "videohost-de"),
    (preservation.LegalBasis.NATIONAL, "socialnet-ie"),
]
#: When the caller asks, against the order's current expiry: well before it, two days before it (too late
#: for a provider that wants a week's or three days' notice of an extension), and after it.
MOMENTS = {"early": timedelta(days=-30), "late": timedelta(days=-2), "expired": timedelta(minutes=1)}


def order(
    clock: tuple[preservation.LegalBasis, str], state: preservation.OrderState, extensions: int
) -> preservation.Order:
    basis, provider = clock
    cmd = preservation.NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id=WS,
        legal_basis=basis.value,
        provider_id=provider,
        targets=(preservation.Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER",),
        description="",
        restricted=True,
        shared_with=("DE",),
    )
    p = principal(ISSUER, "police_liaison")
    o = preservation.create(cmd, order_id="01935c4e-0000-7000-8000-000000000001", actor=p.actor, now=NOW)
    S = preservation.OrderState
    # The states in which this basis's clock runs (an expiry): as the service reaches them.
    running = (
        state in (S.CONFIRMED, S.EXTENDED)
        or (state in (S.ISSUED, S.IN_ENFORCEMENT) and preservation.starts_at_receipt(basis))
        or (state is S.PRODUCTION_REQUESTED and not preservation.stops_at_production(basis))
    )
    transferred = state in (S.IN_ENFORCEMENT, S.NOT_ENFORCED) or (state is S.PRODUCTION_REQUESTED and extensions == 2)
    return replace(
        o,
        state=state,
        issued_at=None if state is S.DRAFT else NOW - timedelta(days=50),
        confirmed_at=NOW - timedelta(days=49) if state in (S.CONFIRMED, S.EXTENDED) else None,
        expires_at=NOW if running else None,
        extension_count=extensions,
        # Transferred for enforcement to DE, the addressee of the matrix (EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER);
        # with two extensions, production was requested from there, DE undecided
        # (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION).
        enforcing_jurisdiction="DE" if transferred else "",
        enforcement_requested_at=NOW - timedelta(days=40) if transferred else None,
    )


def preservation_expected(o: preservation.Order, p: Principal, now: datetime) -> tuple[str, ...]:
    rule = RULES.clock_for(o)
    return tuple(
        action
        for action, tr in preservation.TRANSITIONS.items()
        if action in rpc_actions(PreservationServicer)
        and allows(p, tr.operation, preservation.RULES_FOR.get(action, PRESERVATION_ORDER_RULES), o)
        and passes(preservation.apply, o, action, PRESERVATION_INPUT, actor=p.actor, now=now, rule=rule)
    )


def order_cases(
    clock: tuple[preservation.LegalBasis, str], state: preservation.OrderState
) -> Iterator[tuple[str, preservation.Order, Principal, datetime]]:
    for extensions in (0, 1, 2):
        for moment, offset in MOMENTS.items():
            for who, p in callers("DE"):
                yield f"{who}, {extensions} extensions, {moment}", order(clock, state, extensions), p, NOW + offset


@pytest.mark.parametrize("state", list(preservation.OrderState))
@pytest.mark.parametrize("clock", CLOCKS, ids=lambda c: f"{c[0].value}-{c[1]}")
def test_order_actions_are_those_the_policy_the_state_and_the_clock_allow(
    clock: tuple[preservation.LegalBasis, str], state: preservation.OrderState
) -> None:
    for case, o, p, now in order_cases(clock, state):
        actual = preservation.allowed_actions(o, p, RULES.clock_for(o), now)
        assert actual == preservation_expected(o, p, now), case


def test_order_matrix_covers_every_rpc_and_never_the_clocks_own_transition() -> None:
    listed = {
        a
        for clock in CLOCKS
        for state in preservation.OrderState
        for _, o, p, now in order_cases(clock, state)
        for a in preservation.allowed_actions(o, p, RULES.clock_for(o), now)
    }
    assert listed == rpc_actions(PreservationServicer) == set(preservation.TRANSITIONS) - preservation.CLOCK_ONLY


def test_extend_is_listed_only_while_the_clock_rule_allows_it() -> None:
    liaison = principal("NL", "police_liaison")
    o = order((preservation.LegalBasis.PROVIDER_VOLUNTARY, "socialnet-ie"), preservation.OrderState.CONFIRMED, 0)
    rule = RULES.clock_for(o)
    early = preservation.allowed_actions(o, liaison, rule, NOW - timedelta(days=30))
    assert early == ("extend", "request_production", "lift", "record_not_executed")
    # socialnet-ie wants an extension asked at least 7 days before expiry.
    assert "extend" not in preservation.allowed_actions(o, liaison, rule, NOW - timedelta(days=2))
    # The DE side the order is shared with sees it, and may do nothing with it.
    assert preservation.allowed_actions(o, principal("DE", "police_liaison"), rule, NOW - timedelta(days=30)) == ()
