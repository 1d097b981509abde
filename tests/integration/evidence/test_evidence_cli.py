"""``jit evidence ...`` against the live evidence service: create and move a request, upload, download with
a purpose (digest checked), custody, and an auditor's verify."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from jitcli.main import app
from tests.harness import registered_victims

pytestmark = pytest.mark.integration
RUNNER = CliRunner()


@pytest.fixture
def env(evidence_svc: Any, keycloak: Any, nats_server: Any, tmp_path: Path) -> dict[str, str]:
    return {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_EVIDENCE_ADDR": f"127.0.0.1:{evidence_svc.app.port}",
        "JIT_NATS_URL": nats_server.url,
        "JIT_CONFIG_DIR": str(tmp_path / "jit-config"),
    }


def jit(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = RUNNER.invoke(app, list(args), env=env)
    assert result.exit_code == code, f"jit {' '.join(args)} -> {result.exit_code}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return result


def jit_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(jit(env, "--json", *args).stdout)


def test_request_upload_download_custody_verify_through_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    for user in ("nl-prosecutor", "de-liaison", "nl-auditor"):
        jit(env, "login", user, "--password", "demo")
    r = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo",
        "--basis", "eio", "--to", "DE", "--authority", "OM Amsterdam", "--title", "Subscriber data",
        "--target", "account:@harasser_x@instagram", "--target", "email:x@example.org",
        "--data", "subscriber", "--offence", "doxxing", "--issue",
    )  # fmt: skip
    assert r["state"] == "EVIDENCE_REQUEST_STATE_ISSUED" and len(r["deadlines"]) == 2
    rid = r["id"]
    jit(env, "--as", "de-liaison", "evidence", "request", "acknowledge", rid)
    shown = jit_json(env, "--as", "de-liaison", "evidence", "request", "start-execution", rid, "--note", "recognised")
    assert shown["state"] == "EVIDENCE_REQUEST_STATE_IN_EXECUTION"
    text = jit(env, "--as", "nl-prosecutor", "evidence", "request", "show", rid).stdout
    assert "in-execution" in text and "Art. 12(4)" in text
    assert "You may: withdraw, upload_item" in text

    src = tmp_path / "chat.png"
    src.write_bytes(os.urandom(2_500_000))
    item = jit_json(env, "--as", "de-liaison", "evidence", "upload", str(src), "--request", rid)
    assert item["size_bytes"] == "2500000" and item["media_type"] == "image/png"
    out = tmp_path / "got.png"
    jit(env, "--as", "nl-prosecutor", "evidence", "download", item["id"], "--out", str(out), "--purpose", "court")
    assert out.read_bytes() == src.read_bytes()
    entries = jit_json(env, "--as", "nl-prosecutor", "evidence", "custody", item["id"])
    assert [e["action"] for e in entries] == ["CUSTODY_ACTION_RECEIVED", "CUSTODY_ACTION_DOWNLOADED"]
    missing = jit(env, "--as", "nl-prosecutor", "evidence", "download", item["id"], "--out", str(tmp_path / "x"),
                  "--purpose", " ", code=1)  # fmt: skip
    assert "purpose" in missing.stderr and not (tmp_path / "x").exists()
    result = RUNNER.invoke(app, ["--as", "nl-auditor", "evidence", "verify"], env=env)
    assert result.exit_code in (0, 1) and "items" in result.stdout  # 1 when another test tampered on purpose


def test_a_downloaded_item_is_readable_by_its_owner_only(env: dict[str, str], tmp_path: Path) -> None:
    """Security review, Low: `jit evidence download` wrote the evidence 0644 (world-readable). The file is
    created 0600 from the start (not left to the umask), and stays so once verified and renamed into place."""
    for user in ("nl-prosecutor", "de-liaison"):
        jit(env, "login", user, "--password", "demo")
    r = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo",
        "--basis", "eio", "--to", "DE", "--authority", "OM Amsterdam", "--title", "Chat logs",
        "--target", "account:@harasser_x@instagram", "--data", "content", "--offence", "doxxing", "--issue",
    )  # fmt: skip
    jit(env, "--as", "de-liaison", "evidence", "request", "acknowledge", r["id"])
    jit(env, "--as", "de-liaison", "evidence", "request", "start-execution", r["id"])
    src = tmp_path / "log.txt"
    src.write_bytes(b"chat log " + os.urandom(64))
    item = jit_json(env, "--as", "de-liaison", "evidence", "upload", str(src), "--request", r["id"])
    out = tmp_path / "got" / "log.txt"
    out.parent.mkdir()
    old = os.umask(0o022)  # the usual umask, under which a plain open() makes a file world-readable
    try:
        jit(env, "--as", "nl-prosecutor", "evidence", "download", item["id"], "--out", str(out), "--purpose", "court")
    finally:
        os.umask(old)
    assert out.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert list(out.parent.iterdir()) == [out]  # no partial file left behind


def test_a_partial_refusal_and_a_resubmission_through_the_cli(env: dict[str, str]) -> None:
    """REQUEST_PARTIAL_REFUSAL and REQUEST_RESUBMISSION from the command line: DE refuses the content of an
    EIO on EIO_REFUSAL_IMMUNITY_OR_PRIVILEGE (Directive 2014/41/EU Art. 11(1)(a)), then the rest on ne bis in
    idem; an MLA treaty ground is refused naming the field; NL clarifies and resubmits."""
    for user in ("nl-prosecutor", "de-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    r = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo",
        "--basis", "eio", "--to", "DE", "--authority", "OM Amsterdam", "--title", "Messages and subscriber",
        "--target", "account:@harasser_x@instagram", "--data", "subscriber", "--data", "content",
        "--offence", "cyberstalking", "--issue",
    )  # fmt: skip
    rid = r["id"]
    de = ("--as", "de-prosecutor", "evidence", "request")
    part = jit_json(
        env, *de, "refuse", rid, "--ground", "immunity-or-privilege", "--detail", "sources", "--data", "content"
    )
    assert part["state"] == "EVIDENCE_REQUEST_STATE_ISSUED" and part["refusals"][0]["whole"] is False
    text = jit(env, *de, "show", rid).stdout
    assert "content: refused, immunity-or-privilege (Directive 2014/41/EU Art. 11(1)(a))" in text
    assert "subscriber: open" in text
    wrong = jit(env, *de, "refuse", rid, "--ground", "political-offence", "--detail", "x", code=1)
    assert "ground" in wrong.stdout + wrong.stderr
    jit(env, *de, "refuse", rid, "--ground", "ne-bis-in-idem", "--detail", "tried in DE")
    again = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "resubmit", rid,
        "--clarification", "other acts", "--data", "subscriber",
    )  # fmt: skip
    assert again["state"] == "EVIDENCE_REQUEST_STATE_ISSUED" and again["submission"] == 2
    shown = jit(env, "--as", "nl-prosecutor", "evidence", "request", "show", rid).stdout
    assert "refusal 1" in shown and "ne-bis-in-idem" in shown and "resubmitted after a refusal" in shown


def test_eio_delay_notice_through_the_cli(env: dict[str, str]) -> None:
    """EIO_DELAY_NOTICE (Directive 2014/41/EU Art. 12(6)): the executing state notifies a delay with
    ``jit evidence request notify-delay``; ``show`` prints the expected date next to the legal deadline."""
    for user in ("nl-prosecutor", "de-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    r = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo",
        "--basis", "eio", "--to", "DE", "--authority", "OM Amsterdam", "--title", "Traffic data",
        "--target", "account:@harasser_x@instagram", "--data", "traffic", "--offence", "cyberstalking", "--issue",
    )  # fmt: skip
    rid = r["id"]
    jit(env, "--as", "de-prosecutor", "evidence", "request", "acknowledge", rid)
    jit(env, "--as", "de-prosecutor", "evidence", "request", "start-execution", rid)
    expected = (dt.datetime.now(dt.UTC) + dt.timedelta(days=120)).strftime("%Y-%m-%dT%H:%MZ")
    shown = jit_json(
        env, "--as", "de-prosecutor", "evidence", "request", "notify-delay", rid,
        "--reason", "the server is held abroad", "--expected", expected,
    )  # fmt: skip
    assert shown["delay"]["deadline"] == "DEADLINE_KIND_EXECUTE" and shown["deadlines"][0]["expected_at"]
    text = jit(env, "--as", "nl-prosecutor", "evidence", "request", "show", rid).stdout
    assert "delay notified" in text and "the server is held abroad" in text and "(notified delay)" in text


def test_jit_instruments_toward_outside_states_through_the_cli(env: dict[str, str]) -> None:
    """JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES, EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON: NL sends an MLA request
    to FR (no member) with `jit evidence request create --to FR`; FR lists it with `jit evidence request list`
    (no workspace) and acknowledges it. A STANDARD EPOC for content data needs
    --notification-exemption-reason, which `show` prints."""
    for user in ("nl-prosecutor", "fr-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    r = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo",
        "--basis", "mla", "--to", "FR", "--authority", "OM Amsterdam", "--title", "Hosting records in FR",
        "--target", "account:@harasser_x", "--data", "subscriber", "--offence", "doxxing", "--issue",
    )  # fmt: skip
    listed = jit_json(env, "--as", "fr-prosecutor", "evidence", "request", "list")
    assert r["id"] in [x["id"] for x in listed] and {x["addressee_jurisdiction"] for x in listed} == {"FR"}
    acknowledged = jit_json(env, "--as", "fr-prosecutor", "evidence", "request", "acknowledge", r["id"])
    assert acknowledged["state"] == "EVIDENCE_REQUEST_STATE_ACKNOWLEDGED"

    epoc = [
        "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo", "--basis", "epoc",
        "--procedure", "standard", "--to", "IE", "--provider", "SocialNet Ireland Ltd", "--authority", "OM Amsterdam",
        "--title", "Messages of @harasser_x", "--target", "account:@harasser_x", "--data", "content",
        "--offence", "doxxing",
    ]  # fmt: skip
    refused = jit(env, *epoc, code=1)
    assert "notification_exemption_reason" in refused.stderr and "Art. 8(1)-(2)" in refused.stderr
    made = jit_json(env, *epoc, "--notification-exemption-reason", "Offence in NL; the holder resides in NL")
    shown = jit(env, "--as", "nl-prosecutor", "evidence", "request", "show", made["id"]).stdout
    assert "not notified because" in shown and "the holder resides in NL" in " ".join(shown.split())


def test_a_request_names_its_victims_by_pseudonym_through_the_cli(
    env: dict[str, str], evidence_svc: Any, nats_server: Any
) -> None:
    """VICTIM_BY_PSEUDONYM: ``jit evidence request create --victim``, shown by ``show`` and ``list``, and
    ``list --victim`` keeps that victim's requests."""
    jit(env, "login", "nl-prosecutor", "--password", "demo")
    (victim,) = registered_victims(evidence_svc, nats_server.url)
    nl = ["--as", "nl-prosecutor", "evidence", "request"]
    r = jit_json(
        env, *nl, "create", "--workspace", "jit-demo", "--basis", "eio", "--to", "DE", "--authority", "OM Amsterdam",
        "--title", "Subscriber data of the harassing account", "--target", "account:@harasser_x@instagram",
        "--data", "subscriber", "--offence", "doxxing", "--victim", victim,
    )  # fmt: skip
    assert r["victim_refs"] == [victim]
    assert victim in jit(env, *nl, "show", r["id"]).stdout
    assert [x["id"] for x in jit_json(env, *nl, "list", "--workspace", "jit-demo", "--victim", victim)] == [r["id"]]
    assert victim in jit(env, *nl, "list", "--workspace", "jit-demo", "--victim", victim).stdout


