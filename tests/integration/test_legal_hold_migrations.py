"""Each service's migration to legal holds that keep their history, on SQLite and PostgreSQL: every row of
the former table (one per thing held) becomes one hold, active or released as it was, with an id of its
own; the database then refuses a second active hold on one thing; and the migration goes back down to one
row per thing held."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from jitlib import db

pytestmark = pytest.mark.integration

SERVICES = ("tasks", "evidence", "preservation", "messaging", "victims")
SET, RELEASED = datetime(2030, 1, 2, 9, tzinfo=UTC), datetime(2030, 2, 3, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'holds.db'}"
    return str(request.getfixturevalue("postgres").create_database(f"holds_{uuid.uuid4().hex[:12]}"))


def _rows(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT * FROM legal_holds ORDER BY record_id")).mappings()
        return [dict(r) for r in found]


def _before(migrations: Path) -> str:
    """The revision the service's migration to held history comes after (found by its file's name, so that
    renumbering it changes nothing here)."""
    scripts = ScriptDirectory.from_config(db.alembic_config(migrations, "sqlite://"))
    (mine,) = (r for r in scripts.walk_revisions() if r.path.endswith("_legal_hold_history.py"))
    assert isinstance(mine.down_revision, str)
    return mine.down_revision


@pytest.mark.parametrize("service", SERVICES)
def test_each_former_hold_becomes_one_hold_active_or_released_as_it_was_and_goes_back_down(
    service: str, url: str
) -> None:
    migrations = importlib.import_module(f"services.{service}.app").MIGRATIONS
    before = _before(migrations)
    db.migrate(migrations, url, before)
    engine = create_engine(db.sync_url(url))
    try:
        with engine.begin() as conn:
            insert = text(
                "INSERT INTO legal_holds (workspace_id, record_type, record_id, sealed_reason, set_by, "
                "set_by_jurisdiction, set_at, released_at, released_by) "
                "VALUES ('jit-demo', :kind, :rid, :reason, 'nl-prosecutor', 'NL', :set_at, :released_at, :by)"
            )
            conn.execute(insert, {"kind": "task", "rid": "a-held", "reason": b"sealed-1", "set_at": SET,
                                  "released_at": None, "by": ""})  # fmt: skip
            conn.execute(insert, {"kind": "task", "rid": "b-released", "reason": b"sealed-2", "set_at": SET,
                                  "released_at": RELEASED, "by": "nl-prosecutor"})  # fmt: skip
        db.migrate(migrations, url)
        held, released = _rows(engine)
        assert len({held["id"], released["id"]}) == 2 and all(len(r["id"]) == 36 for r in (held, released))
        assert held["released_at"] is None and bytes(held["sealed_reason"]) == b"sealed-1"
        assert released["released_at"] is not None and released["released_by"] == "nl-prosecutor"
        assert held["request_id"] == released["request_id"] == "" and released["superseded_by"] == ""
        # A second active hold on the same thing is refused by the database itself.
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO legal_holds (id, workspace_id, record_type, record_id, sealed_reason, set_by, "
                    "set_by_jurisdiction, set_at) VALUES (:id, 'jit-demo', 'task', 'a-held', :reason, 'x', 'NL', :at)"
                ),
                {"id": str(uuid.uuid4()), "reason": b"x", "at": RELEASED},
            )
        command.downgrade(db.alembic_config(migrations, db.sync_url(url)), before)
        assert [(r["record_id"], r["released_at"] is None) for r in _rows(engine)] == [
            ("a-held", True),
            ("b-released", False),
        ]
    finally:
        engine.dispose()


def test_messagings_workspace_keys_gain_the_shreds_claim_and_lose_it_going_back_down(url: str) -> None:
    """Messaging revision 0014: ``workspace_keys.shredding_since`` (the retention scan's claim), NULL for each
    existing key, which is kept; going back down drops the column and keeps the key."""
    migrations = importlib.import_module("services.messaging.app").MIGRATIONS
    db.migrate(migrations, url, "0013")
    engine = create_engine(db.sync_url(url))
    keys = "SELECT * FROM workspace_keys"
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspace_keys (workspace_id, wrapped, kek_id, created_at) "
                    "VALUES ('jit-demo', :w, 'k1', :at)"
                ),
                {"w": b"wrapped", "at": SET},
            )
        db.migrate(migrations, url, "0014")
        with engine.connect() as conn:
            (row,) = conn.execute(text(keys)).mappings().all()
        assert row["shredding_since"] is None and bytes(row["wrapped"]) == b"wrapped"
        command.downgrade(db.alembic_config(migrations, db.sync_url(url)), "0013")
        with engine.connect() as conn:
            (row,) = conn.execute(text(keys)).mappings().all()
        assert "shredding_since" not in row and bytes(row["wrapped"]) == b"wrapped"
    finally:
        engine.dispose()
