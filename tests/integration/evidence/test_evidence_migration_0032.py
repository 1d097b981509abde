"""Revision 0032 on each database backend: the origin of items received from a service provider set right
where that is safe (its SQL: a correlated subquery in an UPDATE, as both SQLite and PostgreSQL take it)."""

from __future__ import annotations

import pytest

from tests.unit.test_evidence_use_consent import check_migration_0032

pytestmark = pytest.mark.integration


def test_the_migration_sets_the_origin_of_provider_items_right_on_each_backend(db_url: str) -> None:
    """ITEM_ORIGIN_OF_PROVIDER_DATA: an EPOC's and an SAP Art. 7 request's items stored with the provider's
    state get the issuing state; one with a consent, and an EIO's, keep theirs."""
    check_migration_0032(db_url)
