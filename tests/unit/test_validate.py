"""The shared field validators (jitlib.validate): what every service refuses, and that a refusal never
quotes the value it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitlib import validate

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["a\x00b", "a\x1b]52;c;eA==\x07", "a\x7fb", "a\x9b31m", "a\x85b"])
def test_free_text_refuses_c0_del_and_c1_controls(bad: str) -> None:
    assert (
        validate.text("title", bad, required=True, maximum=100)[0].description == "must not contain control characters"
    )


def test_free_text_keeps_line_breaks_tabs_and_any_script() -> None:
    assert validate.text("description", "Zeuge:\n\tMüller, Ærø, Łódź, שלום, مرحبا", required=True, maximum=100) == []


def test_a_refusal_never_quotes_the_value() -> None:
    huge = "x" * 100_000
    for v in (
        validate.text("title", huge, required=True, maximum=200)
        + validate.uuid("id", huge)
        + validate.workspace_id("workspace_id", huge)
        + validate.jurisdiction("assignee_jurisdiction", huge)
    ):
        assert len(v.description) < 100


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (NOW - timedelta(days=30), True),
        (NOW + timedelta(seconds=1), False),
        (datetime(1970, 1, 1, tzinfo=UTC), False),
        (NOW - validate.MAX_PAST - timedelta(days=1), False),
    ],
)
def test_a_stated_past_date_is_bounded(value: datetime, ok: bool) -> None:
    assert (validate.past_date("issued_at", value, NOW) == []) is ok


def test_a_stated_date_before_its_record_is_refused() -> None:
    assert validate.past_date("received_at", NOW - timedelta(days=2), NOW, earliest=NOW - timedelta(days=1))
