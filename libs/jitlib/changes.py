"""What a change of a versioned record remembers of the request that made it, so that a retry of that request
answers as its first call did.

A client whose change was made but whose answer was lost (a cut link, a timeout) retries the same request
with the same ``expected_version``. The record is then one version further, made by that very request: the
retry is answered with the record as it is now, and nothing is written twice
(``jitlib.records.RecordPath.check_change``), where the version check alone said ABORTED VERSION_MISMATCH
("re-read it") to a user whose change had been made. With ``expected_version`` 0 ("whatever it is now") the
same holds while the record was not changed since: the retry of a change that would apply again (a second
delay notice, the same terms renegotiated) is not applied twice.

What is remembered, per record (``RuntimeTables.last_changes``, written by ``records.store_change`` in the
change's own transaction): the version a caller's change made and the call's **fingerprint**, an
HMAC-SHA256 under a key of the node's (derived from its current KEK, ``Runtime.call_key``) over the caller's subject
and jurisdiction, the RPC's full method name and the digest of its request serialized deterministically
(``envelopes.request_digest``). Another caller, another RPC or another request body (another
``expected_version`` included) has another fingerprint. It is a keyed digest, compared on the server and never
returned nor sent in an event: it tells no one what the request held, and the database alone (a copy, a
backup) cannot confirm a guess of a request's text against it. Since one who also holds the KEK could, a
workspace's retention shred deletes its records' rows with the rest of its content
(``sealing.destroy_payloads``). A change made by the service itself (a clock, a consumer) records none, and
moves the record's version past the one remembered, so no earlier request replays across it.

A retry is compared under the key derived from each KEK the node's ring holds (``Runtime.call_keys``, the
current one's first: one HMAC while the ring holds one KEK): across a KEK rotation, and a restart, a retry
still replays the call its fingerprint was kept for under the previous KEK, while the ring holds that KEK;
once it is dropped from the ring, the fingerprints kept under it no longer match (their retries are answered
as any stale view).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jitlib.envelopes import request_digest
from jitlib.principal import Principal
from jitlib.runtime import UnitOfWork, current_method

#: A call's fingerprints, one under each key of the node's ring (``Runtime.call_keys``), the current one's first.
Calls = tuple[str, ...]

#: The request of the unary RPC being served, set by the server's call entry beside ``runtime.current_method``
#: (None outside an RPC: a clock, a consumer).
current_request: contextvars.ContextVar[Message | None] = contextvars.ContextVar("jit_request", default=None)


@dataclass(frozen=True)
class LastChange:
    """A record's last change made by a caller: the version it made and the fingerprint of its call."""

    version: int
    fingerprint: str


def fingerprint(key: bytes, user_id: str, jurisdiction: str, method: str, request: Message) -> str:
    """The fingerprint of a call: HMAC-SHA256 under the node's ``key`` (``Runtime.call_key``) over the caller
    (subject, jurisdiction), the RPC's full method name and the digest of the request, each part
    length-prefixed so that no two calls' parts run together. Keyed, so that the database alone (a copy, a
    backup) cannot confirm an exact guess of a request's text (a reason, new terms) against it."""
    return fingerprints((key,), user_id, jurisdiction, method, request)[0]


def fingerprints(keys: Sequence[bytes], user_id: str, jurisdiction: str, method: str, request: Message) -> Calls:
    """The fingerprints of a call under each of ``keys`` (``fingerprint``; the request digested once)."""
    digest = request_digest(request)
    out = []
    for key in keys:
        h = hmac.new(key, digestmod=hashlib.sha256)
        for part in (user_id, jurisdiction, method, digest):
            data = part.encode()
            h.update(len(data).to_bytes(4, "big"))
            h.update(data)
        out.append(h.hexdigest())
    return tuple(out)


def of_call(principal: Principal, keys: Sequence[bytes]) -> Calls | None:
    """The fingerprints of the RPC being served, by ``principal``, under each of the node's ``keys``
    (``Runtime.call_keys``: the current KEK's first); None outside an RPC."""
    request = current_request.get()
    if request is None:
        return None
    return fingerprints(keys, principal.user_id, principal.jurisdiction, current_method.get(), request)


def _matches(kept: str, call: str | Calls) -> bool:
    """Whether the fingerprint ``kept`` is the call's under one of the keys (each compared in constant time)."""
    matched = False
    for one in (call,) if isinstance(call, str) else call:
        matched |= hmac.compare_digest(kept, one)
    return matched


def replays(last: LastChange | None, current: int, expected: int, call: str | Calls) -> bool:
    """Whether a change asked from version ``expected`` (0: whatever it is now) of a record now at version
    ``current`` is the retry of the call that made ``current`` (``last``, with fingerprint ``call``, or one of
    the call's fingerprints under the ring's keys): the record was not changed since that call
    (``last.version`` is ``current``), and the retry asks from where that call did (one version behind, or 0)."""
    if last is None or last.version != current or expected not in (0, current - 1):
        return False
    return _matches(last.fingerprint, call)


def replayed_in(uow: UnitOfWork, record_type: str, record_id: str, current: int, expected: int) -> bool:
    """In a change's unit of work: whether the RPC being served, asked from ``expected``, is the retry of the
    call that made version ``current`` of the record (``replays``), its last change read in the unit only when
    it may be (``expected`` 0 or one behind). False outside an RPC."""
    if expected not in (0, current - 1):
        return False
    call = of_call(uow.principal, uow.call_keys or (uow.call_key,))
    if call is None:
        return False
    return replays(last_change(uow.session, uow.tables.last_changes, record_type, record_id), current, expected, call)


def raced(last: LastChange | None, current: int, read: int, expected: int, call: str | Calls) -> bool:
    """Whether a change whose version-guarded write found the record changed meanwhile (read at version
    ``read``, asked from ``expected``, 0: whatever it is now) lost that race to its own first call, still in
    flight when the retry came (a client whose deadline expired while the server committed): the record, now
    at ``current`` in a fresh read, is one version past the one the change was to replace (``expected``, or
    for 0 the one read), and that version was made by a call with this fingerprint (``last``, ``call``)."""
    return current == (expected or read) + 1 and replays(last, current, expected, call)


def remember(uow: UnitOfWork, record_type: str, record_id: str, workspace_id: str, version: int) -> None:
    """In a change's unit of work: the RPC being served made ``version`` of the record (its last change by a
    caller, replacing the one before). Nothing outside an RPC (the service's own clocks and consumers)."""
    request = current_request.get()
    if request is None:
        return
    principal = uow.principal
    call = fingerprint(uow.call_key, principal.user_id, principal.jurisdiction, current_method.get(), request)
    table = uow.tables.last_changes
    dialect = postgresql if uow.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(
        record_type=record_type, record_id=record_id, workspace_id=workspace_id, version=version, fingerprint=call
    )
    uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.record_type, table.c.record_id],
            set_={"version": stmt.excluded.version, "fingerprint": stmt.excluded.fingerprint},
        )
    )


def last_change(session: Session, table: Table, record_type: str, record_id: str) -> LastChange | None:
    """The record's last change made by a caller, or None (made by none since this was kept)."""
    row = session.execute(
        select(table.c.version, table.c.fingerprint).where(
            table.c.record_type == record_type, table.c.record_id == record_id
        )
    ).first()
    return LastChange(row.version, row.fingerprint) if row is not None else None


def expected_version() -> int | None:
    """The ``expected_version`` of the request being served, None when it has none: a read, a create, or no
    RPC at all (a clock, a consumer)."""
    value = getattr(current_request.get(), "expected_version", None)
    return value if isinstance(value, int) else None
