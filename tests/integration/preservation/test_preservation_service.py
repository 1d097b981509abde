"""The preservation service end to end with real Keycloak tokens, real NATS JetStream and a real database
(each module runs once on SQLite and once on PostgreSQL)."""

from __future__ import annotations

import concurrent.futures
from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import preservation_pb2 as pb
from services.preservation.store import RUNTIME, OrderRow
from tests.conftest import read_stream
from tests.harness import RunningService, error_reason, field_violations, registered_victims, rid
from tests.integration.preservation.conftest import DAY, WS, Client, now_utc, ts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(preservation_svc: RunningService, tokens: Any) -> Client:
    return Client(preservation_svc, tokens)


def count_rows(svc: RunningService) -> tuple[int, int]:
    def q(s: Any) -> tuple[int, int]:
        orders = s.scalar(select(func.count()).select_from(OrderRow))
        events = s.scalar(select(func.count()).select_from(RUNTIME.outbox))
        return int(orders or 0), int(events or 0)

    return svc.loop.run(svc.rt.read(q))


def test_order_lifecycle_issue_confirm_extend_produce(client: Client) -> None:
    order = client.create()
    assert order.state == pb.PRESERVATION_ORDER_STATE_DRAFT and order.origin_jurisdiction == "NL"
    assert order.visibility == common_pb2.VISIBILITY_RESTRICTED  # need to know by default
    confirmed_at = now_utc() - timedelta(hours=1)
    issue = pb.IssueOrderRequest(id=order.id)
    issue.issued_at.CopyFrom(ts(confirmed_at - timedelta(hours=2)))
    issued = client.call("nl-liaison", "IssueOrder", issue).order
    assert issued.state == pb.PRESERVATION_ORDER_STATE_ISSUED and issued.HasField("issued_at")
    assert not issued.HasField("expires_at")
    req = pb.ConfirmOrderRequest(id=order.id, expected_version=issued.version, provider_reference="SN-1")
    req.confirmed_at.CopyFrom(ts(confirmed_at))
    confirmed = client.call("nl-prosecutor", "ConfirmOrder", req).order
    assert confirmed.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED
    expiry = confirmed.expires_at.ToDatetime().replace(tzinfo=confirmed_at.tzinfo)
    assert abs(expiry - (confirmed_at + 90 * DAY)) < timedelta(seconds=1)  # the provider's 90 days
    extended = client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id)).order
    assert extended.state == pb.PRESERVATION_ORDER_STATE_EXTENDED and extended.extension_count == 1
    assert extended.expires_at.ToSeconds() == confirmed.expires_at.ToSeconds() + 90 * 86400
    evidence_id = "01935c4e-0000-7000-8000-0000000000e1"
    pr = client.call(
        "nl-liaison",
        "MarkProductionRequested",
        pb.MarkProductionRequestedRequest(id=order.id, follow_up_request_id=evidence_id),
    ).order
    assert pr.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED
    assert pr.expires_at == extended.expires_at  # the provider's own period runs on
    assert pr.follow_up_request_id == evidence_id
    done = client.call("nl-liaison", "MarkProduced", pb.MarkProducedRequest(id=order.id)).order
    assert done.state == pb.PRESERVATION_ORDER_STATE_PRODUCED and done.version == 6


def test_epoc_pr_second_extension_is_refused_with_a_reason(client: Client) -> None:
    order = client.confirmed(legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    extended = client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id)).order
    # The same request sent again is the retry of the first (jitlib.changes): answered as it was, not applied.
    again = client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id)).order
    assert (again.version, again.expires_at) == (extended.version, extended.expires_at)
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id, expected_version=extended.version))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(info.value) == "EXTENSION_LIMIT_REACHED"


