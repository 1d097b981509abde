"""Case content sealed at rest (jitlib.sealing, jitlib.crypto.KekRing) on a real SQLite file: sealed
fields, associated data, crypto-shredding, rows written before sealing, sealed payloads (and their
deletion with their workspace), and a KEK rotation while the store is in use."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import LargeBinary, String, Table, Text, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import crypto, outbox, sealing
from jitlib.db import Database, new_metadata, runtime_tables

TITLE = "Identify the holder of account zz-sealed-title-7781"
NOTES = "Subscriber data zz-sealed-notes-4410"


class Base(DeclarativeBase):
    metadata = new_metadata()


KEYS = sealing.workspace_keys_table(Base.metadata)
RUNTIME = runtime_tables(Base.metadata)


class NoteRow(Base):
    __tablename__ = "notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


SEALED = sealing.SealedText(NoteRow, ("title", "body"))
NOTES_TABLE = cast(Table, NoteRow.__table__)


def kek_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def make_db(tmp_path: Path, keks: crypto.KekRing) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'notes.db'}")
    Base.metadata.create_all(db.engine)
    sealing.install(db.info, Base.metadata, keks)
    sealing.enable_secure_delete(db.engine)
    return db


def write(db: Database, note_id: str, title: str, body: str = NOTES, ws: str = "ws-1") -> None:
    def fn(s: Session) -> None:
        cols = SEALED.seal_columns(s, {"title": title, "body": body}, note_id, ws)
        s.execute(NOTES_TABLE.insert().values(id=note_id, workspace_id=ws, **cols))

    db.write_sync(fn)


def read(db: Database, note_id: str) -> tuple[str, str]:
    with Session(db.engine, info=db.info) as s:
        row = s.scalar(select(NoteRow).where(NoteRow.id == note_id))
        assert row is not None
        return row.title, row.body


def raw_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("notes.db"))


@pytest.fixture
def ring() -> crypto.KekRing:
    return crypto.KekRing.parse(kek_text())


def test_a_sealed_record_reads_back_and_its_text_is_nowhere_in_the_files(tmp_path: Path, ring: crypto.KekRing) -> None:
    db = make_db(tmp_path, ring)
    write(db, "n1", TITLE)
    assert read(db, "n1") == (TITLE, NOTES)
    with db.engine.connect() as conn:
        clear = conn.execute(select(NOTES_TABLE.c.title, NOTES_TABLE.c.body)).one()
        assert tuple(clear) == ("", "")
    sealing.wipe_freed(db.engine)
    data = raw_bytes(tmp_path)
    assert b"zz-sealed-title-7781" not in data and b"zz-sealed-notes-4410" not in data
    # A new process (empty key cache) opens it with the KEK alone.
    again = make_db(tmp_path, crypto.KekRing.parse(base64.b64encode(ring.current.key).decode()))
    assert read(again, "n1") == (TITLE, NOTES)


def test_a_ciphertext_moved_to_another_row_does_not_open(tmp_path: Path, ring: crypto.KekRing) -> None:
    db = make_db(tmp_path, ring)
    write(db, "n1", TITLE)
    write(db, "n2", "something else")
    with db.engine.begin() as conn:
        t = NOTES_TABLE
        blob = conn.execute(select(t.c.sealed).where(t.c.id == "n1")).scalar_one()
        conn.execute(update(t).where(t.c.id == "n2").values(sealed=blob))
    fresh = make_db(tmp_path, ring)
    assert read(fresh, "n2") == (sealing.DESTROYED, sealing.DESTROYED)
    assert read(fresh, "n1") == (TITLE, NOTES)


def test_empty_fields_read_back_empty_and_their_ciphertext_is_still_bound_to_its_row(
    tmp_path: Path, ring: crypto.KekRing
) -> None:
    db = make_db(tmp_path, ring)
    write(db, "n1", "", "")  # every field empty: opened without JSON, but opened (and so authenticated)
    write(db, "n2", "", "x")
    assert read(db, "n1") == ("", "") and read(db, "n2") == ("", "x")
    with db.engine.begin() as conn:
        t = NOTES_TABLE
        blob = conn.execute(select(t.c.sealed).where(t.c.id == "n1")).scalar_one()
        conn.execute(update(t).where(t.c.id == "n2").values(sealed=blob))
    assert read(make_db(tmp_path, ring), "n2") == (sealing.DESTROYED, sealing.DESTROYED)


def test_shredding_a_workspace_destroys_its_content_and_refuses_new_content(
    tmp_path: Path, ring: crypto.KekRing
) -> None:
    db = make_db(tmp_path, ring)
    write(db, "n1", TITLE, ws="ws-gone")
    write(db, "n2", "stays", ws="ws-kept")
    keys = sealing.content_keys(Session(db.engine, info=db.info))
    db.write_sync(lambda s: keys.shred(s, "ws-gone"))
    sealing.wipe_freed(db.engine)
    assert read(db, "n1") == (sealing.DESTROYED, sealing.DESTROYED)
    assert read(db, "n2") == ("stays", NOTES)
    with pytest.raises(sealing.ContentDestroyed):
        write(db, "n3", "new", ws="ws-gone")
    with db.engine.connect() as conn:
        row = conn.execute(select(KEYS.c.wrapped, KEYS.c.destroyed_at).where(KEYS.c.workspace_id == "ws-gone")).one()
    assert row.wrapped is None and row.destroyed_at is not None


def test_another_process_stops_using_a_shredded_key_within_the_recheck_time(
    tmp_path: Path, ring: crypto.KekRing
) -> None:
    now = [0.0]
    db = make_db(tmp_path, ring)
    other = Database(f"sqlite:///{tmp_path / 'notes.db'}")
    other_keys = sealing.install(other.info, Base.metadata, ring)
    assert other_keys is not None
    other_keys._monotonic = lambda: now[0]
    write(db, "n1", TITLE)
    assert read(other, "n1") == (TITLE, NOTES)
    keys = sealing.content_keys(Session(db.engine, info=db.info))
    db.write_sync(lambda s: keys.shred(s, "ws-1"))
    now[0] += sealing.RECHECK_SECONDS + 0.1
    assert read(other, "n1") == (sealing.DESTROYED, sealing.DESTROYED)


def test_rows_written_before_sealing_are_sealed_by_the_backfill(tmp_path: Path, ring: crypto.KekRing) -> None:
    db = make_db(tmp_path, ring)
    with db.engine.begin() as conn:
        for i in range(7):
            conn.execute(NOTES_TABLE.insert().values(id=f"old{i}", workspace_id="ws-1", title=f"{TITLE} {i}", body=""))
    assert read(db, "old3") == (f"{TITLE} 3", "")  # a clear row reads as it is until sealed
    assert sealing.backfill_all(db.write_sync, Base.metadata) == 7
    assert sealing.backfill_all(db.write_sync, Base.metadata) == 0
    with db.engine.connect() as conn:
        t = NOTES_TABLE
        assert conn.execute(select(t.c.title).where(t.c.title != "")).all() == []
        assert conn.execute(select(t.c.id).where(t.c.sealed.is_(None))).all() == []
    assert read(make_db(tmp_path, ring), "old3") == (f"{TITLE} 3", "")


def test_rows_read_without_the_orm_open_as_a_load_opens_them(tmp_path: Path, ring: crypto.KekRing) -> None:
    """A list's page reads Core rows (``sealing.opened_rows``): each reads as the ORM's load reads it, sealed,
    shredded, moved to another row or written before sealing."""
    db = make_db(tmp_path, ring)
    write(db, "n1", TITLE)
    write(db, "n2", "gone", ws="ws-gone")
    write(db, "n3", "moved")
    with db.engine.begin() as conn:
        t = NOTES_TABLE
        blob = conn.execute(select(t.c.sealed).where(t.c.id == "n1")).scalar_one()
        conn.execute(update(t).where(t.c.id == "n3").values(sealed=blob))
        conn.execute(t.insert().values(id="n4", workspace_id="ws-1", title="clear", body="old"))
    keys = sealing.content_keys(Session(db.engine, info=db.info))
    db.write_sync(lambda s: keys.shred(s, "ws-gone"))
    with Session(db.engine, info=db.info) as s:
        rows = sealing.opened_rows(s, NOTES_TABLE, s.execute(select(NOTES_TABLE).order_by("id")))
    got = [(r.id, r.title, r.body) for r in rows]
    assert got == [
        ("n1", TITLE, NOTES),
        ("n2", sealing.DESTROYED, sealing.DESTROYED),
        ("n3", sealing.DESTROYED, sealing.DESTROYED),
        ("n4", "clear", "old"),
    ]
    assert [(r.title, r.body) for r in rows] == [read(db, i) for i in ("n1", "n2", "n3", "n4")]


def test_a_key_made_in_a_transaction_that_rolled_back_is_never_used(tmp_path: Path, ring: crypto.KekRing) -> None:
    db = make_db(tmp_path, ring)

    def fail(s: Session) -> None:
        SEALED.seal_columns(s, {"title": "x", "body": ""}, "n0", "ws-1")
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        db.write_sync(fail)
    keys = sealing.content_keys(Session(db.engine, info=db.info))
    assert not keys.holds("ws-1")
    write(db, "n1", TITLE)
    assert read(make_db(tmp_path, ring), "n1") == (TITLE, NOTES)


def test_payloads_are_sealed_per_workspace_or_by_the_kek(tmp_path: Path, ring: crypto.KekRing) -> None:
    db = make_db(tmp_path, ring)
    data = TITLE.encode()
    by_ws = db.write_sync(lambda s: sealing.seal_payload(s, data, "ev-1", "ws-1"))
    by_kek = db.write_sync(lambda s: sealing.seal_payload(s, data, "ev-2", ""))
    assert data not in by_ws and data not in by_kek
    assert sealing.is_sealed_payload(by_ws) and sealing.is_sealed_payload(by_kek)
    assert db.write_sync(lambda s: sealing.open_payload(s, by_ws, "ev-1")) == data
    assert db.write_sync(lambda s: sealing.open_payload(s, by_kek, "ev-2")) == data
    assert db.write_sync(lambda s: sealing.open_payload(s, b"\x0aplain", "ev-3")) == b"\x0aplain"
    keys = sealing.content_keys(Session(db.engine, info=db.info))
    db.write_sync(lambda s: keys.shred(s, "ws-1"))
    assert db.write_sync(lambda s: sealing.open_payload(s, by_ws, "ev-1")) is None


def _event(workspace_id: str, text: str = TITLE) -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type="jit.tests.v1.Noted", workspace_id=workspace_id, aggregate_id=text)


def _dead_letter(s: Session, env: Envelope, workspace_id: str | None, payload: bytes | None = None) -> None:
    s.execute(
        RUNTIME.dead_letters.insert().values(
            consumer="c", event_id=env.id, subject="jit.tests.NL.noted", error="refused", deliveries=1,
            recorded_at=datetime.now(UTC), workspace_id=workspace_id,
            payload=env.SerializeToString() if payload is None else payload,
        )
    )  # fmt: skip


def _payload_rows(db: Database) -> list[tuple[str, str | None]]:
    ob, dl = RUNTIME.outbox, RUNTIME.dead_letters
    with db.engine.connect() as conn:
        rows = [("outbox", ws) for (ws,) in conn.execute(select(ob.c.workspace_id))]
        return rows + [("dead_letters", ws) for (ws,) in conn.execute(select(dl.c.workspace_id))]


def test_a_workspaces_shred_deletes_its_outbox_rows_and_dead_letters_and_no_other(
    tmp_path: Path, ring: crypto.KekRing
) -> None:
    """Every service's shred (``destroy_payloads``): the workspace's events, published or not, sealed by its
    key or (for other nodes only) by the KEK, and its dead letters go; another workspace's stay."""
    db = make_db(tmp_path, ring)

    def stage(s: Session) -> None:
        published = outbox.stage(s, RUNTIME, "jit.tests.NL.noted", _event("ws-1"))
        s.execute(
            RUNTIME.outbox.update().where(RUNTIME.outbox.c.id == published.id).values(published_at=datetime.now(UTC))
        )
        outbox.stage(s, RUNTIME, "jit.tests.NL.noted", _event("ws-1"))  # never published
        outbox.stage(s, RUNTIME, "jit.peers.tests.NL.noted", _event("ws-1"), sealer=crypto.KekSealer(ring))
        outbox.stage(s, RUNTIME, "jit.tests.NL.noted", _event("ws-2"))
        _dead_letter(s, _event("ws-1"), "ws-1")
        _dead_letter(s, _event("ws-2"), "ws-2")

    db.write_sync(stage)
    counts = {"tasks": 2}  # the certificate's
    destroyed = db.write_sync(lambda s: sealing.destroy_payloads(s, RUNTIME, "ws-1", counts))
    assert destroyed == {"outbox": 3, "dead_letters": 1}
    assert counts == {"tasks": 2, sealing.NEVER_PUBLISHED: 2}  # the one for this node, the one for peers
    assert sorted(_payload_rows(db)) == [("dead_letters", "ws-2"), ("outbox", "ws-2")]
    db.write_sync(lambda s: s.execute(RUNTIME.outbox.update().values(published_at=datetime.now(UTC))))
    counts = {"tasks": 1}
    destroyed = db.write_sync(lambda s: sealing.destroy_payloads(s, RUNTIME, "ws-2", counts))
    assert destroyed == {"outbox": 1, "dead_letters": 1}
    assert counts == {"tasks": 1}  # every event was published: nothing to say


