"""Evidence requests addressed to states outside the workspace (pure): who may be addressed, who reads the
request, and what the addressed state may do with it (jitlib.legal JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES,
ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT)."""

from __future__ import annotations

import pytest

from jit.events.v1.envelope_pb2 import Envelope
from jitlib import legal
from jitlib.policy import EVIDENCE_REQUEST_RULES, Decision, Operation, decide
from jitlib.principal import Principal
from services.evidence import domain
from services.messaging import domain as messaging
from tests.unit.test_evidence_rules import NOW, make, new, run

#: A workspace of NL and DE only.
MEMBERS = frozenset({"NL", "DE"})
WS = "jit-demo"


def user(jurisdiction: str, role: str = "prosecutor", *, member: bool = False) -> Principal:
    return Principal(
        f"u-{jurisdiction}-{role}",
        f"{jurisdiction.lower()}-{role}",
        jurisdiction,
        frozenset({role}),
        frozenset({WS}) if member else frozenset(),
    )


def epoc_to_ie(procedure: str = "WITH_NOTIFICATION") -> dict[str, object]:
    return dict(
        legal_basis="EPOC",
        epoc_procedure=procedure,
        addressee_kind="SERVICE_PROVIDER",
        provider_name="SocialNet Ireland Ltd",
        addressee_jurisdiction="IE",
    )


@pytest.mark.parametrize(
    "over",
    [
        pytest.param(epoc_to_ie(), id="epoc-notifying-ie"),
        pytest.param(dict(legal_basis="MLA", addressee_jurisdiction="US"), id="mla-to-a-third-state"),
        pytest.param(dict(legal_basis="EIO", addressee_jurisdiction="FR"), id="eio-to-an-eu-state-outside-the-team"),
    ],
)
def test_jit_instruments_toward_outside_states_may_be_addressed_outside_the_workspace(
    over: dict[str, object],
) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES (FD 2002/465 Art. 1(7)-(9); 2000 MLA Convention Art. 13(7)-(9)):
    an EPOC notifying IE, an MLA request to a third state and an EIO to an EU state not in the team are
    valid in a workspace of NL and DE."""
    assert domain.new_request_violations(new(**over), "NL", NOW) == []
    assert domain.membership_violations(new(**over), MEMBERS) == []


def test_a_direct_exchange_inside_the_jit_stays_between_members() -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES: a JIT_DIRECT exchange is addressed to a member; the refusal
    names the field, says to use an EIO or MLA request, and cites the row's source."""
    out = domain.membership_violations(new(legal_basis="JIT_DIRECT", addressee_jurisdiction="FR"), MEMBERS)
    assert [v.field for v in out] == ["addressee_jurisdiction"]
    assert "EIO or MLA" in out[0].description
    assert legal.cite("JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES") in out[0].description
    assert domain.membership_violations(new(legal_basis="JIT_DIRECT", addressee_jurisdiction="DE"), MEMBERS) == []


def test_shared_with_stays_members_only_and_the_addressee_a_jurisdiction() -> None:
    out = domain.membership_violations(new(addressee_jurisdiction="FR", shared_with=("FR",)), MEMBERS)
    assert [v.field for v in out] == ["shared_with[0]"]
    fields = {v.field for v in domain.new_request_violations(new(addressee_jurisdiction="France"), "NL", NOW)}
    assert "addressee_jurisdiction" in fields


def test_the_outside_addressee_reads_the_request_and_acts_as_addressee() -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES: FR, no member, acknowledges, decides and executes an EIO
    addressed to it (its allowed actions come from the one policy); it may not act as the issuer."""
    r = run(make(addressee_jurisdiction="FR"), "issue")
    fr = user("FR")
    assert r.access().outside_reader == "FR"
    assert decide(fr, Operation.READ, EVIDENCE_REQUEST_RULES, record=r.access()) is Decision.ALLOW
    assert domain.allowed_actions(r, fr, NOW)[:4] == ("acknowledge", "refuse", "report_not_executed", "extend_decision")
    r = run(r, "acknowledge", "start_execution")
    assert "upload_item" in domain.allowed_actions(r, fr, NOW)
    assert "complete" in domain.allowed_actions(r, fr, NOW)
    assert "withdraw" not in domain.allowed_actions(r, fr, NOW)
    assert decide(fr, Operation.ISSUER_ACT, EVIDENCE_REQUEST_RULES, record=r.access()) is Decision.DENY
    # The police liaison of FR acts as addressee too; a participant reads only.
    assert "complete" in domain.allowed_actions(r, user("FR", "police_liaison"), NOW)
    assert domain.allowed_actions(r, user("FR", "participant"), NOW) == ()


def test_the_notified_enforcing_state_outside_the_workspace_reviews_the_epoc() -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES: IE, the provider's establishment state notified of an EPOC
    of a workspace of NL and DE, opens the review and may refuse; without notification it sees nothing."""
    r = run(make(**epoc_to_ie()), "issue", "acknowledge")
    assert domain.allowed_actions(r, user("IE"), NOW) == ("open_review", "refuse")
    silent = run(make(**epoc_to_ie("STANDARD")), "issue")
    assert silent.access().outside_reader is None
    assert decide(user("IE"), Operation.READ, EVIDENCE_REQUEST_RULES, record=silent.access()) is Decision.NOT_FOUND


def test_addressee_sees_only_what_is_addressed_to_it_other_records_and_the_jit_direct_kind() -> None:
    """ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT (Reg. (EU) 2023/969 Art. 24): FR reads the EIO addressed
    to it, not one addressed to DE in the same workspace, open to the workspace or not."""
    fr = user("FR")
    to_de = make(restricted=False)
    assert decide(fr, Operation.READ, EVIDENCE_REQUEST_RULES, record=to_de.access()) is Decision.NOT_FOUND
    assert decide(fr, Operation.READ, EVIDENCE_REQUEST_RULES, record=make().access()) is Decision.NOT_FOUND
    # A member reads an open request of its workspace, as before.
    de = user("DE", member=True)
    assert decide(de, Operation.READ, EVIDENCE_REQUEST_RULES, record=to_de.access()) is Decision.ALLOW


