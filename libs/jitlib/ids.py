"""Globally unique, time-sortable identifiers (UUIDv7) so records from different nodes never clash."""

from __future__ import annotations

import re
import uuid

import uuid6

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_id() -> str:
    """Return a new UUIDv7 in canonical lower-case text form."""
    return str(uuid6.uuid7())


def is_uuid(value: str) -> bool:
    """True when ``value`` is a UUID in canonical lower-case text form (any version)."""
    if not _UUID_RE.match(value):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
