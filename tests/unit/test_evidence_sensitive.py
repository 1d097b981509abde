"""Sensitive evidence items, pure parts: the policy's matrix for what may be done with one (written out by
hand, independently of the policy's code), and the four eyes read from the chain of custody."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from jitlib.auth import Principal
from jitlib.policy import Decision, RecordAccess, SensitiveOperation, decide_sensitive
from services.evidence import custody, domain
from services.evidence.domain import EvidenceItem
from tests.unit.test_access_policy import RELATIONS, ROLES, WORKSPACE, principal

OPEN, ASK, APPROVE, MARK = (
    SensitiveOperation.OPEN,
    SensitiveOperation.REQUEST_EXPORT,
    SensitiveOperation.APPROVE_EXPORT,
    SensitiveOperation.MARK,
)
# The request: issued by NL, addressed to DE, shared with IE; BE is another member; FR is not a member.
# One letter per relation in the order issuer, addressee, shared, member, outsider (as test_access_policy):
# A = allowed, N = NOT_FOUND, D = PERMISSION_DENIED.
EXPECTED = {
    (OPEN, False): """
        prosecutor      AAADN
        police_liaison  AAADN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    (OPEN, True): """
        prosecutor      AAANN
        police_liaison  AAANN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
    (ASK, False): """
        prosecutor      AAADN
        police_liaison  AAADN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    (APPROVE, False): """
        prosecutor      AAADN
        police_liaison  DDDDN
        participant     DDDDN
        operator        DDDDD
        auditor         DDDDD""",
    (MARK, True): """
        prosecutor      AAANN
        police_liaison  DDDNN
        participant     DDDNN
        operator        DDDDD
        auditor         DDDDD""",
}
LETTER = {"A": Decision.ALLOW, "N": Decision.NOT_FOUND, "D": Decision.DENY}


def record(restricted: bool) -> RecordAccess:
    return RecordAccess(
        workspace_id=WORKSPACE,
        origin_jurisdiction="NL",
        addressee_jurisdiction="DE",
        restricted=restricted,
        shared_with=frozenset({"IE"}),
    )


def _cases() -> list[tuple[SensitiveOperation, bool, str, str, Decision]]:
    cases = []
    for (op, restricted), grid in EXPECTED.items():
        lines = [line.split() for line in grid.strip().splitlines()]
        assert [role for role, _ in lines] == ROLES
        for role, letters in lines:
            for relation, letter in zip(RELATIONS, letters, strict=True):
                cases.append((op, restricted, role, relation, LETTER[letter]))
    return cases


@pytest.mark.parametrize(("op", "restricted", "role", "relation", "expected"), _cases())
def test_sensitive_item_matrix(
    op: SensitiveOperation, restricted: bool, role: str, relation: str, expected: Decision
) -> None:
    """SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE, SENSITIVE_ITEM_EXPORT_FOUR_EYES, SENSITIVE_ITEM_MARKING: only the
    named roles of a jurisdiction party to the request; a member that merely sees it does not."""
    p = principal(role, RELATIONS[relation])
    assert decide_sensitive(p, op, record(restricted)) is expected


@pytest.mark.parametrize("op", [APPROVE, MARK])
def test_an_operation_of_one_jurisdiction_is_refused_to_the_other_parties(op: SensitiveOperation) -> None:
    """The approver is of the requester's jurisdiction, the one who marks of the receiving jurisdiction."""
    assert decide_sensitive(principal("prosecutor", "DE"), op, record(False), jurisdiction="DE") is Decision.ALLOW
    assert decide_sensitive(principal("prosecutor", "NL"), op, record(False), jurisdiction="DE") is Decision.DENY
    assert decide_sensitive(principal("prosecutor", "FR"), op, record(False), jurisdiction="FR") is Decision.NOT_FOUND


# -- the four eyes, from the chain ----------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALICE = Principal(
    user_id="u-alice", username="alice", jurisdiction="NL", roles=frozenset({"police_liaison"}), workspaces=frozenset()
)
BOB = Principal(
    user_id="u-bob", username="bob", jurisdiction="NL", roles=frozenset({"prosecutor"}), workspaces=frozenset()
)
ITEM = EvidenceItem(
    id="0192e1a0-0000-7000-8000-000000000001",
    workspace_id=WORKSPACE,
    evidence_request_id="0192e1a0-0000-7000-8000-000000000002",
    origin_jurisdiction="DE",
    media_type="image/jpeg",
    size_bytes=10,
    sha256="0" * 64,
    filename="victim.jpg",
    description="an image",
    conditions="",
    consents=(),
    received_by=BOB.actor,
    received_at=T0,
    blob_key="k",
    sensitive=True,
)


