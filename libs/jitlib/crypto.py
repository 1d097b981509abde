"""Envelope encryption for content at rest: AES-256-GCM data keys wrapped by the node's key-encryption
key (KEK, AES key wrap RFC 3394). The KEK lives in a file or an environment variable, never in the
database; destroying a data key (its wrapped copy) makes what it encrypted unrecoverable.

``load_kek_ring`` reads the node's KEKs: the current one, which wraps every new data key, and the previous
ones still accepted while their data keys are rewrapped (a rotation without downtime; the file is read
again when it changes). ``KeyRing`` keeps the data keys it has unwrapped, by a name the service chooses
(a workspace, a channel and key version). ``jitlib.sealing`` builds the per-workspace content keys of
every service on these.

The KEK file format is one line: the base64 of 32 random bytes (``generate_kek_file``; the same as
``head -c 32 /dev/urandom | base64``). During a rotation the file holds several such lines, the new
(current) one first."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from pydantic import SecretStr

from jitlib.ids import random_bytes

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
    """One KEK: the current key of ``load_kek_ring``."""
    return load_kek_ring(value, file, fallback).current


def _decode_kek(text: str) -> Kek:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_("the key-encryption key is not valid base64") from None
    if len(key) != 32:
        raise KeyError_("the key-encryption key must be 32 bytes (base64 of 32 random bytes)")
    return Kek(key)


def generate_kek_file(path: Path) -> bool:
    """Write a new KEK (base64 of 32 random bytes, one line) to ``path``, mode 0600, unless the file exists.
    Returns whether it wrote one. Safe when several processes try at once: one file, written whole."""
    if path.exists():
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another process made it first: theirs stands
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


class KekRing:
    """The node's key-encryption keys: ``current`` wraps every new data key; the others (previous KEKs,
    during a rotation) still unwrap the keys they wrapped until those are rewrapped. Read from a value
    (``JIT_KEK``: base64 keys separated by commas or new lines, the current one first) or a file (one key
    per line, the current one first), which ``reload`` reads again when it changed."""

    def __init__(self, keks: list[Kek], *, file: Path | None = None, extra: tuple[Kek, ...] = ()) -> None:
        if not keks:
            raise KeyError_("no key-encryption key configured")
        self._file = file
        self._extra = extra
        self._stamp = self._file_stamp()
        self._set(keks)

    def _set(self, keks: list[Kek]) -> None:
        ordered = [*keks, *(k for k in self._extra if k not in keks)]
        self.current = ordered[0]
        self._by_id = {k.id: k for k in ordered}
        self.ids = tuple(k.id for k in ordered)

    def _file_stamp(self) -> tuple[int, int] | None:
        if self._file is None:
            return None
        try:
            st = self._file.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    @classmethod
    def parse(cls, text: str, **kwargs: object) -> KekRing:
        keks = [_decode_kek(part) for part in text.replace(",", "\n").splitlines() if part.strip()]
        return cls(keks, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_file(cls, path: Path, extra: tuple[Kek, ...] = ()) -> KekRing:
        try:
            text = path.read_text()
        except OSError as exc:
            raise KeyError_(f"the key-encryption key file {path} cannot be read ({exc.strerror})") from None
        return cls.parse(text, file=path, extra=extra)

    def reload(self) -> bool:
        """Read the KEK file again if it changed since it was read; True when the ring changed. A file
        being rewritten (unreadable, empty or invalid for a moment) leaves the ring as it was."""
        stamp = self._file_stamp()
        if self._file is None or stamp == self._stamp:
            return False
        try:
            keks = [_decode_kek(p) for p in self._file.read_text().splitlines() if p.strip()]
        except (OSError, KeyError_) as exc:
            log.warning("the key-encryption key file changed but cannot be used yet (%s); keeping the keys held", exc)
            return False
        if not keks:
            return False
        before = self.ids
        self._stamp = stamp
        self._set(keks)
        if before != self.ids:
            log.info("key-encryption keys reloaded: current %s, %d in all", self.current.id, len(self.ids))
            return True
        return False

    def get(self, kek_id: str) -> Kek | None:
        return self._by_id.get(kek_id)

    def unwrap(self, wrapped: bytes, kek_id: str) -> bytes:
        """Unwrap a data key with the KEK that wrapped it (``kek_id``; read the file again when it names a
        KEK this ring does not hold). Raises ``KeyError_`` when no KEK held opens it."""
        kek = self._by_id.get(kek_id) if kek_id else self.current
        if kek is None and self.reload():
            kek = self._by_id.get(kek_id)
        if kek is None:
            raise KeyError_(f"data key wrapped by a key-encryption key this node does not hold ({kek_id})")
        return unwrap(kek, wrapped)

    def unwrap_any(self, wrapped: bytes) -> bytes:
        """Unwrap with whichever KEK of the ring wrapped it (AES key wrap checks its integrity)."""
        for kek in [self.current, *(self._by_id[i] for i in self.ids if i != self.current.id)]:
            try:
                return unwrap(kek, wrapped)
            except KeyError_:
                continue
        raise KeyError_("data key does not unwrap with any of this node's key-encryption keys")


def load_kek_ring(
    value: SecretStr | str | None, file: Path | None, fallback: Path, *, legacy: tuple[Path, ...] = ()
) -> KekRing:
    """The node's KEK ring from ``value`` (base64 keys), else ``file`` (one per line, current first), else
    ``fallback``, generated when missing (a local node only: losing it loses every sealed record). The
    ``legacy`` files that exist (the per-service KEK files of older local nodes) are added as previous
    KEKs, so what they wrapped is rewrapped under the current one."""
    secret = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
    extra = tuple(_decode_kek(p.read_text()) for p in legacy if p.exists() and p.read_text().strip())
    if secret:
        return KekRing.parse(secret, extra=extra)
    if file is None:
        if generate_kek_file(fallback):
            log.warning(
                "no key-encryption key configured: generated %s (local use only; set JIT_KEK_FILE on a real node)",
                fallback,
            )
        file = fallback
    return KekRing.from_file(file, extra)


def derived_key(kek: Kek, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` derived from ``kek`` (HKDF-SHA256): a secret that is the node's and moves
    with its KEK, without a file of its own; never a key that wraps or seals anything."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(kek.key)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(kek: Kek | bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(kek.key if isinstance(kek, Kek) else kek, data_key)


def unwrap(kek: Kek | bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(kek.key if isinstance(kek, Kek) else kek, wrapped)
    except InvalidUnwrap as exc:
        raise KeyError_("data key does not unwrap with this node's key-encryption key") from exc


def _aead(data_key: bytes | AESGCM) -> AESGCM:
    return data_key if isinstance(data_key, AESGCM) else AESGCM(data_key)


def seal(data_key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || ciphertext+tag. ``aad`` binds the ciphertext to its place (record id, revision). ``data_key``
    may be the key's AEAD already made (``AESGCM(data_key)``), which a caller sealing or opening many values
    under one key makes once. The nonce is 96 random bits of the operating system's randomness, read a few
    KiB at a time (``ids.random_bytes``): one ``os.urandom`` call per seal let go of the GIL, and a worker
    thread sealing while the event loop ran Python got it back only at the loop's next release or after
    its 5 ms switch interval (beside one busy thread: 427 µs a seal against 1.1 µs)."""
    nonce = random_bytes(NONCE_BYTES)
    return nonce + _aead(data_key).encrypt(nonce, plaintext, aad)


