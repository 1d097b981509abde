"""The access policy as a full matrix: role x jurisdiction's relation to the record x restricted or not x
operation. The expected answers are written out by hand below, independently of the policy's code, so a
change to the policy that changes any answer fails here."""

from __future__ import annotations

import pytest

from jitlib.auth import Principal
from jitlib.policy import TASK_RULES, Decision, Operation, RecordAccess, decide

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
# Every store's list filter is ``jitlib.visibility.readable_sql``: the same ``policy.readable`` that
# ``decide`` evaluates. Here both renderings answer the READ column of the matrix above, on real rows in
# an in-memory SQLite database, for every role and relation, restricted or not, and records in another
# workspace: a list shows exactly the records ``decide`` lets the caller read.


def _sql_visible_ids(p: Principal) -> set[str]:
    from sqlalchemy import Boolean, Column, MetaData, String, Table, create_engine, exists, insert, select

    from jitlib.policy import visibility_scope
    from jitlib.visibility import SqlTerms, readable_sql

    md = MetaData()
    records = Table(
        "records",
        md,
        Column("id", String, primary_key=True),
        Column("workspace_id", String),
        Column("restricted", Boolean),
    )
    parties = Table("parties", md, Column("record_id", String), Column("jurisdiction", String))
    engine = create_engine("sqlite://")
    md.create_all(engine)
    terms = SqlTerms(
        workspace=records.c.workspace_id,
        open_to_workspace=records.c.restricted.is_(False),
        party=lambda j: exists().where(parties.c.record_id == records.c.id, parties.c.jurisdiction == j),
    )
    with engine.begin() as conn:
        for rid, rec in _SQL_RECORDS.items():
            conn.execute(insert(records), {"id": rid, "workspace_id": rec.workspace_id, "restricted": rec.restricted})
            conn.execute(insert(parties), [{"record_id": rid, "jurisdiction": j} for j in sorted(rec.parties)])
        return set(conn.scalars(select(records.c.id).where(readable_sql(visibility_scope(p), terms))))


_SQL_RECORDS = {
    "open": record(False),
    "restricted": record(True),
    "elsewhere-open": RecordAccess("another-jit", "NL", "DE", restricted=False),
    "elsewhere-restricted": RecordAccess("another-jit", "NL", "DE", restricted=True),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("relation", list(RELATIONS))
def test_list_filter_in_sql_shows_exactly_what_decide_lets_read(role: str, relation: str) -> None:
    p = principal(role, RELATIONS[relation])
    expected = {
        rid for rid, rec in _SQL_RECORDS.items() if decide(p, Operation.READ, TASK_RULES, record=rec) is Decision.ALLOW
    }
    assert _sql_visible_ids(p) == expected
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
