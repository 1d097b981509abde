"""The Helm chart of a country node (deploy/helm/jit-node), rendered with `helm template` (the helm that
`make install` builds) and checked on the parsed YAML: probes, resources, non-root pods, secrets only by
reference, the migration Job before the new version serves, NetworkPolicies that let out only the
federation link, the NATS cluster's configuration (accepted by the real nats-server), and what each
country's values change. No cluster runs here: this is what can be known without one."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from jitdev.bootstrap import HELM_VERSION, helm_binary, helm_version

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "jit-node"
PRODUCTION = CHART / "values-production.yaml"
NL = CHART / "values-nl.yaml"
DE = CHART / "values-de.yaml"
SERVICES = {"tasks": 50051, "evidence": 50052, "preservation": 50053, "messaging": 50054, "victims": 50055}
#: A trial node (SQLite, one replica each): the Secrets every profile needs, by name.
TRIAL = [
    "kek.existingSecret=jit-kek",
    "nats.existingSecret=jit-nats-server",
    "nats.credentialsSecret=jit-nats-credentials",
    "console.existingSecret=jit-console-oidc",
]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEK$|STORE_KEY|DATABASE_URL|HUB_URL|PRIVATE", re.IGNORECASE)


def helm_template(*values: Path, sets: Iterable[str] = (), release: str = "jit-nl") -> subprocess.CompletedProcess[str]:
    helm = helm_binary()
    assert helm_version(helm) == HELM_VERSION, f"helm {HELM_VERSION} missing at {helm}: run make install"
    cmd = [str(helm), "template", release, str(CHART), "--namespace", release]
    for v in values:
        cmd += ["-f", str(v)]
    for s in sets:
        cmd += ["--set", s]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def render(*values: Path, sets: Iterable[str] = (), release: str = "jit-nl") -> list[dict[str, Any]]:
    done = helm_template(*values, sets=sets, release=release)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {[d['metadata']['name'] for d in of_kind(docs, kind)]}"
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"])
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet", "Job")
    ]


@pytest.fixture(scope="module")
def production_nl() -> list[dict[str, Any]]:
    return render(PRODUCTION, NL)


@pytest.fixture(scope="module")
def production_de() -> list[dict[str, Any]]:
    return render(PRODUCTION, DE, release="jit-de")


@pytest.fixture(scope="module")
def trial_nl() -> list[dict[str, Any]]:
    return render(NL, sets=TRIAL)


@pytest.mark.parametrize("country", [NL, DE])
def test_helm_lint_passes_strictly(country: Path) -> None:
    done = subprocess.run(
        [str(helm_binary()), "lint", "--strict", str(CHART), "-f", str(PRODUCTION), "-f", str(country)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout


# ---- every pod -------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["production_nl", "production_de", "trial_nl"])
def test_every_pod_runs_as_non_root_with_requests_limits_and_a_locked_down_container(
    profile: str, request: pytest.FixtureRequest
) -> None:
    docs = request.getfixturevalue(profile)
    pods = pod_specs(docs)
    assert len(pods) >= 6
    for where, template in pods:
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        assert spec["automountServiceAccountToken"] is False, where
        for c in spec["containers"]:
            res = c["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res[part]), f"{where}: {part}"
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc.get("privileged") is not True, where


@pytest.mark.parametrize("profile", ["production_nl", "trial_nl"])
def test_every_deployment_is_probed_by_grpc_health_or_its_health_page(
    profile: str, request: pytest.FixtureRequest
) -> None:
    docs = request.getfixturevalue(profile)
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    assert set(deployments) == {*(f"jit-nl-{n}" for n in SERVICES), "jit-nl-console"}
    tls = profile == "production_nl"
    for name, port in SERVICES.items():
        (c,) = deployments[f"jit-nl-{name}"]["spec"]["template"]["spec"]["containers"]
        assert c["args"] == [f"services.{name}"]
        assert c["ports"] == [{"name": "grpc", "containerPort": port, "protocol": "TCP"}]
        assert env_of(c)[f"JIT_{name.upper()}_LISTEN"]["value"] == f"0.0.0.0:{port}"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if tls:
                # The kubelet's gRPC probe has no TLS: the image's check asks grpc.health.v1 over TLS.
                assert c[probe]["exec"]["command"] == ["python", "/opt/jit/healthcheck.py", name], probe
            else:
                assert c[probe]["grpc"] == {"port": port}, probe
            assert c[probe]["periodSeconds"] > 0
    (console,) = deployments["jit-nl-console"]["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert console[probe]["httpGet"]["path"] == "/healthz"
        assert console[probe]["httpGet"]["scheme"] == ("HTTPS" if tls else "HTTP")


def test_production_runs_several_replicas_of_each_service_and_one_console(production_nl: list[dict[str, Any]]) -> None:
    for name in SERVICES:
        d = named(production_nl, "Deployment", f"jit-nl-{name}")
        assert d["spec"]["replicas"] >= 2, name
        assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        pdb = named(production_nl, "PodDisruptionBudget", f"jit-nl-{name}")
        assert pdb["spec"]["minAvailable"] == 1
    # Sessions live in the console's memory: one replica.
    assert named(production_nl, "Deployment", "jit-nl-console")["spec"]["replicas"] == 1


def test_production_runs_tasks_as_two_processes_per_pod_and_a_trial_node_one(
    production_nl: list[dict[str, Any]], trial_nl: list[dict[str, Any]]
) -> None:
    """JIT_<NAME>_PROCESSES (``jitlib.processes``): tasks as 2 processes a pod on PostgreSQL, within its
    2-CPU limit; every other service, and every service of a trial node (SQLite), as 1."""
    for docs, tasks in ((production_nl, "2"), (trial_nl, "1")):
        for name in SERVICES:
            (c,) = named(docs, "Deployment", f"jit-nl-{name}")["spec"]["template"]["spec"]["containers"]
            expected = tasks if name == "tasks" else "1"
            assert env_of(c)[f"JIT_{name.upper()}_PROCESSES"]["value"] == expected, name
    (c,) = named(production_nl, "Deployment", "jit-nl-tasks")["spec"]["template"]["spec"]["containers"]
    assert c["resources"]["limits"]["cpu"] == "2"


def test_images_are_the_one_node_image_and_a_digest_wins_over_the_tag() -> None:
    digest = "sha256:" + "ab" * 32
    docs = render(PRODUCTION, NL, sets=[f"image.digest={digest}"])
    for where, template in pod_specs(docs):
        for c in template["spec"]["containers"]:
            if where.startswith("StatefulSet/"):
                assert c["image"] == "nats:2.15.1-alpine"
            else:
                assert c["image"] == f"registry.example.invalid/jit/jit-node@{digest}", where


# ---- secrets: by reference only --------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["production_nl", "production_de", "trial_nl"])
def test_no_secret_value_is_rendered_every_secret_is_a_reference(profile: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(profile)
    assert of_kind(docs, "Secret") == []
    refs = 0
    for where, template in pod_specs(docs):
        for c in template["spec"]["containers"]:
            for e in c.get("env", []):
                if SECRET_NAME.search(e["name"]):
                    assert "value" not in e, f"{where}: {e['name']} has a value"
                    assert e["valueFrom"]["secretKeyRef"]["name"], where
                    refs += 1
        for v in template["spec"].get("volumes", []):
            if v["name"] in ("kek", "tls", "auth", "nats-user"):
                assert v["secret"]["secretName"], where
                assert v["secret"]["defaultMode"] == 0o400, where
    assert refs >= (3 if profile == "trial_nl" else 10)
    # Nowhere a key that holds a credential by its name, nor a URL with a password in it.
    for doc in docs:
        for key, value in _walk(doc):
            assert not (re.search(r"(?i)password|passwd|token|private|credential", key) and value), key
            if isinstance(value, str):
                assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"{key}: a URL with a password"
                assert not re.search(r"(?i)\bpassword\s*[:=]", value), key


def _walk(node: Any, key: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k), v if not isinstance(v, (dict, list)) else None
            yield from _walk(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)
    else:
        yield key, node


def test_production_takes_database_urls_kek_nats_and_tls_from_the_named_secrets(
    production_nl: list[dict[str, Any]],
) -> None:
    for name in SERVICES:
        (c,) = named(production_nl, "Deployment", f"jit-nl-{name}")["spec"]["template"]["spec"]["containers"]
        env = env_of(c)
        assert env[f"JIT_{name.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "jit-database-urls",
            "key": f"{name}-url",
        }
        # Its own NATS user's file, and no other service's.
        volumes = {
            v["name"]: v
            for v in named(production_nl, "Deployment", f"jit-nl-{name}")["spec"]["template"]["spec"]["volumes"]
        }
        assert volumes["nats-user"]["secret"]["secretName"] == "jit-nats-credentials"
        assert volumes["nats-user"]["secret"]["items"] == [{"key": f"{name}.json", "path": f"{name}.json"}]
        assert env["JIT_NATS_CREDENTIALS_DIR"]["value"] == "/etc/jit/nats-users"
        assert "JIT_NATS_PASSWORD" not in env
        assert env["JIT_TLS_CA_FILE"]["value"] == "/etc/jit/tls/ca.crt"
        assert env["JIT_TLS_CERT_FILE"]["value"] == "/etc/jit/tls/tls.crt"
        assert env["JIT_NATS_TLS_CA_FILE"]["value"] == "/etc/jit/tls/ca.crt"
        assert env["JIT_NATS_URL"]["value"].startswith("tls://")
        assert env["JIT_NATS_STREAM_REPLICAS"]["value"] == "3"
    for name in SERVICES:
        pod = named(production_nl, "Deployment", f"jit-nl-{name}")["spec"]["template"]["spec"]
        assert env_of(pod["containers"][0])["JIT_KEK_FILE"]["value"] == "/etc/jit/kek/kek"
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["kek"] == {"name": "kek", "mountPath": "/etc/jit/kek", "readOnly": True}  # no subPath
    volumes = {
        v["name"]: v
        for v in named(production_nl, "Deployment", "jit-nl-evidence")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["kek"]["secret"]["secretName"] == "jit-kek"
    assert volumes["blobs"]["persistentVolumeClaim"]["claimName"] == "jit-evidence-blobs"
    assert volumes["tls"]["secret"]["secretName"] == "jit-node-tls"
    (console,) = named(production_nl, "Deployment", "jit-nl-console")["spec"]["template"]["spec"]["containers"]
    assert env_of(console)["JIT_CONSOLE_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "jit-console-oidc"
    assert env_of(console)["JIT_CONSOLE_TLS_CERT_FILE"]["value"] == "/etc/jit/tls/tls.crt"
    assert env_of(console)["JIT_TLS_CA_FILE"]["value"] == "/etc/jit/tls/ca.crt"


def test_mutual_tls_makes_every_caller_present_the_nodes_certificate() -> None:
    docs = render(PRODUCTION, NL, sets=["tls.clientAuth=true", "tls.keycloakSignedByNodeCa=true"])
    for name in [*SERVICES, "console"]:
        (c,) = named(docs, "Deployment", f"jit-nl-{name}")["spec"]["template"]["spec"]["containers"]
        env = env_of(c)
        assert env["JIT_TLS_CLIENT_AUTH"]["value"] == "true", name
        assert env["JIT_TLS_CLIENT_CERT_FILE"]["value"] == "/etc/jit/tls/tls.crt", name
        assert env["JIT_OIDC_CA_FILE"]["value"] == "/etc/jit/tls/ca.crt", name
    (c,) = named(render(PRODUCTION, NL), "Deployment", "jit-nl-tasks")["spec"]["template"]["spec"]["containers"]
    assert "JIT_TLS_CLIENT_AUTH" not in env_of(c)


# ---- migrations before the new version serves --------------------------------------------------------


def test_production_migrates_in_a_hook_job_before_install_and_upgrade_and_services_do_not(
    production_nl: list[dict[str, Any]],
) -> None:
    jobs = {j["metadata"]["name"]: j for j in of_kind(production_nl, "Job")}
    assert set(jobs) == {f"jit-nl-migrate-{n}" for n in SERVICES}
    for name in SERVICES:
        job = jobs[f"jit-nl-migrate-{name}"]
        hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
        assert hooks == {"pre-install", "pre-upgrade"}
        assert "before-hook-creation" in job["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
        (c,) = job["spec"]["template"]["spec"]["containers"]
        assert c["args"] == [f"services.{name}", "migrate"]
        assert env_of(c)[f"JIT_{name.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == f"{name}-url"
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        (svc,) = named(production_nl, "Deployment", f"jit-nl-{name}")["spec"]["template"]["spec"]["containers"]
        assert env_of(svc)[f"JIT_{name.upper()}_MIGRATE_ON_START"]["value"] == "false"


def test_a_trial_node_migrates_at_start_on_sqlite_with_no_job(trial_nl: list[dict[str, Any]]) -> None:
    assert of_kind(trial_nl, "Job") == []
    for name in SERVICES:
        d = named(trial_nl, "Deployment", f"jit-nl-{name}")
        assert d["spec"]["replicas"] == 1
        env = env_of(d["spec"]["template"]["spec"]["containers"][0])
        assert env[f"JIT_{name.upper()}_MIGRATE_ON_START"]["value"] == "true"
        assert f"JIT_{name.upper()}_DATABASE_URL" not in env


@pytest.mark.parametrize(
    ("sets", "says"),
    [
        (["services.tasks.replicas=2"], "services.tasks.replicas > 1 needs PostgreSQL"),
        (["services.tasks.processes=2"], "services.tasks.processes > 1 needs PostgreSQL"),
        (["services.messaging.processes=2"], "services.messaging.processes > 1 needs PostgreSQL"),
        (["database.migrateJob=true"], "database.migrateJob needs database.existingSecret"),
        (["nats.replicas=1"], "nats.replicas must be at least 3"),
        (["kek.existingSecret="], "kek.existingSecret is required"),
        (["nats.existingSecret="], "nats.existingSecret is required"),
        (["nats.credentialsSecret="], "nats.credentialsSecret is required"),
        (["networkPolicy.keycloak.cidrs=null"], "networkPolicy.keycloak.cidrs is required"),
    ],
)
def test_an_unsafe_or_incomplete_profile_is_refused_with_words(sets: list[str], says: str) -> None:
    done = helm_template(NL, sets=[*TRIAL, *sets])
    assert done.returncode != 0
    assert says in done.stderr


def test_messaging_may_run_as_several_processes_per_pod_on_postgresql() -> None:
    """Each copy feeds its own live streams from its own listener (``services.messaging.live``)."""
    docs = render(PRODUCTION, NL, sets=["services.messaging.processes=2"])
    (c,) = named(docs, "Deployment", "jit-nl-messaging")["spec"]["template"]["spec"]["containers"]
    assert env_of(c)["JIT_MESSAGING_PROCESSES"]["value"] == "2"


def test_replicas_sharing_files_need_a_shared_claim() -> None:
    done = helm_template(PRODUCTION, NL, sets=["blobs.evidence.existingClaim="])
    assert done.returncode != 0
    assert "blobs.evidence.existingClaim" in done.stderr


# ---- the network: default deny, and only the federation link leaves the country ------------------


def _labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _cidrs(rule: dict[str, Any]) -> set[str]:
    return {peer["ipBlock"]["cidr"] for peer in rule.get("to", []) if "ipBlock" in peer}


def test_network_policies_deny_by_default_and_every_pod_has_its_own(production_nl: list[dict[str, Any]]) -> None:
    policies = of_kind(production_nl, "NetworkPolicy")
    deny = named(production_nl, "NetworkPolicy", "jit-nl-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for where, template in pod_specs(production_nl):
        own = [
            p
            for p in policies
            if p["spec"]["podSelector"] and _labels_match(p["spec"]["podSelector"], template["metadata"]["labels"])
        ]
        assert len(own) == 1, f"{where}: {[p['metadata']['name'] for p in own]}"
        assert set(own[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_no_egress_rule_is_open_and_no_address_is_the_whole_internet(production_nl: list[dict[str, Any]]) -> None:
    for p in of_kind(production_nl, "NetworkPolicy"):
        for rule in p["spec"].get("egress", []):
            assert rule.get("to"), f"{p['metadata']['name']}: an egress rule to anywhere"
            assert rule.get("ports"), f"{p['metadata']['name']}: an egress rule on every port"
            for cidr in _cidrs(rule):
                assert ipaddress.ip_network(cidr).prefixlen >= 8, f"{p['metadata']['name']}: {cidr}"
        for rule in p["spec"].get("ingress", []):
            assert rule.get("from"), f"{p['metadata']['name']}: an ingress rule from anywhere"


def test_only_nats_leaves_for_another_country_and_only_to_the_hubs_leafnode_port(
    production_nl: list[dict[str, Any]],
) -> None:
    values = yaml.safe_load(NL.read_text())
    hub = set(values["federation"]["hub"]["cidrs"])
    db = set(values["database"]["cidrs"])
    keycloak = set(values["networkPolicy"]["keycloak"]["cidrs"])
    otel = set(values["telemetry"]["cidrs"])
    leaving: dict[str, list[tuple[set[str], set[int]]]] = {}
    for p in of_kind(production_nl, "NetworkPolicy"):
        for rule in p["spec"].get("egress", []):
            if _cidrs(rule):
                ports = {port["port"] for port in rule["ports"]}
                leaving.setdefault(p["metadata"]["name"], []).append((_cidrs(rule), ports))
    assert leaving["jit-nl-nats"] == [(hub, {7422})]
    assert sorted(leaving["jit-nl-services"], key=str) == sorted(
        [(db, {5432}), (keycloak, {443}), (otel, {4317})], key=str
    )
    assert leaving["jit-nl-migrate"] == [(db, {5432})]
    assert sorted(leaving["jit-nl-console"], key=str) == sorted([(keycloak, {443}), (otel, {4317})], key=str)
    for name, rules in leaving.items():
        if name != "jit-nl-nats":
            assert all(not (cidrs & hub) for cidrs, _ in rules), name


def test_services_reach_nats_on_its_client_port_only_and_nats_servers_reach_each_other(
    production_nl: list[dict[str, Any]],
) -> None:
    services = named(production_nl, "NetworkPolicy", "jit-nl-services")["spec"]
    to_nats = [
        r
        for r in services["egress"]
        if any(peer.get("podSelector", {}).get("matchLabels", {}).get("jit.example/role") == "nats" for peer in r["to"])
    ]
    assert [{p["port"] for p in r["ports"]} for r in to_nats] == [{4222}]
    nats = named(production_nl, "NetworkPolicy", "jit-nl-nats")["spec"]
    ingress_ports = sorted(p["port"] for r in nats["ingress"] for p in r["ports"])
    assert ingress_ports == [4222, 6222]
    ingress_roles = [
        peer["podSelector"]["matchLabels"]["jit.example/role"] for r in nats["ingress"] for peer in r["from"]
    ]
    assert sorted(ingress_roles) == ["nats", "service"]
    # The console reaches the services, never NATS or a database.
    console = named(production_nl, "NetworkPolicy", "jit-nl-console")["spec"]
    roles = {
        peer["podSelector"]["matchLabels"]["jit.example/role"]
        for r in console["egress"]
        for peer in r["to"]
        if "podSelector" in peer and "namespaceSelector" not in peer
    }
    assert roles == {"service"}


# ---- NATS: three servers, JetStream R3, a configuration the real server accepts --------------------


def _nats_conf(docs: list[dict[str, Any]], release: str) -> str:
    return str(named(docs, "ConfigMap", f"{release}-nats-config")["data"]["nats.conf"])


def test_nats_is_a_three_server_cluster_with_jetstream_in_the_countrys_domain(
    production_nl: list[dict[str, Any]],
) -> None:
    sts = named(production_nl, "StatefulSet", "jit-nl-nats")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    conf = _nats_conf(production_nl, "jit-nl")
    routes = re.findall(r"nats-route://(\S+)", conf)
    assert routes == [f"jit-nl-nats-{i}.jit-nl-nats.jit-nl.svc:6222" for i in range(3)]
    assert "domain: nl" in conf
    assert "cipher: chachapoly" in conf
    assert "key: $JIT_NATS_STORE_KEY" in conf
    (svc,) = named(production_nl, "Deployment", "jit-nl-tasks")["spec"]["template"]["spec"]["containers"]
    urls = env_of(svc)["JIT_NATS_URL"]["value"].split(",")
    assert urls == [f"tls://jit-nl-nats-{i}.jit-nl-nats.jit-nl.svc:4222" for i in range(3)]


def _make_tls(folder: Path) -> None:
    from jitlib import pki

    ca = pki.create_ca("jit-nl test CA")
    pki.write_certificate(ca.certificate, folder / "ca.crt")
    pki.write_pem(pki.issue_server(ca, "nats"), folder / "tls.crt", folder / "tls.key")


@pytest.mark.parametrize("profile", ["production_nl", "production_de", "trial_nl"])
def test_the_real_nats_server_accepts_the_rendered_configuration(
    profile: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import os

    from jitdev.nats import nats_server_binary

    docs = request.getfixturevalue(profile)
    release = "jit-de" if profile == "production_de" else "jit-nl"
    conf = (
        _nats_conf(docs, release)
        .replace("/etc/jit/tls/", f"{tmp_path / 'tls'}/")
        .replace("/data/jetstream", str(tmp_path / "js"))
        .replace("/var/run/nats/", f"{tmp_path}/")
    )
    if "/etc/jit/tls" in _nats_conf(docs, release):
        _make_tls(tmp_path / "tls")
    # What the Secret's authorization.conf holds: the node's users and their permissions, as
    # jitlib.natsauth writes them for `jit node init`.
    from jitlib.natsauth import node_users

    node_users(tmp_path / "users", release.removeprefix("jit-")).write_authorization(
        tmp_path / "auth" / "authorization.conf"
    )
    (tmp_path / "nats.conf").write_text(conf)
    env = {
        **os.environ,
        "POD_NAME": f"{release}-nats-0",
        "JIT_NATS_STORE_KEY": "a-sample-store-key-for-the-config-check",
        "JIT_FEDERATION_HUB_URL": "nats-leaf://nl:sample@127.0.0.1:7422",
    }
    done = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(tmp_path / "nats.conf")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The check is real: a configuration without the included users file is refused.
    (tmp_path / "auth" / "authorization.conf").unlink()
    broken = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(tmp_path / "nats.conf")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert broken.returncode != 0


# ---- one values file per country --------------------------------------------------------------------


def _shape(docs: list[dict[str, Any]], release: str) -> set[tuple[str, str]]:
    return {(d["kind"], d["metadata"]["name"].replace(release, "REL")) for d in docs}


def test_the_country_files_change_who_the_node_is_and_nothing_else_of_its_shape(
    production_nl: list[dict[str, Any]], production_de: list[dict[str, Any]]
) -> None:
    assert _shape(production_nl, "jit-nl") == _shape(production_de, "jit-de")
    for release, docs, country, peers in (
        ("jit-nl", production_nl, "NL", "DE,IE"),
        ("jit-de", production_de, "DE", "NL,IE"),
    ):
        (c,) = named(docs, "Deployment", f"{release}-tasks")["spec"]["template"]["spec"]["containers"]
        env = env_of(c)
        assert env["JIT_NODE_JURISDICTION"]["value"] == country
        assert env["JIT_FEDERATION_PEERS"]["value"] == peers
        assert env["JIT_OIDC_ISSUER"]["value"].endswith(f"/realms/jit-{country.lower()}")
        issuers = dict(item.split("=", 1) for item in env["JIT_OIDC_ISSUERS"]["value"].split(","))
        assert set(issuers) == {"NL", "DE", "IE"}
        conf = _nats_conf(docs, release)
        assert f"domain: {country.lower()}" in conf
        assert f"name: jit-{country.lower()}" in conf
        sts = named(docs, "StatefulSet", f"{release}-nats")
        hub_env = env_of(sts["spec"]["template"]["spec"]["containers"][0])["JIT_FEDERATION_HUB_URL"]
        assert hub_env["valueFrom"]["secretKeyRef"]["name"] == f"jit-federation-link-{country.lower()}"
        (console,) = named(docs, "Deployment", f"{release}-console")["spec"]["template"]["spec"]["containers"]
        assert env_of(console)["JIT_REALM"]["value"] == f"jit-{country.lower()}"
    nl_db = named(production_nl, "NetworkPolicy", "jit-nl-services")["spec"]["egress"]
    de_db = named(production_de, "NetworkPolicy", "jit-de-services")["spec"]["egress"]
    assert nl_db != de_db  # each country's own database and Keycloak addresses


def test_a_node_without_a_country_is_refused() -> None:
    done = helm_template(sets=TRIAL)
    assert done.returncode != 0
    assert "country is required" in done.stderr


@pytest.mark.parametrize("sets", [[], ["tls.clientAuth=true", "tls.keycloakSignedByNodeCa=true"]])
def test_every_setting_the_chart_gives_is_one_the_code_reads(sets: list[str]) -> None:
    from tests.deploy.test_systemd_units import every_setting

    known = set(every_setting())
    for where, template in pod_specs(render(PRODUCTION, NL, sets=sets)):
        for c in template["spec"]["containers"]:
            for e in c.get("env", []):
                if e["name"].startswith("JIT_") and not where.startswith("StatefulSet/"):
                    assert e["name"] in known, f"{where}: {e['name']} is no setting"
