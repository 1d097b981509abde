"""Workspace data keys of the blob store: the workspace's content key (``jitlib.sealing.ContentKeys``, table
``workspace_keys``), the same key that seals the text of the workspace's requests and items: wrapped by
the node's key-encryption key, created on first use (two replicas creating one at once end up with one),
destroyed when the workspace is crypto-shredded."""

from __future__ import annotations

from sqlalchemy import select

from jitlib import crypto
from jitlib.runtime import Runtime
from jitlib.sealing import ContentDestroyed, ContentKeys, KeyUnavailable

__all__ = ["ContentDestroyed", "KeyUnavailable", "WorkspaceKeys"]


class WorkspaceKeys:
    def __init__(self, rt: Runtime, keys: ContentKeys) -> None:
        self._rt = rt
        self._keys = keys

    async def data_key(self, workspace_id: str) -> bytes:
        """The workspace's data key: from memory, else from the database (created there on first use).
        Raises ``KeyUnavailable`` when no KEK of this node opens it, ``ContentDestroyed`` once shredded."""
        try:
            return await self._rt.read(lambda s: self._keys.key(s, workspace_id))
        except crypto.Shredded:
            pass
        try:
            return await self._rt.db.write(lambda s: self._keys.key(s, workspace_id, create=True))
        except crypto.Shredded:
            raise ContentDestroyed(workspace_id) from None

    async def destroyed(self, workspace_id: str) -> bool:
        """Whether the workspace's content was crypto-shredded by retention (its key's tombstone)."""
        t = self._keys.table
        query = select(t.c.destroyed_at).where(t.c.workspace_id == workspace_id)
        return await self._rt.read(lambda s: s.execute(query).scalar() is not None)
