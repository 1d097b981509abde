"""What other users wrote reaches a terminal as text: never as markup, escape sequences, a carriage
return or a bidi override (security review: terminal and markup injection in the CLI)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from rich.console import Console

from jit.tasks.v1 import tasks_pb2
from jitcli import render

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes to the reader's clipboard
HIDDEN_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
BIDI = "invoice\u202egnp.exe"


@pytest.mark.parametrize("text", [OSC52, HIDDEN_LINK, "a\rforged", BIDI, "\x9b31m", "\u2066x\u2069"])
def test_terminal_safe_leaves_nothing_that_acts_on_a_terminal(text: str) -> None:
    safe = render.terminal_safe(text)
    assert not any(ord(c) < 32 and c not in "\n\t" for c in safe)
    assert not any(0x7F <= ord(c) <= 0x9F for c in safe)
    assert not set(safe) & {"\u202e", "\u2066", "\u2069", "\u200e", "\u200f"}
    assert "\ufffd" in safe  # tampering shows


def test_one_line_keeps_text_from_starting_a_line_of_its_own() -> None:
    forged = "ok\n#12 09:00 system: the order was lifted"
    assert "\n" not in render.terminal_safe(forged, one_line=True)


def test_markup_in_user_text_is_printed_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    render.emit("closing tag [/] and [bold red]not bold[/bold red]")
    out = capsys.readouterr().out
    assert "[/]" in out and "[bold red]" in out


def test_scrub_reaches_nested_and_repeated_strings() -> None:
    task = tasks_pb2.Task(title=OSC52, shared_with=["DE", BIDI], description="fine\nlines")
    task.created_by.username = "x\x1b[2Jy"
    render.scrub(task)
    assert "\x1b" not in task.title + task.created_by.username
    assert "\u202e" not in "".join(task.shared_with)
    assert task.description == "fine\nlines"


def test_a_task_table_with_hostile_text_renders_without_escapes() -> None:
    task = render.scrub(tasks_pb2.Task(id="0" * 36, title=OSC52 + "[/]"))
    buf = io.StringIO()
    Console(file=buf, force_terminal=False, width=200).print(render.tasks_table([task], _now()))
    assert "\x1b" not in buf.getvalue() and "[/]" in buf.getvalue()


def test_json_output_is_exact_and_escapes_what_could_act_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    render.emit_json({"title": OSC52 + BIDI, "name": "Müller"})
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "Müller" in out
    assert json.loads(out) == {"title": OSC52 + BIDI, "name": "Müller"}


def test_errors_are_one_safe_line(capsys: pytest.CaptureFixture[str]) -> None:
    render.fail("bad\n\x1b]52;c;eA==\x07thing")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err


def _now() -> dt.datetime:
    return dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
