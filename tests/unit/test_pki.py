"""jitlib.pki: a self-signed CA, the certificates it issues, PEM files and the chain check."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from jitlib import pki


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.create_ca("Unit test CA")


def test_a_server_certificate_verifies_against_its_ca_for_each_of_its_names(ca: pki.Issued) -> None:
    server = pki.issue_server(ca, "node.nl.example", ["node.nl.example", "localhost", "127.0.0.1"])
    for name in ("node.nl.example", "localhost", "127.0.0.1"):
        pki.verify_chain(server.certificate, [ca.certificate], server_name=name)


def test_a_server_certificate_does_not_verify_for_a_name_it_does_not_carry(ca: pki.Issued) -> None:
    server = pki.issue_server(ca, "localhost", ["localhost", "127.0.0.1"])
    with pytest.raises(pki.PkiError):
        pki.verify_chain(server.certificate, [ca.certificate], server_name="node.de.example")
    with pytest.raises(pki.PkiError):
        pki.verify_chain(server.certificate, [ca.certificate], server_name="10.0.0.1")


def test_a_certificate_from_another_ca_does_not_verify(ca: pki.Issued) -> None:
    other = pki.create_ca("Another CA")
    server = pki.issue_server(other)
    client = pki.issue_client(other, "intruder")
    with pytest.raises(pki.PkiError, match="does not verify"):
        pki.verify_chain(server.certificate, [ca.certificate], server_name="localhost")
    with pytest.raises(pki.PkiError):
        pki.verify_chain(client.certificate, [ca.certificate])


def test_a_ca_with_the_same_name_but_another_key_is_not_trusted(ca: pki.Issued) -> None:
    impostor = pki.create_ca("Unit test CA")
    server = pki.issue_server(impostor)
    with pytest.raises(pki.PkiError):
        pki.verify_chain(server.certificate, [ca.certificate], server_name="localhost")


def test_a_client_certificate_verifies_as_a_client_and_names_its_holder(ca: pki.Issued) -> None:
    client = pki.issue_client(ca, "tasks")
    pki.verify_chain(client.certificate, [ca.certificate])
    assert "CN=tasks" in client.subject
    usages = client.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_a_client_certificate_is_not_accepted_as_a_server_certificate(ca: pki.Issued) -> None:
    client = pki.issue_client(ca, "tasks", ["localhost"])
    with pytest.raises(pki.PkiError):
        pki.verify_chain(client.certificate, [ca.certificate], server_name="localhost")


def test_an_expired_certificate_does_not_verify(ca: pki.Issued) -> None:
    server = pki.issue_server(ca, days=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with pytest.raises(pki.PkiError):
        pki.verify_chain(server.certificate, [ca.certificate], server_name="localhost", now=later)


def test_server_names_become_dns_and_ip_subject_alt_names(ca: pki.Issued) -> None:
    server = pki.issue_server(ca, names=["localhost", "127.0.0.1", "::1"])
    san = server.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]


def test_a_server_certificate_needs_a_name(ca: pki.Issued) -> None:
    with pytest.raises(ValueError, match="names"):
        pki.issue_server(ca, names=[" "])


def test_the_ca_may_sign_leaves_only(ca: pki.Issued) -> None:
    constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    leaf = pki.issue_server(ca)
    assert not leaf.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_pem_files_round_trip_and_the_key_is_readable_by_its_owner_only(ca: pki.Issued, tmp_path: Path) -> None:
    server = pki.issue_server(ca)
    pki.write_pem(server, tmp_path / "s.pem", tmp_path / "private" / "s-key.pem")
    assert stat.S_IMODE((tmp_path / "private" / "s-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "s.pem").stat().st_mode) == 0o644
    loaded = pki.load_issued(tmp_path / "s.pem", tmp_path / "private" / "s-key.pem")
    assert loaded.certificate == server.certificate
    assert loaded.key.private_numbers() == server.key.private_numbers()
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "private" / "s-key.pem").read_bytes()


def test_a_key_that_does_not_belong_to_the_certificate_is_refused(ca: pki.Issued, tmp_path: Path) -> None:
    a, b = pki.issue_server(ca), pki.issue_server(ca)
    pki.write_pem(a, tmp_path / "a.pem", tmp_path / "a-key.pem")
    pki.write_pem(b, tmp_path / "b.pem", tmp_path / "b-key.pem")
    with pytest.raises(pki.PkiError, match="is not the key of"):
        pki.load_issued(tmp_path / "a.pem", tmp_path / "b-key.pem")


def test_unreadable_files_say_which_file_and_never_show_its_content(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nsecret-looking-garbage\n-----END CERTIFICATE-----\n")
    with pytest.raises(pki.PkiError) as err:
        pki.load_certificate(bad)
    assert "bad.pem" in str(err.value) and "garbage" not in str(err.value)
    with pytest.raises(pki.PkiError, match=r"missing\.pem"):
        pki.load_key(tmp_path / "missing.pem")


def test_the_key_never_shows_in_a_repr(ca: pki.Issued) -> None:
    assert "key" not in repr(ca).replace("EllipticCurvePrivateKey", "")


def test_a_bundle_of_cas_loads_every_certificate(ca: pki.Issued, tmp_path: Path) -> None:
    other = pki.create_ca("Another CA")
    (tmp_path / "bundle.pem").write_bytes(ca.certificate_pem() + other.certificate_pem())
    trusted = pki.load_certificates(tmp_path / "bundle.pem")
    assert len(trusted) == 2
    pki.verify_chain(pki.issue_server(other).certificate, trusted, server_name="127.0.0.1")


def test_local_pki_is_written_once_and_kept(tmp_path: Path) -> None:
    first = pki.write_local_pki(tmp_path / "tls")
    ca_bytes = first.ca.read_bytes()
    again = pki.write_local_pki(tmp_path / "tls")
    assert again.ca.read_bytes() == ca_bytes
    trusted = pki.load_certificates(first.ca)
    pki.verify_chain(pki.load_certificate(first.server.cert), trusted, server_name="localhost")
    pki.verify_chain(pki.load_certificate(first.client.cert), trusted)
    for key in (first.ca_key, first.server.key, first.client.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_federation_s_own_rsa_ca_and_rsa_certificates_are_used_as_they_are(tmp_path: Path) -> None:
    """Bringing your own CA: an RSA CA and its key (made elsewhere) load, issue, and what they issue serves."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    from jitlib import tls

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Federation RSA CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pki.write_pem(pki.Issued(cert, key), tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    ca = pki.load_issued(tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    server = pki.issue_server(ca)
    pki.verify_chain(server.certificate, [ca.certificate], server_name="localhost")
    pki.write_pem(server, tmp_path / "server.pem", tmp_path / "server-key.pem")
    tls.server_credentials(tmp_path / "server.pem", tmp_path / "server-key.pem")
    tls.client_context(tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server-key.pem")
