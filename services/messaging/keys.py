"""Channel data keys: created, rotated, unwrapped (and cached) and destroyed. The KEK never touches the
database; a destroyed key leaves ciphertext nobody can read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from jitlib import crypto
from services.messaging import store


class Shredded(Exception):
    """The key this content was sealed with has been destroyed."""


class ChannelKeys:
    def __init__(self, kek: crypto.Kek) -> None:
        self._kek = kek
        self.kek_id = kek.id
        self._cache: dict[tuple[str, int], bytes] = {}

    def create(self, session: Session, channel_id: str, version: int, now: datetime) -> None:
        session.add(
            store.ChannelKey(
                channel_id=channel_id,
                version=version,
                wrapped=crypto.wrap(self._kek, crypto.new_data_key()),
                kek_id=self.kek_id,
                created_at=now,
            )
        )

    def get(self, session: Session, channel_id: str, version: int) -> bytes:
        cached = self._cache.get((channel_id, version))
        if cached is not None:
            return cached
        row = store.keys(session, channel_id).get(version)
        if row is None or row.wrapped is None:
            raise Shredded(f"key {version} of channel {channel_id} is destroyed")
        key = crypto.unwrap(self._kek, row.wrapped)
        self._cache[(channel_id, version)] = key
        return key

    def destroy_all(self, session: Session, channel_id: str, now: datetime) -> None:
        session.execute(
            update(store.ChannelKey)
            .where(store.ChannelKey.channel_id == channel_id)
            .values(wrapped=None, destroyed_at=now)
        )
        for k in [k for k in self._cache if k[0] == channel_id]:
            del self._cache[k]
