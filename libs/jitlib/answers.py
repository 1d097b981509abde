"""A record kept in the form its List answers it: each row's message, serialized once when the row is written.

A List page of 50 records made each record again from its row at every call: its sealed text opened, a
domain record built from every column, its message constructed field by field and serialized. That was
most of a list call (bench/README.md, Lists). ``Answers`` keeps, beside each row of a record table, the
record's message as the List answers it, less what depends on the caller or the clock (its allowed
actions, a task's ``overdue``): serialized by the service's own mapping from the same domain record the
row's columns are written from, in the same write (``jitlib.db.RecordTable``), and sealed under the
record's workspace key as its text is. A page then reads a few plain columns and that one value per
record, opens it, and appends the caller's and the clock's fields to its bytes: a protobuf message is the
concatenation of its fields, so the answer is the message the mapping makes, field for field (the tests
compare every one with the mapping's).

**Never stale, never a second truth.** The value is sealed with associated data naming the table, the
record, its version and the form (a digest of the message's descriptors and the service's ``form``
number): a row whose version moved without its answer being written again (a write that did not go
through the record table), or one written by a build whose message differed, does not open, and the page
answers that record from its row as before (``opened``: None). So does a row written before the column
existed, until the service's background job (``AnswersFill``, from its start) writes it, and a record of a
shredded workspace, which never opens again. The service's ``form`` number changes with its mapping of
the message (a field added, one computed differently): the rows written before then fall back to their
columns, correct and slower, until a migration empties the column and the background job fills it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from google.protobuf.message import Message
from sqlalchemy import MetaData, Table, select, update
from sqlalchemy.orm import Session

from jitlib import crypto
from jitlib.periodic import Periodic

log = logging.getLogger(__name__)

#: What a row holds in its answer column when it has none that could ever open (its workspace shredded
#: before the column was filled): not NULL, so the start-time step does not try it again.
NONE = b""
#: Rows the background job writes per transaction. On SQLite the event loop waits for each: 5 ms for 25
#: tasks, 8 for 25 requests (100 held it 19 and 28 ms, for 8-11 % more rows a second; bench/README.md,
#: Lists, the fifteenth pass).
BATCH = 25
#: Where a metadata's ``Answers`` are declared (``declared``).
_DECLARED = "jit_answers"


def _files(descriptor: Any) -> list[Any]:
    """The proto files ``descriptor``'s message is defined in and depends on, each once, in a fixed order."""
    seen: dict[str, Any] = {}

    def visit(file: Any) -> None:
        if file.name in seen:
            return
        seen[file.name] = file
        for dep in file.dependencies:
            visit(dep)

    visit(descriptor.file)
    return [seen[name] for name in sorted(seen)]


def form_digest(descriptor: Any, form: int) -> str:
    """The form of a message as a service answers it: its proto files (the message's and those it imports)
    and the service's own ``form`` number, as 16 hex digits."""
    h = hashlib.sha256(str(form).encode())
    for file in _files(descriptor):
        h.update(file.name.encode())
        h.update(file.serialized_pb)
    return h.hexdigest()[:16]


