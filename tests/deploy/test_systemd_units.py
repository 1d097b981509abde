"""The systemd units for hosts without Kubernetes (deploy/systemd) and the host profile's settings
(deploy/env/production.env.example).

`systemd-analyze verify` loads each unit as systemd would and checks that the programs it runs exist. The
units name the install paths (/opt/jit/venv/bin/python, /usr/local/bin/nats-server); the test verifies a
copy whose only change is those two paths, pointed at this checkout's venv python and nats-server. It also
fails on any warning (an unknown or misspelt setting is only a warning to systemd), and
`systemd-analyze security --offline` scores each unit's hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jitdev.nats import nats_server_binary
from jitlib.config import CommonSettings, ServiceSettings
from services.console.settings import ConsoleSettings
from services.evidence.app import EvidenceSettings
from services.messaging.app import MessagingSettings
from services.preservation.app import PreservationSettings
from services.tasks.app import TasksSettings
from services.victims.app import VictimsSettings

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
ENV_EXAMPLE = ROOT / "deploy" / "env" / "production.env.example"
GRPC_SERVICES = ("tasks", "evidence", "preservation", "messaging", "victims")
#: Every unit as the host runs it (templates by their instances).
INSTANCES = [
    *(f"jit@{n}.service" for n in GRPC_SERVICES),
    *(f"jit-migrate@{n}.service" for n in GRPC_SERVICES),
    "jit-console.service",
    "jit-nats.service",
    "jit.target",
]
MAX_EXPOSURE = 2.0


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze (Debian package systemd) is missing: run make install"
    return found


@pytest.fixture(scope="module")
def host_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units with the install paths pointed at programs that exist here; nothing else changed."""
    folder = tmp_path_factory.mktemp("units")
    for unit in UNITS.iterdir():
        text = unit.read_text()
        text = text.replace("/opt/jit/venv/bin/python", sys.executable)
        text = text.replace("/usr/local/bin/nats-server", nats_server_binary())
        (folder / unit.name).write_text(text)
    return folder


