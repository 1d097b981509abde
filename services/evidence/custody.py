"""Chain of custody of evidence items: every receipt, access, download, export, transfer and seal is an
entry, chained by SHA-256 per item (each entry commits to the previous one, like jitlib.audit), and the
item row holds the chain's head (count and last hash), so an edited, deleted or appended-behind-our-back
entry is detected by ``verify_chain``. Pure: the store reads and writes the rows."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime

from jitlib.clock import as_utc

GENESIS = "0" * 64


class Action(enum.StrEnum):
    RECEIVED = "RECEIVED"
    ACCESSED = "ACCESSED"
    DOWNLOADED = "DOWNLOADED"
    EXPORTED = "EXPORTED"
    TRANSFERRED = "TRANSFERRED"
    SEALED = "SEALED"
    #: Recorded by the system, once per item, when the enforcing state's objection restricts it
    #: (EPOC_EMERGENCY_OBJECTION): from then on its content is not read.
    RESTRICTED = "RESTRICTED"
    #: A sensitive item (SENSITIVE_ITEM_MARKING): marked after its receipt, or that marking lifted; the
    #: purpose holds the reason.
    MARKED_SENSITIVE = "MARKED_SENSITIVE"
    UNMARKED = "UNMARKED"
    #: Four eyes before a sensitive item leaves (SENSITIVE_ITEM_EXPORT_FOUR_EYES): the request (purpose;
    #: recipient: the destination) and another user's approval of it.
    EXPORT_REQUESTED = "EXPORT_REQUESTED"
    EXPORT_APPROVED = "EXPORT_APPROVED"
    #: The originating state's consent to another use of the item (JIT_OTHER_USE_NEEDS_CONSENT), recorded
    #: after its receipt by that state's prosecutor; the purpose says the use and the state's reference.
    CONSENT_RECORDED = "CONSENT_RECORDED"


#: What a caller records through RecordCustodyEvent; the others are recorded by the service itself.
RECORDABLE = frozenset({Action.EXPORTED, Action.TRANSFERRED, Action.SEALED})
#: What hands an item over to someone outside the system.
HANDED_OVER = frozenset({Action.EXPORTED, Action.TRANSFERRED})
#: The entries the four eyes of a sensitive item's export are read from (``domain.pending_export``).
FOUR_EYES = frozenset({Action.EXPORT_REQUESTED, Action.EXPORT_APPROVED}) | HANDED_OVER


@dataclass(frozen=True)
class Entry:
    item_id: str
    seq: int
    action: Action
    user_id: str
    username: str
    jurisdiction: str
    at: datetime
    purpose: str
    recipient: str
    sha256: str
    prev_hash: str
    entry_hash: str = ""


def entry_hash(e: Entry) -> str:
    body = {
        "item": e.item_id,
        "seq": e.seq,
        "action": e.action.value,
        "user_id": e.user_id,
        "username": e.username,
        "jurisdiction": e.jurisdiction,
        "at": as_utc(e.at).isoformat(timespec="microseconds"),
        "purpose": e.purpose,
        "recipient": e.recipient,
        "sha256": e.sha256,
        "prev": e.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sealed(e: Entry) -> Entry:
    return replace(e, entry_hash=entry_hash(e))


@dataclass(frozen=True)
class ChainCheck:
    intact: bool
    checked: int
    problem: str = ""
    first_bad_seq: int = 0


def verify_chain(entries: list[Entry], head_seq: int, head_hash: str, *, erased: bool = False) -> ChainCheck:
    """Entries of one item, in seq order, against the head recorded on the item. ``erased``: the item's
    workspace was crypto-shredded and its entries' free text (purpose, recipient) erased with it (rule
    RETENTION_EVIDENCE): the links, sequence and head are still checked, the entries' own hashes no longer
    can be."""
    prev = GENESIS
    for n, e in enumerate(entries, start=1):
        if e.seq != n:
            return ChainCheck(False, n - 1, f"entry {n} is missing", n)
        if e.prev_hash != prev:
            return ChainCheck(False, n - 1, f"entry {n} does not link to entry {n - 1}", n)
        if not erased and entry_hash(e) != e.entry_hash:
            return ChainCheck(False, n - 1, f"entry {n} does not match its hash (changed)", n)
        prev = e.entry_hash
    if len(entries) != head_seq or prev != head_hash:
        return ChainCheck(False, len(entries), "entries after the last one were removed or added", len(entries) + 1)
    return ChainCheck(True, len(entries))