def test_lift_and_not_executed_are_exits(client: Client) -> None:
    a = client.confirmed()
    lifted = client.call("nl-liaison", "LiftOrder", pb.LiftOrderRequest(id=a.id, reason="suspect identified")).order
    assert lifted.state == pb.PRESERVATION_ORDER_STATE_LIFTED and lifted.state_reason == "suspect identified"
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=a.id))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(info.value) == "ILLEGAL_TRANSITION"
    b = client.create()
    client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=b.id))
    ne = client.call(
        "nl-liaison",
        "RecordNotExecuted",
        pb.RecordNotExecutedRequest(id=b.id, reason=pb.NOT_EXECUTED_REASON_DATA_NOT_HELD, details="deleted"),
    ).order
    assert ne.state == pb.PRESERVATION_ORDER_STATE_NOT_EXECUTED
    assert ne.not_executed_reason == pb.NOT_EXECUTED_REASON_DATA_NOT_HELD


def test_create_is_idempotent_by_request_id(client: Client) -> None:
    request_id = rid()
    first = client.create(request_id=request_id)
    again = client.create(request_id=request_id)
    assert again.id == first.id
    with pytest.raises(grpc.RpcError) as info:
        client.create(request_id=request_id, description="something else")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(info.value) == "REQUEST_ID_REUSED"


def test_concurrent_duplicates_create_one_order(client: Client, preservation_svc: RunningService) -> None:
    request_id = rid()
    before = count_rows(preservation_svc)[0]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda _: client.create(request_id=request_id).id, range(4)))
    assert len(ids) == 1
    assert count_rows(preservation_svc)[0] == before + 1


def test_a_stale_version_is_aborted(client: Client) -> None:
    order = client.create()
    client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=order.id, expected_version=order.version))
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-liaison", "LiftOrder", pb.LiftOrderRequest(id=order.id, expected_version=1, reason="x"))
    assert info.value.code() == grpc.StatusCode.ABORTED


BAD_CREATES = [
    ({"request_id": "nope"}, "request_id"),
    ({"legal_basis": pb.LEGAL_BASIS_UNSPECIFIED}, "legal_basis"),
    ({"legal_basis": 99}, "legal_basis"),
    ({"provider_id": "nowhere"}, "provider_id"),
    ({"targets": []}, "targets"),
    ({"targets": [pb.TargetIdentifier(kind=pb.TARGET_KIND_PHONE_NUMBER, value="0612")]}, "targets[0].value"),
    ({"targets": [pb.TargetIdentifier(kind=pb.TARGET_KIND_EMAIL, value="not-an-email")]}, "targets[0].value"),
    ({"targets": [pb.TargetIdentifier(kind=pb.TARGET_KIND_URL, value="javascript:x")]}, "targets[0].value"),
    ({"targets": [pb.TargetIdentifier(value="@x")]}, "targets[0].kind"),
    ({"data_categories": []}, "data_categories"),
    ({"shared_with": ["XX1"]}, "shared_with[0]"),
    ({"shared_with": ["FR"]}, "shared_with[0]"),
    ({"visibility": common_pb2.VISIBILITY_WORKSPACE, "shared_with": ["DE"]}, "shared_with"),
    ({"victim_refs": ["V-NL-0007", "the victim's sister"]}, "victim_refs[1]"),
    ({"victim_refs": ["V-NL-0007", "V-NL-0007"]}, "victim_refs[1]"),
    ({"victim_refs": ["V-DE-0007"]}, "victim_refs[0]"),  # jit-demo is led by NL: its victims are V-NL-...
]


@pytest.mark.parametrize(("over", "field"), BAD_CREATES)
def test_bad_input_names_the_field_and_writes_nothing(
    client: Client, preservation_svc: RunningService, over: dict[str, Any], field: str
) -> None:
    before = count_rows(preservation_svc)
    with pytest.raises(grpc.RpcError) as info:
        client.create(**over)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(info.value)
    assert count_rows(preservation_svc) == before


