"""Removal requests' rules, pure (services.preservation.removal_domain): the clock table with a source per row,
the state machine, preserve before removing, re-uploads, and the access matrix of jitlib.policy; and who is
shown the linked preservation order, by the servicer's view on a real SQLite database."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from jit.preservation.v1 import removal_pb2
from jitlib import crypto, sealing
from jitlib.actors import Actor
from jitlib.auth import Principal
from jitlib.clock import ManualClock
from jitlib.errors import FailedPrecondition
from jitlib.policy import REMOVAL_REQUEST_RULES, Decision, Operation, RecordAccess, decide
from services.preservation import domain as pdomain
from services.preservation import providers, removal_events, store
from services.preservation import removal_domain as rd
from services.preservation.removal_domain import Answer, ContentItem, NewRemoval, RemovalBasis, RemovalRules
from services.preservation.removal_domain import RemovalState as S
from services.preservation.removal_servicer import RemovalServicer

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
NL = Actor("u-nl", "nl-liaison", "NL")
HASH = "ab" * 32


def new(**over: object) -> NewRemoval:
    fields: dict[str, object] = dict(
        request_id="01935c4e-0000-7000-8000-000000000001",
        workspace_id="jit-demo",
        basis="DSA_ART9_ORDER",
        national_jurisdiction="",
        provider_id="socialnet-ie",
        items=(ContentItem(url="https://socialnet.example/p/1", account="@Rev3ng3", sha256=HASH),),
        proceed_without_preservation_reason="gone already",
    )
    fields.update(over)
    return NewRemoval(**fields)  # type: ignore[arg-type]


def made(**over: object) -> rd.Removal:
    return rd.create(new(**over), removal_id="r1", actor=NL, now=NOW, rules=RemovalRules(), order=None)


def principal(role: str, jurisdiction: str, member: bool = True) -> Principal:
    return Principal(
        user_id=f"{role}-{jurisdiction}",
        username=f"{jurisdiction.lower()}-{role}",
        jurisdiction=jurisdiction,
        roles=frozenset({role}),
        workspaces=frozenset({"jit-demo"}) if member else frozenset({"another-jit"}),
    )


# ---- the clock table --------------------------------------------------------------------------------


def test_removal_dsa_art9_clock_is_the_nodes_target_from_sending() -> None:
    """REMOVAL_DSA_ART9_CLOCK: 24 h by default, with its source; configurable."""
    r = made()
    assert r.due_at == NOW + timedelta(hours=24) and "Reg. (EU) 2022/2065 Art. 9(1)" in r.clock_source
    clock = RemovalRules(art9_target=timedelta(hours=6)).clock(RemovalBasis.DSA_ART9_ORDER)
    assert clock.period == timedelta(hours=6) and clock.rule_id == "REMOVAL_DSA_ART9_CLOCK"


def test_removal_national_deadline_per_jurisdiction_else_the_art9_target() -> None:
    """REMOVAL_NATIONAL_DEADLINE: DE 24 h by default (GUESS); a jurisdiction without one takes the Art. 9 target;
    the issuer's own jurisdiction when none is named."""
    rules = RemovalRules(art9_target=timedelta(hours=48), national=rd.parse_national("DE=24h, FR=1h"))
    assert rules.clock(RemovalBasis.NATIONAL_ORDER, "FR").period == timedelta(hours=1)
    assert "GUESS" in rules.clock(RemovalBasis.NATIONAL_ORDER, "DE").source
    ie = rules.clock(RemovalBasis.NATIONAL_ORDER, "IE")
    assert ie.period == timedelta(hours=48) and "no national deadline configured for IE" in ie.source
    r = made(basis="NATIONAL_ORDER")
    assert r.national_jurisdiction == "NL" and r.due_at == NOW + timedelta(hours=24)
    with pytest.raises(ValueError, match="CODE=DURATION"):
        rd.parse_national("germany=24h")


