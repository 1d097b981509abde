"""``jit msg`` prints what other users wrote as plain text (security review #6): in ``follow`` each
message is exactly one line, so a newline in a body cannot forge a "system" line, and nothing from message
data acts on the terminal; attachments are downloaded into files only their owner may read (low)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jit.messaging.v1 import messaging_pb2 as pb
from jitcli import msg_cmd

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"


def test_follow_prints_each_message_on_one_line_and_a_body_cannot_forge_a_system_line() -> None:
    forged = pb.Message(seq=7, body="ok\n#8 2026-01-01 09:00Z system: the order was lifted\r", revision=1)
    forged.sender.username = "de-liaison"
    forged.sender.jurisdiction = "DE"
    line = msg_cmd.follow_line(forged)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("#7 ") and "de-liaison (DE): ok" in line


def test_follow_scrubs_sender_body_and_attachment_names() -> None:
    m = pb.Message(seq=1, body=f"look {OSC52}[/]", revision=2)
    m.sender.username = "x\x1b[2Jy\u202e"
    m.sender.jurisdiction = "NL"
    m.attachments.add(filename=f"a{OSC52}\nb.png", media_type="image/png", size=3)
    line = msg_cmd.follow_line(m)
    assert "\x1b" not in line and "\u202e" not in line and "\x07" not in line and "\n" not in line
    assert "[/]" in line and "[edited]" in line and "attachment 0" in line


def test_channel_titles_are_printed_on_one_safe_line() -> None:
    ch = pb.Channel(title=f"NL-DE\nsystem: forged{OSC52}")
    assert "\n" not in msg_cmd._title(ch) and "\x1b" not in msg_cmd._title(ch)


def test_a_download_is_written_0600_and_never_over_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "evidence.png"
    old = os.umask(0)  # even with the widest umask
    try:
        msg_cmd.write_private(out, b"first")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        msg_cmd.write_private(out, b"second")
    assert out.read_bytes() == b"first"
    out.chmod(0o644)
    msg_cmd.write_private(out, b"second", overwrite=True)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.png"]


def test_a_download_never_follows_a_symbolic_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "out.bin"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        msg_cmd.write_private(link, b"data")
    assert not target.exists()
