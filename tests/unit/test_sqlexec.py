"""``jitlib.sqlexec.CompiledInsert`` and ``CompiledUpdate`` write what SQLAlchemy's own INSERT and UPDATE
write (read back through SQLAlchemy, types and all; the update only past its version guard), count their
statements, and raise a duplicate key as SQLAlchemy's IntegrityError, which the create path's idempotency
relies on (SQLite here; PostgreSQL through every service's create and change in the integration tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jitlib import db, sqlexec
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME

AT = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)


def pending_row(record_id: str) -> dict[str, object]:
    """An unlinked audit entry's row (``audit_pending``) for the record ``record_id``."""
    return {
        "occurred_at": AT,
        "time_zone": "UTC",
        "user_id": "u1",
        "username": "nl-prosecutor",
        "jurisdiction": "NL",
        "operation": "create",
        "record_type": "task",
        "record_id": record_id,
        "workspace_id": "ws",
        "outcome": "ok",
    }


def outbox_row(event_id: str) -> dict[str, object]:
    return {
        "id": event_id,
        "subject": "jit.tasks.NL.created",
        "event_type": "jit.tasks.created",
        "payload": b"\x00\x01sealed\xff",
        "headers": "{}",
        "created_at": AT,
        "attempts": 0,
    }


def test_a_compiled_insert_writes_what_sqlalchemys_insert_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.migrate(MIGRATIONS, url)
    database = db.Database(url)
    outbox = RUNTIME.outbox
    compiled = sqlexec.CompiledInsert(outbox)
    try:
        counted = [0]
        token = sqlexec.statements.set(counted)
        try:
            with Session(database.engine) as s, s.begin():
                compiled.execute(s, outbox_row("a"))
                compiled.execute(s, [outbox_row("b"), outbox_row("c")])
                s.execute(insert(outbox), outbox_row("d"))  # SQLAlchemy's own, for comparison
        finally:
            sqlexec.statements.reset(token)
        with Session(database.engine) as s:
            rows = {r["id"]: dict(r) for r in s.execute(select(outbox)).mappings()}
        assert counted == [3]  # two of ours (one executemany) and SQLAlchemy's, counted by its event
        ours, theirs = rows.pop("a"), rows.pop("d")
        assert {k: v for k, v in ours.items() if k != "id"} == {k: v for k, v in theirs.items() if k != "id"}
        assert ours["payload"] == b"\x00\x01sealed\xff" and ours["created_at"].replace(tzinfo=UTC) == AT
        assert set(rows) == {"b", "c"}
    finally:
        database.dispose()


def test_a_duplicate_key_is_sqlalchemys_integrity_error_and_the_transaction_rolls_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.migrate(MIGRATIONS, url)
    database = db.Database(url)
    compiled = sqlexec.CompiledInsert(RUNTIME.outbox)
    try:
        database.write_sync(lambda s: compiled.execute(s, outbox_row("a")))

        def twice(s: Session) -> None:
            compiled.execute(s, outbox_row("b"))
            compiled.execute(s, outbox_row("a"))

        with pytest.raises(IntegrityError):
            database.write_sync(twice)
        ids = database.write_sync(lambda s: sorted(s.execute(select(RUNTIME.outbox.c.id)).scalars()))
        assert ids == ["a"]
    finally:
        database.dispose()


