"""How long each kind of record is kept, and why: one table, a row per record kind and legal basis.

Each row names its rule in ``jitlib.legal`` (where its source is, and the legal meta-test checks a test
names it). ``retention_end`` computes, for a record kind in a workspace, when its content may be
destroyed and the sentence saying why; ``service_end`` does it for everything one service keeps of a
workspace (one content key per workspace and service: the latest of its kinds' ends, see below).

What a workspace tells (``Facts``, from the workspace directory every service keeps): the JIT agreement's
last day (``ends_on``), whether it is closed, a legal hold (a reason, or ""), the day its proceedings were
recorded closed, and its own retention period in years (else the node's default, ``JIT_RETENTION_YEARS``).

Granularity: content is crypto-shredded per (service, workspace) key. A service whose kinds have different
rows (evidence: requests and items) keeps the whole workspace's content until the latest of them ends.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from jitlib import legal

#: Years an audit entry is kept (Reg. (EU) 2023/969 Art. 25, DOMAIN.md), then pruned.
AUDIT_YEARS = 3
#: The node's default years after the agreement's end (or the proceedings' close) when a workspace sets none.
DEFAULT_YEARS = 5
#: The most years a workspace may set (a typo of 500 must not keep data for ever).
MAX_YEARS = 100


class Kind(StrEnum):
    """A kind of record the node keeps."""

    AUDIT_ENTRY = "audit_entry"
    TASK = "task"
    EVIDENCE_REQUEST = "evidence_request"
    EVIDENCE_ITEM = "evidence_item"
    PRESERVATION_ORDER = "preservation_order"
    REMOVAL_REQUEST = "removal_request"
    MESSAGE = "message"
    VICTIM = "victim"


class Start(StrEnum):
    """From when a row's period runs."""

    WRITTEN = "written"  # the record's own time (an audit entry)
    AGREEMENT_END = "agreement_end"  # the JIT agreement's last day
    PROCEEDINGS_CLOSED = "proceedings_closed"  # the day the proceedings were recorded closed
    CLOSURE_SEEN = "closure_seen"  # the day this node saw the workspace closed (messaging's own clock)


@dataclass(frozen=True)
class Row:
    kind: Kind
    #: The rule in ``jitlib.legal`` (its source, and the test that names it).
    rule_id: str
    start: Start
    #: Fixed years, or None: the workspace's setting, else the node's default.
    years: int | None = None

    @property
    def source(self) -> str:
        return legal.source(self.rule_id)


#: The retention table: one row per record kind.
ROWS: dict[Kind, Row] = {
    r.kind: r
    for r in (
        Row(Kind.AUDIT_ENTRY, "RETENTION_AUDIT_LOG", Start.WRITTEN, AUDIT_YEARS),
        Row(Kind.TASK, "RETENTION_CASE_RECORDS", Start.AGREEMENT_END),
        Row(Kind.EVIDENCE_REQUEST, "RETENTION_EVIDENCE", Start.PROCEEDINGS_CLOSED),
        Row(Kind.EVIDENCE_ITEM, "RETENTION_EVIDENCE", Start.PROCEEDINGS_CLOSED),
        Row(Kind.PRESERVATION_ORDER, "RETENTION_PRESERVATION", Start.AGREEMENT_END),
        Row(Kind.REMOVAL_REQUEST, "RETENTION_REMOVAL", Start.AGREEMENT_END),
        Row(Kind.MESSAGE, "RETENTION_MESSAGES", Start.CLOSURE_SEEN),
        Row(Kind.VICTIM, "RETENTION_VICTIMS", Start.AGREEMENT_END),
    )
}

#: What each service keeps of a workspace under its one content key.
SERVICE_KINDS: dict[str, tuple[Kind, ...]] = {
    "tasks": (Kind.TASK,),
    "evidence": (Kind.EVIDENCE_REQUEST, Kind.EVIDENCE_ITEM),
    "preservation": (Kind.PRESERVATION_ORDER, Kind.REMOVAL_REQUEST),
    "messaging": (Kind.MESSAGE,),
    "victims": (Kind.VICTIM,),
}


@dataclass(frozen=True)
class Facts:
    """What the workspace directory says of a workspace, as retention needs it."""

    workspace_id: str
    closed: bool
    ends_on: date | None = None
    legal_hold: str = ""
    proceedings_closed_on: date | None = None
    #: The workspace's own period in years; None: the node's default.
    years: int | None = None


@dataclass(frozen=True)
class End:
    """When a kind's content in a workspace may be destroyed, and why."""

    kind: Kind
    rule_id: str
    #: The first instant it may be destroyed; None while nothing lets the clock run (held).
    at: datetime | None
    #: Why, in one sentence, with the source.
    why: str
    #: A legal hold applies: nothing is destroyed, whatever ``at`` says.
    held: bool = False

    def due(self, now: datetime) -> bool:
        """True when the content may be destroyed at ``now``."""
        return not self.held and self.at is not None and now >= self.at


def add_years(day: date, years: int) -> date:
    """``day`` plus whole calendar years (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _after(day: date) -> datetime:
    """The first instant after ``day`` (UTC): a period "until" a day includes that whole day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def years_of(facts: Facts, default_years: int) -> tuple[int, str]:
    """The workspace's retention years and where they come from."""
    if facts.years is not None:
        return facts.years, "the workspace's setting"
    return default_years, "the node's default"


