"""Field validators shared by every service: pure, importable by domain code.

Each returns the violations it finds (an empty list when the value is fine), so a caller collects every
problem of a request before answering once. A description never quotes the value it refuses: input is
unbounded, and an echo of it could overflow a status header, an audit entry or a terminal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from jitlib import legal
from jitlib.errors import FieldViolation
from jitlib.ids import is_uuid
from jitlib.jurisdictions import is_jurisdiction

#: Workspace ids are Keycloak group names chosen by an administrator: short, lower-case, no path characters.
WORKSPACE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")

#: Control characters refused in free text: C0 but newline, carriage return and tab; DEL; C1 (0x9b is a
#: one-byte escape on some terminals).
_CONTROL = frozenset(chr(c) for c in [*range(32), *range(0x7F, 0xA0)] if chr(c) not in "\n\r\t")

#: The earliest date a user may state for something that happened before the record was made (an order
#: issued, a request received). Records of the platform start after it; older paper is entered with its
#: real date in the free text, not in a clock that legal deadlines are counted from.
EARLIEST_DATE = datetime(2015, 1, 1, tzinfo=UTC)
#: How far in the past a stated date may lie, relative to now: a legal clock counted from a date older
#: than this would already have run out, which is almost always a typing error.
MAX_PAST = timedelta(days=366 * 2)
#: How far ahead a date a user sets may lie (a task's due date, the end of a user notice's suppression):
#: five years; further is almost always a typing error, and an open-ended one is renewed, not set once.
MAX_AHEAD = timedelta(days=5 * 366)
#: How many further jurisdictions a restricted record may be shared with.
SHARED_MAX = 30
#: The lengths of a record's free text, the same in every service: its title, its description, and the
#: reason given with a decision.
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
REASON_MAX = 2_000
#: A victim's pseudonym, as the victims service gives it: ``V-<the workspace lead's code>-<a sequence of
#: four or more digits>`` (``V-NL-0007``). Records refer to a victim by it, never by words about them
#: (Directive 2012/29/EU Art. 21: the victim's privacy). Checked for its length before the pattern.
VICTIM_REF = re.compile(r"^V-[A-Z]{2,8}-[0-9]{4,}$")
VICTIM_REF_MAX = 32
#: How many victims one task, request or order may concern.
VICTIM_REFS_MAX = 50


def text(name: str, value: str, *, required: bool, maximum: int) -> list[FieldViolation]:
    """Free text: present when required, at most ``maximum`` characters, no control characters."""
    if required and not value.strip():
        return [FieldViolation(name, "is required")]
    if len(value) > maximum:
        return [FieldViolation(name, f"must be at most {maximum} characters")]
    if any(c in _CONTROL for c in value):
        return [FieldViolation(name, "must not contain control characters")]
    return []


#: Characters a line shown to a reader never holds: they reorder or hide what the reader sees
#: (bidirectional overrides, isolates and marks), besides the control characters (C0, DEL, C1, line and
#: paragraph separators) that ``one_line`` refuses by category.
BIDI = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"  # LRE, RLE, PDF, LRO, RLO
    "\u2066\u2067\u2068\u2069"  # LRI, RLI, FSI, PDI
    "\u200e\u200f\u061c"  # LRM, RLM, ALM
)
_LINE_BREAKS = frozenset("\u2028\u2029\x85")


def one_line(name: str, value: str, *, required: bool, maximum: int) -> list[FieldViolation]:
    """Free text that is shown as one line of a record (a custody entry's purpose and recipient, a file
    name, a URL): ``text``, and moreover no line break, tab or C1 control character and no bidirectional
    override, isolate or mark (finding #6 of the security review: a custody log that an auditor reads in a
    terminal must not carry escape sequences or reordered text; a file name must not show ``exe.pdf`` for
    ``fdp.exe``). Never quotes the value."""
    out = text(name, value, required=required, maximum=maximum)
    if out:
        return out
    if any(c in BIDI for c in value):
        return [FieldViolation(name, "must not contain bidirectional control characters")]
    if any(c in _LINE_BREAKS or unicodedata.category(c) == "Cc" for c in value):
        return [FieldViolation(name, "must be one line without control characters")]
    return []


#: The longest URL a record keeps (what browsers and most servers accept).
URL_MAX = 2_048


def http_url(name: str, value: str, *, maximum: int = URL_MAX) -> list[FieldViolation]:
    """An http(s) URL with a host, on one line (``one_line``) and without spaces: a target a provider or
    another country's authority is asked about, shown in the console, the CLI and events."""
    out = one_line(name, value, required=True, maximum=maximum)
    if out:
        return out
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # an unbalanced [ in the host, a port that is no number
        parts, host = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host or any(c.isspace() for c in value):
        return [FieldViolation(name, "must be an http(s) URL with a host")]
    return []


def uuid(name: str, value: str, *, required: bool = True) -> list[FieldViolation]:
    """A record id: a UUID in canonical lower-case form."""
    if not value and not required:
        return []
    if not value:
        return [FieldViolation(name, "is required")]
    return [] if is_uuid(value) else [FieldViolation(name, "must be a UUID")]


def request_id(value: str) -> list[FieldViolation]:
    """The client's idempotency key for a create: a UUID it generated."""
    return uuid("request_id", value)


