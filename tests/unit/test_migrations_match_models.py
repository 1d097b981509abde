"""Each service's Alembic migrations build exactly the tables its store declares: a column added to a
model without a migration (or the other way round) fails here, not on a user's database."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from jitlib import db

SERVICES = ["tasks", "evidence", "preservation", "messaging", "victims"]


@pytest.mark.parametrize("name", SERVICES)
def test_migrations_build_what_the_store_declares(name: str, tmp_path: Path) -> None:
    app = importlib.import_module(f"services.{name}.app")
    store = importlib.import_module(f"services.{name}.store")
    url = f"sqlite:///{tmp_path / (name + '.db')}"
    db.migrate(app.MIGRATIONS, url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(ctx, store.Base.metadata) if not _alembic_bookkeeping(d)]
    finally:
        engine.dispose()
    assert diffs == []


def _alembic_bookkeeping(diff: object) -> bool:
    return isinstance(diff, tuple) and len(diff) > 1 and getattr(diff[1], "name", "") == "alembic_version"