def test_the_workspace_of_payloads_written_before_it_was_kept_is_named_at_start(
    tmp_path: Path, ring: crypto.KekRing
) -> None:
    """Rows from before the column (NULL): the start's backfill reads their workspace, whether they are sealed
    by its key, by the KEK alone (a service without content keys), for other nodes by the relay's
    ``KekSealer``, or in clear; their workspace's shred then deletes them."""
    db = make_db(tmp_path, ring)
    events = [_event("ws-1") for _ in range(5)]
    data = [e.SerializeToString() for e in events]

    def legacy(s: Session) -> None:
        ob = RUNTIME.outbox
        payloads = [
            ("jit.tests.NL.noted", sealing.seal_payload(s, data[0], events[0].id, "ws-1")),
            ("jit.tests.NL.noted", sealing.seal_payload(s, data[1], events[1].id, "")),
            ("jit.peers.tests.NL.noted", crypto.KekSealer(ring).seal(data[2], events[2].id)),
            ("jit.tests.NL.noted", data[3]),
        ]
        for e, (subject, payload) in zip(events, payloads, strict=False):
            s.execute(
                ob.insert().values(
                    id=e.id, subject=subject, event_type=e.type, payload=payload, headers="{}",
                    created_at=datetime.now(UTC), workspace_id=None,
                )
            )  # fmt: skip
        _dead_letter(
            s, events[4], None, sealing.seal_payload(s, data[4], sealing.dead_letter_name("c", events[4].id, "x"), "")
        )
        _dead_letter(s, _event("ws-2"), None)

    db.write_sync(legacy)
    sealing.backfill_all(db.write_sync, Base.metadata, RUNTIME)
    assert sorted(_payload_rows(db)) == sorted(
        [("outbox", "ws-1")] * 4 + [("dead_letters", "ws-1"), ("dead_letters", "ws-2")]
    )
    assert db.write_sync(lambda s: sealing.destroy_payloads(s, RUNTIME, "ws-1")) == {"outbox": 4, "dead_letters": 1}


