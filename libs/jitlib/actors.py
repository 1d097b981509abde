"""Who did something, as records remember it: pure, importable by domain code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A user acting for one jurisdiction (or the platform itself, ``SYSTEM``)."""

    user_id: str
    username: str
    jurisdiction: str


#: The platform acting on its own: alerts, follow-ups, reactions to other services' events.
SYSTEM = Actor("system", "jit-system", "SYSTEM")
