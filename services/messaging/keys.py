"""Keys, in two levels, both in the database and both opened in this process only:

- each **workspace** has a wrapping key (table ``workspace_keys``), wrapped by the node's KEK and opened
  by ``jitlib.crypto.KeyRing``;
- each **channel** has a data key per key version (table ``channel_keys``), wrapped by its workspace's
  key (channels keyed before workspace keys existed keep theirs wrapped by the KEK).

Shredding a workspace deletes its key: every copy of its channel keys (an old database page, a dead
PostgreSQL tuple, a backup) is useless from then on. The KEK never touches the database.

Other replicas drop what they hold of a shredded workspace when the shred's event reaches them
(``forget_workspace``), and in any case a cached key is used only while the store has confirmed its
workspace key within the last ``recheck_seconds`` (bounded staleness: a replica that missed the event
stops using a destroyed workspace's keys at most that long after the shred committed).
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from jitlib import crypto, sealing
from jitlib.crypto import KeyRing, WrappedKey
from services.messaging import store
from services.messaging.domain import Channel

#: How long a cached key is used before its workspace key is looked up in the store again.
RECHECK_SECONDS = 5.0
#: How many channel data keys (channel, version) a process keeps open at most, the least recently used
#: dropped first (opened from the store again on next use). Every record thread is a channel with a key,
#: so without a bound the cache grew by one entry (about 450 bytes) per record the node ever heard of.
CHANNEL_KEYS_MAX = 4096


def _workspace_name(workspace_id: str, wrapped: bytes) -> tuple[str, str, bytes]:
    # The wrapped bytes are part of the name: a key this process made in a transaction that rolled back
    # is never taken for the one another writer stored.
    return ("workspace", workspace_id, wrapped)


class ChannelKeys:
    def __init__(
        self,
        ring: KeyRing,
        *,
        recheck_seconds: float = RECHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        max_channel_keys: int = CHANNEL_KEYS_MAX,
    ) -> None:
        self._ring = ring
        self._max_channel_keys = max_channel_keys
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        #: workspace -> (its key as stored, when the store last confirmed it)
        self._confirmed: dict[str, tuple[bytes, float]] = {}
        #: (channel, version) -> (workspace, open data key, whether its workspace's key wraps it); least
        #: recently used first, at most ``max_channel_keys``
        self._channel_keys: OrderedDict[tuple[str, int], tuple[str, bytes, bool]] = OrderedDict()

    @property
    def recheck_seconds(self) -> float:
        return self._recheck

    @functools.cached_property
    def claims(self) -> sealing.WorkspaceClaims:
        """The lock of a workspace's key row and the retention scan's claim on it (``jitlib.sealing.
        WorkspaceClaims``, as in the other services). Neither makes key material: a legal hold's set on a
        workspace without a key row makes a row without a key to lock (never for a shredded workspace: it
        reads as destroyed), and a claim on one makes a row without a key to carry the claim (deleted when the
        claim is let go). The workspace's first channel key puts its key in that row (``_workspace_key``); a
        shred deletes the row, and a certificate names no key for it when it never held one."""

        def make(session: Session, workspace_id: str) -> bool:
            if store.workspace_shredded(session, workspace_id):
                return False
            store.insert_workspace_key(session, workspace_id, WrappedKey(None, self._ring.kek_id), datetime.now(UTC))
            return True

        def claim_row() -> dict[str, Any]:
            return {"wrapped": None, "kek_id": self._ring.kek_id}

        return sealing.WorkspaceClaims(cast(Table, store.WorkspaceKey.__table__), make, claim_row)

    # -- workspace keys ---------------------------------------------------------------------------

    def _workspace_key(self, session: Session, workspace_id: str, *, create_at: datetime | None = None) -> bytes | None:
        """The open key of a workspace; None for a workspace without one (its channels were keyed before
        workspace keys existed); ``Shredded`` once its content is destroyed. Without ``create_at``: from
        memory while the store confirmed it less than ``recheck_seconds`` ago, else from the store. With
        it (a new channel key is to be wrapped): always from the store, created there if missing."""
        now = self._monotonic()
        held = self._confirmed.get(workspace_id)
        if create_at is None and held is not None and now - held[1] < self._recheck:
            if not held[0]:
                return None
            key = self._ring.cached(_workspace_name(workspace_id, held[0]))
            if key is not None:
                return key
        stored = store.load_workspace_key(session, workspace_id)
        created = False
        if stored is None or stored.wrapped is None:  # no row, or one that carries only a claim or a lock
            if store.workspace_shredded(session, workspace_id):
                self.forget_workspace(workspace_id)
                raise crypto.Shredded(f"the key of workspace {workspace_id} is destroyed")
            if create_at is None:
                self._confirmed[workspace_id] = (b"", now)
                return None
            if stored is None:
                store.insert_workspace_key(session, workspace_id, self._ring.fresh(), create_at)
            else:
                store.fill_workspace_key(session, workspace_id, self._ring.fresh())
            stored = store.load_workspace_key(session, workspace_id)
            created = True
            if stored is None or stored.wrapped is None:
                raise crypto.KeyError_(f"workspace {workspace_id} has no key")
        if held is not None and held[0] != stored.wrapped:
            self.forget_workspace(workspace_id)
        loaded = stored
        key = self._ring.open(_workspace_name(workspace_id, stored.wrapped or b""), lambda: loaded)
        if not created:  # a key inserted by this (uncommitted) transaction is confirmed once committed
            self._confirmed[workspace_id] = (stored.wrapped or b"", now)
        return key

    def forget_workspace(self, workspace_id: str) -> None:
        """Drop every key of a workspace this process holds (its content was shredded)."""
        self._confirmed.pop(workspace_id, None)
        self._ring.forget(lambda n: isinstance(n, tuple) and n[:2] == ("workspace", workspace_id))
        gone = [name for name, (ws, _, _) in self._channel_keys.items() if ws == workspace_id]
        for name in gone:
            del self._channel_keys[name]
        channels = {channel_id for channel_id, _ in gone}
        self._ring.forget(lambda n: isinstance(n, tuple) and n[0] == "kek" and n[1] in channels)

    def drop_stale(self) -> None:
        """Forget the keys of every workspace the store has not confirmed within ``recheck_seconds``: a key
        not in use does not linger in memory (the retention scan calls this, so a replica that missed a
        shred's event drops that workspace's keys at its next scan at the latest)."""
        now = self._monotonic()
        for workspace_id in [ws for ws, (_, at) in self._confirmed.items() if now - at >= self._recheck]:
            self.forget_workspace(workspace_id)
        for workspace_id in {ws for ws, _, _ in self._channel_keys.values()} - set(self._confirmed):
            self.forget_workspace(workspace_id)

    @property
    def channel_keys_held(self) -> int:
        """How many channel data keys this process holds open (at most ``max_channel_keys``)."""
        return len(self._channel_keys)

    def cached(self, workspace_id: str) -> bool:
        """Whether this process holds any key of the workspace open."""
        return workspace_id in self._confirmed or any(ws == workspace_id for ws, _, _ in self._channel_keys.values())

    # -- channel keys -----------------------------------------------------------------------------

    def create(self, session: Session, channel: Channel, version: int, now: datetime) -> bytes:
        """A new key version for a channel, wrapped by its workspace's key, stored in the caller's
        transaction. Not kept open: it is opened from the store on first use, so should this transaction
        roll back (a concurrent rotation won), this process never holds a key no other process saw. The
        open key is returned for what the caller seals with it in the same transaction (a new channel's
        title), and kept nowhere."""
        workspace_key = self._workspace_key(session, channel.workspace_id, create_at=now)
        assert workspace_key is not None  # created when missing
        data_key = crypto.new_data_key()
        wrapped = WrappedKey(crypto.wrap(workspace_key, data_key), self._ring.kek_id)
        store.insert_key(session, channel.id, version, wrapped, now)
        return data_key

    def get(self, session: Session, channel: Channel, version: int) -> bytes:
        """The open data key of a channel's key version; ``jitlib.crypto.Shredded`` when it (or its
        workspace's key) was destroyed."""
        try:
            return self._get(session, channel, version)
        except crypto.KeyError_ as exc:
            if isinstance(exc, crypto.Shredded):
                raise
            # Unwrapped with a workspace key this process held that is not the stored one: look again.
            self.forget_workspace(channel.workspace_id)
            return self._get(session, channel, version)

    def _get(self, session: Session, channel: Channel, version: int) -> bytes:
        workspace_key = self._workspace_key(session, channel.workspace_id)  # the bounded-staleness check
        held = self._channel_keys.get((channel.id, version))
        if held is not None and (workspace_key is not None or not held[2]):
            self._channel_keys.move_to_end((channel.id, version))
            return held[1]
        found = store.load_key(session, channel.id, version)
        if found is None or found[0].wrapped is None:
            raise crypto.Shredded(f"data key {channel.id}/{version} is destroyed")
        stored, wrapping = found
        by_workspace = wrapping != store.BY_KEK
        if not by_workspace:
            name: Hashable = ("kek", channel.id, version)
            key = self._ring.open(name, lambda: stored)
        elif workspace_key is None or stored.wrapped is None:
            raise crypto.Shredded(f"the workspace key of {channel.id}/{version} is destroyed")
        else:
            key = crypto.unwrap(workspace_key, stored.wrapped)
        self._channel_keys[(channel.id, version)] = (channel.workspace_id, key, by_workspace)
        self._channel_keys.move_to_end((channel.id, version))
        if len(self._channel_keys) > self._max_channel_keys:
            (old_channel, old_version), _ = self._channel_keys.popitem(last=False)
            self._ring.forget(lambda n: n == ("kek", old_channel, old_version))
        return key

    def destroy_workspace(self, session: Session, workspace_id: str, channel_ids: list[str], now: datetime) -> None:
        """Crypto-shred a workspace: delete its key and null its channels' keys (``store``), and drop what
        this process holds. Channel keys wrapped by the KEK (from before workspace keys) have no other
        copy to destroy than their rows."""
        store.delete_workspace_key(session, workspace_id)
        for channel_id in channel_ids:
            store.destroy_keys(session, channel_id, now)
        self.forget_workspace(workspace_id)
