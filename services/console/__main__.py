"""python -m services.console: serve the web console until SIGTERM."""

import uvicorn

from jitlib.config import CommonSettings
from jitlib.telemetry import setup_tracing
from services.console.app import create_app
from services.console.settings import ConsoleSettings

if __name__ == "__main__":
    settings = ConsoleSettings()
    setup_tracing("jit-console", CommonSettings())
    host, port = settings.host_port
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=False, server_header=False)
