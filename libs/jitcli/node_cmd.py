"""``jit node ...``: the operator's command for one country node: back it up and restore it, check its
configuration, and set one up.

Every subcommand reads the node's configuration from the environment, or from the env file given with
``--env-file`` (the one ``jit node init`` writes), whose values win over the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from jitcli import node_backup, node_check
from jitcli.nodeconf import NodeState, read_env
from jitcli.render import CliError, emit_json, note
from jitcli.session import AppState

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
    options: dict[str, Any] = {}
    return node_backup.NatsOptions(url or env.get("JIT_NATS_URL") or "nats://127.0.0.1:4222", options)


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
) -> None:
    """Back up the node, while it runs: JetStream streams and consumers, every service's database, the
    blob folders and the key files, in one archive (mode 0600) with a manifest of SHA-256 sums."""
    state: AppState = ctx.obj
    env, node = _node(env_file)
    say = (lambda _: None) if state.json else note
    try:
        manifest = node_backup.backup(node, out, _nats(env, nats_url), keys=not no_keys, say=say)
    except (node_backup.BackupError, node_backup.jsb.JetStreamBackupError) as exc:
        raise CliError(str(exc)) from None
    if state.json:
        emit_json({"archive": str(out), **manifest})
        return
    typer.echo(f"backed up {len(manifest['parts'])} parts to {out} (keys {manifest['keys']})")


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
) -> None:
    """Restore a node from an archive, with its services stopped: the archive is checked first (every
    part against its SHA-256, the node's country, its keys), then databases, blobs, keys and streams are
    put back. Events published after the backup's stream snapshot are published again, with their ids."""
    state: AppState = ctx.obj
    try:
        if check_only:
            manifest = node_backup.verify(archive)
            verb = "checked"
        else:
            env, node = _node(env_file)
            say = (lambda _: None) if state.json else note
            manifest = node_backup.restore(archive, node, _nats(env, nats_url), replace=replace, say=say)
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
) -> None:
    """Check a node's configuration: each problem is one sentence; exit code 1 when there is any."""
    state: AppState = ctx.obj
    env, _ = _node(env_file)
    report = node_check.check(env, reach_databases=databases)
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
