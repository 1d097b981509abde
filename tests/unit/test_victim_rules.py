"""The victims service's pure rules (services/victims/domain.py): the pseudonym, and what a valid
registration, notice and referral are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitlib.actors import Actor
from services.victims import domain
from services.victims.domain import Identity, NewNotice, NewReferral, NewVictim, NoticeChannel, NoticeStep

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RID = "01935c4e-0000-7000-8000-000000000001"
VID = "01935c4e-0000-7000-8000-000000000002"
ACTOR = Actor("u1", "de-liaison", "DE")


def fields(violations: list[domain.FieldViolation]) -> set[str]:
    return {v.field for v in violations}


@pytest.mark.parametrize(("lead", "n", "expected"), [("NL", 7, "V-NL-0007"), ("EUROJUST", 1, "V-EUROJUST-0001"),
                                                    ("DE", 12345, "V-DE-12345")])  # fmt: skip
def test_victim_pseudonym_is_the_lead_and_at_least_four_digits(lead: str, n: int, expected: str) -> None:
    """VICTIM_PSEUDONYM"""
    assert domain.pseudonym(lead, n) == expected
    assert domain.PSEUDONYM.match(expected)


def test_a_registered_victim_is_held_by_the_lead_whoever_registers_it() -> None:
    """VICTIM_HELD_BY_LEAD"""
    cmd = NewVictim(RID, "jit-demo", "DE", Identity("Anna"))
    v = domain.register(cmd, victim_id=VID, lead="NL", sequence=3, actor=ACTOR, now=NOW)
    assert (v.origin_jurisdiction, v.victim_jurisdiction, v.pseudonym) == ("NL", "DE", "V-NL-0003")
    assert v.registered_by == ACTOR and not v.restricted
    assert v.access().parties == {"NL", "DE"}


@pytest.mark.parametrize(
    ("identity", "field"),
    [
        (Identity(""), "identity.full_name"),
        (Identity("A", date_of_birth="1899-12-31"), "identity.date_of_birth"),
        (Identity("A", date_of_birth="2026-12-04"), "identity.date_of_birth"),
        (Identity("A", date_of_birth="2026-2-3"), "identity.date_of_birth"),
        (Identity("A", contact="x" * 1001), "identity.contact"),
        (Identity("A", languages=("nl",) * 11), "identity.languages"),
        (Identity("A", languages=("nl", "NL!")), "identity.languages[1]"),
    ],
)
def test_a_bad_identity_names_the_field(identity: Identity, field: str) -> None:
    assert field in fields(domain.new_victim_violations(NewVictim(RID, "jit-demo", "DE", identity), NOW))


def test_a_good_identity_passes() -> None:
    identity = Identity("Anna B.", "1994-05-17", "+31 20 000", ("nl", "pt-BR"), "wheelchair access")
    assert domain.new_victim_violations(NewVictim(RID, "jit-demo", "NL", identity), NOW) == []


def test_the_victims_jurisdiction_must_be_a_member() -> None:
    cmd = NewVictim(RID, "jit-demo", "FR", Identity("A"))
    assert fields(domain.membership_violations(cmd, frozenset({"NL", "DE"}))) == {"victim_jurisdiction"}
    assert domain.membership_violations(cmd, frozenset({"FR"})) == []


def notice(**over: object) -> NewNotice:
    base: dict[str, object] = dict(
        request_id=RID, victim_id=VID, expected_version=0, step=NoticeStep.RIGHTS_EXPLAINED,
        told_at=NOW - timedelta(hours=1), language="nl", channel=NoticeChannel.LETTER, note="",
    )  # fmt: skip
    base.update(over)
    return NewNotice(**base)  # type: ignore[arg-type]


def test_victim_information_rights_a_notice_says_what_when_language_and_how() -> None:
    """VICTIM_INFORMATION_RIGHTS"""
    assert domain.notice_violations(notice(), NOW) == []
    bad = notice(step=None, channel=None, language="", told_at=NOW + timedelta(minutes=1))
    assert fields(domain.notice_violations(bad, NOW)) == {"step", "channel", "language", "told_at"}
    v = domain.register(NewVictim(RID, "jit-demo", "DE", Identity("A")), victim_id=VID, lead="NL", sequence=1,
                        actor=ACTOR, now=NOW)  # fmt: skip
    updated, n = domain.record_notice(v, notice(told_at=None), notice_id=RID, actor=ACTOR, now=NOW)
    assert updated.notices_count == 1 and updated.version == 2 and n.told_at == NOW and n.told_by == ACTOR


def test_victim_support_referral_only_with_consent() -> None:
    """VICTIM_SUPPORT_REFERRAL"""
    without = NewReferral(RID, VID, 0, "Weisser Ring", "", consent=False)
    assert fields(domain.referral_violations(without, NOW)) == {"consent"}
    bad_date = NewReferral(RID, VID, 0, "Weisser Ring", "03.12.2026", consent=True)
    assert fields(domain.referral_violations(bad_date, NOW)) == {"referred_on"}
    ok = NewReferral(RID, VID, 0, "Weisser Ring", "", consent=True)
    assert domain.referral_violations(ok, NOW) == []
    v = domain.register(NewVictim(RID, "jit-demo", "DE", Identity("A")), victim_id=VID, lead="NL", sequence=1,
                        actor=ACTOR, now=NOW)  # fmt: skip
    updated, r = domain.record_referral(v, ok, referral_id=RID, digest="d", actor=ACTOR, now=NOW)
    assert r.referred_on == "2026-12-03" and updated.referrals == (r,)
    assert domain.referral_by_request(updated, "u1", RID) == r
    assert domain.referral_by_request(updated, "u2", RID) is None


def test_an_identity_read_needs_a_one_line_purpose() -> None:
    assert fields(domain.purpose_violations("")) == {"purpose"}
    assert fields(domain.purpose_violations("a\nb")) == {"purpose"}
    assert fields(domain.purpose_violations("x" * 501)) == {"purpose"}
    assert domain.purpose_violations("prepare the hearing") == []


def test_victim_held_by_lead_a_replica_is_the_record_its_event_carries() -> None:
    """VICTIM_HELD_BY_LEAD: the members' nodes rebuild the pseudonym-level record from the event's state."""
    from services.victims.mapping import victim_from_pb, victim_to_pb

    v = domain.register(NewVictim(RID, "jit-demo", "DE", Identity("A")), victim_id=VID, lead="NL", sequence=9,
                        actor=ACTOR, now=NOW)  # fmt: skip
    ok = NewReferral(RID, VID, 0, "Weisser Ring", "2026-12-01", consent=True)
    v, _ = domain.record_referral(v, ok, referral_id=RID, digest="d", actor=ACTOR, now=NOW)
    back = victim_from_pb(victim_to_pb(v))
    assert back.pseudonym == "V-NL-0009" and back.registered_by == ACTOR and back.version == v.version
    where = (back.id, back.workspace_id, back.origin_jurisdiction, back.victim_jurisdiction)
    assert where == (VID, "jit-demo", "NL", "DE")
    referrals = [(r.service_name, r.referred_on, r.consent) for r in back.referrals]
    assert referrals == [("Weisser Ring", "2026-12-01", True)]
    assert not back.restricted and back.created_at == NOW
