"""Pure messaging rules: notices, input checks, and the sealing of content."""

from __future__ import annotations

import uuid

import pytest
from cryptography.exceptions import InvalidTag

from jitlib import crypto
from services.messaging import domain


@pytest.mark.parametrize(
    ("event_type", "aggregate", "actor", "extra", "text"),
    [
        ("jit.tasks.v1.TaskAccepted", "task", "DE", "", "DE accepted the task"),
        ("jit.tasks.v1.TaskCreated", "task", "NL", "", "NL created the task"),
        ("jit.evidence.v1.EvidenceRequestIssued", "evidence_request", "NL", "", "NL issued the evidence request"),
        (
            "jit.preservation.v1.PreservationOrderExpiryWarning",
            "preservation_order",
            "",
            "in 7 days",
            "The preservation order expires in 7 days",
        ),
    ],
)
def test_notice_words(event_type: str, aggregate: str, actor: str, extra: str, text: str) -> None:
    assert domain.notice_text(event_type, aggregate, actor, extra) == text


def test_a_thread_says_when_an_order_s_non_disclosure_order_ends_not_that_the_order_expires() -> None:
    """PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES: the order's thread tells its readers the suppression's end."""
    from datetime import timedelta

    ending = domain.suppression_notice_text(timedelta(hours=8))
    assert ending.endswith("ends in 8 hours: renew it") and "expires" not in ending
    assert "has ended: the provider may tell the account holder" in domain.suppression_notice_text(timedelta(0))
    from jit.events.v1.envelope_pb2 import Envelope
    from jit.preservation.v1 import preservation_pb2 as pb
    from services.messaging.notices import _expires_in, _suppression_text

    def event(kind: int) -> Envelope:
        env = Envelope()
        env.state.Pack(pb.ExpiryWarning(kind=kind, offset_seconds=8 * 3600))  # type: ignore[arg-type]
        return env

    assert _suppression_text(event(pb.WARNING_KIND_NOTICE_SUPPRESSION_ENDING)) == ending
    assert _suppression_text(event(pb.WARNING_KIND_BEFORE_EXPIRY)) == ""  # the expiry's own words
    assert _expires_in(event(pb.WARNING_KIND_BEFORE_EXPIRY)) == "in 8 hours"


def test_message_checks_name_the_field() -> None:
    big = domain.NewAttachment("a.bin", "application/octet-stream", b"x" * (domain.ATTACHMENT_MAX_BYTES + 1))
    bad = [
        domain.NewAttachment("../x", "text/plain", b"1"),
        domain.NewAttachment("ok.txt", "not a type", b"1"),
        big,
    ]
    fields = {v.field for v in domain.message_violations("nope", "nope", "", bad)}
    assert {
        "request_id",
        "channel_id",
        "attachments[0].filename",
        "attachments[1].media_type",
        "attachments[2].content",
    } <= fields
    assert domain.message_violations(str(uuid.uuid4()), str(uuid.uuid4()), "hello", []) == []


def test_sealed_content_opens_only_in_its_place_and_with_its_key() -> None:
    kek = crypto.new_data_key()
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap(kek, data_key)
    assert crypto.unwrap(kek, wrapped) == data_key
    with pytest.raises(crypto.KeyError_):
        crypto.unwrap(crypto.new_data_key(), wrapped)
    sealed = crypto.seal(data_key, b"the victim's address", b"msg-1:1")
    assert b"victim" not in sealed
    assert crypto.open_sealed(data_key, sealed, b"msg-1:1") == b"the victim's address"
    with pytest.raises(InvalidTag):
        crypto.open_sealed(data_key, sealed, b"msg-2:1")  # moved to another message
    with pytest.raises(InvalidTag):
        crypto.open_sealed(crypto.new_data_key(), sealed, b"msg-1:1")


def test_expiry_warnings_say_how_long_is_left_in_words() -> None:
    from datetime import timedelta

    assert domain.expires_in(timedelta(days=7)) == "in 7 days"
    assert domain.expires_in(timedelta(days=1)) == "in 1 day"
    assert domain.expires_in(timedelta(days=1, hours=12)) == "in 1 day 12 hours"
    assert domain.expires_in(timedelta(0)) == ""


