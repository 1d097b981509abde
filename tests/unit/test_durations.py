"""The one duration parser and formatter (jitlib.durations)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jitlib import durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("36h", timedelta(hours=36)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        ("30s", timedelta(seconds=30)),
        (" 1D 2H ", timedelta(days=1, hours=2)),
    ],
)
def test_parse_reads_the_forms_people_write(text: str, expected: timedelta) -> None:
    assert durations.parse(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-7d", "0d", "1.5h", "7d" * 20])
def test_parse_refuses_anything_else_without_echoing_it(text: str) -> None:
    with pytest.raises(ValueError) as info:
        durations.parse(text)
    assert str(info.value) in {
        "not a duration: use e.g. 7d, 36h, 1d12h, 2w, 90m",
        "a duration must be longer than zero",
    }


@pytest.mark.parametrize("text", ["9999999999999999999d", "999999999w", "3651d", "521w4d"])
def test_a_duration_beyond_the_maximum_is_a_value_error_not_an_overflow(text: str) -> None:
    """Too large for a timedelta (OverflowError before) or for date arithmetic on it: a ValueError saying the
    maximum, which settings validation and the CLI turn into words."""
    with pytest.raises(ValueError) as info:
        durations.parse(text)
    assert str(info.value) == "a duration must be at most 3650d (10 years)"


def test_the_maximum_itself_is_read() -> None:
    assert durations.parse("3650d") == durations.MAXIMUM == timedelta(days=3650)


def test_parse_list_keeps_the_order_given() -> None:
    assert durations.parse_list("48h, 8h,,2d") == (timedelta(hours=48), timedelta(hours=8), timedelta(days=2))


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(days=2), "2d"), (timedelta(hours=36), "1d12h"), (timedelta(minutes=90), "1h30m"), (timedelta(0), "0s")],
)
def test_compact_is_read_back_by_parse(delta: timedelta, text: str) -> None:
    assert durations.compact(delta) == text
    if delta:
        assert durations.parse(text) == delta


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=1), "1 day"),
        (timedelta(days=1, hours=1), "1 day 1 hour"),
        (timedelta(days=3, hours=4, minutes=5), "3 days 4 hours"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(seconds=20), "less than a minute"),
        (-timedelta(days=2), "2 days"),
    ],
)
def test_words_say_singular_and_plural_right(delta: timedelta, text: str) -> None:
    assert durations.words(delta) == text
