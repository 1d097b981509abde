"""Who did something, as records remember it: pure, importable by domain code.

Besides ``Actor``, what every versioned record carries (``Versioned``) and its two stamps: ``created``
(the fields of its first version) and ``changed`` (its next version, by whom and when)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar


@dataclass(frozen=True)
class Actor:
    """A user acting for one jurisdiction (or the platform itself, ``SYSTEM``)."""

    user_id: str
    username: str
    jurisdiction: str


#: The platform acting on its own: alerts, follow-ups, reactions to other services' events.
SYSTEM = Actor("system", "jit-system", "SYSTEM")


@dataclass(frozen=True, kw_only=True)
class Versioned:
    """The version and history every stored record has: a domain record dataclass inherits them
    (``class Task(Versioned)``; keyword-only, so they follow the record's own fields), ``created`` fills
    them for its first version and ``changed`` moves them on."""

    version: int
    created_by: Actor
    created_at: datetime
    updated_by: Actor
    updated_at: datetime
    #: When this node last applied a change from the owning node; None on the owner (jitlib.federation).
    replicated_at: datetime | None = None


R = TypeVar("R", bound=Versioned)


def created(actor: Actor, now: datetime) -> dict[str, Any]:
    """The fields of a record's first version, made by ``actor`` at ``now``
    (``Task(**created(actor, now), ...)``)."""
    return {"version": 1, "created_by": actor, "created_at": now, "updated_by": actor, "updated_at": now}


class CreateCommand(Protocol):
    """What a create command says of every new record: its workspace and who may see it."""

    @property
    def workspace_id(self) -> str: ...

    @property
    def restricted(self) -> bool: ...

    @property
    def shared_with(self) -> Sequence[str]: ...


def created_record(cmd: CreateCommand, *, record_id: str, actor: Actor, now: datetime) -> dict[str, Any]:
    """The fields every record made by the create command ``cmd`` starts with: its id, its workspace, its
    origin (the creator's jurisdiction), who may see it (``shared_with`` sorted, each once) and its first
    version (``created``). For ``Task(**created_record(cmd, ...), ...)``."""
    return {
        "id": record_id,
        "workspace_id": cmd.workspace_id,
        "origin_jurisdiction": actor.jurisdiction,
        "restricted": cmd.restricted,
        "shared_with": tuple(sorted(set(cmd.shared_with))),
        **created(actor, now),
    }


def changed(record: R, actor: Actor, now: datetime, **fields: Any) -> R:
    """``record`` with ``fields`` changed, as its next version, changed by ``actor`` at ``now``."""
    return replace(record, version=record.version + 1, updated_by=actor, updated_at=now, **fields)
