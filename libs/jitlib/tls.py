"""TLS for the links a node's parts open and serve: gRPC server and channel credentials (grpcio), and
client ``ssl.SSLContext`` objects for HTTPS (Keycloak) and NATS. Every function takes file paths, so a
federation's own CA and a test CA made by :mod:`jitlib.pki` are used the same way.

A file that is missing or unreadable stops the start with the setting's file named (never its content).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from jitlib import pki


class TlsConfigError(ValueError):
    """A TLS setting is incomplete or names a file that cannot be used."""


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"{what}: cannot read {path} ({exc.strerror or type(exc).__name__})") from None


def _ca(path: Path) -> bytes:
    """The bytes of a CA file, checked to hold at least one PEM certificate."""
    data = _read(path, "TLS CA file")
    try:
        pki.load_certificates(path)
    except pki.PkiError as exc:
        raise TlsConfigError(f"TLS CA file: {exc}") from None
    return data


def _pair(cert_file: Path | None, key_file: Path | None, what: str) -> tuple[Path, Path] | None:
    if cert_file is None and key_file is None:
        return None
    if cert_file is None or key_file is None:
        raise TlsConfigError(f"{what}: set both the certificate file and the key file, or neither")
    try:
        pki.load_issued(cert_file, key_file)  # both are PEM and the key belongs to the certificate
    except pki.PkiError as exc:
        raise TlsConfigError(f"{what}: {exc}") from None
    return Path(cert_file), Path(key_file)


def server_credentials(
    cert_file: Path,
    key_file: Path,
    client_ca_file: Path | None = None,
    *,
    require_client_cert: bool = False,
) -> grpc.ServerCredentials:
    """gRPC server credentials. With ``require_client_cert`` (mutual TLS) a client must present a
    certificate issued by ``client_ca_file``; without it the server does not ask for one."""
    pair = _pair(cert_file, key_file, "TLS server certificate")
    assert pair is not None
    if require_client_cert and client_ca_file is None:
        raise TlsConfigError("client certificates are required but no CA file says who issues them")
    roots = _ca(client_ca_file) if client_ca_file is not None and require_client_cert else None
    return grpc.ssl_server_credentials(
        [(_read(pair[1], "TLS key file"), _read(pair[0], "TLS certificate file"))],
        root_certificates=roots,
        require_client_auth=require_client_cert,
    )


def channel_credentials(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> grpc.ChannelCredentials:
    """gRPC channel credentials trusting ``ca_file`` (the system's roots when None), presenting a client
    certificate when one is given (for servers that require mutual TLS)."""
    pair = _pair(cert_file, key_file, "TLS client certificate")
    return grpc.ssl_channel_credentials(
        root_certificates=_ca(ca_file) if ca_file is not None else None,
        private_key=_read(pair[1], "TLS client key file") if pair else None,
        certificate_chain=_read(pair[0], "TLS client certificate file") if pair else None,
    )


def client_context(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client-side ``ssl.SSLContext`` (hostname checked, TLS 1.2 at least) trusting ``ca_file`` or, when
    None, the system's roots; with a client certificate when one is given. For httpx and nats-py."""
    if ca_file is not None:
        _ca(ca_file)
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    pair = _pair(cert_file, key_file, "TLS client certificate")
    if pair is not None:
        ctx.load_cert_chain(str(pair[0]), str(pair[1]))
    return ctx


def first_dns_name(cert_file: Path) -> str | None:
    """The first DNS subject alt name of a certificate: the name a caller on the same host checks when it
    reaches the server by a loopback address the certificate may not carry."""
    from cryptography import x509

    cert = pki.load_certificate(cert_file)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    names = san.get_values_for_type(x509.DNSName)
    return names[0] if names else None