def test_removal_dsa_art22_clock_and_removal_dsa_art16_clock() -> None:
    """REMOVAL_DSA_ART22_CLOCK (24 h) and REMOVAL_DSA_ART16_CLOCK (72 h), each citing its article."""
    assert made(basis="DSA_ART22_TRUSTED_FLAGGER").due_at == NOW + timedelta(hours=24)
    art16 = made(basis="DSA_ART16_NOTICE")
    assert art16.due_at == NOW + timedelta(hours=72) and "Art. 16(6)" in art16.clock_source
    for basis, rule_id in rd.CLOCK_RULES.items():
        assert RemovalRules().clock(basis, "DE").rule_id == rule_id


def test_past_due_is_derived_from_the_decision_or_the_running_clock() -> None:
    r = made()
    assert not r.past_due(NOW + timedelta(hours=23)) and r.past_due(NOW + timedelta(hours=25))
    when = Answer(answered_at=NOW + timedelta(hours=30))
    late = rd.apply(r, "removed", when, actor=NL, now=NOW + timedelta(hours=31),
                    rules=RemovalRules())  # fmt: skip
    assert late.past_due(NOW + timedelta(hours=31))
    early = rd.apply(r, "refused", Answer(answered_at=NOW + timedelta(hours=2), reason="NOT_ILLEGAL"), actor=NL,
                     now=NOW + timedelta(hours=3), rules=RemovalRules())  # fmt: skip
    assert not early.past_due(NOW + timedelta(days=30))


# ---- the state machine ------------------------------------------------------------------------------

EXPECTED_SOURCES = {
    "ack": {S.SENT},
    "removed": {S.SENT, S.ACKNOWLEDGED, S.APPEALED},
    "geoblocked": {S.SENT, S.ACKNOWLEDGED},
    "refused": {S.SENT, S.ACKNOWLEDGED},
    "appealed": {S.REMOVED, S.GEO_BLOCKED},
    "restored": {S.APPEALED},
    "reupload": {S.REMOVED, S.GEO_BLOCKED},
}


@pytest.mark.parametrize("action", sorted(EXPECTED_SOURCES))
@pytest.mark.parametrize("state", list(S))
def test_removal_platform_answers_only_from_the_states_the_table_allows(action: str, state: S) -> None:
    """REMOVAL_PLATFORM_ANSWERS: each answer from exactly its source states; others ILLEGAL_TRANSITION."""
    from dataclasses import replace

    r = replace(made(), state=state)
    data = Answer(reason="OTHER", blocked_in=("NL",), sha256=HASH, url="https://m.example/1")
    if state in EXPECTED_SOURCES[action]:
        after = rd.apply(r, action, data, actor=NL, now=NOW, rules=RemovalRules())
        assert after.state is rd.TRANSITIONS[action].target and after.version == r.version + 1
    else:
        with pytest.raises(FailedPrecondition) as info:
            rd.apply(r, action, data, actor=NL, now=NOW, rules=RemovalRules())
        assert info.value.reason == "ILLEGAL_TRANSITION"


def test_removal_reupload_reopens_with_a_new_clock_and_the_count() -> None:
    """REMOVAL_REUPLOAD_REOPENS: back to SENT, clock from seen_at, count + 1; an unknown hash is refused."""
    r = rd.apply(made(), "removed", Answer(), actor=NL, now=NOW, rules=RemovalRules())
    seen = NOW + timedelta(days=2)
    again = rd.apply(r, "reupload", Answer(answered_at=seen, sha256=HASH.upper(), url="https://m.example/2"),
                     actor=NL, now=seen, rules=RemovalRules())  # fmt: skip
    assert again.state is S.SENT and again.reupload_count == 1 and again.due_at == seen + timedelta(hours=24)
    assert again.decided_at is None and again.removed_at is None and again.reuploads[0].sha256 == HASH
    with pytest.raises(FailedPrecondition) as info:
        rd.apply(r, "reupload", Answer(sha256="cd" * 32, url="https://m.example/3"), actor=NL, now=NOW,
                 rules=RemovalRules())  # fmt: skip
    assert info.value.reason == "UNKNOWN_CONTENT_HASH"


