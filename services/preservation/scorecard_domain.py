"""The scorecard per platform, pure: how each platform (a provider of the register) answers what it is
asked, from the preservation orders and removal requests a caller may read. Small cells are suppressed
as the statistics are (``jitlib.stats``: k, complementary suppression).

What is measured, per platform and kind of answer (``Kind``):

- CONFIRM (``confirm_preservation``): from the order's receipt (``received_at``, else ``issued_at``) to the
  platform's confirmation (``confirmed_at``). Its clock is the node's confirmation target
  (SCORECARD_CONFIRMATION_TARGET). An order that ended unconfirmed (lifted, expired, not executed) asked a
  question nobody answers any more: it is not counted here (a non-execution is a refusal, below).
- PRODUCE (``produce_data``): from when production was requested (``production_requested_at``) to
  ``produced_at``, for orders PRODUCTION_REQUESTED (pending) or PRODUCED. Its clock: 10 days after an EPOC-PR
  (SCORECARD_PRODUCTION_CLOCK); none known for the other bases.
- REMOVE (``remove_content``): from a removal request's ``sent_at`` to ``removed_at`` (removed or
  geo-blocked), in its current round (a re-upload starts a new round from when the content was seen again).
  Its clock is the request's ``due_at``; a refusal is an answer too (``decided_at``), for the clock only.

Per cell: how many were asked (in the period: the asking time in [start, end)), how many answered, the
median and 90th percentile of the time to answer (linear interpolation between the closest ranks:
``statistics.quantiles(..., method="inclusive")``), and the share past their clock among those decided
(answered, or unanswered after their clock ran out; one still pending before its due time is not decided
yet, as in ``jitlib.stats`` DEADLINES).

Refusals by reason: preservation orders NOT_EXECUTED (Annex III reason) and removal requests REFUSED
(their reason). Re-uploads: the sum of the removal requests' ``reupload_count``.

Suppression (SMALL_CELLS_SUPPRESSED): each kind is a table of platforms, and each kind of refusal a table
of platforms by reason (their units differ, so no total adds them up). A platform's cell asking 1..k-1 is
suppressed, and further cells of its lines (``stats.complementary``: the kind's other platforms); in a
shown cell, a count of answers under k is suppressed
with the median and 90th percentile it would give, and a share past the clock over fewer than k decided
answers likewise. Refusal counts per (platform, kind and reason) and re-upload counts per platform under k
are suppressed, with their complements.
"""

from __future__ import annotations

import enum
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from jitlib import legal, stats
from services.preservation.domain import LegalBasis, Order, OrderState

CONFIRMATION_RULE = legal.rule("SCORECARD_CONFIRMATION_TARGET")
PRODUCTION_RULE = legal.rule("SCORECARD_PRODUCTION_CLOCK")
#: Reg. (EU) 2023/1543 Art. 10(3): the data within 10 days (SCORECARD_PRODUCTION_CLOCK).
PRODUCTION_CLOCKS: Mapping[LegalBasis, timedelta] = {LegalBasis.EPOC_PR: timedelta(days=10)}


class Kind(enum.StrEnum):
    CONFIRM = "confirm_preservation"
    PRODUCE = "produce_data"
    REMOVE = "remove_content"


class RefusalOf(enum.StrEnum):
    """What a refusal refused: a preservation order (not executed) or a removal request."""

    PRESERVATION = "preservation"
    REMOVAL = "removal"


#: The states of a removal request in which the content was taken down (or blocked) in the current round.
REMOVED_STATES = frozenset({"REMOVED", "GEO_BLOCKED", "APPEALED", "RESTORED"})


@dataclass(frozen=True)
class Answer:
    """One question put to a platform: when asked, when it answered (the time measured), when it decided
    (for the clock: a refusal decides without answering what was asked), and when it was due."""

    provider_id: str
    kind: Kind
    asked_at: datetime
    answered_at: datetime | None = None
    due_at: datetime | None = None
    decided_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        if self.answered_at is None:
            return None
        return max((self.answered_at - self.asked_at).total_seconds(), 0.0)

    def late(self, now: datetime) -> bool | None:
        """True past its clock, False within it, None when it has none or is pending before its due time."""
        if self.due_at is None:
            return None
        decided = self.decided_at or self.answered_at
        if decided is not None:
            return decided > self.due_at
        return True if now > self.due_at else None


