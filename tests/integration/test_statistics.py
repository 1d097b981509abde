"""Statistics and the JIT's evaluation end to end: the tasks service's events reach the victims service's
projection over a NATS of this module's own (so that only this module's records are counted), real
Keycloak tokens, the victims service on SQLite and on PostgreSQL; special-category attributes recorded
with consent only, read by need-to-know only, sealed at rest and destroyed when consent is withdrawn."""

from __future__ import annotations

import base64
import csv
import io
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from PIL import Image
from sqlalchemy import text

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as ev
from jit.evidence.v1 import evidence_pb2_grpc
from jit.preservation.v1 import preservation_pb2 as pr
from jit.preservation.v1 import preservation_pb2_grpc
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jit.victims.v1 import statistics_pb2 as pb
from jit.victims.v1 import statistics_pb2_grpc, victims_pb2, victims_pb2_grpc
from tests.conftest import wait_for_workspace
from tests.harness import eventually, field_violations, md, rid

pytestmark = pytest.mark.integration
WS = "jit-demo"


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


@pytest.fixture(scope="module")
def services(
    db_url: str, keycloak: Any, own_nats: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Any, Any]]:
    """A tasks and an evidence service (SQLite) and the victims service (the module's backend) on this
    module's NATS."""
    from jitlib.clock import OffsetClock
    from jitlib.config import CommonSettings
    from services.evidence.app import EvidenceSettings
    from services.evidence.app import spec as evidence_spec
    from services.tasks.app import TasksSettings
    from services.tasks.app import spec as tasks_spec
    from services.victims.app import VictimsSettings
    from services.victims.app import spec as victims_spec
    from tests.harness import start_service

    state = tmp_path_factory.mktemp("stats")
    common = CommonSettings(nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=state)
    group = uuid.uuid4().hex[:8]
    tasks = start_service(
        tasks_spec(),
        TasksSettings(
            listen="127.0.0.1:0", database_url=f"sqlite:///{state / 'tasks.db'}", consumer_group=f"t-{group}"
        ),
        common,
    )
    evidence_settings = EvidenceSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'evidence.db'}",
        consumer_group=f"e-{group}",
        blob_dir=str(state / "blobs"),
        kek=base64.b64encode(os.urandom(32)).decode(),
    )
    # Its clock moves past an EPOC's deadline (``test_an_enforced_epoc_...``).
    evidence = start_service(evidence_spec(evidence_settings), evidence_settings, common, clock=OffsetClock())
    victims = start_service(
        victims_spec(), VictimsSettings(listen="127.0.0.1:0", database_url=db_url, consumer_group=f"v-{group}"), common
    )
    for svc in (tasks, evidence, victims):
        wait_for_workspace(svc, WS)
    yield tasks, evidence, victims
    victims.stop()
    evidence.stop()
    tasks.stop()


