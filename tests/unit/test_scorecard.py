"""The scorecard per platform, pure (services/preservation/scorecard_domain.py): figures computed from
known orders and removal requests with fixed times match values worked out by hand; small cells are
suppressed as the statistics are; what an order or a removal request counts for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitlib import legal, stats
from jitlib.actors import Actor
from services.preservation import domain, providers
from services.preservation import scorecard_domain as sc
from services.preservation.domain import LegalBasis, NewOrder, OrderState, Rules, Target, TransitionInput
from services.preservation.scorecard_domain import Kind, Removal

T0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday once Reg. (EU) 2023/1543 applies (EPOC-PRs are issued)
NOW = T0 + timedelta(days=100)
D = timedelta(days=1)
H = timedelta(hours=1)
NL = Actor("u-nl", "nl-liaison", "NL")
RULES = Rules(providers=providers.load())
TARGET = timedelta(days=3)
NAMES = {p.id: p.name for p in providers.DEMO_PROVIDERS}
REQUEST = "01935c4e-0000-7000-8000-0000000000aa"
_seq = iter(range(1, 10_000))


def order(basis: LegalBasis = LegalBasis.EPOC_PR, provider: str = "socialnet-ie") -> domain.Order:
    cmd = NewOrder(
        request_id="0f1e2d3c-4b5a-4968-8776-655443322110",
        workspace_id="jit-demo",
        legal_basis=basis.value,
        provider_id=provider,
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x"),),
        data_categories=("SUBSCRIBER",),
        description="",
        restricted=True,
    )
    return domain.create(cmd, order_id=f"01935c4e-0000-7000-8000-{next(_seq):012d}", actor=NL, now=T0)


def step(o: domain.Order, action: str, now: datetime, **kw: object) -> domain.Order:
    return domain.apply(o, action, TransitionInput(**kw), actor=NL, now=now, rule=RULES.clock_for(o))  # type: ignore[arg-type]


def issued(provider: str = "socialnet-ie", basis: LegalBasis = LegalBasis.EPOC_PR) -> domain.Order:
    return step(order(basis, provider), "issue", T0, issued_at=T0)


def confirmed(after: timedelta, provider: str = "socialnet-ie", basis: LegalBasis = LegalBasis.EPOC_PR) -> domain.Order:
    return step(issued(provider, basis), "confirm", T0 + after, confirmed_at=T0 + after)


def produced(o: domain.Order, requested: datetime, after: timedelta) -> domain.Order:
    o = step(o, "request_production", requested, follow_up_request_id=REQUEST)
    return step(o, "mark_produced", requested + after)


def not_executed(reason: str, provider: str = "socialnet-ie") -> domain.Order:
    return step(issued(provider), "record_not_executed", T0 + D, reason="x", not_executed_reason=reason)


def removed(after: timedelta, provider: str = "socialnet-ie", reuploads: int = 0) -> Removal:
    return Removal(provider, "REMOVED", T0, T0 + 24 * H, T0 + after, T0 + after, "", reuploads)


def refused(after: timedelta, reason: str = "NOT_ILLEGAL", provider: str = "socialnet-ie") -> Removal:
    return Removal(provider, "REFUSED", T0, T0 + 24 * H, None, T0 + after, reason)


def card(orders: list[domain.Order], removals: list[Removal] = (), **kw: object) -> sc.Scorecard:  # type: ignore[assignment]
    facts = sc.facts(orders, removals, confirmation_target=TARGET)
    return sc.score(facts, k=kw.pop("k", 5), now=NOW, names=NAMES, **kw)  # type: ignore[arg-type]


def figures(c: sc.Scorecard, provider: str) -> dict[Kind, sc.Figures]:
    (p,) = [p for p in c.platforms if p.provider_id == provider]
    return {f.kind: f for f in p.figures}


def known_set() -> tuple[list[domain.Order], list[Removal]]:
    confirmations = [confirmed(n * D) for n in (1, 2, 3, 4, 5, 6)]
    productions = [produced(o, T0 + 10 * D, n * D) for o, n in zip(confirmations[:5], (2, 4, 6, 8, 12), strict=True)]
    orders = [*productions, confirmations[5], issued()]
    orders += [not_executed("DATA_NOT_HELD") for _ in range(5)]
    orders += [not_executed("INSUFFICIENT_INFORMATION") for _ in range(5)]
    orders.append(order())  # a draft: asked nothing yet
    removals = [removed(n * H, reuploads=r) for n, r in zip((2, 6, 12, 20, 30), (0, 0, 1, 2, 2), strict=True)]
    removals += [refused(48 * H) for _ in range(5)]
    return orders, removals


def test_the_figures_of_a_known_set_of_records_match_the_values_worked_out_by_hand() -> None:
    """SCORECARD_CONFIRMATION_TARGET, SCORECARD_PRODUCTION_CLOCK. One platform (socialnet-ie), k = 5, now =
    T0 + 100 days, confirmation target 3 days:

    - confirm: 6 EPOC-PR orders received at T0 and confirmed after 1, 2, 3, 4, 5, 6 days, and one never
      confirmed: asked 7, answered 6; median (3 + 4) / 2 = 3.5 days; 90th percentile at rank
      1 + 0.9 * (6 - 1) = 5.5, between 5 and 6 days: 5.5 days. Past the 3-day target: the 4-, 5- and 6-day
      confirmations and the unconfirmed one (its target passed long ago): 4 of 7 decided.
    - produce: five of them asked for production at T0 + 10 days and produced 2, 4, 6, 8, 12 days later:
      median 6 days; 90th percentile at rank 1 + 0.9 * 4 = 4.6, 8 + 0.6 * (12 - 8) = 10.4 days; past the
      10 days of Art. 10(3): only the 12-day one, 1 of 5 = 0.2.
    - remove: 5 requests due 24 h after sending, removed after 2, 6, 12, 20, 30 hours, and 5 refused after
      48 hours: asked 10, answered (removed) 5; median 12 h; 90th percentile at rank 4.6: 20 + 0.6 * 10 =
      26 h; past the clock: the 30-hour removal and the 5 refusals, 6 of 10 = 0.6.
    - refusals: preservation/DATA_NOT_HELD 5, preservation/INSUFFICIENT_INFORMATION 5, removal/NOT_ILLEGAL 5.
    - re-uploads: 0 + 0 + 1 + 2 + 2 = 5. A draft order asks nothing."""
    orders, removals = known_set()
    c = card(orders, removals)
    assert c.k == 5 and [p.provider_id for p in c.platforms] == ["socialnet-ie"]
    (platform,) = c.platforms
    assert platform.name == NAMES["socialnet-ie"]
    f = figures(c, "socialnet-ie")
    confirm, produce, remove = f[Kind.CONFIRM], f[Kind.PRODUCE], f[Kind.REMOVE]
    assert (confirm.asked, confirm.answered, confirm.decided) == (7, 6, 7)
    assert confirm.median_seconds == pytest.approx((3.5 * D).total_seconds())
    assert confirm.p90_seconds == pytest.approx((5.5 * D).total_seconds())
    assert confirm.share_late == pytest.approx(4 / 7)
    assert (produce.asked, produce.answered, produce.decided) == (5, 5, 5)
    assert produce.median_seconds == pytest.approx((6 * D).total_seconds())
    assert produce.p90_seconds == pytest.approx((10.4 * D).total_seconds())
    assert produce.share_late == pytest.approx(0.2)
    assert (remove.asked, remove.answered, remove.decided) == (10, 5, 10)
    assert remove.median_seconds == pytest.approx((12 * H).total_seconds())
    assert remove.p90_seconds == pytest.approx((26 * H).total_seconds())
    assert remove.share_late == pytest.approx(0.6)
    assert [(r.of.value, r.reason, r.count) for r in platform.refusals] == [
        ("preservation", "DATA_NOT_HELD", 5),
        ("preservation", "INSUFFICIENT_INFORMATION", 5),
        ("removal", "NOT_ILLEGAL", 5),
    ]
    assert (platform.reuploads, platform.reuploads_suppressed) == (5, False)
    assert legal.rule("SCORECARD_PRODUCTION_CLOCK").source.startswith("Reg. (EU) 2023/1543 Art. 10(3)")


def test_a_period_counts_what_was_asked_in_it() -> None:
    """Answers are counted by when they were asked ([start, end)): the productions asked at T0 + 10 days
    are outside a period ending at T0 + 5 days, the confirmations asked at T0 inside it."""
    orders, removals = known_set()
    f = figures(card(orders, removals, period=stats.Period(T0, T0 + 5 * D)), "socialnet-ie")
    assert Kind.PRODUCE not in f and f[Kind.CONFIRM].asked == 7 and f[Kind.REMOVE].asked == 10


def test_small_cells_are_suppressed_with_their_complements() -> None:
    """SMALL_CELLS_SUPPRESSED: confirmations asked of socialnet-ie 5, microblog-ie 2, videohost-de 4: the
    cells of 2 and 4 are under k = 5 and hidden (together they count 6 >= k, so socialnet-ie's stays).
    Refusals of socialnet-ie: 6 DATA_NOT_HELD and 1 CONFLICT_OF_LAW: the 1 is hidden, and so is the 6 (else
    the platform's total of refusals gives the 1 back). Re-uploads (of 5 removal requests each, a cell
    big enough): socialnet-ie 7 and microblog-ie 3: the 3 is hidden, and the 7 with it (the line's only
    other cell). Removals asked of socialnet-ie 5 and microblog-ie 1: the 1 is hidden, and the 5 with it.
    Each kind is a table of its own: a platform's hidden confirmations hide no other kind."""
    orders = [confirmed(D) for _ in range(5)]
    orders += [confirmed(D, "microblog-ie") for _ in range(2)]
    orders += [confirmed(D, "videohost-de", LegalBasis.PROVIDER_VOLUNTARY) for _ in range(4)]
    orders += [not_executed("DATA_NOT_HELD") for _ in range(6)] + [not_executed("CONFLICT_OF_LAW")]
    removals = [removed(H, reuploads=7), *(removed(H) for _ in range(4)), removed(H, "microblog-ie", reuploads=3)]
    c = card(orders, removals)
    assert figures(c, "socialnet-ie")[Kind.CONFIRM].asked == 5
    assert figures(c, "microblog-ie")[Kind.REMOVE].suppressed and figures(c, "socialnet-ie")[Kind.REMOVE].suppressed
    for provider in ("microblog-ie", "videohost-de"):
        hidden = figures(c, provider)[Kind.CONFIRM]
        assert hidden.suppressed and hidden.asked is None and hidden.median_seconds is None
    by = {p.provider_id: p for p in c.platforms}
    assert [(r.reason, r.count, r.suppressed) for r in by["socialnet-ie"].refusals] == [
        ("CONFLICT_OF_LAW", None, True),
        ("DATA_NOT_HELD", None, True),
    ]
    assert (by["socialnet-ie"].reuploads, by["socialnet-ie"].reuploads_suppressed) == (None, True)
    assert (by["microblog-ie"].reuploads, by["microblog-ie"].reuploads_suppressed) == (None, True)


def test_a_percentile_over_fewer_than_k_answers_is_suppressed() -> None:
    """SMALL_CELLS_SUPPRESSED: 6 orders asked, 3 confirmed within the target and 3 issued a moment ago (now
    = T0 + 1 day, target 3 days: not decided yet): asked 6 is shown; the 3 answers, their median and 90th
    percentile and the share past the clock over 3 decided are not."""
    orders = [confirmed(H) for _ in range(3)] + [issued() for _ in range(3)]
    facts = sc.facts(orders, [], confirmation_target=TARGET)
    f = sc.score(facts, k=5, now=T0 + D, names=NAMES).platforms[0].figures[0]
    assert (f.suppressed, f.asked, f.answered, f.median_seconds, f.p90_seconds) == (False, 6, None, None, None)
    assert (f.decided, f.share_late) == (None, None)
    raised = sc.score(facts, k=3, now=T0 + D, names=NAMES).platforms[0].figures[0]
    assert (raised.answered, raised.decided, raised.share_late) == (3, 3, 0.0)


def test_what_an_order_counts_for() -> None:
    """A draft asks nothing; an order lifted unconfirmed asks no confirmation any more; production of a
    NATIONAL order has no clock known here (SCORECARD_PRODUCTION_CLOCK: EPOC-PR only), so it is timed but
    never decided; a production request that failed (the order resumed) is not the platform's answer."""
    assert sc.order_facts(order(), confirmation_target=TARGET) == sc.Facts()
    lifted = step(issued(), "lift", T0 + D, reason="no longer needed")
    assert lifted.state is OrderState.LIFTED and sc.order_facts(lifted, confirmation_target=TARGET).answers == []
    national = produced(confirmed(D, basis=LegalBasis.NATIONAL), T0 + 2 * D, 3 * D)
    (_, production) = sc.order_facts(national, confirmation_target=TARGET).answers
    assert production.kind is Kind.PRODUCE and production.due_at is None and production.late(NOW) is None
    assert production.seconds == (3 * D).total_seconds()
    resumed = step(
        step(confirmed(D), "request_production", T0 + 2 * D, follow_up_request_id=REQUEST), "resume", T0 + 3 * D
    )
    assert [a.kind for a in sc.order_facts(resumed, confirmation_target=TARGET).answers] == [Kind.CONFIRM]


def test_a_removal_in_its_current_round_and_a_refusal_decide_the_clock() -> None:
    """A removal request is timed from sent_at to removed_at (a re-upload's new round starts from when the
    content was seen again, as sent_at says); a refusal is no removal but decides the clock; one pending
    past due_at is late, one pending before it is not decided yet."""
    pending_late = Removal("socialnet-ie", "SENT", T0, T0 + H)
    pending = Removal("socialnet-ie", "ACKNOWLEDGED", NOW - H, NOW + H)
    (a,) = sc.removal_facts(pending_late).answers
    assert a.late(NOW) is True and a.seconds is None
    assert sc.removal_facts(pending).answers[0].late(NOW) is None
    (r,) = sc.removal_facts(refused(2 * H)).answers
    assert r.seconds is None and r.late(NOW) is False
    assert sc.removal_facts(Removal("socialnet-ie", "SENT", None)) == sc.Facts()
