"""Rendering of `jit preservation` tables, pure: time left in words, the order kept, states labelled."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import typer
from google.protobuf import timestamp_pb2
from rich.console import Console
from typer.testing import CliRunner

from jit.preservation.v1 import preservation_pb2 as pb
from jitcli.main import app
from jitcli.preservation_cmd import order_detail, orders_table, target

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def render(renderable: object) -> str:
    console = Console(width=300, record=True)
    console.print(renderable)
    return console.export_text()


def order(
    i: str, left: dt.timedelta | None, state: int = pb.PRESERVATION_ORDER_STATE_CONFIRMED
) -> pb.PreservationOrder:
    o = pb.PreservationOrder(
        id=f"01935c4e-0000-7000-8000-00000000000{i}",
        provider_id="socialnet-ie",
        legal_basis=pb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
        state=state,
        origin_jurisdiction="NL",
    )
    if left is not None:
        o.expires_at.CopyFrom(ts(NOW + left))
    return o


def test_due_table_shows_time_left_in_words_in_the_given_order() -> None:
    rows = [
        order("1", dt.timedelta(days=2, hours=4)),
        order("2", dt.timedelta(days=6, hours=23, minutes=10)),
        order("3", None, pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED),
    ]
    text = render(orders_table(rows, NOW, wide=True))
    lines = [line for line in text.splitlines() if "01935c4e" in line]
    assert "2 days 4 hours" in lines[0] and lines[0].startswith(rows[0].id)
    assert "6 days 23 hours" in lines[1]
    assert "until production" in lines[2] and "production-requested" in lines[2]
    assert "provider-voluntary" in lines[0]


def test_an_expired_clock_reads_overdue() -> None:
    text = render(orders_table([order("4", -dt.timedelta(hours=3))], NOW))
    assert "overdue by 3 hours" in text


def test_detail_lists_the_clock_fields() -> None:
    o = order("5", dt.timedelta(days=10))
    o.extension_deadline.CopyFrom(ts(NOW + dt.timedelta(days=3)))
    o.targets.append(pb.TargetIdentifier(kind=pb.TARGET_KIND_EMAIL, value="a@b.example"))
    text = render(order_detail(o, NOW))
    assert "extend by" in text and "10 days" in text and "email:a@b.example" in text


def test_target_option_parsing() -> None:
    assert target("phone:+353861234567") == pb.TargetIdentifier(kind=pb.TARGET_KIND_PHONE_NUMBER, value="+353861234567")
    assert target("url:https://x.example/a:b").value == "https://x.example/a:b"
    with pytest.raises(typer.BadParameter):
        target("skype:someone")


@pytest.mark.parametrize("within", ["999999999w", "99999999d"])
def test_due_within_an_enormous_duration_is_answered_in_words(within: str, tmp_path: Path) -> None:
    """`jit preservation due --within` beyond the longest duration read is a usage error naming the option
    and the maximum, not an unexpected OverflowError."""
    result = CliRunner().invoke(app, ["preservation", "due", "--within", within], env={"JIT_CONFIG_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "--within" in result.stderr and "at most 3650d" in result.stderr


# -- the user notice ---------------------------------------------------------------------------------------


def _suppressed(lapsed: bool) -> pb.PreservationOrder:
    o = order("6", dt.timedelta(days=10))
    o.user_notice_status = pb.USER_NOTICE_STATUS_SUPPRESSED
    o.user_notice_suppressed_until.CopyFrom(ts(dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)))
    o.user_notice_suppression_lapsed = lapsed
    return o


def test_detail_shows_the_user_notice_until_its_suppression_ends_and_when_it_lapsed() -> None:
    text = render(order_detail(_suppressed(False), NOW))
    assert "user notice" in text and "suppressed until 2026-03-20 12:00 UTC" in text and "LAPSED" not in text
    assert "LAPSED: the non-disclosure order has ended" in render(order_detail(_suppressed(True), NOW))
    pending = order("7", None)
    pending.user_notice_status = pb.USER_NOTICE_STATUS_PENDING
    assert "pending" in render(order_detail(pending, NOW))


def test_the_list_marks_an_order_whose_notice_suppression_lapsed() -> None:
    text = render(orders_table([_suppressed(True), order("8", dt.timedelta(days=3))], NOW, wide=True))
    lines = [line for line in text.splitlines() if "01935c4e" in line]
    assert "notice suppression lapsed!" in lines[0] and "notice" not in lines[1]


def _sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str]) -> tuple[int, list[tuple[str, object]]]:
    """Run `jit preservation ARGS` with the service call replaced: the requests it would send."""
    from jitcli import preservation_cmd

    calls: list[tuple[str, object]] = []

    class Answer:
        order = _suppressed(False)

    def call(ctx: object, method: str, request: object) -> Answer:
        calls.append((method, request))
        return Answer()

    monkeypatch.setattr(preservation_cmd, "_call", call)
    result = CliRunner().invoke(app, ["preservation", *args], env={"JIT_CONFIG_DIR": str(tmp_path)})
    return result.exit_code, calls


ORDER_ID = "01935c4e-0000-7000-8000-000000000006"


def test_user_notice_sends_the_status_and_the_end_of_the_suppression(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, calls = _sent(
        monkeypatch,
        tmp_path,
        ["user-notice", ORDER_ID, "--status", "suppressed", "--until", "2026-04-01T00:00Z", "--expected-version", "3"],
    )
    assert code == 0 and [m for m, _ in calls] == ["UpdateUserNotice"]
    req = calls[0][1]
    assert isinstance(req, pb.UpdateUserNoticeRequest)
    assert (req.id, req.expected_version, req.status) == (ORDER_ID, 3, pb.USER_NOTICE_STATUS_SUPPRESSED)
    assert req.suppressed_until.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    code, calls = _sent(monkeypatch, tmp_path, ["user-notice", ORDER_ID, "--status", "sent"])
    req = calls[0][1]
    assert isinstance(req, pb.UpdateUserNoticeRequest)
    assert code == 0 and req.status == pb.USER_NOTICE_STATUS_SENT and not req.HasField("suppressed_until")


def test_create_sends_the_user_notice_and_defaults_to_the_service_s(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base = [
        "create",
        "-w",
        "jit-demo",
        "-p",
        "socialnet-ie",
        "-b",
        "epoc-pr",
        "--target",
        "handle:@x",
        "--data",
        "subscriber",
    ]
    code, calls = _sent(
        monkeypatch, tmp_path, [*base, "--notice", "suppressed", "--suppressed-until", "2026-04-01T00:00Z"]
    )
    req = calls[0][1]
    assert isinstance(req, pb.CreateOrderRequest)
    assert code == 0 and req.user_notice_status == pb.USER_NOTICE_STATUS_SUPPRESSED
    assert req.user_notice_suppressed_until.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    code, calls = _sent(monkeypatch, tmp_path, base)
    req = calls[0][1]
    assert isinstance(req, pb.CreateOrderRequest)
    assert req.user_notice_status == pb.USER_NOTICE_STATUS_UNSPECIFIED and not req.HasField(
        "user_notice_suppressed_until"
    )


def test_an_order_whose_issuer_was_taken_out_says_so_in_the_list_and_in_detail() -> None:
    """ORDER_ISSUER_TAKEN_OUT: `jit preservation list` and `show` mark an issuer taken out of the JIT."""
    out = order("1", dt.timedelta(days=2))
    out.origin_jurisdiction, out.issuer_taken_out = "DE", True
    member = order("2", dt.timedelta(days=2))
    lines = render(orders_table([out, member], NOW)).splitlines()[1:]
    assert "DE (out)" in lines[0] and "(out)" not in lines[1]
    assert "DE (out: taken out of the JIT; this copy is no longer kept up to date)" in render(order_detail(out, NOW))
    assert "(out" not in render(order_detail(member, NOW))


def test_show_prints_the_enforcement_and_the_enforcing_states_deadline_until_it_decides() -> None:
    """EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS in `jit preservation show`: the transfer, and while
    the enforcing state has not decided its deadline in UTC and in its own time (IE: Mon 26 Oct 2026 is a
    public holiday there, not counted), then its recognition or its refusal with the ground, and no deadline."""
    requested, decided = dt.datetime(2026, 2, 19, 9, tzinfo=dt.UTC), dt.datetime(2026, 2, 20, 9, tzinfo=dt.UTC)

    def shown(state: int, at: dt.datetime = requested, ground: int = 0, decision: bool = False) -> str:
        o = order("7", None, state)
        o.legal_basis, o.enforcing_jurisdiction, o.enforcement_refusal_ground = pb.LEGAL_BASIS_EPOC_PR, "IE", ground
        o.enforcement_requested_at.CopyFrom(ts(at))
        if decision or state in (pb.PRESERVATION_ORDER_STATE_ISSUED, pb.PRESERVATION_ORDER_STATE_NOT_ENFORCED):
            o.enforcement_decided_at.CopyFrom(ts(decided))
        return render(order_detail(o, NOW))

    # Thu 19 Feb: Fri 20, Mon 23, Tue 24, Wed 25, Thu 26 Feb; the deadline ends with Thu 26 Feb in Dublin.
    waiting = shown(pb.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT)
    assert "transferred to IE 2026-02-19 09:00Z (Reg. (EU) 2023/1543 Art. 16); its recognition decision is awaited" in (
        waiting
    )
    assert "deadline enforcement  2026-02-27 00:00Z, IE: 2026-02-27 00:00 Europe/Dublin (5 working days)" in waiting
    assert "OVERDUE, overdue by 2 days 12 hours" in waiting and "Art. 16(2)" in waiting
    holiday = shown(pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED, at=dt.datetime(2026, 10, 22, 9, tzinfo=dt.UTC))
    assert "IE: 2026-10-31 00:00 Europe/Dublin (5 working days)" in holiday and "left" in holiday
    recognised = shown(pb.PRESERVATION_ORDER_STATE_ISSUED)
    assert "recognised 2026-02-20 09:00Z: the provider is required to preserve" in recognised
    refused = shown(pb.PRESERVATION_ORDER_STATE_NOT_ENFORCED, ground=pb.ENFORCEMENT_REFUSAL_GROUND_DATA_NOT_STORED)
    assert "recognition refused 2026-02-20 09:00Z: data-not-stored (Art. 16(4))" in refused
    lifted = shown(pb.PRESERVATION_ORDER_STATE_LIFTED)
    assert "no recognition decision was recorded before the order ended" in lifted
    during_production = shown(pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED, decision=True)
    assert "recognised 2026-02-20 09:00Z" in during_production
    for text in (recognised, refused, lifted, during_production):
        assert "deadline enforcement" not in text
