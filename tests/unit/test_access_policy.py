"""The access policy as a full matrix: role x jurisdiction's relation to the record x restricted or not x
operation. The expected answers are written out by hand below, independently of the policy's code, so a
change to the policy that changes any answer fails here."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from jitlib.auth import Principal
from jitlib.policy import (
    CASE_ROLES,
    EVIDENCE_ENFORCEMENT_RULES,
    EVIDENCE_ITEM_RULES,
    EVIDENCE_REQUEST_RULES,
    TASK_RULES,
    Decision,
    KeptAnswers,
    Members,
    Operation,
    RecordAccess,
    decide,
    decide_hold,
    decide_received,
    evidence_request_addressee,
    in_directory,
    permitted,
)

ROLES = ["prosecutor", "police_liaison", "participant", "operator", "auditor"]
# The record: issued by NL, addressed to DE, shared with IE; BE is another member; FR is not a member.
RELATIONS = {"issuer": "NL", "addressee": "DE", "shared": "IE", "member": "BE", "outsider": "FR"}
WORKSPACE = "jit-demo"

# One line per role; one letter per relation in the order issuer, addressee, shared, member, outsider.
# A = allowed, N = NOT_FOUND (existence not revealed), D = PERMISSION_DENIED.
EXPECTED = {
    (Operation.READ, False): """
        prosecutor      AAAAN
        police_liaison  AAAAN
        participant     AAAAN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.READ, True): """
        prosecutor      AAANN
        police_liaison  AAANN
        participant     AAANN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.ISSUER_ACT, False): """
        prosecutor      ADDDN
        police_liaison  DDDDN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.ISSUER_ACT, True): """
        prosecutor      ADDNN
        police_liaison  DDDNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.ADDRESSEE_ACT, False): """
        prosecutor      DADDN
        police_liaison  DADDN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.ADDRESSEE_ACT, True): """
        prosecutor      DADNN
        police_liaison  DADNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
}
# Creating a task in the workspace: member or not (no record yet).
EXPECTED_CREATE = {
    "prosecutor": "AN",
    "police_liaison": "DN",
    "participant": "DN",
    "operator": "DD",
    "auditor": "DD",
}
LETTER = {"A": Decision.ALLOW, "N": Decision.NOT_FOUND, "D": Decision.DENY}


def principal(role: str, jurisdiction: str) -> Principal:
    member = jurisdiction != "FR"
    return Principal(
        user_id=f"{role}-{jurisdiction}",
        username=f"{jurisdiction.lower()}-{role}",
        jurisdiction=jurisdiction,
        roles=frozenset({role}),
        workspaces=frozenset({WORKSPACE}) if member else frozenset({"another-jit"}),
    )


def record(restricted: bool) -> RecordAccess:
    return RecordAccess(
        workspace_id=WORKSPACE,
        origin_jurisdiction="NL",
        addressee_jurisdiction="DE",
        restricted=restricted,
        shared_with=frozenset({"IE"}),
    )


def _cases() -> list[tuple[Operation, bool, str, str, Decision]]:
    cases = []
    for (op, restricted), grid in EXPECTED.items():
        lines = [line.split() for line in grid.strip().splitlines()]
        assert [role for role, _ in lines] == ROLES
        for role, letters in lines:
            assert len(letters) == len(RELATIONS)
            for relation, letter in zip(RELATIONS, letters, strict=True):
                cases.append((op, restricted, role, relation, LETTER[letter]))
    return cases


@pytest.mark.parametrize(("op", "restricted", "role", "relation", "expected"), _cases())
def test_record_operation_matrix(op: Operation, restricted: bool, role: str, relation: str, expected: Decision) -> None:
    p = principal(role, RELATIONS[relation])
    assert decide(p, op, TASK_RULES, record=record(restricted)) is expected


@pytest.mark.parametrize(("op", "restricted", "role", "relation", "expected"), _cases())
def test_record_operation_matrix_after_jit_member_taken_out(
    op: Operation, restricted: bool, role: str, relation: str, expected: Decision
) -> None:
    """JIT_MEMBER_TAKEN_OUT: the same matrix once the addressee's country, DE, was taken out of the workspace
    (the directory's members say so; its users' tokens may still name the workspace): DE's case roles get
    NOT_FOUND for every operation, operators and auditors PERMISSION_DENIED as before, every other
    relation's answer is unchanged."""
    directory = {WORKSPACE: Members({"NL", "IE", "BE"}, former={"DE"})}
    p = in_directory(principal(role, RELATIONS[relation]), directory.get)
    if relation == "addressee" and role in CASE_ROLES:
        expected = Decision.NOT_FOUND
    assert decide(p, op, TASK_RULES, record=record(restricted)) is expected


