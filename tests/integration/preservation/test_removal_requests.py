"""Removal requests to platforms (issue 18) end to end: real Keycloak tokens, real NATS JetStream, a real
database (SQLite and PostgreSQL): each state and clock with its source, preserve before removing, re-uploads,
bad input, and who may do what."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import preservation_pb2 as ppb
from jit.preservation.v1 import removal_pb2 as pb
from jit.preservation.v1 import removal_pb2_grpc
from jitdev.nats import NatsInstance
from tests.conftest import read_stream
from tests.harness import RunningService, error_reason, eventually, field_violations, md, registered_victims, rid
from tests.integration.preservation.conftest import WS, Client, now_utc, ts

pytestmark = pytest.mark.integration

HASH = hashlib.sha256(b"image-1").hexdigest()
HOUR = timedelta(hours=1)


class Removals:
    def __init__(self, svc: RunningService, tokens: Any) -> None:
        self.stub = removal_pb2_grpc.RemovalServiceStub(svc.channel)
        self.tokens = tokens

    def call(self, user: str, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, metadata=md(self.tokens(user)), timeout=20)

    @staticmethod
    def request(**over: Any) -> pb.CreateRemovalRequest:
        fields: dict[str, Any] = dict(
            request_id=rid(),
            workspace_id=WS,
            basis=pb.REMOVAL_BASIS_DSA_ART9_ORDER,
            provider_id="socialnet-ie",
            items=[pb.ContentItem(url="https://socialnet.example/p/1", account="@nobody_here", sha256=HASH)],
            proceed_without_preservation_reason="the content was already gone from the account's page",
        )
        fields.update(over)
        return pb.CreateRemovalRequest(**fields)

    def create(self, user: str = "nl-liaison", **over: Any) -> pb.RemovalRequest:
        return self.call(user, "CreateRemoval", self.request(**over)).removal

    def create_error(self, user: str = "nl-liaison", **over: Any) -> grpc.RpcError:
        return self.error(user, "CreateRemoval", self.request(**over))

    def error(self, user: str, method: str, request: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            self.call(user, method, request)
        return info.value


@pytest.fixture(scope="module")
def removals(preservation_svc: RunningService, tokens: Any) -> Removals:
    return Removals(preservation_svc, tokens)


@pytest.fixture(scope="module")
def orders(preservation_svc: RunningService, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


def at(ts_value: Any) -> datetime:
    return ts_value.ToDatetime().replace(tzinfo=now_utc().tzinfo)


def test_removal_preserve_first_without_a_live_order_asks_for_a_reason(
    removals: Removals, preservation_svc: RunningService
) -> None:
    """REMOVAL_PRESERVE_FIRST: no live preservation order of the target: FAILED_PRECONDITION
    NO_LIVE_PRESERVATION, nothing written; with a reason the request is sent and the reason recorded, sealed."""
    err = removals.create_error(
        "nl-liaison",
        items=[pb.ContentItem(url="https://socialnet.example/p/unpreserved")],
        proceed_without_preservation_reason="",
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(err) == "NO_LIVE_PRESERVATION"
    assert "Reg. (EU) 2021/784" in (err.details() or "")
    created = removals.create(items=[pb.ContentItem(url="https://socialnet.example/p/unpreserved")])
    assert created.state == pb.REMOVAL_REQUEST_STATE_SENT and created.preservation_order_id == ""
    assert created.proceed_without_preservation_reason.startswith("the content was already gone")

    from services.preservation.store import RemovalRow

    def row(session: Any) -> Any:
        return session.execute(
            select(RemovalRow.items, RemovalRow.proceed_without_preservation_reason, RemovalRow.sealed).where(
                RemovalRow.id == created.id
            )
        ).one()

    items, reason, sealed = preservation_svc.loop.run(preservation_svc.rt.read(row))
    assert items == "" and reason == "" and sealed and b"unpreserved" not in sealed  # sealed at rest


def test_removal_preserve_first_links_the_live_order_whose_expiry_the_removal_leaves_unchanged(
    removals: Removals, orders: Client
) -> None:
    """REMOVAL_PRESERVE_FIRST: a live order of the same platform whose target is the item's account is linked;
    the order's clock keeps running after the content is removed (its expiry and state unchanged)."""
    handle = f"@rev_{rid()[:8]}"
    order = orders.confirmed(
        targets=[ppb.TargetIdentifier(kind=ppb.TARGET_KIND_ACCOUNT_HANDLE, value=handle)],
    )
    removal = removals.create(
        items=[pb.ContentItem(url="https://socialnet.example/p/2", account=handle.upper(), sha256=HASH)],
        proceed_without_preservation_reason="",
    )
    assert removal.preservation_order_id == order.id and removal.proceed_without_preservation_reason == ""
    removals.call("nl-liaison", "RecordRemoved", pb.RecordRemovedRequest(id=removal.id))
    after = orders.call("nl-liaison", "GetOrder", ppb.GetOrderRequest(id=order.id)).order
    assert after.expires_at == order.expires_at and after.state == order.state and after.version == order.version
    # Named explicitly, an order that is not live (a draft) is refused.
    draft = orders.create(targets=[ppb.TargetIdentifier(kind=ppb.TARGET_KIND_ACCOUNT_HANDLE, value=handle)])
    err = removals.create_error(
        "nl-liaison",
        items=[pb.ContentItem(url="https://socialnet.example/p/3")],
        preservation_order_id=draft.id,
        proceed_without_preservation_reason="",
    )
    assert error_reason(err) == "NO_LIVE_PRESERVATION"


