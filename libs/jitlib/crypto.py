"""Envelope encryption for content at rest: AES-256-GCM data keys wrapped by the node's key-encryption
key (KEK, AES key wrap RFC 3394). The KEK lives in a file or an environment variable, never in the
database; destroying a data key (its wrapped copy) makes what it encrypted unrecoverable."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

log = logging.getLogger(__name__)
NONCE_BYTES = 12


class KeyError_(Exception):
    """A key is missing, destroyed or wrong."""


def load_kek(env_value: str, file: Path | None, fallback: Path) -> bytes:
    """The KEK from ``env_value`` (base64), else ``file``, else ``fallback`` — created with a warning
    when missing, which suits a local demo node and nothing else."""
    if env_value:
        key = base64.b64decode(env_value)
    else:
        path = file or fallback
        if not path.exists():
            log.warning("no key-encryption key configured: generating %s (local use only)", path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
        key = base64.b64decode(path.read_bytes().strip())
    if len(key) != 32:
        raise KeyError_("the key-encryption key must be 32 bytes (base64-encoded)")
    return key


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(kek: bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(kek, data_key)


def unwrap(kek: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(kek, wrapped)
    except InvalidUnwrap as exc:
        raise KeyError_("data key does not unwrap with this node's key-encryption key") from exc


def seal(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || ciphertext+tag. ``aad`` binds the ciphertext to its place (record id, revision)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def open_sealed(data_key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(data_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