class Clients:
    def __init__(self, tasks: Any, evidence: Any, victims: Any, tokens: Any) -> None:
        self.tasks = tasks_pb2_grpc.TaskServiceStub(tasks.channel)
        self.evidence = evidence_pb2_grpc.EvidenceServiceStub(evidence.channel)
        self.victims = victims_pb2_grpc.VictimServiceStub(victims.channel)
        self.stats = statistics_pb2_grpc.StatisticsServiceStub(victims.channel)
        self.svc = victims
        self.evidence_svc = evidence
        self.tokens = tokens

    def call(self, stub: Any, user: str, method: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=md(self.tokens(user)), timeout=30)

    def code_of(self, stub: Any, user: str, method: str, request: Any) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            self.call(stub, user, method, request)
        return info.value.code()

    def task(self, to: str, victim_refs: tuple[str, ...] = ()) -> tasks_pb2.Task:
        """A task NL -> ``to``; retried (same request id) while the tasks service has not yet learnt the
        victims it names from the victims service's events."""
        request = tasks_pb2.CreateTaskRequest(
            victim_refs=list(victim_refs),
            request_id=rid(),
            workspace_id=WS,
            title="Identify the account holder",
            kind=tasks_pb2.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction=to,
            due_at=ts(datetime.now(UTC) + timedelta(days=10)),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                return self.call(self.tasks, "nl-prosecutor", "CreateTask", request).task
            except grpc.RpcError as exc:
                if exc.code() is not grpc.StatusCode.INVALID_ARGUMENT or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def victim(self, jurisdiction: str = "NL", offences: tuple[str, ...] = ()) -> victims_pb2.Victim:
        request = victims_pb2.RegisterVictimRequest(
            request_id=rid(),
            workspace_id=WS,
            victim_jurisdiction=jurisdiction,
            identity=victims_pb2.VictimIdentity(full_name="Test Person"),
            offences=list(offences),
        )
        return self.call(self.victims, "nl-prosecutor", "RegisterVictim", request).victim

    def table(self, user: str = "nl-prosecutor", **kw: Any) -> pb.StatisticsTable:
        kw.setdefault("workspace_id", WS)
        return self.call(self.stats, user, "GetStatistics", pb.GetStatisticsRequest(**kw)).table


@pytest.fixture(scope="module")
def clients(services: tuple[Any, Any, Any], tokens: Any) -> Clients:
    return Clients(*services, tokens)


def cells(table: pb.StatisticsTable) -> dict[tuple[str, ...], Any]:
    return {tuple(c.key): (None if c.suppressed else c.count) for c in table.cells}


def test_task_counts_reach_the_statistics_and_a_small_cell_is_suppressed_with_its_complement(clients: Clients) -> None:
    """SMALL_CELLS_SUPPRESSED: 6 tasks to DE and 2 to IE, counted from the tasks service's events: the 2 is
    suppressed, and so is the 6 (the total 8 would give the 2 back); the total shows."""
    for _ in range(6):
        clients.task("DE")
    for _ in range(2):
        clients.task("IE")
    table = eventually(
        lambda: (t := clients.table(measure="tasks", groupings=["addressee"])).total.count == 8 and t, timeout=30
    )
    assert cells(table) == {("DE",): None, ("IE",): None}
    assert table.total.count == 8 and table.k == 5
    # With k raised to 10 the total (8) is suppressed too; k below 5 is refused, naming k.
    assert clients.table(measure="tasks", k=10).total.suppressed
    with pytest.raises(grpc.RpcError) as low:
        clients.table(measure="tasks", k=3)
    assert low.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "k" in field_violations(low.value)


def test_who_may_count_the_workspace(clients: Clients) -> None:
    request = pb.GetStatisticsRequest(measure="tasks", workspace_id=WS)
    assert clients.call(clients.stats, "eurojust-analyst", "GetStatistics", request).table.measure == "tasks"
    for user in ("nl-liaison", "nl-operator", "nl-auditor"):
        assert clients.code_of(clients.stats, user, "GetStatistics", request) is grpc.StatusCode.PERMISSION_DENIED
    assert clients.code_of(clients.stats, "fr-prosecutor", "GetStatistics", request) is grpc.StatusCode.NOT_FOUND
    bad = pb.GetStatisticsRequest(measure="tasks", groupings=["gender", "nope"], workspace_id=WS)
    with pytest.raises(grpc.RpcError) as info:
        clients.call(clients.stats, "nl-prosecutor", "GetStatistics", bad)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(info.value)) == {"groupings[1]"}


def test_special_categories_need_consent_and_a_purpose(clients: Clients) -> None:
    """SPECIAL_CATEGORIES_CONSENT: without the victim's consent, or without a purpose, nothing is written and
    the answer names the field."""
    victim = clients.victim()
    request = pb.RecordSpecialCategoriesRequest(
        victim_ref=victim.pseudonym, purpose="", attributes=pb.SpecialCategories(gender="FEMALE")
    )
    with pytest.raises(grpc.RpcError) as info:
        clients.call(clients.stats, "nl-prosecutor", "RecordSpecialCategories", request)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {"consent_given", "consent_given_at", "purpose"} <= set(field_violations(info.value))
    read = pb.GetSpecialCategoriesRequest(victim_ref=victim.pseudonym, purpose="check")
    assert clients.code_of(clients.stats, "nl-prosecutor", "GetSpecialCategories", read) is grpc.StatusCode.NOT_FOUND


