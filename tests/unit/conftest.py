"""Fixtures the unit tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jitlib import crypto, db, sealing
from services.tasks import app, store


@pytest.fixture
def tasks_database(tmp_path: Path) -> Iterator[db.Database]:
    """A node's tasks database, migrated as the service migrates it, its text sealed under a KEK of its own."""
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    db.migrate(app.MIGRATIONS, url)
    database = db.Database(url)
    sealing.install(database.info, store.Base.metadata, crypto.KekRing([crypto.Kek(crypto.new_data_key())]))
    yield database
    database.dispose()
