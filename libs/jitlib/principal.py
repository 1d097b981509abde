"""The authenticated caller, as the policy and the records see it: pure (token verification, which makes
a Principal, lives in ``jitlib.auth``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from jitlib.actors import Actor


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: one user acting for exactly one jurisdiction."""

    user_id: str
    username: str
    jurisdiction: str
    roles: frozenset[str]
    #: Workspaces whose membership group for this user's jurisdiction the user belongs to.
    workspaces: frozenset[str]
    #: The raw bearer token, kept so a node can forward the user's own token to a record's owner.
    token: str = field(default="", repr=False, compare=False)
    #: When the token stops being valid (its ``exp``, UTC); None when unknown. A long-lived call (a live
    #: stream) ends then.
    expires_at: datetime | None = field(default=None, compare=False)

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def actor(self) -> Actor:
        """The caller as a record remembers it."""
        return Actor(self.user_id, self.username, self.jurisdiction)
