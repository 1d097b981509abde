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
    # HTTPS when the console has a certificate (the TLS profile); plain HTTP on loopback otherwise.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        server_header=False,
        ssl_certfile=str(settings.console_tls_cert_file) if settings.console_tls_cert_file else None,
        ssl_keyfile=str(settings.console_tls_key_file) if settings.console_tls_key_file else None,
    )
