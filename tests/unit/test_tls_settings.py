"""TLS settings turned into credentials and nats-server ``tls`` blocks (jitlib.tls, jitlib.natsconf)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from jitlib import natsconf, pki, tls
from jitlib.config import CommonSettings


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> pki.LocalPki:
    return pki.write_local_pki(tmp_path_factory.mktemp("pki"))


def test_a_key_that_is_not_the_certificate_s_stops_the_start_naming_the_files(files: pki.LocalPki) -> None:
    with pytest.raises(tls.TlsConfigError, match=r"client-key\.pem is not the key of .*server\.pem"):
        tls.server_credentials(files.server.cert, files.client.key)


def test_a_certificate_without_its_key_is_refused(files: pki.LocalPki) -> None:
    with pytest.raises(tls.TlsConfigError, match="both"):
        tls.channel_credentials(files.ca, files.client.cert, None)


def test_client_certificates_cannot_be_required_without_a_ca(files: pki.LocalPki) -> None:
    with pytest.raises(tls.TlsConfigError, match="CA"):
        tls.server_credentials(files.server.cert, files.server.key, None, require_client_cert=True)


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(tls.TlsConfigError, match=r"missing-ca\.pem"):
        tls.client_context(tmp_path / "missing-ca.pem")


def test_a_client_context_checks_the_host_name_and_trusts_the_ca_only(files: pki.LocalPki) -> None:
    ctx = tls.client_context(files.ca, files.client.cert, files.client.key)
    assert ctx.check_hostname and ctx.verify_mode is ssl.CERT_REQUIRED
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in ctx.get_ca_certs()] == [
        ((("commonName", "JIT test federation CA"),), (("organizationName", "JIT"),))
    ]


def test_the_first_dns_name_is_what_a_loopback_caller_checks(files: pki.LocalPki) -> None:
    assert tls.first_dns_name(files.server.cert) == "localhost"


def test_grpc_tls_is_on_when_a_certificate_is_set() -> None:
    assert not CommonSettings().grpc_tls
    assert CommonSettings(tls_cert_file=Path("c.pem"), tls_key_file=Path("k.pem")).grpc_tls
    assert CommonSettings(nats_url="tls://nats.example:4222").nats_tls
    assert not CommonSettings().nats_tls


def test_a_nats_tls_block_verifies_clients_only_against_a_ca(files: pki.LocalPki) -> None:
    block = natsconf.tls_block(files.server.cert, files.server.key, files.ca, verify=True)
    assert block["verify"] is True and block["ca_file"] == str(files.ca)
    with pytest.raises(ValueError, match="CA"):
        natsconf.tls_block(files.server.cert, files.server.key, verify=True)


def test_a_local_server_with_tls_has_a_tls_block_and_without_has_none(files: pki.LocalPki, tmp_path: Path) -> None:
    plain = natsconf.local_config(port=4222, store_dir=tmp_path, server_name="n")
    assert "tls" not in plain
    block = natsconf.tls_block(files.server.cert, files.server.key)
    assert natsconf.local_config(port=4222, store_dir=tmp_path, server_name="n", tls=block)["tls"] == block


def test_a_node_s_link_to_the_hub_checks_the_hub_against_the_ca(files: pki.LocalPki, tmp_path: Path) -> None:
    node = natsconf.NodeNats(
        country="NL",
        port=4222,
        store_dir=tmp_path,
        hub_url="nats-leaf://hub.example:7422",
        password="pw",
        tls=natsconf.tls_block(files.server.cert, files.server.key),
        link_tls=natsconf.tls_block(files.client.cert, files.client.key, files.ca),
    ).config()
    (remote,) = node["leafnodes"]["remotes"]
    assert remote["tls"]["ca_file"] == str(files.ca) and remote["tls"]["cert_file"] == str(files.client.cert)
    assert node["tls"]["cert_file"] == str(files.server.cert)
    hub = natsconf.hub_config(
        ["NL", "DE"],
        {"NL": "a", "DE": "b"},
        port=4222,
        leafnode_port=7422,
        tls=natsconf.tls_block(files.server.cert, files.server.key, files.ca, verify=True),
    )
    assert hub["leafnodes"]["tls"]["verify"] is True and hub["tls"] == hub["leafnodes"]["tls"]


def test_an_empty_file_setting_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    from jitcli.config import CliSettings

    monkeypatch.setenv("JIT_TLS_CA_FILE", "")
    monkeypatch.setenv("JIT_OIDC_CA_FILE", " ")
    assert CommonSettings().tls_ca_file is None and CommonSettings().oidc_ca_file is None
    assert CliSettings().tls_ca_file is None and CliSettings().grpc_credentials() is None


def test_a_ca_file_that_holds_no_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.pem").write_text("not a certificate\n")
    with pytest.raises(tls.TlsConfigError, match=r"notes\.pem"):
        tls.channel_credentials(tmp_path / "notes.pem")


def test_a_failed_tls_handshake_is_told_apart_from_a_service_that_is_down() -> None:
    import grpc

    from jitcli.render import rpc_error_text

    class Failed(grpc.RpcError):
        def __init__(self, details: str) -> None:
            self._details = details

        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

        def details(self) -> str:
            return self._details

        def trailing_metadata(self) -> tuple[()]:
            return ()

    handshake = Failed("failed to connect to all addresses; Ssl handshake failed: CERTIFICATE_VERIFY_FAILED")
    assert "JIT_TLS_CA_FILE" in rpc_error_text(handshake, "tasks", "127.0.0.1:50051")
    down = Failed("failed to connect to all addresses; Connection refused")
    assert rpc_error_text(down, "tasks", "127.0.0.1:50051").endswith("(is it running? try make run)")


def test_a_local_federation_with_tls_renders_tls_on_the_hub_the_nodes_and_their_links(
    files: pki.LocalPki, tmp_path: Path
) -> None:
    import json

    from jitdev.federation import FederationNats

    fed = FederationNats(["NL", "DE"], tmp_path, 4229, 7422, {"NL": 4231, "DE": 4232}, tls=files)
    hub = json.loads(fed.hub.config_path.read_text())
    assert hub["tls"]["verify"] is True and hub["leafnodes"]["tls"]["verify"] is True
    for country in ("NL", "DE"):
        node = json.loads(fed.nodes[country].config_path.read_text())
        (remote,) = node["leafnodes"]["remotes"]
        assert remote["tls"]["ca_file"] == str(files.ca) and remote["tls"]["cert_file"] == str(files.server.cert)
        assert node["tls"]["cert_file"] == str(files.server.cert)
        assert fed.nodes[country].url.startswith("tls://")
        assert fed.node_env(country)["JIT_NATS_TLS_CA_FILE"] == str(files.ca)
    plain = FederationNats(["NL", "DE"], tmp_path / "plain", 4229, 7422, {"NL": 4231, "DE": 4232})
    assert "tls" not in json.loads(plain.hub.config_path.read_text())
    assert plain.nodes["NL"].url.startswith("nats://") and "JIT_NATS_TLS_CA_FILE" not in plain.node_env("NL")
