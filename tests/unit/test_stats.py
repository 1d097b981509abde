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
    victims = [Victim(f"V-NL-{i:04d}", "ws", "NL", attributes={"gender": "FEMALE"}) for i in range(6)]
    victims += [Victim(f"V-DE-{i:04d}", "ws", "DE") for i in range(5)]
    table = stats.compute(Facts(victims=victims), Query(Measure.VICTIMS, ("gender",)), now=NOW)
    assert {c.key: c.count for c in table.cells} == {("FEMALE",): 6, (stats.NOT_RECORDED,): 5}
    assert table.total.count == 11


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
