"""Each service's revision to ``last_changes`` (the body jitlib's, ``jitlib.revisions``), on SQLite and
PostgreSQL: it makes the table the runtime declares, one row per record (a second row for the same record is
refused by its key), goes back down without it, and up again."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from jitlib import db

pytestmark = pytest.mark.integration

SERVICES = ("tasks", "evidence", "preservation", "messaging", "victims")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'changes.db'}"
    return str(request.getfixturevalue("postgres").create_database(f"changes_{uuid.uuid4().hex[:12]}"))


def _before(migrations: Path) -> str:
    """The revision the service's ``last_changes`` revision comes after (found by its file's name, so that
    renumbering it changes nothing here)."""
    scripts = ScriptDirectory.from_config(db.alembic_config(migrations, "sqlite://"))
    (mine,) = (r for r in scripts.walk_revisions() if r.path.endswith("_last_changes.py"))
    assert isinstance(mine.down_revision, str)
    return mine.down_revision


@pytest.mark.parametrize("service", SERVICES)
def test_the_last_changes_revision_makes_the_table_goes_back_down_and_up_again(service: str, url: str) -> None:
    migrations = importlib.import_module(f"services.{service}.app").MIGRATIONS
    db.migrate(migrations, url)
    engine = create_engine(db.sync_url(url))
    try:
        insert = text(
            "INSERT INTO last_changes (record_type, record_id, version, fingerprint, workspace_id) "
            "VALUES ('task', 'a', :v, :f, 'jit-demo')"
        )
        with engine.begin() as conn:
            conn.execute(insert, {"v": 2, "f": "0" * 64})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"v": 3, "f": "1" * 64})
        command.downgrade(db.alembic_config(migrations, db.sync_url(url)), _before(migrations))
        assert "last_changes" not in inspect(engine).get_table_names()
        db.migrate(migrations, url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM last_changes")).scalar() == 0
    finally:
        engine.dispose()
