"""Statistics of a JIT's cases and its evaluation, pure: counts, deadline compliance, disaggregation by the
victim's special-category attributes, small cells suppressed, CSV and a chart.

Only aggregates leave the victims service, which feeds this module from its projection of the tasks,
evidence and preservation events and from its victims (``services/victims/stats_*``).

What is counted (``Measure``), each a unit of its own:

- REQUESTS: evidence requests; a cell also gives the median time to answer (receipt to the addressee's
  answer: executed, partially executed, refused or not executed) of its answered requests.
- DEADLINES: the legal deadlines of evidence requests that are decided: met (stopped running by its due
  time) or missed (stopped later, or still running past its due time). One still running before its due
  time is not counted yet. A cell gives met, missed and the share met.
- ENFORCEMENT: the enforcing states' recognition decisions on EPOCs and EPOC-PRs transferred to them for
  enforcement (Reg. (EU) 2023/1543 Art. 16(2): 5 working days of the enforcing state from the transfer; the
  evidence service's ``ENFORCEMENT`` deadline, the preservation service's ``enforcement_decision_due``), each
  transfer a unit, grouped by the enforcing state (``enforcing``) and by the instrument (``instrument``: EPOC
  or EPOC_PR, one duty of one authority under one article, so pooled unless asked for): met (recognised or
  refused by the deadline), missed (later, or still undecided past it) and open (still undecided before it);
  a transfer the issuer withdrew (an EPOC) or lifted (an EPOC-PR) before the decision is not counted, nor an
  EPOC-PR that expired undecided before its deadline (one that expired after it is missed). Not the
  provider's compliance, so not among DEADLINES. A cell's count is met + missed + open, under the same
  suppression.
- ORDERS: preservation orders, with their outcome (``OrderOutcome``): among them EXPIRED_BEFORE_PRODUCTION.
- TASKS: cross-border tasks.
- VICTIMS: victims (pseudonyms).

A record concerns zero or more victims (its victim_refs). Grouping by a victim dimension (offence, the
victim's jurisdiction, a special-category attribute) counts a record once in each cell one of its victims
falls in; a record that names no victim falls in NO_VICTIM, and a victim whose attribute is not recorded
(never, or consent withdrawn) in NOT_RECORDED.

Small cells (SMALL_CELLS_SUPPRESSED): with k (DEFAULT_K, raised only, never lowered), a cell is suppressed
when it counts 1..k-1 units, or, when the grouping has a victim dimension, when 1..k-1 distinct victims are
behind it (ten requests about one victim still single her out). An empty cell (0) is shown: it discloses
no one, unless the grouping has a special-category attribute (below). Complementary suppression: every
line of the table (the cells that share all values but one dimension's) is assumed to have a known total,
since a coarser query gives it; so in each line that has a suppressed cell, further cells are suppressed,
smallest first, until the line has at least two suppressed cells whose counts add up to at least k (or
every cell of the line is suppressed, whose total is then under k and suppressed in the coarser table).
This repeats until no line changes. A suppressed cell shows as suppressed, never as its count, met,
missed or median. What this does not do: solve the linear programme an attacker could run over many
overlapping tables (interval attacks); k and the line rule are the safeguard.

Grouped by a special-category attribute (SPECIAL_CATEGORIES_NEED_TO_KNOW: only need-to-know reads one
victim's value, yet every prosecutor and participant counts), a table must answer the same whatever one
victim's value is, so that no single table gives it away:

- every value of the attribute is a cell (its closed list and NOT_RECORDED; NO_VICTIM when a counted record
  names none), whether or not anyone has it: which cells exist says nothing;
- every cell counting fewer than k, 0 included, is suppressed: were a 0 shown beside a suppressed cell, the
  suppressed one would be where the few are (a period around one victim's registration would answer her
  value as the one suppressed cell among zeros);
- when the table's total counts fewer than k units, or 1..k-1 victims, every cell is suppressed;
- complementary suppression then counts the hidden zeros as hidden cells of no mass, so a line whose shown
  cells would be all of its total (everyone has that value) is hidden whole; and a line's hidden cells
  must hide k distinct victims, not k records (ten requests about one victim are one victim's mass);
- the period is in whole days (00:00 UTC at either end, ``query`` refuses other bounds), so it cannot
  split the victims registered on one day.

What remains is the interval attack above: two tables whose periods differ by a day on which one victim
alone was registered, both with cells shown, differ by her. And a record table weighs each victim by her
records, which a reader of the records knows: a shown cell smaller than one victim's records says she has
another value. k, the whole days and the line rule make these rare; nothing here makes them impossible.
"""