def test_special_categories_per_person_to_need_to_know_only_sealed_and_destroyed_on_withdrawal(
    clients: Clients,
) -> None:
    """SPECIAL_CATEGORIES_NEED_TO_KNOW, SPECIAL_CATEGORIES_WITHDRAWN: the victim's jurisdiction's prosecutor
    records and reads them; another state's prosecutor, a participant, an operator and an auditor get
    NOT_FOUND; the stored row holds neither the values nor the purpose in clear; withdrawing consent
    destroys them, and the victim counts as not recorded."""
    victims = [clients.victim() for _ in range(6)]
    others = [clients.victim() for _ in range(5)]
    purpose = f"monitoring of gender-based violence {uuid.uuid4().hex}"
    for v, gender in [*((v, "NON_BINARY") for v in victims), *((v, "FEMALE") for v in others)]:
        request = pb.RecordSpecialCategoriesRequest(
            victim_ref=v.pseudonym,
            consent_given=True,
            consent_given_at=ts(datetime.now(UTC) - timedelta(days=1)),
            purpose=purpose,
            attributes=pb.SpecialCategories(gender=gender, age_group="25_34"),
        )
        record = clients.call(clients.stats, "nl-prosecutor", "RecordSpecialCategories", request).record
        assert record.attributes.gender == gender and record.recorded_by.jurisdiction == "NL"
    first = victims[0].pseudonym
    read = pb.GetSpecialCategoriesRequest(victim_ref=first, purpose="prepare the hearing")
    got = clients.call(clients.stats, "nl-liaison", "GetSpecialCategories", read).record
    assert got.attributes.age_group == "25_34" and got.purpose == purpose
    for user in ("de-prosecutor", "eurojust-analyst", "nl-operator", "nl-auditor", "fr-prosecutor"):
        assert clients.code_of(clients.stats, user, "GetSpecialCategories", read) is grpc.StatusCode.NOT_FOUND, user

    def stored(session: Any) -> list[tuple[Any, ...]]:
        return list(session.execute(text("SELECT * FROM victim_special_categories")))

    rows = clients.svc.loop.run(clients.svc.rt.read(stored))
    dump = repr(rows)
    assert rows and "NON_BINARY" not in dump and purpose not in dump

    # The workspace's victims by gender: the one of the test before (nothing recorded), 6 non-binary and 5
    # women. Every value is a cell and each under k is suppressed, zeros too (SMALL_CELLS_SUPPRESSED); the
    # line hides the 1 not recorded with the 5 women (k victims), and shows the 6. A period is whole days.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    by_gender = clients.table(measure="victims", groupings=["gender"], period_start=ts(today))
    genders = {"FEMALE", "MALE", "NON_BINARY", "OTHER", "NOT_RECORDED"}
    assert cells(by_gender) == {**{(g,): None for g in genders}, ("NON_BINARY",): 6}
    with pytest.raises(grpc.RpcError) as split:
        clients.table(measure="victims", groupings=["gender"], period_start=ts(datetime.now(UTC)))
    assert split.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(split.value)) == {"period_start"}
    withdrawn = clients.call(
        clients.stats, "nl-prosecutor", "WithdrawConsent", pb.WithdrawConsentRequest(victim_ref=first)
    )
    assert withdrawn.HasField("destroyed_at")
    assert clients.code_of(clients.stats, "nl-prosecutor", "GetSpecialCategories", read) is grpc.StatusCode.NOT_FOUND
    after = clients.table(measure="victims", groupings=["gender"], period_start=ts(today))
    # 5 left (the withdrawn one is not recorded now): shown, the 2 not recorded hidden with the women.
    assert cells(after) == {**{(g,): None for g in genders}, ("NON_BINARY",): 5}
    assert after.total.count == 12