def test_a_sensitive_item_through_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    """SENSITIVE_ITEM_MARKING, SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE, SENSITIVE_ITEM_EXPORT_FOUR_EYES through
    `jit evidence`: upload --sensitive, download --purpose, item export-request / export-approve (never
    one's own), record-custody, item unmark-sensitive --reason, and custody showing every purpose."""
    for user in ("nl-prosecutor", "nl-liaison", "de-liaison", "de-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    r = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo",
        "--basis", "eio", "--to", "DE", "--authority", "OM Amsterdam", "--title", "Images of V-NL-0007",
        "--target", "account:@harasser_x@instagram", "--data", "content", "--offence", "non-consensual-intimate-images",
        "--issue",
    )  # fmt: skip
    jit(env, "--as", "de-liaison", "evidence", "request", "acknowledge", r["id"])
    jit(env, "--as", "de-liaison", "evidence", "request", "start-execution", r["id"])
    src = tmp_path / "image.jpg"
    src.write_bytes(os.urandom(5000))
    item = jit_json(env, "--as", "de-liaison", "evidence", "upload", str(src), "--request", r["id"], "--sensitive")
    assert item["sensitive"] is True
    listed = jit(env, "--as", "nl-prosecutor", "evidence", "items", "--request", r["id"]).stdout
    assert "SENSITIVE" in listed
    jit(env, "--as", "nl-prosecutor", "evidence", "download", item["id"], "--out", str(tmp_path / "o"),
        "--purpose", "identify the account", )  # fmt: skip

    asked = jit_json(env, "--as", "nl-prosecutor", "evidence", "item", "export-request", item["id"],
                     "--purpose", "hand to the trial court", "--to", "Rechtbank Amsterdam")  # fmt: skip
    own = jit(env, "--as", "nl-prosecutor", "evidence", "item", "export-approve", item["id"],
              "--request", str(asked["seq"]), code=1)  # fmt: skip
    assert "SELF_APPROVAL" in own.stderr or "second person" in own.stderr
    early = jit(env, "--as", "nl-prosecutor", "evidence", "record-custody", item["id"], "--action", "exported",
                "--purpose", "court file", "--recipient", "Rechtbank Amsterdam", code=1)  # fmt: skip
    assert "approved" in early.stderr
    asked = jit_json(env, "--as", "nl-liaison", "evidence", "item", "export-request", item["id"],
                     "--purpose", "hand to the trial court", "--to", "Rechtbank Amsterdam")  # fmt: skip
    jit(env, "--as", "nl-prosecutor", "evidence", "item", "export-approve", item["id"], "--request", str(asked["seq"]))
    jit(env, "--as", "nl-liaison", "evidence", "record-custody", item["id"], "--action", "exported",
        "--purpose", "court file", "--recipient", "Rechtbank Amsterdam")  # fmt: skip

    missing = jit(env, "--as", "de-prosecutor", "evidence", "item", "unmark-sensitive", item["id"], "--reason", " ",
                  code=1)  # fmt: skip
    assert "reason" in missing.stderr
    plain = jit_json(env, "--as", "de-prosecutor", "evidence", "item", "unmark-sensitive", item["id"],
                     "--reason", "no image of the victim after all")  # fmt: skip
    assert not plain.get("sensitive")
    entries = jit_json(env, "--as", "nl-prosecutor", "evidence", "custody", item["id"])
    assert [e["action"].removeprefix("CUSTODY_ACTION_") for e in entries] == [
        "RECEIVED", "DOWNLOADED", "EXPORT_REQUESTED", "EXPORT_REQUESTED", "EXPORT_APPROVED", "EXPORTED", "UNMARKED",
    ]  # fmt: skip
    assert [e["purpose"] for e in entries][1:3] == ["identify the account", "hand to the trial court"]
    assert entries[-1]["purpose"] == "no image of the victim after all" and entries[-3]["recipient"] == (
        "Rechtbank Amsterdam"
    )