def test_removal_platform_answers_each_state_recorded_with_when_the_platform_answered(
    removals: Removals, pnats: NatsInstance
) -> None:
    """REMOVAL_PLATFORM_ANSWERS: SENT -> ACKNOWLEDGED -> REMOVED -> APPEALED -> RESTORED, each answer with its
    time, each an event jit.preservation.NL.removal_<event> with the full request as state."""
    sent = now_utc() - 5 * HOUR
    r = removals.create(sent_at=ts(sent), victim_refs=[])
    assert abs(at(r.sent_at) - sent) < timedelta(seconds=1)
    ack = removals.call(
        "nl-liaison", "AcknowledgeRemoval", pb.AcknowledgeRemovalRequest(id=r.id, answered_at=ts(sent + HOUR))
    ).removal
    assert ack.state == pb.REMOVAL_REQUEST_STATE_ACKNOWLEDGED and abs(at(ack.acknowledged_at) - (sent + HOUR)) < HOUR
    assert not ack.past_due and "removed" in ack.allowed_actions
    removed = removals.call(
        "nl-prosecutor",
        "RecordRemoved",
        pb.RecordRemovedRequest(id=r.id, expected_version=ack.version, answered_at=ts(sent + 2 * HOUR)),
    ).removal
    assert removed.state == pb.REMOVAL_REQUEST_STATE_REMOVED and removed.HasField("decided_at")
    assert not removed.past_due and removed.removed_at == removed.decided_at
    appealed = removals.call(
        "nl-liaison", "RecordAppealed", pb.RecordAppealedRequest(id=r.id, details="the uploader complained")
    ).removal
    assert appealed.state == pb.REMOVAL_REQUEST_STATE_APPEALED and appealed.state_reason == "the uploader complained"
    restored = removals.call("nl-liaison", "RecordRestored", pb.RecordRestoredRequest(id=r.id)).removal
    assert restored.state == pb.REMOVAL_REQUEST_STATE_RESTORED and restored.allowed_actions == []
    err = removals.error("nl-liaison", "RecordRemoved", pb.RecordRemovedRequest(id=r.id, expected_version=1))
    assert err.code() == grpc.StatusCode.ABORTED

    def events() -> list[Envelope] | None:
        msgs = read_stream(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.*")
        envs = [e for e in (Envelope.FromString(m.data) for m in msgs) if e.aggregate_id == r.id]
        return envs if len(envs) >= 5 else None

    envs = eventually(events, timeout=30)
    assert [e.type for e in envs] == [
        "jit.preservation.v1.RemovalRequestCreated",
        "jit.preservation.v1.RemovalRequestAcknowledged",
        "jit.preservation.v1.RemovalRequestRemoved",
        "jit.preservation.v1.RemovalRequestAppealed",
        "jit.preservation.v1.RemovalRequestRestored",
    ]
    state = pb.RemovalRequest()
    assert envs[2].state.Unpack(state) and state.state == pb.REMOVAL_REQUEST_STATE_REMOVED
    assert state.provider_id == "socialnet-ie" and state.HasField("due_at") and state.HasField("answered_at")
    assert envs[2].aggregate_type == "removal_request" and state.allowed_actions == []


def test_removal_platform_answers_refused_with_reason_and_geo_blocked_where(removals: Removals) -> None:
    """REMOVAL_PLATFORM_ANSWERS: a refusal carries its reason and details; a geo-block its jurisdictions."""
    a = removals.create()
    refused = removals.call(
        "nl-liaison",
        "RecordRefused",
        pb.RecordRefusedRequest(id=a.id, reason=pb.REFUSAL_REASON_NOT_ILLEGAL, details="lawful satire, they say"),
    ).removal
    assert refused.state == pb.REMOVAL_REQUEST_STATE_REFUSED and refused.refusal_reason == pb.REFUSAL_REASON_NOT_ILLEGAL
    assert refused.state_reason == "lawful satire, they say" and refused.allowed_actions == []
    b = removals.create()
    blocked = removals.call(
        "nl-liaison", "RecordGeoBlocked", pb.RecordGeoBlockedRequest(id=b.id, blocked_in=["NL", "DE"])
    ).removal
    assert blocked.state == pb.REMOVAL_REQUEST_STATE_GEO_BLOCKED and list(blocked.blocked_in) == ["DE", "NL"]
    err = removals.error("nl-liaison", "RecordRefused", pb.RecordRefusedRequest(id=b.id, reason=1))
    assert error_reason(err) == "ILLEGAL_TRANSITION"


@pytest.mark.parametrize(
    ("basis", "national", "hours", "cites"),
    [
        (pb.REMOVAL_BASIS_DSA_ART9_ORDER, "", 24, "Art. 9(1)"),
        (pb.REMOVAL_BASIS_NATIONAL_ORDER, "DE", 24, "NetzDG"),
        (pb.REMOVAL_BASIS_NATIONAL_ORDER, "IE", 24, "no national deadline configured for IE"),
        (pb.REMOVAL_BASIS_DSA_ART22_TRUSTED_FLAGGER, "", 24, "Art. 22(1)"),
        (pb.REMOVAL_BASIS_DSA_ART16_NOTICE, "", 72, "Art. 16(6)"),
    ],
)
def test_removal_clocks_per_basis_with_their_source_and_past_due_visible(
    removals: Removals, basis: int, national: str, hours: int, cites: str
) -> None:
    """REMOVAL_DSA_ART9_CLOCK, REMOVAL_NATIONAL_DEADLINE, REMOVAL_DSA_ART22_CLOCK, REMOVAL_DSA_ART16_CLOCK: due_at
    is sent_at plus the basis's clock, its source shown; once due_at has passed without a decision, past_due."""
    sent = now_utc() - timedelta(hours=hours + 1)
    r = removals.create(basis=basis, national_jurisdiction=national, sent_at=ts(sent))
    assert r.due_at.ToSeconds() - r.sent_at.ToSeconds() == hours * 3600 == r.clock_seconds
    assert cites in r.clock_source and r.past_due
    late = removals.call("nl-liaison", "RecordRemoved", pb.RecordRemovedRequest(id=r.id)).removal
    assert late.past_due  # decided after due_at: stays past due
    fresh = removals.create(basis=basis, national_jurisdiction=national)
    assert not fresh.past_due


def test_removal_reupload_reopens_the_request_with_a_new_clock_and_counts(
    removals: Removals, pnats: NatsInstance
) -> None:
    """REMOVAL_REUPLOAD_REOPENS: an item's hash seen again reopens the removed request: SENT, the clock from
    when it was seen, reupload_count + 1 (in the event too); a hash of none of its items is refused."""
    r = removals.create(sent_at=ts(now_utc() - 3 * HOUR))
    removals.call("nl-liaison", "RecordRemoved", pb.RecordRemovedRequest(id=r.id))
    seen = now_utc() - HOUR
    reopened = removals.call(
        "nl-liaison",
        "RecordReupload",
        pb.RecordReuploadRequest(id=r.id, sha256=HASH.upper(), url="https://mirror.example/x", seen_at=ts(seen)),
    ).removal
    assert reopened.state == pb.REMOVAL_REQUEST_STATE_SENT and reopened.reupload_count == 1
    assert abs(at(reopened.sent_at) - seen) < timedelta(seconds=1)
    assert reopened.due_at.ToSeconds() == reopened.sent_at.ToSeconds() + 24 * 3600
    assert not reopened.HasField("decided_at") and reopened.reuploads[0].url == "https://mirror.example/x"
    again = removals.call("nl-liaison", "RecordRemoved", pb.RecordRemovedRequest(id=r.id)).removal
    assert again.state == pb.REMOVAL_REQUEST_STATE_REMOVED and again.reupload_count == 1
    err = removals.error(
        "nl-liaison",
        "RecordReupload",
        pb.RecordReuploadRequest(id=r.id, sha256="ab" * 32, url="https://mirror.example/y"),
    )
    assert error_reason(err) == "UNKNOWN_CONTENT_HASH"

    def reopened_event() -> list[Envelope] | None:
        msgs = read_stream(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.removal_reopened")
        envs = [e for e in (Envelope.FromString(m.data) for m in msgs) if e.aggregate_id == r.id]
        return envs or None

    state = pb.RemovalRequest()
    env = eventually(reopened_event, timeout=30)[0]
    assert env.type == "jit.preservation.v1.RemovalRequestReopened"
    assert env.state.Unpack(state) and state.reupload_count == 1


def test_removal_create_is_idempotent_by_request_id(removals: Removals) -> None:
    request_id = rid()
    first = removals.create(request_id=request_id)
    assert removals.create(request_id=request_id).id == first.id
    err = removals.create_error(
        "nl-liaison",
        request_id=request_id,
        basis=pb.REMOVAL_BASIS_DSA_ART16_NOTICE,
        items=[pb.ContentItem(url="https://socialnet.example/p/1")],
        proceed_without_preservation_reason="x",
    )
    assert error_reason(err) == "REQUEST_ID_REUSED"


GOOD_ITEM = pb.ContentItem(url="https://socialnet.example/p/1")
BAD_CREATES = [
    ({"basis": 0}, "basis"),
    ({"basis": 99}, "basis"),
    ({"provider_id": ""}, "provider_id"),
    ({"provider_id": "no-such-platform"}, "provider_id"),
    ({"items": []}, "items"),
    ({"items": [GOOD_ITEM] * 51}, "items"),
    ({"items": [pb.ContentItem()]}, "items[0].url"),
    ({"items": [pb.ContentItem(url="ftp://x")]}, "items[0].url"),
    ({"items": [pb.ContentItem(url="https://x.example/" + "a" * 3000)]}, "items[0].url"),
    ({"items": [pb.ContentItem(url="https://x.example/a", sha256="xyz")]}, "items[0].sha256"),
    ({"items": [pb.ContentItem(url="https://x.example/a", sha256="a" * 63)]}, "items[0].sha256"),
    ({"items": [pb.ContentItem(url="https://x.example/a", sha256="g" * 64)]}, "items[0].sha256"),
    ({"items": [pb.ContentItem(platform_item_id="a b")]}, "items[0].platform_item_id"),
    ({"items": [pb.ContentItem(url="https://x.example/a", account="not a handle!")]}, "items[0].account"),
    ({"national_jurisdiction": "DE"}, "national_jurisdiction"),
    ({"basis": pb.REMOVAL_BASIS_NATIONAL_ORDER, "national_jurisdiction": "germany"}, "national_jurisdiction"),
    ({"proceed_without_preservation_reason": "x" * 2001}, "proceed_without_preservation_reason"),
    ({"preservation_order_id": "not-a-uuid"}, "preservation_order_id"),
    ({"victim_refs": ["Jane Doe"]}, "victim_refs[0]"),
    ({"request_id": "nope"}, "request_id"),
    ({"workspace_id": "BAD WS"}, "workspace_id"),
]


@pytest.mark.parametrize(("over", "field"), BAD_CREATES)
def test_bad_create_input_is_invalid_argument_naming_the_field(
    removals: Removals, over: dict[str, Any], field: str
) -> None:
    request = removals.request(**{"items": [GOOD_ITEM], "proceed_without_preservation_reason": "r", **over})
    err = removals.error("nl-liaison", "CreateRemoval", request)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(err)
    assert field in violations, violations
    assert all(len(v) < 300 for v in violations.values())  # never echoes unbounded input


def test_bad_answer_input_is_invalid_argument_naming_the_field(removals: Removals) -> None:
    r = removals.create()
    future = ts(now_utc() + timedelta(days=1))
    cases = [
        ("RecordRemoved", pb.RecordRemovedRequest(id="nope"), "id"),
        ("RecordRemoved", pb.RecordRemovedRequest(id=r.id, answered_at=future), "answered_at"),
        ("RecordRemoved", pb.RecordRemovedRequest(id=r.id, expected_version=-1), "expected_version"),
        ("RecordRefused", pb.RecordRefusedRequest(id=r.id), "reason"),
        ("RecordRefused", pb.RecordRefusedRequest(id=r.id, reason=1, details="x" * 2001), "details"),
        ("RecordGeoBlocked", pb.RecordGeoBlockedRequest(id=r.id), "blocked_in"),
        ("RecordGeoBlocked", pb.RecordGeoBlockedRequest(id=r.id, blocked_in=["xx1"]), "blocked_in[0]"),
        ("RecordReupload", pb.RecordReuploadRequest(id=r.id, url="https://a.example/"), "sha256"),
        ("RecordReupload", pb.RecordReuploadRequest(id=r.id, sha256=HASH), "url"),
        ("RecordReupload", pb.RecordReuploadRequest(id=r.id, sha256=HASH, url="x", seen_at=future), "seen_at"),
    ]
    for method, request, field in cases:
        err = removals.error("nl-liaison", method, request)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, field)
        assert field in field_violations(err), (method, field, field_violations(err))
    before = removals.error(
        "nl-liaison",
        "AcknowledgeRemoval",
        pb.AcknowledgeRemovalRequest(id=r.id, answered_at=ts(at(r.sent_at) - HOUR)),
    )
    assert error_reason(before) == "ANSWERED_BEFORE_SENT"
    still = removals.call("nl-liaison", "GetRemoval", pb.GetRemovalRequest(id=r.id)).removal
    assert still.version == r.version  # nothing written


def test_removal_access_members_read_only_the_issuing_side_records_outsiders_see_nothing(removals: Removals) -> None:
    """Who may do what (jitlib.policy REMOVAL_REQUEST_RULES): a member reads; only a prosecutor or liaison of the
    origin jurisdiction records an answer; a non-member gets NOT_FOUND; an auditor is denied."""
    r = removals.create("nl-liaison")
    seen = removals.call("de-liaison", "GetRemoval", pb.GetRemovalRequest(id=r.id)).removal
    assert seen.id == r.id and seen.allowed_actions == []
    assert removals.call("eurojust-analyst", "GetRemoval", pb.GetRemovalRequest(id=r.id)).removal.id == r.id
    assert "ack" in removals.call("nl-prosecutor", "GetRemoval", pb.GetRemovalRequest(id=r.id)).removal.allowed_actions
    denied = removals.error("de-prosecutor", "AcknowledgeRemoval", pb.AcknowledgeRemovalRequest(id=r.id))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    hidden = removals.error("fr-prosecutor", "GetRemoval", pb.GetRemovalRequest(id=r.id))
    assert hidden.code() == grpc.StatusCode.NOT_FOUND
    hidden = removals.error("fr-prosecutor", "AcknowledgeRemoval", pb.AcknowledgeRemovalRequest(id=r.id))
    assert hidden.code() == grpc.StatusCode.NOT_FOUND
    assert removals.error("nl-auditor", "GetRemoval", pb.GetRemovalRequest(id=r.id)).code() in (
        grpc.StatusCode.PERMISSION_DENIED,
    )
    participant = removals.create_error("eurojust-analyst", items=[GOOD_ITEM], proceed_without_preservation_reason="r")
    assert participant.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = removals.call("de-liaison", "ListRemovals", pb.ListRemovalsRequest(workspace_id=WS, page_size=200))
    assert r.id in {x.id for x in listed.removals}
    assert removals.error("fr-prosecutor", "ListRemovals", pb.ListRemovalsRequest(workspace_id=WS)).code() == (
        grpc.StatusCode.NOT_FOUND
    )


def test_list_removals_filters_by_state_and_pages_by_due_time(removals: Removals) -> None:
    made = [removals.create(basis=pb.REMOVAL_BASIS_DSA_ART16_NOTICE, provider_id="socialnet-ie") for _ in range(3)]
    removals.call("nl-liaison", "RecordRemoved", pb.RecordRemovedRequest(id=made[0].id))
    removed = removals.call(
        "nl-liaison",
        "ListRemovals",
        pb.ListRemovalsRequest(workspace_id=WS, states=[pb.REMOVAL_REQUEST_STATE_REMOVED], page_size=200),
    )
    ids = {x.id for x in removed.removals}
    assert made[0].id in ids and made[1].id not in ids
    seen: list[str] = []
    token = ""
    while True:
        page = removals.call(
            "nl-liaison", "ListRemovals", pb.ListRemovalsRequest(workspace_id=WS, page_size=2, page_token=token)
        )
        seen += [x.id for x in page.removals]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) and {m.id for m in made} <= set(seen)


def test_a_victim_s_removals_are_each_listed_once_page_by_page(
    removals: Removals, preservation_svc: RunningService, pnats: NatsInstance
) -> None:
    """A list of one victim's removal requests, soonest due first: a request made after another but due
    before it is listed, and so is the one made before (their ids bound no page of this list: the victims'
    index finds a victim's requests after a page's id only for lists in id order)."""
    (victim,) = registered_victims(preservation_svc, pnats.url)
    now = now_utc()
    made = [removals.create(victim_refs=[victim], sent_at=ts(now - hours * HOUR)) for hours in (1, 3, 2)]
    expected = [made[1].id, made[2].id, made[0].id]  # soonest due first
    for size in (1, 2, 3):
        seen: list[str] = []
        token = ""
        while True:
            request = pb.ListRemovalsRequest(victim_ref=victim, page_size=size, page_token=token)
            page = removals.call("nl-liaison", "ListRemovals", request)
            seen += [x.id for x in page.removals]
            token = page.next_page_token
            if not token:
                break
        assert seen == expected, size
