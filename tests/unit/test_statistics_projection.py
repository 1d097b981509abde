"""The victims service's statistics, pure (services.victims.stats_domain): deadlines followed from the
evidence events, special-category attributes checked, and which records a caller counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitlib import stats
from jitlib.auth import Principal
from jitlib.periods import enforcement_decision_due
from services.victims import stats_domain
from services.victims.stats_domain import Counted, TrackedDeadline, Transfer, VictimRow

T0 = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


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


def test_a_running_deadline_follows_its_clock_and_a_resubmission_starts_a_new_one() -> None:
    issued = stats_domain.advance(None, request(1, "ISSUED"), [("DECIDE", T0, T0 + 30 * DAY)], T0)
    # Acknowledged two days later: the decision's 30 days now run from the receipt.
    r = stats_domain.advance(
        issued, request(2, "ACKNOWLEDGED"), [("DECIDE", T0 + 2 * DAY, T0 + 32 * DAY)], T0 + 2 * DAY
    )
    assert r is not None and [(d.counted_from, d.closed_at) for d in r.deadlines] == [(T0 + 2 * DAY, None)]
    r = stats_domain.advance(r, request(3, "REFUSED"), [], T0 + 5 * DAY)
    r = stats_domain.advance(r, request(4, "ISSUED"), [("DECIDE", T0 + 9 * DAY, T0 + 39 * DAY)], T0 + 9 * DAY)
    assert r is not None
    assert [(d.counted_from, d.closed_at) for d in r.deadlines] == [(T0 + 2 * DAY, T0 + 5 * DAY), (T0 + 9 * DAY, None)]


def test_an_enforced_epoc_counts_the_compliance_deadline_the_enforcing_state_set() -> None:
    """EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: the provider's PRODUCE deadline, passed when the order is
    transferred for enforcement, is missed; the COMPLIANCE deadline the enforcing state set when it
    recognised the order is counted as the others (met when the delivery is recorded by it, missed when
    later); the enforcing state's 5 working days to decide (ENFORCEMENT) are not the provider's."""

    def epoc(version: int, state: str) -> Counted:
        return Counted("r2", "request", "ws", "NL", version, state, addressee="IE", instrument="EPOC")

    def enforced(delivered: timedelta) -> tuple[TrackedDeadline, ...]:
        r = stats_domain.advance(None, epoc(1, "ISSUED"), [("PRODUCE", T0, T0 + 10 * DAY)], T0)
        transferred = T0 + 11 * DAY
        r = stats_domain.advance(
            r, epoc(2, "IN_ENFORCEMENT"), [("ENFORCEMENT", transferred, transferred + 7 * DAY)], transferred
        )
        recognised = T0 + 13 * DAY
        comply = ("COMPLIANCE", recognised, recognised + 10 * DAY)
        r = stats_domain.advance(r, epoc(3, "IN_EXECUTION"), [comply], recognised)
        r = stats_domain.advance(r, epoc(4, "EXECUTED"), [], recognised + delivered)
        assert r is not None
        return r.deadlines

    on_time = [d for d in enforced(4 * DAY) if d.kind in stats_domain.COMPLIANCE_KINDS]
    assert [(d.kind, d.closed_at) for d in on_time] == [
        ("PRODUCE", T0 + 11 * DAY),
        ("COMPLIANCE", T0 + 17 * DAY),
    ]
    facts = [stats.DeadlineFact(d.kind, d.due_at, d.closed_at) for d in on_time]
    assert [d.met(T0 + 30 * DAY) for d in facts] == [False, True]
    late = [
        stats.DeadlineFact(d.kind, d.due_at, d.closed_at)
        for d in enforced(12 * DAY)
        if d.kind in stats_domain.COMPLIANCE_KINDS
    ]
    assert [(d.kind, d.met(T0 + 30 * DAY)) for d in late] == [("PRODUCE", False), ("COMPLIANCE", False)]


def _epoc(version: int, state: str) -> Counted:
    return Counted("r3", "request", "ws", "NL", version, state, addressee="IE", instrument="EPOC")


def test_the_enforcing_states_decision_is_followed_with_its_state_and_counted_apart() -> None:
    """Reg. (EU) 2023/1543 Art. 16(2): the ENFORCEMENT deadline is followed as the others, with the enforcing
    state it ran for (a legal representative's state, not the provider's): recognised or refused by its due
    time, met; later, missed; withdrawn before the decision, not counted. What a caller counts has it among
    the enforcing states' decisions, never among the provider's deadlines."""
    transferred = T0 + 11 * DAY
    enforcement = ("ENFORCEMENT", transferred, transferred + 7 * DAY)

    def decided(state: str, after: timedelta) -> Counted:
        r = stats_domain.advance(None, _epoc(1, "ISSUED"), [("PRODUCE", T0, T0 + 10 * DAY)], T0)
        r = stats_domain.advance(r, _epoc(2, "IN_ENFORCEMENT"), [enforcement], transferred, "LU")
        r = stats_domain.advance(r, _epoc(3, state), [], transferred + after, "LU")
        assert r is not None
        return r

    recognised = decided("IN_EXECUTION", 3 * DAY)
    (tracked,) = [d for d in recognised.deadlines if d.kind == "ENFORCEMENT"]
    assert tracked == TrackedDeadline("ENFORCEMENT", transferred, transferred + 7 * DAY, transferred + 3 * DAY,
                                      party="LU")  # fmt: skip
    assert stats_domain.deadlines_from_json(stats_domain.deadlines_to_json(recognised.deadlines)) == (
        recognised.deadlines
    )
    refused_late = decided("NOT_ENFORCED", 9 * DAY)
    withdrawn = decided("WITHDRAWN", 2 * DAY)
    p = Principal("u", "u", "NL", frozenset({"prosecutor"}), frozenset({"ws"}))
    for row, verdicts in ((recognised, [True]), (refused_late, [False]), (withdrawn, [])):
        (request,) = stats_domain.facts(p, frozenset({"ws"}), [row], [], {}).requests
        assert [(d.kind, d.party, d.met(T0 + 60 * DAY)) for d in request.enforcements] == [
            ("ENFORCEMENT", "LU", v) for v in verdicts
        ]
        assert [d.kind for d in request.deadlines] == ["PRODUCE"]


def _epoc_pr(version: int, state: str, restricted: bool = False) -> Counted:
    return Counted("o1", "order", "ws", "NL", version, state, addressee="socialnet-ie", instrument="EPOC_PR",
                   restricted=restricted, addressee_jurisdiction="IE")  # fmt: skip


def test_an_epoc_pr_transferred_for_enforcement_counts_the_enforcing_states_decision() -> None:
    """Reg. (EU) 2023/1543 Art. 16(2) for an EPOC-PR: from the order's events (its enforcing state, transfer and
    decision) the enforcing state's 5 working days (``enforcement_decision_due``, the preservation service's
    count): open while undecided, met when decided by them, missed when later; lifted undecided it is the
    issuer's withdrawal (not counted); expired or produced undecided, not counted before its due time and missed
    after it. What a caller counts has it among the order's enforcements, with its enforcing state."""
    transferred = T0 + 10 * DAY
    due = enforcement_decision_due(transferred, "IE")
    pending = Transfer("IE", transferred)

    def after(state: str, transfer: Transfer, at: datetime) -> Counted:
        r = stats_domain.advance(None, _epoc_pr(1, "ISSUED"), [], T0)
        r = stats_domain.advance(r, _epoc_pr(2, "NOT_EXECUTED"), [], T0 + 5 * DAY)
        assert r is not None and r.deadlines == ()  # never transferred: nothing to count
        r = stats_domain.advance(r, _epoc_pr(3, "IN_ENFORCEMENT"), [], transferred, transfer=pending)
        assert r is not None and r.deadlines == (TrackedDeadline("ENFORCEMENT", transferred, due, party="IE"),)
        r = stats_domain.advance(r, _epoc_pr(4, state), [], at, transfer=transfer)
        assert r is not None
        return r

    def verdicts(row: Counted) -> list[bool | None]:
        p = Principal("u", "u", "NL", frozenset({"prosecutor"}), frozenset({"ws"}))
        (order,) = stats_domain.facts(p, frozenset({"ws"}), [row], [], {}).orders
        assert all((d.kind, d.party) == ("ENFORCEMENT", "IE") for d in order.enforcements)
        return [d.met(due + DAY) for d in order.enforcements]

    recognised = after("ISSUED", Transfer("IE", transferred, due - HOUR), due - HOUR)
    assert recognised.deadlines[0].closed_at == due - HOUR and verdicts(recognised) == [True]
    assert stats_domain.deadlines_from_json(stats_domain.deadlines_to_json(recognised.deadlines)) == (
        recognised.deadlines
    )
    assert verdicts(after("NOT_ENFORCED", Transfer("IE", transferred, due + HOUR), due + HOUR)) == [False]
    assert verdicts(after("IN_ENFORCEMENT", pending, transferred + HOUR)) == [False]  # undecided past its due
    assert verdicts(after("PRODUCTION_REQUESTED", pending, transferred + HOUR)) == [False]  # still pending
    assert verdicts(after("LIFTED", pending, due + DAY)) == []
    assert verdicts(after("EXPIRED", pending, due - HOUR)) == []
    expired_late = after("EXPIRED", pending, due + HOUR)
    assert verdicts(expired_late) == [False]
    # A later event (a notice updated) keeps when the order ended undecided, not its own time.
    later = stats_domain.advance(expired_late, _epoc_pr(5, "EXPIRED"), [], due + 9 * DAY, transfer=pending)
    assert later is not None and later.deadlines == expired_late.deadlines
    assert stats_domain.advance(later, _epoc_pr(5, "EXPIRED"), [], due + 10 * DAY, transfer=pending) is None


