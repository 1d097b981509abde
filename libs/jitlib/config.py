"""Settings, read from the environment (pydantic-settings). Every variable and its default is listed in
README.md; keep the two in step."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import grpc
from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from jitlib import crypto, tls
from jitlib.federation import Federation
from jitlib.jurisdictions import is_jurisdiction
from jitlib.natsauth import Credentials, resolve


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


#: A file setting that may be unset: an empty variable (``JIT_TLS_CA_FILE=``) counts as unset, not as ".".
OptionalFile = Annotated[Path | None, BeforeValidator(_empty_is_none)]


class ClientTlsSettings(BaseSettings):
    """How a client checks the node's services and its Keycloak (``JIT_TLS_CA_FILE``, ``JIT_OIDC_CA_FILE``,
    a client certificate): the same settings for a service, the ``jit`` command and the console."""

    model_config = SettingsConfigDict(env_prefix="JIT_", extra="ignore")

    #: The CA (PEM bundle) this node trusts on gRPC links: it issues the services' server certificates
    #: and the client certificates a port requires (``tls_client_auth``). Empty: plaintext gRPC.
    tls_ca_file: OptionalFile = None
    #: The certificate and key a client presents on the gRPC channels it opens (needed when the ports
    #: require client certificates).
    tls_client_cert_file: OptionalFile = None
    tls_client_key_file: OptionalFile = None
    #: The CA trusted for Keycloak's HTTPS (the JWKS fetch, the login); empty: the system's roots.
    oidc_ca_file: OptionalFile = None

    def grpc_credentials(self) -> grpc.ChannelCredentials | None:
        """TLS to the services when a CA file is set (with the client certificate, if any); None:
        plaintext (the local ``make run``)."""
        if self.tls_ca_file is None:
            return None
        return tls.channel_credentials(self.tls_ca_file, self.tls_client_cert_file, self.tls_client_key_file)

    def http_verify(self) -> ssl.SSLContext | bool:
        """How Keycloak's HTTPS certificate is checked (httpx ``verify``)."""
        return tls.client_context(self.oidc_ca_file) if self.oidc_ca_file is not None else True


class NatsTlsSettings(BaseSettings):
    """TLS to NATS (``JIT_NATS_TLS_*``), for a service and the ``jit`` command alike."""

    model_config = SettingsConfigDict(env_prefix="JIT_", extra="ignore")

    #: TLS to NATS: the CA that issued the server's certificate (a ``tls://`` URL, or any URL when set),
    #: and a client certificate and key for a server that verifies clients.
    nats_tls_ca_file: OptionalFile = None
    nats_tls_cert_file: OptionalFile = None
    nats_tls_key_file: OptionalFile = None

    def nats_tls_context(self, urls: Iterable[str]) -> ssl.SSLContext | None:
        """TLS to NATS when a NATS CA file is set or one of the server ``urls`` is ``tls://``; else None."""
        if self.nats_tls_ca_file is None and not any(u.strip().startswith("tls://") for u in urls):
            return None
        return tls.client_context(self.nats_tls_ca_file, self.nats_tls_cert_file, self.nats_tls_key_file)


