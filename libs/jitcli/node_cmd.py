"""``jit node ...``: the operator's command for one country node: back it up and restore it, check its
configuration, and set one up.

Every subcommand reads the node's configuration from the environment, or from the env file given with
``--env-file`` (the one ``jit node init`` writes), whose values win over the environment.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any

import typer

from jitcli import node_backup, node_check, node_hub, node_init
from jitcli.nodeconf import NodeState, read_env
from jitcli.render import CliError, emit_json, note
from jitcli.session import AppState
from jitlib import natsauth, pki, tls

app = typer.Typer(
    help="Operate a country node: back up, restore, check its configuration, set one up.", no_args_is_help=True
)

EnvFileOpt = Annotated[
    Path | None,
    typer.Option("--env-file", metavar="FILE", help="The node's settings (KEY=VALUE lines); default: the environment."),
]
NatsUrlOpt = Annotated[
    str | None, typer.Option("--nats-url", metavar="URL", help="The node's NATS server; default: JIT_NATS_URL.")
]


def _nats(env: dict[str, str], url: str | None) -> node_backup.NatsOptions:
    """How the command reaches the node's NATS: its servers, TLS as the services use it (JIT_NATS_TLS_*)."""
    servers = url or env.get("JIT_NATS_URL") or "nats://127.0.0.1:4222"
    options: dict[str, Any] = {}
    ca, cert, key = (env.get(f"JIT_NATS_TLS_{k}_FILE") for k in ("CA", "CERT", "KEY"))
    if ca or any(u.strip().startswith("tls://") for u in servers.split(",")):
        try:
            options["tls"] = tls.client_context(
                Path(ca) if ca else None, Path(cert) if cert else None, Path(key) if key else None
            )
        except (tls.TlsConfigError, ssl.SSLError) as exc:
            raise CliError(f"cannot use the NATS TLS settings: {exc}") from None
    # The node's `backup` NATS user (jitlib.natsauth): backup.json in its credentials folder (jit node init).
    folder = env.get("JIT_NATS_CREDENTIALS_DIR")
    options |= natsauth.connect_options(natsauth.resolve("", None, Path(folder) if folder else None, "backup"))
    return node_backup.NatsOptions(servers, options)


def _node(env_file: Path | None) -> tuple[dict[str, str], NodeState]:
    if env_file is not None and not env_file.is_file():
        raise CliError(f"the env file {env_file} does not exist")
    env = read_env(env_file)
    return env, NodeState.of(env)


@app.command()
def backup(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(metavar="ARCHIVE", help="The archive to write (a new file, .tar.gz).")],
    env_file: EnvFileOpt = None,
    nats_url: NatsUrlOpt = None,
    no_keys: Annotated[
        bool, typer.Option("--no-keys", help="Leave the key-encryption key files out (keep them safe elsewhere).")
    ] = False,
    encrypt_key: Annotated[
        Path | None,
        typer.Option("--encrypt-key", metavar="FILE", help="Seal the archive with this backup key (base64, 32 bytes)."),
    ] = None,
) -> None:
    """Back up the node while it runs, in one archive (mode 0600).

    JetStream streams and their consumers, every service's database, the blob folders and the key files,
    with a manifest of their SHA-256 sums.
    """
    state: AppState = ctx.obj
    env, node = _node(env_file)
    say = (lambda _: None) if state.json else note
    try:
        key = node_backup.load_backup_key(encrypt_key) if encrypt_key else None
        manifest = node_backup.backup(node, out, _nats(env, nats_url), keys=not no_keys, say=say, encrypt_key=key)
    except (node_backup.BackupError, node_backup.jsb.JetStreamBackupError) as exc:
        raise CliError(str(exc)) from None
    if state.json:
        emit_json({"archive": str(out), **manifest})
        return
    sealed = ", sealed with the backup key" if manifest["sealed"] else ""
    typer.echo(f"backed up {len(manifest['parts'])} parts to {out} (keys {manifest['keys']}{sealed})")


