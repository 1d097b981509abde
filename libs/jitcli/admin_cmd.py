"""``jit admin workspace ...``: provision JIT workspaces in Keycloak and announce them on NATS.

These commands use the Keycloak admin account from ``JIT_KEYCLOAK_ADMIN_USER`` /
``JIT_KEYCLOAK_ADMIN_PASSWORD``, not the logged-in user's token.  Every change is announced to the
services right away (NATS, ``JIT_NATS_URL``); ``sync`` announces all workspaces again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from jitcli import kcadmin
from jitcli.render import CliError, emit, emit_json, note
from jitcli.session import AppState
from jitcli.workspace_sync import announced_workspace, publish_workspaces
from jitlib import period

app = typer.Typer(help="Administration with the Keycloak admin account (not your user token).", no_args_is_help=True)
workspace_app = typer.Typer(
    help="JIT workspaces: create, add or remove members, extend the agreed period, close, list, show, sync.",
    no_args_is_help=True,
)
app.add_typer(workspace_app, name="workspace")

WsId = Annotated[str, typer.Argument(metavar="WS", help="Workspace id, e.g. jit-demo.", show_default=False)]


def _admin(state: AppState) -> Any:
    s = state.settings
    return kcadmin.connect(
        s.keycloak_url,
        s.keycloak_admin_user,
        s.keycloak_admin_password.get_secret_value(),
        realm=s.realm,
        verify=str(s.oidc_ca_file) if s.oidc_ca_file else True,
    )


def _announce(state: AppState, workspaces: Sequence[kcadmin.Workspace], done: str) -> int:
    """Publish ``workspaces`` on NATS; ``done`` says what already happened in Keycloak if this fails."""
    url = state.settings.nats_url
    nats_log = logging.getLogger("nats")
    level = nats_log.level
    nats_log.setLevel(logging.CRITICAL)  # the client logs every failed connect attempt; we say it once
    try:
        return asyncio.run(
            publish_workspaces(
                url,
                workspaces,
                state.settings.federation(),
                state.settings.nats_tls(),
                credentials=state.settings.nats_credentials(),
            )
        )
    except Exception as exc:
        raise CliError(
            f"{done}, but announcing on NATS at {url} failed ({type(exc).__name__}: {exc}); "
            "run `jit admin workspace sync` when NATS is up"
        ) from None
    finally:
        nats_log.setLevel(level)


def _days_left(ws: kcadmin.Workspace) -> int | None:
    end = period.last_day(ws.ends_on)
    return period.days_left(end, datetime.now(UTC)) if end is not None else None


def _period_text(ws: kcadmin.Workspace) -> str:
    """ "2026-01-15 .. 2029-01-15 (775 days left)", "... (ends today)", "... (ended 3 days ago)"."""
    end = period.last_day(ws.ends_on)
    span = f"{ws.starts_on} .. {ws.ends_on}"
    return f"{span} ({period.left_in_words(end, datetime.now(UTC))})" if end is not None else span


def workspace_dict(ws: kcadmin.Workspace) -> dict[str, Any]:
    data = dataclasses.asdict(ws)
    data.pop("group_id", None)
    data["days_left"] = _days_left(ws)
    return data


def workspaces_table(workspaces: Sequence[kcadmin.Workspace]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("ID", "NAME", "LEAD", "MEMBERS", "LEGAL BASIS", "PERIOD", "STATUS", "VER"):
        table.add_column(col, overflow="fold")
    for ws in workspaces:
        table.add_row(
            Text(ws.id),
            Text(ws.name),
            Text(ws.lead),
            Text(", ".join(ws.members) + (f" (out: {', '.join(ws.former_members)})" if ws.former_members else "")),
            Text(ws.legal_basis),
            Text(_period_text(ws), style="bold" if ws.status == "open" and (_days_left(ws) or 0) <= 30 else ""),
            Text(ws.status, style="dim" if ws.status == "closed" else ""),
            Text(str(ws.version)),
        )
    return table


def _show(state: AppState, ws: kcadmin.Workspace) -> None:
    if state.json:
        emit_json(workspace_dict(ws))
    else:
        emit(workspaces_table([ws]))


@workspace_app.command()
def create(
    ctx: typer.Context,
    ws_id: WsId,
    name: Annotated[str, typer.Option("--name", metavar="TEXT", help="Name of the JIT.", show_default=False)],
    lead: Annotated[
        str, typer.Option("--lead", metavar="JUR", help="Jurisdiction of the JIT leader.", show_default=False)
    ],
    member: Annotated[
        list[str],
        typer.Option("--member", metavar="JUR", help="Member jurisdiction (repeat; the lead is always one)."),
    ],
    legal_basis: Annotated[
        str, typer.Option("--legal-basis", metavar="TEXT", help="The JIT agreement.", show_default=False)
    ],
    starts: Annotated[str, typer.Option("--starts", metavar="DATE", help="First day, YYYY-MM-DD.", show_default=False)],
    ends: Annotated[str, typer.Option("--ends", metavar="DATE", help="Last day, YYYY-MM-DD.", show_default=False)],
) -> None:
    """Create a workspace with its member jurisdictions, and announce it."""
    state: AppState = ctx.obj
    fed = state.settings.federation()
    if fed is not None and lead.upper() != fed.node:
        raise CliError(
            f"this is the {fed.node} node: it creates the workspaces {fed.node} leads. A workspace led by "
            f"{lead.upper()} is created on the {lead.upper()} node, then joined here with "
            "`jit admin workspace join`"
        )
    members = list(dict.fromkeys([lead.upper(), *(m.upper() for m in member)]))
    ws = kcadmin.create_workspace(_admin(state), ws_id, name, lead.upper(), members, legal_basis, starts, ends)
    _announce(state, [ws], f"workspace {ws_id} was created in Keycloak")
    _show(state, ws)


@workspace_app.command("add-member")
def add_member(
    ctx: typer.Context,
    ws_id: WsId,
    jurisdiction: Annotated[
        str,
        typer.Option("--jurisdiction", metavar="JUR", help="Member jurisdiction to add.", show_default=False),
    ],
    user: Annotated[
        list[str] | None,
        typer.Option("--user", metavar="USERNAME", help="User of that jurisdiction to put in the workspace (repeat)."),
    ] = None,
) -> None:
    """Add a member jurisdiction (if new) and some of its users to an open workspace, and announce it."""
    state: AppState = ctx.obj
    ws = kcadmin.add_member(_admin(state), ws_id, jurisdiction.upper(), user or [])
    _announce(state, [ws], f"workspace {ws_id} was changed in Keycloak")
    _show(state, ws)


@workspace_app.command("remove-member")
def remove_member(
    ctx: typer.Context,
    ws_id: WsId,
    jurisdiction: Annotated[
        str, typer.Argument(metavar="JUR", help="Member jurisdiction to take out, e.g. DE.", show_default=False)
    ],
) -> None:
    """Take a member jurisdiction out of an open workspace, as an amendment of the JIT agreement does (not
    the lead, and never leaving the lead the only state: close the workspace instead), and announce it: from
    then on no service sends that country's node anything new of the workspace, and its users no longer see
    it. What its node received while a member stays there (rule JIT_MEMBER_TAKEN_OUT)."""
    state: AppState = ctx.obj
    _lead_only(state, ws_id, "membership")
    ws = kcadmin.remove_member(_admin(state), ws_id, jurisdiction.upper())
    _announce(state, [ws], f"{jurisdiction.upper()} was taken out of workspace {ws_id} in Keycloak")
    _show(state, ws)


@workspace_app.command()
def join(
    ctx: typer.Context,
    ws_id: WsId,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", metavar="USERNAME", help="User of this node's country to put in it (repeat)."),
    ] = None,
) -> None:
    """On a federation: take part in a workspace another country's node leads and announced to this node,
    with this country's users (in this node's realm)."""
    state: AppState = ctx.obj
    fed = state.settings.federation()
    if fed is None:
        raise CliError("join is for a node of a federation (JIT_NODE_JURISDICTION); on one node use add-member")
    url = state.settings.nats_url
    try:
        announced = asyncio.run(
            announced_workspace(url, ws_id, state.settings.nats_tls(), state.settings.nats_credentials())
        )
    except Exception as exc:
        raise CliError(f"reading the announced workspaces on NATS at {url} failed ({type(exc).__name__})") from None
    if announced is None:
        raise CliError(
            f"workspace {ws_id} has not been announced to the {fed.node} node: its lead's node announces it "
            "to its member countries' nodes"
        )
    ws = kcadmin.join_workspace(_admin(state), announced, fed.node, user or [])
    _show(state, ws)


@workspace_app.command()
def extend(
    ctx: typer.Context,
    ws_id: WsId,
    ends: Annotated[
        str, typer.Option("--ends", metavar="DATE", help="The new last day, YYYY-MM-DD (later).", show_default=False)
    ],
) -> None:
    """Extend the JIT's agreed period, as its members agreed (FD 2002/465/JHA Art. 1(1)), to a later last
    day, and announce it: new tasks, requests and orders are accepted again until then."""
    state: AppState = ctx.obj
    fed = state.settings.federation()
    if fed is not None:
        lead = kcadmin.get_workspace(_admin(state), ws_id).lead
        if lead != fed.node:
            raise CliError(
                f"this is the {fed.node} node: workspace {ws_id} is led by {lead}, whose node records its "
                "period and announces it to the members' nodes"
            )
    ws = kcadmin.extend_workspace(_admin(state), ws_id, ends)
    _announce(state, [ws], f"workspace {ws_id} was extended in Keycloak")
    _show(state, ws)


@workspace_app.command()
def close(ctx: typer.Context, ws_id: WsId) -> None:
    """Close a workspace (the JIT agreement ended), and announce it."""
    state: AppState = ctx.obj
    ws = kcadmin.close_workspace(_admin(state), ws_id)
    _announce(state, [ws], f"workspace {ws_id} was closed in Keycloak")
    _show(state, ws)


@workspace_app.command("list")
def list_workspaces(ctx: typer.Context) -> None:
    """List all workspaces."""
    state: AppState = ctx.obj
    workspaces = kcadmin.list_workspaces(_admin(state))
    if state.json:
        emit_json([workspace_dict(ws) for ws in workspaces])
    elif workspaces:
        emit(workspaces_table(workspaces))
    else:
        note("no workspaces")


@workspace_app.command()
def show(ctx: typer.Context, ws_id: WsId) -> None:
    """Show one workspace."""
    state: AppState = ctx.obj
    _show(state, kcadmin.get_workspace(_admin(state), ws_id))


@workspace_app.command()
def sync(ctx: typer.Context) -> None:
    """Announce every workspace again, e.g. after NATS lost its data or a service was reset."""
    state: AppState = ctx.obj
    workspaces = kcadmin.list_workspaces(_admin(state))
    count = _announce(state, workspaces, "the workspaces were read from Keycloak")
    if state.json:
        emit_json({"announced": count, "workspaces": [ws.id for ws in workspaces]})
    else:
        typer.echo(f"announced {count} workspace(s) on {state.settings.nats_url}")


# -- retention: legal hold, the workspace's retention settings, deletion certificates ----------------------

retention_app = typer.Typer(
    help="Retention: legal hold, the workspace's retention years and proceedings' close, deletion certificates.",
    no_args_is_help=True,
)
app.add_typer(retention_app, name="retention")


def _lead_only(state: AppState, ws_id: str, what: str) -> None:
    fed = state.settings.federation()
    if fed is None:
        return
    lead = kcadmin.get_workspace(_admin(state), ws_id).lead
    if lead != fed.node:
        raise CliError(
            f"this is the {fed.node} node: workspace {ws_id} is led by {lead}, whose node records its {what} "
            "and announces it to the members' nodes"
        )


def retention_dict(ws: kcadmin.Workspace, default_years: int) -> dict[str, Any]:
    """The workspace's retention settings and, per service, when its content may be destroyed and why."""
    from jitlib import retention

    info = workspace_info(ws)
    ends: dict[str, Any] = {}
    for service in ("tasks", "evidence", "preservation"):
        end = retention.service_end(service, info.retention_facts(), default_years)
        ends[service] = {"destroy_from": end.at.isoformat() if end.at else None, "held": end.held, "why": end.why}
    return {
        "id": ws.id,
        "status": ws.status,
        "ends_on": ws.ends_on,
        "legal_hold": ws.legal_hold,
        "retention_years": ws.retention_years or None,
        "default_years": default_years,
        "proceedings_closed_on": ws.proceedings_closed_on,
        "services": ends,
    }


