"""The JIT's agreed period (``jitlib.period``): the check of every create path and the warning schedule,
pure. A JIT is set up "for a limited period, which may be extended by mutual consent" (Council Framework
Decision 2002/465/JHA Art. 1(1); 2000 EU MLA Convention Art. 13(1))."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import grpc
import pytest

from jitlib import legal, period
from jitlib.errors import FailedPrecondition

D = timedelta(days=1)
OFFSETS = period.parse_offsets(period.DEFAULT_OFFSETS)
END = "2027-07-15"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_jit_period_ended_refuses_a_new_record_from_the_day_after_the_last_day() -> None:
    """JIT_PERIOD_ENDED (FD 2002/465/JHA Art. 1(1)): the last day (UTC) still accepts a new record; from
    00:00 UTC the next day it is FAILED_PRECONDITION JIT_PERIOD_ENDED, saying when the period ended and
    that the agreement must be extended, with the rule's source."""
    period.require_running("jit-demo", END, at("2027-07-15T23:59:59"))
    with pytest.raises(FailedPrecondition) as refused:
        period.require_running("jit-demo", END, at("2027-07-16T00:00:00"))
    err = refused.value
    assert err.code is grpc.StatusCode.FAILED_PRECONDITION and err.reason == period.REASON == "JIT_PERIOD_ENDED"
    assert "ended on 2027-07-15" in str(err) and "extend" in str(err)
    assert legal.source("JIT_PERIOD_ENDED") in str(err) and "Art. 1(1)" in str(err)
    assert err.metadata == {"field": "workspace_id", "ends_on": "2027-07-15"}


def test_jit_period_ended_reads_the_time_in_utc_whatever_the_zone_of_now() -> None:
    """JIT_PERIOD_ENDED: 01:00 in Amsterdam on the 16th is still the 15th in UTC, the period's last day."""
    cest = datetime(2027, 7, 16, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    period.require_running("jit-demo", END, cest)
    with pytest.raises(FailedPrecondition):
        period.require_running("jit-demo", END, cest + timedelta(hours=2))


def test_a_workspace_without_an_end_date_has_no_period_to_check() -> None:
    period.require_running("jit-demo", "", at("2100-01-01T00:00:00"))
    assert period.last_day("") is None and period.last_day("not a date") is None
    assert period.due_warning("jit-demo", "", OFFSETS, at("2100-01-01T00:00:00")) is None


def test_days_left_and_how_the_period_stands_in_words() -> None:
    end = date(2027, 7, 15)
    assert period.days_left(end, at("2027-07-14T23:00:00")) == 1
    assert period.describe(end, at("2027-07-14T23:00:00")) == "ends 2027-07-15 (1 day left)"
    assert period.describe(end, at("2027-05-16T08:00:00")) == "ends 2027-07-15 (60 days left)"
    assert period.describe(end, at("2027-07-15T12:00:00")) == "ends today (2027-07-15)"
    assert period.describe(end, at("2027-07-18T12:00:00")) == "ended 2027-07-15 (3 days ago)"


def test_jit_period_warning_schedule_60_30_7_days_the_last_day_and_the_end() -> None:
    """JIT_PERIOD_WARNING (FD 2002/465/JHA Art. 1(1)): by default 60, 30 and 7 days before the last day
    (00:00 UTC), on the last day, and once the period ended; each with a key naming the end date."""
    schedule = period.warning_schedule("jit-demo", date(2027, 7, 15), OFFSETS)
    assert [(w.label, w.due_at) for w in schedule] == [
        ("60d", at("2027-05-16T00:00:00")),
        ("30d", at("2027-06-15T00:00:00")),
        ("7d", at("2027-07-08T00:00:00")),
        (period.LAST_DAY, at("2027-07-15T00:00:00")),
        (period.ENDED, at("2027-07-16T00:00:00")),
    ]
    assert schedule[1].key() == "period:jit-demo:2027-07-15:30d"
    assert period.parse_offsets("7d,60d,30d,7d") == (60 * D, 30 * D, 7 * D)
    with pytest.raises(ValueError):
        period.parse_offsets("sixty days")


def test_jit_period_warning_due_is_the_latest_of_the_schedule_only() -> None:
    """JIT_PERIOD_WARNING: the warning due is the latest one already due; a node that was down through
    two of them sends one, saying how long is actually left."""
    assert period.due_warning("jit-demo", END, OFFSETS, at("2027-05-15T23:59:59")) is None
    first = period.due_warning("jit-demo", END, OFFSETS, at("2027-05-16T00:00:00"))
    assert first is not None and first.label == "60d"
    late = period.due_warning("jit-demo", END, OFFSETS, at("2027-07-10T09:00:00"))
    assert late is not None and late.label == "7d"
    assert "in 5 days" in late.text(at("2027-07-10T09:00:00")) and "2027-07-15" in late.text(late.due_at)
    last = period.due_warning("jit-demo", END, OFFSETS, at("2027-07-15T10:00:00"))
    assert last is not None and last.label == period.LAST_DAY and "ends today" in last.text(last.due_at)
    ended = period.due_warning("jit-demo", END, OFFSETS, at("2030-01-01T00:00:00"))
    assert ended is not None and ended.ended and "ended on 2027-07-15" in ended.text(ended.due_at)
    assert legal.source("JIT_PERIOD_WARNING") in ended.text(ended.due_at)


def test_jit_period_extension_starts_a_new_series_of_warnings() -> None:
    """JIT_PERIOD_EXTENSION (FD 2002/465/JHA Art. 1(1), "extended by mutual consent"): a later end date
    lets new records through again and its warnings have keys of their own, due from the new date."""
    now = at("2027-07-20T00:00:00")
    with pytest.raises(FailedPrecondition):
        period.require_running("jit-demo", END, now)
    period.require_running("jit-demo", "2028-07-15", now)
    old = period.due_warning("jit-demo", END, OFFSETS, now)
    assert old is not None and old.ended
    assert period.due_warning("jit-demo", "2028-07-15", OFFSETS, now) is None
    new = period.due_warning("jit-demo", "2028-07-15", OFFSETS, at("2028-05-16T00:00:00"))
    assert new is not None and new.key() != old.key() and new.key().endswith(":2028-07-15:60d")


def test_left_in_words() -> None:
    end = date(2027, 7, 15)
    assert period.left_in_words(end, at("2027-07-13T00:00:00")) == "2 days left"
    assert period.left_in_words(end, at("2027-07-15T00:00:00")) == "ends today"
    assert period.left_in_words(end, at("2027-07-16T00:00:00")) == "ended 1 day ago"


def test_jit_period_warning_offsets_too_large_for_the_schedule_are_refused_when_read() -> None:
    """JIT_PERIOD_WARNING: an offset too large to subtract from a last day is refused where the setting is
    read (ValueError), not when every period scan computes its schedule."""
    with pytest.raises(ValueError, match="at most 3650d"):
        period.parse_offsets("999999w")
    (o,) = period.parse_offsets("3650d")
    assert period.due_warning("jit-demo", "2027-07-15", (o,), datetime(2027, 1, 1, tzinfo=UTC)) is not None
