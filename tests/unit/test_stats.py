"""jitlib.stats: figures computed from a known set of records match what is counted by hand; small cells are
suppressed and cannot be recovered from a line's total; CSV and the chart."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from jitlib import stats
from jitlib.stats import DeadlineFact, Facts, Measure, Order, Query, Request, Task, Victim

NOW = datetime(2026, 12, 1, tzinfo=UTC)
T0 = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def req(i: int, instrument: str, addressee: str, **kw) -> Request:  # type: ignore[no-untyped-def]
    kw.setdefault("state", "ISSUED")
    kw.setdefault("issued_at", T0)
    return Request(f"r{i}", "ws", instrument, "NL", addressee, **kw)


def by_key(table: stats.Table) -> dict[tuple[str, ...], stats.Cell]:
    return {c.key: c for c in table.cells}


def test_counts_per_instrument_match_by_hand_and_a_small_cell_has_a_complement() -> None:
    """SMALL_CELLS_SUPPRESSED: 6 EIOs, 7 EPOCs and 2 MLA requests with k=5: the 2 is suppressed, and so is
    the smallest other cell (6), since the total 15 would give the 2 away; the 7 and the total show."""
    facts = Facts(
        requests=[req(i, "EIO", "DE") for i in range(6)]
        + [req(10 + i, "EPOC", "IE") for i in range(7)]
        + [req(20 + i, "MLA", "DE") for i in range(2)]
    )
    table = stats.compute(facts, Query(Measure.REQUESTS, ("instrument",)), now=NOW)
    cells = by_key(table)
    assert cells[("EPOC",)].count == 7
    assert cells[("MLA",)].suppressed and cells[("MLA",)].count is None
    assert cells[("EIO",)].suppressed  # the complement
    assert table.total.count == 15


def test_no_suppressed_cell_is_recoverable_from_a_line_total() -> None:
    """SMALL_CELLS_SUPPRESSED: in a table by instrument and addressee, every row and column that hides a cell
    hides at least two whose true counts add up to k or more, so no total minus the shown cells gives one."""
    spec = {("EIO", "DE"): 9, ("EIO", "IE"): 1, ("EIO", "FR"): 6, ("EPOC", "DE"): 8, ("EPOC", "IE"): 12,
            ("EPOC", "FR"): 3, ("MLA", "DE"): 5, ("MLA", "IE"): 7, ("MLA", "FR"): 11}  # fmt: skip
    requests, n = [], 0
    for (instrument, to), count in spec.items():
        for _ in range(count):
            requests.append(req(n, instrument, to))
            n += 1
    table = stats.compute(Facts(requests=requests), Query(Measure.REQUESTS, ("instrument", "addressee")), now=NOW)
    cells = by_key(table)
    assert cells[("EIO", "IE")].suppressed and cells[("EPOC", "FR")].suppressed
    for axis in range(2):
        lines: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key in spec:
            lines[key[1 - axis]].append(key)
        for keys in lines.values():
            hidden = [key for key in keys if cells[key].suppressed]
            if hidden:
                assert len(hidden) >= 2, (axis, keys)
                assert sum(spec[key] for key in hidden) >= 5, (axis, keys)
    for key, count in spec.items():  # whatever shows is the true figure
        if not cells[key].suppressed:
            assert cells[key].count == count


def test_a_cell_about_fewer_than_k_victims_is_suppressed_however_many_records() -> None:
    """SMALL_CELLS_SUPPRESSED: ten requests about one victim, grouped by her gender, would single her out."""
    victims = [Victim("V-NL-0001", "ws", "NL", ("CYBERSTALKING",), {"gender": "FEMALE"})]
    victims += [Victim(f"V-NL-{i:04d}", "ws", "NL", ("CYBERHARASSMENT",), {"gender": "MALE"}) for i in range(2, 8)]
    requests = [req(i, "EIO", "DE", victim_refs=("V-NL-0001",)) for i in range(10)]
    requests += [req(100 + i, "EIO", "DE", victim_refs=(f"V-NL-{i:04d}",)) for i in range(2, 8)]
    table = stats.compute(Facts(requests=requests, victims=victims), Query(Measure.REQUESTS, ("gender",)), now=NOW)
    cells = by_key(table)
    assert cells[("FEMALE",)].suppressed
    assert cells[("MALE",)].suppressed  # its complement: the total would give the other away
    assert table.total.count == 16


def test_victims_disaggregated_by_special_category_with_not_recorded() -> None:
    """VAW_STATISTICS: victims by gender: recorded values count, a victim without a recorded attribute is
    NOT_RECORDED."""
    spread = {"FEMALE": 6, "MALE": 5, "NON_BINARY": 5, "OTHER": 5}
    victims = [
        Victim(f"V-NL-{n:02d}{i:02d}", "ws", "NL", attributes={"gender": g})
        for n, (g, count) in enumerate(spread.items())
        for i in range(count)
    ]
    victims += [Victim(f"V-DE-{i:04d}", "ws", "DE") for i in range(7)]
    table = stats.compute(Facts(victims=victims), Query(Measure.VICTIMS, ("gender",)), now=NOW)
    assert {c.key: c.count for c in table.cells} == {**{(g,): n for g, n in spread.items()}, (stats.NOT_RECORDED,): 7}
    assert table.total.count == 28


def _table_shape(table: stats.Table) -> list[tuple[tuple[str, ...], bool, int | None]]:
    return [(c.key, c.suppressed, c.count) for c in (*table.cells, table.total)]


def _seven(attribute: str, value: str, *, others: dict[str, str] | None = None) -> list[Victim]:
    """Seven victims registered a day apart; the fourth alone has ``attribute`` = ``value`` (the rest
    ``others``, or nothing recorded)."""
    return [
        Victim(
            f"V-NL-{n:04d}", "ws", "NL", ("DOXXING",),
            {attribute: value} if n == 4 else dict(others or {}), registered_at=T0 + n * DAY,
        )
        for n in range(1, 8)
    ]  # fmt: skip


@pytest.mark.parametrize("attribute", sorted(stats.SPECIAL_CATEGORIES))
def test_a_table_by_a_special_category_answers_alike_whatever_one_victims_value_is(attribute: str) -> None:
    """SPECIAL_CATEGORIES_NEED_TO_KNOW with SMALL_CELLS_SUPPRESSED (review 37, finding 1): one victim alone has
    the attribute recorded. Over the whole workspace, and over a whole day around her registration, the
    table (its cells, which are suppressed, the figures shown) is the same whichever value she has: every
    value is a cell, and a 0 is suppressed like any cell under k (shown beside a suppressed one it would
    point at her value)."""
    values = stats.SPECIAL_CATEGORIES[attribute]
    her_day = stats.Period(T0 + 4 * DAY, T0 + 5 * DAY)
    for period in (stats.Period(), her_day):
        q = stats.query("victims", [attribute], period=period)
        answers = {v: _table_shape(stats.compute(Facts(victims=_seven(attribute, v)), q, now=NOW)) for v in values}
        first = answers[values[0]]
        assert all(answer == first for answer in answers.values()), answers
        assert [c[0] for c in first[:-1]] == sorted((v,) for v in (*values, stats.NOT_RECORDED))
        assert all(suppressed for _, suppressed, _ in first[:-1])


@pytest.mark.parametrize("measure", ["requests", "tasks", "orders", "deadlines"])
def test_records_by_a_special_category_answer_alike_whatever_the_value_of_the_victim_they_name(measure: str) -> None:
    """Review 37, finding 1, for every measure: seven records, the fourth naming the one victim with an
    attribute, the others naming victims without: the table by that attribute is the same whatever her
    value, over everything and over the day of her record."""
    at = [T0 + n * DAY for n in range(1, 8)]
    refs = [f"V-NL-{n:04d}" for n in range(1, 8)]
    due = T0 + 30 * DAY
    requests = [
        req(n, "EIO", "DE", victim_refs=(r,), issued_at=t, deadlines=(DeadlineFact("EXECUTE", due, t + DAY),))
        for n, (r, t) in enumerate(zip(refs, at, strict=True))
    ]
    named = list(enumerate(zip(refs, at, strict=True)))
    orders = [Order(f"o{n}", "ws", "EPOC_PR", "NL", "provider-x", "CONFIRMED", (r,), t) for n, (r, t) in named]
    tasks = [Task(f"t{n}", "ws", "NL", "DE", "ASSIGNED", (r,), t) for n, (r, t) in named]
    for period in (stats.Period(), stats.Period(T0 + 4 * DAY, T0 + 5 * DAY)):
        q = stats.query(measure, ["disability", "addressee"], period=period)
        shapes = [
            _table_shape(
                stats.compute(
                    Facts(requests=requests, orders=orders, tasks=tasks, victims=_seven("disability", v)), q, now=NOW
                )
            )
            for v in ("YES", "NO")
        ]
        assert shapes[0] == shapes[1]
        assert {c[0][0] for c in shapes[0][:-1]} == {"YES", "NO", stats.NOT_RECORDED}


def test_a_special_category_table_shows_no_value_everyone_shares_and_nothing_under_k_in_total() -> None:
    """A value shown as the whole of its line would say every counted victim has it: hidden with the rest.
    Fewer than k victims in all: every cell suppressed. Enough of each: the figures show."""
    same = [Victim(f"V-NL-{i:04d}", "ws", "NL", attributes={"disability": "NO"}) for i in range(9)]
    table = stats.compute(Facts(victims=same), Query(Measure.VICTIMS, ("disability",)), now=NOW)
    assert all(c.suppressed for c in table.cells) and table.total.count == 9
    few = [Victim(f"V-NL-{i:04d}", "ws", "NL", attributes={"disability": "YES"}) for i in range(4)]
    table = stats.compute(Facts(victims=few), Query(Measure.VICTIMS, ("disability",)), now=NOW)
    assert all(c.suppressed for c in table.cells) and table.total.suppressed
    mixed = same + [Victim(f"V-DE-{i:04d}", "ws", "DE", attributes={"disability": "YES"}) for i in range(6)]
    mixed += [Victim(f"V-IE-{i:04d}", "ws", "IE") for i in range(5)]
    table = stats.compute(Facts(victims=mixed), Query(Measure.VICTIMS, ("disability",)), now=NOW)
    assert {c.key: c.count for c in table.cells} == {("NO",): 9, ("YES",): 6, (stats.NOT_RECORDED,): 5}


def test_a_period_for_a_special_category_is_in_whole_days() -> None:
    """Review 37, finding 1: a period that could split the victims registered on one day is refused for a
    grouping by a special-category attribute, naming the bound; other groupings take any instant."""
    midday = T0 + timedelta(hours=12)
    with pytest.raises(stats.StatsError) as bad:
        stats.query("victims", ["ethnicity"], period=stats.Period(midday, midday + timedelta(seconds=1)))
    assert [f for f, _ in bad.value.problems] == ["period_start", "period_end"]
    assert bad.value.reason == stats.WHOLE_DAYS
    with pytest.raises(stats.StatsError) as end:
        stats.query("tasks", ["addressee", "gender"], period=stats.Period(T0, midday))
    assert end.value.field == "period_end"
    assert stats.query("victims", ["ethnicity"], period=stats.Period(T0, T0 + DAY)).period.end == T0 + DAY
    assert stats.query("victims", ["offence"], period=stats.Period(midday, None)).period.start == midday


def test_records_naming_no_victim_and_unknown_pseudonyms() -> None:
    victims = [Victim("V-NL-0001", "ws", "NL", ("CYBERSTALKING",))]
    tasks = [Task(f"t{i}", "ws", "NL", "DE", "ASSIGNED") for i in range(5)]
    tasks += [Task(f"u{i}", "ws", "NL", "DE", "ASSIGNED", victim_refs=("V-NL-0001",)) for i in range(5)]
    tasks += [Task(f"w{i}", "ws", "NL", "DE", "ASSIGNED", victim_refs=("V-XX-0009",)) for i in range(5)]
    table = stats.compute(Facts(tasks=tasks, victims=victims), Query(Measure.TASKS, ("offence",), k=1_000), now=NOW)
    assert set(by_key(table)) == {(stats.NO_VICTIM,), ("CYBERSTALKING",), (stats.NOT_RECORDED,)}


def test_deadline_compliance_and_median_time_to_answer_match_by_hand() -> None:
    """Deadlines: met when they stopped by their due time; missed when later or still running past it;
    still running before it: not counted. Median time to answer of 2, 4 and 10 days is 4 days."""
    due = T0 + 10 * DAY
    requests = [
        req(1, "EPOC", "IE", state="EXECUTED", received_at=T0, answered_at=T0 + 2 * DAY,
            deadlines=(DeadlineFact("PRODUCE", due, T0 + 2 * DAY),)),
        req(2, "EPOC", "IE", state="EXECUTED", received_at=T0, answered_at=T0 + 4 * DAY,
            deadlines=(DeadlineFact("PRODUCE", due, T0 + 4 * DAY),)),
        req(3, "EPOC", "IE", state="REFUSED", received_at=T0, answered_at=T0 + 10 * DAY,
            deadlines=(DeadlineFact("PRODUCE", due, T0 + 10 * DAY),)),
        req(4, "EPOC", "IE", received_at=T0, deadlines=(DeadlineFact("PRODUCE", due, T0 + 12 * DAY),)),
        req(5, "EPOC", "IE", received_at=T0, deadlines=(DeadlineFact("PRODUCE", due),)),  # overdue now
        req(6, "EPOC", "IE", received_at=NOW, deadlines=(DeadlineFact("PRODUCE", NOW + 10 * DAY),)),  # pending
    ]  # fmt: skip
    deadlines = stats.compute(Facts(requests=requests), Query(Measure.DEADLINES, ("instrument", "addressee")), now=NOW)
    (cell,) = deadlines.cells
    assert (cell.count, cell.met, cell.missed) == (5, 3, 2)
    assert cell.share_met == pytest.approx(0.6)
    answers = stats.compute(Facts(requests=requests), Query(Measure.REQUESTS, ("instrument",)), now=NOW)
    (cell,) = answers.cells
    assert cell.count == 6
    assert cell.median_seconds == pytest.approx(4 * 86400)


def test_preservation_orders_that_expired_before_production_are_counted() -> None:
    orders = [Order(f"o{i}", "ws", "EPOC_PR", "NL", "provider-x", "EXPIRED") for i in range(5)]
    orders += [Order(f"p{i}", "ws", "EPOC_PR", "NL", "provider-x", "PRODUCED") for i in range(6)]
    orders += [Order("q", "ws", "EPOC_PR", "NL", "provider-x", "EXPIRED", produced=True)]
    table = stats.compute(Facts(orders=orders), Query(Measure.ORDERS, ("outcome",)), now=NOW)
    assert {c.key: c.count for c in table.cells} == {("EXPIRED_BEFORE_PRODUCTION",): 5, ("PRODUCED",): 7}


def test_the_period_counts_records_issued_in_it_only() -> None:
    requests = [req(i, "EIO", "DE", issued_at=T0 + i * DAY) for i in range(20)]
    period = stats.Period(T0 + 5 * DAY, T0 + 15 * DAY)
    table = stats.compute(Facts(requests=requests), Query(Measure.REQUESTS, (), period=period), now=NOW)
    assert table.total.count == 10
    # Their deadlines too, in the cells and in the total alike.
    met = [
        req(i, "EIO", "DE", issued_at=T0 + i * DAY, deadlines=(DeadlineFact("DECIDE", T0 + 40 * DAY, T0 + i * DAY),))
        for i in range(20)
    ]
    table = stats.compute(Facts(requests=met), Query(Measure.DEADLINES, ("deadline",), period=period), now=NOW)
    ((cell,), total) = (table.cells, table.total)
    assert (cell.count, cell.met, total.count, total.met, total.missed) == (10, 10, 10, 10, 0)


def test_k_is_raised_never_lowered_and_bad_groupings_name_their_field() -> None:
    assert stats.query("requests", ["instrument"]).k == stats.DEFAULT_K
    assert stats.query("requests", [], 12).k == 12
    with pytest.raises(stats.StatsError) as low:
        stats.query("requests", [], 3)
    assert low.value.field == "k"
    with pytest.raises(stats.StatsError) as floor:
        stats.query("requests", [], 6, k_floor=8)
    assert floor.value.field == "k"
    with pytest.raises(stats.StatsError) as dim:
        stats.query("orders", ["instrument", "deadline"])
    assert dim.value.field == "groupings[1]"
    # Named by its place in the request: a blank grouping is refused there, not dropped before counting.
    for groupings, field in ((["", "bogus"], "groupings[0]"), (["instrument", "", "instrument"], "groupings[1]")):
        with pytest.raises(stats.StatsError) as named:
            stats.query("requests", groupings)
        assert named.value.field == field
    with pytest.raises(stats.StatsError) as blank:
        stats.query("requests", ["  "])
    assert (blank.value.field, blank.value.reason.startswith("must name a grouping")) == ("groupings[0]", True)
    with pytest.raises(stats.StatsError) as bogus:
        stats.query("requests", ["instrument", "", "bogus"])
    assert bogus.value.field == "groupings[1]"
    with pytest.raises(stats.StatsError) as measure:
        stats.query("people")
    assert measure.value.field == "measure"
    with pytest.raises(stats.StatsError) as many:
        stats.query("requests", ["instrument", "addressee", "issuing", "offence"])
    assert many.value.field == "groupings"


def test_csv_shows_suppressed_cells_as_suppressed_and_never_a_formula() -> None:
    facts = Facts(requests=[req(i, "EIO", "DE") for i in range(6)] + [req(9, "=HYPERLINK()", "DE")])
    table = stats.compute(facts, Query(Measure.REQUESTS, ("instrument",)), now=NOW)
    rows = list(csv.reader(io.StringIO(stats.to_csv(table))))
    assert rows[0] == ["instrument", "count", "median_days_to_answer"]
    assert ["'=HYPERLINK()", "suppressed", "suppressed"] in rows
    assert ["EIO", "suppressed", "suppressed"] in rows
    assert rows[-1] == ["TOTAL", "7", ""]


def test_evaluation_csv_and_chart_png_are_valid() -> None:
    """JIT_EVALUATION: the evaluation's tables as one CSV and a chart that is a valid PNG."""
    victims = [Victim(f"V-NL-{i:04d}", "ws", "NL", ("CYBERSTALKING",), {"gender": "FEMALE"}) for i in range(7)]
    victims += [Victim(f"V-DE-{i:04d}", "ws", "DE", ("CYBERSTALKING",), {"gender": "MALE"}) for i in range(5)]
    requests = [req(i, "EIO", "DE", victim_refs=(f"V-NL-{i:04d}",)) for i in range(7)]
    tables = stats.evaluation(Facts(requests=requests, victims=victims), now=NOW)
    rows = list(csv.DictReader(io.StringIO(stats.evaluation_csv(tables))))
    assert {"statistic": "victims by gender", "value_1": "FEMALE", "count": "7"}.items() <= next(
        r for r in rows if r["statistic"] == "victims by gender" and r["value_1"] == "FEMALE"
    ).items()
    png = stats.chart_png(tables, "JIT ws")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
        assert image.format == "PNG"


