"""Messaging's revision letting a workspace key row carry only a claim (``workspace_keys.wrapped`` NULL), on
SQLite and PostgreSQL: up, a row without a key is stored; down, that row (a claim, no key) is deleted and a
row with a key stays; up again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from jitlib import db
from services.messaging.app import MIGRATIONS

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'claims.db'}"
    return str(request.getfixturevalue("postgres").create_database(f"claims_{uuid.uuid4().hex[:12]}"))


def _before() -> str:
    scripts = ScriptDirectory.from_config(db.alembic_config(MIGRATIONS, "sqlite://"))
    (mine,) = (r for r in scripts.walk_revisions() if r.path.endswith("_workspace_key_claim_rows.py"))
    assert isinstance(mine.down_revision, str)
    return mine.down_revision


def test_a_key_row_without_a_key_goes_with_the_downgrade_and_is_allowed_again_after(url: str) -> None:
    db.migrate(MIGRATIONS, url)
    engine = create_engine(db.sync_url(url))
    insert = text(
        "INSERT INTO workspace_keys (workspace_id, wrapped, kek_id, created_at, shredding_since) "
        "VALUES (:ws, :w, 'k1', '2030-01-01 00:00:00+00', :since)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {"ws": "claimed", "w": None, "since": "2030-01-01 00:00:00+00"})
            conn.execute(insert, {"ws": "keyed", "w": b"wrapped", "since": None})
        command.downgrade(db.alembic_config(MIGRATIONS, db.sync_url(url)), _before())
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT workspace_id FROM workspace_keys")).scalars().all()
        assert rows == ["keyed"]
        db.migrate(MIGRATIONS, url)
        with engine.begin() as conn:
            conn.execute(insert, {"ws": "claimed", "w": None, "since": "2030-01-01 00:00:00+00"})
    finally:
        engine.dispose()


def test_a_claims_holder_goes_with_the_downgrade_and_the_claim_stays(url: str) -> None:
    """The revision naming a claim's holder (``workspace_keys.shredding_by``): down, the column goes and the
    claim stays (without a holder); up again, a claim is stored with its holder."""
    scripts = ScriptDirectory.from_config(db.alembic_config(MIGRATIONS, "sqlite://"))
    (mine,) = (r for r in scripts.walk_revisions() if r.path.endswith("_workspace_key_claim_owner.py"))
    assert isinstance(mine.down_revision, str)
    db.migrate(MIGRATIONS, url)
    engine = create_engine(db.sync_url(url))
    insert = text(
        "INSERT INTO workspace_keys (workspace_id, wrapped, kek_id, created_at, shredding_since, shredding_by) "
        "VALUES (:ws, NULL, 'k1', '2030-01-01 00:00:00+00', '2030-01-01 00:00:00+00', 'scanner-a')"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {"ws": "claimed"})
        command.downgrade(db.alembic_config(MIGRATIONS, db.sync_url(url)), mine.down_revision)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT workspace_id FROM workspace_keys WHERE shredding_since IS NOT NULL"))
            assert rows.scalars().all() == ["claimed"]
        db.migrate(MIGRATIONS, url)
        with engine.begin() as conn:
            conn.execute(insert, {"ws": "claimed-again"})
            held = conn.execute(text("SELECT shredding_by FROM workspace_keys WHERE workspace_id = 'claimed-again'"))
            assert held.scalar() == "scanner-a"
    finally:
        engine.dispose()