def test_a_kek_rotation_rewraps_every_key_and_the_old_kek_can_then_go(tmp_path: Path) -> None:
    old, new = kek_text(), kek_text()
    kek_file = tmp_path / "kek.b64"
    kek_file.write_text(old + "\n")
    ring = crypto.KekRing.from_file(kek_file)
    db = make_db(tmp_path, ring)
    for i in range(5):
        write(db, f"n{i}", f"{TITLE} {i}", ws=f"ws-{i}")
    old_id = ring.current.id
    assert sealing.db_kek_usage(db, Base.metadata) == {old_id: 5}

    kek_file.write_text(f"{new}\n{old}\n")  # the new KEK first, the old one still there
    assert ring.reload()
    new_id = ring.current.id
    assert new_id != old_id
    write(db, "n9", "made during the rotation", ws="ws-new")
    assert sealing.db_kek_usage(db, Base.metadata) == {old_id: 5, new_id: 1}
    assert read(make_db(tmp_path, ring), "n2") == (f"{TITLE} 2", NOTES)  # readable mid-rotation
    assert db.write_sync(lambda s: sealing.rewrap(s, Base.metadata, ring, batch=3)) == 3
    assert db.write_sync(lambda s: sealing.rewrap(s, Base.metadata, ring)) == 2
    assert sealing.db_kek_usage(db, Base.metadata) == {new_id: 6}

    kek_file.write_text(new + "\n")  # the old KEK removed
    only_new = crypto.KekRing.from_file(kek_file)
    fresh = make_db(tmp_path, only_new)
    assert [read(fresh, f"n{i}") for i in range(5)] == [(f"{TITLE} {i}", NOTES) for i in range(5)]
    assert read(fresh, "n9") == ("made during the rotation", NOTES)