from __future__ import annotations

import csv
import enum
import io
import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from jitlib.clock import Window

#: The smallest k; a caller may ask for a larger one, never a smaller one.
DEFAULT_K = 5
#: The largest k a caller may ask for (bounded input).
MAX_K = 1000
#: The value of a victim attribute that is not recorded (never, or consent withdrawn and destroyed).
NOT_RECORDED = "NOT_RECORDED"
#: The value of a victim dimension for a record that names no victim.
NO_VICTIM = "NO_VICTIM"
#: What a suppressed cell shows in a CSV and a table.
SUPPRESSED = "suppressed"


class Measure(enum.StrEnum):
    REQUESTS = "requests"
    DEADLINES = "deadlines"
    ENFORCEMENT = "enforcement"
    ORDERS = "orders"
    TASKS = "tasks"
    VICTIMS = "victims"


#: The special-category attributes of a victim (GDPR Art. 9(1); Dir. 2016/680 Art. 10), recorded only with
#: consent, and the values each may take (besides NOT_RECORDED). GUESS: the categories follow the
#: monitoring of gender-based violence (EIGE's indicators); each state may refine them.
SPECIAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "gender": ("FEMALE", "MALE", "NON_BINARY", "OTHER"),
    "age_group": ("UNDER_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_PLUS"),
    "disability": ("YES", "NO"),
    "ethnicity": ("MAJORITY", "MINORITY", "MIGRANT_BACKGROUND", "OTHER"),
    "socioeconomic_status": ("LOW", "MIDDLE", "HIGH"),
}

#: Offences of Directive (EU) 2024/1385 (Arts. 5-8) the victims service records, and OTHER.
OFFENCES = (
    "NON_CONSENSUAL_INTIMATE_IMAGES",  # Art. 5: non-consensual sharing of intimate or manipulated material
    "CYBERSTALKING",  # Art. 6
    "CYBERHARASSMENT",  # Art. 7
    "DOXXING",  # Art. 7 (making personal data accessible to a multitude of end-users)
    "INCITEMENT",  # Art. 8: cyber incitement to violence or hatred
    "OTHER",
)

#: The reason a period bound is refused for a grouping by a special-category attribute.
WHOLE_DAYS = "must be at 00:00 UTC (whole days) when grouped by a special-category attribute"

#: Dimensions that come from the victims a record concerns.
VICTIM_DIMENSIONS = ("offence", "victim_jurisdiction", *SPECIAL_CATEGORIES)

#: The dimensions each measure can be grouped by.
DIMENSIONS: dict[Measure, tuple[str, ...]] = {
    Measure.REQUESTS: ("workspace", "instrument", "issuing", "addressee", "outcome", *VICTIM_DIMENSIONS),
    Measure.DEADLINES: ("workspace", "instrument", "issuing", "addressee", "deadline", *VICTIM_DIMENSIONS),
    Measure.ENFORCEMENT: ("workspace", "instrument", "issuing", "enforcing", *VICTIM_DIMENSIONS),
    Measure.ORDERS: ("workspace", "instrument", "issuing", "addressee", "outcome", *VICTIM_DIMENSIONS),
    Measure.TASKS: ("workspace", "issuing", "addressee", "outcome", *VICTIM_DIMENSIONS),
    Measure.VICTIMS: ("workspace", *VICTIM_DIMENSIONS),
}
#: At most this many dimensions in one grouping (bounded input; finer tables are all suppressed anyway).
MAX_GROUPINGS = 3


class StatsError(ValueError):
    """A statistic asked for in a way this module refuses: ``problems`` lists (field, reason), each field the
    input at fault; ``field`` and ``reason`` are the first."""

    def __init__(self, field: str, reason: str, more: Sequence[tuple[str, str]] = ()) -> None:
        self.problems = [(field, reason), *more]
        super().__init__("; ".join(f"{f}: {r}" for f, r in self.problems))
        self.field = field
        self.reason = reason


# -- the facts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Victim:
    ref: str
    workspace_id: str
    jurisdiction: str
    offences: tuple[str, ...] = ()
    #: Special-category attributes recorded with consent; a missing one is NOT_RECORDED.
    attributes: Mapping[str, str] = field(default_factory=dict)
    registered_at: datetime | None = None

    def values(self, dim: str) -> tuple[str, ...]:
        if dim == "offence":
            return self.offences or (NOT_RECORDED,)
        if dim == "victim_jurisdiction":
            return (self.jurisdiction,)
        return (self.attributes.get(dim) or NOT_RECORDED,)


