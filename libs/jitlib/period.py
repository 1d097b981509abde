"""The JIT's agreed period: a team is set up by agreement "for a limited period, which may be extended by
mutual consent" (Council Framework Decision 2002/465/JHA Art. 1(1); 2000 EU MLA Convention Art. 13(1)).

A workspace carries the period as ISO dates (``starts_on``, ``ends_on``: its last day), set by ``jit admin
workspace`` and replicated to every service (``jitlib.workspaces``). Days are calendar days in UTC, as every
deadline here: the period runs until the end of ``ends_on`` and has ended from the next day, 00:00 UTC.

- ``require_running``: the one check of every create path of a case record (``jitlib.records``): after the
  period, FAILED_PRECONDITION ``JIT_PERIOD_ENDED`` saying when it ended and that the agreement must be
  extended (rule ``JIT_PERIOD_ENDED``).
- ``warning_schedule`` / ``due_warning``: the warnings before the end, on the last day and once it ended
  (rule ``JIT_PERIOD_WARNING``); the messaging service sends them (``services/messaging/period.py``).

Pure: no I/O. A workspace without an end date (an older announcement) has no period to check or warn about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from jitlib import durations, legal
from jitlib.errors import FailedPrecondition

#: The reason code of a create refused after the period.
REASON = "JIT_PERIOD_ENDED"
#: Warnings before the last day, unless configured otherwise (durations: ``60d,30d,7d``).
DEFAULT_OFFSETS = "60d,30d,7d"
#: The labels of the two warnings that are not an offset before the end.
LAST_DAY, ENDED = "last-day", "ended"


def last_day(ends_on: str) -> date | None:
    """The period's last day, from a workspace's ``ends_on``; None when it has none (or not a date)."""
    try:
        return date.fromisoformat(ends_on[:10]) if ends_on else None
    except ValueError:
        return None


def today(now: datetime) -> date:
    """The UTC calendar day of ``now``."""
    return now.astimezone(UTC).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def days_left(ends_on: date, now: datetime) -> int:
    """Days from today to the last day: 0 on the last day, negative once the period ended."""
    return (ends_on - today(now)).days


def has_ended(ends_on: date, now: datetime) -> bool:
    return today(now) > ends_on


def left_in_words(ends_on: date, now: datetime) -> str:
    """ "225 days left", "ends today", "ended 3 days ago"."""
    left = days_left(ends_on, now)
    if left > 0:
        return f"{left} day{'s' if left != 1 else ''} left"
    if left == 0:
        return "ends today"
    return f"ended {-left} day{'s' if left != -1 else ''} ago"


def describe(ends_on: date, now: datetime) -> str:
    """How the period stands, in words: "ends 2027-07-15 (225 days left)", "ends today (2027-07-15)",
    "ended 2027-07-15 (3 days ago)"."""
    left = days_left(ends_on, now)
    if left > 0:
        return f"ends {ends_on.isoformat()} ({left_in_words(ends_on, now)})"
    if left == 0:
        return f"ends today ({ends_on.isoformat()})"
    return f"ended {ends_on.isoformat()} ({-left} day{'s' if left != -1 else ''} ago)"


def require_running(workspace_id: str, ends_on: str, now: datetime) -> None:
    """Refuse a new case record in a workspace whose agreed period has ended (FAILED_PRECONDITION
    ``JIT_PERIOD_ENDED``); ``now`` is the service's clock. A workspace without an end date passes."""
    end = last_day(ends_on)
    if end is None or not has_ended(end, now):
        return
    raise FailedPrecondition(
        REASON,
        f"the agreed period of JIT workspace {workspace_id} ended on {end.isoformat()}: no new task, evidence "
        "request or preservation order is accepted until the members extend the agreement by mutual consent "
        f"and its new end date is recorded (`jit admin workspace extend`) {legal.cite('JIT_PERIOD_ENDED')}",
        {"field": "workspace_id", "ends_on": end.isoformat()},
    )


# -- warnings -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodWarning:
    """One warning of one end date: ``offset`` before the last day, on the last day, or once ended."""

    workspace_id: str
    ends_on: date
    #: "60d" (an offset before the last day), ``LAST_DAY`` or ``ENDED``.
    label: str
    #: How long before the last day's start it is due (zero on the last day, negative once ended).
    offset: timedelta
    due_at: datetime

    @property
    def ended(self) -> bool:
        return self.label == ENDED

    def key(self) -> str:
        """Stable per workspace, end date and warning: sent once; a new end date makes new keys."""
        return f"period:{self.workspace_id}:{self.ends_on.isoformat()}:{self.label}"

    def text(self, now: datetime) -> str:
        """What the members read, with the days left counted at ``now`` (a warning sent late says so)."""
        end = self.ends_on.isoformat()
        cite = legal.cite("JIT_PERIOD_WARNING")
        if self.ended or has_ended(self.ends_on, now):
            return (
                f"The JIT's agreed period ended on {end}: no new task, evidence request or preservation order "
                "is accepted until the members extend the agreement by mutual consent and its new end date is "
                "recorded; open records can still be acted on, and messages exchanged, to wind the case down "
                f"{cite}."
            )
        left = days_left(self.ends_on, now)
        when = "today" if left == 0 else f"on {end}, in {left} day{'s' if left != 1 else ''}"
        return (
            f"The JIT's agreed period ends {when}{f' ({end})' if left == 0 else ''}. To go on, the members "
            "extend the agreement by mutual consent and the new end date is recorded; after the last day no "
            f"new task, evidence request or preservation order is accepted {cite}."
        )


def parse_offsets(text: str) -> tuple[timedelta, ...]:
    """The configured offsets before the last day (``60d,30d,7d``), longest first; ValueError when
    malformed."""
    return tuple(sorted(set(durations.parse_list(text)), reverse=True))


def warning_schedule(workspace_id: str, ends_on: date, offsets: tuple[timedelta, ...]) -> list[PeriodWarning]:
    """Every warning of the end date ``ends_on``, in due order: one per offset before the last day's
    start (00:00 UTC), one at that start (the last day), one when the period has ended (the next day)."""
    start = start_of(ends_on)
    out = [
        PeriodWarning(workspace_id, ends_on, durations.compact(o), o, start - o)
        for o in sorted(set(offsets), reverse=True)
    ]
    out.append(PeriodWarning(workspace_id, ends_on, LAST_DAY, timedelta(0), start))
    out.append(PeriodWarning(workspace_id, ends_on, ENDED, -timedelta(days=1), start + timedelta(days=1)))
    return out


def due_warning(workspace_id: str, ends_on: str, offsets: tuple[timedelta, ...], now: datetime) -> PeriodWarning | None:
    """The warning to send now: the latest one of the schedule already due. The earlier ones are
    superseded (a node that was down, or a period set or extended late, sends one warning saying how long
    is left, not a burst of stale ones). None before the first one, or without an end date."""
    end = last_day(ends_on)
    if end is None:
        return None
    due = [w for w in warning_schedule(workspace_id, end, offsets) if w.due_at <= now]
    return due[-1] if due else None


__all__ = [
    "DEFAULT_OFFSETS",
    "ENDED",
    "LAST_DAY",
    "REASON",
    "PeriodWarning",
    "days_left",
    "describe",
    "due_warning",
    "has_ended",
    "last_day",
    "left_in_words",
    "parse_offsets",
    "require_running",
    "warning_schedule",
]
