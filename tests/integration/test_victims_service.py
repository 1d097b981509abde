"""The victims service end to end with real Keycloak tokens, real NATS JetStream and a real database (each
test module runs once on SQLite and once on PostgreSQL): victims as pseudonyms, their identity sealed and
read with need to know only, what they were told and where they were referred (issue 16)."""

from __future__ import annotations

import concurrent.futures
import logging
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from sqlalchemy import select

from jit.events.v1.envelope_pb2 import Envelope
from jit.victims.v1 import victims_pb2 as pb
from jit.victims.v1 import victims_pb2_grpc
from services.victims import store
from services.victims.domain import PSEUDONYM
from tests.conftest import read_stream
from tests.harness import demo_user_claiming, error_reason, field_violations, md, rid

pytestmark = pytest.mark.integration
WS = "jit-demo"
MARK = uuid.uuid4().hex[:10]


def ts(dt: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt)
    return out


def identity(tag: str = "") -> pb.VictimIdentity:
    """An identity whose every field carries this run's mark, so that a search finds any copy of it."""
    tag = tag or uuid.uuid4().hex[:6]
    return pb.VictimIdentity(
        full_name=f"Anna zzname{MARK}{tag}",
        date_of_birth="1994-05-17",
        contact=f"Keizersgracht zzcontact{MARK}{tag}",
        languages=["nl", "en"],
        needs=f"zzneeds{MARK}{tag}",
    )


