"""The messaging service's key-encryption key is a secret setting: read from the environment, usable by
the key loader, and never shown in a repr, a str or a dump of the settings."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from jitlib import crypto
from services.messaging.app import MessagingSettings

RAW = bytes(range(32))
SECRET = base64.b64encode(RAW).decode()


def test_the_kek_never_shows_in_a_repr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JIT_MESSAGING_KEK", SECRET)
    settings = MessagingSettings()
    for shown in (repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json()):
        assert SECRET not in shown
    assert settings.kek.get_secret_value() == SECRET
    kek = crypto.load_kek(settings.kek, settings.kek_file, tmp_path / "unused.b64")
    assert kek.key == RAW
    assert SECRET not in repr(kek) and repr(RAW) not in repr(kek)
    assert not (tmp_path / "unused.b64").exists()


def test_without_a_kek_a_local_one_is_generated_once(tmp_path: Path) -> None:
    settings = MessagingSettings(kek_file=None)
    assert settings.kek.get_secret_value() == ""
    first = crypto.load_kek(settings.kek, settings.kek_file, tmp_path / "kek.b64")
    again = crypto.load_kek(settings.kek, settings.kek_file, tmp_path / "kek.b64")
    assert first.key == again.key and len(first.key) == 32


def test_period_warning_offsets_are_read_and_a_malformed_value_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert MessagingSettings().period_warning_offsets == "60d,30d,7d"
    monkeypatch.setenv("JIT_MESSAGING_PERIOD_WARNING_OFFSETS", "90d,14d")
    assert MessagingSettings().period_warning_offsets == "90d,14d"
    monkeypatch.setenv("JIT_MESSAGING_PERIOD_WARNING_OFFSETS", "two months")
    with pytest.raises(ValidationError, match="period_warning_offsets"):
        MessagingSettings()
    # Parsed but too large for the period scan's date arithmetic: refused at start, not at every scan.
    monkeypatch.setenv("JIT_MESSAGING_PERIOD_WARNING_OFFSETS", "999999w")
    with pytest.raises(ValidationError, match="period_warning_offsets"):
        MessagingSettings()