def _transfer(i: int, enforcing: str, verdict: str, *, issued: datetime = T0, **kw) -> Request:  # type: ignore[no-untyped-def]
    """An EPOC NL -> a provider, transferred for enforcement to ``enforcing`` at T0 + 20 days (due 7 days
    later): decided in time (met), late (missed), undecided past its due time (overdue) or before it (open)."""
    due = T0 + 27 * DAY
    closed = {"met": T0 + 22 * DAY, "missed": T0 + 30 * DAY, "overdue": None, "open": None}[verdict]
    due_at = NOW + 3 * DAY if verdict == "open" else due
    enforcement = DeadlineFact("ENFORCEMENT", due_at, closed, party=enforcing)
    return req(i, "EPOC", "IE", issued_at=issued, enforcements=(enforcement,), **kw)


def test_the_enforcing_states_decisions_in_time_match_by_hand() -> None:
    """Reg. (EU) 2023/1543 Art. 16(2): each transfer for enforcement is one unit, under its enforcing state:
    met (decided by its 5 working days), missed (decided later, or undecided past them), open (undecided
    before them). Not among the provider's DEADLINES; the totals add up the cells."""
    requests = [_transfer(i, "IE", v) for i, v in enumerate(["met"] * 4 + ["missed"] * 2 + ["overdue"] + ["open"] * 2)]
    requests += [_transfer(10 + i, "LU", v) for i, v in enumerate(["met"] * 5 + ["open"])]
    table = stats.compute(Facts(requests=requests), Query(Measure.ENFORCEMENT, ("enforcing",)), now=NOW)
    got = {c.key: (c.count, c.met, c.missed, c.open) for c in table.cells}
    assert got == {("IE",): (9, 4, 3, 2), ("LU",): (6, 5, 0, 1)}
    assert (table.total.count, table.total.met, table.total.missed, table.total.open) == (15, 9, 3, 3)
    assert by_key(table)[("IE",)].share_met == pytest.approx(4 / 7)  # of those decided or overdue
    assert stats.table_rows(table)[0] == ["enforcing", "count", "met", "missed", "open", "share_met"]
    assert stats.table_rows(table)[1] == ["IE", "9", "4", "3", "2", "0.57"]
    # The provider's deadlines do not count them.
    deadlines = stats.compute(Facts(requests=requests), Query(Measure.DEADLINES, ("deadline",)), now=NOW)
    assert (deadlines.cells, deadlines.total.count) == ((), 0)
    # A table of the enforcing states survives its message, open included (what the CLI and console render).
    from services.victims.stats_servicer import _table_pb

    assert stats.table_from_pb(_table_pb(table)) == table


