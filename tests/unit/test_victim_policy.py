"""The one policy on a victim's record (issue 16), as a matrix written out by hand: role x jurisdiction's
relation to the victim x operation. The victim is held by NL (the lead), belongs to DE (the victim's
jurisdiction); IE is another member, FR is not a member; ``de-outsider`` is DE but not in the workspace."""

from __future__ import annotations

import pytest

from jitlib.auth import Principal
from jitlib.policy import VICTIM_RULES, Decision, Operation, RecordAccess, decide

ROLES = ["prosecutor", "police_liaison", "participant", "operator", "auditor"]
#: relation -> (jurisdiction, member of the workspace)
RELATIONS = {
    "lead": ("NL", True),
    "victims": ("DE", True),
    "member": ("IE", True),
    "outsider": ("FR", False),
    "victims-outsider": ("DE", False),
}
WORKSPACE = "jit-demo"
VICTIM = RecordAccess(WORKSPACE, origin_jurisdiction="NL", addressee_jurisdiction="DE", restricted=False)

# One letter per relation in the order lead, victims, member, outsider, victims-outsider.
# A = allowed, N = NOT_FOUND (existence not revealed), D = PERMISSION_DENIED.
EXPECTED = {
    Operation.READ: """
        prosecutor      AAANN
        police_liaison  AAANN
        participant     AAANN
        operator        DDDDD
        auditor         DDDDD""",
    Operation.PARTY_ACT: """
        prosecutor      AADNN
        police_liaison  AADNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
    # Need to know: only the victim's jurisdiction's prosecutors and liaisons in the workspace; NOT_FOUND
    # for everyone else, operators and auditors included.
    Operation.READ_PERSONAL: """
        prosecutor      NANNN
        police_liaison  NANNN
        participant     NNNNN
        operator        NNNNN
        auditor         NNNNN""",
}
LETTER = {"A": Decision.ALLOW, "N": Decision.NOT_FOUND, "D": Decision.DENY}


def principal(role: str, relation: str) -> Principal:
    jurisdiction, member = RELATIONS[relation]
    return Principal(
        user_id=f"{role}-{relation}",
        username=f"{relation}-{role}",
        jurisdiction=jurisdiction,
        roles=frozenset({role}),
        workspaces=frozenset({WORKSPACE}) if member else frozenset({"another-jit"}),
    )


def _cases() -> list[tuple[Operation, str, str, Decision]]:
    out = []
    for op, table in EXPECTED.items():
        for line in table.strip().splitlines():
            role, letters = line.split()
            for relation, letter in zip(RELATIONS, letters, strict=True):
                out.append((op, role, relation, LETTER[letter]))
    return out


@pytest.mark.parametrize(("op", "role", "relation", "expected"), _cases())
def test_victim_identity_need_to_know_matrix(op: Operation, role: str, relation: str, expected: Decision) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW, VICTIM_HELD_BY_LEAD: who reads the pseudonym, who acts on the victim
    (the lead or the victim's jurisdiction), who reads the identity."""
    assert decide(principal(role, relation), op, VICTIM_RULES, record=VICTIM) is expected


def test_personal_data_of_a_missing_record_is_not_found_for_everyone() -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: the same answer as for a record the caller may not see."""
    for role in ROLES:
        assert decide(principal(role, "victims"), Operation.READ_PERSONAL, VICTIM_RULES) is Decision.NOT_FOUND
    with pytest.raises(ValueError, match="personal data"):
        decide(principal("prosecutor", "victims"), Operation.READ_PERSONAL, None, record=VICTIM)


def test_a_kind_without_need_to_know_roles_shows_its_personal_data_to_no_one() -> None:
    from jitlib.policy import TASK_RULES

    assert decide(principal("prosecutor", "victims"), Operation.READ_PERSONAL, TASK_RULES, record=VICTIM) is (
        Decision.NOT_FOUND
    )
