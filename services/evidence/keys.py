"""Workspace data keys of the blob store: one per workspace, wrapped by the node's key-encryption key and
stored in ``workspace_keys`` (``jitlib.crypto``: the KEK loader, wrapping, and the ``KeyRing`` that keeps
unwrapped keys in memory). Created on first use; two replicas creating one at once end up with one."""

from __future__ import annotations

from jitlib import crypto
from jitlib.errors import FailedPrecondition
from jitlib.runtime import Runtime
from services.evidence import store


class KeyUnavailable(FailedPrecondition):
    """The workspace's data key does not open with this node's KEK (another KEK wrapped it)."""

    def __init__(self, workspace_id: str, detail: str) -> None:
        super().__init__(
            "KEY_UNAVAILABLE",
            f"the data key of workspace {workspace_id} does not open with this node's key-encryption key "
            f"({detail}); check JIT_EVIDENCE_KEK / JIT_EVIDENCE_KEK_FILE",
            {"workspace_id": workspace_id},
        )


class WorkspaceKeys:
    def __init__(self, rt: Runtime, kek: crypto.Kek) -> None:
        self._rt = rt
        self._ring = crypto.KeyRing(kek)

    async def data_key(self, workspace_id: str) -> bytes:
        """The workspace's data key: from memory, else from the database (created there on first use).
        Raises ``KeyUnavailable`` when it was wrapped by another KEK."""
        key = self._ring.cached(workspace_id)
        if key is not None:
            return key
        stored = await self._rt.read(lambda s: store.get_wrapped_key(s, workspace_id))
        if stored is None:
            # Not kept open until stored: another replica's key may win the insert.
            fresh = self._ring.fresh()
            now = self._rt.clock.now()
            stored = await self._rt.db.write(lambda s: store.add_wrapped_key(s, workspace_id, fresh, now))
        found = stored
        try:
            return self._ring.open(workspace_id, lambda: found)
        except crypto.KeyError_ as exc:
            raise KeyUnavailable(workspace_id, str(exc)) from None
