"""Who may count a workspace and export its evaluation (``jitlib.policy.statistics_decision``), as a matrix
written out by hand: role x the caller's relation to the workspace."""

from __future__ import annotations

import pytest

from jitlib.auth import Principal
from jitlib.policy import Decision, statistics_decision, statistics_workspaces

ROLES = ["prosecutor", "police_liaison", "participant", "operator", "auditor"]
#: The workspace is led by NL; DE is a member; FR is not.
RELATIONS = {"lead": "NL", "member": "DE", "outsider": "FR"}
WORKSPACE = "jit-demo"
LEAD = "NL"

# One letter per relation (lead, member, outsider): A allowed, N NOT_FOUND, D PERMISSION_DENIED.
STATISTICS = """
    prosecutor      AAN
    police_liaison  DDD
    participant     AAN
    operator        DDD
    auditor         DDD"""
EVALUATION = """
    prosecutor      ADN
    police_liaison  DDD
    participant     DDN
    operator        DDD
    auditor         DDD"""
LETTER = {"A": Decision.ALLOW, "N": Decision.NOT_FOUND, "D": Decision.DENY}


def principal(role: str, jurisdiction: str) -> Principal:
    workspaces = frozenset({WORKSPACE}) if jurisdiction != "FR" else frozenset({"another-jit"})
    return Principal(
        f"{role}-{jurisdiction}", f"{jurisdiction.lower()}-{role}", jurisdiction, frozenset({role}), workspaces
    )


def _cases(grid: str) -> list[tuple[str, str, Decision]]:
    out = []
    lines = [line.split() for line in grid.strip().splitlines()]
    assert [role for role, _ in lines] == ROLES
    for role, letters in lines:
        for relation, letter in zip(RELATIONS, letters, strict=True):
            out.append((role, relation, LETTER[letter]))
    return out


@pytest.mark.parametrize(("role", "relation", "expected"), _cases(STATISTICS))
def test_statistics_matrix(role: str, relation: str, expected: Decision) -> None:
    assert statistics_decision(principal(role, RELATIONS[relation]), WORKSPACE) is expected


@pytest.mark.parametrize(("role", "relation", "expected"), _cases(EVALUATION))
def test_evaluation_export_matrix(role: str, relation: str, expected: Decision) -> None:
    p = principal(role, RELATIONS[relation])
    assert statistics_decision(p, WORKSPACE, evaluation_lead=LEAD) is expected


@pytest.mark.parametrize("role", ROLES)
def test_statistics_scope_is_the_member_workspaces_of_a_statistics_role(role: str) -> None:
    expected = frozenset({WORKSPACE}) if role in {"prosecutor", "participant"} else frozenset()
    assert statistics_workspaces(principal(role, "DE")) == expected