def test_the_enforcement_of_an_epoc_through_the_cli(env: dict[str, str]) -> None:
    """EPOC_ENFORCEMENT_TRANSFER, EPOC_ENFORCEMENT_REFUSAL_GROUNDS through `jit evidence request`: the issuer's
    prosecutor transfers an order reported not executed (`transfer-enforcement`), the enforcing state's
    prosecutor sees it (with its 5 working days) and refuses recognition on a ground of Art. 16(4)
    (`refuse-enforcement`); another order it recognises (`recognise-enforcement`)."""
    for user in ("nl-prosecutor", "ie-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    base = [
        "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo", "--basis", "epoc",
        "--procedure", "standard", "--to", "IE", "--provider", "SocialNet Ireland Ltd", "--authority", "OM Amsterdam",
        "--title", "Subscriber of @harasser_x", "--target", "account:@harasser_x", "--data", "subscriber",
        "--offence", "doxxing", "--issue",
    ]  # fmt: skip
    ids = []
    for _ in range(2):
        made = jit_json(env, *base)
        jit(env, "--as", "nl-prosecutor", "evidence", "request", "not-executed", made["id"], "--reason", "other",
            "--detail", "no answer")  # fmt: skip
        ids.append(made["id"])
    refused, recognised = ids
    bad = jit(env, "--as", "nl-prosecutor", "evidence", "request", "transfer-enforcement", refused,
              "--enforcing-jurisdiction", "nl", code=1)  # fmt: skip
    assert "enforcing_jurisdiction" in bad.stderr and "issuing state" in bad.stderr
    moved = jit_json(env, "--as", "nl-prosecutor", "evidence", "request", "transfer-enforcement", refused,
                     "--note", "the provider's reasons are not accepted")  # fmt: skip
    assert moved["state"] == "EVIDENCE_REQUEST_STATE_IN_ENFORCEMENT" and moved["enforcing_jurisdiction"] == "IE"
    shown = jit(env, "--as", "ie-prosecutor", "evidence", "request", "show", refused).stdout
    assert "transferred to IE" in shown and "recognition decision is awaited" in shown
    assert "deadline enforcement" in shown and "Art. 16(2)" in shown
    assert "You may: recognise_enforcement, refuse_enforcement" in shown
    out = jit(env, "--as", "ie-prosecutor", "evidence", "request", "refuse-enforcement", refused, "--ground",
              "data-not-stored", "--detail", "the account was deleted before the order").stdout  # fmt: skip
    assert "not-enforced" in out and "recognition refused" in out and "data-not-stored (Art. 16(4))" in out

    jit(env, "--as", "nl-prosecutor", "evidence", "request", "transfer-enforcement", recognised)
    back = jit_json(env, "--as", "ie-prosecutor", "evidence", "request", "recognise-enforcement", recognised,
                    "--compliance-days", "10")  # fmt: skip
    assert back["state"] == "EVIDENCE_REQUEST_STATE_IN_EXECUTION" and "enforcement_decided_at" in back
    assert back["compliance_days"] == 10 and [d["kind"] for d in back["deadlines"]] == ["DEADLINE_KIND_COMPLIANCE"]
    shown = jit(env, "--as", "nl-prosecutor", "evidence", "request", "show", recognised).stdout
    assert "required to comply within 10 days (Art. 16(3))" in shown and "deadline compliance" in shown


