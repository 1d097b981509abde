"""The statistics service in process (``services.victims.stats_servicer``): the real servicer on a real SQLite
database (the victims service's own tables, rows written in clear, which the sealing layer reads as they
are), with a stand-in runtime whose ``authorize`` is the real ``Runtime.authorize`` and whose audit entries
are kept. What a prosecutor or participant without need to know learns of one victim's special-category
attributes from the statistics (nothing), and what the audit log keeps of each read (review 37)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from jit.victims.v1 import statistics_pb2 as spb
from jitlib import audit, auth, stats
from jitlib.clock import ManualClock
from jitlib.errors import InvalidArgument, NotFound, PermissionDenied
from jitlib.principal import Principal
from jitlib.runtime import Runtime
from services.victims import stats_store
from services.victims import store as vstore
from services.victims.stats_servicer import StatisticsServicer

T = TypeVar("T")
WS = "jit-demo"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: A day's start: the victims are registered at 09:00 on the days after it.
T0 = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class StandIn:
    """The parts of ``Runtime`` the statistics servicer touches, on a real SQLite database; ``authorize`` is
    the real ``Runtime.authorize``; audit entries are kept in ``audits``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.clock = ManualClock(NOW)
        self.federation = None
        self.audits: list[audit.AuditEvent] = []
        self.workspaces: dict[str, Any] = {}

    def call(self) -> tuple[Any, Principal, datetime]:
        return self, auth.current(), self.clock.now()

    async def read(self, fn: Callable[[Session], T], **_: Any) -> T:
        return fn(self.session)

    async def change(self, principal: Principal, fn: Callable[[Any], T], **_: Any) -> T:
        audits, session = self.audits, self.session

        class Uow:
            def __init__(self) -> None:
                self.session = session

            def audit(self, record_type: str, record_id: str, workspace_id: str, outcome: str = "ok") -> None:
                audits.append(
                    audit.AuditEvent(
                        operation="test", user_id=principal.user_id, username=principal.username,
                        jurisdiction=principal.jurisdiction, record_type=record_type, record_id=record_id,
                        workspace_id=workspace_id, outcome=outcome,
                    )
                )  # fmt: skip

        return fn(Uow())

    def require_owner(self, origin: str, record_type: str) -> None:
        return None

    async def authorize(self, *args: Any, **kwargs: Any) -> None:
        return await Runtime.authorize(self, *args, **kwargs)  # type: ignore[arg-type]


def who(jurisdiction: str, role: str) -> Principal:
    user = f"{jurisdiction.lower()}-{role}"
    return Principal(f"u-{user}", user, jurisdiction, frozenset({role}), frozenset({WS}))


def _victim(session: Session, n: int, at: datetime) -> str:
    ref = f"V-NL-{n:04d}"
    session.execute(
        insert(vstore.VictimRow).values(
            id=f"0193{n:04d}-0000-7000-8000-000000000000", workspace_id=WS, request_id=f"r{n}", request_digest="d",
            origin_jurisdiction="NL", restricted=False, shared_with="", version=1, created_by_id="u",
            created_by_name="nl", created_at=at, updated_by_id="u", updated_by_name="nl",
            updated_by_jurisdiction="NL", updated_at=at, pseudonym=ref, victim_jurisdiction="NL",
            registered_by_jurisdiction="NL", notices_count=0, referrals="[]", offences='["DOXXING"]',
        )
    )  # fmt: skip
    return ref


def _attributes(session: Session, ref: str, attributes: dict[str, str]) -> None:
    session.execute(
        insert(stats_store.SpecialCategoriesRow).values(
            victim_ref=ref, workspace_id=WS, attributes=json.dumps(attributes), purpose="evaluation",
            consent_given_at=T0.isoformat(), recorded_by='["u", "nl", "NL"]', recorded_at=T0,
        )
    )  # fmt: skip


def _workspace(attributes: dict[str, str]) -> Iterator[tuple[StatisticsServicer, StandIn]]:
    """Seven victims registered a day apart at 09:00; the fourth (V-NL-0004) alone has ``attributes``."""
    engine = create_engine("sqlite://")
    vstore.Base.metadata.create_all(engine)
    with Session(engine) as session:
        for n in range(1, 8):
            ref = _victim(session, n, T0 + n * DAY + timedelta(hours=9))
            if n == 4:
                _attributes(session, ref, attributes)
        session.commit()
        rt = StandIn(session)
        yield StatisticsServicer(rt), rt  # type: ignore[arg-type]
    engine.dispose()


@pytest.fixture
def servicer() -> Iterator[tuple[StatisticsServicer, StandIn]]:
    yield from _workspace({"ethnicity": "MINORITY", "disability": "YES"})


def _run(p: Principal, coro: Any) -> Any:
    token = auth.bind(p)
    try:
        return asyncio.run(coro)
    finally:
        auth.unbind(token)


