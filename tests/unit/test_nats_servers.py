"""The node's NATS as several servers (a cluster) and the copies of its streams: settings and the stream
configuration the services ask for. The cluster itself is exercised in tests/integration/test_nats_cluster.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js.errors import BadRequestError, ServiceUnavailableError
from pydantic import SecretStr

from jitdev.nats import NatsCluster
from jitlib.bus import Bus, _is_refusal, _refused, stream_for
from jitlib.config import CommonSettings
from jitlib.natsauth import Credentials, node_users


def test_one_url_is_one_server() -> None:
    assert CommonSettings(nats_url="nats://127.0.0.1:4222").nats_servers == ["nats://127.0.0.1:4222"]


def test_a_cluster_is_every_server_comma_separated_in_order() -> None:
    settings = CommonSettings(nats_url=" nats://10.0.0.1:4222, nats://10.0.0.2:4222 ,nats://10.0.0.3:4222,")
    assert settings.nats_servers == ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222", "nats://10.0.0.3:4222"]


def test_no_server_at_all_is_refused_in_words() -> None:
    with pytest.raises(ValueError, match="nats_url"):
        _ = CommonSettings(nats_url=" , ").nats_servers


def test_replicas_default_to_one_and_are_bounded_by_what_jetstream_allows() -> None:
    assert CommonSettings().nats_stream_replicas == 1
    assert CommonSettings(nats_stream_replicas=3).nats_stream_replicas == 3
    for bad in (0, 6):
        with pytest.raises(ValueError, match="nats_stream_replicas"):
            CommonSettings(nats_stream_replicas=bad)


def test_replicas_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIT_NATS_STREAM_REPLICAS", "3")
    monkeypatch.setenv("JIT_NATS_URL", "nats://a:4222,nats://b:4222")
    settings = CommonSettings()
    assert settings.nats_stream_replicas == 3
    assert settings.nats_servers == ["nats://a:4222", "nats://b:4222"]


def test_the_bus_takes_a_list_or_a_comma_separated_string() -> None:
    assert Bus("nats://a:4222,nats://b:4222", "t")._servers == ["nats://a:4222", "nats://b:4222"]
    assert Bus(["nats://a:4222"], "t", replicas=3).replicas == 3


def test_a_refused_replica_count_is_explained_with_the_setting_to_change() -> None:
    cfg = stream_for("tasks")
    cfg.num_replicas = 3
    exc = BadRequestError(code=500, err_code=10074, description="replicas > 1 not supported in non-clustered mode")
    text = str(_refused(cfg, exc))
    assert "JIT_TASKS" in text and "3 replica(s)" in text and "non-clustered" in text
    assert "JIT_NATS_STREAM_REPLICAS" in text


def test_a_refusal_of_one_copy_does_not_blame_the_replicas_setting() -> None:
    exc = BadRequestError(code=400, err_code=10065, description="subjects overlap with an existing stream")
    assert "JIT_NATS_STREAM_REPLICAS" not in str(_refused(stream_for("tasks"), exc))


def test_a_long_server_description_is_not_echoed_whole() -> None:
    exc = BadRequestError(code=400, err_code=1, description="x" * 10_000)
    assert len(str(_refused(stream_for("tasks"), exc))) < 600


def test_an_election_in_progress_is_not_a_refusal_but_too_few_servers_is() -> None:
    assert not _is_refusal(ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable"))
    assert _is_refusal(ServiceUnavailableError(code=503, err_code=10023, description="insufficient resources"))
    assert _is_refusal(BadRequestError(code=400, err_code=10074))


def test_a_cluster_member_routes_to_every_other_member_and_shares_name_and_domain(tmp_path: Path) -> None:
    cluster = NatsCluster.local(tmp_path, 3, name="jit-nl", domain="nl")
    configs = [m.config() for m in cluster.members]
    names = [c["server_name"] for c in configs]
    assert len(set(names)) == 3
    route_ports = [c["cluster"]["listen"].rsplit(":", 1)[1] for c in configs]
    for i, cfg in enumerate(configs):
        assert cfg["cluster"]["name"] == "jit-nl"
        assert cfg["jetstream"]["domain"] == "nl"
        assert cfg["jetstream"]["store_dir"] == str(tmp_path / names[i])
        assert sorted(r.rsplit(":", 1)[1] for r in cfg["cluster"]["routes"]) == sorted(
            p for j, p in enumerate(route_ports) if j != i
        )
        assert all(r.startswith("nats-route://127.0.0.1:") for r in cfg["cluster"]["routes"])
        assert cfg["listen"].startswith("127.0.0.1:") and cfg["http"].startswith("127.0.0.1:")
    assert CommonSettings(nats_url=cluster.address).nats_servers == cluster.urls


def test_every_member_takes_the_node_users_and_only_test_code_gets_credentials_in_its_urls(tmp_path: Path) -> None:
    users = node_users(tmp_path / "users")
    suite = Credentials("suite", SecretStr("s3cret-of-the-suite"))
    cluster = NatsCluster.local(tmp_path, authorization=users.authorization(), url_credentials=suite)
    for member in cluster.members:
        names = {u["user"] for u in member.config()["authorization"]["users"]}
        assert names >= {"tasks", "preservation", "admin"}
    assert all("suite:s3cret-of-the-suite@" in u for u in cluster.urls)
    assert "s3cret" not in cluster.address and "suite" not in cluster.address
    assert "s3cret" not in repr(cluster)


def test_a_cluster_without_a_domain_names_none(tmp_path: Path) -> None:
    assert all("domain" not in m.config()["jetstream"] for m in NatsCluster.local(tmp_path).members)


def test_make_run_nats_cluster_takes_an_odd_number_of_servers() -> None:
    from jitdev.stack import parse_nats_cluster

    assert parse_nats_cluster("") == 1
    assert parse_nats_cluster("3") == 3
    for bad in ("2", "4", "three", "-1"):
        with pytest.raises(ValueError, match="NATS_CLUSTER"):
            parse_nats_cluster(bad)


def test_make_run_gives_the_services_every_server_of_its_cluster_and_three_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jitdev import stack

    monkeypatch.setattr(stack, "CLUSTER_MARKER", tmp_path / "nats-cluster")
    monkeypatch.setattr(stack, "TLS_MARKER", tmp_path / "tls")
    monkeypatch.setattr(stack, "NATS_PORT", 4222)
    assert stack.service_env()["JIT_NATS_URL"] == "nats://127.0.0.1:4222"
    assert stack.service_env()["JIT_NATS_STREAM_REPLICAS"] == "1"
    assert stack.nats_pid_names() == ["nats"]
    (tmp_path / "nats-cluster").write_text("3\n")
    env = stack.service_env()
    assert env["JIT_NATS_URL"] == "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
    assert env["JIT_NATS_STREAM_REPLICAS"] == "3"
    assert stack.nats_pid_names() == ["nats-1", "nats-2", "nats-3"]