def test_the_originating_states_consent_to_other_use_through_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    """JIT_OTHER_USE_NEEDS_CONSENT through `jit evidence item consent`: NL's liaison received DE's evidence;
    weeks later DE's prosecutor records DE's consent with its reference, the same --request-id twice records
    it once, NL's prosecutor is refused (not the originating state), and `evidence items` shows the consent."""
    for user in ("nl-prosecutor", "nl-liaison", "de-liaison", "de-prosecutor"):
        jit(env, "login", user, "--password", "demo")
    r = jit_json(
        env, "--as", "nl-prosecutor", "evidence", "request", "create", "--workspace", "jit-demo",
        "--basis", "eio", "--to", "DE", "--authority", "OM Amsterdam", "--title", "Chat logs",
        "--target", "account:@harasser_x@instagram", "--data", "content", "--offence", "doxxing", "--issue",
    )  # fmt: skip
    jit(env, "--as", "de-liaison", "evidence", "request", "acknowledge", r["id"])
    jit(env, "--as", "de-liaison", "evidence", "request", "start-execution", r["id"])
    src = tmp_path / "chat.txt"
    src.write_bytes(b"chat log sent by DE")
    item = jit_json(env, "--as", "nl-liaison", "evidence", "upload", str(src), "--request", r["id"])
    assert item["origin_jurisdiction"] == "DE"

    key = "0190f7a0-0000-7000-8000-00000000c0de"
    args = ("evidence", "item", "consent", item["id"], "--purpose", "prosecution of a fraud case",
            "--reference", "StA Berlin 276 Js 1/26", "--request-id", key)  # fmt: skip
    got = jit_json(env, "--as", "de-prosecutor", *args)
    [c] = got["use_conditions"]["consents"]
    assert (c["granted_by_jurisdiction"], c["purpose"], c["reference"]) == (
        "DE", "prosecution of a fraud case", "StA Berlin 276 Js 1/26",
    )  # fmt: skip
    again = jit_json(env, "--as", "de-prosecutor", *args)
    assert again["use_conditions"]["consents"] == [c]
    refused = jit(env, "--as", "nl-prosecutor", "evidence", "item", "consent", item["id"], "--purpose", "x", code=1)
    assert "PERMISSION_DENIED" in refused.stderr
    listed = jit(env, "--as", "nl-prosecutor", "evidence", "items", "--request", r["id"]).stdout
    assert "other use: DE consents" in listed and "prosecution of a fraud case, reference StA Berlin" in listed
    entries = jit_json(env, "--as", "nl-prosecutor", "evidence", "custody", item["id"])
    assert [e["action"].removeprefix("CUSTODY_ACTION_") for e in entries] == ["RECEIVED", "CONSENT_RECORDED"]
