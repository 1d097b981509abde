"""The listed offence (Reg. (EU) 2023/1543 Annex IV for an EPOC, Directive 2014/41/EU Annex D for an EIO) and
the maximum sentence the issuer indicates: validated when drafted, kept through the mappings, shown by the CLI
and the console, and the exception to the double-criminality ground they make (pure rules)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from jit.evidence.v1 import evidence_pb2 as pb
from jitcli.evidence_cmd import listed_offence_text
from jitlib import legal
from jitlib.actors import Actor
from jitlib.errors import InvalidArgument
from services.console import present
from services.console.actions import REQUEST_ACTIONS
from services.evidence import domain
from services.evidence.domain import NewRequest, State, Target, TransitionInput
from services.evidence.mapping import new_request_from_pb, request_from_pb, request_to_pb

NOW = datetime(2026, 9, 2, 9, 0, tzinfo=UTC)
NL = Actor("u1", "nl-prosecutor", "NL")
DE = Actor("u2", "de-prosecutor", "DE")
IE = Actor("u3", "ie-prosecutor", "IE")


def command(basis: str = "EPOC", **over: object) -> NewRequest:
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
        offence_category="NON_CONSENSUAL_INTIMATE_IMAGES",
        urgency="NORMAL",
        title="Who shared the images",
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
    return NewRequest(**fields)  # type: ignore[arg-type]


def issued(basis: str = "EPOC", **over: object) -> domain.EvidenceRequest:
    cmd = command(basis, **over)
    assert domain.new_request_violations(cmd, "NL", NOW) == []
    r = domain.create(cmd, request_id="0190f7a0-0000-7000-8000-0000000000aa", actor=NL, now=NOW)
    return domain.apply(r, "issue", TransitionInput(), actor=NL, now=NOW)


def refuse(r: domain.EvidenceRequest, ground: str, **data: Any) -> domain.EvidenceRequest:
    by = IE if r.to_provider else DE
    return domain.apply(
        r, "refuse", TransitionInput(reason="not an offence here", refusal_ground=ground, **data), actor=by, now=NOW
    )


def violations(cmd: NewRequest) -> dict[str, str]:
    return {v.field: v.description for v in domain.new_request_violations(cmd, "NL", NOW)}


LISTED = {"listed_offence": "COMPUTER_RELATED_CRIME"}


# ---- the exception to the double-criminality ground ---------------------------------------------------


def test_an_epoc_with_an_annex_iv_offence_of_three_years_is_not_refused_for_double_criminality() -> None:
    """EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY (Reg. (EU) 2023/1543 Art. 12(1)(d)): IE, the
    notified enforcing state, raising NO_DOUBLE_CRIMINALITY against an EPOC whose issuer indicated an Annex IV
    offence punishable in NL by at most 36 months is INVALID_ARGUMENT on `ground`, citing the rule and listing
    the grounds left; the request is unchanged."""
    r = issued(**LISTED, max_sentence_months=36)
    with pytest.raises(InvalidArgument) as info:
        refuse(r, "NO_DOUBLE_CRIMINALITY")
    [v] = info.value.violations
    assert v.field == "ground"
    assert "Annex IV" in v.description
    assert legal.cite("EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY") in v.description
    assert v.description.endswith("its grounds: IMMUNITY_OR_PRIVILEGE, FUNDAMENTAL_RIGHTS, NE_BIS_IN_IDEM")
    assert r.state is State.ISSUED and r.refusal_ground == "" and not r.refusals
    # A partial refusal on that ground is refused as well.
    with pytest.raises(InvalidArgument):
        refuse(r, "NO_DOUBLE_CRIMINALITY", data_categories=("SUBSCRIBER",))
    assert domain.refusal_grounds(r) == ("IMMUNITY_OR_PRIVILEGE", "FUNDAMENTAL_RIGHTS", "NE_BIS_IN_IDEM")


@pytest.mark.parametrize(
    "over",
    [
        pytest.param({**LISTED, "max_sentence_months": 35}, id="below-three-years"),
        pytest.param({**LISTED, "max_sentence_months": 24}, id="two-years"),
        pytest.param({}, id="no-indication"),
    ],
)
def test_an_epoc_without_a_listed_offence_of_three_years_may_be_refused_for_double_criminality(
    over: dict[str, object],
) -> None:
    """EPOC_REFUSAL_NO_DOUBLE_CRIMINALITY stays open when the issuer indicated no Annex IV offence, or one
    punishable by less than three years (EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY does not
    apply)."""
    r = refuse(issued(**over), "NO_DOUBLE_CRIMINALITY")
    assert r.state is State.REFUSED and r.refusal_ground == "NO_DOUBLE_CRIMINALITY"


@pytest.mark.parametrize("ground", ["IMMUNITY_OR_PRIVILEGE", "FUNDAMENTAL_RIGHTS", "NE_BIS_IN_IDEM"])
def test_the_other_grounds_of_an_epoc_with_an_annex_iv_offence_stay_open(ground: str) -> None:
    """EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY removes that one ground only."""
    r = refuse(issued(**LISTED, max_sentence_months=120), ground)
    assert r.state is State.REFUSED and r.refusal_ground == ground


def test_an_eio_with_an_annex_d_offence_of_three_years_is_not_refused_for_double_criminality() -> None:
    """EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY (Directive 2014/41/EU Art. 11(1)(g)): DE, the
    executing state, may not refuse on NO_DOUBLE_CRIMINALITY an EIO for an Annex D offence punishable by 48
    months; with 24 months it may; its other grounds stay open."""
    r = issued("EIO", listed_offence="RACISM_AND_XENOPHOBIA", max_sentence_months=48)
    with pytest.raises(InvalidArgument) as info:
        refuse(r, "NO_DOUBLE_CRIMINALITY")
    [v] = info.value.violations
    assert v.field == "ground" and "Annex D" in v.description
    assert legal.cite("EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY") in v.description
    assert "NO_DOUBLE_CRIMINALITY" not in domain.refusal_grounds(r) and "OTHER" in domain.refusal_grounds(r)
    assert refuse(r, "EXTRATERRITORIALITY").refusal_ground == "EXTRATERRITORIALITY"
    short = issued("EIO", listed_offence="RACISM_AND_XENOPHOBIA", max_sentence_months=24)
    assert refuse(short, "NO_DOUBLE_CRIMINALITY").state is State.REFUSED


def test_the_exception_belongs_to_the_instruments_with_an_annex() -> None:
    """EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY, EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY:
    the rule of each instrument; an MLA request keeps its double-criminality ground (no annex)."""
    assert legal.double_criminality_exception("EPOC", "RAPE", 36).startswith("EPOC_ANNEX_IV")
    assert legal.double_criminality_exception("EIO", "RAPE", 36).startswith("EIO_ANNEX_D")
    assert legal.double_criminality_exception("MLA", "RAPE", 36) == ""
    assert legal.double_criminality_exception("EPOC", "NOT_A_CATEGORY", 36) == ""
    assert "NO_DOUBLE_CRIMINALITY" in legal.refusal_grounds("MLA", "RAPE", 120)
    assert legal.source("EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY").endswith("Art. 12(1)(d), Annex IV")


# ---- the indication, as drafted -----------------------------------------------------------------------


def test_a_listed_offence_is_indicated_with_its_maximum_sentence_on_an_epoc_or_an_eio() -> None:
    """LISTED_OFFENCE_INDICATION: a category of the closed list with 1 to 1200 months is accepted on an EPOC
    and an EIO, and kept on the draft."""
    for basis in ("EPOC", "EIO"):
        assert violations(command(basis, **LISTED, max_sentence_months=36)) == {}
        assert violations(command(basis, **LISTED, max_sentence_months=1200)) == {}
    r = domain.create(command(**LISTED, max_sentence_months=36), request_id="r", actor=NL, now=NOW)
    assert (r.listed_offence, r.max_sentence_months) == ("COMPUTER_RELATED_CRIME", 36)
    assert len(legal.LISTED_OFFENCES) == 32 and len(set(legal.LISTED_OFFENCES)) == 32


@pytest.mark.parametrize(
    ("basis", "over", "field", "says"),
    [
        ("MLA", {**LISTED, "max_sentence_months": 36}, "listed_offence", "only indicated on an EPOC"),
        ("JIT_DIRECT", {"max_sentence_months": 36}, "max_sentence_months", "only indicated on an EPOC"),
        ("EPOC", {"listed_offence": "STALKING"}, "listed_offence", "not a category of Annex IV"),
        ("EIO", {**LISTED}, "max_sentence_months", "is required with listed_offence"),
        ("EPOC", {"max_sentence_months": 36}, "listed_offence", "is required with max_sentence_months"),
        ("EPOC", {**LISTED, "max_sentence_months": 1201}, "max_sentence_months", "must be 1 to 1200 months"),
        ("EIO", {**LISTED, "max_sentence_months": -1}, "max_sentence_months", "must be 1 to 1200 months"),
    ],
)
def test_a_listed_offence_indication_out_of_its_rule_names_the_field(
    basis: str, over: dict[str, object], field: str, says: str
) -> None:
    """LISTED_OFFENCE_INDICATION: a category outside the list, a penalty out of range, one without the other,
    or an indication on an instrument without such an annex is a violation on the field, citing the rule."""
    found = violations(command(basis, **over))
    assert says in found[field] and legal.cite("LISTED_OFFENCE_INDICATION") in found[field]


def test_an_unknown_listed_offence_from_the_wire_is_named_once() -> None:
    """LISTED_OFFENCE_INDICATION: a value this build does not know is "has an unknown value" on the field."""
    req = pb.CreateRequestRequest(listed_offence=999, max_sentence_months=36)  # type: ignore[arg-type]
    cmd = new_request_from_pb(req)
    found = [v for v in domain.new_request_violations(cmd, "NL", NOW) if v.field == "listed_offence"]
    assert [v.description for v in found] == ["has an unknown value"]


# ---- kept through the mappings, shown -------------------------------------------------------------------


def test_the_listed_offence_goes_from_the_wire_to_the_record_and_back() -> None:
    """LISTED_OFFENCE_INDICATION: CreateRequest's fields reach the draft; the request's message carries them,
    and a replica made from that message has them too."""
    req = pb.CreateRequestRequest(
        listed_offence=pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME, max_sentence_months=60, legal_basis=pb.LEGAL_BASIS_EIO
    )
    cmd = new_request_from_pb(req)
    assert (cmd.listed_offence, cmd.max_sentence_months) == ("COMPUTER_RELATED_CRIME", 60)
    r = issued("EIO", **LISTED, max_sentence_months=60)
    msg = request_to_pb(r, NOW)
    assert msg.listed_offence == pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME and msg.max_sentence_months == 60
    again = request_from_pb(msg)
    assert (again.listed_offence, again.max_sentence_months) == ("COMPUTER_RELATED_CRIME", 60)
    none = request_to_pb(issued("EIO"), NOW)
    assert none.listed_offence == pb.LISTED_OFFENCE_UNSPECIFIED and none.max_sentence_months == 0
    assert request_from_pb(none).listed_offence == ""


def test_the_console_does_not_offer_no_double_criminality_against_an_annex_iv_offence_of_three_years() -> None:
    """EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY: the refusal form offers the enforcing state
    the grounds left; with two years, or no indication, it offers all four."""
    ground = REQUEST_ACTIONS["refuse"].inputs[0]

    def offered(**over: Any) -> list[str]:
        return [label for _, label in ground.choices(pb.EvidenceRequest(legal_basis=pb.LEGAL_BASIS_EPOC, **over))]

    listed = pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME
    assert offered(listed_offence=listed, max_sentence_months=36) == [
        "immunity or privilege",
        "fundamental rights",
        "ne bis in idem",
    ]
    assert "no double criminality" in offered(listed_offence=listed, max_sentence_months=24)
    assert "no double criminality" in offered()


def test_the_cli_shows_the_listed_offence_with_its_annex_and_the_exception() -> None:
    """LISTED_OFFENCE_INDICATION, EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY as `jit evidence
    request show` words them."""
    epoc = pb.EvidenceRequest(
        legal_basis=pb.LEGAL_BASIS_EPOC, listed_offence=pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME, max_sentence_months=36
    )
    assert listed_offence_text(epoc) == (
        "Annex IV: computer-related-crime, max 36 months (not refused for lack of double criminality: "
        "Reg. (EU) 2023/1543 Art. 12(1)(d), Annex IV)"
    )
    eio = pb.EvidenceRequest(
        legal_basis=pb.LEGAL_BASIS_EIO, listed_offence=pb.LISTED_OFFENCE_RAPE, max_sentence_months=24
    )
    assert listed_offence_text(eio) == "Annex D: rape, max 24 months"


def test_the_console_request_page_shows_the_listed_offence() -> None:
    """LISTED_OFFENCE_INDICATION on the request's page: the category and the maximum sentence, and that the
    request is not refused for lack of double criminality when it is at least three years."""
    from services.console.sessions import Sessions
    from services.console.settings import ConsoleSettings
    from services.console.web import Console

    settings = ConsoleSettings(console_client_secret="unit-test")
    console = Console(settings, Sessions(settings))

    def page(**over: Any) -> str:
        req = pb.EvidenceRequest(id="r-1", workspace_id="jit-demo", title="t", legal_basis=pb.LEGAL_BASIS_EPOC, **over)
        return console.env.get_template("request.html").render(
            req=req, record=req, kind="request", items=[], user=None, legal_zone=present.legal_zone("IE"),
            time_left=lambda v: present.time_left(v, NOW), when=lambda v: present.when(v, present.zone("UTC")),
            ts=present.instant, tz=present.zone("UTC"), now=NOW, upload_max_mb=1,
        )  # fmt: skip

    listed = page(listed_offence=pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME, max_sentence_months=36)
    assert "<dt>Listed offence</dt>" in listed and "at most 36 months in the issuing state" in listed
    assert "not refused for lack of double criminality" in listed
    short = page(listed_offence=pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME, max_sentence_months=24)
    assert "at most 24 months" in short and "not refused for lack" not in short
    assert "Listed offence" not in page()


def test_a_listed_offence_is_a_field_of_the_record_and_its_draft() -> None:
    """Both fields are on the domain's request and its command, with "none" as their default."""
    names = {f.name: f.default for f in dataclasses.fields(domain.EvidenceRequest)}
    assert names["listed_offence"] == "" and names["max_sentence_months"] == 0
    assert {f.name for f in dataclasses.fields(NewRequest)} >= {"listed_offence", "max_sentence_months"}


