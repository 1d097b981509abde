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