def test_the_enforcing_states_decisions_honour_the_period_and_small_cells() -> None:
    """As every deadline: a transfer counts in the period its request was issued in (cells and total alike);
    an enforcing state with 1..k-1 transfers is suppressed, and so is its complement, whatever met, missed or
    open say."""
    requests = [_transfer(i, "IE", "met", issued=T0 + i * DAY) for i in range(20)]
    period = stats.Period(T0 + 5 * DAY, T0 + 15 * DAY)
    table = stats.compute(Facts(requests=requests), Query(Measure.ENFORCEMENT, ("enforcing",), period=period), now=NOW)
    ((cell,), total) = (table.cells, table.total)
    assert (cell.count, cell.met, total.count, total.met, total.missed, total.open) == (10, 10, 10, 10, 0, 0)

    small = [_transfer(i, "IE", "met") for i in range(7)]
    small += [_transfer(10 + i, "LU", "open") for i in range(2)]
    small += [_transfer(20 + i, "FR", v) for i, v in enumerate(["met"] * 8 + ["missed"])]
    table = stats.compute(Facts(requests=small), Query(Measure.ENFORCEMENT, ("enforcing",)), now=NOW)
    cells = by_key(table)
    assert cells[("LU",)].suppressed and (cells[("LU",)].count, cells[("LU",)].open) == (None, None)
    assert cells[("IE",)].suppressed  # the complement: the total 18 would give LU's 2 back
    assert (cells[("FR",)].count, cells[("FR",)].met, cells[("FR",)].missed) == (9, 8, 1)
    assert table.total.count == 18
    assert ["LU", *[stats.SUPPRESSED] * 5] in stats.table_rows(table)