class Answers:
    """The answers of one record table (``jitlib.db.RecordTable``'s ``answers``), in its ``column``."""

    def __init__(
        self,
        row: type,
        message: type[Message],
        answer: Callable[[Any], bytes],
        *,
        form: int,
        column: str = "answer",
        load: Callable[[Session, Sequence[Any]], list[Any]] | None = None,
    ) -> None:
        """``answer(record)``: the record as its List answers it, less what depends on the caller or the
        clock (the service's mapping of it to ``message``, serialized; or a form of the service's own that
        holds it with what the page needs to add those). ``form``: the number of that mapping, changed with
        it. ``load(session, rows)``: the records of ORM rows, in their order, for the background job
        (``backfill``)."""
        self.table: Table = cast(Table, row.__table__)  # type: ignore[attr-defined]
        self.row = row
        self.column = column
        self._answer = answer
        self._load = load
        self.form = form_digest(message.DESCRIPTOR, form)
        self._prefix = f"jit-answer/{self.table.name}/".encode()
        self._suffix = f"/{self.form}".encode()
        self.table.metadata.info.setdefault(_DECLARED, []).append(self)

    def aad(self, record_id: str, version: int) -> bytes:
        """The associated data: the value opens only in this table, for this record at this version, in
        this form."""
        return self._prefix + record_id.encode() + b"/" + str(version).encode() + self._suffix

    def columns(self, session: Session, record: Any) -> dict[str, object]:
        """The answer column of ``record`` as written with its row."""
        from jitlib.sealing import content_keys  # sealing builds on jitlib.db, which builds on this module

        data = self._answer(record)
        sealed = content_keys(session).seal(session, record.workspace_id, self.aad(record.id, record.version), data)
        return {self.column: sealed}

    def opened(
        self, session: Session, rows: Sequence[Any], *, id: int, version: int, workspace: int, answer: int
    ) -> list[bytes | None]:
        """Each row's answer opened (rows of values, the positions of its id, version, workspace and answer
        given), or None where it does not open: none written yet, an older version or form, a workspace
        shredded or whose key no KEK of this node opens. The page answers those from their rows."""
        from jitlib.sealing import content_keys

        keys = None
        aeads: dict[str, Any] = {}
        out: list[bytes | None] = []
        for r in rows:
            sealed = r[answer]
            if not sealed:
                out.append(None)
                continue
            ws = r[workspace]
            aead = aeads.get(ws, False)
            if aead is False:
                keys = keys or content_keys(session)
                try:
                    aead = aeads[ws] = keys.aead(session, ws)
                except Exception:  # shredded, or no KEK opens it: the rows say which, as before
                    aead = aeads[ws] = None
            if aead is None:
                out.append(None)
                continue
            try:
                out.append(crypto.open_sealed(aead, sealed, self.aad(r[id], r[version])))
            except InvalidTag:
                out.append(None)
        return out

    def backfill(self, session: Session, *, batch: int = BATCH) -> int:
        """Write the answer of up to ``batch`` rows that have none (NULL: written before the column existed,
        or emptied by a migration with a new form); ``NONE`` for a row whose workspace is shredded. A row
        changed meanwhile (its version moved: its write wrote its answer) is left as it is. How many rows
        it read (0: none left)."""
        from jitlib.sealing import ContentDestroyed

        if self._load is None:
            raise TypeError(f"{self.table.name}: answers declared without load")
        t, col = self.table, self.table.c[self.column]
        rows: Sequence[Any] = session.scalars(select(self.row).where(col.is_(None)).order_by(t.c.id).limit(batch)).all()
        for record in self._load(session, rows):
            try:
                values = self.columns(session, record)
            except ContentDestroyed:
                values = {self.column: NONE}
            unchanged = (t.c.id == record.id, t.c.version == record.version, col.is_(None))
            session.connection().execute(update(t).where(*unchanged).values(**values))
        if rows:
            log.debug("%s: the list answers of %d rows written", t.name, len(rows))
        return len(rows)


def declared(metadata: MetaData) -> list[Answers]:
    """The ``Answers`` of ``metadata``'s tables."""
    return list(metadata.info.get(_DECLARED, []))


class AnswersFill(Periodic):
    """A service's background job (run once per service, from its start): write the answers its rows do
    not have yet (``Answers.backfill``), a batch a transaction, until none is left; a list answers those
    from their rows meanwhile. Then again every ``interval`` seconds (a row can lack one only after a
    migration or a recount, which come with a start), or when woken."""

    def __init__(
        self, write: Callable[[Callable[[Session], int]], Any], answers: Sequence[Answers], *, interval: float = 3600.0
    ) -> None:
        super().__init__(interval, "answers-fill")
        self._write = write
        self._answers = list(answers)
        #: Rows written since the start (for tests and the log).
        self.written = 0

    async def run_pass(self) -> int:
        done = 0
        for answers in self._answers:
            while True:
                n = await self._write(answers.backfill)
                done += n
                if n == 0:
                    break
                await asyncio.sleep(0)  # the calls waiting on the loop go first
        if done:
            log.info("list answers written for %d rows", done)
        self.written += done
        return done