def _ts(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def _answer(svc: StatisticsServicer, p: Principal, attribute: str, period: tuple[datetime, datetime] | None) -> Any:
    request = spb.GetStatisticsRequest(workspace_id=WS, measure="victims", groupings=[attribute])
    if period is not None:
        request.period_start.CopyFrom(_ts(period[0]))
        request.period_end.CopyFrom(_ts(period[1]))
    table = _run(p, svc.GetStatistics(request, None)).table  # type: ignore[arg-type]
    return [(tuple(c.key), c.suppressed, c.count) for c in (*table.cells, table.total)]


@pytest.mark.parametrize("attribute", ["ethnicity", "disability"])
def test_a_participant_without_need_to_know_learns_no_victims_special_category_from_the_statistics(
    attribute: str,
) -> None:
    """SPECIAL_CATEGORIES_NEED_TO_KNOW (review 37, finding 1): a BE participant is refused V-NL-0004's
    attributes (NOT_FOUND). Members see each victim's registration time, so a period around hers held her
    alone, and its one suppressed cell was her value. Now the answer over her day, and over the whole
    workspace, is the same whatever she recorded (compared with a workspace where she recorded another
    value, and one where she recorded none); a period that splits a day is refused, naming its bounds."""
    europol = who("BE", "participant")
    her_day = (T0 + 4 * DAY, T0 + 5 * DAY)
    answers: dict[str, list[Any]] = {}
    for value in (*stats.SPECIAL_CATEGORIES[attribute], ""):
        for svc, _ in _workspace({attribute: value} if value else {"gender": "FEMALE"}):
            if value:
                with pytest.raises(NotFound):
                    request = spb.GetSpecialCategoriesRequest(victim_ref="V-NL-0004", purpose="x")
                    _run(europol, svc.GetSpecialCategories(request, None))  # type: ignore[arg-type]
            answers[value] = [_answer(svc, europol, attribute, her_day), _answer(svc, europol, attribute, None)]
            with pytest.raises(InvalidArgument) as split:
                _answer(svc, europol, attribute, (her_day[0] + timedelta(hours=9), her_day[0] + timedelta(hours=10)))
            assert [v.field for v in split.value.violations] == ["period_start", "period_end"]
    first = answers[""]
    assert all(answer == first for answer in answers.values()), answers
    for table in first:
        values = (*stats.SPECIAL_CATEGORIES[attribute], "NOT_RECORDED")
        assert {key for key, _, _ in table[:-1]} == {(v,) for v in values}
        assert all(suppressed for _, suppressed, _ in table[:-1])


def test_the_whole_workspaces_victims_by_disability_list_every_value_all_suppressed(
    servicer: tuple[StatisticsServicer, StandIn],
) -> None:
    """Review 37, finding 1: 7 victims, one with disability YES. The table listed only ("NOT_RECORDED",) and
    ("YES",), both suppressed: one to four victims are disabled. It lists YES, NO and NOT_RECORDED, each
    suppressed (6 of 7 share NOT_RECORDED: shown, it would say so of each but one); the total shows."""
    svc, _ = servicer
    answer = _answer(svc, who("BE", "prosecutor"), "disability", None)
    assert answer == [(("NO",), True, 0), (("NOT_RECORDED",), True, 0), (("YES",), True, 0), ((), False, 7)]


def test_every_statistics_read_is_audited_with_its_measure_groupings_and_period(
    servicer: tuple[StatisticsServicer, StandIn],
) -> None:
    """Reg. 2023/969 Art. 25 (review 37, finding 3): GetStatistics opens every counted victim's attributes;
    each call is in the audit log with the measure, the groupings and the period it asked for (so that
    narrowing periods shows), as a refused one is."""
    svc, rt = servicer
    europol = who("BE", "participant")
    _answer(svc, europol, "ethnicity", (T0 + 4 * DAY, T0 + 5 * DAY))
    everything = spb.GetStatisticsRequest(measure="tasks", groupings=["addressee", "issuing", "victim_jurisdiction"])
    _run(europol, svc.GetStatistics(everything, None))  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        liaison = who("BE", "police_liaison")
        _run(liaison, svc.GetStatistics(spb.GetStatisticsRequest(workspace_id=WS, measure="victims"), None))  # type: ignore[arg-type]
    logged = [(a.username, a.record_type, a.record_id, a.workspace_id, a.outcome) for a in rt.audits]
    assert logged == [
        ("be-participant", "statistics", "victims:ethnicity", WS, "ok"),
        ("be-participant", "statistics_period", "2026-06-05T00:00:00Z/2026-06-06T00:00:00Z", WS, "ok"),
        ("be-participant", "statistics", "tasks:addressee,issuing,victim_jurisdiction", "*", "ok"),
        ("be-participant", "statistics_period", "../..", "*", "ok"),
        ("be-police_liaison", "statistics", WS, WS, "denied"),
    ]
    assert all(len(a.record_id) <= 64 for a in rt.audits)
