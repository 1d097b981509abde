"""Time source. Domain code takes ``now`` as an argument; services read it from a Clock so tests can
drive time without sleeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def as_utc(value: datetime) -> datetime:
    """Normalise a datetime read from a database (naive on SQLite) to an aware UTC datetime.

    Called for every timestamp of every row read, so it takes the cheapest ways CPython has: one already
    in UTC as it is, a naive one combined with UTC (about four times cheaper than ``replace(tzinfo=UTC)``,
    whose keyword parsing dominates; bench/README.md, "Preservation scan")."""
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None:
        return datetime.combine(value.date(), value.time(), UTC)
    return value.astimezone(UTC)


def stored_isoformat(text: str) -> str:
    """``as_utc(<the instant>).isoformat()`` of a timestamp as SQLite stores it (SQLAlchemy's text
    ``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC), cut from the text instead of parsed and formatted (about a
    third of the cost: the preservation warning scan makes one per due order). Other text is parsed."""
    if len(text) == 26 and text[10] == " " and text[19] == ".":
        if text.endswith(".000000"):
            return f"{text[:10]}T{text[11:19]}+00:00"
        return f"{text[:10]}T{text[11:]}+00:00"
    return as_utc(datetime.fromisoformat(text)).isoformat()


def as_utc_or_none(value: datetime | None) -> datetime | None:
    """``as_utc`` of a nullable column: None stays None."""
    return as_utc(value) if value is not None else None


@dataclass(frozen=True)
class Window:
    """A span of time [start, end): the start in it, the end not; either side open when None. A List
    filter's window on a date of its records (``jitlib.mapping.window_from_pb`` reads it from a request,
    ``jitlib.visibility.BoundFilter.add_window`` turns it into SQL) and a statistics period
    (``jitlib.stats.Period``)."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, at: datetime | None) -> bool:
        """Whether ``at`` falls in the window; an unknown instant (None) only in a window open both ways."""
        if self.start is None and self.end is None:
            return True
        if at is None:
            return False
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


class OffsetClock:
    """Wall-clock time shifted by an offset tests can move (time keeps flowing, unlike ManualClock)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta
