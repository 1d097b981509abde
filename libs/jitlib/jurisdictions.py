"""Jurisdiction codes: pure, importable by domain code."""

from __future__ import annotations

import re

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