# A chain-of-custody entry on an evidence item (RecordCustodyEvent: exported, transferred, sealed, ...), the
# item of the record above (its request): a prosecutor or police liaison of any jurisdiction party to the
# request, the one it is shared with included; a participant of a party sees the item and never acts on it.
EXPECTED_CUSTODY = {
    False: """
        prosecutor      AAADN
        police_liaison  AAADN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    True: """
        prosecutor      AAANN
        police_liaison  AAANN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
}


def _custody_cases() -> list[tuple[bool, str, str, Decision]]:
    cases = []
    for restricted, grid in EXPECTED_CUSTODY.items():
        lines = [line.split() for line in grid.strip().splitlines()]
        assert [role for role, _ in lines] == ROLES
        for role, letters in lines:
            for relation, letter in zip(RELATIONS, letters, strict=True):
                cases.append((restricted, role, relation, LETTER[letter]))
    return cases


@pytest.mark.parametrize(("restricted", "role", "relation", "expected"), _custody_cases())
def test_custody_entry_matrix_a_party_acts_by_its_prosecutor_or_liaison_never_a_participant(
    restricted: bool, role: str, relation: str, expected: Decision
) -> None:
    p = principal(role, RELATIONS[relation])
    assert decide(p, Operation.ANY_PARTY_ACT, EVIDENCE_ITEM_RULES, record=record(restricted)) is expected


# The enforcement of a European Production Order (EVIDENCE_ENFORCEMENT_RULES), the record above being the
# request and its addressee the enforcing state: only a prosecutor transfers it (issuer) or decides on its
# recognition (addressee), never a police liaison or a participant.
EXPECTED_ENFORCEMENT = {
    (Operation.ISSUER_ACT, False): """
        prosecutor      ADDDN
        police_liaison  DDDDN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.ISSUER_ACT, True): """
        prosecutor      ADDNN
        police_liaison  DDDNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.ADDRESSEE_ACT, False): """
        prosecutor      DADDN
        police_liaison  DDDDN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    (Operation.ADDRESSEE_ACT, True): """
        prosecutor      DADNN
        police_liaison  DDDNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
}


def _enforcement_cases() -> list[tuple[Operation, bool, str, str, Decision]]:
    cases = []
    for (op, restricted), grid in EXPECTED_ENFORCEMENT.items():
        lines = [line.split() for line in grid.strip().splitlines()]
        assert [role for role, _ in lines] == ROLES
        for role, letters in lines:
            for relation, letter in zip(RELATIONS, letters, strict=True):
                cases.append((op, restricted, role, relation, LETTER[letter]))
    return cases


@pytest.mark.parametrize(("op", "restricted", "role", "relation", "expected"), _enforcement_cases())
def test_enforcement_matrix_a_prosecutor_on_either_side(
    op: Operation, restricted: bool, role: str, relation: str, expected: Decision
) -> None:
    """EPOC_ENFORCEMENT_TRANSFER, EPOC_ENFORCEMENT_REFUSAL_GROUNDS: the issuer's prosecutor transfers, the
    enforcing state's prosecutor decides."""
    p = principal(role, RELATIONS[relation])
    assert decide(p, op, EVIDENCE_ENFORCEMENT_RULES, record=record(restricted)) is expected


@pytest.mark.parametrize("role", ROLES)
def test_a_kind_that_names_no_party_roles_lets_no_party_act_as_any_party(role: str) -> None:
    for relation in ("issuer", "addressee", "shared"):
        p = principal(role, RELATIONS[relation])
        assert decide(p, Operation.ANY_PARTY_ACT, TASK_RULES, record=record(False)) is not Decision.ALLOW


