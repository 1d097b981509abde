"""The provider register: who is asked to preserve, where it is established, how orders reach it, and its
own preservation period and extension rule (for PROVIDER_VOLUNTARY orders).

A small built-in register of demo providers (fictitious names; periods and rules after the published
law-enforcement guidelines of large platforms: 90 days, extension asked at least 7 days before expiry).
A node replaces it with its own JSON file (setting ``JIT_PRESERVATION_PROVIDERS_FILE``: a list of objects
with the fields of :class:`services.preservation.domain.Provider`).
"""

from __future__ import annotations

import json
from pathlib import Path

from services.preservation.domain import PROVIDER_ID, Provider

DEMO_PROVIDERS: tuple[Provider, ...] = (
    Provider(
        id="socialnet-ie",
        name="Socialnet (demo large social network)",
        establishment_jurisdiction="IE",
        legal_representative="Socialnet Ireland Ltd., Dublin",
        preferred_channel="law-enforcement online request portal",
        preservation_period_days=90,
        extension_days=90,
        extension_min_notice_days=7,
        max_extensions=0,
        source="provider guideline: preserved 90 days; an extension request must arrive >= 7 days before expiry",
    ),
    Provider(
        id="microblog-ie",
        name="Microblog (demo short-message platform)",
        establishment_jurisdiction="IE",
        legal_representative="Microblog International Unlimited Co., Dublin",
        preferred_channel="legal request portal",
        preservation_period_days=90,
        extension_days=90,
        extension_min_notice_days=7,
        max_extensions=1,
        source="provider guideline: 90 days, one extension asked >= 7 days before expiry",
    ),
    Provider(
        id="chatapp-nl",
        name="Chatapp (demo messaging service)",
        establishment_jurisdiction="NL",
        legal_representative="Chatapp B.V., Amsterdam",
        preferred_channel="e-mail to the law-enforcement desk",
        preservation_period_days=60,
        extension_days=0,
        extension_min_notice_days=0,
        max_extensions=0,
        source="provider guideline: 60 days, no extension (ask for production)",
    ),
    Provider(
        id="videohost-de",
        name="Videohost (demo video-sharing platform)",
        establishment_jurisdiction="DE",
        legal_representative="Videohost GmbH, Berlin",
        preferred_channel="law-enforcement online request portal",
        preservation_period_days=90,
        extension_days=30,
        extension_min_notice_days=3,
        max_extensions=2,
        source="provider guideline: 90 days; up to two extensions of 30 days, asked >= 3 days before expiry",
    ),
)


def load(path: str = "") -> dict[str, Provider]:
    """The register by id: the built-in demo register, or the node's JSON file when ``path`` is set."""
    if not path:
        return {p.id: p for p in DEMO_PROVIDERS}
    items = json.loads(Path(path).read_text(encoding="utf-8"))
    register = {p.id: p for p in (Provider(**item) for item in items)}
    bad = sorted(i for i in register if not PROVIDER_ID.fullmatch(i))
    if bad:
        # Requests naming a provider are checked against this form before the register is looked up.
        raise ValueError(f"{path}: provider ids must be letters, digits, . _ - (at most 64): {bad[:5]}")
    return register
