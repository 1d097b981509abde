"""Settings of the ``jit`` command, read from the environment (pydantic-settings).

=============================== ============================ ===============================================
variable                        default                      meaning
=============================== ============================ ===============================================
``JIT_KEYCLOAK_URL``            ``http://127.0.0.1:8080``    Keycloak base URL (without ``/realms/...``)
``JIT_REALM``                   ``jit``                      Keycloak realm users log in to
``JIT_CLIENT_ID``               ``jit-cli``                  public OAuth client of the command line
``JIT_TASKS_ADDR``              ``127.0.0.1:50051``          gRPC address (host:port) of the tasks service
``JIT_EVIDENCE_ADDR``           ``127.0.0.1:50052``          gRPC address of the evidence service
``JIT_PRESERVATION_ADDR``       ``127.0.0.1:50053``          gRPC address of the preservation service
``JIT_MESSAGING_ADDR``          ``127.0.0.1:50054``          gRPC address of the messaging service
``JIT_VICTIMS_ADDR``            ``127.0.0.1:50055``          gRPC address of the victims service
``JIT_NATS_URL``                ``nats://127.0.0.1:4222``    NATS server that workspaces are announced on
``JIT_NATS_USER``               ``admin``                    NATS user ``jit admin workspace`` connects as
``JIT_NATS_PASSWORD``           (empty)                      its password; empty: read from ``admin.json``
                                                             in ``JIT_NATS_CREDENTIALS_DIR``
``JIT_NATS_CREDENTIALS_DIR``    ``var/nats-users``           a node's NATS credentials folder (as ``make
                                                             run`` writes it); DEMO-ONLY local default
``JIT_NODE_JURISDICTION``       (empty)                      on a federation: the node's country; ``jit admin``
                                                             then announces only the workspaces it leads
``JIT_FEDERATION_PEERS``        (empty)                      on a federation: the linked nodes' countries
``JIT_TLS_CA_FILE``             (empty: plaintext gRPC)      CA (PEM) that issued the services' certificates:
                                                             set, every gRPC call uses TLS and checks them
``JIT_TLS_CLIENT_CERT_FILE``    (empty)                      client certificate (PEM) for services that
``JIT_TLS_CLIENT_KEY_FILE``     (empty)                      require one (mutual TLS), and its key
``JIT_OIDC_CA_FILE``            (empty: system roots)        CA that issued Keycloak's HTTPS certificate
``JIT_NATS_TLS_CA_FILE``        (empty)                      CA of the NATS server's certificate (TLS to NATS;
                                                             a ``tls://`` URL alone uses the system roots)
``JIT_NATS_TLS_CERT_FILE``      (empty)                      client certificate and key for a NATS server
``JIT_NATS_TLS_KEY_FILE``       (empty)                      that verifies clients
``JIT_CONFIG_DIR``              ``~/.config/jit``            token cache (``tokens/<user>.json``, mode 0600)
                                                             and the active user (``current``)
``JIT_KEYCLOAK_ADMIN_USER``     ``admin``                    Keycloak admin (master realm) used by
                                                             ``jit admin ...``; DEMO-ONLY local default
``JIT_KEYCLOAK_ADMIN_PASSWORD`` ``admin``                    its password; DEMO-ONLY local default, set a
                                                             real secret anywhere else
=============================== ============================ ===============================================

A new service slots in by adding a ``<name>_addr`` field here and its name to :data:`SERVICES`;
``jit audit --service <name>`` then finds it.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from jitlib.config import ClientTlsSettings, NatsTlsSettings
from jitlib.federation import Federation
from jitlib.natsauth import Credentials, resolve

#: Services the command knows by name, each with a ``<name>_addr`` setting (``JIT_<NAME>_ADDR``).
SERVICES: tuple[str, ...] = ("tasks", "evidence", "preservation", "messaging", "victims")


def _default_config_dir() -> Path:
    return Path.home() / ".config" / "jit"


class CliSettings(ClientTlsSettings, NatsTlsSettings):
    """Everything the ``jit`` command needs to find Keycloak, NATS and the services."""

    model_config = SettingsConfigDict(env_prefix="JIT_", extra="ignore")

    keycloak_url: str = "http://127.0.0.1:8080"
    realm: str = "jit"
    client_id: str = "jit-cli"
    tasks_addr: str = "127.0.0.1:50051"
    evidence_addr: str = "127.0.0.1:50052"
    preservation_addr: str = "127.0.0.1:50053"
    messaging_addr: str = "127.0.0.1:50054"
    victims_addr: str = "127.0.0.1:50055"
    nats_url: str = "nats://127.0.0.1:4222"
    #: The NATS user of ``jit admin`` (jitlib.natsauth: it may announce workspaces, nothing else).
    nats_user: str = "admin"
    nats_password: SecretStr = SecretStr("")
    #: DEMO-ONLY default: the folder ``make run`` writes the node's NATS credentials to (relative to the
    #: checkout); only ``admin.json`` is read.
    nats_credentials_dir: Path | None = Path("var/nats-users")
    node_jurisdiction: str = ""
    federation_peers: str = ""
    config_dir: Path = Field(default_factory=_default_config_dir)
    #: DEMO-ONLY defaults, matching the bootstrap admin of the local Keycloak (jitdev.keycloak).
    keycloak_admin_user: str = "admin"
    keycloak_admin_password: SecretStr = SecretStr("admin")

    def federation(self) -> Federation | None:
        return Federation.parse(self.node_jurisdiction, self.federation_peers)

    def channel(self, addr: str) -> grpc.Channel:
        """A channel to a service: TLS when a CA file is set."""
        creds = self.grpc_credentials()
        return grpc.insecure_channel(addr) if creds is None else grpc.secure_channel(addr, creds)

    def nats_tls(self) -> ssl.SSLContext | None:
        """TLS to NATS, when its URL is ``tls://`` or a NATS CA file is set."""
        return self.nats_tls_context([self.nats_url])

    def nats_credentials(self) -> Credentials | None:
        """What ``jit admin`` connects to NATS with."""
        return resolve(self.nats_user, self.nats_password, self.nats_credentials_dir, "admin")

    @property
    def issuer(self) -> str:
        """The realm's issuer URL, e.g. ``http://127.0.0.1:8080/realms/jit``."""
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.realm}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def device_auth_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth/device"

    @property
    def logout_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/logout"

    def service_addr(self, service: str) -> str:
        """The gRPC address of a service named in :data:`SERVICES`."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r} (known: {', '.join(SERVICES)})")
        return str(getattr(self, f"{service}_addr"))