def workspace_info(ws: kcadmin.Workspace) -> Any:
    from jitlib.workspaces import WorkspaceInfo

    return WorkspaceInfo(
        id=ws.id,
        name=ws.name,
        lead=ws.lead,
        members=frozenset(ws.members),
        status=ws.status,
        version=ws.version,
        starts_on=ws.starts_on,
        ends_on=ws.ends_on,
        legal_hold=ws.legal_hold,
        retention_years=ws.retention_years or None,
        proceedings_closed_on=ws.proceedings_closed_on,
    )


def _show_retention(state: AppState, ws: kcadmin.Workspace) -> None:
    from jitlib.config import CommonSettings

    data = retention_dict(ws, CommonSettings().retention_years)
    if state.json:
        emit_json(data)
        return
    typer.echo(f"workspace {ws.id} ({ws.status}, agreed period ends {ws.ends_on or '-'})")
    typer.echo(f"  legal hold: {ws.legal_hold or 'none'}")
    years = (
        f"{ws.retention_years} (the workspace's)" if ws.retention_years else f"{data['default_years']} (node default)"
    )
    typer.echo(f"  retention years: {years}; proceedings closed: {ws.proceedings_closed_on or 'not recorded'}")
    for service, end in data["services"].items():
        typer.echo(f"  {service}: {end['why']}")


