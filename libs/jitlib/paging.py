"""Page tokens for List RPCs: opaque to the client, bound to the request's filters.

A token carries where the previous page ended (the service decides what that position is: an id, or a
sort key and an id) and a fingerprint of the request's filters, so a token cannot be replayed against a
list with other filters. The visibility filter still applies to every page: a token grants nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from google.protobuf.message import Message

from jitlib.errors import InvalidArgument
from jitlib.ids import is_uuid

#: Tokens this module writes are far shorter; a longer one is refused before it is decoded.
MAX_TOKEN = 1024


def fingerprint(request: Message) -> str:
    """Digest of a List request's type and filters, without its paging fields (``page_size``,
    ``page_token``): a token from one list (``ListTasks``) is refused by another (``ListRequests``),
    even when both have no filter set."""
    clone = type(request)()
    clone.CopyFrom(request)
    for name in ("page_token", "page_size"):
        if name in clone.DESCRIPTOR.fields_by_name:
            clone.ClearField(name)
    digest = hashlib.sha256(request.DESCRIPTOR.full_name.encode() + b"\0")
    digest.update(clone.SerializeToString(deterministic=True))
    return digest.hexdigest()[:16]


def encode(position: dict[str, Any], request: Message) -> str:
    body = {"p": position, "f": fingerprint(request)}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def decode(request: Message) -> dict[str, Any] | None:
    """The position in ``request.page_token`` (None when empty); INVALID_ARGUMENT for a foreign token."""
    token = getattr(request, "page_token", "")
    if not token:
        return None
    if len(token) > MAX_TOKEN:
        raise InvalidArgument.one("page_token", "is not a token this service issued")
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        position, fp = body["p"], body["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument.one("page_token", "is not a token this service issued") from None
    if not isinstance(position, dict):
        raise InvalidArgument.one("page_token", "is not a token this service issued")
    if fp != fingerprint(request):
        raise InvalidArgument.one("page_token", "belongs to another list, or to this list with other filters")
    return position


def after_id(request: Message) -> str:
    """For lists ordered by id: the id the previous page ended at ("" for the first page)."""
    position = decode(request)
    if position is None:
        return ""
    after = position.get("after")
    if not isinstance(after, str) or not is_uuid(after):
        raise InvalidArgument.one("page_token", "is not a token this service issued")
    return after


def token_after_id(last_id: str, request: Message) -> str:
    return encode({"after": last_id}, request)