def test_keys_under_a_kek_the_node_does_not_hold_never_stall_the_rotation_of_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database restored from another node holds 250 data keys under a KEK this node lacks, before 3 under
    its old KEK: each batch of 200 used to be filled with the keys it cannot open, so a pass rewrapped none
    and the rotation ended with the old KEK's keys left (review 37, durability #6)."""
    lost, old, new = kek_text(), kek_text(), kek_text()
    kek_file = tmp_path / "kek.b64"
    kek_file.write_text(lost + "\n")
    ring = crypto.KekRing.from_file(kek_file)
    db = make_db(tmp_path, ring)
    for i in range(250):
        write(db, f"x{i}", "from elsewhere", ws=f"ws-x{i}")
    lost_id = ring.current.id
    kek_file.write_text(old + "\n")
    assert ring.reload()
    for i in range(3):
        write(db, f"n{i}", f"{TITLE} {i}", ws=f"ws-{i}")
    old_id = ring.current.id
    kek_file.write_text(f"{new}\n{old}\n")  # the lost KEK is not in the file
    assert ring.reload()
    new_id = ring.current.id

    assert db.write_sync(lambda s: sealing.rewrap(s, Base.metadata, ring)) == 3
    assert sealing.db_kek_usage(db, Base.metadata) == {lost_id: 250, new_id: 3}

    # Two passes as the service makes them: nothing left to rewrap, the keys it cannot open said once.
    async def passes() -> list[int]:
        rotation = sealing.KekRotation(db.write, db.read, Base.metadata, ring, interval=3600)
        done = [await rotation.run_once(), await rotation.run_once()]
        assert rotation.settled_on == ""  # not every key is under the current KEK
        return done

    with caplog.at_level(logging.ERROR, logger="jitlib.sealing"):
        assert asyncio.run(passes()) == [0, 0]
    said = [r.getMessage() for r in caplog.records if "does not hold" in r.getMessage()]
    assert said == [
        f"250 data keys are wrapped by key-encryption keys this node does not hold ({lost_id}): they open and "
        "rotate only once such a key is back in the KEK file"
    ]
    assert old_id not in sealing.db_kek_usage(db, Base.metadata)