@dataclass(frozen=True)
class DeadlineFact:
    """One legal deadline of a request: when it was due and when it stopped running (None: still runs)."""

    kind: str
    due_at: datetime
    closed_at: datetime | None = None
    #: The state that must act when it is not the request's addressee: an ENFORCEMENT deadline's enforcing
    #: state.
    party: str = ""

    def met(self, now: datetime) -> bool | None:
        """True when it stopped by its due time, False when later or still running past it, None while it
        runs before its due time (not decided yet)."""
        if self.closed_at is not None:
            return self.closed_at <= self.due_at
        return False if now > self.due_at else None


#: The states in which a request has its answer.
ANSWERED_STATES = frozenset({"PARTIALLY_EXECUTED", "EXECUTED", "REFUSED", "NOT_EXECUTED"})


@dataclass(frozen=True)
class Request:
    id: str
    workspace_id: str
    instrument: str
    issuing: str
    addressee: str
    state: str
    #: The request's own offence category, if it names one; else the offences of its victims count.
    offence: str = ""
    victim_refs: tuple[str, ...] = ()
    issued_at: datetime | None = None
    received_at: datetime | None = None
    answered_at: datetime | None = None
    deadlines: tuple[DeadlineFact, ...] = ()
    #: The enforcing states' recognition decisions on the request transferred for enforcement (ENFORCEMENT
    #: deadlines, each with its enforcing state as ``party``): one a transfer.
    enforcements: tuple[DeadlineFact, ...] = ()

    @property
    def time_to_answer(self) -> timedelta | None:
        start = self.received_at or self.issued_at
        if start is None or self.answered_at is None:
            return None
        return max(self.answered_at - start, timedelta(0))

    @property
    def outcome(self) -> str:
        if self.state in ANSWERED_STATES or self.state in {"WITHDRAWN", "POSTPONED", "DRAFT"}:
            return self.state
        if self.state == "CLOSED":
            return "CLOSED"
        return "OPEN"


class OrderOutcome(enum.StrEnum):
    OPEN = "OPEN"
    PRODUCTION_REQUESTED = "PRODUCTION_REQUESTED"
    PRODUCED = "PRODUCED"
    EXPIRED_BEFORE_PRODUCTION = "EXPIRED_BEFORE_PRODUCTION"
    LIFTED = "LIFTED"
    NOT_EXECUTED = "NOT_EXECUTED"


@dataclass(frozen=True)
class Order:
    id: str
    workspace_id: str
    instrument: str
    issuing: str
    #: The provider the order is addressed to.
    addressee: str
    state: str
    victim_refs: tuple[str, ...] = ()
    issued_at: datetime | None = None
    produced: bool = False
    #: An EPOC-PR transferred for enforcement: the enforcing state's recognition decision (its 5 working
    #: days, with the enforcing state as ``party``), as a request's ``enforcements``.
    enforcements: tuple[DeadlineFact, ...] = ()

    @property
    def outcome(self) -> OrderOutcome:
        """An order that expired with no production is EXPIRED_BEFORE_PRODUCTION: the data it kept may be
        lost."""
        if self.state == "PRODUCED" or self.produced:
            return OrderOutcome.PRODUCED
        if self.state == "EXPIRED":
            return OrderOutcome.EXPIRED_BEFORE_PRODUCTION
        if self.state in {"LIFTED", "NOT_EXECUTED", "PRODUCTION_REQUESTED"}:
            return OrderOutcome(self.state)
        return OrderOutcome.OPEN


@dataclass(frozen=True)
class Task:
    id: str
    workspace_id: str
    issuing: str
    addressee: str
    state: str
    victim_refs: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    """What the statistics are computed from: the records and victims the caller may count."""

    requests: Sequence[Request] = ()
    orders: Sequence[Order] = ()
    tasks: Sequence[Task] = ()
    victims: Sequence[Victim] = ()


@dataclass(frozen=True)
class Period(Window):
    """The period a statistic covers: a ``Window`` [start, end), either side open when None, that ends
    after it starts."""

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise StatsError("period.end", "must be after period.start")


# -- the query -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    measure: Measure
    groupings: tuple[str, ...] = ()
    k: int = DEFAULT_K
    period: Period = field(default_factory=Period)


