"""Copying fields by name between the shapes of one record (a domain value, its message, its row, a command):
the fields that one takes unchanged from the other are named once, not written ``name=source.name`` each."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def same_fields(source: object, names: str) -> dict[str, Any]:
    """The attributes of ``source`` that ``names`` lists (separated by spaces, as ``namedtuple`` takes its
    fields), by name: for a message or record built from another that names those fields the same,
    ``pb.Referral(**same_fields(r, "id service_name consent"), recorded_at=...)``. A name ``source`` lacks
    is an AttributeError, as a misspelt ``source.name`` would be."""
    return {name: getattr(source, name) for name in names.split()}


def restored(cls: type[T], values: dict[str, Any]) -> T:
    """The dataclass record ``cls`` holding ``values`` as ``cls(**values)`` would, without running its
    ``__init__``: for a record read back from the store, whose values were checked when it was written. A
    list's page makes 51 at once, and a frozen dataclass's ``__init__`` sets each of a record's 20 to 50
    fields by ``object.__setattr__``. A field ``values`` lacks takes its default. A class with a
    ``__post_init__`` or ``__slots__``, a name that is not a field, or a field without a default missing,
    go through ``cls(**values)`` (which raises its TypeError for the last two)."""
    plan = _plans.get(cls)
    if plan is None:
        plan = _plans[cls] = _plan(cls)
    if plan is _INIT:
        return cls(**values)
    names, defaults = plan
    if values.keys() != names:
        values = {**{name: make() for name, make in defaults.items() if name not in values}, **values}
        if values.keys() != names:
            return cls(**values)
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


#: ``_plan``'s answer for a class ``restored`` makes by calling it.
_INIT: Any = object()
#: Per class: its fields' names and defaults (``_plan``), or ``_INIT``.
_plans: dict[type, Any] = {}


def _plan(cls: type) -> Any:
    """The names of ``cls``'s fields and how each default is made; ``_INIT`` when ``restored`` must call
    ``cls`` (a ``__post_init__``, slots, a field its ``__init__`` does not take)."""
    if hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        return _INIT
    fields = dataclasses.fields(cls)  # TypeError for a class that is not a dataclass
    if any(not f.init for f in fields):
        return _INIT
    defaults: dict[str, Callable[[], Any]] = {}
    for f in fields:
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = functools.partial(_same, f.default)
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f.name] = f.default_factory
    return frozenset(f.name for f in fields), defaults


def _same(value: Any) -> Any:
    return value
