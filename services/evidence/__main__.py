"""python -m services.evidence: run the evidence service until SIGTERM."""

from __future__ import annotations

import asyncio

from jitlib.config import CommonSettings
from jitlib.server import ServiceApp
from jitlib.telemetry import setup_logging
from services.evidence.app import EvidenceSettings, spec


def main() -> None:
    common = CommonSettings()
    setup_logging(common.log_level, "evidence")
    settings = EvidenceSettings()
    app = ServiceApp(spec(settings), settings, common)
    asyncio.run(app.run_until_signalled())


if __name__ == "__main__":
    main()