def test_addressee_sees_only_what_is_addressed_to_it_not_the_record_thread() -> None:
    """ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT: a request's thread (messaging) is a channel of the
    workspace: its parties are the record's that are members, so an addressee outside the JIT neither
    reads it nor receives its events; a member addressee stays a party. Opening it is decided on the
    request's access facts as messaging copies them, which do not let a non-member in."""
    seen = messaging.evidence_request_replica(
        id="0190f7a0-0000-7000-8000-0000000000aa",
        workspace_id=WS,
        origin_jurisdiction="NL",
        addressee_kind="MEMBER_STATE",
        addressee="FR",
        legal_basis="MLA",
        epoc_procedure="",
        restricted=True,
        shared_with=["DE"],
        version=1,
    )
    assert messaging.thread_members(seen, MEMBERS) == ("DE",)
    thread = messaging.record_thread(seen, channel_id="c", now=NOW, members=MEMBERS)
    assert thread.parties == {"NL", "DE"}
    assert decide(user("FR"), Operation.READ, None, record=thread.access()) is Decision.NOT_FOUND
    assert decide(user("FR"), Operation.READ, None, record=seen.access()) is Decision.NOT_FOUND
    to_de = messaging.evidence_request_replica(
        id="0190f7a0-0000-7000-8000-0000000000ab",
        workspace_id=WS,
        origin_jurisdiction="NL",
        addressee_kind="MEMBER_STATE",
        addressee="DE",
        legal_basis="EIO",
        epoc_procedure="",
        restricted=True,
        shared_with=[],
        version=1,
    )
    assert messaging.thread_members(to_de, MEMBERS) == ("DE",)


def _epoc_event(version: int, enforcing: str = "") -> Envelope:
    """An event of an EPOC without notification NL -> a provider in IE (restricted), as the evidence service
    publishes it: transferred for enforcement to ``enforcing`` when given."""
    from jit.evidence.v1 import evidence_pb2 as ev

    state = ev.EvidenceRequest(
        id="0190f7a0-0000-7000-8000-0000000000ac", workspace_id=WS, origin_jurisdiction="NL", version=version,
        legal_basis=ev.LEGAL_BASIS_EPOC, epoc_procedure=ev.EPOC_PROCEDURE_STANDARD,
        addressee_kind=ev.ADDRESSEE_KIND_SERVICE_PROVIDER, addressee_jurisdiction="IE",
        state=ev.EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT if enforcing else ev.EVIDENCE_REQUEST_STATE_ISSUED,
        enforcing_jurisdiction=enforcing,
    )  # fmt: skip
    env = Envelope(aggregate_type="evidence_request", aggregate_id=state.id, aggregate_version=version)
    env.state.Pack(state)
    return env


def test_epoc_enforcing_state_sees_the_order_and_joins_its_thread_as_a_member() -> None:
    """EPOC_ENFORCING_STATE_SEES_THE_ORDER: once an EPOC is transferred for enforcement, the enforcing state
    is a party of the request's thread (messaging reads it from the request's state in the event, by the rule
    the evidence service's access and its events' audience use), so its authorities discuss the order there
    with the issuer's; before, it is not, nor is a member that is no party. An enforcing state outside the
    workspace reads the request, never the thread (ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT)."""
    from jitlib import envelopes
    from services.messaging.mapping import record_replica

    with_ie = frozenset({"NL", "DE", "IE"})
    before, after = record_replica(_epoc_event(1)), record_replica(_epoc_event(2, enforcing="IE"))
    assert before is not None and after is not None
    thread = messaging.record_thread(before, channel_id="c", now=NOW, members=with_ie)
    assert thread.members == () and envelopes.access_audience(thread.access(), with_ie) == ["NL"]
    ie = user("IE", member=True)
    assert decide(ie, Operation.READ, None, record=thread.access()) is Decision.NOT_FOUND
    assert decide(ie, Operation.READ, None, record=before.access()) is Decision.NOT_FOUND

    moved = messaging.thread_after(thread, after, with_ie)
    assert moved is not None and moved.members == ("IE",)
    assert envelopes.access_audience(moved.access(), with_ie) == ["IE", "NL"]
    assert decide(ie, Operation.READ, None, record=moved.access()) is Decision.ALLOW
    assert decide(ie, Operation.READ, None, record=after.access()) is Decision.ALLOW
    # The same parties as the evidence service's own access facts of the request, whose events reach IE.
    evidence_access = domain.request_access(WS, "NL", "SERVICE_PROVIDER", "IE", "EPOC", "STANDARD", True, (), "IE")
    assert after.access().parties == evidence_access.parties == {"NL", "IE"}
    assert set(envelopes.access_audience(moved.access(), with_ie)) <= set(
        envelopes.access_audience(evidence_access, with_ie)
    )
    # A member that is no party stays out.
    de = user("DE", member=True)
    assert decide(de, Operation.READ, None, record=moved.access()) is Decision.NOT_FOUND

    # IE outside the workspace (NL and DE only): it reads the request (the evidence service), not the thread.
    outside = messaging.record_thread(after, channel_id="c2", now=NOW, members=MEMBERS)
    assert outside.members == () and envelopes.access_audience(outside.access(), MEMBERS) == ["NL"]
    assert decide(user("IE"), Operation.READ, None, record=outside.access()) is Decision.NOT_FOUND