def _message(sender: str = "u1", deleted: bool = False) -> domain.Message:
    from datetime import UTC, datetime

    from jitlib.actors import Actor

    return domain.Message(
        id=str(uuid.uuid4()),
        channel_id=str(uuid.uuid4()),
        seq=1,
        sender=Actor(sender, sender, "NL"),
        system=False,
        revision=2,
        deleted=deleted,
        key_version=1,
        sealed_body=b"sealed",
        posted_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_only_the_sender_revises_a_live_message_from_a_fresh_view() -> None:
    from jitlib.actors import Actor
    from jitlib.errors import Aborted, FailedPrecondition, PermissionDenied

    msg = _message()
    domain.check_revision(msg, Actor("u1", "u1", "NL"), 2)
    domain.check_revision(msg, Actor("u1", "u1", "NL"), 0)
    with pytest.raises(PermissionDenied):
        domain.check_revision(msg, Actor("u2", "u2", "NL"), 2)
    with pytest.raises(Aborted):
        domain.check_revision(msg, Actor("u1", "u1", "NL"), 1)
    with pytest.raises(FailedPrecondition):
        domain.check_revision(_message(deleted=True), Actor("u1", "u1", "NL"), 0)


def test_only_the_senders_revision_from_the_revision_before_or_0_may_be_a_retry() -> None:
    from dataclasses import replace

    from jitlib.actors import Actor

    sender, other = Actor("u1", "u1", "NL"), Actor("u2", "u2", "NL")
    edited, deleted = _message(), _message(deleted=True)  # both at revision 2
    assert domain.may_retry_revision(edited, sender, 1, deleting=False)
    assert domain.may_retry_revision(edited, sender, 0, deleting=False)
    assert not domain.may_retry_revision(edited, sender, 2, deleting=False)  # a current view: an edit
    assert not domain.may_retry_revision(edited, other, 1, deleting=False)
    assert not domain.may_retry_revision(edited, sender, 0, deleting=True)  # a live message is deleted
    assert not domain.may_retry_revision(replace(edited, revision=1), sender, 0, deleting=False)  # never revised
    assert domain.may_retry_revision(deleted, sender, 0, deleting=True)
    assert not domain.may_retry_revision(deleted, sender, 1, deleting=False)  # no edit of a deleted message
    assert not domain.may_retry_revision(deleted, other, 0, deleting=True)


def test_a_key_rotates_from_the_version_the_caller_saw_so_a_retry_rotates_nothing() -> None:
    from datetime import UTC, datetime

    from jitlib.actors import Actor
    from jitlib.errors import Aborted

    ch = domain.new_channel(
        channel_id=str(uuid.uuid4()),
        workspace_id="ws",
        title="NL-DE",
        opener=Actor("u1", "u1", "NL"),
        members=["DE"],
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    once = domain.rotated(ch, 1)
    assert once.key_version == 2
    with pytest.raises(Aborted) as again:
        domain.rotated(once, 1)  # the same request again
    assert again.value.reason == "KEY_VERSION_MISMATCH" and again.value.metadata == {"current_key_version": "2"}
    assert domain.rotated(once, 0).key_version == 3  # 0: no check, as EditMessage's expected_revision


def test_receipts_keep_the_first_delivery_and_the_first_read() -> None:
    from datetime import UTC, datetime, timedelta

    from jitlib.actors import Actor

    reader, t0 = Actor("u2", "u2", "DE"), datetime(2026, 1, 1, tzinfo=UTC)
    delivered = domain.receipt_after(None, "m", reader, t0, read=False)
    assert delivered is not None and delivered.delivered_at == t0 and delivered.read_at is None
    assert domain.receipt_after(delivered, "m", reader, t0 + timedelta(1), read=False) is None
    read = domain.receipt_after(delivered, "m", reader, t0 + timedelta(2), read=True)
    assert read is not None and read.delivered_at == t0 and read.read_at == t0 + timedelta(2)
    assert domain.receipt_after(read, "m", reader, t0 + timedelta(3), read=True) is None
    assert not domain.gets_receipt("u2", "u2") and domain.gets_receipt("u1", "u2")


def test_a_record_thread_follows_the_newest_version_of_the_record() -> None:
    def task(assignee: str, version: int) -> domain.RecordReplica:
        return domain.task_replica(
            id="t",
            workspace_id="ws",
            origin_jurisdiction="NL",
            assignee=assignee,
            restricted=True,
            shared_with=[],
            version=version,
        )

    old, newer = task("DE", 3), task("IE", 4)
    assert domain.replica_after(None, old) is old
    assert domain.replica_after(old, newer) is newer
    assert domain.replica_after(newer, old) is newer
    assert domain.thread_members(newer) == ("IE",)
    access = newer.access()
    assert access.restricted and access.parties == {"NL", "IE"}


@pytest.mark.parametrize(
    ("filename", "media_type"),
    [
        ("invoice\u202efdp.exe", "application/pdf"),  # shows as invoiceexe.pdf
        ("report.pdf\n", "application/pdf"),
        ("a\x9b31mb.txt", "text/plain"),
        ("x\x7f.txt", "text/plain"),
        ("a\\b.txt", "text/plain"),
        ("ok.txt", "text/html\n"),
    ],
)
def test_an_attachment_is_named_on_one_line_as_shown_and_typed_exactly(filename: str, media_type: str) -> None:
    att = domain.NewAttachment(filename, media_type, b"1")
    found = domain.message_violations(str(uuid.uuid4()), str(uuid.uuid4()), "", [att])
    assert [v.field for v in found] in (["attachments[0].filename"], ["attachments[0].media_type"])
    good = domain.NewAttachment("Zeugenaussage Müller.pdf", "application/pdf", b"1")
    assert domain.message_violations(str(uuid.uuid4()), str(uuid.uuid4()), "", [good]) == []
