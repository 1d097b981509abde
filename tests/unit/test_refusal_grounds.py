"""Grounds for refusal per instrument (issue 15, item 9): each instrument's own list, each ground a row of
``jitlib.legal``; a ground of another instrument is refused naming the field (pure rules, the CLI's help and
the console's form)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from jit.evidence.v1 import evidence_pb2 as pb
from jitcli.evidence_cmd import Ground, refusal_text
from jitcli.main import app as cli
from jitlib import legal
from jitlib.actors import Actor
from jitlib.errors import FailedPrecondition, InvalidArgument
from services.console.actions import REQUEST_ACTIONS
from services.evidence import domain
from services.evidence.deadlines import DeadlineKind
from services.evidence.domain import NewRequest, State, Target, TransitionInput
from services.evidence.mapping import outcome_fields, request_to_pb

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


# ---- partial refusal and execution per data category, resubmission ------------------------------------


def act(r: domain.EvidenceRequest, action: str, by: Actor = DE, **data: object) -> domain.EvidenceRequest:
    return domain.apply(r, action, TransitionInput(**data), actor=by, now=NOW)  # type: ignore[arg-type]


def states(r: domain.EvidenceRequest) -> dict[str, str]:
    return {o.category: o.state.value for o in r.category_outcomes}


ALL = ("SUBSCRIBER", "TRAFFIC", "CONTENT")


def test_request_partial_refusal_refuses_some_categories_and_the_rest_proceeds() -> None:
    """REQUEST_PARTIAL_REFUSAL: DE refuses CONTENT on an Art. 11(1)(a) ground (Directive 2014/41/EU); the EIO
    stays ISSUED (event partially_refused) and the other categories go on to execution; refusing the last
    open one later refuses the request."""
    r = request("EIO", data_categories=ALL)
    r = act(
        r, "refuse", reason="journalist's sources", refusal_ground="IMMUNITY_OR_PRIVILEGE", data_categories=("CONTENT",)
    )
    assert r.state is State.ISSUED and domain.event_of("refuse", r) == "partially_refused"
    assert states(r) == {"SUBSCRIBER": "OPEN", "TRAFFIC": "OPEN", "CONTENT": "REFUSED"}
    assert r.category_outcomes[2].ground == "IMMUNITY_OR_PRIVILEGE" and r.refusal_ground == ""
    assert r.refusals == (domain.Refusal(1, "IMMUNITY_OR_PRIVILEGE", ("CONTENT",), NOW, False),)
    assert r.deadlines  # the clocks of the rest still run
    r = act(r, "refuse", reason="not an offence", refusal_ground="NO_DOUBLE_CRIMINALITY", data_categories=("TRAFFIC",))
    r = act(
        r, "refuse", reason="not an offence", refusal_ground="NO_DOUBLE_CRIMINALITY", data_categories=("SUBSCRIBER",)
    )
    assert r.state is State.REFUSED and domain.event_of("refuse", r) == "refused"
    assert r.refusal_ground == "NO_DOUBLE_CRIMINALITY" and r.refusals[-1].whole and not r.deadlines


def test_a_request_s_message_shows_each_category_decided_or_open_in_the_request_s_order() -> None:
    """The message's ``category_outcomes`` (made without the open categories' domain outcomes) are those of
    ``EvidenceRequest.category_outcomes``: each requested category in order, a decided one with its ground and
    when, an open one OPEN with neither."""
    r = request("EIO", data_categories=ALL)
    msg = request_to_pb(r, NOW)
    assert [(o.category, o.state) for o in msg.category_outcomes] == [
        (pb.DataCategory.Value("DATA_CATEGORY_" + c), pb.DATA_CATEGORY_STATE_OPEN) for c in ALL
    ]
    r = act(
        r, "refuse", reason="journalist's sources", refusal_ground="IMMUNITY_OR_PRIVILEGE", data_categories=("TRAFFIC",)
    )
    msg = request_to_pb(r, NOW)
    expected = [outcome_fields(o) for o in r.category_outcomes]
    assert [pb.DataCategoryOutcome(**o) for o in expected] == list(msg.category_outcomes)
    traffic = msg.category_outcomes[1]
    assert traffic.state == pb.DATA_CATEGORY_STATE_REFUSED and traffic.ground == pb.REFUSAL_GROUND_IMMUNITY_OR_PRIVILEGE
    assert traffic.decided_at.ToDatetime(tzinfo=UTC) == NOW
    for open_one in (msg.category_outcomes[0], msg.category_outcomes[2]):
        assert open_one.state == pb.DATA_CATEGORY_STATE_OPEN and not open_one.ground
        assert not open_one.HasField("decided_at")


def test_a_category_the_request_does_not_name_is_refused_naming_the_field() -> None:
    r = request("EIO", data_categories=("SUBSCRIBER", "CONTENT"))
    with pytest.raises(InvalidArgument) as info:
        act(r, "refuse", reason="x", refusal_ground="NE_BIS_IN_IDEM", data_categories=("CONTENT", "TRAFFIC"))
    [v] = info.value.violations
    assert v.field == "data_categories[1]" and "SUBSCRIBER, CONTENT" in v.description
    r = act(r, "refuse", reason="x", refusal_ground="NE_BIS_IN_IDEM", data_categories=("CONTENT",))
    with pytest.raises(FailedPrecondition) as decided:
        act(r, "refuse", reason="x", refusal_ground="NE_BIS_IN_IDEM", data_categories=("CONTENT",))
    assert decided.value.reason == "CATEGORY_DECIDED" and "data_categories[0]" in decided.value.message
    bad = domain.transition_violations(
        domain.TRANSITIONS["refuse"],
        TransitionInput(reason="x", refusal_ground="OTHER", data_categories=("CONTENT", "CONTENT", "")),
        NOW,
    )
    assert {v.field for v in bad} == {"data_categories", "data_categories[2]"}


def test_request_partial_execution_is_recorded_per_category_until_complete() -> None:
    """REQUEST_PARTIAL_EXECUTION: SUBSCRIBER executed first, TRAFFIC refused, CONTENT executed by completing;
    a partial execution that would leave nothing open is refused (complete instead)."""
    r = request("EIO", data_categories=ALL)
    r = act(r, "refuse", reason="x", refusal_ground="MEASURE_RESTRICTED", data_categories=("TRAFFIC",))
    r = act(act(r, "acknowledge"), "start_execution")
    r = act(r, "partially_execute", reason="subscriber data sent", data_categories=("SUBSCRIBER",))
    assert r.state is State.PARTIALLY_EXECUTED
    assert states(r) == {"SUBSCRIBER": "EXECUTED", "TRAFFIC": "REFUSED", "CONTENT": "OPEN"}
    with pytest.raises(FailedPrecondition) as info:
        act(r, "partially_execute", data_categories=("CONTENT",))
    assert info.value.reason == "NONE_LEFT_OPEN"
    with pytest.raises(FailedPrecondition) as again:
        act(r, "partially_execute", data_categories=("SUBSCRIBER",))
    assert again.value.reason == "CATEGORY_DECIDED"
    r = act(r, "complete")
    assert r.state is State.EXECUTED
    assert states(r) == {"SUBSCRIBER": "EXECUTED", "TRAFFIC": "REFUSED", "CONTENT": "EXECUTED"}


def test_an_objection_after_an_emergency_epoc_was_executed_refuses_executed_categories() -> None:
    """REQUEST_PARTIAL_REFUSAL with EPOC_REFUSAL_FUNDAMENTAL_RIGHTS (Reg. (EU) 2023/1543 Art. 12(1)(b)): within
    the 96 hours the enforcing state may object to data already sent, for one category only."""
    r = request(
        "EPOC", epoc_procedure="EMERGENCY_WITH_NOTIFICATION", urgency="", data_categories=("SUBSCRIBER", "CONTENT")
    )
    r = act(act(act(r, "acknowledge", by=NL), "start_execution", by=NL), "complete", by=NL)
    r = act(
        r, "refuse", by=IE, reason="intimate images", refusal_ground="FUNDAMENTAL_RIGHTS", data_categories=("CONTENT",)
    )
    assert r.state is State.EXECUTED and states(r) == {"SUBSCRIBER": "EXECUTED", "CONTENT": "REFUSED"}


def test_request_resubmission_after_ne_bis_in_idem_restarts_the_clocks_and_keeps_the_refusal() -> None:
    """REQUEST_RESUBMISSION: an EIO refused on ne bis in idem (Directive 2014/41/EU Art. 11(1)(d)), a ground a
    clarification cannot cure, may still be clarified and resubmitted: ISSUED again, the clocks run from the
    new receipt, the categories and description amended, and the refusal stays on the record."""
    r = request("EIO", data_categories=("SUBSCRIBER", "CONTENT"), description="first")
    r = act(act(r, "acknowledge"), "extend_decision", reason="complex")
    r = act(r, "refuse", reason="tried in DE", refusal_ground="NE_BIS_IN_IDEM")
    later = NOW + timedelta(days=20)
    again = domain.apply(
        r,
        "resubmit",
        TransitionInput(reason="other acts than those tried", data_categories=("SUBSCRIBER",), description="second"),
        actor=NL,
        now=later,
    )
    assert again.state is State.ISSUED and again.submission == 2 and domain.event_of("resubmit", again) == "resubmitted"
    assert (again.issued_at, again.received_at, again.decided_at) == (later, later, None)
    assert not again.decision_extended and again.refusal_ground == ""
    # Counted from the new receipt (Tuesday 22 September) to the end of the last day in Germany.
    assert {d.kind: d.due_at for d in again.deadlines} == {
        DeadlineKind.ACKNOWLEDGE: datetime(2026, 9, 29, 22, 0, tzinfo=UTC),
        DeadlineKind.DECIDE: datetime(2026, 10, 22, 22, 0, tzinfo=UTC),
    }
    assert again.data_categories == ("SUBSCRIBER",) and states(again) == {"SUBSCRIBER": "OPEN"}
    assert again.description == "second" and again.state_reason == "other acts than those tried"
    assert again.refusals == r.refusals and again.refusals[0].ground == "NE_BIS_IN_IDEM"
    # Refused again on the second submission: both refusals are kept, each with its submission.
    twice = domain.apply(
        again, "refuse", TransitionInput(reason="still", refusal_ground="NE_BIS_IN_IDEM"), actor=DE, now=later
    )
    assert [x.submission for x in twice.refusals] == [1, 2]


def test_only_a_refused_request_is_resubmitted_with_a_clarification() -> None:
    r = request("EIO")
    with pytest.raises(FailedPrecondition) as info:
        act(r, "resubmit", by=NL, reason="clarified")
    assert info.value.reason == "ILLEGAL_TRANSITION" and "REQUEST_RESUBMISSION" not in info.value.message
    assert legal.source("REQUEST_RESUBMISSION") in info.value.message
    missing = domain.transition_violations(domain.TRANSITIONS["resubmit"], TransitionInput(), NOW)
    assert [v.field for v in missing] == ["clarification"]


def test_the_console_forms_name_categories_and_resubmit_a_refused_request() -> None:
    from services.console.actions import build_request

    refuse_form = REQUEST_ACTIONS["refuse"]
    req = pb.EvidenceRequest(
        legal_basis=pb.LEGAL_BASIS_EIO,
        category_outcomes=[
            pb.DataCategoryOutcome(category=pb.DATA_CATEGORY_SUBSCRIBER, state=pb.DATA_CATEGORY_STATE_EXECUTED),
            pb.DataCategoryOutcome(category=pb.DATA_CATEGORY_CONTENT, state=pb.DATA_CATEGORY_STATE_OPEN),
        ],
    )
    categories = refuse_form.inputs[2]
    assert categories.kind == "choices" and [label for _, label in categories.choices(req)] == ["content"]
    ticked = f"{pb.DATA_CATEGORY_TRAFFIC},{pb.DATA_CATEGORY_CONTENT}"
    form = {"ground": str(pb.REFUSAL_GROUND_NE_BIS_IN_IDEM), "detail": "d", "data_categories": ticked}
    built = build_request(refuse_form, "r", "3", form)
    assert list(built.data_categories) == [pb.DATA_CATEGORY_TRAFFIC, pb.DATA_CATEGORY_CONTENT]
    resubmit = build_request(REQUEST_ACTIONS["resubmit"], "r", "4", {"clarification": "other acts"})
    assert resubmit.clarification == "other acts" and not resubmit.HasField("description")
    assert not resubmit.data_categories
