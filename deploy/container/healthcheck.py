"""The container image's HEALTHCHECK: is the process this container runs serving?

    python /opt/jit/healthcheck.py [tasks|evidence|preservation|messaging|victims|console]

Without an argument the service is the one the container's main process runs (``python -m services.<name>``,
read from ``/proc/1/cmdline``). A gRPC service is asked ``grpc.health.v1.Health/Check`` for the whole server
(service ``""``) on its ``JIT_<NAME>_LISTEN`` port, over TLS when the port serves it (``JIT_TLS_CERT_FILE``,
trusting ``JIT_TLS_CA_FILE``, checking the certificate's first DNS name, or ``JIT_HEALTHCHECK_TLS_NAME``). The
console is asked for ``/healthz`` on ``JIT_CONSOLE_LISTEN``, over HTTPS when it serves it. Exit 0 when
serving, 1 otherwise, with one line saying why. Kubernetes probes speak gRPC health themselves, but not
over TLS: with TLS on, the chart's probes run this file (deploy/helm/jit-node).
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

#: Each process and the port it listens on when JIT_<NAME>_LISTEN is not set (the services' defaults).
DEFAULT_PORTS = {
    "tasks": 50051,
    "evidence": 50052,
    "preservation": 50053,
    "messaging": 50054,
    "victims": 50055,
    "console": 8088,
}
TIMEOUT_SECONDS = 4.0


def service_of_pid1(cmdline: Path = Path("/proc/1/cmdline")) -> str | None:
    """``tasks`` when the container's main process is ``python -m services.tasks``."""
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return None
    for arg in args:
        name = arg.decode(errors="replace")
        if name.startswith("services.") and name.removeprefix("services.") in DEFAULT_PORTS:
            return name.removeprefix("services.")
    return None


def local_target(name: str, env: dict[str, str]) -> tuple[str, int]:
    """Where to reach the process from inside its own container: its listen port on loopback (a wildcard
    or empty host means every address, loopback included)."""
    listen = env.get(f"JIT_{name.upper()}_LISTEN", "")
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        return "127.0.0.1", DEFAULT_PORTS[name]
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (a wildcard listen address, asked on loopback)
        host = "127.0.0.1"
    return host, int(port)


def _first_dns_name(cert_file: str) -> str | None:
    from jitlib.tls import first_dns_name

    return first_dns_name(Path(cert_file))


def check_grpc(host: str, port: int, env: dict[str, str]) -> str | None:
    """None when the server answers SERVING; otherwise why not."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    ca_file = env.get("JIT_TLS_CA_FILE", "")
    if env.get("JIT_TLS_CERT_FILE") and ca_file:
        # The port serves TLS: trust the node's CA, and present the services' client certificate when
        # the ports require one (JIT_TLS_CLIENT_AUTH).
        cert, key = env.get("JIT_TLS_CLIENT_CERT_FILE", ""), env.get("JIT_TLS_CLIENT_KEY_FILE", "")
        creds = grpc.ssl_channel_credentials(
            root_certificates=Path(ca_file).read_bytes(),
            private_key=Path(key).read_bytes() if cert and key else None,
            certificate_chain=Path(cert).read_bytes() if cert and key else None,
        )
        # The name to check: the certificate's first DNS name, as a service calling its own port does.
        name = env.get("JIT_HEALTHCHECK_TLS_NAME") or _first_dns_name(env["JIT_TLS_CERT_FILE"]) or "localhost"
        channel = grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", name)])
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_SECONDS
            )
        except grpc.RpcError as err:
            return f"{target}: {err.code().name}"  # type: ignore[attr-defined]
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}"
    return None


def check_http(host: str, port: int, env: dict[str, str]) -> str | None:
    """The console's /healthz: over HTTPS when it serves HTTPS (``JIT_CONSOLE_TLS_CERT_FILE``), checking
    that its certificate comes from the node's CA (``JIT_TLS_CA_FILE``; not its name: it is asked on
    loopback)."""
    context = None
    scheme = "http"
    if env.get("JIT_CONSOLE_TLS_CERT_FILE"):
        scheme = "https"
        context = ssl.create_default_context(cafile=env.get("JIT_TLS_CA_FILE") or None)
        context.check_hostname = False
    url = f"{scheme}://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS, context=context) as answer:  # noqa: S310 (a fixed local URL)
            return None if answer.status == 200 else f"{url}: HTTP {answer.status}"
    except urllib.error.HTTPError as err:
        return f"{url}: HTTP {err.code}"
    except OSError as err:
        return f"{url}: {err.__class__.__name__}"


def main(argv: list[str], env: dict[str, str], cmdline: Path = Path("/proc/1/cmdline")) -> int:
    name = argv[0] if argv else service_of_pid1(cmdline)
    if name not in DEFAULT_PORTS:
        print(
            "healthcheck: name the service (tasks, evidence, preservation, messaging, victims, console)",
            file=sys.stderr,
        )
        return 1
    host, port = local_target(name, env)
    problem = check_http(host, port, env) if name == "console" else check_grpc(host, port, env)
    if problem:
        print(f"healthcheck: {name} not serving: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], dict(os.environ)))
