"""``jit node check``: a node's configuration checked before it serves, each problem said in one sentence.

What it checks: the settings a country node needs are there; URLs and addresses parse; the country and
the peers are real ISO 3166-1 codes; each key-encryption key decodes to 32 bytes; key, credential and
certificate files exist, and secret ones are readable by their owner only (no group or other bits);
certificates are valid now, not near expiry, match their keys and chain to the node's CA; with the
node's NATS server configuration, that a node with peers is linked to a hub whose URL parses; optionally,
each database answers.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pycountry
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jitcli.nodeconf import SERVICES, NodeState
from jitlib import pki

#: A certificate that expires sooner than this is reported (renew it before it stops the node).
EXPIRY_WARNING = dt.timedelta(days=30)
#: The TLS settings: (certificate, its key) pairs, and CA files.
TLS_PAIRS = (
    ("JIT_TLS_CERT_FILE", "JIT_TLS_KEY_FILE"),
    ("JIT_TLS_CLIENT_CERT_FILE", "JIT_TLS_CLIENT_KEY_FILE"),
    ("JIT_NATS_TLS_CERT_FILE", "JIT_NATS_TLS_KEY_FILE"),
)
TLS_CAS = ("JIT_TLS_CA_FILE", "JIT_NATS_TLS_CA_FILE", "JIT_OIDC_CA_FILE")
#: Settings naming files that hold a secret (besides the key files of TLS_PAIRS and the KEKs).
SECRET_FILE_SETTINGS: tuple[str, ...] = ()


def known_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    def check(self, ok: bool, problem: str) -> bool:
        self.checked += 1
        if not ok:
            self.problems.append(problem)
        return ok


def _secret_file(report: Report, setting: str, path: Path) -> bool:
    """The file exists, is a regular file, and only its owner may read it."""
    if not report.check(path.is_file(), f"{setting} names {path}, which does not exist."):
        return False
    mode = stat.S_IMODE(path.stat().st_mode)
    return report.check(
        mode & 0o077 == 0,
        f"{path} ({setting}) may be read by others (mode {mode:04o}): make it 0600 (chmod 600 {path}).",
    )


def _kek(report: Report, setting: str, text: str) -> None:
    """One key per line (a rotation lists the new one first), each the base64 of 32 bytes."""
    lines = [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]
    if not report.check(bool(lines), f"the key-encryption key of {setting} is empty."):
        return
    for n, line in enumerate(lines, 1):
        where = f"{setting}" + (f" (key {n})" if len(lines) > 1 else "")
        try:
            key = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            report.check(False, f"the key-encryption key of {where} is not base64.")
            continue
        report.check(
            len(key) == 32,
            f"the key-encryption key of {where} is {len(key)} bytes; it must be 32 (base64 of 32 random bytes).",
        )


def _kek_setting(report: Report, env: Mapping[str, str], prefix: str) -> bool:
    """Check ``<prefix>KEK`` or ``<prefix>KEK_FILE`` when set; whether either is."""
    value, file = env.get(prefix + "KEK", ""), env.get(prefix + "KEK_FILE", "")
    if value:
        _kek(report, prefix + "KEK", value)
    elif file and _secret_file(report, prefix + "KEK_FILE", Path(file)):
        _kek(report, prefix + "KEK_FILE", Path(file).read_text())
    return bool(value or file)


def _keks(report: Report, env: Mapping[str, str]) -> None:
    """The node's KEK (``JIT_KEK_FILE`` or ``JIT_KEK``), or each service's own (``JIT_<SERVICE>_KEK_FILE``)."""
    node = _kek_setting(report, env, "JIT_")
    without = [name for name in SERVICES if not _kek_setting(report, env, f"JIT_{name.upper()}_")]
    if not node:
        report.check(
            not without,
            f"no key-encryption key for {', '.join(without)}: set JIT_KEK_FILE to a file holding the base64 of "
            f"32 random bytes (0600).",
        )


def _url(report: Report, setting: str, value: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = urlsplit(""), False
    return report.check(
        parts.scheme in schemes and bool(parts.hostname) and port_ok,
        f"{setting} is not a URL of the form {schemes[0]}://host[:port] (allowed: {', '.join(schemes)}).",
    )


def _listen(report: Report, setting: str, value: str) -> None:
    host, sep, port = value.rpartition(":")
    report.check(
        bool(sep) and bool(host) and port.isdigit() and 0 < int(port) < 65536,
        f"{setting} is not an address of the form host:port.",
    )


def _country(report: Report, env: Mapping[str, str]) -> str:
    code = env.get("JIT_NODE_JURISDICTION", "").strip()
    if not report.check(bool(code), "JIT_NODE_JURISDICTION is not set: a node needs its country (such as NL)."):
        return ""
    report.check(
        code.isupper() and len(code) == 2 and known_country(code),
        f"JIT_NODE_JURISDICTION is {code[:20]!r}, which is not an ISO 3166-1 country code (such as NL).",
    )
    return code


def _peers(report: Report, env: Mapping[str, str], country: str) -> None:
    raw = env.get("JIT_FEDERATION_PEERS", "")
    peers = [p.strip() for p in raw.split(",") if p.strip()]
    if not raw.strip():
        return
    unknown = [p for p in peers if not (p.isupper() and len(p) == 2 and known_country(p))]
    report.check(
        not unknown,
        f"JIT_FEDERATION_PEERS names {', '.join(unknown[:3])[:40]}, not ISO 3166-1 country codes.",
    )
    report.check(country not in peers, f"JIT_FEDERATION_PEERS names the node's own country {country}.")
    twice = sorted({p for p in peers if peers.count(p) > 1})
    report.check(not twice, f"JIT_FEDERATION_PEERS names {', '.join(twice)} more than once.")
    report.check(
        all(p.strip() for p in raw.strip().split(",")), "JIT_FEDERATION_PEERS has an empty entry (a comma too many)."
    )


def _issuers(report: Report, env: Mapping[str, str]) -> None:
    many = env.get("JIT_OIDC_ISSUERS", "").strip()
    one = env.get("JIT_OIDC_ISSUER", "").strip()
    if not report.check(bool(one or many), "neither JIT_OIDC_ISSUER nor JIT_OIDC_ISSUERS is set."):
        return
    if one:
        _url(report, "JIT_OIDC_ISSUER", one, ("https", "http"))
    for item in [i for i in many.split(",") if i.strip()]:
        code, sep, issuer = item.strip().partition("=")
        if report.check(bool(sep), "JIT_OIDC_ISSUERS has an entry that is not COUNTRY=issuer-URL."):
            report.check(known_country(code.strip()), "JIT_OIDC_ISSUERS names a country code that is not ISO 3166-1.")
            _url(report, f"JIT_OIDC_ISSUERS ({code.strip()[:8]})", issuer.strip(), ("https", "http"))


def _databases(report: Report, env: Mapping[str, str], node: NodeState, reach: bool) -> None:
    for svc in node.services:
        setting = f"JIT_{svc.name.upper()}_DATABASE_URL"
        try:
            url = sa.engine.make_url(svc.database_url)
        except sa.exc.ArgumentError:
            report.check(False, f"{setting} is not a database URL (sqlite:///path or postgresql+psycopg://...).")
            continue
        if not report.check(
            url.drivername in ("sqlite", "postgresql+psycopg", "postgresql"),
            f"{setting} uses {url.drivername[:30]}; the services run on sqlite or postgresql+psycopg.",
        ):
            continue
        if url.drivername == "sqlite":
            folder = Path(url.database or "").parent
            report.check(
                folder.is_dir() or not folder.exists(),
                f"the {svc.name} database's folder {folder} is not a folder.",
            )
        if reach:
            engine = sa.create_engine(svc.database_url)
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                    letters = _dead_letters(conn)
            except Exception as exc:
                first = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
                report.check(False, f"the {svc.name} database does not answer: {(first or ['no reason'])[0][:160]}.")
            else:
                report.checked += 1
                report.check(not letters, _set_aside(svc.name, letters))
            finally:
                engine.dispose()


def _dead_letters(conn: sa.Connection) -> list[tuple[str, int, str]]:
    """The events each consumer of a service set aside (``dead_letters``): its name, how many, when the oldest
    was; none in a database not migrated yet. Nothing of what they carry (sealed) nor why (an error may quote
    a record)."""
    if not sa.inspect(conn).has_table("dead_letters"):
        return []
    rows = conn.execute(
        sa.text("SELECT consumer, count(*), min(recorded_at) FROM dead_letters GROUP BY consumer ORDER BY consumer")
    )
    return [(str(consumer)[:100], int(count), str(oldest)[:16]) for consumer, count, oldest in rows]


def _set_aside(service: str, letters: list[tuple[str, int, str]]) -> str:
    total = sum(count for _, count, _ in letters)
    each = ", ".join(f"{count} by {consumer}" for consumer, count, _ in letters[:5])
    oldest = min((when for _, _, when in letters), default="")
    return (
        f"the {service} service set aside {total} event(s) it could not apply ({each}; the oldest on {oldest}): "
        "what a replica's consumer set aside is tried again at the service's next start (after an upgrade), "
        "the service's log says why each was set aside."
    )


def _load_key(path: Path) -> object:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _certificate(
    report: Report, setting: str, path: Path, now: dt.datetime, cas: list[x509.Certificate]
) -> x509.Certificate | None:
    if not report.check(path.is_file(), f"{setting} names {path}, which does not exist."):
        return None
    try:
        cert = pki.load_certificate(path)
    except pki.PkiError:
        report.check(False, f"{path} ({setting}) is not a PEM certificate.")
        return None
    subject = cert.subject.rfc4514_string()[:80]
    if not report.check(cert.not_valid_before_utc <= now, f"the certificate {path} ({subject}) is not valid yet."):
        return cert
    if not report.check(cert.not_valid_after_utc > now, f"the certificate {path} ({subject}) has expired."):
        return cert
    left = cert.not_valid_after_utc - now
    report.check(
        left > EXPIRY_WARNING, f"the certificate {path} ({subject}) expires in {left.days} days: renew it now."
    )
    if cas:
        try:
            pki.verify_chain(cert, cas, now=now)
        except pki.PkiError:
            report.check(False, f"the certificate {path} ({subject}) is not issued by the node's CA (JIT_TLS_CA_FILE).")
        else:
            report.checked += 1
    return cert


def _tls(report: Report, env: Mapping[str, str], now: dt.datetime) -> None:
    cas: list[x509.Certificate] = []
    for setting in TLS_CAS:
        value = env.get(setting, "")
        if not value:
            continue
        path = Path(value)
        if not report.check(path.is_file(), f"{setting} names {path}, which does not exist."):
            continue
        try:
            found = pki.load_certificates(path)
        except pki.PkiError:
            report.check(False, f"{path} ({setting}) is not a PEM certificate bundle.")
            continue
        for ca in found:
            report.check(ca.not_valid_after_utc > now, f"the CA certificate in {path} has expired.")
        if setting == "JIT_TLS_CA_FILE":
            cas = found
    report.check(
        bool(env.get("JIT_TLS_CERT_FILE")),
        "JIT_TLS_CERT_FILE is not set: the node's gRPC ports would serve without TLS.",
    )
    report.check(bool(env.get("JIT_TLS_CA_FILE")), "JIT_TLS_CA_FILE is not set: nothing says which CA the node trusts.")
    for cert_setting, key_setting in TLS_PAIRS:
        cert_file, key_file = env.get(cert_setting, ""), env.get(key_setting, "")
        if not cert_file and not key_file:
            continue
        if not report.check(bool(cert_file), f"{key_setting} is set but {cert_setting} is not."):
            continue
        if not report.check(bool(key_file), f"{cert_setting} is set but its key, {key_setting}, is not."):
            continue
        cert = _certificate(report, cert_setting, Path(cert_file), now, cas)
        if not _secret_file(report, key_setting, Path(key_file)):
            continue
        try:
            key = _load_key(Path(key_file))
        except (ValueError, TypeError):
            report.check(False, f"{key_file} ({key_setting}) is not an unencrypted PEM private key.")
            continue
        if cert is not None:
            report.check(
                cert.public_key() == key.public_key(),  # type: ignore[attr-defined]
                f"the key {key_file} ({key_setting}) is not the key of the certificate {cert_file}.",
            )


def _nats_credentials(report: Report, env: Mapping[str, str]) -> None:
    """Each service's NATS user (``<service>.json`` in ``JIT_NATS_CREDENTIALS_DIR``, or its own
    ``JIT_<SERVICE>_NATS_PASSWORD``/``JIT_NATS_PASSWORD``): present, private, readable."""
    folder = env.get("JIT_NATS_CREDENTIALS_DIR", "")
    if not folder:
        report.check(
            bool(env.get("JIT_NATS_PASSWORD")),
            "neither JIT_NATS_CREDENTIALS_DIR nor JIT_NATS_PASSWORD is set: the services would connect to NATS "
            "without credentials, which the node's NATS refuses.",
        )
        return
    path = Path(folder)
    if not report.check(path.is_dir(), f"JIT_NATS_CREDENTIALS_DIR names {path}, which is not a folder."):
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    report.check(mode & 0o077 == 0, f"the NATS credentials folder {path} may be read by others (mode {mode:04o}).")
    for name in (*SERVICES, "backup"):
        file = path / f"{name}.json"
        if not report.check(file.is_file(), f"there are no NATS credentials for {name} ({file} does not exist)."):
            continue
        if not _secret_file(report, "JIT_NATS_CREDENTIALS_DIR", file):
            continue
        try:
            data = json.loads(file.read_text())
            ok = isinstance(data, dict) and bool(data.get("user")) and bool(data.get("password"))
        except ValueError:
            ok = False
        report.check(ok, f"the NATS credentials file {file} does not hold a user and a password (JSON).")


def _hub_link(report: Report, env: Mapping[str, str], path: Path) -> None:
    """The node's NATS configuration (``nats/nats-server.json``): a node with peers reaches them through its
    leafnode link to the hub, whose URL must parse. The URL holds the link password: never shown."""
    from jitcli.node_hub import hub_url_problem

    try:
        conf = json.loads(path.read_text())
    except (OSError, ValueError):
        report.check(False, f"the NATS server configuration {path} is not readable JSON.")
        return
    leafnodes = conf.get("leafnodes") if isinstance(conf, dict) else None
    remotes = leafnodes.get("remotes") if isinstance(leafnodes, dict) else None
    urls: list[str] = []
    for remote in remotes if isinstance(remotes, list) else []:
        url = remote.get("url") if isinstance(remote, dict) else None
        urls += url if isinstance(url, list) else [url] if isinstance(url, str) else []
    if env.get("JIT_FEDERATION_PEERS", "").strip():
        report.check(
            bool(urls),
            f"JIT_FEDERATION_PEERS names peers but the NATS configuration {path} has no link to a federation hub "
            f"(leafnodes.remotes): run jit node init with --hub, or add the remote.",
        )
    for url in urls:
        parts = urlsplit(url) if "://" in url else None
        # Show the URL without its user and password.
        shown = f"{parts.scheme}://{parts.hostname}" if parts is not None and parts.hostname else "(unparsable)"
        problem = hub_url_problem(url)
        report.check(problem is None, f"the hub URL {shown[:80]} in {path} {problem}.")


def check(
    env: Mapping[str, str],
    *,
    reach_databases: bool = False,
    now: dt.datetime | None = None,
    nats_config: Path | None = None,
) -> Report:
    """Every problem of the node configuration ``env``, one sentence each; with ``nats_config`` (the
    node's NATS server configuration), its link to the federation hub too."""
    now = now or dt.datetime.now(dt.UTC)
    report = Report()
    node = NodeState.of(env)
    country = _country(report, env)
    _peers(report, env, country)
    state_dir = env.get("JIT_STATE_DIR", "")
    if report.check(bool(state_dir), "JIT_STATE_DIR is not set: say where the node keeps its state."):
        path = Path(state_dir)
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            report.check(
                path.is_dir() and mode & 0o077 == 0,
                f"the state folder {path} may be read by others (mode {mode:04o}): make it 0700.",
            )
    nats_url = env.get("JIT_NATS_URL", "")
    if report.check(bool(nats_url), "JIT_NATS_URL is not set: say where the node's NATS server is."):
        for one in nats_url.split(","):
            _url(report, "JIT_NATS_URL", one.strip(), ("tls", "nats"))
    _issuers(report, env)
    for name in SERVICES:
        listen = env.get(f"JIT_{name.upper()}_LISTEN", "")
        if listen:
            _listen(report, f"JIT_{name.upper()}_LISTEN", listen)
    _databases(report, env, node, reach_databases)
    _keks(report, env)
    _tls(report, env, now)
    _nats_credentials(report, env)
    for setting in SECRET_FILE_SETTINGS:
        if env.get(setting):
            _secret_file(report, setting, Path(env[setting]))
    if nats_config is not None:
        _hub_link(report, env, nats_config)
    return report