@retention_app.command()
def hold(
    ctx: typer.Context,
    ws_id: WsId,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why (shown, audited).", show_default=False)],
) -> None:
    """Set a legal hold: no service deletes anything of the workspace while it is set, whatever its retention
    clock says; every service records it in its audit log (rule LEGAL_HOLD)."""
    state: AppState = ctx.obj
    _lead_only(state, ws_id, "legal hold")
    ws = kcadmin.set_legal_hold(_admin(state), ws_id, reason)
    _announce(state, [ws], f"the legal hold on {ws_id} was set in Keycloak")
    _show_retention(state, ws)


@retention_app.command()
def release(ctx: typer.Context, ws_id: WsId) -> None:
    """Release the workspace's legal hold: its retention clock applies again (audited by every service)."""
    state: AppState = ctx.obj
    _lead_only(state, ws_id, "legal hold")
    ws = kcadmin.release_legal_hold(_admin(state), ws_id)
    _announce(state, [ws], f"the legal hold on {ws_id} was released in Keycloak")
    _show_retention(state, ws)


@retention_app.command("set")
def set_retention(
    ctx: typer.Context,
    ws_id: WsId,
    years: Annotated[
        int | None,
        typer.Option("--years", metavar="N", help="Years kept after the agreement's end (0: the node's default)."),
    ] = None,
    proceedings_closed: Annotated[
        str | None,
        typer.Option("--proceedings-closed", metavar="DATE", help="The day the proceedings were closed, YYYY-MM-DD."),
    ] = None,
) -> None:
    """Set the workspace's retention years and/or record that its proceedings were closed (evidence is held
    until then), and announce it."""
    state: AppState = ctx.obj
    if years is None and proceedings_closed is None:
        raise CliError("give --years and/or --proceedings-closed")
    _lead_only(state, ws_id, "retention")
    ws = kcadmin.set_retention(_admin(state), ws_id, years=years, proceedings_closed_on=proceedings_closed)
    _announce(state, [ws], f"the retention of {ws_id} was set in Keycloak")
    _show_retention(state, ws)