def test_an_epoc_pr_transferred_for_enforcement_counts_for_its_enforcing_state() -> None:
    """EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER, and EPOC_ENFORCING_STATE_SEES_THE_ORDER for an EPOC: the enforcing
    state reads the transferred record, so it counts it, restricted too; another member does not."""
    from jit.common.v1 import common_pb2
    from jit.evidence.v1 import evidence_pb2 as ev
    from jit.preservation.v1 import preservation_pb2 as pr
    from services.victims import stats_projection

    def stamp(value: datetime):  # type: ignore[no-untyped-def]
        from google.protobuf.timestamp_pb2 import Timestamp

        out = Timestamp()
        out.FromDatetime(value)
        return out

    order = pr.PreservationOrder(
        id="o2", workspace_id="ws", origin_jurisdiction="NL", version=3,
        state=pr.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT, legal_basis=pr.LEGAL_BASIS_EPOC_PR,
        provider_id="socialnet-ie", visibility=common_pb2.VISIBILITY_RESTRICTED, issued_at=stamp(T0),
        enforcing_jurisdiction="LU", enforcement_requested_at=stamp(T0 + 10 * DAY),
    )  # fmt: skip
    o, transfer = stats_projection.order_counted(order)
    assert (o.addressee_jurisdiction, transfer) == ("LU", Transfer("LU", T0 + 10 * DAY, None))
    request = ev.EvidenceRequest(
        id="r9", workspace_id="ws", origin_jurisdiction="NL", version=4,
        state=ev.EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT, addressee_jurisdiction="IE",
        addressee_kind=ev.ADDRESSEE_KIND_SERVICE_PROVIDER, legal_basis=ev.LEGAL_BASIS_EPOC,
        epoc_procedure=ev.EPOC_PROCEDURE_STANDARD, visibility=common_pb2.VISIBILITY_RESTRICTED,
        enforcing_jurisdiction="LU", issued_at=stamp(T0),
    )  # fmt: skip
    r, _ = stats_projection.request_counted(request)
    assert r.addressee_jurisdiction == "LU"
    rows = [stats_domain.advance(None, o, [], T0 + 10 * DAY, transfer=transfer), r]

    def counted(jurisdiction: str) -> set[str]:
        p = Principal("u", "u", jurisdiction, frozenset({"prosecutor"}), frozenset({"ws"}))
        f = stats_domain.facts(p, frozenset({"ws"}), [x for x in rows if x is not None], [], {})
        return {x.id for x in (*f.orders, *f.requests)}

    assert counted("LU") == {"o2", "r9"}
    assert counted("DE") == set()


