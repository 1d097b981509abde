"""An evidence request kept in the form ``ListRequests`` answers it (``mapping.request_answer``): at any time,
for any caller, what a page writes from it is the message the request's own mapping makes then, with the
actions ``domain.allowed_actions`` allows then. The requests are walked at random through their states and
clocks (every instrument, each action tried with what it needs), and compared at many times around each
end the clocks have (``domain.clock_ends``) and each deadline."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from jitlib.actors import Actor
from jitlib.errors import FailedPrecondition, InvalidArgument
from jitlib.policy import RecordAccess
from jitlib.principal import Principal
from services.evidence import domain
from services.evidence.domain import NewRequest, State, Target, TransitionInput
from services.evidence.mapping import answered, micros, request_answer, request_to_pb

START = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)  # before Reg. 2023/1543 applies: an EPOC waits to be issued
WS = "jit-demo"
NL = Actor("u1", "nl-prosecutor", "NL")
CALLERS = [
    Principal("u1", "nl-prosecutor", "NL", frozenset({"prosecutor"}), frozenset({WS})),
    Principal("u2", "de-liaison", "DE", frozenset({"police_liaison"}), frozenset({WS})),
    Principal("u3", "ie-prosecutor", "IE", frozenset({"prosecutor"}), frozenset({WS})),
    Principal("u4", "fr-prosecutor", "FR", frozenset({"prosecutor"}), frozenset()),
    Principal("u5", "nl-liaison", "NL", frozenset({"police_liaison"}), frozenset({WS})),
    # As nl-prosecutor but for its workspaces: a list's kept actions (``offered_when``) tell them apart.
    Principal("u6", "nl-prosecutor-elsewhere", "NL", frozenset({"prosecutor"}), frozenset({"jit-other"})),
]
INSTRUMENTS = [
    {"legal_basis": "EIO", "addressee_kind": "MEMBER_STATE", "addressee_jurisdiction": "DE"},
    {"legal_basis": "MLA", "addressee_kind": "MEMBER_STATE", "addressee_jurisdiction": "DE"},
    {"legal_basis": "JIT_DIRECT", "addressee_kind": "MEMBER_STATE", "addressee_jurisdiction": "DE"},
    *(
        {
            "legal_basis": "EPOC",
            "epoc_procedure": procedure,
            "addressee_kind": "SERVICE_PROVIDER",
            "addressee_jurisdiction": "IE",
            "provider_name": "Meta Platforms Ireland",
        }
        for procedure in sorted(domain.EPOC_PROCEDURES)
    ),
]


def new(i: int, **over: object) -> NewRequest:
    fields: dict[str, object] = dict(
        request_id=f"0190f7a0-0000-7000-8000-{i:012d}",
        workspace_id=WS,
        legal_basis="EIO",
        epoc_procedure="",
        issuing_authority="OM Amsterdam",
        addressee_kind="MEMBER_STATE",
        addressee_jurisdiction="DE",
        provider_name="",
        data_categories=("SUBSCRIBER", "TRAFFIC"),
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x", "instagram"),),
        offence_category="CYBERSTALKING",
        urgency="NORMAL",
        title="Identify the holder «ü»",
        description="",
        restricted=bool(i % 2),
        notification_exemption_reason="",
    )
    fields.update(over)
    return NewRequest(**fields)  # type: ignore[arg-type]


_ENDING = {"withdraw", "report_not_executed", "refuse", "close"}
#: How likely each action is taken when it may be: those that end a request seldom; a transfer for
#: enforcement (allowed in most states once the production deadline passed) seldom enough that the walks go
#: on through the other states too.
_WEIGHT = {**dict.fromkeys(_ENDING, 0.1), "transfer_for_enforcement": 0.3}
SEEDS = 150


def data_for(r: domain.EvidenceRequest, action: str, now: datetime, rng: random.Random) -> TransitionInput:
    grounds = domain.REFUSAL_GROUNDS.get(r.legal_basis, ())
    return TransitionInput(
        reason="because «ü»",
        refusal_ground=rng.choice(grounds) if grounds and action == "refuse" else "",
        non_execution_reason="DATA_NOT_HELD" if action == "report_not_executed" else "",
        postponed_until=now + timedelta(days=20) if action == "postpone" else None,
        user_notice_status="SENT" if action == "update_user_notice" else "",
        data_categories=("SUBSCRIBER",) if action in ("refuse", "partially_execute") and rng.random() < 0.5 else (),
        expected_at=now + timedelta(days=10) if action == "notify_delay" else None,
        enforcement_ground="DATA_NOT_STORED" if action == "refuse_enforcement" else "",
    )


def walk(seed: int) -> list[tuple[domain.EvidenceRequest, datetime]]:
    """A request of a random instrument moved by random actions at random times: each state it passed, with
    when it was reached."""
    rng, aside = random.Random(seed), random.Random(-seed)
    instrument = INSTRUMENTS[seed % len(INSTRUMENTS)]
    over = dict(instrument)
    if over.get("epoc_procedure") in ("STANDARD", "EMERGENCY"):
        over["data_categories"] = ("SUBSCRIBER",)
    now = START + timedelta(days=rng.randrange(0, 30))
    r = domain.create(new(seed, **over), request_id=f"0190f7a0-0000-7000-8000-{seed:012x}", actor=NL, now=now)
    if seed % 3 == 0:
        r = replace(r, preservation_order_id="0190f7a0-0000-7000-8000-0000000000ff")
    seen = [(r, now)]
    for _ in range(12):
        now += timedelta(hours=rng.choice([1, 6, 30, 24 * 4, 24 * 12]))
        taken = [t.action for t in domain._TAKEN_FROM[r.state]]
        # The actions that end a request taken seldom, so that the walks go on through the states after.
        # The enforcement procedure's draws come from their own generator, so that the walks' other draws are
        # those they were before it existed.
        taken.sort(
            key=lambda action: (
                (aside if action in domain.ENFORCEMENT_ACTIONS else rng).random() * _WEIGHT.get(action, 1.0)
            ),
            reverse=True,
        )
        for action in taken:
            if domain.refused(r, action, now) is not None:
                continue
            try:
                r = domain.apply(r, action, data_for(r, action, now, rng), actor=NL, now=now)
            except (FailedPrecondition, InvalidArgument):
                continue
            seen.append((r, now))
            break
    return seen


def times(r: domain.EvidenceRequest, reached: datetime, rng: random.Random) -> list[datetime]:
    out = [reached, reached + timedelta(days=400)]
    for end in (*domain.clock_ends(r), *(d.due_at for d in r.deadlines)):
        out += [end - timedelta(microseconds=1), end, end + timedelta(microseconds=1)]
    out += [reached + timedelta(minutes=rng.randrange(0, 60 * 24 * 120)) for _ in range(6)]
    return out


@pytest.mark.parametrize("seed", range(SEEDS))
def test_a_page_writes_from_the_answered_form_what_the_mapping_makes_at_any_time(seed: int) -> None:
    rng = random.Random(1000 + seed)
    states: set[State] = set()
    for r, reached in walk(seed):
        states.add(r.state)
        a = answered(request_answer(r))
        for now in times(r, reached, rng):
            taken = [t.action for t in domain._TAKEN_FROM[r.state]]
            allowed = {x for x in taken if domain.refused(r, x, now) is None}
            assert a.clocks_allow(micros(now)) == allowed, (r.state, now)
            for caller in CALLERS:
                actions = domain.offered(
                    r.state,
                    r.to_provider,
                    r.access(),
                    caller,
                    a.clocks_allow(micros(now)).__contains__,
                    r.item_access(),
                )
                assert actions == domain.allowed_actions(r, caller, now)
                # As a list asks it, the answer kept for the caller's policy facts and the request's: each
                # caller of the same request at the same time gets its own.
                kept = domain.offered_when(
                    r.state, r.to_provider, r.access(), caller, a.clocks_allow(micros(now)), r.item_access()
                )
                assert kept == actions, (caller.username, r.state, now)
                for shown in (False, True):
                    order = r.preservation_order_id if shown else ""
                    written = pb.EvidenceRequest.FromString(a.message(micros(now), order, actions))
                    assert written == request_to_pb(r, now, hide_link=not shown, allowed_actions=actions)
    assert states


def test_the_walks_reach_the_states_and_clocks_a_list_meets() -> None:
    """The walks above are worth something only if they reach most states, under each instrument."""
    reached = {(r.legal_basis, r.epoc_procedure, r.state) for seed in range(SEEDS) for r, _ in walk(seed)}
    assert {s for *_, s in reached} >= {
        State.DRAFT,
        State.ISSUED,
        State.ACKNOWLEDGED,
        State.UNDER_REVIEW,
        State.IN_EXECUTION,
        State.PARTIALLY_EXECUTED,
        State.EXECUTED,
        State.CLOSED,
        State.REFUSED,
        State.POSTPONED,
        State.IN_ENFORCEMENT,
        State.NOT_ENFORCED,
    }
    assert ("EPOC", "WITH_NOTIFICATION", State.UNDER_REVIEW) in reached
    assert len(reached) >= 45


def test_a_request_s_access_from_its_columns_is_its_access() -> None:
    for seed in range(len(INSTRUMENTS) * 2):
        r = walk(seed)[-1][0]
        r = replace(r, shared_with=("IE",) if seed % 2 else ())
        assert r.access() == domain.request_access(
            r.workspace_id,
            r.origin_jurisdiction,
            r.addressee_kind,
            r.addressee_jurisdiction,
            r.legal_basis,
            r.epoc_procedure,
            r.restricted,
            r.shared_with,
            r.enforcing_jurisdiction,
        )


def test_the_actions_a_list_keeps_are_those_of_the_state_and_side_asked() -> None:
    """``offered_when`` keeps its answers across pages: asked for every state and side with the same access
    facts, caller and transitions allowed (none; every one), each answer is ``offered``'s for that state
    and side, whichever was asked before it."""
    access = RecordAccess(WS, "NL", "IE", False)
    every = frozenset(t.action for taken in domain._TAKEN_FROM.values() for t in taken)
    for allowed in (frozenset(), every):
        for caller in CALLERS:
            for state in State:
                for to_provider in (False, True):
                    expected = domain.offered(state, to_provider, access, caller, allowed.__contains__)
                    kept = domain.offered_when(state, to_provider, access, caller, allowed)
                    assert kept == expected, (caller.username, state, to_provider, sorted(allowed))
