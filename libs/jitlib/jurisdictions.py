"""Jurisdiction codes: pure, importable by domain code."""

from __future__ import annotations

import re

_JURISDICTION = re.compile(r"^([A-Z]{2}|EUROJUST|EUROPOL|EPPO)$")


def is_jurisdiction(code: str) -> bool:
    """ISO 3166-1 alpha-2 code or a recognised EU body code (EUROJUST, EUROPOL, EPPO)."""
    return bool(_JURISDICTION.match(code))
