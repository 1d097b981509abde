"""The retention table (``jitlib.retention``): when each kind of record may be destroyed, and why."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from jitlib import legal, retention
from jitlib.retention import Facts, Kind

NOW = datetime(2040, 6, 1, 12, 0, tzinfo=UTC)


def _closed(**kw: object) -> Facts:
    values: dict[str, object] = {"workspace_id": "jit-x", "closed": True, "ends_on": date(2030, 1, 15)}
    values.update(kw)
    return Facts(**values)  # type: ignore[arg-type]


def test_every_row_names_a_rule_of_the_legal_table_and_every_kind_has_a_row() -> None:
    assert set(retention.ROWS) == set(Kind)
    for row in retention.ROWS.values():
        assert row.rule_id in legal.RULES
        assert row.source == legal.source(row.rule_id)
    covered = {k for kinds in retention.SERVICE_KINDS.values() for k in kinds}
    assert covered == set(Kind) - {Kind.AUDIT_ENTRY}


def test_retention_case_records_a_task_is_kept_n_years_after_the_agreements_last_day() -> None:
    """RETENTION_CASE_RECORDS: the node's default years, counted from the day after ends_on."""
    end = retention.retention_end(Kind.TASK, _closed(), default_years=5)
    assert end.at == datetime(2035, 1, 16, tzinfo=UTC)
    assert not end.due(datetime(2035, 1, 15, 23, 59, tzinfo=UTC))
    assert end.due(datetime(2035, 1, 16, tzinfo=UTC))
    assert "5 years (the node's default)" in end.why and "2030-01-15" in end.why
    assert legal.source("RETENTION_CASE_RECORDS") in end.why


def test_retention_case_records_the_workspaces_own_years_win_over_the_nodes_default() -> None:
    end = retention.retention_end(Kind.TASK, _closed(years=10), default_years=5)
    assert end.at == datetime(2040, 1, 16, tzinfo=UTC)
    assert "the workspace's setting" in end.why


def test_an_open_workspace_or_one_without_an_end_date_is_never_due() -> None:
    for facts in (_closed(closed=False), _closed(ends_on=None)):
        end = retention.retention_end(Kind.TASK, facts)
        assert end.at is None and not end.due(NOW + timedelta(days=365 * 200))


def test_legal_hold_blocks_every_kind_whatever_the_clock_says() -> None:
    """LEGAL_HOLD: a hold set on a closed workspace whose period ended long ago: nothing is due."""
    facts = _closed(legal_hold="appeal pending", proceedings_closed_on=date(2030, 2, 1), years=1)
    for service in ("tasks", "evidence", "preservation"):
        end = retention.service_end(service, facts)
        assert end.held and not end.due(NOW)
        assert "appeal pending" in end.why
    released = retention.service_end("tasks", _closed(years=1))
    assert released.due(NOW)


def test_retention_evidence_is_held_while_the_proceedings_run_then_kept_n_years() -> None:
    """RETENTION_EVIDENCE: no proceedings' close recorded: held; recorded after the agreement's end: from it."""
    held = retention.retention_end(Kind.EVIDENCE_ITEM, _closed())
    assert held.at is None and "proceedings run" in held.why
    later = retention.retention_end(Kind.EVIDENCE_ITEM, _closed(proceedings_closed_on=date(2033, 3, 1)), 5)
    assert later.at == datetime(2038, 3, 2, tzinfo=UTC)
    # Proceedings closed before the agreement ended: never before N years after the agreement's end.
    earlier = retention.retention_end(Kind.EVIDENCE_REQUEST, _closed(proceedings_closed_on=date(2029, 1, 1)), 5)
    assert earlier.at == datetime(2035, 1, 16, tzinfo=UTC)


def test_the_evidence_service_keeps_the_workspace_until_its_latest_kind_ends() -> None:
    """One content key per (service, workspace): requests and items share it, the later end decides."""
    end = retention.service_end("evidence", _closed(proceedings_closed_on=date(2031, 1, 1)), 2)
    assert end.at == datetime(2033, 1, 2, tzinfo=UTC)
    assert retention.service_end("evidence", _closed()).at is None