def test_jit_evidence_request_create_sends_the_listed_offence_and_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """LISTED_OFFENCE_INDICATION from the command line: `create --listed-offence --max-sentence-months` sends
    both fields, and the request shown back carries them with the exception they make."""
    from typer.testing import CliRunner

    from jitcli import evidence_cmd
    from jitcli.main import app as cli

    sent: list[pb.CreateRequestRequest] = []

    def call(_ctx: Any, method: str, request: Any, timeout: float | None = None) -> Any:
        assert method == "CreateRequest"
        sent.append(request)
        return pb.CreateRequestResponse(
            request=pb.EvidenceRequest(
                id="r-1",
                legal_basis=request.legal_basis,
                listed_offence=request.listed_offence,
                max_sentence_months=request.max_sentence_months,
            )
        )

    monkeypatch.setattr(evidence_cmd, "_call", call)
    args = [
        "evidence", "request", "create", "-w", "jit-demo", "--basis", "epoc", "--procedure", "with-notification",
        "--to", "IE", "--provider", "SocialNet Ireland Ltd", "--authority", "OM Amsterdam", "-t", "Who shared",
        "--target", "account:@d", "--data", "content", "--offence", "non-consensual-intimate-images",
        "--listed-offence", "computer-related-crime", "--max-sentence-months", "36",
    ]  # fmt: skip
    out = CliRunner().invoke(cli, args, env={"COLUMNS": "400"})
    assert out.exit_code == 0, out.output
    [req] = sent
    assert req.listed_offence == pb.LISTED_OFFENCE_COMPUTER_RELATED_CRIME and req.max_sentence_months == 36
    assert "Annex IV: computer-related-crime, max 36 months (not refused for lack of double criminality" in out.output
