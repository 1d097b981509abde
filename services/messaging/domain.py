"""Messaging rules, pure: what a valid message, channel and attachment are, and the words of a system
notice for a record's event."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jitlib.errors import FieldViolation
from jitlib.ids import is_uuid
from jitlib.jurisdictions import is_jurisdiction

BODY_MAX = 20_000
TITLE_MAX = 200
ATTACHMENTS_MAX = 5
ATTACHMENT_MAX_BYTES = 4 * 1024 * 1024
ATTACHMENTS_TOTAL_MAX = 8 * 1024 * 1024
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
SAFE_FILENAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    media_type: str
    content: bytes


def _text(name: str, value: str, *, required: bool, maximum: int) -> list[FieldViolation]:
    if required and not value.strip():
        return [FieldViolation(name, "is required")]
    if len(value) > maximum:
        return [FieldViolation(name, f"must be at most {maximum} characters (got {len(value)})")]
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        return [FieldViolation(name, "must not contain control characters")]
    return []


def message_violations(
    request_id: str, channel_id: str, body: str, attachments: list[NewAttachment]
) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if not is_uuid(request_id):
        out.append(FieldViolation("request_id", "must be a client-generated UUID"))
    if not is_uuid(channel_id):
        out.append(FieldViolation("channel_id", "must be a UUID"))
    out += _text("body", body, required=not attachments, maximum=BODY_MAX)
    out += attachment_violations(attachments)
    return out


def attachment_violations(attachments: list[NewAttachment]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if len(attachments) > ATTACHMENTS_MAX:
        out.append(FieldViolation("attachments", f"at most {ATTACHMENTS_MAX} attachments"))
    total = 0
    for i, a in enumerate(attachments[:ATTACHMENTS_MAX]):
        if not SAFE_FILENAME.match(a.filename):
            out.append(FieldViolation(f"attachments[{i}].filename", "must be a plain file name"))
        if not MEDIA_TYPE.match(a.media_type):
            out.append(FieldViolation(f"attachments[{i}].media_type", "must be a media type such as image/png"))
        if not a.content:
            out.append(FieldViolation(f"attachments[{i}].content", "is empty"))
        if len(a.content) > ATTACHMENT_MAX_BYTES:
            out.append(FieldViolation(f"attachments[{i}].content", f"must be at most {ATTACHMENT_MAX_BYTES} bytes"))
        total += len(a.content)
    if total > ATTACHMENTS_TOTAL_MAX:
        out.append(FieldViolation("attachments", f"must total at most {ATTACHMENTS_TOTAL_MAX} bytes"))
    return out


def channel_violations(request_id: str, workspace_id: str, title: str, members: list[str]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if not is_uuid(request_id):
        out.append(FieldViolation("request_id", "must be a client-generated UUID"))
    if not re.match(r"^[a-z0-9][a-z0-9-]{2,62}$", workspace_id):
        out.append(FieldViolation("workspace_id", "must be a workspace id"))
    out += _text("title", title, required=True, maximum=TITLE_MAX)
    if not members:
        out.append(FieldViolation("members", "name at least one other member jurisdiction"))
    for i, j in enumerate(members):
        if not is_jurisdiction(j):
            out.append(FieldViolation(f"members[{i}]", "must be a jurisdiction code"))
    return out


_RECORD_WORDS = {
    "task": "the task",
    "evidence_request": "the evidence request",
    "preservation_order": "the preservation order",
    "evidence_item": "the evidence item",
}


def notice_text(event_type: str, aggregate_type: str, actor_jurisdiction: str, extra: str = "") -> str:
    """A short, human line for a record's event, e.g. "DE accepted the task"."""
    name = event_type.rsplit(".", 1)[-1]
    for prefix in ("Task", "EvidenceRequest", "EvidenceItem", "PreservationOrder"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    what = _RECORD_WORDS.get(aggregate_type, f"the {aggregate_type.replace('_', ' ')}")
    if name == "ExpiryWarning":
        return f"{what.capitalize()} expires {extra}".strip() if extra else f"{what.capitalize()} nears expiry"
    verb = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower() or "changed"
    who = actor_jurisdiction or "The system"
    return f"{who} {verb} {what}"