class CommonSettings(ClientTlsSettings, NatsTlsSettings):
    """Settings shared by every service of a node (prefix ``JIT_``)."""

    model_config = SettingsConfigDict(env_prefix="JIT_", extra="ignore")

    #: Where embedded state (SQLite files, blobs) lives when no database URL is given.
    state_dir: Path = Path("var")
    #: The node's NATS: one URL, or every server of its cluster, comma-separated
    #: (``nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222``); a client whose server goes
    #: away reconnects to another one of the list.
    nats_url: str = "nats://127.0.0.1:4222"
    #: Copies of each JetStream stream the services create or update (``num_replicas``): 1 on a single
    #: server, 3 on a three-server cluster (R3: a stream survives the loss of any one server). Every
    #: service of a node gives the same number; an existing stream is brought to it.
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    #: This process's NATS user (``jitlib.natsauth``); empty: the service's own name.
    nats_user: str = ""
    #: Its password. Empty: read ``<service>.json`` from ``nats_credentials_dir``; with neither, the
    #: service connects without credentials, which an authenticated server refuses.
    nats_password: SecretStr = SecretStr("")
    #: A folder of per-client credential files (``<client>.json``, as ``jitlib.natsauth.node_users``
    #: writes them); each service reads its own file only.
    nats_credentials_dir: OptionalFile = None
    #: The Keycloak realm's issuer; tokens whose ``iss`` differs are refused.
    oidc_issuer: str = "http://127.0.0.1:8080/realms/jit"
    #: JWKS endpoint; derived from the issuer when empty.
    oidc_jwks_url: str = ""
    #: Per-country identity: ``NL=<issuer>,DE=<issuer>``, each realm trusted for its one jurisdiction only
    #: (a token from DE's realm that claims NL is refused). Empty: the one ``oidc_issuer`` speaks for every
    #: jurisdiction (one node, one realm with every country's users).
    oidc_issuers: str = ""
    #: This node's country, on a federation of per-country nodes (``NL``). Empty: one node for every
    #: country. A node owns and is the only writer of the records whose origin is its country.
    node_jurisdiction: str = ""
    #: The countries whose nodes this one is linked to (``DE,IE``): events go to a peer only when its
    #: country is in their audience; what peers send is taken in from the ``JIT_IN`` stream.
    federation_peers: str = ""
    #: Years a closed workspace's case records are kept after its agreement's last day (evidence: after the
    #: proceedings are recorded closed) when the workspace sets none (``jitlib.retention``), then destroyed.
    retention_years: int = Field(default=5, ge=1, le=100)
    #: Seconds between two retention sweeps of a service (audit pruning, crypto-shredding what is due).
    retention_scan_seconds: float = Field(default=3600, gt=0)
    #: Days the node keeps what it sent, for a peer whose link is down.
    federation_retention_days: int = Field(default=90, ge=1)
    #: Seconds a command on another node's record waits for that node's answer before UNAVAILABLE.
    federation_forward_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    #: Audience every access token must carry.
    oidc_audience: str = "jit-services"
    #: The OIDC clients (``azp``) whose access tokens the services accept, comma-separated. A client
    #: added to the realm later gets no access until it is listed here.
    oidc_clients: str = "jit-cli,jit-console"
    #: Signature algorithms accepted (never "none", never HMAC: the services hold no shared secret).
    oidc_algorithms: str = "RS256,PS256,ES256"
    #: Seconds of clock skew tolerated on exp/nbf/iat.
    oidc_leeway_seconds: int = 30
    #: TLS on the services' gRPC ports: their certificate and key (PEM). Both set: every port serves TLS
    #: only; neither: plaintext (the local ``make run``).
    tls_cert_file: OptionalFile = None
    tls_key_file: OptionalFile = None
    #: Mutual TLS on the gRPC ports: a client without a certificate from ``tls_ca_file`` is refused.
    #: (``tls_ca_file``, the client certificate a service presents on the channels it opens, such as a
    #: forwarded command answered on its own port, and ``oidc_ca_file``: ``ClientTlsSettings``.)
    tls_client_auth: bool = False
    #: console, file, otlp or none. "otlp" uses the standard OTEL_EXPORTER_OTLP_* variables.
    otel_exporter: str = "none"
    #: Where the file exporter writes spans (JSON lines); empty means traces.jsonl in the state dir.
    otel_file: Path | None = None
    log_level: str = "INFO"
    #: The node's key-encryption keys (KEK), in a file: one line, the base64 of 32 random bytes; during a
    #: rotation several lines, the current one first. Empty: ``<state_dir>/kek.b64``, generated when
    #: missing (local runs only). Every service of the node reads the same file.
    kek_file: Path | None = None
    #: The KEK(s) themselves instead of a file (base64, comma-separated, current first). A secret: never
    #: shown in a repr, a log line or an error.
    kek: SecretStr = SecretStr("")
    #: Seconds between two readings of the KEK file (a rotation is taken up without a restart).
    kek_check_seconds: float = Field(default=30.0, gt=0)

    def issuers(self) -> list[tuple[str | None, str]]:
        """(jurisdiction or None for any, issuer) for every realm this node trusts."""
        if not self.oidc_issuers.strip():
            return [(None, self.oidc_issuer)]
        out: list[tuple[str | None, str]] = []
        for item in self.oidc_issuers.split(","):
            jurisdiction, sep, issuer = item.strip().partition("=")
            if not sep or not is_jurisdiction(jurisdiction.strip()) or not issuer.strip():
                raise ValueError("oidc_issuers: write JURISDICTION=issuer, comma-separated (e.g. NL=https://...)")
            out.append((jurisdiction.strip(), issuer.strip()))
        return out

    def nats_credentials(self, client: str) -> Credentials | None:
        """What the NATS client ``client`` (a service's name) connects with."""
        return resolve(self.nats_user, self.nats_password, self.nats_credentials_dir, client)

    def federation(self) -> Federation | None:
        return Federation.parse(self.node_jurisdiction, self.federation_peers, self.federation_retention_days)

    @property
    def nats_servers(self) -> list[str]:
        """The NATS server URLs of ``nats_url``, in the order given."""
        servers = [u.strip() for u in self.nats_url.split(",") if u.strip()]
        if not servers:
            raise ValueError("nats_url: give at least one NATS server URL (nats://host:4222)")
        return servers

    @property
    def grpc_tls(self) -> bool:
        """Whether the services' gRPC ports serve TLS."""
        return self.tls_cert_file is not None or self.tls_key_file is not None

    @property
    def nats_tls(self) -> bool:
        return self.nats_tls_ca_file is not None or any(u.startswith("tls://") for u in self.nats_servers)

    @property
    def clients(self) -> list[str]:
        return [c.strip() for c in self.oidc_clients.split(",") if c.strip()]

    @property
    def traces_file(self) -> Path:
        return self.otel_file or self.state_dir / "traces.jsonl"

    @property
    def jwks_url(self) -> str:
        return self.oidc_jwks_url or f"{self.oidc_issuer.rstrip('/')}/protocol/openid-connect/certs"

    @property
    def algorithms(self) -> list[str]:
        return [a.strip() for a in self.oidc_algorithms.split(",") if a.strip()]