def test_the_evaluation_has_the_enforcing_states_decisions() -> None:
    """JIT_EVALUATION: a table of the enforcing states' decisions in time, its open transfers in the CSV's
    last column."""
    requests = [_transfer(i, "IE", v) for i, v in enumerate(["met"] * 5 + ["open"] * 2)]
    tables = stats.evaluation(Facts(requests=requests), now=NOW)
    rows = list(csv.DictReader(io.StringIO(stats.evaluation_csv(tables))))
    ie = next(r for r in rows if r["statistic"] == "enforcement decisions in time by enforcing state")
    assert {k: ie[k] for k in ("group_1", "value_1", "count", "met", "missed", "open", "share_met")} == {
        "group_1": "enforcing", "value_1": "IE", "count": "7", "met": "5", "missed": "0", "open": "2",
        "share_met": "1.00",
    }  # fmt: skip
    assert list(rows[0]) == [*stats.EVALUATION_COLUMNS]
    assert stats.EVALUATION_COLUMNS[-1] == "open"


def _order_transfer(i: int, enforcing: str, verdict: str, *, issued: datetime = T0, **kw) -> Order:  # type: ignore[no-untyped-def]
    """An EPOC-PR NL -> socialnet-ie, transferred for enforcement as ``_transfer``'s EPOC is."""
    (enforcement,) = _transfer(i, enforcing, verdict).enforcements
    return Order(f"o{i}", "ws", "EPOC_PR", "NL", "socialnet-ie", "IN_ENFORCEMENT", issued_at=issued,
                 enforcements=(enforcement,), **kw)  # fmt: skip