def test_a_compiled_select_returns_the_drivers_rows_of_sqlalchemys_statement(tmp_path: Path) -> None:
    """``CompiledSelect`` runs the statement SQLAlchemy compiles (its own LIMIT/OFFSET values included, the
    caller's parameters through each column type's bind processor) and returns the driver's rows untouched:
    on SQLite a timestamp is its stored text, which SQLAlchemy's own execution would have parsed."""
    from sqlalchemy import Integer, bindparam

    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.migrate(MIGRATIONS, url)
    database = db.Database(url)
    outbox = RUNTIME.outbox
    stmt = (
        select(outbox.c.id, outbox.c.created_at)
        .where(outbox.c.created_at <= bindparam("until"))
        .order_by(outbox.c.id)
        .limit(bindparam("n", type_=Integer))
    )
    compiled = sqlexec.CompiledSelect(stmt)
    try:
        with Session(database.engine) as s, s.begin():
            s.execute(
                insert(outbox),
                [outbox_row("a"), {**outbox_row("b"), "created_at": AT.replace(year=2027)}, outbox_row("c")],
            )
        counted = [0]
        token = sqlexec.statements.set(counted)
        try:
            with Session(database.engine) as s:
                ours = compiled.rows(s, until=AT, n=5)
                theirs = s.execute(stmt, {"until": AT, "n": 5}).all()
                one = compiled.rows(s, until=AT, n=1)
        finally:
            sqlexec.statements.reset(token)
        assert counted == [3]  # ours twice, SQLAlchemy's once
        assert [r[0] for r in ours] == [r[0] for r in theirs] == ["a", "c"] and [r[0] for r in one] == ["a"]
        assert ours[0][1] == "2026-12-03 12:00:00.123456"  # the stored text, as the driver reads it
        assert [datetime.fromisoformat(r[1]).replace(tzinfo=UTC) for r in ours] == [
            r[1].replace(tzinfo=UTC) for r in theirs
        ]
    finally:
        database.dispose()


