"""Grounds for refusal per instrument (issue 15, item 9): each instrument's own list, each ground a row of
``jitlib.legal``; a ground of another instrument is refused naming the field (pure rules, the CLI's help and
the console's form)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from jit.evidence.v1 import evidence_pb2 as pb
from jitcli.evidence_cmd import Ground, refusal_text
from jitcli.main import app as cli
from jitlib import legal
from jitlib.actors import Actor
from jitlib.errors import InvalidArgument
from services.console.actions import REQUEST_ACTIONS
from services.evidence import domain
from services.evidence.domain import NewRequest, State, Target, TransitionInput

NOW = datetime(2026, 9, 2, 9, 0, tzinfo=UTC)
NL = Actor("u1", "nl-prosecutor", "NL")
DE = Actor("u2", "de-prosecutor", "DE")
IE = Actor("u3", "ie-prosecutor", "IE")


def request(basis: str = "EIO", **over: object) -> domain.EvidenceRequest:
    fields: dict[str, object] = dict(
        request_id="0190f7a0-0000-7000-8000-000000000001",
        workspace_id="jit-demo",
        legal_basis=basis,
        epoc_procedure="",
        issuing_authority="OM Amsterdam",
        addressee_kind="MEMBER_STATE",
        addressee_jurisdiction="DE",
        provider_name="",
        data_categories=("SUBSCRIBER",),
        targets=(Target("ACCOUNT_HANDLE", "@harasser_x", "instagram"),),
        offence_category="CYBERSTALKING",
        urgency="NORMAL",
        title="Identify the holder",
        description="",
        restricted=True,
    )
    if basis == "EPOC":
        fields.update(
            epoc_procedure="WITH_NOTIFICATION",
            addressee_kind="SERVICE_PROVIDER",
            addressee_jurisdiction="IE",
            provider_name="SocialNet Ireland Ltd",
        )
    fields.update(over)
    r = domain.create(NewRequest(**fields), request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=NOW)  # type: ignore[arg-type]
    return domain.apply(r, "issue", TransitionInput(), actor=NL, now=NOW)


def refuse(r: domain.EvidenceRequest, ground: str) -> domain.EvidenceRequest:
    by = IE if r.to_provider else DE
    return domain.apply(r, "refuse", TransitionInput(reason="the facts", refusal_ground=ground), actor=by, now=NOW)


def test_eio_refusal_grounds_are_those_of_article_11() -> None:
    """EIO_REFUSAL_IMMUNITY_OR_PRIVILEGE, EIO_REFUSAL_NATIONAL_SECURITY, EIO_REFUSAL_NON_CRIMINAL_PROCEEDINGS,
    EIO_REFUSAL_NE_BIS_IN_IDEM, EIO_REFUSAL_EXTRATERRITORIALITY, EIO_REFUSAL_FUNDAMENTAL_RIGHTS,
    EIO_REFUSAL_NO_DOUBLE_CRIMINALITY, EIO_REFUSAL_MEASURE_RESTRICTED (Directive 2014/41/EU Art. 11(1)(a)-(h))
    and EIO_REFUSAL_OTHER (a specific measure's ground): each refuses an EIO, and each row cites its letter."""
    letters = "abcdefgh"
    grounds = legal.REFUSAL_GROUNDS["EIO"]
    assert len(grounds) == 9 and grounds[-1] == "OTHER"
    for letter, ground in zip(letters, grounds[:8], strict=True):
        assert legal.source(f"EIO_REFUSAL_{ground}") == f"{legal.EIO} Art. 11(1)({letter})"
    for ground in grounds:
        r = refuse(request("EIO"), ground)
        assert r.state is State.REFUSED and r.refusal_ground == ground


def test_mla_refusal_grounds_are_the_treaty_grounds() -> None:
    """MLA_REFUSAL_POLITICAL_OFFENCE and MLA_REFUSAL_FISCAL_OFFENCE (1959 Convention Art. 2(a); fiscal not
    alone under the 1978 Additional Protocol Art. 1), MLA_REFUSAL_ESSENTIAL_INTERESTS (Art. 2(b)),
    MLA_REFUSAL_NO_DOUBLE_CRIMINALITY (Art. 5(1)(a)), MLA_REFUSAL_OTHER (the applicable treaty's)."""
    assert legal.source("MLA_REFUSAL_ESSENTIAL_INTERESTS").endswith("Art. 2(b)")
    assert "Art. 1" in legal.source("MLA_REFUSAL_FISCAL_OFFENCE") and legal.MLA_1978 in legal.source(
        "MLA_REFUSAL_FISCAL_OFFENCE"
    )
    for ground in legal.REFUSAL_GROUNDS["MLA"]:
        assert refuse(request("MLA"), ground).refusal_ground == ground
    # The EIO's own grounds are not the treaty's.
    with pytest.raises(InvalidArgument):
        refuse(request("MLA"), "EXTRATERRITORIALITY")


def test_epoc_refusal_grounds_are_the_closed_list_of_article_12() -> None:
    """EPOC_REFUSAL_IMMUNITY_OR_PRIVILEGE, EPOC_REFUSAL_FUNDAMENTAL_RIGHTS, EPOC_REFUSAL_NE_BIS_IN_IDEM,
    EPOC_REFUSAL_NO_DOUBLE_CRIMINALITY (Reg. (EU) 2023/1543 Art. 12(1)(a)-(d)): the enforcing state raises
    these and no other, so OTHER is refused for an EPOC."""
    for letter, ground in zip("abcd", legal.REFUSAL_GROUNDS["EPOC"], strict=True):
        assert legal.source(f"EPOC_REFUSAL_{ground}") == f"{legal.EPOC} Art. 12(1)({letter})"
        assert refuse(request("EPOC"), ground).refusal_ground == ground
    with pytest.raises(InvalidArgument) as info:
        refuse(request("EPOC"), "OTHER")
    [v] = info.value.violations
    assert v.field == "ground"
    assert "IMMUNITY_OR_PRIVILEGE, FUNDAMENTAL_RIGHTS, NE_BIS_IN_IDEM, NO_DOUBLE_CRIMINALITY" in v.description


def test_jit_direct_refusal_other_is_its_only_ground() -> None:
    """JIT_DIRECT_REFUSAL_OTHER: a direct exchange inside the JIT names no instrument's ground (GUESS on FD
    2002/465 Art. 1(7)); the member declines it as OTHER with its reasons."""
    assert refuse(request("JIT_DIRECT"), "OTHER").state is State.REFUSED
    with pytest.raises(InvalidArgument):
        refuse(request("JIT_DIRECT"), "NE_BIS_IN_IDEM")


def test_a_ground_of_another_instrument_names_the_field_and_the_instrument_s_grounds() -> None:
    """An EIO refused on an MLA treaty ground (POLITICAL_OFFENCE) is INVALID_ARGUMENT on `ground`, listing the
    EIO's grounds of Directive 2014/41/EU Art. 11(1); the request is unchanged."""
    r = request("EIO")
    with pytest.raises(InvalidArgument) as info:
        refuse(r, "POLITICAL_OFFENCE")
    [v] = info.value.violations
    assert v.field == "ground" and "EIO" in v.description
    assert ", ".join(legal.REFUSAL_GROUNDS["EIO"]) in v.description
    assert "POLITICAL_OFFENCE" not in v.description  # the value is not echoed back
    assert r.state is State.ISSUED


def test_every_ground_of_every_instrument_is_an_enum_value_of_the_contract_and_a_cli_choice() -> None:
    names = {g for grounds in legal.REFUSAL_GROUNDS.values() for g in grounds}
    assert names == {v.name.removeprefix("REFUSAL_GROUND_") for v in pb.RefusalGround.DESCRIPTOR.values} - {
        "UNSPECIFIED"
    }
    assert {g.value for g in Ground} == {n.lower().replace("_", "-") for n in names}


def test_jit_request_refuse_help_lists_each_instrument_s_grounds_with_their_articles() -> None:
    out = CliRunner().invoke(cli, ["evidence", "request", "refuse", "--help"], env={"COLUMNS": "400"}).output
    assert "EIO (Directive 2014/41/EU): immunity-or-privilege (Art. 11(1)(a)), national-security (Art. 11(1)(b))" in out
    assert "EPOC with notification (Reg. (EU) 2023/1543): immunity-or-privilege (Art. 12(1)(a))" in out
    assert "political-offence (Art. 2(a))" in out
    epoc_line = next(line for line in out.splitlines() if "EPOC with notification" in line)
    assert "other" not in epoc_line.split(":", 1)[1]


def test_a_refusal_is_shown_with_the_article_of_its_instrument() -> None:
    assert refusal_text(pb.LEGAL_BASIS_EIO, pb.REFUSAL_GROUND_NE_BIS_IN_IDEM) == (
        "ne-bis-in-idem (Directive 2014/41/EU Art. 11(1)(d))"
    )
    # A ground stored before the lists were per instrument (an EPOC refused as OTHER) still reads.
    assert refusal_text(pb.LEGAL_BASIS_EPOC, pb.REFUSAL_GROUND_OTHER) == "other"


def test_the_console_offers_the_grounds_of_the_request_s_instrument_only() -> None:
    ground = REQUEST_ACTIONS["refuse"].inputs[0]
    epoc = pb.EvidenceRequest(legal_basis=pb.LEGAL_BASIS_EPOC)
    assert [label for _, label in ground.choices(epoc)] == [
        "immunity or privilege",
        "fundamental rights",
        "ne bis in idem",
        "no double criminality",
    ]
    mla = {label for _, label in ground.choices(pb.EvidenceRequest(legal_basis=pb.LEGAL_BASIS_MLA))}
    assert mla == {"political offence", "fiscal offence", "essential interests", "no double criminality", "other"}
    assert len(ground.choices()) == len(pb.RefusalGround.DESCRIPTOR.values) - 1
