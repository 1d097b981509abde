"""A page of evidence requests on PostgreSQL holds each request the caller may see as a read of that one
request loads it, deadlines and delay included (the page's rows read on the DBAPI cursor, psycopg's own
values), pages of tasks, unfiltered, by state and in a due window, each visible task the filter keeps
(the page read in one select on PostgreSQL, ``RecordTable._whole_page_statement``), and for each
jurisdiction the tasks and requests it may read, its party test on the row's own list of its parties:
``tests/unit/test_list_pages.py``'s checks, on a database of the suite's server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from jitlib.db import Database
from services.evidence import store as evidence
from services.evidence.app import MIGRATIONS as EVIDENCE
from services.tasks import store as tasks
from services.tasks.app import MIGRATIONS as TASKS
from tests.unit.test_list_pages import check_party_pages, check_request_pages, check_task_pages, database


@pytest.mark.parametrize(
    ("migrations", "metadata", "check"),
    [
        pytest.param(EVIDENCE, evidence.Base.metadata, check_request_pages, id="requests"),
        pytest.param(TASKS, tasks.Base.metadata, check_task_pages, id="tasks"),
        # The READ rule's party test on the row's own list of its parties (``PartyIndex`` ``listed``).
        pytest.param(TASKS, tasks.Base.metadata, partial(check_party_pages, kind="tasks"), id="tasks-parties"),
        pytest.param(
            EVIDENCE, evidence.Base.metadata, partial(check_party_pages, kind="requests"), id="requests-parties"
        ),
    ],
)
def test_pages_hold_each_visible_record_the_filter_keeps_as_a_read_of_it_loads_it(
    postgres: Any, tmp_path: Path, migrations: Path, metadata: Any, check: Callable[[Database], None]
) -> None:
    url = str(postgres.create_database(f"pages_{uuid.uuid4().hex[:12]}"))
    db = database(tmp_path, migrations, metadata, url)
    try:
        check(db)
    finally:
        db.dispose()