def test_retention_preservation_an_orders_record_is_kept_like_the_case_records() -> None:
    """RETENTION_PRESERVATION: N years after the agreement's end."""
    end = retention.service_end("preservation", _closed(), 3)
    assert end.at == datetime(2033, 1, 16, tzinfo=UTC) and end.rule_id == "RETENTION_PRESERVATION"


def test_retention_removal_a_removal_requests_record_is_kept_like_the_case_records() -> None:
    """RETENTION_REMOVAL: N years after the agreement's end, under the preservation service's content key."""
    end = retention.retention_end(Kind.REMOVAL_REQUEST, _closed(), 3)
    assert end.at == datetime(2033, 1, 16, tzinfo=UTC) and end.rule_id == "RETENTION_REMOVAL"
    assert Kind.REMOVAL_REQUEST in retention.SERVICE_KINDS["preservation"]
    assert retention.service_end("preservation", _closed(), 3).at == end.at


def test_retention_messages_run_on_messagings_own_clock_not_the_workspaces_dates() -> None:
    """RETENTION_MESSAGES: messaging counts from when this node saw the workspace closed, plus a grace."""
    with pytest.raises(ValueError, match="closure seen"):
        retention.retention_end(Kind.MESSAGE, _closed())
    from services.messaging import domain

    seen = datetime(2030, 2, 1, tzinfo=UTC)
    assert domain.shred_due_at(seen, timedelta(days=30), timedelta(days=7)) == seen + timedelta(days=37)


def test_retention_audit_log_cutoff_is_three_years_before_now() -> None:
    """RETENTION_AUDIT_LOG: entries written before now minus 3 calendar years are pruned."""
    assert retention.audit_cutoff(datetime(2030, 5, 4, 10, 30, tzinfo=UTC)) == datetime(2027, 5, 4, 10, 30, tzinfo=UTC)
    assert retention.audit_cutoff(datetime(2032, 2, 29, tzinfo=UTC)) == datetime(2029, 2, 28, tzinfo=UTC)


def test_a_29_february_plus_years_is_28_february_in_a_common_year() -> None:
    assert retention.add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert retention.add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)


def test_workspace_years_are_bounded() -> None:
    assert retention.valid_years(1) and retention.valid_years(retention.MAX_YEARS)
    assert not retention.valid_years(0) and not retention.valid_years(retention.MAX_YEARS + 1)


def test_deletion_certificate_is_canonical_json_that_round_trips_and_whose_digest_covers_every_field() -> None:
    """DELETION_CERTIFICATE: what, when, by whom, the audit head; its digest changes with any field."""
    cert = retention.Certificate(
        id="cert-1",
        service="tasks",
        workspace_id="jit-x",
        counts={"task": 3},
        key_ids=("k1",),
        destroyed_at=datetime(2035, 1, 16, tzinfo=UTC),
        by="system",
        why="kept 5 years",
        audit_head=retention.Head("tasks", 41, "ab" * 32),
    )
    data = json.loads(cert.canonical())
    assert data["audit_head"] == {"service": "tasks", "seq": 41, "hash": "ab" * 32}
    assert data["counts"] == {"task": 3} and data["by"] == "system"
    assert retention.Certificate.from_dict(data) == cert
    other = retention.Certificate.from_dict({**data, "counts": {"task": 2}})
    assert other.digest() != cert.digest()


def test_retention_victims_a_victims_record_is_kept_like_the_case_records_it_serves() -> None:
    """RETENTION_VICTIMS: the victims service's content, N years after the agreement's end; held while open."""
    end = retention.service_end("victims", _closed(), 4)
    assert end.at == datetime(2034, 1, 16, tzinfo=UTC) and end.rule_id == "RETENTION_VICTIMS"
    assert retention.service_end("victims", _closed(closed=False)).at is None
