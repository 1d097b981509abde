"""`python -m services.<name> migrate`: what the Helm chart's pre-install/pre-upgrade Job and the systemd
`jit-migrate@.service` run before a new version serves. Against the suite's real PostgreSQL (the production
profile) and SQLite: the schema reaches the head revision, a second run changes nothing, and a stray
argument is refused without touching anything."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from jitdev.postgres import PostgresInstance
from jitlib.db import alembic_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("tasks", "evidence", "preservation", "messaging", "victims")


def _migrate(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{name}", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _head(name: str, url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(ROOT / "services" / name / "migrations", url)).get_current_head()
    assert head
    return head


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if "alembic_version" not in inspect(conn).get_table_names():
                return None
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", SERVICES)
def test_migrate_brings_a_fresh_postgresql_database_to_head_and_exits(
    name: str, postgres: PostgresInstance, tmp_path: Path
) -> None:
    url = postgres.create_database(f"{name}_{uuid.uuid4().hex[:10]}")
    env = {f"JIT_{name.upper()}_DATABASE_URL": url, "JIT_STATE_DIR": str(tmp_path / "state")}
    assert _revision(url) is None

    first = _migrate(name, env, "migrate")
    assert first.returncode == 0, first.stderr
    assert _revision(url) == _head(name, url)
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert {"outbox", "inbox", "audit_log"} <= tables, tables

    again = _migrate(name, env, "migrate")  # an upgrade with nothing new: a no-op, still exit 0
    assert again.returncode == 0, again.stderr
    assert _revision(url) == _head(name, url)


def test_migrate_uses_the_sqlite_database_in_the_state_dir_when_no_url_is_set(tmp_path: Path) -> None:
    done = _migrate("tasks", {"JIT_STATE_DIR": str(tmp_path)}, "migrate")
    assert done.returncode == 0, done.stderr
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    assert _revision(url) == _head("tasks", url)


def test_an_unknown_argument_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    done = _migrate("tasks", {"JIT_STATE_DIR": str(tmp_path)}, "migrat")
    assert done.returncode != 0
    assert "usage: python -m services.tasks [migrate]" in done.stderr
    assert not (tmp_path / "tasks.db").exists()