def test_the_enforcing_states_decisions_count_epocs_and_epoc_prs_told_apart_by_instrument() -> None:
    """Reg. (EU) 2023/1543 Art. 16(2) for both orders: an EPOC-PR's transfer is a unit as an EPOC's, under its
    enforcing state (pooled: one duty of one authority) and its instrument (EPOC, EPOC_PR); the period is the
    one its order was issued in, a small cell is suppressed, and the orders' table knows nothing of it."""
    requests = [_transfer(i, "IE", v) for i, v in enumerate(["met"] * 5 + ["missed"])]
    orders = [_order_transfer(i, "IE", v) for i, v in enumerate(["met"] * 3 + ["open"] * 3)]
    orders += [_order_transfer(10 + i, "LU", "met", issued=T0 - 30 * DAY) for i in range(5)]
    facts = Facts(requests=requests, orders=orders)
    pooled = stats.compute(facts, Query(Measure.ENFORCEMENT, ("enforcing",)), now=NOW)
    got = {c.key: (c.count, c.met, c.missed, c.open) for c in pooled.cells}
    assert got == {("IE",): (12, 8, 1, 3), ("LU",): (5, 5, 0, 0)}
    apart = stats.compute(facts, stats.query("enforcement", ["instrument", "enforcing"]), now=NOW)
    got = {c.key: (c.count, c.met, c.missed, c.open) for c in apart.cells}
    assert got == {("EPOC", "IE"): (6, 5, 1, 0), ("EPOC_PR", "IE"): (6, 3, 0, 3), ("EPOC_PR", "LU"): (5, 5, 0, 0)}
    since = stats.compute(facts, Query(Measure.ENFORCEMENT, ("instrument",), period=stats.Period(T0, None)), now=NOW)
    assert {c.key: c.count for c in since.cells} == {("EPOC",): 6, ("EPOC_PR",): 6}
    assert (since.total.count, since.total.open) == (12, 3)
    small = Facts(requests=requests, orders=orders[:2])
    cells = by_key(stats.compute(small, Query(Measure.ENFORCEMENT, ("instrument",)), now=NOW))
    assert cells[("EPOC_PR",)].suppressed and cells[("EPOC",)].suppressed  # 2, and its complement
    assert stats.compute(facts, Query(Measure.ORDERS, ()), now=NOW).total.count == 11  # orders, not transfers


def test_the_evaluation_tells_the_epoc_prs_enforcement_from_the_epocs() -> None:
    """JIT_EVALUATION: the enforcing states' decisions pooled by enforcing state, and apart by instrument."""
    requests = [_transfer(i, "IE", "met") for i in range(5)]
    orders = [_order_transfer(i, "IE", v) for i, v in enumerate(["met"] * 4 + ["open"] * 2)]
    rows = list(csv.DictReader(io.StringIO(stats.evaluation_csv(stats.evaluation(Facts(requests, orders), now=NOW)))))
    by_state = next(r for r in rows if r["statistic"] == "enforcement decisions in time by enforcing state")
    assert (by_state["value_1"], by_state["count"], by_state["open"]) == ("IE", "11", "2")
    by_instrument = {
        r["value_1"]: (r["count"], r["met"], r["open"])
        for r in rows
        if r["statistic"] == "enforcement decisions in time by instrument"
    }
    assert by_instrument == {"EPOC": ("5", "5", "0"), "EPOC_PR": ("6", "4", "2"), "TOTAL": ("11", "9", "2")}
