"""Case content sealed at rest, per workspace, in every service.

Each service keeps one data key per workspace in its ``workspace_keys`` table, wrapped by the node's
key-encryption key (``jitlib.crypto.KekRing``); the KEK never reaches the database. With it:

- ``SealedText`` seals the free-text fields of a record table (titles, descriptions, reasons, notes) into
  one ``sealed`` column (AES-256-GCM, the associated data binding the ciphertext to its table, record id
  and fields, so a ciphertext moved to another row does not open) and leaves the clear columns empty.
  Rows are opened as the ORM loads them (a SQLAlchemy ``load`` event); a store's ``RecordTable`` seals
  them on every write. Rows written before sealing existed are sealed by ``backfill`` when the service
  starts (with the steps a service declares for what it seals under keys of its own, ``backfilled``).
- ``seal_payload`` / ``open_payload`` seal what else lands in the database with the same content: outbox
  payloads (the envelope carries the record's state) and dead letters.
- ``ContentKeys.shred`` destroys a workspace's key (crypto-shredding): its content then reads as
  ``DESTROYED``, never as an error, and a write to it is refused (``ContentDestroyed``).
- ``destroy_payloads`` deletes, in every service's shred (``jitlib.retention_sweep``, messaging's own), the
  workspace's outbox rows and dead letters: what was sealed by the KEK alone (messaging's: its messages'
  text for other nodes, the record events it dead-lettered) would otherwise still open after the shred.
- ``rewrap`` rewraps every stored data key under the current KEK (a KEK rotation, while serving).

The service's ``ContentKeys`` is found from the SQLAlchemy session (``session.info``), which the server
sets up (``install``), so the store's functions keep their signatures."""

from __future__ import annotations

import collections
import functools
import json
import logging
import struct
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    event,
    func,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, Result
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from jitlib import crypto
from jitlib.db import RuntimeTables, insert_or_nothing
from jitlib.errors import FailedPrecondition
from jitlib.periodic import Periodic
from jitlib.sqlexec import CompiledSelect

log = logging.getLogger(__name__)

#: What a sealed text field reads as once its workspace was crypto-shredded.
DESTROYED = "[content destroyed]"
#: What it reads as, where a table asks for it, while this node holds no KEK that opens its key.
UNAVAILABLE = "[content unavailable: key-encryption key]"
#: How long a process uses a workspace key it holds before it checks the store still has it (a key
#: shredded by another process is dropped at most this late).
RECHECK_SECONDS = 5.0

_KEYS = "jit_content_keys"
_CLAIMS = "jit_workspace_claims"
_KEK_SEALER = "jit_kek_sealer"
_KEK_RING = "jit_kek_ring"
_BACKFILLS = "jit_backfills"
_SEALED = "jit_sealed_text"
_WRAPPED = "jit_wrapped_keys"
_WORKSPACE_KEYS = "jit_workspace_keys"

#: The JSON of sealed fields (UTF-8, as ``seal_columns`` writes it) read without ``json.loads``' detection of
#: the bytes' encoding: a list's page opens one or two per record.
_decode = json.JSONDecoder().decode

# Framing of a sealed payload (outbox, dead letters): sealed by a workspace key, or by the KEK alone.
_BY_WORKSPACE = b"\x00JITW1"
_BY_KEK = b"\x00JITK1"


class ContentDestroyed(FailedPrecondition):
    """A write to a workspace whose content was crypto-shredded."""

    def __init__(self, workspace_id: str) -> None:
        super().__init__(
            "CONTENT_DESTROYED",
            f"the content of workspace {workspace_id} was destroyed (its key was shredded): nothing can be added",
            {"workspace_id": workspace_id},
        )


class KeyUnavailable(FailedPrecondition):
    """A workspace key does not open with any key-encryption key this node holds."""

    def __init__(self, workspace_id: str, detail: str) -> None:
        super().__init__(
            "KEY_UNAVAILABLE",
            f"the data key of workspace {workspace_id} does not open with this node's key-encryption keys "
            f"({detail}); check JIT_KEK_FILE",
            {"workspace_id": workspace_id},
        )


# -- tables -------------------------------------------------------------------------------------------