def test_bad_transition_input_names_the_field(client: Client) -> None:
    order = client.confirmed()
    cases = [
        ("LiftOrder", pb.LiftOrderRequest(id=order.id), "reason"),
        ("GetOrder", pb.GetOrderRequest(id="nope"), "id"),
        ("RecordNotExecuted", pb.RecordNotExecutedRequest(id=order.id), "reason"),
        ("MarkProductionRequested", pb.MarkProductionRequestedRequest(id=order.id), "follow_up_request_id"),
        ("ListOrders", pb.ListOrdersRequest(page_size=1000), "page_size"),
        ("ListOrders", pb.ListOrdersRequest(provider_id="nowhere"), "provider_id"),
    ]
    for method, request, field in cases:
        with pytest.raises(grpc.RpcError) as info:
            client.call("nl-liaison", method, request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
        assert field in field_violations(info.value), method
    future = pb.ConfirmOrderRequest(id=client.create().id)
    future.confirmed_at.CopyFrom(ts(now_utc() + 2 * DAY))
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-liaison", "ConfirmOrder", future)
    assert "confirmed_at" in field_violations(info.value)


# ---- access: one policy, real tokens ---------------------------------------------------------------

OK, NF, PD = grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
# user -> (read restricted, act restricted, read workspace-visible, act workspace-visible, read shared with DE)
MATRIX = {
    "nl-liaison": (OK, OK, OK, OK, OK),
    "nl-prosecutor": (OK, OK, OK, OK, OK),
    "de-liaison": (NF, NF, OK, PD, OK),
    "de-prosecutor": (NF, NF, OK, PD, OK),
    "ie-liaison": (NF, NF, OK, PD, NF),
    "eurojust-analyst": (NF, NF, OK, PD, NF),
    "fr-prosecutor": (NF, NF, NF, NF, NF),
    "nl-operator": (PD, PD, PD, PD, PD),
    "nl-auditor": (PD, PD, PD, PD, PD),
}


@pytest.fixture(scope="module")
def matrix_orders(client: Client) -> dict[str, str]:
    return {
        "restricted": client.create().id,
        "workspace": client.create(visibility=common_pb2.VISIBILITY_WORKSPACE).id,
        "shared": client.create(shared_with=["DE"]).id,
    }


def _code(client: Client, user: str, method: str, request: Any) -> grpc.StatusCode:
    try:
        client.call(user, method, request)
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return OK


@pytest.mark.parametrize("user", sorted(MATRIX))
def test_access_matrix(client: Client, matrix_orders: dict[str, str], user: str) -> None:
    r, w, s = matrix_orders["restricted"], matrix_orders["workspace"], matrix_orders["shared"]
    # IssueOrder is the probe for "act": when allowed it issues, so each probe uses a fresh draft.
    fresh_r, fresh_w = client.create().id, client.create(visibility=common_pb2.VISIBILITY_WORKSPACE).id
    got = (
        _code(client, user, "GetOrder", pb.GetOrderRequest(id=r)),
        _code(client, user, "IssueOrder", pb.IssueOrderRequest(id=fresh_r)),
        _code(client, user, "GetOrder", pb.GetOrderRequest(id=w)),
        _code(client, user, "IssueOrder", pb.IssueOrderRequest(id=fresh_w)),
        _code(client, user, "GetOrder", pb.GetOrderRequest(id=s)),
    )
    assert got == MATRIX[user]
    listed = _code(client, user, "ListOrders", pb.ListOrdersRequest(workspace_id=WS))
    assert listed == {"fr-prosecutor": NF, "nl-operator": PD, "nl-auditor": PD}.get(user, OK)
    if listed == OK:
        ids = {
            o.id for o in client.call(user, "ListOrders", pb.ListOrdersRequest(workspace_id=WS, page_size=200)).orders
        }
        assert (r in ids) == (MATRIX[user][0] == OK)
        assert (s in ids) == (MATRIX[user][4] == OK)


@pytest.mark.parametrize("user", ["de-liaison", "eurojust-analyst", "nl-operator", "fr-prosecutor"])
def test_only_issuing_roles_of_a_member_create(client: Client, user: str) -> None:
    expected = {"de-liaison": OK, "eurojust-analyst": PD, "nl-operator": PD, "fr-prosecutor": NF}[user]
    assert (
        _code(
            client,
            user,
            "CreateOrder",
            pb.CreateOrderRequest(
                request_id=rid(),
                workspace_id=WS,
                legal_basis=pb.LEGAL_BASIS_EPOC_PR,
                provider_id="socialnet-ie",
                targets=[pb.TargetIdentifier(kind=pb.TARGET_KIND_URL, value="https://socialnet.example/p/1")],
                data_categories=[pb.DATA_CATEGORY_TRAFFIC],
            ),
        )
        == expected
    )


def test_unknown_ids_are_not_found(client: Client) -> None:
    missing = "01935c4e-0000-7000-8000-00000000dead"
    assert client.code_of("nl-liaison", "GetOrder", pb.GetOrderRequest(id=missing)) == NF
    assert client.code_of("nl-liaison", "LiftOrder", pb.LiftOrderRequest(id=missing, reason="x")) == NF


# ---- queries ---------------------------------------------------------------------------------------


def test_due_window_provider_state_and_overdue_confirmation_queries(client: Client) -> None:
    now = now_utc()
    soon = client.confirmed(confirmed_at=now - 85 * DAY, provider_id="microblog-ie")  # 5 days left
    later = client.confirmed(confirmed_at=now - 60 * DAY, provider_id="microblog-ie")  # 30 days left
    due = client.call(
        "nl-liaison",
        "ListOrders",
        pb.ListOrdersRequest(workspace_id=WS, expires_before=ts(now + 7 * DAY), provider_id="microblog-ie"),
    ).orders
    ids = [o.id for o in due]
    assert soon.id in ids and later.id not in ids
    both = client.call(
        "nl-liaison",
        "ListOrders",
        pb.ListOrdersRequest(workspace_id=WS, provider_id="microblog-ie", page_size=200),
    ).orders
    positions = [o.id for o in both]
    assert positions.index(soon.id) < positions.index(later.id)  # sorted by time left
    by_state = client.call(
        "nl-liaison",
        "ListOrders",
        pb.ListOrdersRequest(workspace_id=WS, states=[pb.PRESERVATION_ORDER_STATE_LIFTED], page_size=200),
    ).orders
    assert all(o.state == pb.PRESERVATION_ORDER_STATE_LIFTED for o in by_state)

    # Issued 5 days ago (clock moved), never confirmed: overdue (limit 3 days).
    stale = client.create()
    client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=stale.id))
    client.svc.app.clock.advance(5 * DAY)  # type: ignore[attr-defined]
    try:
        fresh = client.create()
        client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=fresh.id))
        overdue = client.call(
            "nl-liaison",
            "ListOrders",
            pb.ListOrdersRequest(workspace_id=WS, confirmation_overdue_only=True, page_size=200),
        ).orders
        ids = {o.id for o in overdue}
        assert stale.id in ids and fresh.id not in ids
        assert all(o.confirmation_overdue for o in overdue)
    finally:
        client.svc.app.clock.advance(-5 * DAY)  # type: ignore[attr-defined]


