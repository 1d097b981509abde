"""python -m services.preservation: run the preservation service until SIGTERM."""

from __future__ import annotations

import asyncio

from jitlib.config import CommonSettings
from jitlib.server import ServiceApp
from jitlib.telemetry import setup_logging
from services.preservation.app import PreservationSettings, spec


def main() -> None:
    common = CommonSettings()
    setup_logging(common.log_level, "preservation")
    settings = PreservationSettings()
    app = ServiceApp(spec(settings), settings, common)
    asyncio.run(app.run_until_signalled())


if __name__ == "__main__":
    main()