def test_a_retried_withdrawal_of_consent_answers_as_the_first_call_did(clients: Clients) -> None:
    """SPECIAL_CATEGORIES_WITHDRAWN: a retry of WithdrawConsent (its answer lost) answers with the time the
    attributes were destroyed, as the first call did; it destroys nothing more. Recorded again with a new
    consent and withdrawn again, the answer is the new withdrawal's time; a victim whose attributes were never
    recorded gets no time. (A retry answered without ``destroyed_at`` before: as if nothing had been recorded.)"""
    victim = clients.victim().pseudonym
    never = clients.victim().pseudonym

    def record() -> None:
        request = pb.RecordSpecialCategoriesRequest(
            victim_ref=victim,
            consent_given=True,
            consent_given_at=ts(datetime.now(UTC) - timedelta(hours=1)),
            purpose="monitoring of gender-based violence",
            attributes=pb.SpecialCategories(gender="FEMALE"),
        )
        clients.call(clients.stats, "nl-prosecutor", "RecordSpecialCategories", request)

    def withdraw(ref: str, user: str = "nl-prosecutor") -> pb.WithdrawConsentResponse:
        return clients.call(clients.stats, user, "WithdrawConsent", pb.WithdrawConsentRequest(victim_ref=ref))

    record()
    first = withdraw(victim)
    assert first.HasField("destroyed_at") and first.victim_ref == victim
    assert withdraw(victim) == first
    assert withdraw(victim, "nl-liaison") == first  # the victim's withdrawal, whoever of need-to-know asks again
    record()
    from services.victims.stats_store import WithdrawalRow

    kept = clients.svc.loop.run(clients.svc.rt.read(lambda s: s.get(WithdrawalRow, victim)))
    assert kept is None  # consent given again: the earlier withdrawal is not kept beside it
    again = withdraw(victim)
    assert again.destroyed_at.ToDatetime() > first.destroyed_at.ToDatetime() and withdraw(victim) == again
    read = pb.GetSpecialCategoriesRequest(victim_ref=victim, purpose="prepare the hearing")
    assert clients.code_of(clients.stats, "nl-prosecutor", "GetSpecialCategories", read) is grpc.StatusCode.NOT_FOUND
    assert not withdraw(never).HasField("destroyed_at")
    outsider = clients.code_of(
        clients.stats, "fr-prosecutor", "WithdrawConsent", pb.WithdrawConsentRequest(victim_ref=victim)
    )
    assert outsider is grpc.StatusCode.NOT_FOUND


def test_the_lead_prosecutor_exports_the_evaluation_as_csv_and_a_png(clients: Clients) -> None:
    """JIT_EVALUATION: NL leads jit-demo; its prosecutor gets the CSV and a valid PNG, other roles do not."""
    request = pb.ExportEvaluationRequest(workspace_id=WS)
    resp = clients.call(clients.stats, "nl-prosecutor", "ExportEvaluation", request)
    rows = list(csv.DictReader(io.StringIO(resp.csv.decode())))
    assert {r["statistic"] for r in rows} >= {"tasks by issuing and addressed state", "victims by gender"}
    with Image.open(io.BytesIO(resp.chart_png)) as image:
        image.verify()
        assert image.format == "PNG"
    for user in ("de-prosecutor", "eurojust-analyst", "nl-liaison", "nl-operator"):
        assert clients.code_of(clients.stats, user, "ExportEvaluation", request) is grpc.StatusCode.PERMISSION_DENIED
    assert clients.code_of(clients.stats, "fr-prosecutor", "ExportEvaluation", request) is grpc.StatusCode.NOT_FOUND