def retention_end(kind: Kind, facts: Facts, default_years: int = DEFAULT_YEARS) -> End:
    """When the content of ``kind`` in a workspace may be destroyed, and why. Never for an open workspace,
    nor under a legal hold; evidence not before its proceedings are recorded closed."""
    row = ROWS[kind]
    if row.start in (Start.WRITTEN, Start.CLOSURE_SEEN):
        raise ValueError(f"{kind}: its clock is per entry or per closure seen, not the workspace's dates")
    cite = legal.cite(row.rule_id)
    years, whence = years_of(facts, default_years)
    if facts.legal_hold:
        return End(kind, row.rule_id, None, f"a legal hold is set ({facts.legal_hold}): nothing is deleted", True)
    if not facts.closed:
        return End(kind, row.rule_id, None, f"the workspace is open: kept while the JIT runs {cite}", True)
    if facts.ends_on is None:
        return End(kind, row.rule_id, None, f"the workspace has no agreed end date: kept {cite}", True)
    start = facts.ends_on
    what = f"the JIT agreement's end ({facts.ends_on.isoformat()})"
    if row.start is Start.PROCEEDINGS_CLOSED:
        if facts.proceedings_closed_on is None:
            return End(kind, row.rule_id, None, f"held while the proceedings run (not recorded closed) {cite}", True)
        if facts.proceedings_closed_on > start:
            start = facts.proceedings_closed_on
            what = f"the proceedings' close ({start.isoformat()})"
    until = add_years(start, years)
    why = f"kept {years} years ({whence}) after {what}, until {until.isoformat()} {cite}"
    return End(kind, row.rule_id, _after(until), why)


def service_end(service: str, facts: Facts, default_years: int = DEFAULT_YEARS) -> End:
    """When everything ``service`` keeps of a workspace (one content key) may be destroyed: the latest
    of its kinds' ends; held if any of them is held."""
    ends = [retention_end(k, facts, default_years) for k in SERVICE_KINDS[service]]
    held = [e for e in ends if e.at is None or e.held]
    if held:
        return held[0]
    return max(ends, key=lambda e: e.at or datetime.min.replace(tzinfo=UTC))


def audit_cutoff(now: datetime, years: int = AUDIT_YEARS) -> datetime:
    """Audit entries written before this instant are older than ``years`` and are pruned (rule
    RETENTION_AUDIT_LOG)."""
    cut = add_years(now.astimezone(UTC).date(), -years)
    return datetime.combine(cut, now.astimezone(UTC).timetz().replace(tzinfo=None), tzinfo=UTC)


@dataclass(frozen=True)
class Head:
    """An audit chain's head at a moment: its last entry's seq and hash."""

    service: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Certificate:
    """What a deletion destroyed (rule DELETION_CERTIFICATE): kept after the content, appended to the
    audit chain (its id in the entry's record id), printed and exported as JSON."""

    id: str
    service: str
    workspace_id: str
    #: Record kind -> how many records' content was destroyed.
    counts: dict[str, int]
    #: The ids of the destroyed keys (a fingerprint of each, never the key).
    key_ids: tuple[str, ...]
    destroyed_at: datetime
    #: "system" (the retention sweep) or the operator's name.
    by: str
    #: Why it was due (``End.why``).
    why: str
    #: The service's audit chain head just before the certificate's own entry.
    audit_head: Head
    #: Blob files deleted (evidence), JetStream messages erased.
    files_deleted: int = 0
    stream_messages_erased: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "service": self.service,
            "workspace_id": self.workspace_id,
            "counts": dict(sorted(self.counts.items())),
            "key_ids": list(self.key_ids),
            "destroyed_at": self.destroyed_at.astimezone(UTC).isoformat(timespec="seconds"),
            "by": self.by,
            "why": self.why,
            "audit_head": {
                "service": self.audit_head.service,
                "seq": self.audit_head.seq,
                "hash": self.audit_head.hash,
            },
            "files_deleted": self.files_deleted,
            "stream_messages_erased": self.stream_messages_erased,
        }

    def canonical(self) -> str:
        """The certificate as canonical JSON (sorted keys, no spaces): what its digest covers."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Certificate:
        head = data["audit_head"]
        return cls(
            id=str(data["id"]),
            service=str(data["service"]),
            workspace_id=str(data["workspace_id"]),
            counts={str(k): int(v) for k, v in data["counts"].items()},
            key_ids=tuple(str(k) for k in data["key_ids"]),
            destroyed_at=datetime.fromisoformat(str(data["destroyed_at"])),
            by=str(data["by"]),
            why=str(data["why"]),
            audit_head=Head(str(head["service"]), int(head["seq"]), str(head["hash"])),
            files_deleted=int(data.get("files_deleted", 0)),
            stream_messages_erased=int(data.get("stream_messages_erased", 0)),
        )


def valid_years(value: int) -> bool:
    """A workspace's retention years: 1 to ``MAX_YEARS``."""
    return 1 <= value <= MAX_YEARS


__all__ = [
    "AUDIT_YEARS",
    "DEFAULT_YEARS",
    "MAX_YEARS",
    "ROWS",
    "SERVICE_KINDS",
    "Certificate",
    "End",
    "Facts",
    "Head",
    "Kind",
    "Row",
    "Start",
    "add_years",
    "audit_cutoff",
    "retention_end",
    "service_end",
    "valid_years",
    "years_of",
]
