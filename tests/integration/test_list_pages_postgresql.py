"""A page of evidence requests on PostgreSQL holds each request the caller may see as a read of that one
request loads it, deadlines and delay included (the page's rows read on the DBAPI cursor, psycopg's own
values): ``tests/unit/test_list_pages.py``'s check, on a database of the suite's server."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from services.evidence import store as evidence
from services.evidence.app import MIGRATIONS as EVIDENCE
from tests.unit.test_list_pages import check_request_pages, database


def test_a_page_of_requests_holds_each_visible_request_as_a_read_of_it_loads_it(postgres: Any, tmp_path: Path) -> None:
    url = str(postgres.create_database(f"pages_{uuid.uuid4().hex[:12]}"))
    db = database(tmp_path, EVIDENCE, evidence.Base.metadata, url)
    try:
        check_request_pages(db)
    finally:
        db.dispose()