def test_records_are_counted_by_their_victims_offence_and_attributes(clients: Clients) -> None:
    """VICTIM_OFFENCES, VAW_STATISTICS: five victims of cyber stalking, recorded as women with consent, each
    named by a task: the tasks count by offence and by the victims' gender; an offence outside the
    Directive's categories is refused, naming it."""
    since = ts(datetime.now(UTC))
    victims = [clients.victim(offences=("CYBERSTALKING",)) for _ in range(5)]
    for v in victims:
        record = pb.RecordSpecialCategoriesRequest(
            victim_ref=v.pseudonym,
            consent_given=True,
            consent_given_at=ts(datetime.now(UTC) - timedelta(hours=1)),
            purpose="monitoring of gender-based violence",
            attributes=pb.SpecialCategories(gender="FEMALE"),
        )
        clients.call(clients.stats, "nl-prosecutor", "RecordSpecialCategories", record)
        assert list(v.offences) == ["CYBERSTALKING"]
    for v in victims:
        clients.task("DE", (v.pseudonym,))
    by_offence = eventually(
        lambda: (t := clients.table(measure="tasks", groupings=["offence"], period_start=since)).total.count == 5 and t,
        timeout=30,
    )
    assert cells(by_offence) == {("CYBERSTALKING",): 5}
    # By their victims' gender: every value is a cell, and the 5 women (everyone these tasks name) are not
    # shown as such: that would say each of them is a woman. Only the tasks that name no victim show.
    by_gender = cells(clients.table(measure="tasks", groupings=["gender", "addressee"]))
    assert by_gender.pop(("NO_VICTIM", "DE")) == 6
    genders = ("FEMALE", "MALE", "NON_BINARY", "OTHER", "NOT_RECORDED", "NO_VICTIM")
    assert by_gender == {(g, to): None for g in genders for to in ("DE", "IE") if (g, to) != ("NO_VICTIM", "DE")}
    with pytest.raises(grpc.RpcError) as info:
        clients.victim(offences=("CYBERSTALKING", "SHOPLIFTING"))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(info.value)) == {"offences[1]"}


def test_evidence_requests_and_their_deadlines_are_counted_from_the_evidence_events(clients: Clients) -> None:
    """Five EIOs NL -> DE issued and acknowledged by DE at once: five acknowledgement deadlines met (the
    week of Directive 2014/41 Art. 16(1)); the recognition decisions still run and are not counted yet; the
    requests count under their offence and addressee."""
    since = ts(datetime.now(UTC))
    for _ in range(5):
        request = _subscriber_data_request(offence_category=ev.OFFENCE_CATEGORY_NON_CONSENSUAL_INTIMATE_IMAGES)
        made = clients.call(clients.evidence, "nl-prosecutor", "CreateRequest", request).request
        clients.call(clients.evidence, "nl-prosecutor", "IssueRequest", ev.IssueRequestRequest(id=made.id))
        clients.call(clients.evidence, "de-liaison", "AcknowledgeRequest", ev.AcknowledgeRequestRequest(id=made.id))
    deadlines = eventually(
        lambda: (
            (
                t := clients.table(measure="deadlines", groupings=["instrument", "deadline"], period_start=since)
            ).total.count
            == 5
            and t
        ),
        timeout=30,
    )
    (cell,) = deadlines.cells
    assert (tuple(cell.key), cell.count, cell.met, cell.missed) == (("EIO", "ACKNOWLEDGE"), 5, 5, 0)
    requests = clients.table(measure="requests", groupings=["offence", "addressee"], period_start=since)
    assert cells(requests) == {("NON_CONSENSUAL_INTIMATE_IMAGES", "DE"): 5}


