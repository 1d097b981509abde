"""Legal periods counted as EU law counts them (Reg. (EEC, Euratom) No 1182/71 Art. 3), in the local days and
public holidays of the jurisdiction that must act (``jitlib.jurisdictions``): pure, importable by domain code.

One function, ``period_end``, for every service that counts a period of an EU instrument: the evidence
service's deadlines of a request (rule ``REQUEST_PERIODS_COUNTED_AS_EU_LAW_COUNTS``, its
``services.evidence.deadlines``) and the preservation service's EPOC-PR clock (rule
``EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS``, its ``domain.ClockRule``). Not to be confused with
``jitlib.period``, the JIT's agreed period.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from jitlib import jurisdictions

__all__ = ["ENFORCEMENT_DECISION", "enforcement_decision_due", "period_end"]


def period_end(
    event: datetime, length: timedelta, jurisdiction: str, *, in_hours: bool = False, working_days: bool = False
) -> datetime:
    """The instant a period of ``length`` counted from the event at ``event`` has passed (exclusive: the
    period runs while ``now < period_end``), as Reg. (EEC, Euratom) No 1182/71 Art. 3 counts periods, in
    the local time of ``jurisdiction`` (UTC when ``jurisdictions.zone`` has none). In UTC.

    - In hours (``in_hours``, as the law states the 8 h or the 96 h): the hour in which the event happened
      is not counted (Art. 3(1)); the period starts at the next full hour and ends when its last hour does
      (Art. 3(2)(a)). Not moved for a weekend (Art. 3(4) concerns other periods). Full hours are the same
      in UTC as in every zone of the table (whole-hour offsets).
    - In days (a week is 7; ``length`` in whole days): the day of the event is not counted (Art. 3(1));
      the period ends at the end of its last day (Art. 3(2)(b), (c)); a last day that is a Saturday, Sunday
      or public holiday of ``jurisdiction`` moves to the end of the next working day (Art. 3(4), 2(2)).
    - In working days (``working_days``): as in days, counting only the days that are neither a Saturday,
      a Sunday nor a public holiday of ``jurisdiction`` (Art. 3(3), 2(2)); so the last one is a working day.
    """
    if in_hours:
        hour = event.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return hour + timedelta(hours=1) + length
    if length % timedelta(days=1):
        raise ValueError("a period not stated in hours is a whole number of days")
    zone = jurisdictions.zone(jurisdiction) or ZoneInfo("UTC")
    last = event.astimezone(zone).date()
    if working_days:
        left = length.days
        while left > 0:
            last += timedelta(days=1)
            if jurisdictions.is_working_day(jurisdiction, last):
                left -= 1
    else:
        last += length
        while not jurisdictions.is_working_day(jurisdiction, last):
            last += timedelta(days=1)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


#: The enforcing state's recognition decision on an order transferred to it for enforcement (an EPOC or an
#: EPOC-PR, Reg. (EU) 2023/1543 Art. 16(2)): 5 working days of that state from its receipt of the order.
ENFORCEMENT_DECISION = timedelta(days=5)


def enforcement_decision_due(received: datetime, enforcing: str) -> datetime:
    """When the enforcing state ``enforcing``'s 5 working days to decide on recognising an order it received
    at ``received`` end (``period_end`` in working days of its calendar): one count for the evidence service's
    ENFORCEMENT deadline and the preservation service's, so that both say the same of the same order."""
    return period_end(received, ENFORCEMENT_DECISION, enforcing, working_days=True)