def test_deadlines_stored_before_they_kept_a_party_still_read() -> None:
    """A projection row written by the version before (five values a deadline) reads with no party."""
    old = '[["DECIDE", "2026-06-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00", null, true]]'
    assert stats_domain.deadlines_from_json(old) == (TrackedDeadline("DECIDE", T0, T0 + 30 * DAY),)


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


def test_the_projection_reads_the_states_the_services_publish() -> None:
    """What the evidence, preservation and tasks services put in their events' state becomes the codes the
    statistics count: instrument, addressee (the policy's), offence, victims, deadlines, outcome."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from jit.common.v1 import common_pb2
    from jit.evidence.v1 import evidence_pb2 as ev
    from jit.preservation.v1 import preservation_pb2 as pr
    from jit.tasks.v1 import tasks_pb2 as tk
    from services.victims import stats_projection

    def at(value: datetime) -> Timestamp:
        out = Timestamp()
        out.FromDatetime(value)
        return out

    request = ev.EvidenceRequest(
        id="r1", workspace_id="ws", origin_jurisdiction="NL", version=3, state=ev.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED,
        addressee_jurisdiction="DE", addressee_kind=ev.ADDRESSEE_KIND_MEMBER_STATE, legal_basis=ev.LEGAL_BASIS_EIO,
        offence_category=ev.OFFENCE_CATEGORY_CYBERSTALKING, victim_refs=["V-NL-0001"],
        visibility=common_pb2.VISIBILITY_RESTRICTED, issued_at=at(T0), received_at=at(T0 + DAY),
        deadlines=[ev.Deadline(kind=ev.DEADLINE_KIND_DECIDE, due_at=at(T0 + 31 * DAY), counted_from=at(T0 + DAY))],
    )  # fmt: skip
    counted, running = stats_projection.request_counted(request)
    assert (counted.instrument, counted.addressee, counted.addressee_jurisdiction) == ("EIO", "DE", "DE")
    assert (counted.offence, counted.victim_refs, counted.restricted) == ("CYBERSTALKING", ("V-NL-0001",), True)
    assert (counted.state, counted.at, counted.received_at) == ("ACKNOWLEDGED", T0, T0 + DAY)
    assert running == [("DECIDE", T0 + DAY, T0 + 31 * DAY)]

    order = pr.PreservationOrder(
        id="o1", workspace_id="ws", origin_jurisdiction="NL", version=5, state=pr.PRESERVATION_ORDER_STATE_EXPIRED,
        legal_basis=pr.LEGAL_BASIS_EPOC_PR, provider_id="provider-x", visibility=common_pb2.VISIBILITY_WORKSPACE,
        issued_at=at(T0),
    )  # fmt: skip
    o, transfer = stats_projection.order_counted(order)
    assert (o.instrument, o.addressee, o.state, o.produced, o.restricted, transfer) == (
        "EPOC_PR",
        "provider-x",
        "EXPIRED",
        False,
        False,
        None,
    )

    task = tk.Task(
        id="t1", workspace_id="ws", origin_jurisdiction="NL", version=1, state=tk.TASK_STATE_ASSIGNED,
        assignee_jurisdiction="IE", shared_with=["DE"], visibility=common_pb2.VISIBILITY_RESTRICTED, created_at=at(T0),
    )  # fmt: skip
    t = stats_projection.task_counted(task)
    assert (t.addressee_jurisdiction, t.shared_with, t.state, t.at) == ("IE", ("DE",), "ASSIGNED", T0)


def test_the_nodes_smallest_cell_is_5_or_more() -> None:
    """SMALL_CELLS_SUPPRESSED: JIT_VICTIMS_STATS_K_MIN raises the floor, never lowers it under 5."""
    import pydantic

    from services.victims.app import VictimsSettings

    assert VictimsSettings().stats_k_min == 5
    assert VictimsSettings(stats_k_min=8).stats_k_min == 8
    with pytest.raises(pydantic.ValidationError):
        VictimsSettings(stats_k_min=3)


def test_a_table_survives_its_message_both_ways() -> None:
    """What GetStatistics answers is what the CLI and the console render: suppressed cells stay figureless."""
    from jitlib import stats
    from services.victims.stats_servicer import _table_pb

    requests = [
        stats.Request(f"r{i}", "ws", "EIO", "NL", to, "EXECUTED", received_at=T0, answered_at=T0 + i * DAY)
        for i, to in enumerate(["DE"] * 6 + ["IE"] * 2 + ["FR"] * 7)
    ]
    table = stats.compute(stats.Facts(requests=requests), stats.Query(stats.Measure.REQUESTS, ("addressee",)), now=T0)
    back = stats.table_from_pb(_table_pb(table))
    assert back == table
    assert all(c.count is None for c in back.cells if c.suppressed)
    assert {c.key: c.count for c in back.cells if not c.suppressed} == {("FR",): 7}
    assert next(c for c in back.cells if c.key == ("FR",)).median_seconds == 11 * 86400
