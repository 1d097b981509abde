"""The deadlines stored with the requests, brought to the way ``deadlines`` counts periods now, once per
count (``deadlines.COUNTING``), at start before the service serves (``jitlib.server``'s backfills).

A deadline is stored when its request changes (``store.DeadlineRow``, and the request's
``next_deadline_at``, which lists filter on); a change to the count reaches the windows at once (they are
computed at each call) but the stored deadlines only at their request's next change: their alerts came
early, the lists and the console's Due page showed the old dates. The recount reads the clocks of every
request with a deadline stored or a suppressed user notice (own and replicas; no sealed text opened),
counts its deadlines again and rewrites those that differ, in batches of ``BATCH`` requests, each its own
transaction holding their rows (a replica of the service serving meanwhile writes its change after, from
its own count); then it records the count (``store.mark_recounted``), so a later start does one
primary-key read. A stop midway
leaves the count unrecorded: the next start goes over them again, and rewrites nothing already recounted.
Replicas of the service starting together each recount; the first to lock a page moves it.

- **Alerts.** A deadline that did not move keeps its alert progress. A moved one is planned as a change
  plans it (``deadline_alerts.first_alert``: no warning whose moment has passed), except that a deadline
  passed under both counts whose passing was announced stays announced: no second "passed" for it.
  A replica's deadlines carry no alert (``store.write_replica``).
- **Events.** None: the request did not change, only how its dates are counted. A request's deadlines
  reach the peers inside its events (``store.write_replica`` keeps the owner's), and a peer recounts the
  replicas it holds at its own start, with the same code (the clocks are replicated too). Not covered:
  a change a node or a replica of the service still on the older count serves after this recount (a
  rolling upgrade, a peer upgraded later) stores that count until the request's next change; deleting
  the row of ``evidence_deadline_counts`` makes the next start recount again.
- **Answers.** Every request's stored answer (``store.ANSWERS``: its deadlines and the ends of its windows
  as a list shows them) is emptied, before the recount is recorded; the service's background job writes
  them again under the new count once it serves, and a list answers each from its row until then.
- **Audit.** One entry per request whose deadlines moved, by the system (``RECOUNTED``), recorded in its
  batch's transaction and linked into the chain by the chainer once it runs (``jitlib.audit.record``).
  The request's version, ``updated_at`` and ``updated_by`` are unchanged: it was not changed by anyone.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from jitlib import audit
from jitlib.db import Write
from services.evidence import deadlines, store
from services.evidence.deadline_alerts import RECORD, AlertOffsets, first_alert

log = logging.getLogger(__name__)

#: Requests read and rewritten per transaction.
BATCH = 500
#: The operation of the audit entry of a request whose deadlines the recount moved.
RECOUNTED = "jit.evidence/RecountDeadlines"


def _next_alert(
    d: deadlines.Deadline, held: store.StoredDeadline | None, offsets: AlertOffsets, now: datetime
) -> datetime | None:
    """When the next alert of ``d``, recounted at ``now``, falls due, ``held`` being its kind's stored one."""
    if held is not None and held.deadline.due_at == d.due_at:
        return held.next_alert_at
    if held is not None and held.next_alert_at is None and d.due_at <= now:
        return None  # passed under both counts, and its passing was announced
    return first_alert(d, offsets, now)


def _recount_page(session: Session, after: str, offsets: AlertOffsets, now: datetime, batch: int) -> tuple[str, int]:
    """Recount the next ``batch`` requests after ``after``: the last id read ("" when none was left) and how
    many requests' deadlines moved."""
    page = store.running_clocks(session, after, batch)
    recounted: list[tuple[str, tuple[deadlines.Deadline, ...], store.AlertPlan]] = []
    entries: list[audit.AuditEvent] = []
    for r in page:
        running = deadlines.compute(deadlines.Clocks.of(r))
        if running == tuple(s.deadline for s in r.stored):
            continue
        held = {s.deadline.kind: s for s in r.stored}
        plan: store.AlertPlan = (
            {} if r.replica else {d.kind: _next_alert(d, held.get(d.kind), offsets, now) for d in running}
        )
        recounted.append((r.id, running, plan))
        entries.append(audit.AuditEvent.by_system(RECOUNTED, RECORD, r.id, r.workspace_id))
    store.replace_deadlines(session, recounted)
    audit.record(session, store.RUNTIME, entries, now)
    return (page[-1].id if page else ""), len(recounted)


def recount(write: Write, offsets: AlertOffsets, now: datetime, *, batch: int = BATCH) -> int:
    """Bring every stored deadline to the count of ``deadlines.COUNTING``, once (see the module's text);
    ``write`` runs each batch in a transaction of its own (``Database.write_sync``). Returns how many
    requests' deadlines moved (0 at once when this count was recorded already)."""
    if write(lambda s: store.recounted(s, deadlines.COUNTING)):
        return 0
    after, total = "", 0
    while True:
        after, moved = write(functools.partial(_recount_page, after=after, offsets=offsets, now=now, batch=batch))
        total += moved
        if not after:
            break
    # Each request's stored answer holds its deadlines and its windows' ends as the former count had them
    # (its form names the count, so none of them opens any more): emptied, for the service's background
    # job to write again under this one once it serves (``jitlib.answers.AnswersFill``).
    write(store.forget_answers)
    write(lambda s: store.mark_recounted(s, deadlines.COUNTING, now, total))
    if total:
        log.info("evidence: the deadlines of %d requests recounted as periods are counted now", total)
    return total
