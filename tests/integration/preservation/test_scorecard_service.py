"""The scorecard per platform end to end (ScorecardService of the preservation service), with real
Keycloak tokens and a real database (SQLite and PostgreSQL): figures of orders entered through the service
with stated dates match values worked out by hand; only what the caller may read counts; who gets it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import update

from jit.common.v1 import common_pb2
from jit.preservation.v1 import preservation_pb2 as pb
from jit.preservation.v1 import removal_pb2 as rpb
from jit.preservation.v1 import removal_pb2_grpc, scorecard_pb2_grpc
from jit.preservation.v1 import scorecard_pb2 as spb
from services.preservation.store import OrderRow
from tests.harness import RunningService, field_violations, md, rid
from tests.integration.preservation.conftest import DAY, Client, now_utc, ts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(preservation_svc: RunningService, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


def scorecard(client: Client, user: str, **kw: Any) -> spb.GetScorecardResponse:
    stub = scorecard_pb2_grpc.ScorecardServiceStub(client.svc.channel)
    return stub.GetScorecard(spb.GetScorecardRequest(**kw), metadata=md(client.tokens(user)), timeout=20)


def code(client: Client, user: str, **kw: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        scorecard(client, user, **kw)
    return info.value


def issued(client: Client, at: datetime, **over: Any) -> pb.PreservationOrder:
    fields: dict[str, Any] = dict(legal_basis=pb.LEGAL_BASIS_EPOC_PR, **over)
    order = client.create("nl-liaison", **fields)
    req = pb.IssueOrderRequest(id=order.id)
    req.issued_at.CopyFrom(ts(at))
    return client.call("nl-liaison", "IssueOrder", req).order


def confirm(client: Client, order: pb.PreservationOrder, at: datetime) -> pb.PreservationOrder:
    req = pb.ConfirmOrderRequest(id=order.id, provider_reference="SN")
    req.confirmed_at.CopyFrom(ts(at))
    return client.call("nl-liaison", "ConfirmOrder", req).order


def platform(resp: spb.GetScorecardResponse, provider: str) -> spb.PlatformScore:
    (found,) = [p for p in resp.platforms if p.provider_id == provider]
    return found


def test_who_gets_the_scorecard_and_bad_input(client: Client) -> None:
    """SCORECARD_FROM_VISIBLE_RECORDS: police liaisons (its main users), prosecutors and participants of a
    member get it; FR (not a member) asking for the workspace gets NOT_FOUND; operators and auditors
    PERMISSION_DENIED. k under 5 and a period ending before it starts are INVALID_ARGUMENT naming the field."""
    for user in ("nl-liaison", "de-prosecutor", "eurojust-analyst"):
        assert list(scorecard(client, user, workspace_id="jit-demo").workspace_ids) == ["jit-demo"]
    assert code(client, "fr-prosecutor", workspace_id="jit-demo").code() == grpc.StatusCode.NOT_FOUND
    for user in ("nl-operator", "nl-auditor"):
        assert code(client, user).code() == grpc.StatusCode.PERMISSION_DENIED
    low = code(client, "nl-liaison", k=3)
    assert low.code() == grpc.StatusCode.INVALID_ARGUMENT and "k" in field_violations(low)
    backwards = code(client, "nl-liaison", period_start=ts(now_utc()), period_end=ts(now_utc() - DAY))
    assert "period_end" in field_violations(backwards)


def test_the_figures_of_orders_entered_with_stated_dates_match_by_hand(client: Client) -> None:
    """SCORECARD_CONFIRMATION_TARGET, SCORECARD_PRODUCTION_CLOCK, worked by hand (k = 5, target 3 days):
    five EPOC-PR orders to socialnet-ie issued (so received) at T and confirmed 1, 2, 3, 4, 5 days later:
    asked 5, answered 5, median 3 days, 90th percentile at rank 1 + 0.9 * 4 = 4.6: 4.6 days; past the
    3-day target the 4- and 5-day ones, 2 of 5 = 0.4. Production is requested of all five at once, the
    service's clock moved on and each produced 2, 4, 6, 8 and 12 days after: median 6 days, 90th percentile
    8 + 0.6 * 4 = 10.4 days, past the 10 days of Art. 10(3) only the last, 0.2. Five more orders not
    executed for DATA_NOT_HELD: preservation refusals DATA_NOT_HELD 5."""
    t = now_utc() - 30 * DAY
    orders = [confirm(client, issued(client, t), t + n * DAY) for n in (1, 2, 3, 4, 5)]
    for o in orders:
        client.call(
            "nl-liaison",
            "MarkProductionRequested",
            pb.MarkProductionRequestedRequest(id=o.id, follow_up_request_id=rid()),
        )
    clock = client.svc.rt.clock
    for o, wait in zip(orders, (2, 2, 2, 2, 4), strict=True):
        clock.advance(wait * DAY)  # type: ignore[attr-defined]
        client.call("nl-liaison", "MarkProduced", pb.MarkProducedRequest(id=o.id))
    for _ in range(5):
        o = issued(client, t)
        client.call(
            "nl-liaison",
            "RecordNotExecuted",
            pb.RecordNotExecutedRequest(id=o.id, reason=pb.NOT_EXECUTED_REASON_DATA_NOT_HELD, details="not held"),
        )
    card = platform(scorecard(client, "nl-liaison", workspace_id="jit-demo"), "socialnet-ie")
    assert card.provider_name.startswith("Socialnet")
    confirm_f, produce_f = card.answers
    assert confirm_f.kind == "confirm_preservation" and produce_f.kind == "produce_data"
    assert (confirm_f.asked, confirm_f.answered, confirm_f.decided) == (5, 5, 5)
    assert confirm_f.median_seconds == pytest.approx(3 * 86400)
    assert confirm_f.p90_seconds == pytest.approx(4.6 * 86400)
    assert confirm_f.share_late == pytest.approx(0.4)
    slack = 600  # the real seconds that pass between the calls
    assert (produce_f.asked, produce_f.answered, produce_f.decided) == (5, 5, 5)
    assert produce_f.median_seconds == pytest.approx(6 * 86400, abs=slack)
    assert produce_f.p90_seconds == pytest.approx(10.4 * 86400, abs=slack)
    assert produce_f.share_late == pytest.approx(0.2)
    assert [(r.refused, r.reason, r.count, r.suppressed) for r in card.refusals] == [
        ("preservation", "DATA_NOT_HELD", 5, False)
    ]
    early = scorecard(client, "nl-liaison", period_end=ts(t - DAY))
    assert list(early.platforms) == []  # nothing was asked before T


def test_only_what_the_caller_may_read_counts(client: Client, preservation_svc: RunningService) -> None:
    """SCORECARD_FROM_VISIBLE_RECORDS: the NL orders above are restricted to NL, so DE (a member) counts
    none of them; five orders open to the whole workspace (to microblog-ie) DE counts; once those five are
    of a workspace DE is not in, DE counts nothing again, and NL (not in it either) no longer counts them."""
    de = scorecard(client, "de-liaison")
    assert [p.provider_id for p in de.platforms] == []
    t = now_utc() - 10 * DAY
    opened = [
        confirm(
            client,
            issued(client, t, provider_id="microblog-ie", visibility=common_pb2.VISIBILITY_WORKSPACE),
            t + DAY,
        )
        for _ in range(5)
    ]
    de = scorecard(client, "de-liaison")
    assert [p.provider_id for p in de.platforms] == ["microblog-ie"]
    assert platform(de, "microblog-ie").answers[0].asked == 5
    nl = scorecard(client, "nl-liaison")
    assert {p.provider_id for p in nl.platforms} == {"socialnet-ie", "microblog-ie"}

    ids = [o.id for o in opened]

    def move(session: Any) -> None:
        session.execute(update(OrderRow).where(OrderRow.id.in_(ids)).values(workspace_id="jit-elsewhere"))

    preservation_svc.loop.run(preservation_svc.rt.db.write(move))
    assert [p.provider_id for p in scorecard(client, "de-liaison").platforms] == []
    assert [p.provider_id for p in scorecard(client, "nl-liaison").platforms] == ["socialnet-ie"]


def test_removal_figures_of_requests_entered_with_stated_dates_match_by_hand(client: Client) -> None:
    """SCORECARD_FROM_VISIBLE_RECORDS with removal requests (every member reads one, so DE counts them
    too). Ten DSA Art. 9 orders to socialnet-ie sent at T, due 24 hours later (the node's default): five
    removed after 2, 6, 12, 20 and 30 hours, five refused as not illegal after 48 hours. remove_content:
    asked 10, answered 5, median 12 hours, 90th percentile at rank 1 + 0.9 * 4 = 4.6: 20 + 0.6 * 10 = 26
    hours; past the clock the 30-hour removal and the five refusals, 6 of 10 = 0.6; removal refusals
    NOT_ILLEGAL 5."""
    stub = removal_pb2_grpc.RemovalServiceStub(client.svc.channel)
    meta = md(client.tokens("nl-liaison"))
    t = now_utc() - 5 * DAY
    answers = [("removed", h) for h in (2, 6, 12, 20, 30)] + [("refused", 48)] * 5
    for what, hours in answers:
        create = rpb.CreateRemovalRequest(
            request_id=rid(),
            workspace_id="jit-demo",
            basis=rpb.REMOVAL_BASIS_DSA_ART9_ORDER,
            provider_id="socialnet-ie",
            items=[rpb.ContentItem(url="https://socialnet.example/p/9")],
            sent_at=ts(t),
            proceed_without_preservation_reason="scorecard test",
        )
        removal = stub.CreateRemoval(create, metadata=meta, timeout=20).removal
        assert removal.due_at.ToSeconds() == removal.sent_at.ToSeconds() + 24 * 3600
        answered = ts(t + timedelta(hours=hours))
        if what == "removed":
            stub.RecordRemoved(rpb.RecordRemovedRequest(id=removal.id, answered_at=answered), metadata=meta, timeout=20)
        else:
            refuse = rpb.RecordRefusedRequest(
                id=removal.id, answered_at=answered, reason=rpb.REFUSAL_REASON_NOT_ILLEGAL, details="lawful"
            )
            stub.RecordRefused(refuse, metadata=meta, timeout=20)
    for user in ("nl-liaison", "de-liaison"):
        card = platform(scorecard(client, user, workspace_id="jit-demo"), "socialnet-ie")
        (remove,) = [a for a in card.answers if a.kind == "remove_content"]
        assert (remove.asked, remove.answered, remove.decided) == (10, 5, 10)
        assert remove.median_seconds == pytest.approx(12 * 3600)
        assert remove.p90_seconds == pytest.approx(26 * 3600)
        assert remove.share_late == pytest.approx(0.6)
        assert ("removal", "NOT_ILLEGAL", 5, False) in [
            (r.refused, r.reason, r.count, r.suppressed) for r in card.refusals
        ]