def test_an_enforced_epoc_counts_the_compliance_deadline_the_enforcing_state_set(clients: Clients) -> None:
    """EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE: five EPOCs NL -> a provider in IE (subscriber data, no
    notification), nothing produced by their 10 days, transferred for enforcement, recognised by IE with 10
    days to comply and delivered at once: five PRODUCE deadlines missed and five COMPLIANCE deadlines met,
    each a deadline of its own; IE's 5 working days to decide are not counted."""
    clock = clients.evidence_svc.app.clock
    since = ts(datetime.now(UTC))
    made = [_issued_epoc(clients) for _ in range(5)]
    due = max(d.due_at.ToDatetime(tzinfo=UTC) for r in made for d in r.deadlines)
    moved = due - clock.now() + timedelta(hours=1)
    clock.advance(moved)
    try:
        for r in made:
            rid_ = r.id
            clients.call(
                clients.evidence, "nl-prosecutor", "TransferForEnforcement", ev.TransferForEnforcementRequest(id=rid_)
            )
            recognise = ev.RecogniseEnforcementRequest(id=rid_, compliance_days=10)
            clients.call(clients.evidence, "ie-prosecutor", "RecogniseEnforcement", recognise)
            clients.call(clients.evidence, "nl-prosecutor", "CompleteExecution", ev.CompleteExecutionRequest(id=rid_))
    finally:
        clock.advance(-moved)

    def counted() -> pb.StatisticsTable | None:
        t = clients.table(measure="deadlines", groupings=["instrument", "deadline"], period_start=since)
        return t if t.total.count == 10 else None

    table = eventually(counted, timeout=30)
    got = {tuple(c.key): (c.count, c.met, c.missed) for c in table.cells}
    assert got == {("EPOC", "PRODUCE"): (5, 0, 5), ("EPOC", "COMPLIANCE"): (5, 5, 0)}


def test_the_enforcing_states_decisions_are_counted_per_enforcing_state(clients: Clients) -> None:
    """Reg. (EU) 2023/1543 Art. 16(2): fifteen EPOCs NL -> a provider in IE that reported them not executed,
    transferred for enforcement, ten to IE and five to LU (a legal representative there). IE recognises five
    at once and five when its 5 working days have passed; LU has not decided yet. Per enforcing state: IE
    10 transfers, 5 met and 5 missed; LU 5, all open. None of them is among the provider's deadlines, and
    the evaluation has the table."""
    clock = clients.evidence_svc.app.clock
    since = ts(datetime.now(UTC))
    made = [_issued_epoc(clients) for _ in range(15)]
    for i, r in enumerate(made):
        not_executed = ev.ReportNotExecutedRequest(id=r.id, reason=ev.NON_EXECUTION_REASON_OTHER, detail="no answer")
        clients.call(clients.evidence, "nl-prosecutor", "ReportNotExecuted", not_executed)
        transfer = ev.TransferForEnforcementRequest(id=r.id, enforcing_jurisdiction="LU" if i >= 10 else "")
        clients.call(clients.evidence, "nl-prosecutor", "TransferForEnforcement", transfer)

    def recognise(requests: list[ev.EvidenceRequest]) -> None:
        for r in requests:
            recognised = ev.RecogniseEnforcementRequest(id=r.id, compliance_days=10)
            clients.call(clients.evidence, "ie-prosecutor", "RecogniseEnforcement", recognised)

    recognise(made[:5])
    late = timedelta(days=10)  # past 5 working days, whatever the weekends and IE's holidays
    clock.advance(late)
    try:
        recognise(made[5:10])
    finally:
        clock.advance(-late)

    def counted() -> pb.StatisticsTable | None:
        t = clients.table(measure="enforcement", groupings=["enforcing"], period_start=since)
        return t if (t.total.count, t.total.met + t.total.missed) == (15, 10) else None

    table = eventually(counted, timeout=30)
    got = {tuple(c.key): (c.count, c.met, c.missed, c.open) for c in table.cells}
    assert got == {("IE",): (10, 5, 5, 0), ("LU",): (5, 0, 0, 5)}
    kinds = clients.table(measure="deadlines", groupings=["deadline"], period_start=since)
    assert "ENFORCEMENT" not in {c.key[0] for c in kinds.cells}
    export = clients.call(
        clients.stats, "nl-prosecutor", "ExportEvaluation", pb.ExportEvaluationRequest(workspace_id=WS)
    )
    rows = list(csv.DictReader(io.StringIO(export.csv.decode())))
    lu = next(
        r for r in rows if r["statistic"] == "enforcement decisions in time by enforcing state" and r["value_1"] == "LU"
    )
    assert (lu["count"], lu["open"]) == ("5", "5")


