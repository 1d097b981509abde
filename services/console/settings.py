"""The console's settings, from the environment (pydantic-settings).

============================== ================================= ==============================================
variable                       default                           meaning
============================== ================================= ==============================================
``JIT_CONSOLE_LISTEN``         ``127.0.0.1:8088``                host:port the console serves HTTP on
``JIT_CONSOLE_PUBLIC_URL``     ``http://127.0.0.1:8088``         the URL users open (redirect URIs derive from it)
``JIT_CONSOLE_CLIENT_ID``      ``jit-console``                   the realm's confidential OIDC client
``JIT_CONSOLE_CLIENT_SECRET``  (none: required)                  its secret (``make run`` passes the DEMO realm's)
``JIT_CONSOLE_COOKIE_SECURE``  ``auto``                          ``auto``: Secure cookies unless the public URL
                                                                 is plain HTTP on loopback; ``true``/``false``
``JIT_CONSOLE_IDLE_MINUTES``   ``30``                            a session unused this long ends
``JIT_CONSOLE_UPLOAD_MAX_MB``  ``1024``                          the largest evidence file uploaded from a browser
``JIT_CONSOLE_TLS_CERT_FILE``  (empty: plain HTTP)               certificate (PEM) the console serves HTTPS with
``JIT_CONSOLE_TLS_KEY_FILE``   (empty)                           its key (PEM); set both, or neither
``JIT_TLS_CA_FILE``            (empty: plaintext gRPC)           CA of the services' certificates: set, the
                                                                 console calls them over TLS and checks them
``JIT_TLS_CLIENT_CERT_FILE``   (empty)                           client certificate and key for services that
``JIT_TLS_CLIENT_KEY_FILE``    (empty)                           require one (mutual TLS)
``JIT_OIDC_CA_FILE``           (empty: system roots)             CA of Keycloak's HTTPS certificate
``JIT_KEYCLOAK_URL``           ``http://127.0.0.1:8080``         Keycloak base URL, as the ``jit`` command's
``JIT_REALM``                  ``jit``                           the realm users log in to
``JIT_<SERVICE>_ADDR``         ``127.0.0.1:5005x``               each gRPC service (tasks, evidence, ...)
============================== ================================= ==============================================

The session cookie is signed with a key made at start (sessions live in the process's memory), so no
secret of the console is ever in a file.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from jitlib.config import ClientTlsSettings, OptionalFile

#: The services the console calls, each at ``JIT_<NAME>_ADDR``.
SERVICES: tuple[str, ...] = ("tasks", "evidence", "preservation", "messaging", "victims")


class ConsoleSettings(ClientTlsSettings):
    model_config = SettingsConfigDict(env_prefix="JIT_", extra="ignore")

    console_listen: str = "127.0.0.1:8088"
    console_public_url: str = "http://127.0.0.1:8088"
    console_client_id: str = "jit-console"
    console_client_secret: SecretStr = SecretStr("")
    console_cookie_secure: str = "auto"
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_upload_max_mb: int = Field(default=1024, ge=1)
    console_tls_cert_file: OptionalFile = None
    console_tls_key_file: OptionalFile = None
    keycloak_url: str = "http://127.0.0.1:8080"
    realm: str = "jit"
    tasks_addr: str = "127.0.0.1:50051"
    evidence_addr: str = "127.0.0.1:50052"
    preservation_addr: str = "127.0.0.1:50053"
    messaging_addr: str = "127.0.0.1:50054"
    victims_addr: str = "127.0.0.1:50055"

    @property
    def issuer(self) -> str:
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.realm}"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.console_listen.rpartition(":")
        return host or "127.0.0.1", int(port)

    @property
    def public_url(self) -> str:
        return self.console_public_url.rstrip("/")

    def service_addr(self, service: str) -> str:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        return str(getattr(self, f"{service}_addr"))

    def cookie_secure(self) -> bool:
        """Secure cookies everywhere but plain HTTP on a loopback address (the local ``make run``)."""
        choice = self.console_cookie_secure.strip().lower()
        if choice in ("true", "1", "yes"):
            return True
        if choice in ("false", "0", "no"):
            return False
        url = urlsplit(self.public_url)
        if url.scheme == "https":
            return True
        host = url.hostname or ""
        if host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True
