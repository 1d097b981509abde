"""The evidence service's settings: the KEK is a secret, warning offsets are durations (jitlib.durations)."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest

from services.evidence.app import EvidenceSettings


def test_the_kek_never_shows_in_a_repr() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    settings = EvidenceSettings(kek=key)
    assert key not in repr(settings) and key not in str(settings)
    assert key not in repr(settings.model_dump())
    assert settings.kek.get_secret_value() == key


def test_warning_offsets_are_durations() -> None:
    offsets = EvidenceSettings(warn_offsets="2d, 36h", short_warn_offsets="90m").offsets()
    assert offsets.long == (timedelta(days=2), timedelta(hours=36))
    assert offsets.short == (timedelta(minutes=90),)
    with pytest.raises(ValueError):
        EvidenceSettings(warn_offsets="48 hours").offsets()
