"""The victims service's statistics, pure (services.victims.stats_domain): deadlines followed from the
evidence events, special-category attributes checked, and which records a caller counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jitlib.auth import Principal
from services.victims import stats_domain
from services.victims.stats_domain import Counted, TrackedDeadline, VictimRow

T0 = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def request(version: int, state: str, **kw) -> Counted:  # type: ignore[no-untyped-def]
    return Counted("r1", "request", "ws", "NL", version, state, addressee="DE", instrument="EIO", **kw)


def test_a_deadline_that_stops_running_by_its_due_time_is_met_and_a_later_one_missed() -> None:
    ack, decide = ("ACKNOWLEDGE", T0, T0 + 7 * DAY), ("DECIDE", T0, T0 + 30 * DAY)
    r = stats_domain.advance(None, request(1, "ISSUED"), [ack, decide], T0)
    assert r is not None
    r = stats_domain.advance(r, request(2, "ACKNOWLEDGED"), [decide], T0 + 2 * DAY)
    assert r is not None
    r = stats_domain.advance(r, request(3, "IN_EXECUTION"), [("EXECUTE", T0 + 40 * DAY, T0 + 130 * DAY)], T0 + 40 * DAY)
    assert r is not None
    by_kind = {d.kind: d for d in r.deadlines}
    assert by_kind["ACKNOWLEDGE"].closed_at == T0 + 2 * DAY  # met
    assert by_kind["DECIDE"].closed_at == T0 + 40 * DAY  # missed: due at day 30
    assert by_kind["EXECUTE"].closed_at is None
    assert stats_domain.advance(r, request(3, "IN_EXECUTION"), [], T0 + 50 * DAY) is None  # a replay


def test_an_extension_moves_a_deadline_and_withdrawal_or_review_windows_are_not_counted() -> None:
    r = stats_domain.advance(None, request(1, "ACKNOWLEDGED"), [("DECIDE", T0, T0 + 30 * DAY)], T0)
    r = stats_domain.advance(
        r, request(2, "ACKNOWLEDGED"), [("DECIDE", T0, T0 + 60 * DAY), ("REVIEW", T0, T0)], T0 + DAY
    )
    assert r is not None and [(d.kind, d.due_at) for d in r.deadlines] == [("DECIDE", T0 + 60 * DAY)]
    r = stats_domain.advance(r, request(3, "WITHDRAWN"), [], T0 + 2 * DAY)
    assert r is not None
    assert r.deadlines == (TrackedDeadline("DECIDE", T0, T0 + 60 * DAY, T0 + 2 * DAY, counted=False),)
    assert stats_domain.deadlines_from_json(stats_domain.deadlines_to_json(r.deadlines)) == r.deadlines


def test_the_first_answer_is_when_the_request_is_answered() -> None:
    r = stats_domain.advance(None, request(1, "IN_EXECUTION"), [], T0)
    r = stats_domain.advance(r, request(2, "EXECUTED"), [], T0 + 3 * DAY)
    r = stats_domain.advance(r, request(3, "CLOSED"), [], T0 + 9 * DAY)
    assert r is not None and r.answered_at == T0 + 3 * DAY


def test_special_categories_without_consent_or_purpose_are_refused_naming_the_field() -> None:
    """SPECIAL_CATEGORIES_CONSENT: the victim's consent and a purpose are both required."""
    now = T0
    fields = {v.field for v in stats_domain.special_category_violations(False, None, " ", {"gender": "FEMALE"}, now)}
    assert fields == {"consent_given", "consent_given_at", "purpose"}
    bad = stats_domain.special_category_violations(True, now, "monitoring", {"gender": "WOMAN"}, now)
    assert [v.field for v in bad] == ["attributes.gender"]
    none = stats_domain.special_category_violations(True, now, "monitoring", {"gender": ""}, now)
    assert [v.field for v in none] == ["attributes"]
    assert stats_domain.special_category_violations(True, now, "monitoring", {"age_group": "25_34"}, now) == []


def test_a_restricted_record_counts_for_its_parties_only() -> None:
    hidden = Counted(
        "t1", "task", "ws", "NL", 1, "ASSIGNED", addressee="DE", addressee_jurisdiction="DE", restricted=True
    )
    shown = Counted("t2", "task", "ws", "NL", 1, "ASSIGNED", addressee="DE", addressee_jurisdiction="DE")
    other = Counted("t3", "task", "other-ws", "NL", 1, "ASSIGNED", addressee="DE", addressee_jurisdiction="DE")
    victims = [VictimRow("V-NL-0001", "ws", "NL", ("CYBERSTALKING",)), VictimRow("V-NL-0002", "other-ws", "NL")]

    def counted(jurisdiction: str) -> set[str]:
        p = Principal("u", "u", jurisdiction, frozenset({"prosecutor"}), frozenset({"ws", "other-ws"}))
        f = stats_domain.facts(
            p, frozenset({"ws"}), [hidden, shown, other], victims, {"V-NL-0001": {"gender": "FEMALE"}}
        )
        assert [v.attributes for v in f.victims] == [{"gender": "FEMALE"}]
        return {t.id for t in f.tasks}

    assert counted("DE") == {"t1", "t2"}
    assert counted("IE") == {"t2"}