def workspace_keys_table(metadata: MetaData) -> Table:
    """Declare ``workspace_keys`` in a service's metadata (its migrations own it): one data key per
    workspace, wrapped by the KEK whose fingerprint is ``kek_id``; ``wrapped`` is NULL once destroyed.
    ``shredding_since``: the retention sweep's claim on the workspace while it erases the stream copies
    before destroying the key (``jitlib.retention_sweep``): a legal hold is refused meanwhile."""
    table = Table(
        "workspace_keys",
        metadata,
        Column("workspace_id", String(64), primary_key=True),
        Column("wrapped", LargeBinary, nullable=True),
        Column("kek_id", String(16), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("destroyed_at", DateTime(timezone=True), nullable=True),
        Column("shredding_since", DateTime(timezone=True), nullable=True),
    )
    metadata.info[_WORKSPACE_KEYS] = table
    wrapped_by_kek(metadata, table)
    return table


@dataclass(frozen=True)
class WrappedKeys:
    """A table of data keys wrapped by the KEK (``wrapped``, ``kek_id``), rewrapped on rotation; ``where``
    limits it to the rows the KEK wraps (messaging's channel keys wrapped by the KEK before workspace keys)."""

    table: Table
    where: Any = None


def wrapped_by_kek(metadata: MetaData, table: Table, where: Any = None) -> None:
    """Declare that ``table`` holds data keys wrapped by the KEK (rotated by ``rewrap``)."""
    metadata.info.setdefault(_WRAPPED, []).append(WrappedKeys(table, where))


def declared_wrapped(metadata: MetaData) -> list[WrappedKeys]:
    return list(metadata.info.get(_WRAPPED, []))


def declared_sealed(metadata: MetaData) -> list[SealedText]:
    return list(metadata.info.get(_SEALED, []))


def backfilled(metadata: MetaData, step: Callable[[Session], int]) -> None:
    """Declare a service's own start-time step of ``backfill_all``, for what it seals under keys of its own
    (messaging's restricted channel titles), or a field its ``SealedText`` took in later (``added``) that rows
    sealed before keep in clear (evidence's item consents): each call seals one batch of rows left in clear,
    in the transaction it is given, and says how many (0: none left). It runs after the ``SealedText``
    backfills. It finds the node's KEKs with ``kek_ring``."""
    metadata.info.setdefault(_BACKFILLS, []).append(step)


def opened_rows(
    session: Session, table: Table, rows: Iterable[Sequence[Any]], names: Sequence[str] | None = None
) -> list[Any]:
    """The rows of a Core ``select(table)``, each as a read-only object with one attribute per column (a
    named tuple: ``page_row_class``), the text every ``SealedText`` of the table seals opened as an ORM load
    opens it. ``rows``: a ``Result`` (its own column names) or tuples of the columns ``names``
    (``sqlexec.CompiledSelect.converted``), which hold every column of the table's sealed text. A list's
    page reads its rows so: without the ORM's identity map and load events per row, each workspace's key
    looked up once; and without a dict and a namespace made per row (a page of 51 tasks of 31 columns: 0.09
    ms of the page's 0.64, bench/README.md, Lists)."""
    keys = tuple(cast(Result[Any], rows).keys()) if names is None else tuple(names)
    make = page_row_class(keys)
    index = {name: i for i, name in enumerate(keys)}
    # A page of some columns opens the text of those it holds (a list answered from ``jitlib.answers``: none).
    sealed = [s for s in declared_sealed(table.metadata) if s.table is table and s.column in index]
    if not sealed:
        return [make(r) for r in rows]
    values = [list(r) for r in rows]
    for s in sealed:
        s.open_all(session, values, index)
    return [make(v) for v in values]


@functools.lru_cache(maxsize=64)
def page_row_class(names: tuple[str, ...]) -> Callable[[Iterable[Any]], Any]:
    """What makes a read row of the columns ``names`` (in their order) from its values: a named tuple's
    ``_make`` (its attributes read in C, no dict per row). A column name a named tuple refuses (a leading
    underscore, a keyword) is its ValueError: no table has one."""
    row: Any = collections.namedtuple("PageRow", names)  # type: ignore[misc]  # names known when it runs
    return cast(Callable[[Iterable[Any]], Any], row._make)


# -- workspace keys -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyLock:
    """A workspace's key row as ``ContentKeys.lock`` found it."""

    #: The key was destroyed (the workspace's content with it).
    destroyed: bool
    #: Since when the retention sweep has been destroying the workspace's content (None: it is not).
    shredding_since: datetime | None


class WorkspaceClaims:
    """A workspace's key row as the lock that orders a legal hold's set and release with the retention
    shred, and the row's ``shredding_since``: the shred's claim on the workspace while it erases the
    workspace's stream copies before destroying its key. Every service has one: the services whose content
    is sealed here (``ContentKeys.claims``) and messaging, whose keys table is its own (``install_claims``).

    ``make(session, workspace_id)`` inserts the workspace's key when it has none (``lock`` with ``create``),
    False when the workspace may have none any more (messaging deletes a shredded workspace's key row): the
    lock then reads as destroyed. ``claim_row()``: the other values of a row made only to carry a claim."""

    def __init__(
        self, table: Table, make: Callable[[Session, str], bool], claim_row: Callable[[], dict[str, Any]]
    ) -> None:
        self.table = table
        self._make = make
        self._claim_row = claim_row

    def lock(self, session: Session, workspace_id: str, *, create: bool = True) -> KeyLock | None:
        """Lock the workspace's key row until the caller's transaction ends (PostgreSQL: ``SELECT ... FOR
        UPDATE``; SQLite's write transactions are serialised already), making the key first when there is
        none, so that there is a row to lock. A legal hold's set and the retention shred's steps take this
        lock first (``jitlib.retention_service``, ``jitlib.retention_sweep``, messaging's scanner): each then
        reads what the other committed, and a hold is never answered OK while its workspace's content is
        being destroyed. ``create=False``: None when the workspace has no key row (nothing to lock, nothing
        sealed)."""
        t = self.table
        # A keys table declared without the column (as ``destroyed_at`` may be absent) is never claimed.
        since = t.c.shredding_since if "shredding_since" in t.c else null()
        query = select(t.c.wrapped, since).where(t.c.workspace_id == workspace_id).with_for_update()
        row = session.connection().execute(query).first()
        if row is None:
            if not create:
                return None
            if not self._make(session, workspace_id):
                return KeyLock(destroyed=True, shredding_since=None)
            row = session.connection().execute(query).first()
            assert row is not None
        # A row without a key is a destroyed key only where a destroyed key leaves a tombstone
        # (``destroyed_at``); in a table without one (messaging's: a shred deletes the row) it is a row made
        # only to carry a claim or a lock on a workspace that had no key yet: nothing was destroyed.
        return KeyLock(destroyed=row[0] is None and "destroyed_at" in t.c, shredding_since=row[1])

    def claim(self, session: Session, workspace_id: str, since: datetime | None, owner: str = "") -> None:
        """Mark the workspace as being destroyed since ``since`` (the retention shred's claim while it erases
        the stream copies), or no longer (None), in the caller's transaction, which holds ``lock``. A
        workspace with no key row gets one (``claim_row``) to carry the claim; one with no key is deleted
        again with the claim (where a destroyed key leaves a tombstone, ``destroyed_at``, that one stays).

        Where the table names a claim's owner (``shredding_by``: messaging's, whose processes may scan one
        database at once), ``owner`` is written with the claim, and a claim another owner holds is left as it
        is: this caller erases under it (it cannot tell a live scan's claim from one a killed process left;
        either is ended by the shred, or by a pass that finds the workspace no longer due). One without a
        holder (made before the column) is taken. ``release`` lets go only of the caller's own."""
        t = self.table
        conn = session.connection()
        this = t.c.workspace_id == workspace_id
        owned = "shredding_by" in t.c
        if since is None:
            keyless = [t.c.wrapped.is_(None)] + ([t.c.destroyed_at.is_(None)] if "destroyed_at" in t.c else [])
            conn.execute(delete(t).where(this, *keyless))
            let_go: dict[str, Any] = {"shredding_since": None, **({"shredding_by": None} if owned else {})}
            conn.execute(update(t).where(this).values(**let_go))
            return
        if not owned:
            if conn.execute(update(t).where(this).values(shredding_since=since)).rowcount == 0:
                values = {"workspace_id": workspace_id, **self._claim_row()}
                conn.execute(insert_or_nothing(session, t).values(**values, created_at=since, shredding_since=since))
            return
        row = conn.execute(select(t.c.shredding_since, t.c.shredding_by).where(this)).first()
        if row is None:
            values = {"workspace_id": workspace_id, **self._claim_row()}
            conn.execute(
                insert_or_nothing(session, t).values(
                    **values, created_at=since, shredding_since=since, shredding_by=owner
                )
            )
        elif row[0] is None or row[1] is None or row[1] == owner:  # none, a holder's unknown, or its own
            conn.execute(update(t).where(this).values(shredding_since=since, shredding_by=owner))

    def release(self, session: Session, workspace_id: str, owner: str = "") -> None:
        """Let go of the workspace's claim in the caller's transaction, which holds ``lock``: where the table
        names a claim's owner, only when ``owner`` holds it (another scan's claim stays: it may still be
        erasing under it); elsewhere whatever claim there is."""
        t = self.table
        if "shredding_by" in t.c:
            held = select(t.c.shredding_by).where(t.c.workspace_id == workspace_id)
            if session.connection().execute(held).scalar() != owner:
                return
        self.claim(session, workspace_id, None)

    def claimed(self, session: Session) -> list[str]:
        """The workspaces claimed now: by a shred under way, or left by one that stopped (a killed process),
        which the next pass takes again or lets go."""
        t = self.table
        rows = session.execute(select(t.c.workspace_id).where(t.c.shredding_since.is_not(None)))
        return sorted(rows.scalars())


class ContentKeys:
    """The workspace data keys of one service: made on first use, held open in memory (confirmed against
    the store at least every ``recheck_seconds``), destroyed by ``shred``."""

    def __init__(
        self,
        table: Table,
        keks: crypto.KekRing,
        *,
        recheck_seconds: float = RECHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.keks = keks
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        self._tombstones = "destroyed_at" in table.c
        #: workspace -> (open data key, when the store last confirmed it)
        self._open: dict[str, tuple[bytes, float]] = {}
        #: workspace -> (a data key held open, its AEAD): made once per key, not once per value sealed or
        #: opened (a create seals several values, a list opens its page's text, under one key). Dropped
        #: with the key (``forget``).
        self._aeads: dict[str, tuple[bytes, AESGCM]] = {}
        #: Keys inserted by a transaction not committed yet: never held open before the commit.
        self._pending: weakref.WeakKeyDictionary[Session, set[str]] = weakref.WeakKeyDictionary()

    def _load(self, session: Session, workspace_id: str) -> tuple[bytes | None, str] | None:
        """The workspace's key row, (wrapped, kek id), or None: a ``CompiledSelect``, which a read running on
        the event loop awaits there (``jitlib.db.Database.read`` ``on_loop``)."""
        found = self._select_key.converted(session, {"workspace_id": workspace_id})
        return (found[0][0], found[0][1]) if found else None

    @functools.cached_property
    def _select_key(self) -> CompiledSelect:
        t = self.table
        return CompiledSelect(select(t.c.wrapped, t.c.kek_id).where(t.c.workspace_id == bindparam("workspace_id")))

    def key(self, session: Session, workspace_id: str, *, create: bool = False) -> bytes:
        """The open data key of a workspace. ``create``: made (in the caller's transaction) when it has
        none yet. Raises ``crypto.Shredded`` when it was destroyed (or, without ``create``, never made)
        and ``KeyUnavailable`` when no KEK of this node opens it."""
        now = self._monotonic()
        held = self._open.get(workspace_id)
        if held is not None and now - held[1] < self._recheck:
            return held[0]
        row = self._load(session, workspace_id)
        created = False
        if row is None:
            if not create:
                self.forget(workspace_id)
                raise crypto.Shredded(f"workspace {workspace_id} has no content key")
            self._insert(session, workspace_id)
            row = self._load(session, workspace_id)
            created = True
            assert row is not None
        wrapped, kek_id = row
        if wrapped is None:
            self.forget(workspace_id)
            raise crypto.Shredded(f"the content key of workspace {workspace_id} is destroyed")
        try:
            key = self.keks.unwrap(wrapped, kek_id)
        except crypto.KeyError_ as exc:
            raise KeyUnavailable(workspace_id, str(exc)) from None
        pending = self._pending.get(session)
        if created or (pending is not None and workspace_id in pending):
            self._hold_after_commit(session, workspace_id, key)
        else:
            self._open[workspace_id] = (key, now)
        return key

    def _insert(self, session: Session, workspace_id: str) -> None:
        fresh = crypto.wrap(self.keks.current, crypto.new_data_key())
        values = {
            "workspace_id": workspace_id,
            "wrapped": fresh,
            "kek_id": self.keks.current.id,
            "created_at": datetime.now(UTC),
        }
        session.connection().execute(insert_or_nothing(session, self.table).values(**values))

    @functools.cached_property
    def claims(self) -> WorkspaceClaims:
        """The lock of the workspace's key row and the retention sweep's claim (``WorkspaceClaims``); a row
        that only carries a claim holds no key (``key`` finds it destroyed meanwhile)."""
        return WorkspaceClaims(self.table, self._made, lambda: {"wrapped": None, "kek_id": self.keks.current.id})

    def _made(self, session: Session, workspace_id: str) -> bool:
        self._insert(session, workspace_id)
        return True

    def lock(self, session: Session, workspace_id: str, *, create: bool = True) -> KeyLock | None:
        """``WorkspaceClaims.lock`` of this service's keys: the key is made first when there is none."""
        return self.claims.lock(session, workspace_id, create=create)

    def claim(self, session: Session, workspace_id: str, since: datetime | None) -> None:
        """``WorkspaceClaims.claim`` of this service's keys."""
        self.claims.claim(session, workspace_id, since)

    def _hold_after_commit(self, session: Session, workspace_id: str, key: bytes) -> None:
        pending = self._pending.setdefault(session, set())
        if workspace_id in pending:
            return
        pending.add(workspace_id)

        def committed(_session: Session) -> None:
            self._open[workspace_id] = (key, self._monotonic())
            pending.discard(workspace_id)

        def rolled_back(_session: Session) -> None:
            pending.discard(workspace_id)

        event.listen(session, "after_commit", committed, once=True)
        event.listen(session, "after_rollback", rolled_back, once=True)

    def seal(self, session: Session, workspace_id: str, aad: bytes, plaintext: bytes) -> bytes:
        """``plaintext`` sealed under the workspace's key (made when missing); ``ContentDestroyed`` once shredded."""
        try:
            key = self.key(session, workspace_id, create=True)
        except crypto.Shredded:
            raise ContentDestroyed(workspace_id) from None
        return crypto.seal(self._aead(workspace_id, key), plaintext, aad)

    def _aead(self, workspace_id: str, key: bytes) -> AESGCM:
        held = self._aeads.get(workspace_id)
        if held is not None and held[0] == key:
            return held[1]
        aead = AESGCM(key)
        if workspace_id in self._open:  # never keep the AEAD of a key not held open (uncommitted, shredded)
            self._aeads[workspace_id] = (key, aead)
        return aead

    def aead(self, session: Session, workspace_id: str) -> AESGCM:
        """The AEAD of the workspace's key as it is now, for a caller that opens many values and takes one
        that does not open as its own answer (``jitlib.answers``), not as a fault to log. Raises as ``key``
        does without ``create``."""
        return self._aead(workspace_id, self.key(session, workspace_id))

    def open(self, session: Session, workspace_id: str, aad: bytes, sealed: bytes) -> bytes:
        """Open what ``seal`` sealed; ``crypto.Shredded`` when its key was destroyed."""
        return self.opener(session, workspace_id)(aad, sealed)

    def opener(self, session: Session, workspace_id: str) -> Callable[[bytes, bytes], bytes]:
        """What opens what ``seal`` sealed under the workspace's key as it is now (``open`` without the
        key's lookup, for the many values of a page): (aad, sealed) -> plaintext, ``crypto.Shredded`` for a
        value that does not open. Raises ``crypto.Shredded`` when the key was destroyed and
        ``KeyUnavailable`` when no KEK of this node opens it."""
        aead = self._aead(workspace_id, self.key(session, workspace_id))

        def open_one(aad: bytes, sealed: bytes) -> bytes:
            try:
                return crypto.open_sealed(aead, sealed, aad)
            except InvalidTag:
                # Sealed under a key that no longer exists (shredded, then a new one made), or moved or
                # altered: either way it does not open, and never will.
                log.warning("sealed content of workspace %s does not open with its key", workspace_id)
                raise crypto.Shredded(f"content of workspace {workspace_id} does not open") from None

        return open_one

    def shred(self, session: Session, workspace_id: str) -> None:
        """Destroy the workspace's key in the caller's transaction (a tombstone row stays, so nothing new
        is sealed under a fresh key), and drop it from this process. Call ``wipe_freed`` after the commit."""
        t = self.table
        if self._tombstones:
            now = datetime.now(UTC)
            result = session.connection().execute(
                update(t).where(t.c.workspace_id == workspace_id).values(wrapped=None, destroyed_at=now)
            )
            if result.rowcount == 0:
                session.connection().execute(
                    t.insert().values(
                        workspace_id=workspace_id,
                        wrapped=None,
                        kek_id=self.keks.current.id,
                        created_at=now,
                        destroyed_at=now,
                    )
                )
        else:
            session.connection().execute(t.delete().where(t.c.workspace_id == workspace_id))
        self.forget(workspace_id)

    def forget(self, workspace_id: str) -> None:
        self._open.pop(workspace_id, None)
        self._aeads.pop(workspace_id, None)

    def holds(self, workspace_id: str) -> bool:
        return workspace_id in self._open


# -- sealed text fields of a record table ----------------------------------------------------------------


#: What ``json.dumps(values, ensure_ascii=False, separators=(",", ":"))`` makes of a record's sealed fields,
#: with one encoder for the module instead of one made per call (a create seals twice).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class SealedText:
    """The free-text fields of a record table, sealed together into one column (``sealed``) under the
    record's workspace key. Declare it once per row class in the store; pass it to the ``RecordTable``
    (writes) or call ``seal_columns`` in the store's own writes; loads open it by themselves."""

    def __init__(
        self,
        row: type,
        fields: Sequence[str],
        *,
        column: str = "sealed",
        workspace: str = "workspace_id",
        key: str = "id",
        destroyed: dict[str, str] | None = None,
        unavailable: str | None = None,
        added: Sequence[str] = (),
    ) -> None:
        """``added``: fields sealed with ``fields`` since a later revision. They are sealed in the same
        ciphertext (so just as authenticated) but the associated data names ``fields`` only, so that rows
        sealed before still open; such a row reads them as "" (where its clear column held them, a step of
        the service's own seals them at start: ``backfilled``)."""
        self.row = row
        #: When set, what the fields read as while no KEK of this node opens the workspace key (else the
        #: load fails with ``KeyUnavailable``): for rows an audit must list whatever the key's state.
        self.unavailable = unavailable
        #: What each field reads as once shredded: ``DESTROYED``, or a field's own (a JSON list: "[]").
        self.fields = (*fields, *added)
        self.destroyed = {f: (destroyed or {}).get(f, DESTROYED) for f in self.fields}
        self.table: Table = row.__table__  # type: ignore[attr-defined]
        self.column = column
        self.workspace = workspace
        self.key = key
        self._aad_prefix = f"jit-sealed/{self.table.name}/".encode()
        self._aad_suffix = ("/" + ",".join(fields)).encode()
        #: What ``seal_columns`` seals when every field is empty (a task's ``terms_reason`` until the terms
        #: are renegotiated): opened (and so authenticated) as any other, its fields known without JSON.
        self._blank = self._encoded(dict.fromkeys(self.fields, ""))
        self.table.metadata.info.setdefault(_SEALED, []).append(self)
        event.listen(row, "load", self._on_load)
        event.listen(row, "refresh", self._on_refresh)

    def aad(self, record_id: str) -> bytes:
        """The associated data: the ciphertext opens only in this table, for this record, as these fields."""
        return self._aad_prefix + record_id.encode() + self._aad_suffix

    def seal_columns(
        self, session: Session, columns: Mapping[str, object], record_id: str, workspace_id: str
    ) -> dict[str, object]:
        """``columns`` as written: the fields sealed into ``sealed``, their clear columns empty."""
        keys = content_keys(session)
        values = {f: columns[f] for f in self.fields if f in columns}
        if len(values) != len(self.fields):
            raise ValueError(f"{self.table.name}: a sealed write needs every sealed field ({', '.join(self.fields)})")
        data = self._encoded(values)
        out = dict(columns)
        out.update({f: "" for f in self.fields})
        out[self.column] = keys.seal(session, workspace_id, self.aad(record_id), data)
        return out

    def opened(
        self, session: Session, record_id: str, workspace_id: str, sealed: bytes | None
    ) -> dict[str, str] | None:
        """The fields of a stored row (None for a row not sealed yet); ``DESTROYED`` each once shredded."""
        if sealed is None:
            return None
        try:
            opener = content_keys(session).opener(session, workspace_id)
        except crypto.Shredded:
            return dict(self.destroyed)
        except KeyUnavailable:
            if self.unavailable is None:
                raise
            return dict.fromkeys(self.fields, self.unavailable)
        return self._fields(opener, record_id, sealed)

    @staticmethod
    def _encoded(values: Mapping[str, object]) -> bytes:
        return _ENCODE(values).encode()

    def _fields(self, opener: Callable[[bytes, bytes], bytes], record_id: str, sealed: bytes) -> dict[str, str]:
        try:
            plain = opener(self.aad(record_id), sealed)
        except crypto.Shredded:
            return dict(self.destroyed)
        if plain == self._blank:
            return dict.fromkeys(self.fields, "")
        values = _decode(plain.decode())
        return {f: str(values.get(f, "")) for f in self.fields}

    def open_all(self, session: Session, rows: Sequence[list[Any]], index: Mapping[str, int]) -> None:
        """Rows read without the ORM (each the list of its values, ``index`` the position of each column by
        name, as ``opened_rows`` has them) opened in place, as a load opens an ORM row: the fields in place of
        their empty clear columns; each workspace's key looked up once for them all."""
        keys: ContentKeys | None = None
        openers: dict[str, Callable[[bytes, bytes], bytes] | dict[str, str]] = {}
        at_sealed, at_workspace, at_key = index[self.column], index[self.workspace], index[self.key]
        at_fields = [(f, index[f]) for f in self.fields]
        for values in rows:
            sealed = values[at_sealed]
            if sealed is None:
                continue
            workspace_id = values[at_workspace]
            opener = openers.get(workspace_id)
            if opener is None:
                keys = keys or content_keys(session)
                try:
                    opener = keys.opener(session, workspace_id)
                except crypto.Shredded:
                    opener = self.destroyed
                except KeyUnavailable:
                    if self.unavailable is None:
                        raise
                    opener = dict.fromkeys(self.fields, self.unavailable)
                openers[workspace_id] = opener
            opened = opener if isinstance(opener, dict) else self._fields(opener, values[at_key], sealed)
            for name, at in at_fields:
                values[at] = opened[name]

    def _open_row(self, session: Session | None, row: Any) -> None:
        sealed = row.__dict__.get(self.column)
        if sealed is None or session is None:
            return
        values = self.opened(session, row.__dict__[self.key], row.__dict__[self.workspace], sealed)
        if values is not None:
            for name, value in values.items():
                set_committed_value(row, name, value)

    def _on_load(self, target: Any, context: Any) -> None:
        self._open_row(context.session, target)

    def _on_refresh(self, target: Any, context: Any, _attrs: Any) -> None:
        self._open_row(context.session, target)

    def backfill(self, session: Session, *, batch: int = 500) -> int:
        """Seal up to ``batch`` rows written before sealing (``sealed`` NULL) and empty their clear
        columns. Returns how many it sealed (0: none left)."""
        t = self.table
        cols = [t.c[self.key], t.c[self.workspace], *(t.c[f] for f in self.fields)]
        rows = session.connection().execute(select(*cols).where(t.c[self.column].is_(None)).limit(batch)).all()
        for row in rows:
            m = row._mapping
            values = {f: m[f] or "" for f in self.fields}
            sealed = self.seal_columns(session, values, m[self.key], m[self.workspace])
            session.connection().execute(update(t).where(t.c[self.key] == m[self.key]).values(**sealed))
        return len(rows)


# -- payloads (outbox, dead letters) -------------------------------------------------------------------


def seal_payload(session: Session, data: bytes, name: str, workspace_id: str) -> bytes:
    """``data`` sealed for storage, bound to ``name`` (an event id): under the workspace's key when the
    service keeps content keys and there is a workspace, else under the KEK alone. Unchanged when the
    session has neither (a service or a test without keys)."""
    keys = session.info.get(_KEYS)
    if keys is not None and workspace_id:
        sealed = keys.seal(session, workspace_id, b"jit-payload/" + name.encode(), data)
        ws = workspace_id.encode()
        return _BY_WORKSPACE + struct.pack(">H", len(ws)) + ws + sealed
    sealer = session.info.get(_KEK_SEALER)
    if sealer is not None:
        return _BY_KEK + sealer.seal(data, "jit-payload/" + name)
    return data


#: The tables of sealed payloads, which a workspace's shred deletes rows of (``destroy_payloads``).
PAYLOAD_TABLES = ("outbox", "dead_letters")


#: A deletion certificate's count (``retention.Certificate.counts``) of the workspace's events destroyed
#: before they were published (``destroy_payloads``): changes the other services and nodes never received.
NEVER_PUBLISHED = "events_never_published"


def destroy_payloads(
    session: Session, tables: RuntimeTables, workspace_id: str, counts: dict[str, int] | None = None
) -> dict[str, int]:
    """Delete the workspace's outbox rows, dead letters and its records' last changes' fingerprints, in the
    shred's transaction (before the shred's own events are staged), and say how many outbox rows and dead
    letters. Rows not published yet go too: the content they
    carry is destroyed (under a workspace key they could not be opened, and so sent, any more either), and
    the certificate says how many (``counts``, the certificate's: ``NEVER_PUBLISHED``, when any were). Call
    ``wipe_freed`` after the commit."""
    ob, dl = tables.outbox, tables.dead_letters
    conn = session.connection()
    # The fingerprints of the calls that made its records' last versions (``jitlib.changes``): digests of
    # the requests' text, which an exact guess could confirm once the text itself is destroyed.
    lc = tables.last_changes
    conn.execute(lc.delete().where(lc.c.workspace_id == workspace_id))
    unsent = int(
        conn.execute(
            select(func.count()).select_from(ob).where(ob.c.workspace_id == workspace_id, ob.c.published_at.is_(None))
        ).scalar()
        or 0
    )
    if unsent:
        log.warning("%d events of workspace %s were never published: destroyed with its content", unsent, workspace_id)
        if counts is not None:
            counts[NEVER_PUBLISHED] = unsent
    events = conn.execute(ob.delete().where(ob.c.workspace_id == workspace_id)).rowcount
    dead = conn.execute(dl.delete().where(dl.c.workspace_id == workspace_id)).rowcount
    return {"outbox": int(events or 0), "dead_letters": int(dead or 0)}


def certified_destroyed(session: Session, tables: RuntimeTables, workspace_id: str) -> bool:
    """Whether this service certified the workspace's content destroyed (``jitlib.retention_sweep``): what
    arrives for it afterwards (a late event dead-lettered) is not kept, whatever key would seal it."""
    t = tables.deletion_certificates
    return session.execute(select(t.c.id).where(t.c.workspace_id == workspace_id).limit(1)).first() is not None


def payload_workspace(session: Session, data: bytes, name: str, *, by_kek: str = "") -> str:
    """The workspace an outbox or dead-letter payload names ("" for none, or one this node cannot open):
    its framing's when sealed by a workspace key, else its envelope's once opened (``by_kek``: the name a
    ``crypto.KekSealer`` sealed it under, for an outbox row for other nodes only)."""
    if data.startswith(_BY_WORKSPACE):
        rest = data[len(_BY_WORKSPACE) :]
        (n,) = struct.unpack(">H", rest[:2])
        return rest[2 : 2 + n].decode()
    sealer = session.info.get(_KEK_SEALER)
    try:
        if by_kek:
            if sealer is None:
                return ""
            data = sealer.open(data, by_kek)
        elif data.startswith(_BY_KEK):
            data = open_payload(session, data, name) or b""
    except (crypto.KeyError_, InvalidTag, ValueError):
        log.warning("a payload (%s) does not open with this node's key-encryption keys", name)
        return ""
    return _workspace_of(data)


def is_sealed_payload(data: bytes) -> bool:
    return data.startswith((_BY_WORKSPACE, _BY_KEK))


def open_payload(session: Session, data: bytes, name: str) -> bytes | None:
    """What ``seal_payload`` sealed (anything else as it is); None when its workspace was shredded."""
    if data.startswith(_BY_WORKSPACE):
        rest = data[len(_BY_WORKSPACE) :]
        (n,) = struct.unpack(">H", rest[:2])
        workspace_id = rest[2 : 2 + n].decode()
        try:
            return content_keys(session).open(session, workspace_id, b"jit-payload/" + name.encode(), rest[2 + n :])
        except crypto.Shredded:
            return None
    if data.startswith(_BY_KEK):
        sealer = session.info.get(_KEK_SEALER)
        if sealer is None:
            raise crypto.KeyError_("a payload sealed by the KEK, and no KEK configured")
        opened: bytes = sealer.open(data[len(_BY_KEK) :], "jit-payload/" + name)
        return opened
    return data


# -- the service's wiring ---------------------------------------------------------------------------------


def session_keys(session: Session) -> ContentKeys | None:
    """The service's content keys, or None when it keeps none (``install``)."""
    keys = session.info.get(_KEYS)
    return cast(ContentKeys | None, keys)


def session_claims(session: Session) -> WorkspaceClaims | None:
    """The service's lock and claim of workspace key rows (``WorkspaceClaims``): its content keys', or the
    one it installed (``install_claims``: messaging); None when it has neither."""
    claims = session.info.get(_CLAIMS)
    if claims is not None:
        return cast(WorkspaceClaims, claims)
    keys = session_keys(session)
    return keys.claims if keys is not None else None


def install_claims(info: dict[str, Any], claims: WorkspaceClaims) -> None:
    """Put a service's own ``WorkspaceClaims`` (one whose keys table is not ``workspace_keys_table``'s:
    messaging) into the database's session ``info``, where a legal hold's set finds it."""
    info[_CLAIMS] = claims


def content_keys(session: Session) -> ContentKeys:
    keys = session.info.get(_KEYS)
    if keys is None:
        raise RuntimeError("no content keys: the service's database was not set up with sealing.install")
    return keys  # type: ignore[no-any-return]


def install(
    info: dict[str, Any], metadata: MetaData, keks: crypto.KekRing, recheck_seconds: float = RECHECK_SECONDS
) -> ContentKeys | None:
    """Put the service's content keys (when its metadata declares ``workspace_keys_table``) and a KEK
    sealer into the database's session ``info``. Returns the content keys."""
    info[_KEK_SEALER] = crypto.KekSealer(keks)
    info[_KEK_RING] = keks
    table = metadata.info.get(_WORKSPACE_KEYS)
    if table is None:
        return None
    keys = ContentKeys(table, keks, recheck_seconds=recheck_seconds)
    info[_KEYS] = keys
    return keys


def kek_ring(session: Session) -> crypto.KekRing:
    """The node's KEKs, as ``install`` put them in the session's ``info``."""
    keks = session.info.get(_KEK_RING)
    if keks is None:
        raise RuntimeError("no key-encryption keys: the service's database was not set up with sealing.install")
    return keks  # type: ignore[no-any-return]


def backfill_all(
    write: Callable[[Callable[[Session], int]], int], metadata: MetaData, tables: RuntimeTables | None = None
) -> int:
    """Seal every row written before sealing, in batches (each its own transaction): the declared text
    fields, the service's own steps (``backfilled``), and the outbox and dead-letter payloads (``tables``).
    Returns how many rows it sealed."""
    total = 0
    steps: list[Callable[[Session], int]] = [s.backfill for s in declared_sealed(metadata)]
    steps += list(metadata.info.get(_BACKFILLS, []))
    if tables is not None:
        steps += [lambda s: _backfill_outbox(s, tables), lambda s: _backfill_dead_letters(s, tables)]
        steps += [lambda s: _backfill_payload_workspaces(s, tables)]
    for step in steps:
        while True:
            done = write(step)
            total += done
            if done == 0:
                break
    return total


def _unframed(column: Any) -> Any:
    head = func.substr(column, 1, len(_BY_WORKSPACE))
    return and_(head != _BY_WORKSPACE, head != _BY_KEK)


def _workspace_of(data: bytes) -> str:
    from google.protobuf.message import DecodeError

    from jit.events.v1.envelope_pb2 import Envelope

    try:
        return Envelope.FromString(data).workspace_id
    except (DecodeError, ValueError):
        return ""


def _backfill_outbox(session: Session, tables: RuntimeTables, batch: int = 500) -> int:
    ob = tables.outbox
    conn = session.connection()
    rows = conn.execute(
        select(ob.c.id, ob.c.payload).where(_unframed(ob.c.payload), ob.c.subject.not_like("jit.peers.%")).limit(batch)
    ).all()
    for row in rows:
        sealed = seal_payload(session, row.payload, row.id, _workspace_of(row.payload))
        conn.execute(update(ob).where(ob.c.id == row.id).values(payload=sealed))
    return len(rows)


def _backfill_dead_letters(session: Session, tables: RuntimeTables, batch: int = 500) -> int:
    dl = tables.dead_letters
    conn = session.connection()
    rows = conn.execute(
        select(dl.c.id, dl.c.consumer, dl.c.event_id, dl.c.subject, dl.c.payload)
        .where(_unframed(dl.c.payload), dl.c.payload != b"")
        .limit(batch)
    ).all()
    for row in rows:
        name = dead_letter_name(row.consumer, row.event_id, row.subject)
        try:
            sealed = seal_payload(session, row.payload, name, _workspace_of(row.payload))
        except ContentDestroyed:
            sealed = b""
        conn.execute(update(dl).where(dl.c.id == row.id).values(payload=sealed))
    return len(rows)


def _backfill_payload_workspaces(session: Session, tables: RuntimeTables, batch: int = 500) -> int:
    """Name the workspace of up to ``batch`` outbox rows and dead letters written before the column
    (``workspace_id`` NULL), so that their workspace's shred finds them. Returns how many."""
    ob, dl = tables.outbox, tables.dead_letters
    conn = session.connection()
    done = 0
    for row in conn.execute(
        select(ob.c.id, ob.c.subject, ob.c.payload).where(ob.c.workspace_id.is_(None)).limit(batch)
    ).all():
        peers_only = row.subject.startswith("jit.peers.")  # ``outbox.PEERS_ONLY``, sealed by the relay's sealer
        ws = payload_workspace(session, row.payload, row.id, by_kek=row.id if peers_only else "")
        conn.execute(update(ob).where(ob.c.id == row.id).values(workspace_id=ws))
        done += 1
    for row in conn.execute(
        select(dl.c.id, dl.c.consumer, dl.c.event_id, dl.c.subject, dl.c.payload)
        .where(dl.c.workspace_id.is_(None))
        .limit(batch - done)
    ).all():
        name = dead_letter_name(row.consumer, row.event_id, row.subject)
        conn.execute(
            update(dl).where(dl.c.id == row.id).values(workspace_id=payload_workspace(session, row.payload, name))
        )
        done += 1
    return done


def dead_letter_name(consumer: str, event_id: str | None, subject: str) -> str:
    """What a dead letter's sealed payload is bound to."""
    return f"dead-letter/{consumer}/{event_id or subject}"


def rewrap(session: Session, metadata: MetaData, keks: crypto.KekRing, *, batch: int = 200) -> int:
    """Rewrap up to ``batch`` data keys wrapped by a KEK other than the current one, each only if nobody
    changed it meanwhile. Returns how many it rewrapped (0: every key is under the current KEK)."""
    done = 0
    current = keks.current
    # Only the keys a KEK of the ring wraps (or none named: the current one's, from before KEK ids): keys
    # under a KEK this node does not hold cannot be rewrapped, and selecting them would fill each batch
    # with them and end the rotation with its work undone (``KekRotation`` says how many there are).
    held = [k for k in keks.ids if k != current.id]
    for wk in declared_wrapped(metadata):
        t = wk.table
        pk = list(t.primary_key.columns)
        cond = [or_(t.c.kek_id.in_(held), t.c.kek_id == ""), t.c.wrapped.is_not(None)]
        if wk.where is not None:
            cond.append(wk.where)
        rows = (
            session.connection()
            .execute(select(*pk, t.c.wrapped, t.c.kek_id).where(and_(*cond)).limit(batch - done))
            .all()
        )
        for row in rows:
            m = row._mapping
            try:
                data_key = keks.unwrap(m["wrapped"], m["kek_id"])
            except crypto.KeyError_:
                log.error(
                    "a data key in %s is wrapped by a key-encryption key this node does not hold (%s)",
                    t.name,
                    m["kek_id"],
                )
                continue
            new = crypto.wrap(current, data_key)
            match = [c == m[c.name] for c in pk]
            session.connection().execute(
                update(t).where(*match, t.c.wrapped == m["wrapped"]).values(wrapped=new, kek_id=current.id)
            )
            done += 1
        if done >= batch:
            break
    return done


def kek_usage(session: Session, metadata: MetaData) -> dict[str, int]:
    """How many live data keys each KEK (by id) wraps, over every declared table."""
    out: dict[str, int] = {}
    for wk in declared_wrapped(metadata):
        t = wk.table
        cond = [t.c.wrapped.is_not(None)]
        if wk.where is not None:
            cond.append(wk.where)
        for (kek_id,) in session.connection().execute(select(t.c.kek_id).where(and_(*cond))).all():
            out[kek_id] = out.get(kek_id, 0) + 1
    return out


def db_kek_usage(engine_or_db: Any, metadata: MetaData) -> dict[str, int]:
    """``kek_usage`` of a database (a ``jitlib.db.Database`` or an engine), in its own read."""
    engine = getattr(engine_or_db, "engine", engine_or_db)
    with Session(engine) as session:
        return kek_usage(session, metadata)


# -- wiping what the database frees ---------------------------------------------------------------------


def enable_secure_delete(engine: Engine) -> None:
    """SQLite: every connection overwrites what it deletes (``PRAGMA secure_delete``), so a destroyed key
    leaves no copy in a free page. Connections already open are closed. Nothing to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    engine.dispose()


#: How long ``wipe_freed`` tries SQLite's truncating checkpoint, 20 ms apart, while another checkpoint holds
#: the WAL (one takes milliseconds) or a reader an older snapshot of it (an auditor's verify walks about
#: 100,000 entries a second), in seconds.
_WIPE_WITHIN = 300.0


def wipe_freed(engine: Engine, tables: Iterable[str] = ("workspace_keys", *PAYLOAD_TABLES)) -> None:
    """After a shred, push the old copies out of the files (best effort, outside any transaction): SQLite
    checkpoints the write-ahead log into the database and truncates it; PostgreSQL VACUUMs ``tables``, the
    key tables and the payloads' (copies in WAL archives and backups remain: that is why keys are
    destroyed, not content, wherever a workspace key seals it)."""
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                # Straight to the driver: outside the transaction SQLAlchemy would begin first. Busy while
                # another checkpoint runs (the database's own thread, ``jitlib.db``) or a reader holds an
                # older snapshot (a streamed read: an auditor's verify): tried again shortly. Never waited
                # out in SQLite's busy handler: a truncating checkpoint holds the writers back while it
                # waits, and the service's writers run on its event loop (up to the connection's 30 s).
                driver: Any = conn.connection.driver_connection
                (waits,) = driver.execute("PRAGMA busy_timeout").fetchone()
                driver.execute("PRAGMA busy_timeout=0")
                try:
                    until = time.monotonic() + _WIPE_WITHIN
                    while driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:  # busy
                        if time.monotonic() >= until:
                            log.warning("wiping what the shred freed: the WAL stayed busy; a later shred truncates it")
                            break
                        time.sleep(0.02)
                finally:
                    driver.execute(f"PRAGMA busy_timeout={int(waits)}")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM " + ", ".join(tables)))
    except Exception as exc:  # a later shred, or the operator's VACUUM, does it
        log.warning("wiping what the shred freed failed (%s)", exc)


# -- the key-encryption key's rotation, while serving --------------------------------------------------


class KekRotation(Periodic):
    """A service's background job: reads the KEK file again every ``interval`` seconds and, when the
    current KEK changed (or at start), rewraps every data key still wrapped by another one, in small
    transactions, while the service serves (a key is opened by whichever KEK wrapped it meanwhile). It
    logs when none is left under an old KEK: from then on the old KEK may be removed from the file."""

    def __init__(
        self,
        write: Callable[[Callable[[Session], int]], Any],
        read: Callable[[Callable[[Session], dict[str, int]]], Any],
        metadata: MetaData,
        keks: crypto.KekRing,
        *,
        interval: float = 30.0,
    ) -> None:
        super().__init__(interval, "kek-rotation")
        self._write = write
        self._read = read
        self._metadata = metadata
        self._keks = keks
        #: Set after each pass that left every data key under the current KEK (tests wait on it).
        self.settled_on: str = ""
        #: The data keys under KEKs this node does not hold, per KEK id, as last logged.
        self._unknown: dict[str, int] = {}

    async def run_pass(self) -> int:
        return await self.run_once()

    async def run_once(self) -> int:
        """One pass: reload the file, rewrap what is left. Returns how many keys it rewrapped."""
        self._keks.reload()
        keks = self._keks
        usage = await self._read(lambda s: kek_usage(s, self._metadata))
        total = 0
        if any(k != keks.current.id for k in usage):
            while True:
                done = await self._write(lambda s: rewrap(s, self._metadata, keks))
                total += done
                if done == 0:
                    break
            log.info("key-encryption key rotation: %d data keys rewrapped under %s", total, keks.current.id)
            usage = await self._read(lambda s: kek_usage(s, self._metadata))
        unknown = {k: n for k, n in usage.items() if k and k not in keks.ids}
        if unknown != self._unknown:
            self._unknown = unknown
            if unknown:
                log.error(
                    "%d data keys are wrapped by key-encryption keys this node does not hold (%s): they open and "
                    "rotate only once such a key is back in the KEK file",
                    sum(unknown.values()),
                    ", ".join(sorted(unknown)),
                )
        if self.settled_on != keks.current.id and not any(k != keks.current.id for k in usage):
            log.info("every data key is wrapped by the key-encryption key %s", keks.current.id)
            self.settled_on = keks.current.id
        return total
