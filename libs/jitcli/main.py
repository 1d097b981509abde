"""The ``jit`` command: log in, work on cross-border tasks, provision workspaces, check the audit log.

Global options come before the command: ``jit --as de-liaison --json task list``.
Errors are one line on stderr (``error: ...``) with exit code 1; usage errors exit with 2.
Set ``JIT_DEBUG=1`` to get the traceback of an unexpected failure.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Annotated, Any

import pydantic
import typer
from typer.core import TyperGroup

from jitcli import (
    admin_cmd,
    audit_cmd,
    evidence_cmd,
    msg_cmd,
    node_cmd,
    preservation_cmd,
    removal_cmd,
    retention_cmd,
    scorecard_cmd,
    stats_cmd,
    tasks_cmd,
    victims_cmd,
)
from jitcli.config import CliSettings
from jitcli.render import CliError, duration_words, emit_json, error_text, fail, note
from jitcli.session import AppState, Session, TokenSet, decode_claims, identity


class JitGroup(TyperGroup):
    """Root command group: turns every known failure into one ``error:`` line and exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            text = error_text(exc)
            if text is None:
                if os.environ.get("JIT_DEBUG"):
                    raise
                text = f"unexpected {type(exc).__name__}: {exc} (set JIT_DEBUG=1 for the traceback)"
            fail(text)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=JitGroup,
    help="Joint Investigation Team platform: cross-border tasks, workspaces and audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tasks_cmd.app, name="task")
app.add_typer(evidence_cmd.app, name="evidence")
app.add_typer(preservation_cmd.app, name="preservation")
app.add_typer(removal_cmd.app, name="removal")
app.add_typer(msg_cmd.app, name="msg")
app.add_typer(victims_cmd.app, name="victim")
app.add_typer(admin_cmd.app, name="admin")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(node_cmd.app, name="node")
app.add_typer(stats_cmd.app, name="stats")
app.add_typer(retention_cmd.app, name="retention")
app.command("scorecard")(scorecard_cmd.scorecard)


@app.callback()
def main(
    ctx: typer.Context,
    as_user: Annotated[
        str | None,
        typer.Option("--as", metavar="USERNAME", help="Act as this logged-in user instead of the active one."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Joint Investigation Team platform: cross-border tasks, workspaces and audit."""
    try:
        settings = CliSettings()
    except pydantic.ValidationError as exc:
        raise CliError(f"bad JIT_* setting: {exc.errors()[0].get('loc')} {exc.errors()[0].get('msg')}") from None
    ctx.obj = AppState(settings=settings, as_user=as_user, json=json_out)


def _summary(tokens: TokenSet) -> dict[str, Any]:
    who = identity(decode_claims(tokens.access_token))
    who["access_token_expires_at"] = dt.datetime.fromtimestamp(int(tokens.expires_at), dt.UTC).isoformat()
    return who


def _describe(who: dict[str, Any]) -> str:
    roles = ", ".join(who["roles"]) or "no roles"
    return f"{who['username']} ({who['jurisdiction'] or 'no jurisdiction'}; {roles})"


@app.command()
def login(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Argument(help="Demo user, e.g. nl-prosecutor.")] = None,
    password: Annotated[
        str | None, typer.Option("--password", "-p", help="Password (prompted, hidden, when not given).")
    ] = None,
    device: Annotated[bool, typer.Option("--device", help="Log in in a browser (OAuth device flow).")] = False,
) -> None:
    """Log in and make the user the active one.

    With USERNAME: password grant, allowed for DEMO accounts only (their password is `demo`).
    With --device: open the printed URL in a browser, enter the code and log in there.
    """
    state: AppState = ctx.obj
    if device:
        code = state.session.start_device_login()
        note(f"Open {code.verification_uri} and enter the code {code.user_code}")
        note(f"  (or open {code.verification_uri_complete})")
        limit = duration_words(dt.timedelta(seconds=code.expires_in))
        note(f"Waiting for the login to be approved (up to {limit})...")
        tokens = state.session.finish_device_login(code)
        if username and tokens.username != username.lower():
            note(f"note: logged in as {tokens.username}, not {username}")
    else:
        if not username:
            raise typer.BadParameter("give a USERNAME, or use --device", param_hint="USERNAME")
        if password is None:
            password = typer.prompt(f"Password for {username}", hide_input=True, err=True)
        tokens = state.session.login_password(username, password)
    who = _summary(tokens)
    if state.json:
        emit_json(who)
    else:
        typer.echo(f"logged in as {_describe(who)}")


@app.command()
def whoami(ctx: typer.Context) -> None:
    """Show the acting user: jurisdiction, roles and workspaces (from the cached token)."""
    state: AppState = ctx.obj
    username = state.user()
    tokens = state.session.load(username)
    if tokens is None:
        raise CliError(f"not logged in as {username}: run `jit login {username}`")
    who = _summary(tokens)
    who["cached_users"] = state.session.cached_users()
    if state.json:
        emit_json(who)
        return
    left = tokens.expires_at - time.time()
    expiry = (
        f"valid for {duration_words(dt.timedelta(seconds=left))}" if left > 0 else "expired (refreshed on next use)"
    )
    typer.echo(f"user:          {who['username']}")
    typer.echo(f"jurisdiction:  {who['jurisdiction'] or '-'}")
    typer.echo(f"roles:         {', '.join(who['roles']) or '-'}")
    typer.echo(f"workspaces:    {', '.join(who['workspaces']) or '-'}")
    typer.echo(f"access token:  {expiry}")
    others = [u for u in who["cached_users"] if u != username]
    if others:
        typer.echo(f"also cached:   {', '.join(others)}  (use --as USERNAME)")


@app.command()
def logout(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Argument(help="User to log out (default: the active one).")] = None,
) -> None:
    """Forget a user's cached tokens and end their Keycloak session."""
    state: AppState = ctx.obj
    session: Session = state.session
    name = username or state.user()
    if not session.remove(name):
        raise CliError(f"{name} is not logged in")
    if state.json:
        emit_json({"logged_out": name})
    else:
        typer.echo(f"logged out {name}")