@pytest.fixture(scope="module")
def preservation(
    services: tuple[Any, Any, Any], keycloak: Any, own_nats: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A preservation service (SQLite) on this module's NATS, for the tests that count its orders."""
    from jitlib.config import CommonSettings
    from services.preservation.app import PreservationSettings, spec
    from tests.harness import start_service

    state = tmp_path_factory.mktemp("stats-preservation")
    common = CommonSettings(nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=state)
    settings = PreservationSettings(
        listen="127.0.0.1:0",
        database_url=f"sqlite:///{state / 'preservation.db'}",
        consumer_group=f"p-{uuid.uuid4().hex[:8]}",
    )
    svc = start_service(spec(settings), settings, common)
    wait_for_workspace(svc, WS)
    yield svc
    svc.stop()


def test_epoc_prs_transferred_for_enforcement_are_counted_with_their_instrument(
    clients: Clients, preservation: Any
) -> None:
    """Reg. (EU) 2023/1543 Art. 16(2) for preservation: ten restricted EPOC-PRs NL -> socialnet-ie, recorded not
    executed and transferred for enforcement to IE (the provider's establishment); IE recognises five at once
    and leaves five undecided. From the preservation events: under EPOC_PR and IE, 10 transfers, 5 met, 5 open;
    IE, the enforcing state, counts them as NL does, DE (a member, no party) counts none."""
    stub = preservation_pb2_grpc.PreservationServiceStub(preservation.channel)
    since = ts(datetime.now(UTC))
    transferred = []
    for _ in range(10):
        create = pr.CreateOrderRequest(
            request_id=rid(),
            workspace_id=WS,
            legal_basis=pr.LEGAL_BASIS_EPOC_PR,
            provider_id="socialnet-ie",
            targets=[pr.TargetIdentifier(kind=pr.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
            data_categories=[pr.DATA_CATEGORY_SUBSCRIBER],
            description="Preserve the account's subscriber data",
            visibility=common_pb2.VISIBILITY_RESTRICTED,
        )
        order = clients.call(stub, "nl-prosecutor", "CreateOrder", create).order
        clients.call(stub, "nl-prosecutor", "IssueOrder", pr.IssueOrderRequest(id=order.id))
        not_executed = pr.RecordNotExecutedRequest(id=order.id, reason=pr.NOT_EXECUTED_REASON_OTHER)
        clients.call(stub, "nl-liaison", "RecordNotExecuted", not_executed)
        transfer = pr.TransferForEnforcementRequest(id=order.id)
        transferred.append(clients.call(stub, "nl-prosecutor", "TransferForEnforcement", transfer).order)
    assert {(o.state, o.enforcing_jurisdiction) for o in transferred} == {
        (pr.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT, "IE")
    }
    for o in transferred[:5]:
        clients.call(stub, "ie-prosecutor", "RecogniseEnforcement", pr.RecogniseEnforcementRequest(id=o.id))

    def counted(user: str) -> pb.StatisticsTable | None:
        t = clients.table(user, measure="enforcement", groupings=["instrument", "enforcing"], period_start=since)
        return t if (t.total.count, t.total.met) == (10, 5) else None

    table = eventually(lambda: counted("nl-prosecutor"), timeout=30)
    got = {tuple(c.key): (c.count, c.met, c.missed, c.open) for c in table.cells}
    assert got == {("EPOC_PR", "IE"): (10, 5, 0, 5)}
    ie = counted("ie-prosecutor")
    assert ie is not None and {tuple(c.key): c.count for c in ie.cells} == {("EPOC_PR", "IE"): 10}
    de = clients.table("de-prosecutor", measure="enforcement", groupings=["enforcing"], period_start=since)
    assert (de.total.count, list(de.cells)) == (0, [])
    orders = clients.table(measure="orders", groupings=["instrument"], period_start=since)
    assert cells(orders) == {("EPOC_PR",): 10}  # orders, each once, beside their transfers


def test_after_the_workspace_key_is_shredded_the_attributes_count_as_not_recorded(clients: Clients) -> None:
    """Last in this module: it destroys jit-demo's content key in the victims service. The statistics go on,
    and the victims whose attributes were sealed under it count as NOT_RECORDED; the retention hook deletes
    the attributes and which victims the records concerned (they count as NO_VICTIM)."""
    svc = clients.svc
    before = clients.table(measure="victims", groupings=["gender"], k=1000)
    assert before.cells  # the victims of the tests above, under k=1000 all suppressed but present
    before_total = clients.table(measure="victims").total.count

    def shred(session: Any) -> None:
        svc.rt.content_keys.shred(session, WS)

    svc.loop.run(svc.rt.db.write(shred))
    after = clients.call(
        clients.stats,
        "nl-prosecutor",
        "GetStatistics",
        pb.GetStatisticsRequest(measure="victims", groupings=["gender"], workspace_id=WS, k=5),
    ).table
    # Everyone is NOT_RECORDED now: every value is a cell, and all are hidden (shown, one would be everyone's).
    assert all(c.suppressed for c in after.cells) and len(after.cells) == 5 and after.total.count == before_total
    from services.victims import stats_store

    opened = svc.loop.run(svc.rt.read(lambda s: stats_store.attributes_in(s, {WS})))
    assert opened and not any(opened.values())  # the rows are there, but no longer open
    # The retention sweep's hook then deletes the attributes and the records' links to the victims.
    erased = svc.loop.run(svc.rt.db.write(lambda s: stats_store.erase_workspace(s, WS)))
    # The withdrawals kept for retries (the two tests above) go too.
    assert erased == {
        "special_categories_deleted": 15,
        "special_category_withdrawals_deleted": 2,
        "statistics_victim_links_erased": 5,
    }
    by_gender = cells(clients.table(measure="tasks", groupings=["gender"]))
    # Every task names no victim now: they show as NO_VICTIM (a line behind which no victim is hides nothing).
    assert by_gender.pop(("NO_VICTIM",)) == 13 and set(by_gender.values()) == {None}


def _issued_epoc(clients: Clients) -> ev.EvidenceRequest:
    """NL's EPOC (no notification) to a provider in IE for an account's subscriber data, issued."""
    request = _subscriber_data_request(
        legal_basis=ev.LEGAL_BASIS_EPOC,
        epoc_procedure=ev.EPOC_PROCEDURE_STANDARD,
        addressee_kind=ev.ADDRESSEE_KIND_SERVICE_PROVIDER,
        addressee_jurisdiction="IE",
        provider_name="SocialNet Ireland Ltd",
        offence_category=ev.OFFENCE_CATEGORY_CYBERSTALKING,
    )
    r = clients.call(clients.evidence, "nl-prosecutor", "CreateRequest", request).request
    return clients.call(clients.evidence, "nl-prosecutor", "IssueRequest", ev.IssueRequestRequest(id=r.id)).request


def _subscriber_data_request(**over: Any) -> ev.CreateRequestRequest:
    """NL's request for an account's subscriber data in the workspace: an EIO to DE unless ``over`` says other."""
    fields: dict[str, Any] = dict(
        request_id=rid(),
        workspace_id=WS,
        legal_basis=ev.LEGAL_BASIS_EIO,
        issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
        addressee_kind=ev.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction="DE",
        data_categories=[ev.DATA_CATEGORY_SUBSCRIBER],
        targets=[ev.TargetIdentifier(type=ev.TARGET_TYPE_ACCOUNT_HANDLE, value="@x", platform="instagram")],
        urgency=ev.URGENCY_NORMAL,
        title="Subscriber data",
    )
    return ev.CreateRequestRequest(**{**fields, **over})
