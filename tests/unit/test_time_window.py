"""``jitlib.clock.Window``, the one span of time [start, end) of the platform: a List filter's window on a
date of its records (read from the request by ``jitlib.mapping.window_from_pb``, kept in SQL by
``jitlib.visibility.BoundFilter.add_window``) and a statistics period (``jitlib.stats.Period``). The SQL keeps exactly
the rows ``Window.holds`` keeps, on a real SQLite table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, insert, select

from jit.tasks.v1 import tasks_pb2
from jitlib import stats
from jitlib.clock import Window
from jitlib.errors import FieldViolation
from jitlib.mapping import dt_to_ts, window_from_pb
from jitlib.visibility import BoundFilter

T0 = datetime(2026, 12, 1, tzinfo=UTC)
END = T0 + timedelta(days=14)
#: Instants around both ends of [T0, END), and an unknown one.
AT: dict[str, datetime | None] = {
    "before": T0 - timedelta(microseconds=1),
    "start": T0,
    "inside": T0 + timedelta(days=7),
    "last": END - timedelta(microseconds=1),
    "end": END,
    "unknown": None,
}
WINDOWS = {
    "closed": Window(T0, END),
    "from": Window(start=T0),
    "until": Window(end=END),
    "open": Window(),
}


@pytest.mark.parametrize(
    ("window", "held"),
    [
        ("closed", {"start", "inside", "last"}),
        ("from", {"start", "inside", "last", "end"}),
        ("until", {"before", "start", "inside", "last"}),
        ("open", set(AT)),
    ],
)
def test_a_window_holds_its_start_not_its_end_and_an_unknown_instant_only_when_open_both_ways(
    window: str, held: set[str]
) -> None:
    assert {name for name, at in AT.items() if WINDOWS[window].holds(at)} == held


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_a_filter_s_window_keeps_in_sql_exactly_the_rows_the_window_holds(window: str) -> None:
    rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("at", DateTime(timezone=True)))
    engine = create_engine("sqlite://")
    rows.metadata.create_all(engine)
    names = sorted(AT)
    with engine.begin() as conn:
        conn.execute(insert(rows), [{"id": i, "at": AT[name]} for i, name in enumerate(names)])
        flt = BoundFilter([], [], {})
        flt.add_window("at", rows.c.at, WINDOWS[window])
        kept = conn.scalars(select(rows.c.id).where(*flt.conditions()), flt.params).all()
    engine.dispose()
    assert {names[i] for i in kept} == {name for name, at in AT.items() if WINDOWS[window].holds(at)}


def test_an_open_window_adds_no_condition() -> None:
    rows = Table("rows", MetaData(), Column("at", DateTime(timezone=True)))
    flt = BoundFilter([], [], {})
    flt.add_window("at", rows.c.at, Window())
    assert (flt.conditions(), flt.params) == ([], {})


def test_a_list_request_s_window_is_read_with_either_side_unset() -> None:
    violations: list[FieldViolation] = []
    request = tasks_pb2.ListTasksRequest(due_after=dt_to_ts(T0))
    assert window_from_pb(request, "due_after", "due_before", violations) == Window(T0, None)
    both = tasks_pb2.ListTasksRequest(due_after=dt_to_ts(T0), due_before=dt_to_ts(END))
    assert window_from_pb(both, "due_after", "due_before", violations) == Window(T0, END)
    assert window_from_pb(tasks_pb2.ListTasksRequest(), "due_after", "due_before", violations) == Window()
    assert violations == []


def test_a_list_request_s_window_that_ends_at_or_before_its_start_is_refused_on_its_end() -> None:
    violations: list[FieldViolation] = []
    request = tasks_pb2.ListTasksRequest(due_after=dt_to_ts(END), due_before=dt_to_ts(T0))
    window_from_pb(request, "due_after", "due_before", violations)
    assert violations == [FieldViolation("due_before", "must be later than due_after")]


def test_a_statistics_period_is_a_window_that_ends_after_it_starts() -> None:
    period = stats.Period(T0, END)
    assert isinstance(period, Window) and period.holds(T0) and not period.holds(END)
    with pytest.raises(stats.StatsError):
        stats.Period(END, T0)