@app.command()
def restore(
    ctx: typer.Context,
    archive: Annotated[Path, typer.Argument(metavar="ARCHIVE", help="An archive written by `jit node backup`.")],
    env_file: EnvFileOpt = None,
    nats_url: NatsUrlOpt = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Overwrite the databases, blobs and streams the target already holds."),
    ] = False,
    check_only: Annotated[
        bool, typer.Option("--check-only", help="Only check the archive against its manifest; change nothing.")
    ] = False,
    decrypt_key: Annotated[
        Path | None,
        typer.Option("--decrypt-key", metavar="FILE", help="The backup key a sealed archive was made with."),
    ] = None,
) -> None:
    """Restore a node from an archive, with its services stopped.

    The archive is checked first (every part against its SHA-256, the node's country, its keys), then
    databases, blobs, keys and streams are put back. Events published after the backup's stream snapshot
    are published again, with their ids.
    """
    state: AppState = ctx.obj
    try:
        key = node_backup.load_backup_key(decrypt_key) if decrypt_key else None
        if check_only:
            manifest = node_backup.verify(archive, key)
            verb = "checked"
        else:
            env, node = _node(env_file)
            say = (lambda _: None) if state.json else note
            manifest = node_backup.restore(archive, node, _nats(env, nats_url), replace=replace, say=say, key=key)
            verb = "restored"
    except (node_backup.BackupError, node_backup.jsb.JetStreamBackupError) as exc:
        raise CliError(str(exc)) from None
    if state.json:
        emit_json({"archive": str(archive), "result": verb, **manifest})
        return
    typer.echo(f"{verb} {archive}: {len(manifest['parts'])} parts intact, made {manifest['created_at']}")


@app.command()
def check(
    ctx: typer.Context,
    env_file: EnvFileOpt = None,
    databases: Annotated[bool, typer.Option("--databases", help="Also connect to each service's database.")] = False,
    nats_config: Annotated[
        Path | None,
        typer.Option(
            "--nats-config",
            metavar="FILE",
            help="The node's NATS server configuration (default: nats/nats-server.json beside --env-file).",
        ),
    ] = None,
) -> None:
    """Check a node's configuration: each problem is one sentence; exit code 1 when there is any."""
    state: AppState = ctx.obj
    env, _ = _node(env_file)
    if nats_config is None and env_file is not None:
        beside = env_file.parent / "nats" / "nats-server.json"
        nats_config = beside if beside.is_file() else None
    elif nats_config is not None and not nats_config.is_file():
        raise CliError(f"the NATS configuration {nats_config} does not exist")
    report = node_check.check(env, reach_databases=databases, nats_config=nats_config)
    if state.json:
        emit_json({"ok": not report.problems, "checked": report.checked, "problems": report.problems})
    elif report.problems:
        for problem in report.problems:
            typer.echo(problem)
        note(f"{len(report.problems)} problem(s) in {report.checked} checks")
    else:
        typer.echo(f"the node configuration is sound ({report.checked} checks)")
    if report.problems:
        raise typer.Exit(1)


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()] if value else []


