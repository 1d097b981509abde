"""Envelope encryption for content at rest: AES-256-GCM data keys wrapped by the node's key-encryption
key (KEK, AES key wrap RFC 3394). The KEK lives in a file or an environment variable, never in the
database; destroying a data key (its wrapped copy) makes what it encrypted unrecoverable.

``load_kek`` reads the KEK once per process (every service that encrypts uses it); ``KeyRing`` keeps the
data keys it has unwrapped, by a name the service chooses (a workspace, a channel and key version)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from pydantic import SecretStr

log = logging.getLogger(__name__)
NONCE_BYTES = 12


class KeyError_(Exception):
    """A key is missing, destroyed or wrong."""


class Shredded(KeyError_):
    """The key this content was sealed with has been destroyed: the content is gone for good."""


@dataclass(frozen=True)
class Kek:
    """The node's key-encryption key. Its bytes never show in a repr, a log line or an error."""

    key: bytes = field(repr=False)

    @property
    def id(self) -> str:
        """A fingerprint stored next to wrapped keys, to tell "wrong KEK" from "corrupt data"."""
        return hashlib.sha256(b"jit-kek-id:" + self.key).hexdigest()[:16]


def load_kek(value: SecretStr | str | None, file: Path | None, fallback: Path) -> Kek:
    """The KEK from ``value`` (base64), else ``file``, else ``fallback``, created with a warning when
    missing: that suits a local demo node and nothing else (losing it loses every sealed record)."""
    secret = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
    try:
        if secret:
            key = base64.b64decode(secret, validate=True)
        else:
            path = file or fallback
            if file is None and not path.exists():
                log.warning(
                    "no key-encryption key configured: generating %s (local use only; set the service's KEK or "
                    "KEK_FILE setting on a real node)",
                    path,
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
            key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_("the key-encryption key is not valid base64") from None
    if len(key) != 32:
        raise KeyError_("the key-encryption key must be 32 bytes (base64 of 32 random bytes)")
    return Kek(key)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(kek: Kek | bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(kek.key if isinstance(kek, Kek) else kek, data_key)


def unwrap(kek: Kek | bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(kek.key if isinstance(kek, Kek) else kek, wrapped)
    except InvalidUnwrap as exc:
        raise KeyError_("data key does not unwrap with this node's key-encryption key") from exc


def seal(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || ciphertext+tag. ``aad`` binds the ciphertext to its place (record id, revision)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def open_sealed(data_key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(data_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


#: Length of a 32-byte data key wrapped with AES key wrap (RFC 3394).
WRAPPED_LEN = 40


@dataclass(frozen=True)
class KekSealer:
    """Seals a piece of data at rest under a fresh data key wrapped by the KEK, bound to ``name`` (for
    instance an outbox row that must hold a message's text until it is sent to another node)."""

    kek: Kek = field(repr=False)

    def seal(self, data: bytes, name: str) -> bytes:
        data_key = new_data_key()
        return wrap(self.kek, data_key) + seal(data_key, data, name.encode())

    def open(self, data: bytes, name: str) -> bytes:
        data_key = unwrap(self.kek, data[:WRAPPED_LEN])
        return open_sealed(data_key, data[WRAPPED_LEN:], name.encode())


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: wrapped by the KEK (None once destroyed), with the KEK's fingerprint."""

    wrapped: bytes | None
    kek_id: str


class KeyRing:
    """Data keys unwrapped with the node's KEK on first use and kept in memory, by name.

    The service stores wrapped keys where it likes (a table per workspace, per channel and version);
    the ring makes them (``fresh``), opens them once stored (``open``) and forgets them. Destroying a
    key is the service's write (set the wrapped copy to NULL) followed by ``forget``, so this process no
    longer holds it either."""

    def __init__(self, kek: Kek) -> None:
        self._kek = kek
        self._keys: dict[Hashable, bytes] = {}

    @property
    def kek_id(self) -> str:
        return self._kek.id

    def cached(self, name: Hashable) -> bytes | None:
        """The data key ``name`` if this process holds it open, else None (no store read)."""
        return self._keys.get(name)

    def fresh(self) -> WrappedKey:
        """A fresh data key, wrapped for the store and NOT kept open: for a key that another replica may
        create at the same moment, open it (``open``) only once the store says which one won."""
        return WrappedKey(wrap(self._kek, new_data_key()), self._kek.id)

    def open(self, name: Hashable, load: Callable[[], WrappedKey | None]) -> bytes:
        """The data key ``name``: from memory, else ``load()`` from the store and unwrap it.
        Raises ``Shredded`` when the stored key was destroyed (or never existed)."""
        key = self._keys.get(name)
        if key is not None:
            return key
        stored = load()
        if stored is None or stored.wrapped is None:
            raise Shredded(f"data key {name!r} is destroyed")
        if stored.kek_id and stored.kek_id != self._kek.id:
            raise KeyError_(f"data key {name!r} was wrapped by another key-encryption key ({stored.kek_id})")
        key = unwrap(self._kek, stored.wrapped)
        self._keys[name] = key
        return key

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        """Drop every open key whose name ``match``es (its content was shredded)."""
        for name in [n for n in self._keys if match(n)]:
            del self._keys[name]