def versioned_rows(tmp_path: Path) -> tuple[Table, db.Database]:
    """A table of rows with a version, a timestamp and a blob, in a SQLite database of its own."""
    meta = MetaData()
    rows = Table(
        "rows",
        meta,
        Column("id", String(36), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("at", DateTime(timezone=True)),
        Column("blob", LargeBinary),
    )
    database = db.Database(f"sqlite:///{tmp_path / 'u.db'}")
    meta.create_all(database.engine)
    return rows, database


def test_a_compiled_update_writes_what_sqlalchemys_update_writes_and_only_past_its_guard(tmp_path: Path) -> None:
    rows, database = versioned_rows(tmp_path)
    compiled = sqlexec.CompiledUpdate(rows, rows.c.id, rows.c.version)
    try:
        database.write_sync(
            lambda s: s.execute(insert(rows), [{"id": i, "version": 1, "at": None, "blob": None} for i in "abc"])
        )
        new = {"version": 2, "at": AT, "blob": b"\x00sealed\xff"}
        counted = [0]
        token = sqlexec.statements.set(counted)
        try:
            with Session(database.engine) as s, s.begin():
                changed = [
                    compiled.execute(s, "a", new, guard=1),  # the version read: written
                    compiled.execute(s, "b", new, guard=7),  # someone changed it since: not written
                    compiled.execute(s, "zz", new, guard=1),  # no such row
                    compiled.execute(s, "b", {"blob": b"replica"}),  # no guard: written whatever its version
                ]
        finally:
            sqlexec.statements.reset(token)
        database.write_sync(lambda s: s.execute(update(rows).where(rows.c.id == "c").values(**new)))  # SQLAlchemy's
        with Session(database.engine) as s:
            stored = {r["id"]: dict(r) for r in s.execute(select(rows)).mappings()}
        assert changed == [1, 0, 0, 1]
        assert counted == [4]
        assert {**stored["a"], "id": "c"} == stored["c"]
        assert stored["a"]["at"].replace(tzinfo=UTC) == AT and stored["a"]["blob"] == b"\x00sealed\xff"
        assert stored["b"] == {"id": "b", "version": 1, "at": None, "blob": b"replica"}
    finally:
        database.dispose()


def test_a_compiled_selects_converted_rows_are_sqlalchemys_for_each_length_of_its_in_lists(tmp_path: Path) -> None:
    """``CompiledSelect.converted`` renders an expanding ``IN`` for the length of the list it is given (none,
    one, several; each length's rendering kept, then reused with other values) and returns each row's values
    as SQLAlchemy's own execution of the statement gives them (a timestamp parsed, a blob as bytes)."""
    from sqlalchemy import bindparam

    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.migrate(MIGRATIONS, url)
    database = db.Database(url)
    outbox = RUNTIME.outbox
    stmt = (
        select(outbox.c.id, outbox.c.created_at, outbox.c.payload, outbox.c.attempts)
        .where(outbox.c.id.in_(bindparam("ids", expanding=True)), outbox.c.created_at <= bindparam("until"))
        .order_by(outbox.c.id)
    )
    compiled = sqlexec.CompiledSelect(stmt)
    assert compiled.names == ("id", "created_at", "payload", "attempts")
    try:
        with Session(database.engine) as s, s.begin():
            s.execute(insert(outbox), [outbox_row(i) for i in "abcd"])
        with Session(database.engine) as s:
            for ids in (["a"], ["b", "c"], [], ["d", "a"], ["c"], ["x", "b", "d"]):
                ours = compiled.converted(s, {"ids": ids, "until": AT})
                theirs = [tuple(r) for r in s.execute(stmt, {"ids": ids, "until": AT})]
                assert ours == theirs and len(ours) == len(set(ids) - {"x"}), ids
        assert isinstance(ours[0][1], datetime) and ours[0][2] == b"\x00\x01sealed\xff"
    finally:
        database.dispose()


def test_a_compiled_update_returning_moves_the_counter_once_and_returns_the_row_as_sqlalchemys(
    tmp_path: Path,
) -> None:
    """``CompiledSelect`` runs an UPDATE ... RETURNING (messaging's next sequence number): each run moves
    the one row it names by one (its literal ``+ 1`` bound from the statement), returns that row's values
    as SQLAlchemy's own execution of the statement returns them (a timestamp parsed), nothing for a key
    that matches no row, and is counted as one statement."""
    from sqlalchemy import bindparam

    rows, database = versioned_rows(tmp_path)
    stmt = update(rows).where(rows.c.id == bindparam("key")).values(version=rows.c.version + 1).returning(*rows.c)
    compiled = sqlexec.CompiledSelect(stmt)
    assert compiled.names == ("id", "version", "at", "blob")
    try:
        database.write_sync(
            lambda s: s.execute(insert(rows), [{"id": i, "version": 1, "at": AT, "blob": None} for i in "ab"])
        )
        counted = [0]
        token = sqlexec.statements.set(counted)
        try:
            with Session(database.engine) as s, s.begin():
                ours = [compiled.converted(s, {"key": "a"}), compiled.converted(s, {"key": "a"})]
                missing = compiled.converted(s, {"key": "zz"})
                theirs = [tuple(r) for r in s.execute(stmt, {"key": "b"})]  # SQLAlchemy's, for comparison
        finally:
            sqlexec.statements.reset(token)
        with Session(database.engine) as s:
            stored = {r.id: r.version for r in s.execute(select(rows.c.id, rows.c.version))}
        assert [r[0][1] for r in ours] == [2, 3] and missing == []
        assert ours[0][0][2] == theirs[0][2] and isinstance(ours[0][0][2], datetime)
        assert stored == {"a": 3, "b": 2}
        assert counted == [4]  # three of ours and SQLAlchemy's
    finally:
        database.dispose()


def test_a_named_statement_gets_postgresqls_numbered_parameters_each_name_once() -> None:
    """What psycopg's ``RawCursor`` sends as it is (``_numbered``): each name numbered at its first place,
    the same number where it comes again, an escaped ``%`` unescaped, the names in their numbers' order."""
    sql, order = sqlexec._numbered("SELECT %(b)s, %(a_1)s, %(b)s WHERE x LIKE '10%%' AND y = %(c)s")
    assert sql == "SELECT $1, $2, $1 WHERE x LIKE '10%' AND y = $3"
    assert order == ["b", "a_1", "c"]


def test_a_read_unit_sends_selects_and_sqlite_s_reads_of_a_setting_and_nothing_else() -> None:
    from jitlib import sqlexec

    allowed = ["SELECT 1", "  select x\nfrom t", "PRAGMA secure_delete", "pragma user_version"]
    refused = [
        "INSERT INTO t VALUES (1)",
        "WITH w AS (INSERT INTO t VALUES (1) RETURNING x) SELECT * FROM w",
        "UPDATE t SET x = 1",
        "PRAGMA secure_delete=OFF",
        "PRAGMA wal_checkpoint(FULL)",
        "DELETE FROM t",
    ]
    for sql in allowed + refused:
        sqlexec.refuse_writes(sql)  # outside a read unit, anything goes
    token = sqlexec.reading.set(True)
    try:
        for sql in allowed:
            sqlexec.refuse_writes(sql)
        for sql in refused:
            with pytest.raises(sqlexec.ReadOnly, match="a read unit of work sent"):
                sqlexec.refuse_writes(sql)
    finally:
        sqlexec.reading.reset(token)
