"""Legal deadlines per instrument: one table row per rule, each naming its legal source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitlib.durations import compact, parse_list
from services.evidence.deadlines import (
    Clocks,
    DeadlineKind,
    add_working_days,
    alert_times,
    compute,
)

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday
DECIDED = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)
D, H = timedelta(days=1), timedelta(hours=1)

# (instrument, procedure, state, kind, expected due, source fragment, legal source of the row)
ROWS = [
    (
        "EPOC",
        "STANDARD",
        "ISSUED",
        DeadlineKind.PRODUCE,
        RECEIVED + 10 * D,
        "2023/1543 Art. 10(3)",
        "Reg. (EU) 2023/1543 Art. 10(3): data within 10 days of receipt",
    ),
    (
        "EPOC",
        "WITH_NOTIFICATION",
        "UNDER_REVIEW",
        DeadlineKind.REVIEW,
        RECEIVED + 10 * D,
        "Art. 10(2), 8",
        "Reg. (EU) 2023/1543 Art. 8, 10(2): enforcing authority has 10 days to raise grounds",
    ),
    (
        "EPOC",
        "WITH_NOTIFICATION",
        "ACKNOWLEDGED",
        DeadlineKind.PRODUCE,
        RECEIVED + 10 * D,
        "Art. 10(2)",
        "Reg. (EU) 2023/1543 Art. 10(2): data at the end of the 10-day window at the latest",
    ),
    (
        "EPOC",
        "EMERGENCY",
        "ISSUED",
        DeadlineKind.PRODUCE,
        RECEIVED + 8 * H,
        "Art. 10(4)",
        "Reg. (EU) 2023/1543 Art. 10(4): emergency, data within 8 hours",
    ),
    (
        "EPOC",
        "EMERGENCY_WITH_NOTIFICATION",
        "ISSUED",
        DeadlineKind.OBJECTION,
        RECEIVED + 96 * H,
        "12(1)",
        "Reg. (EU) 2023/1543 Art. 10(4), 12(1): enforcing authority may object within 96 hours",
    ),
    (
        "EPOC",
        "EMERGENCY_WITH_NOTIFICATION",
        "EXECUTED",
        DeadlineKind.OBJECTION,
        RECEIVED + 96 * H,
        "12(1)",
        "Reg. (EU) 2023/1543 Art. 12(1): the objection window runs after the data was sent too",
    ),
    (
        "EIO",
        "",
        "ISSUED",
        DeadlineKind.ACKNOWLEDGE,
        RECEIVED + 7 * D,
        "2014/41/EU Art. 16(1)",
        "Directive 2014/41/EU Art. 16(1): acknowledge receipt within a week",
    ),
    (
        "EIO",
        "",
        "ACKNOWLEDGED",
        DeadlineKind.DECIDE,
        RECEIVED + 30 * D,
        "Art. 12(3)",
        "Directive 2014/41/EU Art. 12(3): recognition decision within 30 days of receipt",
    ),
    (
        "EIO",
        "",
        "IN_EXECUTION",
        DeadlineKind.EXECUTE,
        DECIDED + 90 * D,
        "Art. 12(4)",
        "Directive 2014/41/EU Art. 12(4): execution within 90 days of the decision",
    ),
    (
        "SAP_ART7",
        "",
        "ISSUED",
        DeadlineKind.PRODUCE,
        RECEIVED + 30 * D,
        "UNVERIFIED",
        "CETS 224 Art. 7: 30 days, UNVERIFIED in DOMAIN.md",
    ),
]


@pytest.mark.parametrize(
    ("basis", "procedure", "state", "kind", "due", "source", "law"), ROWS, ids=[r[6] for r in ROWS]
)
def test_deadline_follows_the_instrument(
    basis: str, procedure: str, state: str, kind: DeadlineKind, due: datetime, source: str, law: str
) -> None:
    found = {d.kind: d for d in compute(Clocks(basis, procedure, state, RECEIVED, DECIDED))}
    assert kind in found, law
    assert found[kind].due_at == due, law
    assert source in found[kind].source
    assert not found[kind].working_days  # none of these instruments counts working days


def test_eio_decision_extension_adds_30_days() -> None:
    """EIO_DECISION_EXTENSION, Directive 2014/41/EU Art. 12(5): the 30 days may be extended once by 30 days."""
    found = {d.kind: d for d in compute(Clocks("EIO", "", "ACKNOWLEDGED", RECEIVED, None, decision_extended=True))}
    assert found[DeadlineKind.DECIDE].due_at == RECEIVED + 60 * D
    assert "12(5)" in found[DeadlineKind.DECIDE].source


@pytest.mark.parametrize("basis", ["MLA", "VOLUNTARY", "JIT_DIRECT"])
def test_instruments_without_a_legal_deadline_carry_none(basis: str) -> None:
    assert compute(Clocks(basis, "", "ISSUED", RECEIVED, None)) == ()


@pytest.mark.parametrize("state", ["DRAFT", "CLOSED", "REFUSED", "NOT_EXECUTED", "WITHDRAWN", "POSTPONED"])
def test_no_deadline_runs_in_a_draft_or_finished_request(state: str) -> None:
    assert compute(Clocks("EPOC", "STANDARD", state, RECEIVED, None)) == ()


def test_deadlines_are_recomputed_from_the_state() -> None:
    issued = {d.kind for d in compute(Clocks("EIO", "", "ISSUED", RECEIVED, None))}
    executing = {d.kind for d in compute(Clocks("EIO", "", "IN_EXECUTION", RECEIVED, DECIDED))}
    assert issued == {DeadlineKind.ACKNOWLEDGE, DeadlineKind.DECIDE}
    assert executing == {DeadlineKind.EXECUTE}


def test_working_days_skip_weekends_only() -> None:
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    assert add_working_days(friday, 1) == friday + 3 * D  # Monday
    assert add_working_days(friday, 5) == friday + 7 * D  # next Friday
    assert add_working_days(RECEIVED, 0) == RECEIVED


def test_alerts_before_a_long_deadline_use_the_long_offsets() -> None:
    (d,) = compute(Clocks("EPOC", "STANDARD", "ISSUED", RECEIVED, None))
    times = alert_times(d, parse_list("48h,8h"), parse_list("2h"))
    assert [(label, compact(off)) for label, off, _ in times] == [
        ("approaching", "2d"),
        ("approaching", "8h"),
        ("passed", "0s"),
    ]
    assert times[0][2] == d.due_at - 48 * H


def test_an_eight_hour_emergency_warns_two_hours_before() -> None:
    (d,) = compute(Clocks("EPOC", "EMERGENCY", "ISSUED", RECEIVED, None))
    times = alert_times(d, parse_list("48h,8h"), parse_list("2h,12h"))
    # 12 h before would fall before the request was received: dropped.
    assert [(label, at) for label, _, at in times] == [("approaching", d.due_at - 2 * H), ("passed", d.due_at)]


def test_eio_postponement_suspends_the_clock_that_ran() -> None:
    """EIO_POSTPONEMENT (Directive 2014/41/EU Art. 15): the decision and execution deadlines run later by the
    time a postponement held them back, and say so; the others do not move."""
    held = Clocks(
        "EIO",
        "",
        "ACKNOWLEDGED",
        RECEIVED,
        None,
        decision_extended=True,
        decision_suspended=5 * D,
        execution_suspended=7 * D,
    )
    (decide,) = compute(held)
    assert decide.due_at == RECEIVED + 65 * D and decide.counted_from == RECEIVED
    assert "extended under" in decide.source and "suspended 5d while postponed" in decide.source
    assert "Art. 15" in decide.source
    executing = Clocks(
        "EIO", "", "IN_EXECUTION", RECEIVED, DECIDED, decision_suspended=5 * D, execution_suspended=7 * D
    )
    (execute,) = compute(executing)
    assert execute.due_at == DECIDED + 97 * D and "suspended 7d" in execute.source
    assert compute(Clocks("EIO", "", "ACKNOWLEDGED", RECEIVED, None))[0].due_at == RECEIVED + 30 * D


def test_epoc_emergency_objection_window_runs_after_closing() -> None:
    """EPOC_EMERGENCY_OBJECTION (Reg. (EU) 2023/1543 Art. 10(4), 12(1)): the 96 hours to object run on after
    the request was executed and closed; not once it is refused."""
    closed = compute(Clocks("EPOC", "EMERGENCY_WITH_NOTIFICATION", "CLOSED", RECEIVED, DECIDED))
    assert [(d.kind, d.due_at) for d in closed] == [(DeadlineKind.OBJECTION, RECEIVED + 96 * H)]
    assert compute(Clocks("EPOC", "EMERGENCY_WITH_NOTIFICATION", "REFUSED", RECEIVED, DECIDED)) == ()
