"""The provider's notice to the account holder, as requests and orders to a provider track it (DOMAIN.md,
Victim safeguards: platforms notify account holders by default, and the account holder is often the
suspect). One rule for the evidence service's requests and the preservation service's orders: which
statuses there are, what a valid change is (a suppression needs its end, in the future and bounded), and
when a suppression has lapsed (``USER_NOTICE_SUPPRESSION_LAPSES``: derived when read, never stored).

Pure: no I/O. Statuses are the proto enums' value names without their ``USER_NOTICE_STATUS_`` prefix.
"""

from __future__ import annotations

from datetime import datetime

from jitlib import validate
from jitlib.errors import FieldViolation

NOT_APPLICABLE = "NOT_APPLICABLE"
PENDING = "PENDING"
SUPPRESSED = "SUPPRESSED"
SENT = "SENT"
#: Every status a request or order records.
STATUSES = frozenset({NOT_APPLICABLE, PENDING, SUPPRESSED, SENT})
#: How far ahead a non-disclosure order's end may be set: a longer one is renewed, not set once
#: (``validate.MAX_AHEAD``, five years).
MAX_SUPPRESSION = validate.MAX_AHEAD


def violations(
    status_field: str, status: str, until_field: str, until: datetime | None, now: datetime
) -> list[FieldViolation]:
    """What is wrong with a user notice ``status`` and its suppression's end ``until`` stated at ``now``,
    each violation naming its field (``status_field``, ``until_field``) and never the value: a known
    status; SUPPRESSED (a non-disclosure order) needs ``until``, in the future and at most
    ``MAX_SUPPRESSION`` ahead; any other status takes none."""
    out = []
    if status not in STATUSES:
        out.append(FieldViolation(status_field, "must be PENDING, SUPPRESSED, SENT or NOT_APPLICABLE"))
    if status == SUPPRESSED:
        if until is None:
            out.append(FieldViolation(until_field, "is required when notice is suppressed (non-disclosure order)"))
        else:
            out += validate.future_date(until_field, until, now, maximum=MAX_SUPPRESSION)
    elif until is not None:
        out.append(FieldViolation(until_field, "is only set when notice is suppressed"))
    return out


def lapses_at(status: str, until: datetime | None) -> datetime | None:
    """When the non-disclosure order recorded with ``status`` ends, from which instant the provider may
    notify the account holder (USER_NOTICE_SUPPRESSION_LAPSES); None when the notice is not suppressed."""
    return until if status == SUPPRESSED else None


def lapsed(status: str, until: datetime | None, now: datetime) -> bool:
    """Whether the notice is suppressed by an order that has ended at ``now`` (derived when read, never
    stored: shown from that instant on, whatever the record's state)."""
    end = lapses_at(status, until)
    return end is not None and end <= now