# The consent to another use of an evidence item of the record above (RecordUseConsent, ORIGIN_STATE_ACT): a
# prosecutor of the state where the item arose, on its behalf; whoever else sees the item is refused. The item
# arose in the addressee (DE: an EIO executed there) or in the issuer (NL: an EPOC's provider answers it).
EXPECTED_CONSENT = {
    ("DE", False): """
        prosecutor      DADDN
        police_liaison  DDDDN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    ("DE", True): """
        prosecutor      DADNN
        police_liaison  DDDNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
    ("NL", False): """
        prosecutor      ADDDN
        police_liaison  DDDDN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    ("NL", True): """
        prosecutor      ADDNN
        police_liaison  DDDNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
}


def _consent_cases() -> list[tuple[str, bool, str, str, Decision]]:
    cases = []
    for (origin, restricted), grid in EXPECTED_CONSENT.items():
        lines = [line.split() for line in grid.strip().splitlines()]
        assert [role for role, _ in lines] == ROLES
        for role, letters in lines:
            for relation, letter in zip(RELATIONS, letters, strict=True):
                cases.append((origin, restricted, role, relation, LETTER[letter]))
    return cases


@pytest.mark.parametrize(("origin", "restricted", "role", "relation", "expected"), _consent_cases())
def test_consent_matrix_only_a_prosecutor_of_the_items_originating_state_consents_to_other_use(
    origin: str, restricted: bool, role: str, relation: str, expected: Decision
) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT: ORIGIN_STATE_ACT under EVIDENCE_ITEM_RULES."""
    p = principal(role, RELATIONS[relation])
    got = decide(p, Operation.ORIGIN_STATE_ACT, EVIDENCE_ITEM_RULES, record=record(restricted), origin_state=origin)
    assert got is expected


@pytest.mark.parametrize("role", ROLES)
def test_a_kind_that_names_no_origin_state_roles_lets_no_one_act_as_the_origin_state(role: str) -> None:
    for relation in ("issuer", "addressee"):
        p = principal(role, RELATIONS[relation])
        got = decide(p, Operation.ORIGIN_STATE_ACT, TASK_RULES, record=record(False), origin_state=RELATIONS[relation])
        assert got is not Decision.ALLOW


def test_an_origin_state_act_needs_the_origin_state() -> None:
    with pytest.raises(ValueError, match="origin state"):
        decide(principal("prosecutor", "DE"), Operation.ORIGIN_STATE_ACT, EVIDENCE_ITEM_RULES, record=record(False))


ACTIONS = (("accept", Operation.ADDRESSEE_ACT, TASK_RULES), ("cancel", Operation.ISSUER_ACT, TASK_RULES))


@pytest.mark.parametrize("restricted", [False, True])
def test_permitted_answers_as_decide_for_every_caller_though_it_keeps_its_answers(restricted: bool) -> None:
    """``permitted`` keeps its answers (a list's page asks the same of many records): asked in turn for every
    role and relation, twice, each answer is still what ``decide`` gives that caller."""
    for _ in range(2):
        for role in ROLES:
            for relation, jurisdiction in RELATIONS.items():
                p = principal(role, jurisdiction)
                want = tuple(
                    name
                    for name, op, rules in ACTIONS
                    if decide(p, op, rules, record=record(restricted)) is Decision.ALLOW
                )
                assert permitted(p, record(restricted), iter(ACTIONS)) == want, (role, relation)
    nl = principal("prosecutor", "NL")
    assert permitted(nl, record(restricted), ACTIONS) == ("cancel",)
    outside = Principal(nl.user_id, nl.username, "NL", nl.roles, frozenset({"another-jit"}))
    assert permitted(outside, record(restricted), ACTIONS) == ()


def test_kept_answers_work_out_each_missing_key_once_and_drop_all_when_full() -> None:
    worked: list[str] = []

    def work(key: str) -> str:
        worked.append(key)
        return key.upper()

    kept: KeptAnswers[str, str] = KeptAnswers(2)
    assert [kept.get(k, lambda k=k: work(k)) for k in ("a", "b", "a", "b")] == ["A", "B", "A", "B"]
    assert worked == ["a", "b"]
    assert kept.get("c", lambda: work("c")) == "C"  # full: a and b dropped, c kept
    assert kept.get("b", lambda: work("b")) == "B"
    assert kept.get("c", lambda: work("c")) == "C"
    assert worked == ["a", "b", "c", "b"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("member", [True, False])
def test_create_matrix(role: str, member: bool) -> None:
    p = principal(role, "NL" if member else "FR")
    expected = LETTER[EXPECTED_CREATE[role][0 if member else 1]]
    assert decide(p, Operation.CREATE, TASK_RULES, workspace_id=WORKSPACE) is expected


@pytest.mark.parametrize("role", ROLES)
def test_only_auditors_read_the_audit_log(role: str) -> None:
    expected = Decision.ALLOW if role == "auditor" else Decision.DENY
    assert decide(principal(role, "NL"), Operation.READ_AUDIT) is expected


# Setting or releasing a legal hold (the lead is NL): lead member, other member, outsider.
EXPECTED_HOLD = {
    "prosecutor": "ADN",
    "police_liaison": "DDN",
    "participant": "DDN",
    "operator": "DDD",
    "auditor": "DDD",
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("where", ["NL", "DE", "FR"])
def test_legal_hold_matrix_only_a_prosecutor_of_the_lead_sets_or_releases_a_hold(role: str, where: str) -> None:
    """LEGAL_HOLD: a prosecutor of the lead jurisdiction; NOT_FOUND for a non-member, as for any record."""
    expected = LETTER[EXPECTED_HOLD[role][["NL", "DE", "FR"].index(where)]]
    assert decide_hold(principal(role, where), WORKSPACE, "NL") is expected


def test_a_hold_on_an_unknown_workspace_is_not_found() -> None:
    assert decide_hold(principal("prosecutor", "NL"), WORKSPACE, None) is Decision.NOT_FOUND


def test_a_missing_record_is_not_found_for_case_roles_and_denied_for_operators() -> None:
    # Same answers as for a record that exists but is hidden: nothing distinguishes the two.
    assert decide(principal("prosecutor", "NL"), Operation.READ, TASK_RULES, record=None) is Decision.NOT_FOUND
    assert decide(principal("operator", "NL"), Operation.READ, TASK_RULES, record=None) is Decision.DENY


def test_membership_of_another_jurisdiction_does_not_count() -> None:
    # A DE user placed in the NL group of a workspace is not a member for DE.
    from jitlib.auth import principal_from_claims

    p = principal_from_claims(
        {
            "sub": "u",
            "jurisdiction": "DE",
            "realm_access": {"roles": ["prosecutor"]},
            "groups": ["/workspaces/jit-demo/NL"],
        }
    )
    assert p.workspaces == frozenset()
    assert decide(p, Operation.READ, TASK_RULES, record=record(False)) is Decision.NOT_FOUND


# -- the READ rule rendered as SQL ----------------------------------------------------------------------
# Every store's list filter starts with ``jitlib.visibility.PartyIndex.bound``: the same ``policy.readable``
# that ``decide`` evaluates, rendered as SQL. Here both renderings answer the READ column of the matrix
# above, on real rows in an in-memory SQLite database, for every role and relation, restricted or not, and
# records in another workspace: a list shows exactly the records ``decide`` lets the caller read.


@functools.cache
def _sql_records() -> tuple[Any, Any]:
    """A record table with its parties (``PartyIndex.declare``, as a store declares one), filled with
    ``_SQL_RECORDS``; and its ``PartyIndex``."""
    from sqlalchemy import Boolean, String, create_engine
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

    from jitlib.visibility import PartyIndex

    class Base(DeclarativeBase):
        pass

    class RecordRow(Base):
        __tablename__ = "records"
        id = mapped_column(String, primary_key=True)
        workspace_id = mapped_column(String)
        restricted = mapped_column(Boolean)
        outside_reader = mapped_column(String)

    parties = PartyIndex.declare(
        RecordRow, "parties", key="record_id", index="ix_parties", outside_reader="outside_reader"
    )
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        for rid, rec in _SQL_RECORDS.items():
            session.add(
                RecordRow(
                    id=rid,
                    workspace_id=rec.workspace_id,
                    restricted=rec.restricted,
                    outside_reader=rec.outside_reader or "",
                )
            )
            session.flush()
            parties.write(session, rid, rec.parties)
    return engine, parties


def _sql_visible_ids(p: Principal) -> set[str]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from jitlib.policy import visibility_scope

    engine, parties = _sql_records()
    flt = parties.bound(visibility_scope(p), None)
    with Session(engine) as session:
        return set(session.scalars(select(parties.row.id).where(*flt.conditions()), flt.params))


_SQL_RECORDS = {
    "open": record(False),
    "restricted": record(True),
    "elsewhere-open": RecordAccess("another-jit", "NL", "DE", restricted=False),
    "elsewhere-restricted": RecordAccess("another-jit", "NL", "DE", restricted=True),
    # Addressed to FR, which is not a member of jit-demo, as an instrument toward an outside state.
    "to-fr-open": RecordAccess(WORKSPACE, "NL", "FR", restricted=False, outside_addressee=True),
    "to-fr-restricted": RecordAccess(WORKSPACE, "NL", "FR", restricted=True, outside_addressee=True),
    # ... and as a record that is read by members only (a direct exchange inside the JIT).
    "to-fr-members-only": RecordAccess(WORKSPACE, "NL", "FR", restricted=True),
    # Addressed to a member (DE) as an instrument: DE reads it as a member and as its addressee.
    "to-de-restricted": RecordAccess(WORKSPACE, "NL", "DE", restricted=True, outside_addressee=True),
}
#: Callers besides the matrix's: FR in no workspace at all (the demo realm's fr-prosecutor).
_SQL_CALLERS = {**RELATIONS, "outsider-in-no-workspace": "FR"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("relation", list(_SQL_CALLERS))
def test_list_filter_in_sql_shows_exactly_what_decide_lets_read(role: str, relation: str) -> None:
    p = principal(role, _SQL_CALLERS[relation])
    if relation == "outsider-in-no-workspace":
        p = Principal(p.user_id, p.username, p.jurisdiction, p.roles, frozenset())
    expected = {
        rid for rid, rec in _SQL_RECORDS.items() if decide(p, Operation.READ, TASK_RULES, record=rec) is Decision.ALLOW
    }
    assert _sql_visible_ids(p) == expected
    if relation not in RELATIONS:
        return
    # And the matrix's own READ answers for this cell, so the two cannot drift together unnoticed.
    for restricted in (False, True):
        grid = EXPECTED[(Operation.READ, restricted)]
        letter = dict(line.split() for line in grid.strip().splitlines())[role][list(RELATIONS).index(relation)]
        assert (("restricted" if restricted else "open") in expected) is (letter == "A")


# -- who an evidence request is addressed to (one rule for the evidence service and messaging) -----------


@pytest.mark.parametrize(
    ("kind", "basis", "procedure", "party"),
    [
        ("MEMBER_STATE", "EIO", "", "DE"),
        ("MEMBER_STATE", "MLA", "", "DE"),
        ("SERVICE_PROVIDER", "EPOC", "WITHOUT_NOTIFICATION", None),
        ("SERVICE_PROVIDER", "EPOC", "WITH_NOTIFICATION", "DE"),
        ("SERVICE_PROVIDER", "EPOC", "EMERGENCY_WITH_NOTIFICATION", "DE"),
        ("SERVICE_PROVIDER", "EPOC", "EMERGENCY", None),
        ("SERVICE_PROVIDER", "MLA", "WITH_NOTIFICATION", None),
    ],
)
def test_the_provider_state_sees_an_epoc_only_when_notified(
    kind: str, basis: str, procedure: str, party: str | None
) -> None:
    """Regulation (EU) 2023/1543 Art. 8: only a notified enforcing state is a party to an EPOC."""
    from jitlib.policy import evidence_request_addressee

    assert evidence_request_addressee(kind, "DE", basis, procedure) == party


# -- an EPOC transferred for enforcement: the order, not what it received ------------------------------------
# EPOC_ENFORCING_STATE_SEES_THE_ORDER: an EPOC of jit-demo issued by NL, shared with IE, to a provider established
# in the enforcing state, without notification (so that state was no party), transferred to it for enforcement:
# DE (a member) or FR (no member). Per role, two groups of letters (issuer NL, DE, shared IE, member BE, FR):
# reading the order (READ on the request's facts) and learning what it received, its items and their count
# (``decide_received`` on its items' facts). The enforcing state reads the order; it learns of the items only
# as any member does, an unrestricted request's.
EXPECTED_ENFORCED = {
    ("FR", False): """
        prosecutor      AAAAA AAAAN
        police_liaison  AAAAA AAAAN
        participant     AAAAA AAAAN
        operator        DDDDD DDDDD
        auditor         DDDDD DDDDD""",
    ("FR", True): """
        prosecutor      ANANA ANANN
        police_liaison  ANANA ANANN
        participant     ANANA ANANN
        operator        DDDDD DDDDD
        auditor         DDDDD DDDDD""",
    ("DE", False): """
        prosecutor      AAAAN AAAAN
        police_liaison  AAAAN AAAAN
        participant     AAAAN AAAAN
        operator        DDDDD DDDDD
        auditor         DDDDD DDDDD""",
    ("DE", True): """
        prosecutor      AAANN ANANN
        police_liaison  AAANN ANANN
        participant     AAANN ANANN
        operator        DDDDD DDDDD
        auditor         DDDDD DDDDD""",
}


def enforced(enforcing: str, restricted: bool, *, items: bool) -> RecordAccess:
    """The facts of the EPOC above transferred to ``enforcing`` (``items``: those of what it received), as the
    evidence service makes them (``request_access``) from ``evidence_request_addressee``."""
    addressee = evidence_request_addressee(
        "SERVICE_PROVIDER", enforcing, "EPOC", "STANDARD", "" if items else enforcing
    )
    return RecordAccess(
        WORKSPACE, "NL", addressee, restricted, frozenset({"IE"}), outside_addressee=addressee is not None
    )


def _enforced_cases() -> list[tuple[str, bool, str, str, Decision, Decision]]:
    cases = []
    for (enforcing, restricted), grid in EXPECTED_ENFORCED.items():
        lines = [line.split() for line in grid.strip().splitlines()]
        assert [role for role, *_ in lines] == ROLES
        for role, order, received in lines:
            for i, relation in enumerate(RELATIONS):
                cases.append((enforcing, restricted, role, relation, LETTER[order[i]], LETTER[received[i]]))
    return cases


@pytest.mark.parametrize(("enforcing", "restricted", "role", "relation", "order", "received"), _enforced_cases())
def test_epoc_enforcing_state_sees_the_order_not_what_it_received_nor_its_count(
    enforcing: str, restricted: bool, role: str, relation: str, order: Decision, received: Decision
) -> None:
    """EPOC_ENFORCING_STATE_SEES_THE_ORDER: the enforcing state reads the transferred order and never learns of
    its items or how many there are beyond what a member learns; every other caller as before the transfer."""
    p = principal(role, RELATIONS[relation])
    assert decide(p, Operation.READ, EVIDENCE_REQUEST_RULES, record=enforced(enforcing, restricted, items=False)) is (
        order
    )
    assert decide_received(p, enforced(enforcing, restricted, items=True)) is received
    # What it received is read as before the transfer: the enforcing state adds nothing to its readers.
    before = RecordAccess(WORKSPACE, "NL", None, restricted, frozenset({"IE"}))
    assert decide_received(p, before) is received


def test_an_enforcing_state_names_no_addressee_where_the_request_has_one_or_it_is_no_epoc() -> None:
    """EPOC_ENFORCING_STATE_SEES_THE_ORDER: the enforcing state becomes the addressee of an EPOC that had none;
    a notified state keeps being it (it is the enforcing state), and another instrument is never enforced so."""
    assert evidence_request_addressee("SERVICE_PROVIDER", "IE", "EPOC", "STANDARD", "DE") == "DE"
    assert evidence_request_addressee("SERVICE_PROVIDER", "IE", "EPOC", "WITH_NOTIFICATION", "IE") == "IE"
    assert evidence_request_addressee("SERVICE_PROVIDER", "IE", "MLA", "", "DE") is None
    assert evidence_request_addressee("MEMBER_STATE", "IE", "EIO", "", "DE") == "IE"


# -- a request addressed to a state outside the workspace ------------------------------------------------
# JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES, ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT: an EIO, MLA request or
# EPOC of jit-demo (NL, DE, IE, BE) addressed to FR, which is no member. FR reads that record and acts on it
# as addressee; it may not act as issuer nor create in the workspace, and the workspace's other records
# stay NOT_FOUND to it.

OUTSIDE_RELATIONS = {"issuer": "NL", "outside addressee": "FR", "member": "DE", "other outsider": "US"}
EXPECTED_OUTSIDE = {
    (Operation.READ, False): """
        prosecutor      AAAN
        police_liaison  AAAN
        participant     AAAN
        operator        DDDD
        auditor         DDDD""",
    (Operation.READ, True): """
        prosecutor      AANN
        police_liaison  AANN
        participant     AANN
        operator        DDDD
        auditor         DDDD""",
    (Operation.ISSUER_ACT, True): """
        prosecutor      ADNN
        police_liaison  DDNN
        participant     DDNN
        operator        DDDD
        auditor         DDDD""",
    (Operation.ADDRESSEE_ACT, True): """
        prosecutor      DANN
        police_liaison  DANN
        participant     DDNN
        operator        DDDD
        auditor         DDDD""",
    (Operation.ADDRESSEE_ACT, False): """
        prosecutor      DADN
        police_liaison  DADN
        participant     DDDN
        operator        DDDD
        auditor         DDDD""",
}


def outside_principal(role: str, jurisdiction: str) -> Principal:
    """FR and US are members of no workspace; NL and DE of jit-demo."""
    member = jurisdiction in ("NL", "DE")
    return Principal(
        user_id=f"{role}-{jurisdiction}",
        username=f"{jurisdiction.lower()}-{role}",
        jurisdiction=jurisdiction,
        roles=frozenset({role}),
        workspaces=frozenset({WORKSPACE}) if member else frozenset(),
    )


def to_fr(restricted: bool, *, outside: bool = True) -> RecordAccess:
    return RecordAccess(WORKSPACE, "NL", "FR", restricted=restricted, outside_addressee=outside)


def _outside_cases() -> list[tuple[Operation, bool, str, str, Decision]]:
    cases = []
    for (op, restricted), grid in EXPECTED_OUTSIDE.items():
        for role, letters in (line.split() for line in grid.strip().splitlines()):
            for relation, letter in zip(OUTSIDE_RELATIONS, letters, strict=True):
                cases.append((op, restricted, role, relation, LETTER[letter]))
    return cases


@pytest.mark.parametrize(("op", "restricted", "role", "relation", "expected"), _outside_cases())
def test_a_non_member_addressee_reads_and_acts_on_the_record_addressed_to_it(
    op: Operation, restricted: bool, role: str, relation: str, expected: Decision
) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES (FD 2002/465 Art. 1(7)-(9); 2000 MLA Convention Art. 13(7)-(9)):
    READ and ADDRESSEE_ACT allowed to the addressee outside the workspace, ISSUER_ACT denied."""
    p = outside_principal(role, OUTSIDE_RELATIONS[relation])
    assert decide(p, op, EVIDENCE_REQUEST_RULES, record=to_fr(restricted)) is expected


@pytest.mark.parametrize("role", ["prosecutor", "police_liaison", "participant"])
def test_addressee_sees_only_what_is_addressed_to_it(role: str) -> None:
    """ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT (Reg. (EU) 2023/969 Art. 24, need to know): FR, addressee
    of one request of jit-demo, creates nothing there and finds every other record of it NOT_FOUND, open to
    the workspace or not, addressed to a member, or addressed to FR by a kind read by members only."""
    fr = outside_principal(role, "FR")
    assert decide(fr, Operation.READ, EVIDENCE_REQUEST_RULES, record=to_fr(True)) is Decision.ALLOW
    assert decide(fr, Operation.CREATE, EVIDENCE_REQUEST_RULES, workspace_id=WORKSPACE) is Decision.NOT_FOUND
    others = [
        record(False),
        record(True),
        RecordAccess(WORKSPACE, "NL", "DE", restricted=False, outside_addressee=True),
        to_fr(False, outside=False),
        to_fr(True, outside=False),
    ]
    for other in others:
        for op in (Operation.READ, Operation.ISSUER_ACT, Operation.ADDRESSEE_ACT):
            assert decide(fr, op, EVIDENCE_REQUEST_RULES, record=other) is Decision.NOT_FOUND, (other, op)
