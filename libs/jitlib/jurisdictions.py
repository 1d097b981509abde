"""Jurisdiction codes, and the time zone and public holidays a legal period runs in there: pure (no I/O),
importable by domain code."""

from __future__ import annotations

import datetime as dt
import functools
import re
from zoneinfo import ZoneInfo

_JURISDICTION = re.compile(r"^([A-Z]{2}|EUROJUST|EUROPOL|EPPO)$")


def is_jurisdiction(code: str) -> bool:
    """ISO 3166-1 alpha-2 code or a recognised EU body code (EUROJUST, EUROPOL, EPPO)."""
    return bool(_JURISDICTION.fullmatch(code))


#: The member states of the European Union (ISO 3166-1 alpha-2; Greece is GR).
EU_MEMBER_STATES = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip


#: The time zone a legal deadline runs in: the one of the jurisdiction whose authority (or, for a provider,
#: whose establishment) must act. One zone per state; a state spanning several uses its capital's.
ZONES: dict[str, str] = {
    "AT": "Europe/Vienna", "BE": "Europe/Brussels", "BG": "Europe/Sofia", "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague", "DE": "Europe/Berlin", "DK": "Europe/Copenhagen", "EE": "Europe/Tallinn",
    "ES": "Europe/Madrid", "FI": "Europe/Helsinki", "FR": "Europe/Paris", "GR": "Europe/Athens",
    "HR": "Europe/Zagreb", "HU": "Europe/Budapest", "IE": "Europe/Dublin", "IT": "Europe/Rome",
    "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg", "LV": "Europe/Riga", "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam", "PL": "Europe/Warsaw", "PT": "Europe/Lisbon", "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm", "SI": "Europe/Ljubljana", "SK": "Europe/Bratislava", "NO": "Europe/Oslo",
    "IS": "Atlantic/Reykjavik", "CH": "Europe/Zurich", "GB": "Europe/London", "UA": "Europe/Kyiv",
    "US": "America/New_York", "EUROJUST": "Europe/Amsterdam", "EUROPOL": "Europe/Amsterdam",
    "EPPO": "Europe/Luxembourg",
}  # fmt: skip


def zone(jurisdiction: str) -> ZoneInfo | None:
    """The IANA time zone of ``jurisdiction`` (``ZONES``), None when the table has none."""
    name = ZONES.get(jurisdiction)
    return ZoneInfo(name) if name else None


@functools.lru_cache(maxsize=256)
def public_holidays(jurisdiction: str, year: int) -> frozenset[dt.date]:
    """The national public holidays of ``jurisdiction`` in ``year``, from the ``holidays`` package (regional
    ones left out: a state-wide deadline does not move for one region's holiday); empty for a jurisdiction
    the package does not know (an EU body), whose periods then move past weekends only."""
    # Imported here: every process imports this module (settings, validation, the CLI), few count periods,
    # and the package takes a noticeable time to load.
    import holidays

    try:
        return frozenset(holidays.country_holidays(jurisdiction, years=year))
    except NotImplementedError:
        return frozenset()


def is_working_day(jurisdiction: str, day: dt.date) -> bool:
    """Neither a Saturday, a Sunday nor a public holiday of ``jurisdiction`` (Reg. 1182/71 Art. 2(2))."""
    return day.weekday() < 5 and day not in public_holidays(jurisdiction, day.year)


def preload(year: int) -> None:
    """Load the holiday calendars of the EU member states for ``year`` (and the package itself, about 0.1 s
    on first use): a service that counts periods calls it at start, so that no call pays it."""
    for code in EU_MEMBER_STATES:
        public_holidays(code, year)