def test_paging_returns_every_order_once(client: Client) -> None:
    for _ in range(5):
        client.confirmed(provider_id="videohost-de")
    seen: list[str] = []
    token = ""
    while True:
        page = client.call(
            "nl-liaison",
            "ListOrders",
            pb.ListOrdersRequest(workspace_id=WS, provider_id="videohost-de", page_size=2, page_token=token),
        )
        seen += [o.id for o in page.orders]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) >= 5


def test_pages_go_from_the_orders_with_an_expiry_to_those_without(client: Client) -> None:
    """Soonest expiry first (ties by id), then the orders without one (drafts) by id: a page may end on
    either side, and paging one or two at a time gives the one long page's orders, each once."""
    at = now_utc() - DAY
    for confirmed_at in (at, at, at - DAY):  # two expire at the same instant: their ids decide
        client.confirmed(provider_id="chatapp-nl", confirmed_at=confirmed_at)
        client.create(provider_id="chatapp-nl")

    def listed(size: int, token: str = "") -> Any:
        request = pb.ListOrdersRequest(workspace_id=WS, provider_id="chatapp-nl", page_size=size, page_token=token)
        return client.call("nl-liaison", "ListOrders", request)

    whole = list(listed(200).orders)

    def position(o: pb.PreservationOrder) -> tuple[bool, int, int, str]:
        if not o.HasField("expires_at"):
            return True, 0, 0, o.id
        return False, o.expires_at.seconds, o.expires_at.nanos, o.id

    assert [position(o) for o in whole] == sorted(position(o) for o in whole)
    assert {o.HasField("expires_at") for o in whole} == {True, False}
    for size in (1, 2):
        seen: list[str] = []
        page = listed(size)
        while True:
            seen += [o.id for o in page.orders]
            if not page.next_page_token:
                break
            page = listed(size, page.next_page_token)
        assert seen == [o.id for o in whole]


