"""Encrypted, content-addressed blob store for evidence items.

Blob names reveal nothing about the content: a blob is named by a keyed hash of its digest
(``blob_name``: HMAC-SHA-256 under a naming key derived from the workspace's data key), so identical
content under one data key still lands in one blob (deduplication), and the item row keeps the blob key,
but whoever lists the blob folder cannot test a guess of the content against a file name.

Envelope encryption: each workspace has a 256-bit data key, stored in the database only wrapped (AES key
wrap, RFC 3394) by the node's key-encryption key (KEK); ``keys.WorkspaceKeys`` creates and opens them with
``jitlib.crypto``. The KEK never enters the database: it is read from ``JIT_EVIDENCE_KEK`` (base64) or the
file ``JIT_EVIDENCE_KEK_FILE``; for local runs it is generated into the state dir, with a warning.

Blob format: ``MAGIC`` then segments, each ``nonce (12) | length (4, big endian) | ciphertext+tag``, the
plaintext of a segment at most ``SEGMENT`` bytes. Each segment is sealed with AES-256-GCM under the
workspace's data key, with associated data binding the blob's key (workspace and digest), the segment's
index and whether it is the last one: reordering, dropping, truncating or moving segments between blobs
fails authentication. Memory stays bounded by two segments whatever the item's size.

An upload is written to ``tmp/`` and renamed into place only once the computed SHA-256 and size match the
declared ones, so a failed or cut upload leaves no blob behind (``abort`` removes the temporary file).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import struct
import uuid
from collections.abc import Generator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

MAGIC = b"JITEVB1\n"
SEGMENT = 1024 * 1024
_NONCE = 12
_TAG = 16
_HEADER = struct.Struct(">I")


class BlobCorrupt(Exception):
    """A stored blob does not decrypt: it was changed, truncated or belongs elsewhere."""


class DigestMismatch(Exception):
    """The uploaded bytes are not the declared ones."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _aad(blob_key: str, index: int, last: bool) -> bytes:
    return b"jit-evidence:" + blob_key.encode() + struct.pack(">QB", index, 1 if last else 0)


def data_key_id(data_key: bytes) -> str:
    """A fingerprint of a data key (not the key): blobs are addressed per key, so identical content is only
    shared between items sealed under the same key (a rotated or re-created key never meets old blobs)."""
    return hashlib.sha256(b"jit-evidence-data-key:" + data_key).hexdigest()[:16]


def blob_name(data_key: bytes, sha256_hex: str) -> str:
    """The file name of the blob holding the content with digest ``sha256_hex`` under ``data_key``: a keyed
    hash (HMAC-SHA-256 under a naming key derived from the data key, never the data key itself), so the
    name says nothing about the content to whoever does not hold the workspace's data key."""
    naming_key = hmac.new(data_key, b"jit-evidence-blob-names", hashlib.sha256).digest()
    return hmac.new(naming_key, b"sha256:" + sha256_hex.encode(), hashlib.sha256).hexdigest()