def chain(*steps: tuple[custody.Action, Principal, str]) -> list[custody.Entry]:
    at = [T0 + timedelta(minutes=n) for n in range(len(steps) + 1)]
    return [
        custody.Entry(ITEM.id, n, action, p.user_id, p.username, p.jurisdiction, at[n], "why", to, "0" * 64, "")
        for n, (action, p, to) in enumerate(steps, start=1)
    ]


R, A, X = custody.Action.EXPORT_REQUESTED, custody.Action.EXPORT_APPROVED, custody.Action.EXPORTED


def test_self_approval_is_refused_and_a_second_person_approves() -> None:
    """SENSITIVE_ITEM_EXPORT_FOUR_EYES: the requester never approves their own request."""
    entries = chain((custody.Action.RECEIVED, BOB, ""), (R, ALICE, "court"))
    problem = domain.approval_refusal(entries, 2, ALICE.user_id)
    assert problem is not None and problem.reason == "SELF_APPROVAL"
    assert domain.approval_refusal(entries, 2, BOB.user_id) is None
    stale = domain.approval_refusal(entries, 1, BOB.user_id)
    assert stale is not None and stale.reason == "NO_SUCH_EXPORT_REQUEST"


def test_an_approval_allows_one_export_by_the_requester_to_the_destination_within_24_hours() -> None:
    """SENSITIVE_ITEM_EXPORT_FOUR_EYES: once, by the requester, to the approved destination, in 24 hours."""
    approved = chain((R, ALICE, "court"), (A, BOB, "court"))
    at = T0 + timedelta(hours=1)
    assert domain.export_refusal(ITEM, approved, ALICE.user_id, "court", at) is None
    assert domain.export_refusal(ITEM, approved, BOB.user_id, "court", at) is not None
    assert domain.export_refusal(ITEM, approved, ALICE.user_id, "elsewhere", at) is not None
    late = T0 + timedelta(minutes=2) + domain.EXPORT_APPROVAL_VALID + timedelta(seconds=1)
    assert domain.export_refusal(ITEM, approved, ALICE.user_id, "court", late) is not None
    used = chain((R, ALICE, "court"), (A, BOB, "court"), (X, ALICE, "court"))
    assert domain.export_refusal(ITEM, used, ALICE.user_id, "court", at) is not None
    assert domain.export_refusal(replace(ITEM, sensitive=False), [], ALICE.user_id, "court", at) is None


def test_a_new_request_replaces_one_not_yet_approved_and_needs_its_own_approval() -> None:
    entries = chain((R, ALICE, "court"), (R, ALICE, "other court"))
    pending = domain.pending_export(entries)
    assert pending is not None and pending.request.seq == 2 and pending.approval is None
    again = chain((R, ALICE, "court"), (A, BOB, "court"), (R, ALICE, "other court"))
    assert domain.export_refusal(ITEM, again, ALICE.user_id, "court", T0 + timedelta(hours=1)) is not None


def test_a_concealed_item_keeps_its_metadata_but_not_its_words() -> None:
    shown = domain.concealed(ITEM)
    assert (shown.filename, shown.description) == ("", "")
    assert (shown.size_bytes, shown.sha256, shown.media_type, shown.sensitive) == (10, "0" * 64, "image/jpeg", True)


def test_allowed_actions_follow_the_policy_and_the_four_eyes() -> None:
    """SENSITIVE_ITEM_EXPORT_FOUR_EYES: the requester is offered the export only once approved, the approver
    the approval only of another's request; the receiving state's prosecutor marks."""
    from services.evidence.domain import EvidenceRequest

    req = cast(EvidenceRequest, _Req(RecordAccess(WORKSPACE, "NL", "DE", restricted=False)))
    now = T0 + timedelta(hours=1)
    nl_liaison = replace(ALICE, workspaces=frozenset({WORKSPACE}))
    nl_prosecutor = replace(BOB, workspaces=frozenset({WORKSPACE}))
    asked = domain.pending_export(chain((R, ALICE, "court")))
    assert domain.item_allowed_actions(nl_prosecutor, ITEM, req, asked, now) == (
        "download",
        "unmark_sensitive",
        "request_export",
        "approve_export",
    )
    assert "approve_export" not in domain.item_allowed_actions(nl_liaison, ITEM, req, asked, now)
    approved = domain.pending_export(chain((R, ALICE, "court"), (A, BOB, "court")))
    assert domain.item_allowed_actions(nl_liaison, ITEM, req, approved, now) == ("download", "request_export", "export")
    assert "export" not in domain.item_allowed_actions(nl_prosecutor, ITEM, req, approved, now)
    participant = principal("participant", "NL")
    assert domain.item_allowed_actions(participant, ITEM, req, approved, now) == ()


class _Req:
    """The two things ``item_allowed_actions`` reads of a request: its access and its restriction time."""

    items_restricted_at = None

    def __init__(self, access: RecordAccess) -> None:
        self._access = access

    def access(self) -> RecordAccess:
        return self._access

    def item_access(self) -> RecordAccess:
        return self._access