def open_sealed(data_key: bytes | AESGCM, sealed: bytes, aad: bytes) -> bytes:
    """What ``seal`` sealed; ``data_key`` as for ``seal``."""
    return _aead(data_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


#: Length of a 32-byte data key wrapped with AES key wrap (RFC 3394).
WRAPPED_LEN = 40


@dataclass(frozen=True)
class KekSealer:
    """Seals a piece of data at rest under a fresh data key wrapped by the KEK, bound to ``name`` (for
    instance an outbox row that must hold a message's text until it is sent to another node)."""

    kek: Kek | KekRing = field(repr=False)

    def seal(self, data: bytes, name: str) -> bytes:
        data_key = new_data_key()
        kek = self.kek.current if isinstance(self.kek, KekRing) else self.kek
        return wrap(kek, data_key) + seal(data_key, data, name.encode())

    def open(self, data: bytes, name: str) -> bytes:
        if isinstance(self.kek, KekRing):
            data_key = self.kek.unwrap_any(data[:WRAPPED_LEN])
        else:
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

    def __init__(self, kek: Kek | KekRing) -> None:
        self._kek = kek if isinstance(kek, KekRing) else KekRing([kek])
        self._keys: dict[Hashable, bytes] = {}

    @property
    def kek_id(self) -> str:
        return self._kek.current.id

    @property
    def keks(self) -> KekRing:
        return self._kek

    def cached(self, name: Hashable) -> bytes | None:
        """The data key ``name`` if this process holds it open, else None (no store read)."""
        return self._keys.get(name)

    def fresh(self) -> WrappedKey:
        """A fresh data key, wrapped for the store and NOT kept open: for a key that another replica may
        create at the same moment, open it (``open``) only once the store says which one won."""
        return WrappedKey(wrap(self._kek.current, new_data_key()), self._kek.current.id)

    def open(self, name: Hashable, load: Callable[[], WrappedKey | None]) -> bytes:
        """The data key ``name``: from memory, else ``load()`` from the store and unwrap it.
        Raises ``Shredded`` when the stored key was destroyed (or never existed)."""
        key = self._keys.get(name)
        if key is not None:
            return key
        stored = load()
        if stored is None or stored.wrapped is None:
            raise Shredded(f"data key {name!r} is destroyed")
        try:
            key = self._kek.unwrap(stored.wrapped, stored.kek_id)
        except KeyError_:
            raise KeyError_(f"data key {name!r} was wrapped by another key-encryption key ({stored.kek_id})") from None
        self._keys[name] = key
        return key

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        """Drop every open key whose name ``match``es (its content was shredded)."""
        for name in [n for n in self._keys if match(n)]:
            del self._keys[name]
