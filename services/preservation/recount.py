"""The expiries stored with the orders, brought to the way ``domain`` counts the clocks' periods now, once per
count (``domain.COUNTING``), at start before the service serves (``jitlib.server``'s backfills).

An expiry is stored when its order changes (``expires_at``, with its ``extension_deadline`` and the next
warning's ``next_alert_at``, which the warning scan reads); a change to the count reaches the clocks
started or extended after it, but a clock that ran already keeps the expiry of the former count until its
order's next change: it expired, warned, refused an extension or a production request at the old time.
Count 2 counts an EPOC-PR's 60 days (90 once extended) as EU law counts periods, in the local days of the
provider's establishment (EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS), where count 1 added 60 x 24 h to the
receipt: an order received on a Tuesday at 09:00 UTC by a provider in Ireland expired on the Saturday 60
days later at 09:00 UTC, where the law has it end with the Monday in Dublin.

The recount reads the clock columns of every running EPOC-PR order (own and replicas: a clock state and an
expiry; no sealed text opened), counts its expiry again with the node's clock rule (``Rules.clock_for``: the
provider's establishment from the register) when the stored one is a count of the period from its receipt
(or, stored before receipt clocks, its confirmation: ``domain.counted_from``), and rewrites those that
moved, in batches of ``BATCH`` orders, each its own transaction holding their rows (a replica of the service
serving meanwhile writes its change after, from its own count); then it records the count
(``store.mark_recounted``), so a later start does one primary-key read. A stop midway leaves the count
unrecorded: the next start goes over them again, and moves nothing already recounted.

- **Not moved.** A clock resumed after a failed production request runs on the time that was left when it
  stopped (PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION): its expiry is no count of the period and
  stays. An order whose clock stopped (production requested), or that ended (expired, lifted, produced, not
  executed), has no running clock and is not read. The other bases count as before (N x 24 h).
- **Alerts.** A moved expiry gets its warnings planned as an extension plans them
  (``domain.recounted_clock``): a new series set now (``clock_started_at``), its first warning whose moment
  has not passed as the order's ``next_alert_at``. The warnings' keys name the expiry, so none of the new
  series was sent, and none of the former is sent again. A replica's ``next_alert_at`` stays NULL.
- **Events.** None: the order did not change, only how its period is counted. A peer recounts the replicas
  it holds at its own start, with the same code and its own register; the owner's next event brings its
  count. Not covered: a change a node or a replica of the service still on the older count serves after
  this recount (a rolling upgrade, a peer upgraded later) stores that count until the order's next change;
  deleting the row of ``preservation_clock_counts`` makes the next start recount again.
- **Answers.** A moved order's stored answer (``store.ANSWERS``, which holds its expiry under the same
  version) is emptied in the same statement; the service's background job writes it again once it serves,
  and a list answers the order from its row until then.
- **Audit.** One entry per moved order, by the system (``RECOUNTED``), recorded in its batch's transaction
  and linked into the chain by the chainer once it runs (``jitlib.audit.record``). The order's version,
  ``updated_at`` and ``updated_by`` are unchanged: it was not changed by anyone.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from jitlib import audit
from jitlib.db import Write
from services.preservation import domain, store
from services.preservation.events import RECORD

log = logging.getLogger(__name__)

#: Orders read and rewritten per transaction.
BATCH = 500
#: The operation of the audit entry of an order whose expiry the recount moved.
RECOUNTED = "jit.preservation/RecountClock"
#: The bases whose count changed since count 1 (the others' stored expiries are their count already).
RECOUNTED_BASES = (domain.LegalBasis.EPOC_PR,)


def _recount_page(session: Session, after: str, rules: domain.Rules, now: datetime, batch: int) -> tuple[str, int]:
    """Recount the next ``batch`` running clocks after ``after``: the last id read ("" when none was left) and
    how many orders' expiries moved."""
    page = store.running_clocks(session, RECOUNTED_BASES, after, batch)
    moved: list[tuple[str, domain.Recount]] = []
    entries: list[audit.AuditEvent] = []
    for r in page:
        clock = domain.recounted_clock(r, rules.clock_for(r), rules.offsets, now)
        if clock is None:
            continue
        moved.append((r.id, clock._replace(next_alert_at=None) if r.replica else clock))
        entries.append(audit.AuditEvent.by_system(RECOUNTED, RECORD, r.id, r.workspace_id))
    store.move_clocks(session, moved)
    audit.record(session, store.RUNTIME, entries, now)
    return (page[-1].id if page else ""), len(moved)


def recount(write: Write, rules: domain.Rules, now: datetime, *, batch: int = BATCH) -> int:
    """Bring every running clock stored to the count of ``domain.COUNTING``, once (see the module's text);
    ``write`` runs each batch in a transaction of its own (``Database.write_sync``). Returns how many orders'
    expiries moved (0 at once when this count was recorded already)."""
    if write(lambda s: store.recounted(s, domain.COUNTING)):
        return 0
    after, total = "", 0
    while True:
        after, moved = write(functools.partial(_recount_page, after=after, rules=rules, now=now, batch=batch))
        total += moved
        if not after:
            break
    write(lambda s: store.mark_recounted(s, domain.COUNTING, now, total))
    if total:
        log.info("preservation: the expiries of %d orders recounted as their periods are counted now", total)
    return total
