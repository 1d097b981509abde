"""Copying fields by name between the shapes of one record (a domain value, its message, its row, a command):
the fields that one takes unchanged from the other are named once, not written ``name=source.name`` each."""

from __future__ import annotations

from typing import Any


def same_fields(source: object, names: str) -> dict[str, Any]:
    """The attributes of ``source`` that ``names`` lists (separated by spaces, as ``namedtuple`` takes its
    fields), by name: for a message or record built from another that names those fields the same,
    ``pb.Referral(**same_fields(r, "id service_name consent"), recorded_at=...)``. A name ``source`` lacks
    is an AttributeError, as a misspelt ``source.name`` would be."""
    return {name: getattr(source, name) for name in names.split()}