def query(
    measure: str,
    groupings: Iterable[str] = (),
    k: int | None = None,
    *,
    k_floor: int = DEFAULT_K,
    period: Period | None = None,
) -> Query:
    """A checked query: a known measure, at most MAX_GROUPINGS known dimensions of it, each once, and k at
    least ``k_floor`` (the node's, never below DEFAULT_K) and at most MAX_K. StatsError names every field
    at fault."""
    problems: list[tuple[str, str]] = []
    m: Measure | None = None
    try:
        m = Measure(measure.strip().lower())
    except ValueError:
        problems.append(("measure", f"one of {', '.join(x.value for x in Measure)}"))
    # Each grouping is named by its place in the request (a blank one is refused, not dropped).
    dims = tuple(g.strip().lower() for g in groupings)
    known = DIMENSIONS[m] if m is not None else tuple(dict.fromkeys(d for ds in DIMENSIONS.values() for d in ds))
    if len(dims) > MAX_GROUPINGS:
        problems.append(("groupings", f"at most {MAX_GROUPINGS}"))
    else:
        for i, d in enumerate(dims):
            if not d:
                problems.append((f"groupings[{i}]", f"must name a grouping: one of {', '.join(known)}"))
            elif d not in known:
                what = m.value if m is not None else "statistics"
                problems.append((f"groupings[{i}]", f"{what} are grouped by {', '.join(known)}"))
            elif d in dims[:i]:
                problems.append((f"groupings[{i}]", "named twice"))
    p = period or Period()
    if any(d in SPECIAL_CATEGORIES for d in dims):
        for name, at in (("period_start", p.start), ("period_end", p.end)):
            if at is not None and not whole_day(at):
                problems.append((name, WHOLE_DAYS))
    floor = max(DEFAULT_K, k_floor)
    kk = floor if k is None or k == 0 else k
    if kk < floor:
        problems.append(("k", f"at least {floor}: small cells are suppressed, k may be raised, never lowered"))
    elif kk > MAX_K:
        problems.append(("k", f"at most {MAX_K}"))
    if problems or m is None:
        raise StatsError(*problems[0], problems[1:])
    return Query(m, dims, kk, p)


def whole_day(at: datetime) -> bool:
    """Whether ``at`` is a day's start, 00:00 UTC."""
    return at.astimezone(UTC).time() == time(0)


def audit_names(q: Query) -> tuple[str, str]:
    """What the audit log keeps of a statistics read: ``measure:grouping,...`` and the period as an ISO 8601
    interval (``..`` for an open side), each within an audit field (64 characters: at most three known
    dimension names, and two instants to the second)."""

    def instant(at: datetime | None) -> str:
        return ".." if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    what = q.measure.value + (":" + ",".join(q.groupings) if q.groupings else "")
    return what, f"{instant(q.period.start)}/{instant(q.period.end)}"


# -- the table -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    key: tuple[str, ...]
    #: Units counted (records, deadlines decided, victims); None when suppressed.
    count: int | None
    suppressed: bool = False
    #: DEADLINES and ENFORCEMENT: how many were met and missed; None otherwise or when suppressed.
    met: int | None = None
    missed: int | None = None
    #: REQUESTS: the median time to answer of the answered requests of the cell, in seconds.
    median_seconds: float | None = None
    #: ENFORCEMENT: how many are still undecided before their deadline; None otherwise or when suppressed.
    open: int | None = None

    @property
    def share_met(self) -> float | None:
        if self.met is None or self.missed is None or self.met + self.missed == 0:
            return None
        return self.met / (self.met + self.missed)


@dataclass(frozen=True)
class Table:
    measure: Measure
    groupings: tuple[str, ...]
    k: int
    cells: tuple[Cell, ...]
    #: All units, with the same suppression rule (a cell of the table grouped by nothing).
    total: Cell

    @property
    def suppressed_count(self) -> int:
        return sum(1 for c in self.cells if c.suppressed)


@dataclass
class _Acc:
    units: set[str] = field(default_factory=set)
    victims: set[str] = field(default_factory=set)
    met: int = 0
    missed: int = 0
    open: int = 0
    answers: dict[str, float] = field(default_factory=dict)