def blob_key_for(workspace_id: str, data_key: bytes, sha256_hex: str) -> str:
    name = blob_name(data_key, sha256_hex)
    return f"{workspace_id}/{data_key_id(data_key)}/{name[:2]}/{name}"


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, blob_key: str) -> Path:
        return self.root / "blobs" / blob_key

    def exists(self, blob_key: str) -> bool:
        return self.path(blob_key).exists()

    def writer(self, workspace_id: str, data_key: bytes) -> BlobWriter:
        return BlobWriter(self, workspace_id, data_key)

    def read(self, blob_key: str, data_key: bytes) -> Generator[bytes, None, None]:
        """Decrypt segment by segment; raises BlobCorrupt on any change."""
        path = self.path(blob_key)
        aead = AESGCM(data_key)
        try:
            fh = path.open("rb")
        except FileNotFoundError as exc:
            raise BlobCorrupt(f"blob {blob_key} is missing") from exc
        with fh:
            if fh.read(len(MAGIC)) != MAGIC:
                raise BlobCorrupt("not an evidence blob (bad header)")
            index = 0
            header = fh.read(_NONCE + _HEADER.size)
            while header:
                if len(header) != _NONCE + _HEADER.size:
                    raise BlobCorrupt(f"segment {index} is truncated")
                nonce, (length,) = header[:_NONCE], _HEADER.unpack(header[_NONCE:])
                if length > SEGMENT + _TAG:
                    raise BlobCorrupt(f"segment {index} has an impossible length")
                ct = fh.read(length)
                if len(ct) != length:
                    raise BlobCorrupt(f"segment {index} is truncated")
                header = fh.read(_NONCE + _HEADER.size)
                last = not header
                try:
                    yield aead.decrypt(nonce, ct, _aad(blob_key, index, last))
                except InvalidTag as exc:
                    raise BlobCorrupt(f"segment {index} fails authentication (changed, moved or truncated)") from exc
                index += 1
            if index == 0:
                raise BlobCorrupt("blob has no segment")

    def digest(self, blob_key: str, data_key: bytes) -> tuple[str, int]:
        """Decrypt the whole blob and return (sha256 hex, size) of the plaintext."""
        h = hashlib.sha256()
        size = 0
        for chunk in self.read(blob_key, data_key):
            h.update(chunk)
            size += len(chunk)
        return h.hexdigest(), size

    def remove(self, blob_key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_key).unlink()

    def temp_files(self) -> list[Path]:
        return sorted(self.tmp.glob("*.part"))


class BlobWriter:
    """Streams plaintext in, writes encrypted segments to a temporary file, hashes as it goes.

    Segments are bound to the blob key named by the *declared* digest (checked against the computed one in
    ``commit``); the last segment is held back until ``commit`` so it can be sealed with the last flag.
    """

    def __init__(self, store: BlobStore, workspace_id: str, data_key: bytes) -> None:
        self._store = store
        self._workspace = workspace_id
        self._data_key = data_key
        self._aead = AESGCM(data_key)
        self._hash = hashlib.sha256()
        self.size = 0
        self._pending = bytearray()
        self._index = 0
        self._blob_key = ""
        self.tmp_path = store.tmp / f"{uuid.uuid4().hex}.part"
        self._fh = self.tmp_path.open("xb")
        self._fh.write(MAGIC)
        self._done = False

    def declare(self, sha256_hex: str) -> None:
        """The digest the client declared; segments are bound to the blob key it names."""
        self._blob_key = blob_key_for(self._workspace, self._data_key, sha256_hex)

    def write(self, data: bytes) -> None:
        if not self._blob_key:
            raise RuntimeError("declare() the digest first")
        self._hash.update(data)
        self.size += len(data)
        self._pending += data
        # Keep at least one byte back: the last segment is only sealed in commit(), flagged as last.
        while len(self._pending) > SEGMENT:
            self._seal(bytes(self._pending[:SEGMENT]), last=False)
            del self._pending[:SEGMENT]

    def _seal(self, plaintext: bytes, *, last: bool) -> None:
        nonce = secrets.token_bytes(_NONCE)
        ct = self._aead.encrypt(nonce, plaintext, _aad(self._blob_key, self._index, last))
        self._fh.write(nonce + _HEADER.pack(len(ct)) + ct)
        self._index += 1

    def commit(self, declared_sha256: str, declared_size: int) -> tuple[str, bool]:
        """Check the digest and size; rename into place. Returns (blob key, whether a blob with the same
        content already existed, in which case the new copy is dropped). Raises DigestMismatch and
        removes the temporary file when the bytes are not the declared ones."""
        try:
            if self.size != declared_size:
                raise DigestMismatch("metadata.size_bytes", f"received {self.size} bytes, declared {declared_size}")
            digest = self._hash.hexdigest()
            if digest != declared_sha256:
                raise DigestMismatch(
                    "metadata.sha256", f"the received bytes have SHA-256 {digest}, not the declared one"
                )
            self._seal(bytes(self._pending), last=True)
            self._pending.clear()
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            final = self._store.path(self._blob_key)
            final.parent.mkdir(parents=True, exist_ok=True)
            existed = final.exists()
            if existed:
                self.tmp_path.unlink()
            else:
                os.replace(self.tmp_path, final)
            self._done = True
            return self._blob_key, existed
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Forget the upload: close and remove the temporary file. Safe to call twice."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()