@dataclass(frozen=True)
class Refusal:
    provider_id: str
    of: RefusalOf
    reason: str
    at: datetime | None = None


@dataclass(frozen=True)
class Removal:
    """A removal request as the scorecard reads it (``jit.preservation.v1.RemovalRequest``): codes and
    dates only."""

    provider_id: str
    state: str
    sent_at: datetime | None
    due_at: datetime | None = None
    removed_at: datetime | None = None
    decided_at: datetime | None = None
    refusal_reason: str = ""
    reupload_count: int = 0


@dataclass(frozen=True)
class Facts:
    answers: Sequence[Answer] = ()
    refusals: Sequence[Refusal] = ()
    #: (provider_id, when the request was sent, how many re-uploads it counted)
    reuploads: Sequence[tuple[str, datetime | None, int]] = ()


def order_facts(order: Order, *, confirmation_target: timedelta) -> Facts:
    """What one order tells of its platform (module docstring)."""
    if order.state is OrderState.DRAFT or order.issued_at is None:
        return Facts()
    answers: list[Answer] = []
    asked = order.received_at or order.issued_at
    if order.confirmed_at is not None or order.state is OrderState.ISSUED:
        answers.append(Answer(order.provider_id, Kind.CONFIRM, asked, order.confirmed_at, asked + confirmation_target))
    requested = order.production_requested_at
    if requested is not None and order.state in (OrderState.PRODUCTION_REQUESTED, OrderState.PRODUCED):
        clock = PRODUCTION_CLOCKS.get(order.legal_basis)
        answers.append(
            Answer(
                order.provider_id,
                Kind.PRODUCE,
                requested,
                order.produced_at if order.state is OrderState.PRODUCED else None,
                requested + clock if clock is not None else None,
            )
        )
    refusals = []
    if order.state is OrderState.NOT_EXECUTED:
        reason = order.not_executed_reason or "OTHER"
        refusals.append(Refusal(order.provider_id, RefusalOf.PRESERVATION, reason, asked))
    return Facts(answers, refusals)


def removal_facts(removal: Removal) -> Facts:
    """What one removal request tells of its platform (module docstring)."""
    if removal.sent_at is None:
        return Facts()
    removed = removal.removed_at if removal.state in REMOVED_STATES else None
    answer = Answer(
        removal.provider_id, Kind.REMOVE, removal.sent_at, removed, removal.due_at, removal.decided_at or removed
    )
    refusals = []
    if removal.state == "REFUSED":
        refusals.append(
            Refusal(removal.provider_id, RefusalOf.REMOVAL, removal.refusal_reason or "OTHER", removal.sent_at)
        )
    reuploads = [(removal.provider_id, removal.sent_at, removal.reupload_count)] if removal.reupload_count else []
    return Facts([answer], refusals, reuploads)


def facts(orders: Iterable[Order], removals: Iterable[Removal], *, confirmation_target: timedelta) -> Facts:
    answers: list[Answer] = []
    refusals: list[Refusal] = []
    reuploads: list[tuple[str, datetime | None, int]] = []
    parts = [order_facts(o, confirmation_target=confirmation_target) for o in orders]
    parts += [removal_facts(r) for r in removals]
    for part in parts:
        answers += part.answers
        refusals += part.refusals
        reuploads += part.reuploads
    return Facts(answers, refusals, reuploads)


# -- the scorecard ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One kind of answer of one platform. None where a figure is suppressed (or has nothing to show)."""

    kind: Kind
    suppressed: bool
    asked: int | None = None
    answered: int | None = None
    median_seconds: float | None = None
    p90_seconds: float | None = None
    decided: int | None = None
    share_late: float | None = None


@dataclass(frozen=True)
class RefusalCount:
    of: RefusalOf
    reason: str
    count: int | None
    suppressed: bool = False


@dataclass(frozen=True)
class PlatformScore:
    provider_id: str
    name: str
    figures: tuple[Figures, ...]
    refusals: tuple[RefusalCount, ...] = ()
    reuploads: int | None = 0
    reuploads_suppressed: bool = False