@retention_app.command("show")
def show_retention(ctx: typer.Context, ws_id: WsId) -> None:
    """The workspace's legal hold and retention settings, and when each service may destroy its content."""
    state: AppState = ctx.obj
    _show_retention(state, kcadmin.get_workspace(_admin(state), ws_id))


@retention_app.command()
def certificates(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", metavar="WS", help="Only this workspace's.")] = "",
) -> None:
    """The deletion certificates of this node's services (read from their databases: run on the node, with
    its JIT_STATE_DIR or JIT_<SERVICE>_DATABASE_URL): what was destroyed, when, by whom, the audit head."""
    from jitlib import keytool
    from jitlib.config import CommonSettings

    state: AppState = ctx.obj
    found = keytool.certificates(CommonSettings(), workspace)
    if state.json:
        emit_json(found)
        return
    if not found:
        note("no deletion certificates")
        return
    for c in found:
        counts = ", ".join(f"{n} {k}" for k, n in c["counts"].items())
        head = c["audit_head"]
        typer.echo(
            f"{c['id']}: destroyed {c['destroyed_at']} by {c['by']}: {counts or 'no records'}; "
            f"keys {', '.join(c['key_ids']) or '-'}; audit head {head['seq']} {head['hash']}; "
            f"certificate entry {c['audit_seq'] or 'pruned'}; digest {'ok' if c['digest_ok'] else 'MISMATCH'}"
        )
        typer.echo(f"  why: {c['why']}")