class Client:
    def __init__(self, svc: Any, tokens: Any) -> None:
        self.svc = svc
        self.stub = victims_pb2_grpc.VictimServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=15)

    def register(self, user: str = "nl-prosecutor", **over: Any) -> pb.Victim:
        fields: dict[str, Any] = dict(request_id=rid(), workspace_id=WS, victim_jurisdiction="NL", identity=identity())
        fields.update(over)
        return self.call(user, "RegisterVictim", pb.RegisterVictimRequest(**fields)).victim

    def refused(self, user: str, method: str, request: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        return info.value

    def identity_of(self, user: str, victim_id: str, purpose: str = "hearing the victim") -> Any:
        return self.call(user, "GetVictimIdentity", pb.GetVictimIdentityRequest(id=victim_id, purpose=purpose))


@pytest.fixture(scope="module")
def client(victims_svc: Any, tokens: Any) -> Client:
    return Client(victims_svc, tokens)


@pytest.fixture(scope="module")
def de_outsider(keycloak: Any) -> str:
    """A DEMO ONLY DE prosecutor who is not a member of the demo JIT (no workspace group)."""
    return demo_user_claiming(keycloak, "jit", "DE")


# -- pseudonyms -------------------------------------------------------------------------------------------


def test_victim_pseudonym_is_the_leads_code_and_a_sequence_on_the_leads_node(client: Client) -> None:
    """VICTIM_PSEUDONYM, VICTIM_HELD_BY_LEAD: V-NL-<NNNN>, one more per registration, whoever registers."""
    first = client.register()
    second = client.register("de-liaison", victim_jurisdiction="DE")
    for v in (first, second):
        assert PSEUDONYM.match(v.pseudonym), v.pseudonym
        assert v.pseudonym.startswith("V-NL-") and v.origin_jurisdiction == "NL"
    assert int(second.pseudonym.rsplit("-", 1)[1]) == int(first.pseudonym.rsplit("-", 1)[1]) + 1
    assert second.victim_jurisdiction == "DE" and second.registered_by.jurisdiction == "DE"
    assert second.registered_by.username == "de-liaison"


def test_victim_pseudonym_concurrent_registrations_never_share_a_number(client: Client) -> None:
    """VICTIM_PSEUDONYM: the number is drawn in the registration's own transaction (one upsert)."""
    client.tokens("nl-prosecutor")  # one login first: the threads share the cached token
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        victims = list(pool.map(lambda _: client.register(), range(16)))
    numbers = sorted(int(v.pseudonym.rsplit("-", 1)[1]) for v in victims)
    assert numbers == list(range(numbers[0], numbers[0] + 16))


def test_a_replayed_registration_returns_the_same_victim_and_a_changed_one_is_refused(client: Client) -> None:
    request = pb.RegisterVictimRequest(request_id=rid(), workspace_id=WS, victim_jurisdiction="NL", identity=identity())
    first = client.call("nl-prosecutor", "RegisterVictim", request).victim
    again = client.call("nl-prosecutor", "RegisterVictim", request).victim
    assert again.id == first.id and again.pseudonym == first.pseudonym
    other = pb.RegisterVictimRequest()
    other.CopyFrom(request)
    other.identity.full_name = "Someone else"
    err = client.refused("nl-prosecutor", "RegisterVictim", other)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "REQUEST_ID_REUSED"


def test_everyone_in_the_workspace_sees_the_pseudonym_and_nothing_of_the_identity(client: Client) -> None:
    victim = client.register()
    for user in ("ie-liaison", "eurojust-analyst", "de-prosecutor"):
        seen = client.call(user, "GetVictim", pb.GetVictimRequest(id=victim.id)).victim
        assert seen.pseudonym == victim.pseudonym and MARK not in str(seen)
    listed = client.call("ie-liaison", "ListVictims", pb.ListVictimsRequest(workspace_id=WS, page_size=200))
    assert victim.id in {v.id for v in listed.victims}
    assert MARK not in str(listed)


def test_registration_is_for_the_lead_or_the_victims_jurisdiction(client: Client) -> None:
    # IE is a member but neither the lead (NL) nor the victim's jurisdiction (DE).
    err = client.refused(
        "ie-prosecutor",
        "RegisterVictim",
        pb.RegisterVictimRequest(request_id=rid(), workspace_id=WS, victim_jurisdiction="DE", identity=identity()),
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = client.refused(
        "fr-prosecutor",
        "RegisterVictim",
        pb.RegisterVictimRequest(request_id=rid(), workspace_id=WS, victim_jurisdiction="NL", identity=identity()),
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND


# -- the identity: need to know ---------------------------------------------------------------------------


def test_victim_identity_need_to_know_reads_it_with_a_purpose(client: Client) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: a prosecutor or police liaison of the victim's jurisdiction in the
    workspace reads the identity, stating a purpose, and the read is kept with that purpose."""
    sent = identity()
    victim = client.register("de-liaison", victim_jurisdiction="DE", identity=sent)
    for user in ("de-prosecutor", "de-liaison"):
        got = client.identity_of(user, victim.id, purpose=f"prepare the hearing {user}")
        assert got.identity == sent and got.victim.pseudonym == victim.pseudonym
        assert "identity" in got.victim.allowed_actions

    def reads(session: Any) -> list[tuple[Any, Any, str]]:
        return store.identity_reads(session, victim.id)

    logged = client.svc.loop.run(client.svc.rt.read(reads))
    assert [(a.username, p) for a, _, p in logged] == [
        ("de-prosecutor", "prepare the hearing de-prosecutor"),
        ("de-liaison", "prepare the hearing de-liaison"),
    ]


@pytest.mark.parametrize(
    "user",
    ["nl-prosecutor", "nl-liaison", "ie-prosecutor", "eurojust-analyst", "fr-prosecutor", "nl-operator", "nl-auditor"],
)
def test_without_need_to_know_the_identity_does_not_exist(client: Client, user: str) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: the lead's own prosecutor (another jurisdiction than the victim's), a
    participant, a non-member, an operator and an auditor all get NOT_FOUND, as for an unknown id."""
    victim = client.register("de-prosecutor", victim_jurisdiction="DE")
    err = client.refused(user, "GetVictimIdentity", pb.GetVictimIdentityRequest(id=victim.id, purpose="curious"))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert MARK not in (err.details() or "")


def test_the_victims_jurisdictions_user_outside_the_workspace_gets_not_found(client: Client, de_outsider: str) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: DE, but not a member of the JIT."""
    victim = client.register("de-prosecutor", victim_jurisdiction="DE")
    err = client.refused(de_outsider, "GetVictimIdentity", pb.GetVictimIdentityRequest(id=victim.id, purpose="x"))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = client.refused(de_outsider, "GetVictim", pb.GetVictimRequest(id=victim.id))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_an_unknown_victims_identity_is_not_found_like_a_hidden_one(client: Client) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: the same answer whether the victim exists or not."""
    missing = "01935c4e-0000-7000-8000-00000000dead"
    for user in ("de-prosecutor", "nl-operator"):
        err = client.refused(user, "GetVictimIdentity", pb.GetVictimIdentityRequest(id=missing, purpose="x"))
        assert err.code() == grpc.StatusCode.NOT_FOUND


def test_an_identity_read_without_a_purpose_is_refused(client: Client) -> None:
    victim = client.register("de-prosecutor", victim_jurisdiction="DE")
    err = client.refused("de-prosecutor", "GetVictimIdentity", pb.GetVictimIdentityRequest(id=victim.id))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "purpose" in field_violations(err)


def test_the_identity_is_nowhere_in_the_database_in_clear(client: Client, db_url: str) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: every row of every table, and on SQLite every byte of its files."""
    tag = uuid.uuid4().hex[:6]
    victim = client.register("de-prosecutor", victim_jurisdiction="DE", identity=identity(tag))
    client.call(
        "de-prosecutor",
        "RecordReferral",
        pb.RecordReferralRequest(request_id=rid(), victim_id=victim.id, service_name=f"zzservice{MARK}", consent=True),
    )
    secrets = [f"zzname{MARK}{tag}", f"zzcontact{MARK}{tag}", f"zzneeds{MARK}{tag}", f"zzservice{MARK}"]

    def every_row(session: Any) -> str:
        out = []
        for table in store.Base.metadata.sorted_tables:
            out += [repr(tuple(r)) for r in session.execute(select(table))]
        return "\n".join(out)

    dump = client.svc.loop.run(client.svc.rt.read(every_row))
    for secret in secrets:
        assert secret not in dump
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        with closing(sqlite3.connect(path)) as checkpointing:  # the WAL's pages into the file, read below
            checkpointing.execute("PRAGMA wal_checkpoint(FULL)").fetchall()
        blobs = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for secret in secrets:
            assert secret.encode() not in blobs
    # ... and the service still answers it to need-to-know.
    assert client.identity_of("de-prosecutor", victim.id).identity.full_name == f"Anna zzname{MARK}{tag}"


def test_the_identity_is_in_no_log_line_nor_trace_span(
    client: Client, spans: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: what the service logs and traces (at DEBUG) never names the victim."""
    tag = uuid.uuid4().hex[:6]
    with caplog.at_level(logging.DEBUG):
        victim = client.register("de-prosecutor", victim_jurisdiction="DE", identity=identity(tag))
        client.identity_of("de-prosecutor", victim.id, purpose=f"zzpurpose{MARK}{tag}")
        client.refused("ie-prosecutor", "GetVictimIdentity", pb.GetVictimIdentityRequest(id=victim.id, purpose="x"))
    secrets = [f"zzname{MARK}{tag}", f"zzcontact{MARK}{tag}", f"zzneeds{MARK}{tag}", f"zzpurpose{MARK}{tag}"]
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    traced = "".join(repr(dict(s.attributes or {})) + repr(s.events) for s in spans.get_finished_spans())
    assert f"zzname{MARK}" in repr(identity(tag))  # the search would find it
    finished = spans.get_finished_spans()
    assert any("GetVictimIdentity" in sp.name for sp in finished) and any(sp.name == "db write" for sp in finished)
    for secret in secrets:
        assert secret not in logged and secret not in traced


def test_each_identity_read_and_refusal_is_in_the_audit_chain(client: Client) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: who asked for which victim's identity, when, with what outcome."""
    victim = client.register("de-prosecutor", victim_jurisdiction="DE")
    client.identity_of("de-liaison", victim.id)
    client.refused("nl-prosecutor", "GetVictimIdentity", pb.GetVictimIdentityRequest(id=victim.id, purpose="x"))
    log = store.RUNTIME.audit_log

    def entries(session: Any) -> list[tuple[str, str, str, str]]:
        rows = session.execute(
            select(log.c.username, log.c.jurisdiction, log.c.operation, log.c.outcome)
            .where(log.c.record_id == victim.id, log.c.record_type == "victim_identity")
            .order_by(log.c.seq)
        )
        return [tuple(r) for r in rows]

    client.svc.audit_linked()
    got = client.svc.loop.run(client.svc.rt.read(entries))
    method = "/jit.victims.v1.VictimService/GetVictimIdentity"
    assert got == [("de-liaison", "DE", method, "ok"), ("nl-prosecutor", "NL", method, "not_found")]


def test_the_identity_is_in_no_event_on_nats(client: Client, nats_server: Any) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: the events carry the pseudonym only."""
    tag = uuid.uuid4().hex[:6]
    victim = client.register("nl-prosecutor", identity=identity(tag))
    client.call(
        "nl-prosecutor",
        "RecordVictimNotice",
        pb.RecordVictimNoticeRequest(
            request_id=rid(),
            victim_id=victim.id,
            step=pb.NOTICE_STEP_RIGHTS_EXPLAINED,
            language="nl",
            channel=pb.NOTICE_CHANNEL_IN_PERSON,
            note=f"zznote{MARK}{tag}",
        ),
    )

    def published() -> list[Any]:
        msgs = read_stream(nats_server.url, "JIT_VICTIMS", "jit.victims.NL.>")
        mine = []
        for m in msgs:
            env = Envelope()
            env.ParseFromString(m.data)
            if env.aggregate_id == victim.id:
                mine.append((m, env))
        return mine

    from tests.harness import eventually

    events = eventually(lambda: (lambda got: got if len(got) >= 2 else None)(published()))
    assert [e.type for _, e in events] == ["jit.victims.v1.VictimRegistered", "jit.victims.v1.VictimNoticeRecorded"]
    for m, env in events:
        assert MARK.encode() not in m.data
        state = pb.Victim()
        env.state.Unpack(state)
        assert state.pseudonym == victim.pseudonym and not state.allowed_actions
        assert set(env.audience) == {"NL", "DE", "IE", "EUROJUST"}


# -- information rights and referrals ---------------------------------------------------------------------


def test_victim_information_rights_each_notice_is_recorded_with_when_who_language_how(client: Client) -> None:
    """VICTIM_INFORMATION_RIGHTS"""
    victim = client.register("de-liaison", victim_jurisdiction="DE")
    told = datetime.now(UTC) - timedelta(hours=3)
    req = pb.RecordVictimNoticeRequest(
        request_id=rid(),
        victim_id=victim.id,
        expected_version=victim.version,
        step=pb.NOTICE_STEP_TRIAL_TIME_AND_PLACE,
        told_at=ts(told),
        language="de",
        channel=pb.NOTICE_CHANNEL_LETTER,
    )
    answer = client.call("de-liaison", "RecordVictimNotice", req)
    assert answer.victim.version == victim.version + 1 and answer.victim.notices_count == 1
    assert answer.notice.told_by.username == "de-liaison" and answer.notice.language == "de"
    assert abs(answer.notice.told_at.ToDatetime(tzinfo=UTC) - told) < timedelta(seconds=1)
    # A replay records nothing more.
    again = client.call("de-liaison", "RecordVictimNotice", req)
    assert again.notice.id == answer.notice.id
    # The lead records one too (it holds the case: the trial).
    client.call(
        "nl-prosecutor",
        "RecordVictimNotice",
        pb.RecordVictimNoticeRequest(
            request_id=rid(),
            victim_id=victim.id,
            step=pb.NOTICE_STEP_STATE_OF_PROCEEDINGS,
            language="en",
            channel=pb.NOTICE_CHANNEL_EMAIL,
        ),
    )
    listed = client.call("ie-liaison", "ListVictimNotices", pb.ListVictimNoticesRequest(victim_id=victim.id))
    assert [n.step for n in listed.notices] == [
        pb.NOTICE_STEP_TRIAL_TIME_AND_PLACE,
        pb.NOTICE_STEP_STATE_OF_PROCEEDINGS,
    ]
    # A stale version is refused.
    stale = pb.RecordVictimNoticeRequest()
    stale.CopyFrom(req)
    stale.request_id = rid()
    err = client.refused("de-liaison", "RecordVictimNotice", stale)
    assert err.code() == grpc.StatusCode.ABORTED and error_reason(err) == "VERSION_MISMATCH"
    # IE is neither the lead nor the victim's jurisdiction.
    stale.expected_version = 0
    err = client.refused("ie-prosecutor", "RecordVictimNotice", stale)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_victim_support_referral_needs_the_victims_consent(client: Client) -> None:
    """VICTIM_SUPPORT_REFERRAL"""
    victim = client.register("nl-liaison")
    without = pb.RecordReferralRequest(request_id=rid(), victim_id=victim.id, service_name="Slachtofferhulp Nederland")
    err = client.refused("nl-liaison", "RecordReferral", without)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "consent" in field_violations(err)
    with_consent = pb.RecordReferralRequest(
        request_id=rid(), victim_id=victim.id, service_name="Slachtofferhulp Nederland", consent=True
    )
    answer = client.call("nl-liaison", "RecordReferral", with_consent)
    assert answer.referral.consent and answer.referral.referred_on == datetime.now(UTC).date().isoformat()
    assert answer.victim.referrals_count == 1
    assert client.call("nl-liaison", "RecordReferral", with_consent).referral.id == answer.referral.id
    seen = client.call("ie-liaison", "GetVictim", pb.GetVictimRequest(id=victim.id)).victim
    assert [r.service_name for r in seen.referrals] == ["Slachtofferhulp Nederland"]


# -- bad input --------------------------------------------------------------------------------------------


BAD_REGISTRATIONS = [
    ({"request_id": "nope"}, "request_id"),
    ({"workspace_id": "Bad WS"}, "workspace_id"),
    ({"victim_jurisdiction": ""}, "victim_jurisdiction"),
    ({"victim_jurisdiction": "FR"}, "victim_jurisdiction"),
    ({"identity": pb.VictimIdentity()}, "identity.full_name"),
    ({"identity": pb.VictimIdentity(full_name="A", date_of_birth="17/05/1994")}, "identity.date_of_birth"),
    ({"identity": pb.VictimIdentity(full_name="A", date_of_birth="2999-01-01")}, "identity.date_of_birth"),
    ({"identity": pb.VictimIdentity(full_name="A\x1b[2J")}, "identity.full_name"),
    ({"identity": pb.VictimIdentity(full_name="A" * 201)}, "identity.full_name"),
    ({"identity": pb.VictimIdentity(full_name="A", languages=["Dutch!"])}, "identity.languages[0]"),
]


@pytest.mark.parametrize(("over", "field"), BAD_REGISTRATIONS)
def test_a_bad_registration_names_the_field_and_writes_nothing(
    client: Client, over: dict[str, Any], field: str
) -> None:
    fields: dict[str, Any] = dict(request_id=rid(), workspace_id=WS, victim_jurisdiction="NL", identity=identity())
    fields.update(over)

    def count(session: Any) -> int:
        return len(session.execute(select(store.VictimRow.id)).all())

    before = client.svc.loop.run(client.svc.rt.read(count))
    err = client.refused("nl-prosecutor", "RegisterVictim", pb.RegisterVictimRequest(**fields))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(err)
    assert "\x1b" not in (err.details() or "") and "A" * 201 not in (err.details() or "")
    assert client.svc.loop.run(client.svc.rt.read(count)) == before


def test_a_bad_notice_names_each_field(client: Client) -> None:
    victim = client.register()
    err = client.refused(
        "nl-prosecutor",
        "RecordVictimNotice",
        pb.RecordVictimNoticeRequest(
            request_id=rid(),
            victim_id=victim.id,
            step=99,  # type: ignore[arg-type]
            language="",
            told_at=ts(datetime.now(UTC) + timedelta(days=1)),
        ),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"step", "channel", "language", "told_at"} <= set(field_violations(err))