@dataclass(frozen=True)
class Scorecard:
    k: int
    platforms: tuple[PlatformScore, ...] = field(default_factory=tuple)


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1..99) by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    return float(statistics.quantiles(ordered, n=100, method="inclusive")[q - 1])


def _suppress(counts: Mapping[tuple[str, ...], int], k: int, ndims: int) -> set[tuple[str, ...]]:
    primary = {key for key, n in counts.items() if 0 < n < k}
    return stats.complementary(counts, primary, k, ndims)


def score(
    facts: Facts,
    *,
    k: int,
    now: datetime,
    names: Mapping[str, str],
    period: stats.Period | None = None,
) -> Scorecard:
    """The scorecard of ``facts`` (asked in ``period``), small cells suppressed with ``k``."""
    period = period or stats.Period()
    by_cell: dict[tuple[str, str], list[Answer]] = defaultdict(list)
    for a in facts.answers:
        if period.holds(a.asked_at):
            by_cell[(a.provider_id, a.kind.value)].append(a)
    refusals: dict[tuple[str, str], int] = defaultdict(int)
    for r in facts.refusals:
        if period.holds(r.at):
            refusals[(r.provider_id, f"{r.of.value}/{r.reason}")] += 1
    reuploads: dict[tuple[str, ...], int] = defaultdict(int)
    for provider, at, n in facts.reuploads:
        if period.holds(at):
            reuploads[(provider,)] += n

    # Each kind is a table of its own (one line: the platforms), as is each kind of refusal (platform x
    # reason): their units differ, so no total adds one to another.
    hidden_cells: set[tuple[str, ...]] = set()
    for kind in Kind:
        counts: dict[tuple[str, ...], int] = {(p,): len(v) for (p, kd), v in by_cell.items() if kd == kind.value}
        hidden_cells |= {(p, kind.value) for (p,) in _suppress(counts, k, 1)}
    hidden_refusals: set[tuple[str, ...]] = set()
    for of in RefusalOf:
        table: dict[tuple[str, ...], int] = {key: n for key, n in refusals.items() if key[1].startswith(f"{of.value}/")}
        hidden_refusals |= _suppress(table, k, 2)
    hidden_reuploads = _suppress(reuploads, k, 1)

    providers = sorted({p for p, _ in by_cell} | {p for p, _ in refusals} | {p for (p,) in reuploads})
    platforms = []
    for provider in providers:
        figures = []
        for kind in Kind:
            key = (provider, kind.value)
            if key not in by_cell:
                continue
            figures.append(_figures(kind, by_cell[key], key in hidden_cells, k, now))
        counted: list[RefusalCount] = []
        for (p, what), n in sorted(refusals.items()):
            if p != provider:
                continue
            refused_what, reason = what.split("/", 1)
            hidden = (p, what) in hidden_refusals
            counted.append(RefusalCount(RefusalOf(refused_what), reason, None if hidden else n, hidden))
        re_hidden = (provider,) in hidden_reuploads
        platforms.append(
            PlatformScore(
                provider,
                names.get(provider, provider),
                tuple(figures),
                tuple(counted),
                None if re_hidden else reuploads.get((provider,), 0),
                re_hidden,
            )
        )
    return Scorecard(k, tuple(platforms))


def _figures(kind: Kind, answers: Sequence[Answer], hidden: bool, k: int, now: datetime) -> Figures:
    """A shown cell's figures: a count under k (but not 0) is None, with the median, percentile or share
    it would give."""
    if hidden:
        return Figures(kind, True)
    times = [s for s in (a.seconds for a in answers) if s is not None]
    verdicts = [v for v in (a.late(now) for a in answers) if v is not None]
    out = Figures(
        kind, False, asked=len(answers), answered=0 if not times else None, decided=0 if not verdicts else None
    )
    if len(times) >= k:
        median, p90 = float(statistics.median(times)), percentile(times, 90)
        out = replace(out, answered=len(times), median_seconds=median, p90_seconds=p90)
    if len(verdicts) >= k:
        out = replace(out, decided=len(verdicts), share_late=sum(verdicts) / len(verdicts))
    return out