# ---- preserve before removing -------------------------------------------------------------------------


def order(state: pdomain.OrderState, target: str = "@rev3ng3", provider: str = "socialnet-ie") -> pdomain.Order:
    return pdomain.Order(
        id=f"o-{state.value}-{target}",
        workspace_id="jit-demo",
        origin_jurisdiction="NL",
        legal_basis=pdomain.LegalBasis.EPOC_PR,
        provider_id=provider,
        targets=(pdomain.Target("ACCOUNT_HANDLE", target),),
        data_categories=("CONTENT",),
        description="",
        restricted=True,
        shared_with=(),
        state=state,
        version=2,
        created_by=NL,
        created_at=NOW,
        updated_by=NL,
        updated_at=NOW,
    )


def test_removal_preserve_first_links_a_live_order_that_covers_the_content() -> None:
    """REMOVAL_PRESERVE_FIRST: a live order of the same provider whose target is the item's account (any case,
    with or without @) is found; drafts, expired, lifted, other providers, other targets and orders the caller may
    not see are not; without one, NO_LIVE_PRESERVATION unless a reason is given."""
    nl = principal("police_liaison", "NL")
    cmd = new(proceed_without_preservation_reason="")
    live = order(pdomain.OrderState.CONFIRMED)
    found, problem = rd.live_preservation(cmd, [live], nl)
    assert found == live and problem is None
    dead = [
        order(pdomain.OrderState.DRAFT),
        order(pdomain.OrderState.EXPIRED),
        order(pdomain.OrderState.LIFTED),
        order(pdomain.OrderState.CONFIRMED, provider="other"),
        order(pdomain.OrderState.CONFIRMED, target="@someone_else"),
    ]
    found, problem = rd.live_preservation(cmd, dead, nl)
    assert found is None and problem is not None and problem.reason == "NO_LIVE_PRESERVATION"
    # A restricted order of NL is not seen by DE: DE cannot link it, nor learn it exists.
    found, problem = rd.live_preservation(cmd, [live], principal("police_liaison", "DE"))
    assert found is None and problem is not None
    found, problem = rd.live_preservation(new(), dead, nl)
    assert found is None and problem is None  # a reason to go on
    linked = rd.create(new(), removal_id="r", actor=NL, now=NOW, rules=RemovalRules(), order=live)
    assert linked.preservation_order_id == live.id and linked.proceed_without_preservation_reason == ""


T = TypeVar("T")


