"""What users write, sealed at rest and opened for readers: message bodies (AES-256-GCM under the
channel's data key, bound to the message and its revision), the list of a message's attachments (their
names, media types, sizes and digests: sealed the same way, bound to the message), the attachments
themselves (sealed files in the blob folder, bound to the channel and the blob name; deleted when the
channel is shredded) and the title of a restricted channel (``domain.SEALED_TITLE_KINDS``: sealed under
the channel's key when the channel is stored, bound to the channel; opened for an answer, ``titled``)."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session

from jitlib import crypto, sealing
from services.messaging import domain, store
from services.messaging.domain import AttachmentMeta, Channel, Message, NewAttachment, Opened, content_destroyed
from services.messaging.keys import ChannelKeys

#: How many channels the start's backfill of titles seals in one transaction (``seal_clear_titles``).
TITLES_BATCH = 200


def _body_aad(message_id: str, revision: int) -> bytes:
    return f"{message_id}:{revision}".encode()


def _attachments_aad(message_id: str) -> bytes:
    return f"{message_id}:attachments".encode()


def _blob_aad(channel_id: str, blob: str) -> bytes:
    return f"{channel_id}:{blob}".encode()


def _title_aad(channel_id: str) -> bytes:
    return f"channel-title:{channel_id}".encode()


def seal_title(key: bytes, channel: Channel) -> bytes:
    """A channel's title sealed under ``key`` (its data key of the version stored beside it)."""
    return crypto.seal(key, channel.title.encode(), _title_aad(channel.id))


def seal_clear_titles(session: Session, *, batch: int = TITLES_BATCH) -> int:
    """A step of the start's ``jitlib.sealing.backfill_all`` (declared by ``app``): seal up to ``batch``
    titles that channels of ``domain.SEALED_TITLE_KINDS`` hold in clear from before titles were sealed,
    each under its channel's current key, and empty their clear column; erase instead the title of a
    channel whose keys are destroyed (its workspace shredded). How many it changed (0: none left). A key
    no KEK of the node opens stops the start (``jitlib.crypto.KeyError_``), as the other services' do."""
    keys = ChannelKeys(crypto.KeyRing(sealing.kek_ring(session)))
    found = store.clear_titles(session, domain.SEALED_TITLE_KINDS, sealing.DESTROYED, batch)
    for ch in found:
        try:
            if ch.shredded_at is not None:
                raise crypto.Shredded(f"channel {ch.id} is shredded")
            key = keys.get(session, ch, ch.key_version)
        except crypto.Shredded:
            store.erase_title(session, ch.id, sealing.DESTROYED)
            continue
        store.seal_title(session, ch.id, seal_title(key, ch), ch.key_version)
    return len(found)


class Content:
    def __init__(self, keys: ChannelKeys, blob_dir: Path) -> None:
        self.keys = keys
        self.blob_dir = blob_dir

    # -- sealing ----------------------------------------------------------------------------------

    def seal_body(self, session: Session, channel: Channel, message_id: str, revision: int, text: str) -> bytes:
        """``text`` sealed under the channel's current key, for one revision of one message."""
        key = self.keys.get(session, channel, channel.key_version)
        return crypto.seal(key, text.encode(), _body_aad(message_id, revision))

    def seal_attachments(
        self, session: Session, channel: Channel, message_id: str, metas: tuple[AttachmentMeta, ...]
    ) -> bytes:
        """The attachment list of a message sealed under the channel's current key (b"" for none)."""
        if not metas:
            return b""
        key = self.keys.get(session, channel, channel.key_version)
        return crypto.seal(key, store.attachments_to_json(metas), _attachments_aad(message_id))

    def _path(self, channel_id: str, blob: str) -> Path:
        return self.blob_dir / channel_id / f"{blob}.bin"

    def seal_files(
        self, session: Session, channel: Channel, metas: tuple[AttachmentMeta, ...], files: list[NewAttachment]
    ) -> None:
        """Write each attachment sealed under its key version, atomically (temporary file, then rename)."""
        for meta, f in zip(metas, files, strict=True):
            key = self.keys.get(session, channel, meta.key_version)
            path = self._path(channel.id, meta.blob)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(crypto.seal(key, f.content, _blob_aad(channel.id, meta.blob)))
            tmp.replace(path)

    def remove_files(self, channel_id: str, metas: tuple[AttachmentMeta, ...]) -> None:
        for meta in metas:
            with contextlib.suppress(OSError):
                self._path(channel_id, meta.blob).unlink(missing_ok=True)

    def remove_channel_files(self, channel_id: str) -> None:
        """Delete every blob of a (shredded) channel."""
        shutil.rmtree(self.blob_dir / channel_id, ignore_errors=True)

    def channels_with_files(self) -> list[str]:
        """The channels that have a folder of blobs."""
        if not self.blob_dir.is_dir():
            return []
        return [p.name for p in self.blob_dir.iterdir() if p.is_dir()]

    # -- opening ----------------------------------------------------------------------------------

    def titled(self, session: Session, channel: Channel) -> Channel:
        """The channel with its title as its readers see it: opened when sealed (a restricted channel's),
        ``[content destroyed]`` once its keys are; any other channel as it is."""
        if not channel.sealed_title:
            return channel
        title = sealing.DESTROYED
        if channel.shredded_at is None:
            try:
                key = self.keys.get(session, channel, channel.title_key_version)
            except crypto.Shredded:
                pass
            else:
                title = crypto.open_sealed(key, channel.sealed_title, _title_aad(channel.id)).decode()
        return replace(channel, title=title, sealed_title=b"")

    def open(self, session: Session, channel: Channel, message: Message) -> Opened:
        """The message as a reader sees it: deleted (no body), shredded (no key), or its body and its
        attachment list opened."""
        if message.deleted:
            return Opened(message)
        if channel.shredded_at is not None:
            return Opened(message, shredded=True)
        try:
            key = self.keys.get(session, channel, message.key_version)
            attachments = self._attachments(session, channel, message)
        except crypto.Shredded:
            return Opened(message, shredded=True)
        body = crypto.open_sealed(key, message.sealed_body, _body_aad(message.id, message.revision))
        return Opened(message, body.decode(), attachments=attachments)

    def _attachments(self, session: Session, channel: Channel, message: Message) -> tuple[AttachmentMeta, ...]:
        if not message.sealed_attachments:
            return message.legacy_attachments
        key = self.keys.get(session, channel, message.attachments_key_version)
        data = crypto.open_sealed(key, message.sealed_attachments, _attachments_aad(message.id))
        return store.attachments_from_json(data)

    def attachments(self, session: Session, channel: Channel, message: Message) -> tuple[AttachmentMeta, ...]:
        """A message's attachment list; FAILED_PRECONDITION ``CHANNEL_SHREDDED`` when its key was destroyed."""
        if message.deleted:
            return ()
        if channel.shredded_at is not None:
            raise content_destroyed()
        try:
            return self._attachments(session, channel, message)
        except crypto.Shredded:
            raise content_destroyed() from None

    def open_file(self, session: Session, channel: Channel, meta: AttachmentMeta) -> bytes:
        """An attachment's content; FAILED_PRECONDITION ``CHANNEL_SHREDDED`` when its key was destroyed."""
        if channel.shredded_at is not None:
            raise content_destroyed()
        try:
            key = self.keys.get(session, channel, meta.key_version)
        except crypto.Shredded:
            raise content_destroyed() from None
        sealed = self._path(channel.id, meta.blob).read_bytes()
        return crypto.open_sealed(key, sealed, _blob_aad(channel.id, meta.blob))