@app.command()
def init(
    ctx: typer.Context,
    country: Annotated[str, typer.Option("--country", metavar="CC", help="The node's country (ISO 3166-1, e.g. NL).")],
    directory: Annotated[
        Path | None, typer.Option("--dir", metavar="DIR", help="Where to write the node (default: ./node-<cc>).")
    ] = None,
    peers: Annotated[str, typer.Option("--peers", metavar="CC,CC", help="The linked nodes' countries.")] = "",
    name: Annotated[
        list[str] | None,
        typer.Option("--name", metavar="HOST", help="DNS name or IP address of the node's host (repeat)."),
    ] = None,
    issuer: Annotated[
        str, typer.Option("--issuer", metavar="URL", help="The node's realm issuer (default: on the node's host).")
    ] = "",
    bind: Annotated[str, typer.Option("--bind", metavar="HOST", help="Where the services and NATS listen.")] = (
        "127.0.0.1"
    ),
    postgres: Annotated[
        str,
        typer.Option("--postgres", metavar="URL", help="A PostgreSQL server: a database per service (default SQLite)."),
    ] = "",
    nats_port: Annotated[int, typer.Option("--nats-port", metavar="PORT", help="The node's NATS client port.")] = (
        node_init.NATS_PORT
    ),
    ca_cert: Annotated[
        Path | None, typer.Option("--ca-cert", metavar="PEM", help="Your CA's certificate (default: a new one).")
    ] = None,
    ca_key: Annotated[
        Path | None,
        typer.Option("--ca-key", metavar="PEM", help="Your CA's key, to issue the node's certificates with it."),
    ] = None,
    hub: Annotated[
        str,
        typer.Option("--hub", metavar="URL", help="The federation hub's leafnode URL (nats-leaf://host:7422)."),
    ] = "",
    link_password_file: Annotated[
        Path | None,
        typer.Option("--link-password-file", metavar="FILE", help="The link password (0600; default: a new one)."),
    ] = None,
    hub_ca: Annotated[
        Path | None,
        typer.Option("--hub-ca", metavar="PEM", help="The CA of the hub's certificate: TLS on the link."),
    ] = None,
) -> None:
    """Write a new country node's settings, keys and certificates.

    Every JIT_* setting, the key-encryption key, a CA (or yours) and certificates, the NATS users and
    the NATS server's configuration. `jit node check` passes on it.
    """
    state: AppState = ctx.obj
    cc = country.strip().upper()
    opts = node_init.InitOptions(
        country=cc,
        directory=directory or Path(f"node-{cc.lower()}"),
        peers=_codes(peers),
        names=list(name) if name else ["localhost", "127.0.0.1", "::1"],
        issuer=issuer,
        bind=bind,
        postgres=postgres,
        ca_cert=ca_cert,
        ca_key=ca_key,
        nats_port=nats_port,
        hub=hub.strip(),
        link_password_file=link_password_file,
        hub_ca=hub_ca,
    )
    try:
        result = node_init.init(opts)
    except (node_init.InitError, pki.PkiError) as exc:
        raise CliError(str(exc)) from None
    if state.json:
        emit_json(
            {
                "directory": str(result.directory),
                "env_file": str(result.env_file),
                "cli_env_file": str(result.cli_env_file),
                "written": [str(p) for p in result.written],
                "notes": result.notes,
            }
        )
        return
    typer.echo(f"the {cc} node is in {result.directory}: {len(result.written)} files")
    typer.echo(f"  settings:     {result.env_file}")
    typer.echo(f"  jit command:  {result.cli_env_file}")
    for text in result.notes:
        note(f"note: {text}")
    note(f"next: jit node check --env-file {result.env_file}")


@app.command("hub-config")
def hub_config(
    ctx: typer.Context,
    countries: Annotated[str, typer.Option("--countries", metavar="CC,CC", help="The federation's countries.")],
    passwords_dir: Annotated[
        Path,
        typer.Option("--passwords-dir", metavar="DIR", help="Each country's link password: DIR/<cc>.password (0600)."),
    ],
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The hub's configuration to write (new file).")],
    listen: Annotated[str, typer.Option("--listen", metavar="HOST", help="Where the hub listens.")] = (
        "0.0.0.0"  # noqa: S104 - a hub is reached by other countries' nodes
    ),
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="The hub's client port.")] = 4222,
    leafnode_port: Annotated[
        int, typer.Option("--leafnode-port", metavar="PORT", help="The port the nodes link to.")
    ] = 7422,
    monitor_port: Annotated[
        int | None, typer.Option("--monitor-port", metavar="PORT", help="HTTP monitoring (/leafz); default: off.")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", metavar="PEM", help="The hub's certificate (TLS on its ports).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", metavar="PEM", help="The hub's key.")] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option("--tls-ca", metavar="PEM", help="The countries' CAs (the nodes' certificates are checked)."),
    ] = None,
) -> None:
    """Write a federation hub's NATS configuration for a set of countries, from their link passwords.

    One account per country, with the exports that carry exactly what each owner sends each peer
    (jitlib.natsconf.hub_config). The file holds every link password: it is written 0600.
    """
    state: AppState = ctx.obj
    codes = _codes(countries)
    for code in codes:
        if not (len(code) == 2 and node_check.known_country(code)):
            raise CliError(f"--countries names {code[:12]!r}, not an ISO 3166-1 country code")
    opts = node_hub.HubOptions(
        countries=codes,
        passwords_dir=passwords_dir,
        out=out,
        host=listen,
        port=port,
        leafnode_port=leafnode_port,
        monitor_port=monitor_port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_ca=tls_ca,
    )
    try:
        node_hub.hub(opts)
    except node_hub.HubError as exc:
        raise CliError(str(exc)) from None
    if state.json:
        emit_json({"out": str(out), "countries": codes, "tls": tls_cert is not None})
        return
    typer.echo(f"the hub of {', '.join(codes)} is in {out} (nats-server -c {out})")
    if tls_cert is None:
        note("note: the links are plaintext: give --tls-cert, --tls-key and --tls-ca for TLS")
