"""Who did something, as records remember it: pure, importable by domain code.

Besides ``Actor``, the two stamps every versioned record carries: ``created`` (the fields of its first
version) and ``changed`` (its next version, by whom and when)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar


@dataclass(frozen=True)
class Actor:
    """A user acting for one jurisdiction (or the platform itself, ``SYSTEM``)."""

    user_id: str
    username: str
    jurisdiction: str


#: The platform acting on its own: alerts, follow-ups, reactions to other services' events.
SYSTEM = Actor("system", "jit-system", "SYSTEM")


class VersionedRecord(Protocol):
    """A domain record dataclass with a version, changed by someone at some time."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def version(self) -> int: ...


R = TypeVar("R", bound=VersionedRecord)


def created(actor: Actor, now: datetime) -> dict[str, Any]:
    """The fields of a record's first version, made by ``actor`` at ``now``
    (``Task(**created(actor, now), ...)``)."""
    return {"version": 1, "created_by": actor, "created_at": now, "updated_by": actor, "updated_at": now}


def changed(record: R, actor: Actor, now: datetime, **fields: Any) -> R:
    """``record`` with ``fields`` changed, as its next version, changed by ``actor`` at ``now``."""
    return replace(record, version=record.version + 1, updated_by=actor, updated_at=now, **fields)
