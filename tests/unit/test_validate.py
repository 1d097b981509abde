"""The shared field validators (jitlib.validate): what every service refuses, and that a refusal never
quotes the value it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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


def test_a_restricted_record_is_shared_with_jurisdiction_codes_only() -> None:
    assert validate.shared_with(("DE", "IT"), restricted=True, record="task") == []
    assert [
        (v.field, v.description) for v in validate.shared_with(("DE", "ie", ""), restricted=True, record="task")
    ] == [
        ("shared_with[1]", "must be a jurisdiction code"),
        ("shared_with[2]", "is required"),
    ]


def test_only_a_restricted_record_is_shared() -> None:
    assert [v.description for v in validate.shared_with(("DE",), restricted=False, record="order")] == [
        "only a restricted order is shared with named jurisdictions"
    ]
    assert validate.shared_with((), restricted=False, record="order") == []


def test_shared_with_is_bounded_and_its_excess_not_checked_one_by_one() -> None:
    out = validate.shared_with(("x",) * (validate.SHARED_MAX + 5), restricted=True, record="request")
    assert out[0].description == f"at most {validate.SHARED_MAX} jurisdictions"
    assert len(out) == 1 + validate.SHARED_MAX


def test_jurisdictions_outside_the_workspace_are_named_by_position() -> None:
    out = validate.members("shared_with", ("DE", "PL", "IT"), frozenset({"DE", "IT"}))
    assert [(v.field, v.description) for v in out] == [("shared_with[1]", "PL is not a member of the workspace")]


@pytest.mark.parametrize("ref", ["V-NL-0007", "V-EUROJUST-0001", "V-DE-123456"])
def test_a_victim_pseudonym_is_accepted(ref: str) -> None:
    assert validate.victim_ref("victim_ref", ref) == []


#: The last one has Arabic-Indic digits, which ``\d`` would take.
NOT_PSEUDONYMS = ["V-NL-007", "v-nl-0007", "V-N-0007", "V-NL-0007 ", "V-NL-0007\n", "Anna, 34, Utrecht"]
NOT_PSEUDONYMS += ["V-NL-" + "9" * 100, "V-NL-\u0660\u0660\u0660\u0667"]


@pytest.mark.parametrize("bad", NOT_PSEUDONYMS)
def test_a_victim_reference_is_a_bounded_pseudonym_not_words_about_her(bad: str) -> None:
    (v,) = validate.victim_ref("victim_ref", bad)
    assert v.field == "victim_ref"
    assert v.description == (
        "must be a victim pseudonym such as V-NL-0007 (Directive 2012/29/EU Art. 21(1); GUESS: the pseudonym's "
        "form, issue 16)"
    )


def test_victim_references_are_named_by_position_once_each_and_bounded() -> None:
    """VICTIM_BY_PSEUDONYM: each reference is a pseudonym, named once, at most VICTIM_REFS_MAX of them."""
    found = validate.victim_refs(["V-NL-0001", "", "V-NL-0001", "x"])
    assert [(v.field, v.description) for v in found] == [
        ("victim_refs[1]", "is required"),
        ("victim_refs[2]", "names a victim already named"),
        ("victim_refs[3]", validate.victim_ref("x", "x")[0].description),
    ]
    too_many = [f"V-NL-{n:04}" for n in range(validate.VICTIM_REFS_MAX + 1)]
    assert [v.field for v in validate.victim_refs(too_many)] == ["victim_refs"]


def test_a_workspace_refers_only_to_pseudonyms_under_its_lead() -> None:
    found = validate.victim_refs_of_workspace(["V-NL-0001", "V-DE-0002", "bad"], "NL")
    assert [v.field for v in found] == ["victim_refs[1]"]
    assert validate.victim_refs_of_workspace(["V-DE-0002"], "") == []


@pytest.mark.parametrize(
    "bad",
    [
        "invoice\u202efdp.exe",  # shows as invoiceexe.pdf
        "a\u2066b\u2069",
        "report.pdf\n",
        "a\tb",
        "a\x9b31mb.txt",
        "x\x7f.txt",
        "a\u2028b",
    ],
)
def test_one_line_refuses_line_breaks_controls_and_bidirectional_marks(bad: str) -> None:
    found = validate.one_line("filename", bad, required=True, maximum=200)
    assert [v.field for v in found] == ["filename"] and bad not in found[0].description


def test_one_line_keeps_any_script() -> None:
    assert validate.one_line("filename", "Zeugenaussage Müller, שלום.pdf", required=True, maximum=200) == []


@pytest.mark.parametrize(
    "good", ["https://platform.example/u/anna", "http://a.example:8080/x?y=1#z", "HTTPS://[2001:db8::1]/p"]
)
def test_an_http_url_with_a_host_is_accepted(good: str) -> None:
    assert validate.http_url("targets[0].value", good) == []


@pytest.mark.parametrize(
    "bad",
    [
        "http://[evil",  # urlsplit refuses an unbalanced bracket: a refusal, not a crash
        "https://a.example/\x1b]0;pwned\x07\x1b[2J\x00",
        "https://a.example/\u202egpj.exe",
        "https://a.example/x\n",
        "https://a.example/a b",
        "ftp://a.example/",
        "https:///no-host",
        "not a url",
        "",
        "https://a.example/" + "x" * validate.URL_MAX,
    ],
)
def test_a_url_that_is_not_one_line_http_with_a_host_is_refused_without_quoting_it(bad: str) -> None:
    found = validate.http_url("targets[0].value", bad)
    assert [v.field for v in found] == ["targets[0].value"]
    assert len(found[0].description) < 100


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (lambda v: validate.workspace_id("workspace_id", v), "jit-demo\n"),
        (lambda v: validate.jurisdiction("assignee_jurisdiction", v), "NL\n"),
        (lambda v: validate.victim_ref("victim_refs[0]", v), "V-NL-0007\n"),
    ],
)
def test_a_pattern_is_the_whole_value_a_trailing_newline_included(check: Any, value: str) -> None:
    assert check(value.rstrip("\n")) == []
    assert check(value) != []
