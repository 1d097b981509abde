"""Durations as people write and read them: one parser and one formatter for the whole platform
(settings such as warning offsets, the CLI's ``--within 7d``, notices saying how long is left)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
#: The longest duration ``parse`` reads: ten years is longer than any legal period, warning offset or CLI
#: window here, and keeps ``now + duration`` and ``date - duration`` far inside what datetime can hold.
MAXIMUM = timedelta(days=3650)


def parse(text: str) -> timedelta:
    """``"7d"``, ``"36h"``, ``"1d12h"``, ``"2w"``, ``"90m"``, ``"30s"`` -> a positive timedelta.

    Raises ValueError, with the form expected, for anything else, and for more than ``MAXIMUM``."""
    written = text.strip().lower().replace(" ", "")
    if not written or len(written) > 32 or _PART.sub("", written):
        raise ValueError("not a duration: use e.g. 7d, 36h, 1d12h, 2w, 90m")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(written))
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    if seconds > MAXIMUM.total_seconds():
        raise ValueError(f"a duration must be at most {compact(MAXIMUM)} (10 years)")
    return timedelta(seconds=seconds)


def parse_list(text: str) -> tuple[timedelta, ...]:
    """``"48h,8h"`` -> the durations, in the order given (empty items ignored)."""
    return tuple(parse(part) for part in text.split(",") if part.strip())


def compact(delta: timedelta) -> str:
    """The shortest exact form ``parse`` reads back: ``"2d"``, ``"36h"``, ``"90m"``, ``"1d12h"``."""
    seconds = int(abs(delta.total_seconds()))
    if seconds == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def words(delta: timedelta) -> str:
    """The two largest units of ``|delta|``, rounded to the minute: ``"2 days 4 hours"``, ``"1 day"``."""
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    parts = [(minutes // 1440, "day"), (minutes % 1440 // 60, "hour"), (minutes % 60, "minute")]
    first = next(i for i, (n, _) in enumerate(parts) if n)
    shown = [parts[first]] + ([parts[first + 1]] if first + 1 < len(parts) and parts[first + 1][0] else [])
    return " ".join(_plural(n, unit) for n, unit in shown)