class ServiceSettings(BaseSettings):
    """Per-service settings; each service subclasses with its own prefix (``JIT_TASKS_`` ...)."""

    model_config = SettingsConfigDict(extra="ignore")

    listen: str = "127.0.0.1:50051"
    #: SQLAlchemy URL (sqlite:///path or postgresql+psycopg://...); empty means SQLite (WAL) under the
    #: state dir.
    database_url: str = ""
    #: Apply Alembic migrations at start.
    migrate_on_start: bool = True
    #: Seconds between outbox scans when no commit woke the relay.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    #: Seconds the relay waits before a scan of the outbox it was woken for, so a burst of such commits is
    #: read in one batch. Events committed through ``Runtime.change`` are handed to the relay and published
    #: at once, without a scan or this wait.
    outbox_linger_seconds: float = Field(default=0.01, ge=0)
    #: Prefix of this service's durable JetStream consumer names. Replicas sharing one database share it;
    #: a service with its own database needs its own (empty means the service name).
    consumer_group: str = ""
    #: Seconds in-flight calls get to finish on SIGTERM.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    #: The largest request message the service reads (bytes). Only an authenticated caller's request is
    #: decoded at all.
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    #: Calls served at once, live streams included; beyond it a call gets RESOURCE_EXHAUSTED at once.
    max_concurrent_rpcs: int = Field(default=512, ge=8)
    #: Processes serving this service on its one port (``jitlib.processes``): more than one uses more
    #: than one core. Recommended on PostgreSQL only; a service that keeps live state in memory (messaging's
    #: streams) refuses more than one.
    processes: int = Field(default=1, ge=1, le=64)
    #: This service's own KEK file or value, overriding the node's ``JIT_KEK_FILE`` / ``JIT_KEK`` (kept
    #: for nodes set up with per-service keys; one KEK per node is the rule).
    kek_file: Path | None = None
    kek: SecretStr = SecretStr("")

    def kek_ring(self, common: CommonSettings, name: str) -> crypto.KekRing:
        """The KEKs this service uses: its own setting, else the node's, else ``<state_dir>/kek.b64``
        (generated when missing). A per-service file of an older local node (``<name>-kek.b64`` in the
        state dir) is kept as a previous KEK, so what it wrapped is rewrapped under the current one."""
        legacy = (common.state_dir / f"{name}-kek.b64",)
        if self.kek.get_secret_value() or self.kek_file:
            return crypto.load_kek_ring(self.kek, self.kek_file, common.state_dir / "kek.b64", legacy=legacy)
        return crypto.load_kek_ring(common.kek, common.kek_file, common.state_dir / "kek.b64", legacy=legacy)

    def resolved_database_url(self, common: CommonSettings, name: str) -> str:
        if self.database_url:
            return self.database_url
        path = (common.state_dir / f"{name}.db").resolve()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return f"sqlite:///{path}"