def _victim_rows(
    refs: Sequence[str], victims: Mapping[str, Victim], dims: Sequence[str]
) -> Iterator[tuple[str | None, dict[str, tuple[str, ...]]]]:
    """For each victim a record concerns (or none), the values of the victim dimensions asked for."""
    known = [victims[r] for r in refs if r in victims]
    unknown = [r for r in refs if r not in victims]
    for v in known:
        yield v.ref, {d: v.values(d) for d in dims}
    for r in unknown:  # a pseudonym this node holds no victim record of (another node's, or not yet seen)
        yield r, {d: (NOT_RECORDED,) for d in dims}
    if not refs:
        yield None, {d: (NO_VICTIM,) for d in dims}


def _keys(record_values: Mapping[str, tuple[str, ...]], dims: Sequence[str]) -> Iterator[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = [()]
    for d in dims:
        keys = [(*k, v) for k in keys for v in dict.fromkeys(record_values[d])]
    yield from keys


def _record_dims(record: Request | Order | Task, dims: Sequence[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for d in dims:
        if d == "workspace":
            out[d] = (record.workspace_id,)
        elif d == "issuing":
            out[d] = (record.issuing,)
        elif d == "addressee":
            out[d] = (record.addressee or NOT_RECORDED,)
        elif d == "instrument" and isinstance(record, Request | Order):
            out[d] = (record.instrument,)
        elif d == "outcome":
            out[d] = (str(record.outcome) if isinstance(record, Request | Order) else record.state,)
        elif d == "offence" and isinstance(record, Request) and record.offence:
            out[d] = (record.offence,)  # the request's own offence category, over its victims'
    return out


def compute(facts: Facts, q: Query, *, now: datetime) -> Table:
    """The table ``q`` asks for over ``facts``, small cells suppressed."""
    victims = {v.ref: v for v in facts.victims}
    dims = q.groupings
    victim_dims = [d for d in dims if d in VICTIM_DIMENSIONS]
    accs: dict[tuple[str, ...], _Acc] = defaultdict(_Acc)
    total = _Acc()

    def add(key: tuple[str, ...], unit: str, victim: str | None) -> _Acc:
        acc = accs[key]
        acc.units.add(unit)
        if victim:
            acc.victims.add(victim)
        return acc

    def count_record(
        record: Request | Order | Task,
        unit: str,
        at: datetime | None,
        extra: Mapping[str, tuple[str, ...]] | None = None,
    ) -> list[_Acc]:
        """Count ``unit`` in each cell ``record`` falls in; the cells it touched, each once."""
        if not q.period.holds(at):
            return []
        own = {**_record_dims(record, dims), **{d: v for d, v in (extra or {}).items() if d in dims}}
        touched: dict[tuple[str, ...], _Acc] = {}
        total.units.add(unit)
        for victim, vvals in _victim_rows(record.victim_refs, victims, victim_dims):
            if victim:
                total.victims.add(victim)
            values = {**vvals, **own}
            for key in _keys(values, dims):
                touched[key] = add(key, unit, victim)
        return list(touched.values())

    if q.measure is Measure.REQUESTS:
        for r in facts.requests:
            answer = r.time_to_answer
            for acc in count_record(r, r.id, r.issued_at):
                if answer is not None:
                    acc.answers[r.id] = answer.total_seconds()
            if answer is not None and q.period.holds(r.issued_at):
                total.answers[r.id] = answer.total_seconds()
    elif q.measure is Measure.DEADLINES:
        for r in facts.requests:
            for d in r.deadlines:
                verdict = d.met(now)
                if verdict is None:
                    continue
                unit = f"{r.id}/{d.kind}/{d.due_at.isoformat()}"
                for acc in count_record(r, unit, r.issued_at, {"deadline": (d.kind,)}):
                    acc.met += verdict
                    acc.missed += not verdict
                # The total as its cells: a request issued outside the period counts in neither.
                if q.period.holds(r.issued_at):
                    total.met += verdict
                    total.missed += not verdict
    elif q.measure is Measure.ENFORCEMENT:
        # EPOCs and EPOC-PRs alike (their ``instrument`` tells them apart), each transfer in the period its
        # record was issued in.
        transferred: list[Request | Order] = [*facts.requests, *facts.orders]
        for record in transferred:
            for d in record.enforcements:
                verdict = d.met(now)
                unit = f"{record.id}/{d.kind}/{d.due_at.isoformat()}"
                for acc in count_record(record, unit, record.issued_at, {"enforcing": (d.party or NOT_RECORDED,)}):
                    _tally(acc, verdict)
                if q.period.holds(record.issued_at):  # the total as its cells, as for DEADLINES
                    _tally(total, verdict)
    elif q.measure is Measure.ORDERS:
        for o in facts.orders:
            count_record(o, o.id, o.issued_at)
    elif q.measure is Measure.TASKS:
        for t in facts.tasks:
            count_record(t, t.id, t.created_at)
    else:
        for v in facts.victims:
            if not q.period.holds(v.registered_at):
                continue
            total.units.add(v.ref)
            total.victims.add(v.ref)
            values = {d: ((v.workspace_id,) if d == "workspace" else v.values(d)) for d in dims}
            for key in _keys(values, dims):
                add(key, v.ref, v.ref)

    special = any(d in SPECIAL_CATEGORIES for d in dims)
    if special:
        for key in _every_value(accs, dims):
            accs.setdefault(key, _Acc())  # a value no one has is a cell too
    counts = {key: _count(q.measure, acc) for key, acc in accs.items()}
    total_count = _count(q.measure, total)
    total_small = 0 < total_count < q.k or (bool(victim_dims) and 0 < len(total.victims) < q.k)
    if special and (total_count < q.k or total_small):
        primary = set(accs)  # too few to show any value: all of it suppressed
    elif special:
        primary = {key for key, acc in accs.items() if counts[key] < q.k or 0 < len(acc.victims) < q.k}
    else:
        primary = {
            key for key, acc in accs.items() if 0 < counts[key] < q.k or (victim_dims and 0 < len(acc.victims) < q.k)
        }
    # Grouped by an attribute, a line's hidden cells must hide k victims, not k records: the records of one
    # victim (whose count a reader of the records knows) would otherwise make up the mass alone.
    behind = {key: frozenset(acc.victims) for key, acc in accs.items()} if special else None
    suppressed = complementary(counts, primary, q.k, len(dims), behind)
    cells = tuple(_cell(q.measure, key, accs[key], counts[key], key in suppressed) for key in sorted(accs))
    return Table(q.measure, dims, q.k, cells, _cell(q.measure, (), total, total_count, total_small))


def _every_value(accs: Mapping[tuple[str, ...], _Acc], dims: Sequence[str]) -> Iterator[tuple[str, ...]]:
    """The cells of a table grouped by a special-category attribute: each such dimension's every value (and
    NO_VICTIM when a record that names none was counted), by the values the other dimensions took."""
    values: list[tuple[str, ...]] = []
    for i, d in enumerate(dims):
        seen = dict.fromkeys(key[i] for key in accs)
        if d in SPECIAL_CATEGORIES:
            values.append((*SPECIAL_CATEGORIES[d], NOT_RECORDED, *((NO_VICTIM,) if NO_VICTIM in seen else ())))
        else:
            values.append(tuple(seen))
    yield from itertools.product(*values)


def _tally(acc: _Acc, verdict: bool | None) -> None:
    """Count one ENFORCEMENT deadline: met, missed, or open (undecided before its due time)."""
    acc.met += verdict is True
    acc.missed += verdict is False
    acc.open += verdict is None


def _count(measure: Measure, acc: _Acc) -> int:
    if measure is Measure.DEADLINES:
        return acc.met + acc.missed
    if measure is Measure.ENFORCEMENT:
        return acc.met + acc.missed + acc.open
    return len(acc.units)


def _cell(measure: Measure, key: tuple[str, ...], acc: _Acc, count: int, suppressed: bool) -> Cell:
    if suppressed:
        return Cell(key, None, True)
    met = missed = still_open = None
    median = None
    if measure in (Measure.DEADLINES, Measure.ENFORCEMENT):
        met, missed = acc.met, acc.missed
    if measure is Measure.ENFORCEMENT:
        still_open = acc.open
    if measure is Measure.REQUESTS and acc.answers:
        median = float(statistics.median(acc.answers.values()))
    return Cell(key, count, False, met, missed, median, still_open)


def complementary(
    counts: Mapping[tuple[str, ...], int],
    primary: Iterable[tuple[str, ...]],
    k: int,
    ndims: int,
    victims: Mapping[tuple[str, ...], frozenset[str]] | None = None,
) -> set[tuple[str, ...]]:
    """The cells to suppress: ``primary`` and, in every line (cells equal but in one dimension) that has a
    suppressed cell, more cells, smallest first, until the line's suppressed cells are at least two and
    count at least k together (with ``victims``, the victims behind each cell: at least k distinct
    victims, and a line behind which no victim is needs none), or the whole line is suppressed; repeated
    until no line changes."""

    def mass(hidden: list[tuple[str, ...]]) -> int:
        if victims is None:
            return sum(counts[key] for key in hidden)
        return len(frozenset().union(*(victims[key] for key in hidden)))

    suppressed = set(primary)
    if ndims == 0:
        return suppressed
    changed = True
    while changed:
        changed = False
        for i in range(ndims):
            lines: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
            for key in counts:
                lines[key[:i] + key[i + 1 :]].append(key)
            for keys in lines.values():
                hidden = [key for key in keys if key in suppressed]
                if not hidden or (victims is not None and not any(victims[key] for key in keys)):
                    continue  # (a line about no victim, records that name none, gives none away)
                candidates = sorted((key for key in keys if key not in suppressed), key=lambda x: (counts[x], x))
                while candidates and (len(hidden) < 2 or mass(hidden) < k):
                    pick = candidates.pop(0)
                    suppressed.add(pick)
                    hidden.append(pick)
                    changed = True
    return suppressed


def table_from_pb(msg: Any) -> Table:
    """A ``jit.victims.v1.StatisticsTable`` as this module's Table (to render it: CSV, rows, a chart)."""
    measure = Measure(msg.measure)

    def cell(c: Any) -> Cell:
        if c.suppressed:
            return Cell(tuple(c.key), None, True)
        deadlines = measure in (Measure.DEADLINES, Measure.ENFORCEMENT)
        median = c.median_seconds if c.HasField("median_seconds") else None
        still_open = c.open if measure is Measure.ENFORCEMENT else None
        return Cell(
            tuple(c.key),
            c.count,
            False,
            c.met if deadlines else None,
            c.missed if deadlines else None,
            median,
            still_open,
        )

    return Table(measure, tuple(msg.groupings), msg.k, tuple(cell(c) for c in msg.cells), cell(msg.total))


# -- rendering -----------------------------------------------------------------------------------------


def _days(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 86400:.1f}"


def safe(value: str) -> str:
    """A value as a spreadsheet shows it, never as a formula it would run."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def value_columns(measure: Measure) -> tuple[str, ...]:
    if measure is Measure.DEADLINES:
        return ("count", "met", "missed", "share_met")
    if measure is Measure.ENFORCEMENT:
        return ("count", "met", "missed", "open", "share_met")
    if measure is Measure.REQUESTS:
        return ("count", "median_days_to_answer")
    return ("count",)


def cell_values(measure: Measure, cell: Cell) -> list[str]:
    """The cell's value columns as text: its figures, or SUPPRESSED in each."""
    if cell.suppressed:
        return [SUPPRESSED] * len(value_columns(measure))
    out = [str(cell.count)]
    share = cell.share_met
    if measure is Measure.DEADLINES:
        out += [str(cell.met), str(cell.missed), "" if share is None else f"{share:.2f}"]
    elif measure is Measure.ENFORCEMENT:
        out += [str(cell.met), str(cell.missed), str(cell.open), "" if share is None else f"{share:.2f}"]
    elif measure is Measure.REQUESTS:
        out.append(_days(cell.median_seconds))
    return out


def table_rows(table: Table) -> list[list[str]]:
    """The header, one row per cell, then the total (its dimensions say TOTAL)."""
    rows = [[*table.groupings, *value_columns(table.measure)]]
    rows += [[*(safe(v) for v in c.key), *cell_values(table.measure, c)] for c in table.cells]
    rows.append([*(["TOTAL"] * len(table.groupings)), *cell_values(table.measure, table.total)])
    return rows


def to_csv(table: Table) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table_rows(table))
    return out.getvalue()


EVALUATION_COLUMNS = (
    "statistic",
    "group_1",
    "value_1",
    "group_2",
    "value_2",
    "count",
    "met",
    "missed",
    "share_met",
    "median_days_to_answer",
    # Last, so that the columns before keep their places: ENFORCEMENT's undecided transfers.
    "open",
)


def evaluation_csv(tables: Sequence[tuple[str, Table]]) -> str:
    """Several tables in one CSV, one row per cell (EVALUATION_COLUMNS), each table's total last."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(EVALUATION_COLUMNS)
    for name, table in tables:
        for cell in (*table.cells, table.total):
            groups: list[str] = []
            for i in range(2):
                if i < len(table.groupings):
                    groups += [table.groupings[i], safe(cell.key[i]) if cell.key else "TOTAL"]
                else:
                    groups += ["", ""]
            values = dict(zip(value_columns(table.measure), cell_values(table.measure, cell), strict=True))
            w.writerow([name, *groups, *(values.get(col, "") for col in EVALUATION_COLUMNS[5:])])
    return out.getvalue()


#: The tables of a JIT's evaluation: (name, measure, groupings).
EVALUATION: tuple[tuple[str, Measure, tuple[str, ...]], ...] = (
    ("requests by instrument and addressee", Measure.REQUESTS, ("instrument", "addressee")),
    ("requests by offence", Measure.REQUESTS, ("offence",)),
    ("deadlines met by instrument and addressee", Measure.DEADLINES, ("instrument", "addressee")),
    ("enforcement decisions in time by enforcing state", Measure.ENFORCEMENT, ("enforcing",)),
    # EPOC against EPOC-PR apart from the states (crossed, most cells would be suppressed in a small JIT).
    ("enforcement decisions in time by instrument", Measure.ENFORCEMENT, ("instrument",)),
    ("preservation orders by outcome", Measure.ORDERS, ("outcome",)),
    ("tasks by issuing and addressed state", Measure.TASKS, ("issuing", "addressee")),
    ("victims by offence", Measure.VICTIMS, ("offence",)),
    *((f"victims by {attr}", Measure.VICTIMS, (attr,)) for attr in SPECIAL_CATEGORIES),
)


def evaluation(facts: Facts, *, now: datetime, k: int = DEFAULT_K) -> list[tuple[str, Table]]:
    """A JIT's evaluation over its facts: the EVALUATION tables, small cells suppressed."""
    return [(name, compute(facts, Query(m, dims, k), now=now)) for name, m, dims in EVALUATION]


def _label(key: tuple[str, ...]) -> str:
    return " / ".join(key) if key else "all"


@dataclass(frozen=True)
class Bars:
    """One panel of a horizontal bar chart (``bars_png``): a bar per label, its value (None: suppressed,
    drawn empty) and the text written beside it."""

    title: str
    axis: str
    labels: Sequence[str]
    values: Sequence[float | None]
    texts: Sequence[str]
    #: The axis's end (a share in percent ends at 100); None: from the values.
    limit: float | None = None


def bars_png(panels: Sequence[Bars], title: str) -> bytes:
    """A PNG of ``panels``, one horizontal bar chart each, drawn with matplotlib's Agg canvas (no display);
    a panel without bars says nothing was counted."""
    # Imported here: only charts draw, and the Agg canvas needs no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [p for p in panels if p.labels] or list(panels[:1])
    heights = [max(1.2, 0.35 * len(p.labels) + 0.9) for p in shown] or [1.2]
    fig = Figure(figsize=(8, sum(heights) + 0.8), dpi=100)
    FigureCanvasAgg(fig)
    fig.suptitle(title[:120])
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    for i, panel in enumerate(shown):
        ax = fig.add_subplot(grid[i])
        values = [0.0 if v is None else v for v in panel.values]
        bars = ax.barh(range(len(values)), values, color="#3b6ea5")
        ax.set_yticks(range(len(values)), [label[:48] for label in panel.labels], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(panel.title, fontsize=9, loc="left")
        ax.set_xlabel(panel.axis, fontsize=8)
        # Never a negative axis, and room for the labels: an all-suppressed panel still reads as empty bars.
        ax.set_xlim(0, panel.limit if panel.limit is not None else max([*values, 1.0]) * 1.2)
        for bar, text in zip(bars, panel.texts, strict=True):
            ax.annotate(
                text,
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        if not panel.labels:
            ax.set_xticks([])
            ax.text(0.5, 0.5, "nothing counted", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def chart_png(tables: Sequence[tuple[str, Table]], title: str) -> bytes:
    """A PNG with one horizontal bar chart per table: counts, or the share of deadlines met (of those
    decided: met or missed) in percent; a suppressed cell is drawn as an empty bar labelled suppressed, never
    as its figure."""
    panels = []
    for name, table in tables:
        deadlines = table.measure in (Measure.DEADLINES, Measure.ENFORCEMENT)
        panels.append(
            Bars(
                name,
                "% of deadlines met" if deadlines else "count",
                [_label(c.key) for c in table.cells],
                [
                    None if c.suppressed else (100 * (c.share_met or 0.0) if deadlines else float(c.count or 0))
                    for c in table.cells
                ],
                [
                    SUPPRESSED
                    if c.suppressed
                    else (f"{c.met}/{(c.met or 0) + (c.missed or 0)}" if deadlines else str(c.count))
                    for c in table.cells
                ],
                100 if deadlines else None,
            )
        )
    return bars_png(panels, title)
