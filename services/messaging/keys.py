"""Channel data keys: one per channel and key version, wrapped by the node's KEK in ``channel_keys`` and
kept open in this process by ``jitlib.crypto.KeyRing`` under the name ``(channel_id, version)``. The KEK
never touches the database; a destroyed key leaves ciphertext nobody can read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from jitlib.crypto import KeyRing
from services.messaging import store


class ChannelKeys:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def create(self, session: Session, channel_id: str, version: int, now: datetime) -> None:
        """A new key version for a channel, stored wrapped in the caller's transaction."""
        # Not kept open: it is opened from the store on first use, so should this transaction roll back
        # (a concurrent rotation won), the ring never holds a key that no other process saw.
        store.insert_key(session, channel_id, version, self._ring.fresh(), now)

    def get(self, session: Session, channel_id: str, version: int) -> bytes:
        """The open data key; ``jitlib.crypto.Shredded`` when it was destroyed."""
        return self._ring.open((channel_id, version), lambda: store.load_key(session, channel_id, version))

    def destroy(self, session: Session, channel_id: str, now: datetime) -> None:
        """Destroy every key version of a channel (crypto-shredding), here and in the store."""
        store.destroy_keys(session, channel_id, now)
        self._ring.forget(lambda n: isinstance(n, tuple) and n[0] == channel_id)