def workspace_id(name: str, value: str, *, required: bool = True) -> list[FieldViolation]:
    if not value:
        return [FieldViolation(name, "is required")] if required else []
    return [] if WORKSPACE_ID.fullmatch(value) else [FieldViolation(name, "must be a workspace id")]


def jurisdiction(name: str, value: str, *, required: bool = True) -> list[FieldViolation]:
    if not value:
        return [FieldViolation(name, "is required")] if required else []
    return [] if is_jurisdiction(value) else [FieldViolation(name, "must be a jurisdiction code")]


#: One page policy for every list of records (tasks, evidence requests, orders, removals, victims): a
#: page of 50 unless asked otherwise, never more than 200 (a page is read, opened and audited whole).
DEFAULT_PAGE = 50
MAX_PAGE = 200


def page_size(value: int, *, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> tuple[int, list[FieldViolation]]:
    """The page size to use (``default`` for 0) and what is wrong with the one asked for."""
    size = value or default
    if not 1 <= size <= maximum:
        return size, [FieldViolation("page_size", f"must be between 1 and {maximum}")]
    return size, []


def expected_version(value: int) -> list[FieldViolation]:
    return [FieldViolation("expected_version", "must not be negative")] if value < 0 else []


def past_date(
    name: str, value: datetime | None, now: datetime, *, earliest: datetime | None = None
) -> list[FieldViolation]:
    """A date a user states for something that already happened: not in the future, not before
    ``earliest`` (the record's own start, say), and within ``MAX_PAST`` of now."""
    if value is None:
        return []
    if value > now:
        return [FieldViolation(name, "must not be in the future")]
    floor = max(EARLIEST_DATE, now - MAX_PAST)
    if value < floor:
        return [FieldViolation(name, f"must not be more than {MAX_PAST.days} days in the past")]
    if earliest is not None and value < earliest:
        return [FieldViolation(name, "must not be earlier than the record it belongs to")]
    return []


def future_date(
    name: str, value: datetime | None, now: datetime, *, maximum: timedelta = MAX_AHEAD
) -> list[FieldViolation]:
    """A date a user sets ahead (a due date, the end of a suspension): after now, within ``maximum``."""
    if value is None:
        return []
    if value <= now:
        return [FieldViolation(name, "must be in the future")]
    if value > now + maximum:
        return [FieldViolation(name, f"must be at most {maximum.days} days ahead")]
    return []


def shared_with(values: Sequence[str], *, restricted: bool, record: str) -> list[FieldViolation]:
    """A record's ``shared_with``: at most ``SHARED_MAX`` jurisdiction codes, and only on a restricted
    record (``record`` names the kind in the message: "task")."""
    out: list[FieldViolation] = []
    if len(values) > SHARED_MAX:
        out.append(FieldViolation("shared_with", f"at most {SHARED_MAX} jurisdictions"))
    for i, j in enumerate(values[:SHARED_MAX]):
        out += jurisdiction(f"shared_with[{i}]", j)
    if values and not restricted:
        out.append(FieldViolation("shared_with", f"only a restricted {record} is shared with named jurisdictions"))
    return out


def members(name: str, values: Sequence[str], workspace_members: Collection[str]) -> list[FieldViolation]:
    """Each of the jurisdictions ``values`` (the field ``name``, a list) that is not a member of the workspace."""
    return [
        FieldViolation(f"{name}[{i}]", f"{j} is not a member of the workspace")
        for i, j in enumerate(values)
        if j not in workspace_members
    ]


def victim_ref(name: str, value: str, *, required: bool = True) -> list[FieldViolation]:
    """A victim's pseudonym (``VICTIM_REF``, e.g. ``V-NL-0007``): what a record says instead of who the
    victim is."""
    if not value:
        return [FieldViolation(name, "is required")] if required else []
    if len(value) > VICTIM_REF_MAX or not VICTIM_REF.fullmatch(value):
        why = legal.cite("VICTIM_BY_PSEUDONYM")
        return [FieldViolation(name, f"must be a victim pseudonym such as V-NL-0007 {why}")]
    return []


def victim_refs(values: Sequence[str], *, name: str = "victim_refs") -> list[FieldViolation]:
    """The victims a record concerns (``name``, a list): at most ``VICTIM_REFS_MAX`` pseudonyms, each one
    well-formed (``victim_ref``, named by position) and named once."""
    out: list[FieldViolation] = []
    if len(values) > VICTIM_REFS_MAX:
        out.append(FieldViolation(name, f"at most {VICTIM_REFS_MAX} victims"))
    seen: set[str] = set()
    for i, ref in enumerate(values[:VICTIM_REFS_MAX]):
        problems = victim_ref(f"{name}[{i}]", ref)
        if not problems and ref in seen:
            problems = [FieldViolation(f"{name}[{i}]", "names a victim already named")]
        seen.add(ref)
        out += problems
    return out


def victim_refs_of_workspace(values: Sequence[str], lead: str, *, name: str = "victim_refs") -> list[FieldViolation]:
    """Each pseudonym of ``values`` that the workspace led by ``lead`` cannot have given: the victims
    service numbers a workspace's victims under its lead's code (``V-<lead>-...``)."""
    return [
        FieldViolation(f"{name}[{i}]", f"is not a victim of this workspace (its pseudonyms begin V-{lead}-)")
        for i, ref in enumerate(values[:VICTIM_REFS_MAX])
        if lead and VICTIM_REF.fullmatch(ref) and not ref.startswith(f"V-{lead}-")
    ]
