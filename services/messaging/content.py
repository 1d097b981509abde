"""What users write, sealed at rest and opened for readers: message bodies (AES-256-GCM under the
channel's data key, bound to the message and its revision) and attachments (sealed files in the blob
folder, bound to the channel and the blob name)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy.orm import Session

from jitlib import crypto
from services.messaging.domain import AttachmentMeta, Channel, Message, NewAttachment, Opened, content_destroyed
from services.messaging.keys import ChannelKeys


def _body_aad(message_id: str, revision: int) -> bytes:
    return f"{message_id}:{revision}".encode()


def _blob_aad(channel_id: str, blob: str) -> bytes:
    return f"{channel_id}:{blob}".encode()


class Content:
    def __init__(self, keys: ChannelKeys, blob_dir: Path) -> None:
        self.keys = keys
        self.blob_dir = blob_dir

    # -- sealing ----------------------------------------------------------------------------------

    def seal_body(self, session: Session, channel: Channel, message_id: str, revision: int, text: str) -> bytes:
        """``text`` sealed under the channel's current key, for one revision of one message."""
        key = self.keys.get(session, channel.id, channel.key_version)
        return crypto.seal(key, text.encode(), _body_aad(message_id, revision))

    def _path(self, channel_id: str, blob: str) -> Path:
        return self.blob_dir / channel_id / f"{blob}.bin"

    def seal_files(
        self, session: Session, channel: Channel, metas: tuple[AttachmentMeta, ...], files: list[NewAttachment]
    ) -> None:
        """Write each attachment sealed under its key version, atomically (temporary file, then rename)."""
        for meta, f in zip(metas, files, strict=True):
            key = self.keys.get(session, channel.id, meta.key_version)
            path = self._path(channel.id, meta.blob)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(crypto.seal(key, f.content, _blob_aad(channel.id, meta.blob)))
            tmp.replace(path)

    def remove_files(self, channel_id: str, metas: tuple[AttachmentMeta, ...]) -> None:
        for meta in metas:
            with contextlib.suppress(OSError):
                self._path(channel_id, meta.blob).unlink(missing_ok=True)

    # -- opening ----------------------------------------------------------------------------------

    def open(self, session: Session, channel: Channel, message: Message) -> Opened:
        """The message as a reader sees it: deleted (no body), shredded (no key), or its body opened."""
        if message.deleted:
            return Opened(message)
        if channel.shredded_at is not None:
            return Opened(message, shredded=True)
        try:
            key = self.keys.get(session, channel.id, message.key_version)
        except crypto.Shredded:
            return Opened(message, shredded=True)
        body = crypto.open_sealed(key, message.sealed_body, _body_aad(message.id, message.revision))
        return Opened(message, body.decode())

    def open_file(self, session: Session, channel: Channel, meta: AttachmentMeta) -> bytes:
        """An attachment's content; FAILED_PRECONDITION ``CHANNEL_SHREDDED`` when its key was destroyed."""
        if channel.shredded_at is not None:
            raise content_destroyed()
        try:
            key = self.keys.get(session, channel.id, meta.key_version)
        except crypto.Shredded:
            raise content_destroyed() from None
        sealed = self._path(channel.id, meta.blob).read_bytes()
        return crypto.open_sealed(key, sealed, _blob_aad(channel.id, meta.blob))