def _verify(folder: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_analyze(), "verify", "--man=no", *(f"./{u}" for u in units)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_unit_verifies_without_an_error_or_a_warning(host_copy: Path) -> None:
    done = _verify(host_copy, *INSTANCES)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_verify_catches_a_misspelt_setting_and_a_missing_program(host_copy: Path, tmp_path: Path) -> None:
    shutil.copytree(host_copy, tmp_path / "u")
    unit = tmp_path / "u" / "jit@.service"
    unit.write_text(unit.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    done = _verify(tmp_path / "u", "jit@tasks.service")
    assert "Unknown key" in done.stderr
    original = _verify(UNITS, "jit@tasks.service")  # the install paths do not exist on this machine
    assert original.returncode != 0 and "/opt/jit/venv/bin/python" in original.stderr


@pytest.mark.parametrize("unit", [u for u in INSTANCES if u.endswith(".service")])
def test_each_service_is_hardened(host_copy: Path, unit: str) -> None:
    done = subprocess.run(
        [_analyze(), "security", "--offline=yes", "--no-pager", f"./{unit}"],
        cwd=host_copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, done.stdout


def _settings(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    section = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif "=" in line and not line.startswith("#") and section:
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("unit", ["jit@.service", "jit-migrate@.service", "jit-console.service"])
def test_the_platforms_units_run_as_jit_with_its_settings_and_write_only_the_state_folder(unit: str) -> None:
    s = _settings(UNITS / unit)
    assert s["User"] == ["jit"] and s["Group"] == ["jit"]
    assert s["EnvironmentFile"][0] == "/etc/jit/node.env"
    name = "%i" if "@" in unit else "console"
    assert s["EnvironmentFile"][1] == f"-/etc/jit/{name}.env"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/jit",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
    }.items():
        assert s[key] == [value], f"{unit}: {key}"


def test_a_service_starts_only_after_its_migrations_succeeded() -> None:
    service = _settings(UNITS / "jit@.service")
    assert "jit-migrate@%i.service" in service["Requires"][0].split()
    assert "jit-migrate@%i.service" in " ".join(service["After"]).split()
    assert service["ExecStart"] == ["/opt/jit/venv/bin/python -m services.%i"]
    migrate = _settings(UNITS / "jit-migrate@.service")
    assert migrate["Type"] == ["oneshot"]
    assert migrate["ExecStart"] == ["/opt/jit/venv/bin/python -m services.%i migrate"]
    target = _settings(UNITS / "jit.target")
    wanted = target["Wants"][0].split()
    assert {f"jit@{n}.service" for n in GRPC_SERVICES} | {"jit-console.service", "jit-nats.service"} == set(wanted)


# ---- the host profile's settings --------------------------------------------------------------------

SETTINGS_CLASSES: list[type[CommonSettings] | type[ServiceSettings] | type[ConsoleSettings]] = [
    CommonSettings,
    TasksSettings,
    EvidenceSettings,
    PreservationSettings,
    MessagingSettings,
    VictimsSettings,
    ConsoleSettings,
]


def every_setting() -> dict[str, object]:
    out: dict[str, object] = {}
    for cls in SETTINGS_CLASSES:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            out[f"{prefix}{name}".upper()] = field.annotation
    return out


def example() -> tuple[dict[str, str], set[str]]:
    """(set lines, names only shown as commented defaults)."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if not m:
            continue
        if m.group(1):
            commented.add(m.group(2))
        else:
            active[m.group(2)] = m.group(3)
    return active, commented


def test_the_env_example_lists_every_setting_of_every_process() -> None:
    active, commented = example()
    listed = set(active) | commented
    missing = sorted(set(every_setting()) - listed)
    assert missing == [], f"not in {ENV_EXAMPLE.name}: {missing}"
    unknown = sorted(n for n in listed if n.startswith("JIT_") and n not in every_setting())
    assert unknown == [], f"no such setting: {unknown}"


def test_the_env_example_names_only_documented_settings() -> None:
    active, commented = example()
    docs = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "services").glob("*/README.md"))
    for name in sorted(set(active) | commented):
        if not name.startswith("JIT_"):
            continue
        short = re.sub(r"^JIT_(TASKS|EVIDENCE|PRESERVATION|MESSAGING|VICTIMS)_", "", name)
        # Settings every service has are documented once, under the tasks service's prefix.
        documented = (f"`{name}`", f"`{short}`", f"`JIT_TASKS_{short}`")
        assert any(d in docs for d in documented), f"{name} is not documented"


def test_the_env_example_holds_no_secret_and_migrates_outside_the_services() -> None:
    active, _ = example()
    settings = every_setting()
    for name, annotation in settings.items():
        if "SecretStr" in str(annotation):
            assert name not in active, f"{name}: a secret value in the env file"
    # One key-encryption key for the node, in a secret file, read by every service.
    assert active["JIT_KEK_FILE"].startswith("/etc/jit/secrets/")
    assert active["JIT_NATS_CREDENTIALS_DIR"].startswith("/etc/jit/secrets/")
    for name in GRPC_SERVICES:
        url = active[f"JIT_{name.upper()}_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://")
        assert not re.match(r"^[^/]+//[^/@]*:[^/@]*@", url), f"{name}: a password in the URL"
        assert active[f"JIT_{name.upper()}_MIGRATE_ON_START"] == "false"
    assert active["PGPASSFILE"].startswith("/etc/jit/secrets/")
    # Its values parse as the services read them (placeholders aside).
    env = {k: v for k, v in active.items() if "<" not in v}
    for cls in SETTINGS_CLASSES:
        prefix = cls.model_config.get("env_prefix", "")
        values = {
            k.removeprefix(prefix).lower(): v
            for k, v in env.items()
            if k.startswith(prefix) and k.removeprefix(prefix).lower() in cls.model_fields
        }
        cls.model_validate(values)


def test_a_host_set_up_from_the_env_example_passes_jit_node_check(tmp_path: Path) -> None:
    """The example, its placeholders filled in and its files made as the README says (secrets 0600 owned by
    the service user, the state folder 0700), is a configuration the operator's own check accepts."""
    import base64
    import os

    from jitcli.node_check import check
    from jitlib import pki
    from jitlib.natsauth import node_users

    text = ENV_EXAMPLE.read_text().replace("<NL>", "NL").replace("<DE,IE>", "DE,IE")
    text = re.sub(r"<([a-z0-9.-]+)>", r"\1", text)
    text = text.replace("/etc/jit/", f"{tmp_path}/etc/jit/").replace("/var/lib/jit", f"{tmp_path}/var/lib/jit")
    env = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
    assert "<" not in "".join(env.values()), env

    def secret(path: str, data: bytes) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        Path(path).write_bytes(data)
        os.chmod(path, 0o600)

    (tmp_path / "var" / "lib" / "jit").mkdir(parents=True, mode=0o700)
    secret(env["JIT_KEK_FILE"], base64.b64encode(os.urandom(32)) + b"\n")
    node_users(Path(env["JIT_NATS_CREDENTIALS_DIR"]), "NL")
    secret(env["PGPASSFILE"], b"db.nl.example:5432:*:jit_tasks:sample\n")
    ca = pki.create_ca("NL node CA")
    pki.write_certificate(ca.certificate, Path(env["JIT_TLS_CA_FILE"]))
    pki.write_pem(
        pki.issue_server(ca, "jit.nl.example", ["jit.nl.example"]),
        Path(env["JIT_TLS_CERT_FILE"]),
        Path(env["JIT_TLS_KEY_FILE"]),
    )

    report = check(env)
    assert report.problems == [], report.problems
    assert report.checked > 10
