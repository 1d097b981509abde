"""What the pages show, computed without I/O: labels, times in the user's zone, and the due list.

No access rule lives here: every record shown came from a service that decided the user may see it, and
every action offered is one the service listed in the record's ``allowed_actions``.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf.timestamp_pb2 import Timestamp

from jit.preservation.v1 import preservation_pb2 as pv
from jitlib import durations, jurisdictions, legal
from jitlib.periods import enforcement_decision_due

UTC = dt.UTC


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (the browser's, sent in a cookie), or UTC when unknown or absent."""
    name = urllib.parse.unquote(name or "")
    if name and len(name) <= 64:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of the zone database
            pass
    return ZoneInfo("UTC")


def instant(ts: Timestamp | None) -> dt.datetime | None:
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=UTC)


def when(value: dt.datetime | None, tz: ZoneInfo) -> str:
    """``Tue 15 Dec 2026, 17:00 CET`` in ``tz``."""
    if value is None:
        return "—"
    local = value.astimezone(tz)
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or tz.key)


def time_left(due: dt.datetime, now: dt.datetime) -> str:
    delta = due - now
    words = durations.words(abs(delta))
    return f"{words} left" if delta.total_seconds() >= 0 else f"overdue by {words}"


def legal_zone(jurisdiction: str) -> ZoneInfo | None:
    """The zone a legal deadline of ``jurisdiction`` runs in, the one its periods are counted in
    (``jitlib.jurisdictions.ZONES``); None when unknown."""
    return jurisdictions.zone(jurisdiction)


def in_zone(due: dt.datetime, jurisdiction: str) -> str:
    """``due`` as the jurisdiction whose deadline it is counts it: ``DE: 31 Oct 2026, 01:00 Europe/Berlin``;
    ``UTC: ...`` when ``legal_zone`` knows no zone of it."""
    local = legal_zone(jurisdiction) if jurisdiction else None
    if local is None:
        return "UTC: " + due.astimezone(UTC).strftime("%d %b %Y, %H:%M")
    return f"{jurisdiction}: {due.astimezone(local).strftime('%d %b %Y, %H:%M')} {local.key}"


@dataclass(frozen=True)
class Deadline:
    """A legal deadline a page shows that its record does not list itself (an evidence request lists its own):
    what it is, when it ends, whose time it runs in and its source."""

    what: str
    due: dt.datetime
    #: The jurisdiction whose time (and calendar) it is counted in.
    jurisdiction: str
    source: str
    working_days: bool = False

    def overdue(self, now: dt.datetime) -> bool:
        return self.due < now


#: An order waits for the enforcing state's decision in these states: IN_ENFORCEMENT, or PRODUCTION_REQUESTED
#: from there (EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION), as the preservation service's
#: ``domain.enforcement_pending``.
ENFORCEMENT_PENDING_STATES = (
    pv.PRESERVATION_ORDER_STATE_IN_ENFORCEMENT,
    pv.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED,
)


def order_enforcement_deadline(order: pv.PreservationOrder) -> Deadline | None:
    """The enforcing state's deadline to decide on recognising a transferred EPOC-PR (5 of its working days
    from the transfer, counted by ``jitlib.periods.enforcement_decision_due`` as the service counts it), while
    the order waits for that decision; None otherwise (not transferred, decided, or ended undecided)."""
    if (
        order.state not in ENFORCEMENT_PENDING_STATES
        or not order.enforcing_jurisdiction
        or order.HasField("enforcement_decided_at")
        or not order.HasField("enforcement_requested_at")
    ):
        return None
    received = order.enforcement_requested_at.ToDatetime(tzinfo=UTC)
    due = enforcement_decision_due(received, order.enforcing_jurisdiction)
    source = legal.source("EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS")
    return Deadline("enforcement", due, order.enforcing_jurisdiction, source, working_days=True)


def label(enum_type: Any, value: int, prefix: str) -> str:
    """``TASK_STATE_IN_PROGRESS`` -> ``in progress``."""
    try:
        name = str(enum_type.Name(value))
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower().replace("_", " ")


@dataclass(frozen=True)
class DueItem:
    """One thing due in a workspace: a task, a legal deadline of a request, a preservation expiry."""

    kind: str
    record_id: str
    title: str
    what: str
    due: dt.datetime
    #: The jurisdiction whose time the deadline runs in (empty: no legal time zone, e.g. a task).
    legal_jurisdiction: str
    href: str

    def overdue(self, now: dt.datetime) -> bool:
        return self.due < now