def test_provider_register(client: Client) -> None:
    providers = client.call("nl-liaison", "ListProviders", pb.ListProvidersRequest()).providers
    sn = next(p for p in providers if p.id == "socialnet-ie")
    assert sn.establishment_jurisdiction == "IE" and sn.preservation_period_days == 90
    assert sn.extension_min_notice_days == 7
    assert client.code_of("nl-liaison", "GetProvider", pb.GetProviderRequest(id="nowhere")) == NF


# ---- events ----------------------------------------------------------------------------------------


def test_each_change_is_published_with_the_contract_fields(client: Client, pnats: Any) -> None:
    order = client.confirmed(visibility=common_pb2.VISIBILITY_WORKSPACE)

    def events() -> list[Envelope]:
        msgs = read_stream(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.*")
        envs = [Envelope.FromString(m.data) for m in msgs]
        return [e for e in envs if e.aggregate_id == order.id]

    from tests.harness import eventually

    envs = eventually(lambda: (lambda e: e if len(e) >= 3 else None)(events()), timeout=30)
    assert [e.type for e in envs] == [
        "jit.preservation.v1.PreservationOrderCreated",
        "jit.preservation.v1.PreservationOrderIssued",
        "jit.preservation.v1.PreservationOrderConfirmed",
    ]
    state = pb.PreservationOrder()
    assert envs[-1].state.Unpack(state)
    assert state.id == order.id and state.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED
    assert list(order.allowed_actions) and list(state.allowed_actions) == []  # per caller: never in an event
    assert state.HasField("expires_at") and state.version == 3
    assert {"NL", "DE", "IE"} <= set(envs[-1].audience)


def test_issuer_and_shared_side_are_told_what_each_may_do_now(client: Client) -> None:
    """An order acts on the issuing side only: its issuer is told the state's actions, the jurisdiction it
    is shared with none; an action listed goes through, one not listed is refused."""
    order = client.create(shared_with=["DE"])
    assert list(order.allowed_actions) == ["issue", "lift"]

    def allowed(user: str) -> list[str]:
        return list(client.call(user, "GetOrder", pb.GetOrderRequest(id=order.id)).order.allowed_actions)

    # The issuing side's prosecutor also records the provider's notice to the account holder, in any state.
    assert allowed("nl-prosecutor") == ["issue", "lift", "update_user_notice"]
    assert allowed("de-liaison") == []
    assert (
        client.code_of("de-liaison", "IssueOrder", pb.IssueOrderRequest(id=order.id))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    issued = client.call("nl-liaison", "IssueOrder", pb.IssueOrderRequest(id=order.id)).order
    assert list(issued.allowed_actions) == ["confirm", "request_production", "lift", "record_not_executed"]
    # Not listed: extend before the provider confirmed, refused by the state machine.
    assert (
        client.code_of("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    listed = client.call("nl-liaison", "ListOrders", pb.ListOrdersRequest(workspace_id=WS, page_size=200)).orders
    assert [list(o.allowed_actions) for o in listed if o.id == order.id] == [
        ["confirm", "request_production", "lift", "record_not_executed"]
    ]


def test_an_extension_is_listed_while_the_clock_allows_it(client: Client) -> None:
    """EPOC-PR: one extension; after it, extend is no longer listed, and refused."""
    order = client.confirmed(legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    assert list(order.allowed_actions) == ["extend", "request_production", "lift", "record_not_executed"]
    extended = client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id)).order
    assert list(extended.allowed_actions) == ["request_production", "lift", "record_not_executed"]
    # Asked again from the version it is now (the same request would be the retry of the first).
    again = pb.ExtendOrderRequest(id=order.id, expected_version=extended.version)
    assert client.code_of("nl-liaison", "ExtendOrder", again) == grpc.StatusCode.FAILED_PRECONDITION


def test_an_order_refers_to_its_victims_by_pseudonym_and_lists_filter_by_one(
    client: Client, preservation_svc: RunningService, pnats: Any
) -> None:
    """VICTIM_BY_PSEUDONYM (issue 16): orders refer to the victim's pseudonym (Directive 2012/29/EU
    Art. 21), not to words about her in a description; ListOrders finds a victim's orders, and a bad filter names
    victim_ref."""
    from tests.harness import announce_victim, eventually, new_pseudonym, registered_victims, victims_known

    (victim,) = registered_victims(preservation_svc, pnats.url)
    longer = victim + "1"
    announce_victim(pnats.url, longer)
    eventually(lambda: victims_known(preservation_svc, WS, longer))
    with pytest.raises(grpc.RpcError) as unknown:
        client.create(victim_refs=[new_pseudonym()])
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "victim_refs[0]" in field_violations(unknown.value)
    order = client.create(victim_refs=[victim], description="Posts against V-NL-0001")
    other = client.create(victim_refs=[longer])
    client.create()
    assert list(client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order.victim_refs) == [victim]

    def listed(ref: str) -> list[str]:
        req = pb.ListOrdersRequest(workspace_id=WS, victim_ref=ref, page_size=200)
        return [o.id for o in client.call("nl-liaison", "ListOrders", req).orders]

    assert listed(victim) == [order.id] and listed(longer) == [other.id]
    with pytest.raises(grpc.RpcError) as info:
        client.call("nl-liaison", "ListOrders", pb.ListOrdersRequest(victim_ref="V-NL-7"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "victim_ref" in field_violations(info.value)

    def created() -> list[Envelope]:
        msgs = read_stream(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.created")
        return [e for e in map(Envelope.FromString, (m.data for m in msgs)) if e.aggregate_id == order.id]

    state = pb.PreservationOrder()
    assert eventually(created)[0].state.Unpack(state) and list(state.victim_refs) == [victim]


def test_a_victim_s_orders_are_each_listed_once_page_by_page(
    client: Client, preservation_svc: RunningService, pnats: Any
) -> None:
    """A list of one victim's orders, soonest expiry first and those without one last: an order made after
    another but expiring before it is listed, and so is the one made before, and the orders without an
    expiry made before those with one (their ids bound no page of this list: the victims' index finds a
    victim's orders after a page's id only for lists in id order)."""
    (victim,) = registered_victims(preservation_svc, pnats.url)
    now = now_utc()
    mine = {"victim_refs": [victim]}
    first_draft = client.create(**mine)
    made = [client.confirmed(confirmed_at=now - hours * timedelta(hours=1), **mine) for hours in (1, 3, 2)]
    last_draft = client.create(**mine)
    expected = [made[1].id, made[2].id, made[0].id, first_draft.id, last_draft.id]
    for size in (1, 2, 4, 5):
        seen: list[str] = []
        request = pb.ListOrdersRequest(victim_ref=victim, page_size=size)
        while True:
            page = client.call("nl-liaison", "ListOrders", request)
            seen += [o.id for o in page.orders]
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
        assert seen == expected, size
