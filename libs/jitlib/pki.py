"""Certificates for TLS on every link of a node: a self-signed certificate authority (for a test or demo
federation; a real federation brings its own CA), server and client certificates it signs, PEM files, and
the chain check. Built on ``cryptography``; keys are ECDSA P-256, which gRPC, nats-server and Keycloak all
accept, written as unencrypted PKCS#8 in files only their owner may read (0600).

A federation that brings its own CA uses only :func:`load_certificate`, :func:`load_key` and
:func:`verify_chain`: every TLS setting of the platform takes file paths, whoever issued the files.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

#: Names a certificate for a server on this machine carries unless told otherwise.
LOCAL_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
CA_DAYS = 3650
LEAF_DAYS = 825
#: Certificates start this long before "now", so a peer whose clock is slightly behind accepts them.
BACKDATE = dt.timedelta(minutes=5)


class PkiError(Exception):
    """A certificate or key file is missing, unreadable, or does not belong where it is used."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key. The key never shows in a repr."""

    certificate: x509.Certificate
    #: ECDSA P-256 when made here; a federation's own CA may have issued RSA (or other) keys.
    key: CertificateIssuerPrivateKeyTypes = field(repr=False)

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass(frozen=True)
class TlsFiles:
    """Where one party's TLS material lives: its certificate and key, and the CA it trusts."""

    cert: Path
    key: Path
    ca: Path


def _name(common_name: str, organization: str | None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)) - BACKDATE


def subject_alt_names(names: Iterable[str]) -> list[x509.GeneralName]:
    """DNS names and IP addresses (either spelling of an IP is taken as an IP) as subject alt names."""
    out: list[x509.GeneralName] = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def create_ca(
    common_name: str = "JIT test federation CA",
    *,
    organization: str | None = "JIT",
    days: int = CA_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, organization)
    start = _now(now)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def _issue(
    ca: Issued,
    common_name: str,
    names: Sequence[str],
    usages: list[x509.ObjectIdentifier],
    organization: str | None,
    days: int,
    now: dt.datetime | None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now(now)
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + dt.timedelta(days=days), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    sans = subject_alt_names(names)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    algorithm = None if isinstance(ca.key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(ca.key, algorithm), key)


def issue_server(
    ca: Issued,
    common_name: str = "localhost",
    names: Sequence[str] = LOCAL_NAMES,
    *,
    organization: str | None = "JIT",
    days: int = LEAF_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    """A server certificate for ``names`` (DNS names and IP addresses). It may also authenticate as a
    client (a node's leafnode link and its services' NATS connections use the same certificate)."""
    if not [n for n in names if n.strip()]:
        raise ValueError("names: a server certificate needs at least one DNS name or IP address")
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return _issue(ca, common_name, names, usages, organization, days, now)


def issue_client(
    ca: Issued,
    common_name: str,
    names: Sequence[str] = (),
    *,
    organization: str | None = "JIT",
    days: int = LEAF_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    """A client certificate (mutual TLS) whose subject common name says who the client is; it carries
    that name as a DNS subject alt name too unless ``names`` are given (verifiers require one)."""
    return _issue(ca, common_name, names or [common_name], [ExtendedKeyUsageOID.CLIENT_AUTH], organization, days, now)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with its final mode (never briefly world-readable), replaced atomically.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_certificate(certificate: x509.Certificate, path: Path) -> Path:
    """Write a certificate as PEM (0644: a certificate is public)."""
    _write(path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return path


def write_pem(issued: Issued, cert_path: Path, key_path: Path) -> None:
    """Write the certificate (0644) and its key (0600, PKCS#8 PEM)."""
    _write(key_path, issued.key_pem(), 0o600)
    write_certificate(issued.certificate, cert_path)


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file."""
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path}: not a readable PEM certificate ({type(exc).__name__})") from None


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (a CA file may hold several)."""
    try:
        certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path}: not a readable PEM certificate bundle ({type(exc).__name__})") from None
    return certs


def load_key(path: Path) -> CertificateIssuerPrivateKeyTypes:
    """An unencrypted PEM private key: the ECDSA keys this module writes, or the RSA (or EdDSA) keys a
    federation's own CA may have issued."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiError(f"{path}: not a readable unencrypted PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise PkiError(f"{path}: expected an EC, RSA or Ed25519 private key")
    return key


def load_issued(cert_path: Path, key_path: Path) -> Issued:
    """A certificate and its key, checked to belong together."""
    cert, key = load_certificate(cert_path), load_key(key_path)
    if cert.public_key() != key.public_key():
        raise PkiError(f"{key_path} is not the key of {cert_path}")
    return Issued(cert, key)


def verify_chain(
    leaf: x509.Certificate,
    trusted: Sequence[x509.Certificate],
    *,
    server_name: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Raise :class:`PkiError` unless ``leaf`` chains to one of ``trusted``. With ``server_name`` (a DNS
    name or IP address) it is checked as a server certificate for that name, else as a client's."""
    builder = PolicyBuilder().store(Store(list(trusted)))
    if now is not None:
        builder = builder.time(now)
    try:
        if server_name is None:
            builder.build_client_verifier().verify(leaf, [])
        else:
            (san,) = subject_alt_names([server_name])
            builder.build_server_verifier(san).verify(leaf, [])  # type: ignore[arg-type]
    except VerificationError as exc:
        raise PkiError(f"certificate {leaf.subject.rfc4514_string()} does not verify: {exc}") from None


@dataclass(frozen=True)
class LocalPki:
    """The files of a CA, one server certificate and one client certificate, as :func:`write_local_pki`
    lays them out in a directory."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server(self) -> TlsFiles:
        return TlsFiles(self.directory / "server.pem", self.directory / "server-key.pem", self.ca)

    @property
    def client(self) -> TlsFiles:
        return TlsFiles(self.directory / "client.pem", self.directory / "client-key.pem", self.ca)


def write_local_pki(
    directory: Path,
    names: Sequence[str] = LOCAL_NAMES,
    *,
    ca_name: str = "JIT test federation CA",
    client_name: str = "jit-service",
) -> LocalPki:
    """Create (or keep, when already there) a CA and a server and a client certificate in ``directory``:
    what ``make run TLS=1`` and the tests use. The CA key is written too (0600), to issue more later."""
    pki = LocalPki(Path(directory))
    if all(p.exists() for p in (pki.ca, pki.ca_key, pki.server.cert, pki.server.key, pki.client.cert, pki.client.key)):
        return pki
    ca = create_ca(ca_name)
    write_pem(ca, pki.ca, pki.ca_key)
    write_pem(issue_server(ca, names[0] if names else "localhost", names), pki.server.cert, pki.server.key)
    write_pem(issue_client(ca, client_name), pki.client.cert, pki.client.key)
    return pki
