"""python -m services.tasks: run the tasks service until SIGTERM."""

from __future__ import annotations

import asyncio

from jitlib.config import CommonSettings
from jitlib.server import ServiceApp
from jitlib.telemetry import setup_logging
from services.tasks.app import TasksSettings, spec


def main() -> None:
    common = CommonSettings()
    setup_logging(common.log_level, "tasks")
    app = ServiceApp(spec(), TasksSettings(), common)
    asyncio.run(app.run_until_signalled())


if __name__ == "__main__":
    main()