def due_items(tasks: list[Any], requests: list[Any], orders: list[Any], labels: dict[str, Any]) -> list[DueItem]:
    """Everything with a clock, soonest (most overdue) first.

    ``labels`` maps ``task_state``, ``deadline_kind``, ``order_state`` to ``(enum type, prefix)``.
    """
    out: list[DueItem] = []

    def name(key: str, value: int) -> str:
        enum_type, prefix = labels[key]
        return label(enum_type, value, prefix)

    for t in tasks:
        due = instant(t.due_at) if t.HasField("due_at") else None
        if due is None:
            continue
        state = name("task_state", t.state)
        out.append(
            DueItem("task", t.id, t.title, f"task, {state}, for {t.assignee_jurisdiction}", due, "", f"/tasks/{t.id}")
        )
    for r in requests:
        for d in r.deadlines:
            due = instant(d.due_at)
            if due is None or not (d.overdue or (r.HasField("next_deadline_at") and d.due_at == r.next_deadline_at)):
                continue
            kind = name("deadline_kind", d.kind)
            who = r.addressee_jurisdiction
            out.append(
                DueItem("request", r.id, r.title, f"{kind} deadline ({d.source})", due, who, f"/requests/{r.id}")
            )
    for o in orders:
        due = instant(o.expires_at) if o.HasField("expires_at") else None
        if due is None:
            continue
        state = name("order_state", o.state)
        title = o.description.splitlines()[0][:120] if o.description else "preservation order"
        out.append(
            DueItem(
                "order", o.id, title, f"preservation expires ({state}, {o.provider_id})", due, "", f"/orders/{o.id}"
            )
        )
    out.sort(key=lambda i: (i.due, i.kind, i.record_id))
    return out


@dataclass(frozen=True)
class Held:
    """One thing a legal hold names (the whole workspace: an empty ``record_type``), as the services that
    answered hold it: a hold is set and released in every service, each keeping its own, and each keeps
    every hold it set (set again while active, the hold is renewed: the earlier one is released as renewed)."""

    record_type: str
    record_id: str
    #: The services where a hold on it is active, and where every hold on it was released, in the order
    #: they answered.
    active_in: tuple[str, ...]
    released_in: tuple[str, ...]
    #: Each reason given, oldest first.
    reasons: tuple[str, ...]
    #: The first setting of it any service records: its holds (``LegalHold``), by when they were set.
    first: Any
    #: The last release recorded, while it is active nowhere.
    released: Any
    #: Every hold on it each service keeps, ``(service, LegalHold)``, oldest first: its history.
    history: tuple[tuple[str, Any], ...] = ()

    @property
    def renewed_or_released(self) -> bool:
        """Whether its history has more than the holds now active (one was renewed or released)."""
        return any(not h.active for _, h in self.history)


def _at(t: Any) -> tuple[int, int]:
    return t.seconds, t.nanos


def holds(answers: Any) -> list[Held]:
    """The legal holds the services list, ``(service, its holds)`` each, as one row per thing held: the
    whole workspace first, then the records in the order they were first held."""
    found: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for service, listed in answers:
        for h in listed:
            found.setdefault((h.record_type, h.record_id), []).append((service, h))
    rows = []
    for (record_type, record_id), each in found.items():
        by_time = sorted(each, key=lambda sh: _at(sh[1].set_at))
        # A service keeps every hold it set on the thing, at most one of them active.
        active = tuple(dict.fromkeys(service for service, h in each if h.active))
        released = tuple(dict.fromkeys(service for service, _ in each if service not in active))
        last_release = max(
            (h for _, h in each if not h.active and h.HasField("released_at")),
            key=lambda h: _at(h.released_at),
            default=None,
        )
        rows.append(
            Held(
                record_type,
                record_id,
                active,
                released,
                tuple(dict.fromkeys(h.reason for _, h in by_time)),
                by_time[0][1],
                None if active else last_release,
                tuple(by_time),
            )
        )
    rows.sort(key=lambda r: (r.record_type != "", *_at(r.first.set_at), r.record_id))
    return rows


#: What a refused draft keeps of each value typed (its form's own limits are shorter) and of each field.
KEPT_TEXT_MAX = 10_000
KEPT_VALUES_MAX = 8


@dataclass(frozen=True)
class Kept:
    """What the user typed in a draft form the service refused, to fill the form again with it on the page
    the refusal goes back to: held in the user's session in the console's memory, never in a cookie, and
    shown once (``UserSession.kept_form``). Empty: the form's own defaults."""

    values: dict[str, tuple[str, ...]]

    @staticmethod
    def of(form: Any, names: tuple[str, ...]) -> Kept:
        """The fields ``names`` of a posted form (a multi-dict), each value clipped and each field's values
        bounded: a form is at most 256 KiB, and what is kept is no larger."""
        out: dict[str, tuple[str, ...]] = {}
        for name in names:
            values = [str(v)[:KEPT_TEXT_MAX] for v in form.getlist(name)[:KEPT_VALUES_MAX]]
            if values:
                out[name] = tuple(values)
        return Kept(out)

    def value(self, name: str, default: str = "") -> str:
        """The field's typed value (a text field), else ``default``."""
        found = self.values.get(name)
        return found[0] if found else default

    def chosen(self, name: str, option: object, default: bool = False) -> bool:
        """Whether ``option`` was chosen in the field (a select's option, a checkbox), else ``default``
        when the form was not kept."""
        if not self.values:
            return default
        return str(option) in self.values.get(name, ())


#: A form not kept: its own defaults.
NOT_KEPT = Kept({})