class StandIn:
    """The parts of ``Runtime`` a removal request's view touches: reads on a real SQLite database, no
    workspace closed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.workspaces: dict[str, Any] = {}
        self.clock = ManualClock(NOW)

    async def read(self, fn: Callable[[Session], T], **_: Any) -> T:
        return fn(self.session)


def test_a_removal_names_its_restricted_preservation_order_only_to_who_may_read_the_order() -> None:
    """Review 37, finding 2: NL's liaison preserves @rev3ng3 with a restricted order (NL only) and asks for
    removal; the removal links the order by itself and, like every removal, is open to the workspace. DE may
    not know the order exists (its READ is NOT_FOUND), yet DE's GetRemoval/ListRemovals named it, and so did
    the removal's events, which go to every member. Now the view names it to NL alone (and to DE once the
    order is shared with DE), and no event carries it."""
    nl, de = principal("police_liaison", "NL"), principal("police_liaison", "DE")
    restricted = order(pdomain.OrderState.CONFIRMED)
    found, problem = rd.live_preservation(new(proceed_without_preservation_reason=""), [restricted], nl)
    assert found is restricted and problem is None
    removal = rd.create(new(), removal_id="r1", actor=NL, now=NOW, rules=RemovalRules(), order=found)
    assert decide(de, Operation.READ, record=removal.access()) is Decision.ALLOW
    assert decide(de, Operation.READ, record=restricted.access()) is Decision.NOT_FOUND

    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}  # the service's content keys, as the bootstrap installs them
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    try:
        with Session(engine, info=info) as session, session.begin():
            store.ORDERS.insert(session, restricted, request_id="q1", request_digest="d")
            svc = RemovalServicer(StandIn(session), RemovalRules(), providers.load())  # type: ignore[arg-type]

            def shown(who: Principal) -> str:
                async def view() -> Any:  # as ``get_rpc`` calls it
                    made = svc._view(who, removal, NOW)
                    return await made if inspect.isawaitable(made) else made

                return asyncio.run(view()).preservation_order_id

            assert shown(nl) == restricted.id
            assert shown(de) == "", "the restricted order's id leaks to DE"
            shared = pdomain.Order(**{**vars(restricted), "shared_with": ("DE",), "version": 3})
            store.ORDERS.update_if_version(session, shared, restricted.version)
            assert shown(de) == restricted.id
    finally:
        engine.dispose()

    class Uow:  # what ``removal_events.announce`` writes into: the events it emits
        emitted: list[Any] = []

        def emit(self, subject: str, envelope: Any) -> None:
            self.emitted.append(envelope)

    removal_events.announce(Uow(), removal, "created", frozenset({"NL", "DE", "IE"}), NOW)  # type: ignore[arg-type]
    (event,) = Uow.emitted
    carried = removal_pb2.RemovalRequest()
    assert event.state.Unpack(carried) and carried.id == removal.id
    assert sorted(event.audience) == ["DE", "IE", "NL"] and carried.preservation_order_id == ""
    assert rd.order_shown(nl, removal, restricted) and not rd.order_shown(de, removal, restricted)


def test_a_removal_linked_to_an_order_a_member_may_not_read_looks_to_it_as_one_sent_without_preservation() -> None:
    """Security review: the view and the events emptied the order's id for DE (who may not read NL's
    restricted order) but the reason to go on without preservation exists only when no order is linked, so an
    empty id beside an empty reason told DE, and every member's node, that a hidden order exists. Now DE's
    Get, List and every event show the linked removal exactly as one sent without preservation (no id, no
    reason, all else alike), while NL, who may read the order and issued both, sees the link and its reason."""
    nl, de = principal("police_liaison", "NL"), principal("police_liaison", "DE")
    restricted = order(pdomain.OrderState.CONFIRMED)
    found, problem = rd.live_preservation(new(proceed_without_preservation_reason=""), [restricted], nl)
    assert found is restricted and problem is None
    linked = rd.create(new(proceed_without_preservation_reason=""), removal_id="r1", actor=NL, now=NOW,
                       rules=RemovalRules(), order=found)  # fmt: skip
    plain = rd.create(new(), removal_id="r2", actor=NL, now=NOW, rules=RemovalRules(), order=None)
    assert plain.proceed_without_preservation_reason == "gone already" and not plain.preservation_order_id

    def same_but_id(msg: Any) -> bytes:
        out = type(msg)()
        out.CopyFrom(msg)
        out.id = ""
        return out.SerializeToString(deterministic=True)

    engine = create_engine("sqlite://")
    store.Base.metadata.create_all(engine)
    info: dict[str, object] = {}
    sealing.install(info, store.Base.metadata, crypto.KekRing([crypto.Kek(bytes(32))]))
    try:
        with Session(engine, info=info) as session, session.begin():
            store.ORDERS.insert(session, restricted, request_id="q1", request_digest="d")
            svc = RemovalServicer(StandIn(session), RemovalRules(), providers.load())  # type: ignore[arg-type]

            def got(who: Principal, removal: rd.Removal) -> Any:  # as ``get_rpc`` calls ``_view``
                async def view() -> Any:
                    made = svc._view(who, removal, NOW)
                    return await made if inspect.isawaitable(made) else made

                return asyncio.run(view())

            def listed(who: Principal) -> list[Any]:  # as ``ListRemovals`` builds its page
                page = [linked, plain]
                orders = asyncio.run(svc._linked_orders(page))
                return [svc._message(who, r, NOW, orders) for r in page]

            de_get = got(de, linked)
            assert de_get.preservation_order_id == "" and de_get.proceed_without_preservation_reason == ""
            assert same_but_id(de_get) == same_but_id(got(de, plain)), "DE tells the two apart"
            de_list = listed(de)
            assert same_but_id(de_list[0]) == same_but_id(de_list[1]) == same_but_id(de_get)
            nl_get, nl_plain = got(nl, linked), got(nl, plain)
            assert nl_get.preservation_order_id == restricted.id
            assert nl_plain.proceed_without_preservation_reason == "gone already"
            assert [m.preservation_order_id for m in listed(nl)] == [restricted.id, ""]
    finally:
        engine.dispose()

    class Uow:  # what ``removal_events.announce`` writes into: the events it emits
        emitted: list[Any] = []

        def emit(self, subject: str, envelope: Any) -> None:
            self.emitted.append(envelope)

    carried = []
    for removal in (linked, plain):
        removal_events.announce(Uow(), removal, "created", frozenset({"NL", "DE", "IE"}), NOW)  # type: ignore[arg-type]
        state = removal_pb2.RemovalRequest()
        assert Uow.emitted[-1].state.Unpack(state) and state.id == removal.id
        carried.append(state)
    assert same_but_id(carried[0]) == same_but_id(carried[1]), "the events tell the two apart"
    assert carried[1].proceed_without_preservation_reason == "" and carried[0].preservation_order_id == ""


# ---- access: jitlib.policy, as a matrix ----------------------------------------------------------------

ROLES = ["prosecutor", "police_liaison", "participant", "operator", "auditor"]
# Relations: the issuing jurisdiction (NL), another member (DE), a non-member (FR).
# A = allowed, N = NOT_FOUND, D = PERMISSION_DENIED.
EXPECTED = {
    Operation.READ: {"prosecutor": "AAN", "police_liaison": "AAN", "participant": "AAN", "operator": "DDD",
                     "auditor": "DDD"},
    Operation.ISSUER_ACT: {"prosecutor": "ADN", "police_liaison": "ADN", "participant": "DDN", "operator": "DDD",
                           "auditor": "DDD"},
    Operation.CREATE: {"prosecutor": "AAN", "police_liaison": "AAN", "participant": "DDN", "operator": "DDD",
                       "auditor": "DDD"},
}  # fmt: skip
LETTER = {"A": Decision.ALLOW, "N": Decision.NOT_FOUND, "D": Decision.DENY}
WHERE = [("NL", True), ("DE", True), ("FR", False)]


@pytest.mark.parametrize("op", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("where", range(3))
def test_removal_policy_matrix(op: Operation, role: str, where: int) -> None:
    jurisdiction, member = WHERE[where]
    p = principal(role, jurisdiction, member)
    record = RecordAccess(workspace_id="jit-demo", origin_jurisdiction="NL", addressee_jurisdiction=None,
                          restricted=False)  # fmt: skip
    if op is Operation.CREATE:
        got = decide(p, op, REMOVAL_REQUEST_RULES, workspace_id="jit-demo")
    else:
        got = decide(p, op, REMOVAL_REQUEST_RULES, record=record)
    assert got is LETTER[EXPECTED[op][role][where]]


def test_allowed_actions_are_the_issuing_sides_and_the_states() -> None:
    r = made()
    assert rd.allowed_actions(r, principal("police_liaison", "NL")) == ("ack", "removed", "geoblocked", "refused")
    assert rd.allowed_actions(r, principal("prosecutor", "DE")) == ()


@pytest.mark.parametrize(
    "url",
    ["https://m.example/\x1b[2J\x00\x07", "https://m.example/\u202egpj.exe", "https://m.example/1\n", "http://[evil"],
)
def test_a_content_url_that_holds_control_characters_or_does_not_parse_is_refused_by_name(url: str) -> None:
    assert [v.field for v in rd.url_violations("items[0].url", url, required=True)] == ["items[0].url"]
    assert rd.url_violations("items[0].url", "https://m.example/1", required=True) == []
