"""python -m services.messaging: run the messaging service until SIGTERM."""

from __future__ import annotations

import asyncio

from jitlib.config import CommonSettings
from jitlib.server import ServiceApp
from jitlib.telemetry import setup_logging
from services.messaging.app import MessagingSettings, spec


def main() -> None:
    common = CommonSettings()
    setup_logging(common.log_level, "messaging")
    settings = MessagingSettings()
    app = ServiceApp(spec(settings), settings, common)
    asyncio.run(app.run_until_signalled())


if __name__ == "__main__":
    main()