def test_a_key_wrapped_by_a_kek_added_to_the_file_later_opens_after_a_reload(tmp_path: Path) -> None:
    old, new = kek_text(), kek_text()
    kek_file = tmp_path / "kek.b64"
    kek_file.write_text(old + "\n")
    behind = crypto.KekRing.from_file(kek_file)  # a replica that has not read the file again yet
    kek_file.write_text(f"{new}\n{old}\n")
    ahead = crypto.KekRing.from_file(kek_file)
    wrapped = crypto.wrap(ahead.current, b"k" * 32)
    assert behind.unwrap(wrapped, ahead.current.id) == b"k" * 32
    assert behind.current.id == ahead.current.id


def test_the_kek_file_is_one_line_of_base64_of_32_bytes_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kek.b64"
    assert crypto.generate_kek_file(path)
    assert not crypto.generate_kek_file(path)  # never overwritten
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and len(base64.b64decode(lines[0], validate=True)) == 32
    ring = crypto.load_kek_ring("", path, tmp_path / "unused")
    assert ring.current.key == base64.b64decode(lines[0])
    assert lines[0] not in repr(ring.current)


def test_a_bad_kek_file_is_refused_in_words_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "kek.b64"
    path.write_text("not base64 at all!\n")
    with pytest.raises(crypto.KeyError_, match="not valid base64") as exc:
        crypto.load_kek_ring("", path, tmp_path / "unused")
    assert "not base64 at all" not in str(exc.value)
    path.write_text(base64.b64encode(b"short").decode())
    with pytest.raises(crypto.KeyError_, match="32 bytes"):
        crypto.load_kek_ring("", path, tmp_path / "unused")


def test_a_legacy_per_service_kek_is_kept_as_a_previous_kek(tmp_path: Path) -> None:
    legacy = tmp_path / "evidence-kek.b64"
    crypto.generate_kek_file(legacy)
    old = crypto.load_kek(None, legacy, tmp_path / "unused")
    wrapped = crypto.wrap(old, b"d" * 32)
    ring = crypto.load_kek_ring("", None, tmp_path / "kek.b64", legacy=(legacy,))
    assert ring.current.id != old.id and (tmp_path / "kek.b64").exists()
    assert ring.unwrap(wrapped, old.id) == b"d" * 32


def test_a_page_row_reads_each_column_by_name_and_cannot_be_changed() -> None:
    """``sealing.page_row_class``: a row of a page is a named tuple of its columns (read-only, each value by
    its column's name, in order), its class made once for a list of names."""
    row = sealing.page_row_class(("id", "title", "count"))(["n1", TITLE, 3])
    assert (row.id, row.title, row.count) == ("n1", TITLE, 3) and tuple(row) == ("n1", TITLE, 3)
    with pytest.raises(AttributeError):
        row.title = "changed"
    assert sealing.page_row_class(("id", "title", "count")) is sealing.page_row_class(("id", "title", "count"))
