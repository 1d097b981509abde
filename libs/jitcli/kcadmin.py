"""JIT workspace provisioning through the Keycloak admin API (python-keycloak).

A *workspace* is the Keycloak group ``/workspaces/<ws_id>`` in realm ``jit``.  Its
metadata lives in group attributes (single-valued strings)::

    name, lead, legal_basis, starts_on, ends_on, status ("open"/"closed"),
    members ("NL,DE,IE,EUROJUST"), version ("1", bumped on every change),
    closed_at (ISO-8601 UTC, only once closed),
    former_members ("DE": taken out by an amendment of the agreement, only once one was)

and every member jurisdiction has a subgroup ``/workspaces/<ws_id>/<CODE>`` holding that
jurisdiction's users.  The ``groups`` claim of the access token carries these full paths,
which is what the services authorise on.

Every function raises :class:`WorkspaceAdminError` with a one-line message on any failure
(bad input, unknown workspace, already exists, closed workspace, Keycloak errors).
Concurrent modifications of the same workspace are not serialised (Keycloak groups have no
version check); the ``version`` attribute is advisory.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

__all__ = [
    "WORKSPACES_ROOT",
    "Workspace",
    "WorkspaceAdminError",
    "add_member",
    "close_workspace",
    "connect",
    "create_workspace",
    "extend_workspace",
    "get_workspace",
    "list_workspaces",
    "remove_member",
    "validate_jurisdiction",
    "validate_ws_id",
    "workspace_from_group",
]

log = logging.getLogger(__name__)

WORKSPACES_ROOT = "/workspaces"
WS_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
JURISDICTION_RE = re.compile(r"^[A-Z]{2}$")
EU_BODIES = ("EUROJUST", "EUROPOL", "EPPO")
STATUS_OPEN = "open"
STATUS_CLOSED = "closed"
_REQUIRED_ATTRS = ("name", "lead", "legal_basis", "starts_on", "ends_on", "status", "members", "version")


class WorkspaceAdminError(Exception):
    """A workspace operation failed; ``str(exc)`` is a one-line, user-presentable reason."""


@dataclass
class Workspace:
    """A JIT workspace as stored in the group ``/workspaces/<id>``."""

    id: str
    name: str
    lead: str
    legal_basis: str
    starts_on: str
    ends_on: str
    status: str
    members: list[str]
    version: int
    closed_at: str | None = None
    group_id: str | None = field(default=None, compare=False)
    #: Retention (``jitlib.retention``): a legal hold's reason ("" none), the workspace's years (0: the
    #: node's default), the day the proceedings were recorded closed ("" while they run).
    legal_hold: str = ""
    retention_years: int = 0
    proceedings_closed_on: str = ""
    #: Jurisdictions taken out of the JIT by an amendment of its agreement (``remove_member``); one added
    #: again is a member, not a former one.
    former_members: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The workspace group's full path, e.g. ``/workspaces/jit-demo``."""
        return f"{WORKSPACES_ROOT}/{self.id}"

    def member_path(self, jurisdiction: str) -> str:
        """Full group path of a member jurisdiction, e.g. ``/workspaces/jit-demo/NL``."""
        return f"{self.path}/{jurisdiction}"


# ------------------------------------------------------------------- helpers


def _one_line(text: Any) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return " ".join(str(text).split())


def _kc_error(action: str, exc: KeycloakError) -> WorkspaceAdminError:
    code = getattr(exc, "response_code", None)
    msg = _one_line(getattr(exc, "error_message", "") or exc)
    prefix = f"HTTP {code}: " if code else ""
    return WorkspaceAdminError(f"{action} failed: {prefix}{msg}")


def validate_ws_id(ws_id: str) -> str:
    """Return ``ws_id`` if it matches ``^[a-z0-9][a-z0-9-]{2,62}$``, else raise."""
    if not isinstance(ws_id, str) or not WS_ID_RE.fullmatch(ws_id):
        raise WorkspaceAdminError(
            f"invalid workspace id {ws_id!r}: use 3-63 characters a-z, 0-9 and '-', starting with a letter or digit"
        )
    return ws_id


def validate_jurisdiction(code: str) -> str:
    """Return ``code`` if it is an upper-case ISO 3166-1 alpha-2 code or EUROJUST/EUROPOL/EPPO."""
    if not isinstance(code, str) or not (JURISDICTION_RE.fullmatch(code) or code in EU_BODIES):
        raise WorkspaceAdminError(
            f"invalid jurisdiction code {code!r}: use an upper-case ISO 3166-1 alpha-2 code "
            f"(e.g. NL) or one of {', '.join(EU_BODIES)}"
        )
    return code


def _validate_date(label: str, value: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise WorkspaceAdminError(f"invalid {label} {value!r}: expected an ISO date YYYY-MM-DD") from None


def _attr(attrs: dict[str, Any], key: str) -> str | None:
    value = attrs.get(key)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _split_members(value: str) -> list[str]:
    return [m.strip() for m in value.split(",") if m.strip()]


def _now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def workspace_from_group(group_json: dict[str, Any]) -> Workspace:
    """Build a :class:`Workspace` from a Keycloak GroupRepresentation (dict).

    Raises :class:`WorkspaceAdminError` if the group lacks workspace attributes.
    """
    name = group_json.get("name") or ""
    attrs = group_json.get("attributes") or {}
    missing = [k for k in _REQUIRED_ATTRS if not _attr(attrs, k)]
    if missing:
        raise WorkspaceAdminError(
            f"group {group_json.get('path') or name!r} is not a workspace (missing attributes: {', '.join(missing)})"
        )
    try:
        version = int(_attr(attrs, "version") or "")
    except ValueError:
        raise WorkspaceAdminError(
            f"group {group_json.get('path') or name!r} has a non-integer version {_attr(attrs, 'version')!r}"
        ) from None
    return Workspace(
        id=name,
        name=_attr(attrs, "name") or "",
        lead=_attr(attrs, "lead") or "",
        legal_basis=_attr(attrs, "legal_basis") or "",
        starts_on=_attr(attrs, "starts_on") or "",
        ends_on=_attr(attrs, "ends_on") or "",
        status=_attr(attrs, "status") or "",
        members=_split_members(_attr(attrs, "members") or ""),
        version=version,
        closed_at=_attr(attrs, "closed_at"),
        group_id=group_json.get("id"),
        legal_hold=_attr(attrs, "legal_hold") or "",
        retention_years=int(_attr(attrs, "retention_years") or 0)
        if (_attr(attrs, "retention_years") or "").isdigit()
        else 0,
        proceedings_closed_on=_attr(attrs, "proceedings_closed_on") or "",
        former_members=_split_members(_attr(attrs, "former_members") or ""),
    )


def _workspace_attributes(ws: Workspace) -> dict[str, list[str]]:
    attrs = {
        "name": [ws.name],
        "lead": [ws.lead],
        "legal_basis": [ws.legal_basis],
        "starts_on": [ws.starts_on],
        "ends_on": [ws.ends_on],
        "status": [ws.status],
        "members": [",".join(ws.members)],
        "version": [str(ws.version)],
    }
    if ws.closed_at:
        attrs["closed_at"] = [ws.closed_at]
    if ws.legal_hold:
        attrs["legal_hold"] = [ws.legal_hold]
    if ws.retention_years:
        attrs["retention_years"] = [str(ws.retention_years)]
    if ws.proceedings_closed_on:
        attrs["proceedings_closed_on"] = [ws.proceedings_closed_on]
    if ws.former_members:
        attrs["former_members"] = [",".join(ws.former_members)]
    return attrs


def _group_by_path(admin: KeycloakAdmin, path: str) -> dict[str, Any] | None:
    try:
        group = admin.get_group_by_path(path)
    except KeycloakError as exc:
        if getattr(exc, "response_code", None) == 404:
            return None
        raise _kc_error(f"looking up group {path}", exc) from None
    if not isinstance(group, dict) or not group.get("id"):
        return None
    return group


def _workspace_group(admin: KeycloakAdmin, ws_id: str) -> dict[str, Any]:
    validate_ws_id(ws_id)
    group = _group_by_path(admin, f"{WORKSPACES_ROOT}/{ws_id}")
    if group is None:
        raise WorkspaceAdminError(f"unknown workspace {ws_id!r}")
    return group


def _children(admin: KeycloakAdmin, group_id: str) -> list[dict[str, Any]]:
    try:
        return admin.get_group_children(group_id, query={"briefRepresentation": "false"})
    except KeycloakError as exc:
        raise _kc_error("listing subgroups", exc) from None


def _save(admin: KeycloakAdmin, ws: Workspace) -> None:
    assert ws.group_id is not None
    try:
        admin.update_group(ws.group_id, {"name": ws.id, "attributes": _workspace_attributes(ws)})
    except KeycloakError as exc:
        raise _kc_error(f"updating workspace {ws.id!r}", exc) from None


def _create_subgroup(admin: KeycloakAdmin, parent_id: str, code: str) -> str:
    try:
        gid = admin.create_group({"name": code, "attributes": {"jurisdiction": [code]}}, parent=parent_id)
    except KeycloakError as exc:
        raise _kc_error(f"creating member group {code}", exc) from None
    if not gid:
        raise WorkspaceAdminError(f"creating member group {code} failed: Keycloak returned no group id")
    return gid


# ---------------------------------------------------------------- public API


def connect(
    server_url: str, admin_user: str, admin_password: str, realm: str = "jit", verify: bool | str = True
) -> KeycloakAdmin:
    """Log in to the master realm as ``admin_user`` and return an admin client for ``realm``. ``verify``:
    check Keycloak's HTTPS certificate against the system's roots (True) or a CA file (its path).

    Checks the connection (and that ``realm`` exists) before returning.
    """
    try:
        with warnings.catch_warnings():
            # python-keycloak checks the certificate with requests, which takes a CA file's path (not an
            # SSLContext), and hands the same path to an httpx client for its async calls, which this
            # command never makes and which warns that a path is deprecated: that warning only is dropped.
            warnings.filterwarnings("ignore", r"`verify=<str>` is deprecated", DeprecationWarning)
            admin = KeycloakAdmin(
                server_url=server_url.rstrip("/") + "/",
                username=admin_user,
                password=admin_password,
                realm_name=realm,
                user_realm_name="master",
                client_id="admin-cli",
                timeout=30,
                verify=verify,
            )
            admin.get_realm(realm)
    except KeycloakError as exc:
        raise _kc_error(f"connecting to Keycloak at {server_url} as {admin_user!r} (realm {realm!r})", exc) from None
    except Exception as exc:  # connection refused, DNS, TLS ...
        raise WorkspaceAdminError(
            f"connecting to Keycloak at {server_url} failed: {type(exc).__name__}: {_one_line(exc)}"
        ) from None
    return admin


def get_workspace(admin: KeycloakAdmin, ws_id: str) -> Workspace:
    """Return the workspace ``ws_id`` (raises if it does not exist)."""
    return workspace_from_group(_workspace_group(admin, ws_id))


def list_workspaces(admin: KeycloakAdmin) -> list[Workspace]:
    """All workspaces under ``/workspaces``, sorted by id (malformed groups are skipped)."""
    root = _group_by_path(admin, WORKSPACES_ROOT)
    if root is None:
        return []
    result = []
    for child in _children(admin, root["id"]):
        try:
            result.append(workspace_from_group(child))
        except WorkspaceAdminError as exc:
            log.warning("skipping %s", exc)
    return sorted(result, key=lambda w: w.id)


def _workspaces_root(admin: KeycloakAdmin) -> dict[str, Any]:
    """The ``/workspaces`` group, created when the realm has none yet."""
    root = _group_by_path(admin, WORKSPACES_ROOT)
    if root is None:
        try:
            admin.create_group({"name": WORKSPACES_ROOT.strip("/")}, skip_exists=True)
        except KeycloakError as exc:
            raise _kc_error(f"creating {WORKSPACES_ROOT}", exc) from None
        root = _group_by_path(admin, WORKSPACES_ROOT)
        if root is None:
            raise WorkspaceAdminError(f"could not create the {WORKSPACES_ROOT} group")
    return root


def create_workspace(
    admin: KeycloakAdmin,
    ws_id: str,
    name: str,
    lead: str,
    members: Iterable[str],
    legal_basis: str,
    starts_on: str,
    ends_on: str,
) -> Workspace:
    """Create ``/workspaces/<ws_id>`` with its metadata and one subgroup per member.

    ``members`` are jurisdiction codes (``NL``, ``DE`` ... or ``EUROJUST``/``EUROPOL``/
    ``EPPO``); ``lead`` must be one of them; dates are ``YYYY-MM-DD`` with
    ``ends_on >= starts_on``.  The new workspace has status ``open`` and version 1.
    """
    validate_ws_id(ws_id)
    member_list: list[str] = []
    for code in members:
        validate_jurisdiction(code)
        if code not in member_list:
            member_list.append(code)
    if not member_list:
        raise WorkspaceAdminError("a workspace needs at least one member jurisdiction")
    validate_jurisdiction(lead)
    if lead not in member_list:
        raise WorkspaceAdminError(f"lead {lead!r} must be one of the members ({', '.join(member_list)})")
    if not isinstance(name, str) or not name.strip():
        raise WorkspaceAdminError("workspace name must not be empty")
    if not isinstance(legal_basis, str) or not legal_basis.strip():
        raise WorkspaceAdminError("legal basis must not be empty")
    if _validate_date("starts_on", starts_on) > _validate_date("ends_on", ends_on):
        raise WorkspaceAdminError(f"ends_on {ends_on} is before starts_on {starts_on}")

    root = _workspaces_root(admin)
    if _group_by_path(admin, f"{WORKSPACES_ROOT}/{ws_id}") is not None:
        raise WorkspaceAdminError(f"workspace {ws_id!r} already exists")

    ws = Workspace(
        id=ws_id,
        name=name.strip(),
        lead=lead,
        legal_basis=legal_basis.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        status=STATUS_OPEN,
        members=member_list,
        version=1,
    )
    try:
        group_id = admin.create_group({"name": ws_id, "attributes": _workspace_attributes(ws)}, parent=root["id"])
    except KeycloakError as exc:
        if getattr(exc, "response_code", None) == 409:
            raise WorkspaceAdminError(f"workspace {ws_id!r} already exists") from None
        raise _kc_error(f"creating workspace {ws_id!r}", exc) from None
    if not group_id:
        raise WorkspaceAdminError(f"creating workspace {ws_id!r} failed: Keycloak returned no group id")
    try:
        for code in member_list:
            _create_subgroup(admin, group_id, code)
    except WorkspaceAdminError:
        try:  # do not leave a half-provisioned workspace behind
            admin.delete_group(group_id)
        except KeycloakError:
            log.warning("could not remove half-created workspace group %s", ws_id)
        raise
    return get_workspace(admin, ws_id)


def _find_user(admin: KeycloakAdmin, username: str) -> dict[str, Any]:
    try:
        users = admin.get_users({"username": username, "exact": "true", "briefRepresentation": "false"})
    except KeycloakError as exc:
        raise _kc_error(f"looking up user {username!r}", exc) from None
    matches = [u for u in users if u.get("username") == username.lower()]
    if len(matches) != 1:
        raise WorkspaceAdminError(f"unknown user {username!r}")
    return matches[0]


def add_member(admin: KeycloakAdmin, ws_id: str, jurisdiction: str, usernames: Iterable[str]) -> Workspace:
    """Add ``jurisdiction`` (if new) and ``usernames`` to the open workspace ``ws_id``.

    Creates the subgroup ``/workspaces/<ws_id>/<jurisdiction>`` when missing, updates the
    ``members`` attribute, bumps ``version`` and puts the users into the subgroup.  Every
    user must exist and have the user attribute ``jurisdiction`` equal to
    ``jurisdiction``; all users are checked before anything is changed.
    """
    validate_jurisdiction(jurisdiction)
    names = list(dict.fromkeys(usernames))
    group = _workspace_group(admin, ws_id)
    ws = workspace_from_group(group)
    if ws.status == STATUS_CLOSED:
        raise WorkspaceAdminError(f"workspace {ws_id!r} is closed (since {ws.closed_at or 'unknown'})")

    users = []
    for username in names:
        user = _find_user(admin, username)
        user_juris = _attr(user.get("attributes") or {}, "jurisdiction")
        if user_juris != jurisdiction:
            raise WorkspaceAdminError(
                f"user {username!r} has jurisdiction {user_juris!r}, not {jurisdiction!r}; "
                f"refusing to add them to {ws.member_path(jurisdiction)}"
            )
        users.append(user)

    subgroup = next((c for c in _children(admin, group["id"]) if c.get("name") == jurisdiction), None)
    sub_id = subgroup["id"] if subgroup else _create_subgroup(admin, group["id"], jurisdiction)
    if jurisdiction not in ws.members:
        ws.members.append(jurisdiction)
    if jurisdiction in ws.former_members:  # taken out before, a member again by a new amendment
        ws.former_members.remove(jurisdiction)
    ws.version += 1
    _save(admin, ws)

    for user in users:
        try:
            admin.group_user_add(user["id"], sub_id)
        except KeycloakError as exc:
            raise _kc_error(f"adding user {user.get('username')!r} to {ws.member_path(jurisdiction)}", exc) from None
    return get_workspace(admin, ws_id)


def remove_member(admin: KeycloakAdmin, ws_id: str, jurisdiction: str) -> Workspace:
    """Take ``jurisdiction`` out of the open workspace ``ws_id``, as an amendment of the JIT agreement does
    (rule JIT_MEMBER_TAKEN_OUT): it leaves ``members`` for ``former_members``, its subgroup
    ``/workspaces/<ws_id>/<jurisdiction>`` is deleted (its users' next tokens no longer name the workspace)
    and ``version`` is bumped. Never the lead (the JIT would have no leader: a new lead is a new workspace),
    never the last member, never a member whose leaving would leave fewer than two states in the JIT (a JIT
    is set up by "two or more Member States", FD 2002/465/JHA Art. 1(1); an EU body such as Eurojust takes
    part in one, it is not a state): the lead then closes it instead. Everything is checked before anything
    changes."""
    validate_jurisdiction(jurisdiction)
    group = _workspace_group(admin, ws_id)
    ws = workspace_from_group(group)
    if ws.status == STATUS_CLOSED:
        raise WorkspaceAdminError(f"workspace {ws_id!r} is closed (since {ws.closed_at or 'unknown'})")
    if jurisdiction not in ws.members:
        raise WorkspaceAdminError(
            f"{jurisdiction} is not a member of workspace {ws_id!r} (members: {', '.join(ws.members)})"
        )
    if len(ws.members) == 1:
        raise WorkspaceAdminError(f"{jurisdiction} is the last member of workspace {ws_id!r}: close it instead")
    if jurisdiction == ws.lead:
        raise WorkspaceAdminError(
            f"{jurisdiction} leads workspace {ws_id!r}: the lead cannot be taken out (a JIT with another "
            "leader is a new workspace)"
        )
    states = [m for m in ws.members if m != jurisdiction and m not in EU_BODIES]
    if len(states) < 2:
        raise WorkspaceAdminError(
            f"taking {jurisdiction} out would leave {', '.join(states)} the only state in workspace {ws_id!r}, and "
            "a JIT is of two or more states (FD 2002/465/JHA Art. 1(1)): close it instead"
        )
    subgroup = next((c for c in _children(admin, group["id"]) if c.get("name") == jurisdiction), None)
    ws.members.remove(jurisdiction)
    if jurisdiction not in ws.former_members:
        ws.former_members.append(jurisdiction)
    ws.version += 1
    _save(admin, ws)
    if subgroup is not None:
        try:
            admin.delete_group(subgroup["id"])
        except KeycloakError as exc:
            raise _kc_error(f"deleting {ws.member_path(jurisdiction)}", exc) from None
    return get_workspace(admin, ws_id)


def join_workspace(
    admin: KeycloakAdmin, announced: Workspace, jurisdiction: str, usernames: Iterable[str]
) -> Workspace:
    """On a federation, make a workspace that another country's node leads (``announced``, as its lead's
    node announced it) usable in this node's realm: the group ``/workspaces/<id>`` mirroring what the lead
    announced, and this country's subgroup with ``usernames`` in it. Users are checked before anything
    changes; the lead's node stays the only one that announces the workspace."""
    validate_jurisdiction(jurisdiction)
    if jurisdiction not in announced.members:
        raise WorkspaceAdminError(
            f"{jurisdiction} is not a member of workspace {announced.id!r} (members: {', '.join(announced.members)})"
        )
    users = []
    for username in dict.fromkeys(usernames):
        user = _find_user(admin, username)
        user_juris = _attr(user.get("attributes") or {}, "jurisdiction")
        if user_juris != jurisdiction:
            raise WorkspaceAdminError(f"user {username!r} has jurisdiction {user_juris!r}, not {jurisdiction!r}")
        users.append(user)
    root = _workspaces_root(admin)
    group = _group_by_path(admin, f"{WORKSPACES_ROOT}/{announced.id}")
    if group is None:
        try:
            group_id = admin.create_group(
                {"name": announced.id, "attributes": _workspace_attributes(announced)}, parent=root["id"]
            )
        except KeycloakError as exc:
            raise _kc_error(f"creating workspace {announced.id!r}", exc) from None
        if not group_id:
            raise WorkspaceAdminError(f"creating workspace {announced.id!r} failed: Keycloak returned no group id")
    else:
        group_id = group["id"]
        admin.update_group(group_id, {"name": announced.id, "attributes": _workspace_attributes(announced)})
    subgroup = next((c for c in _children(admin, group_id) if c.get("name") == jurisdiction), None)
    sub_id = subgroup["id"] if subgroup else _create_subgroup(admin, group_id, jurisdiction)
    for user in users:
        try:
            admin.group_user_add(user["id"], sub_id)
        except KeycloakError as exc:
            raise _kc_error(f"adding user {user.get('username')!r} to workspace {announced.id!r}", exc) from None
    return get_workspace(admin, announced.id)


def extend_workspace(admin: KeycloakAdmin, ws_id: str, ends_on: str) -> Workspace:
    """Record that the members extended the JIT agreement (by mutual consent) to ``ends_on``, its new last
    day: ``ends_on`` set, version bumped. Only a later date than the current one, on an open workspace."""
    new_end = _validate_date("ends_on", ends_on)
    ws = workspace_from_group(_workspace_group(admin, ws_id))
    if ws.status == STATUS_CLOSED:
        raise WorkspaceAdminError(
            f"workspace {ws_id!r} is closed (since {ws.closed_at or 'unknown'}): it cannot be extended"
        )
    try:
        current = _dt.date.fromisoformat(ws.ends_on)
    except ValueError:
        current = None
    if current is not None and new_end <= current:
        raise WorkspaceAdminError(
            f"the agreed period of {ws_id!r} ends on {ws.ends_on}: an extension sets a later last day, not {ends_on}"
        )
    ws.ends_on = new_end.isoformat()
    ws.version += 1
    _save(admin, ws)
    return get_workspace(admin, ws_id)


#: The longest legal hold reason kept (it is shown, audited and announced to every service).
HOLD_REASON_MAX = 200


def set_legal_hold(admin: KeycloakAdmin, ws_id: str, reason: str) -> Workspace:
    """Set a legal hold on the workspace (rule LEGAL_HOLD): no service deletes anything of it while it is
    set. ``reason`` is required (1 to ``HOLD_REASON_MAX`` printable characters); a new reason replaces
    the old one. Version bumped."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > HOLD_REASON_MAX or not reason.isprintable():
        raise WorkspaceAdminError(f"a legal hold needs a reason of 1 to {HOLD_REASON_MAX} printable characters")
    ws = workspace_from_group(_workspace_group(admin, ws_id))
    if ws.legal_hold == reason:
        raise WorkspaceAdminError(f"workspace {ws_id!r} is already held for that reason")
    ws.legal_hold = reason
    ws.version += 1
    _save(admin, ws)
    return get_workspace(admin, ws_id)


def release_legal_hold(admin: KeycloakAdmin, ws_id: str) -> Workspace:
    """Release the workspace's legal hold: its retention clock applies again. Version bumped."""
    ws = workspace_from_group(_workspace_group(admin, ws_id))
    if not ws.legal_hold:
        raise WorkspaceAdminError(f"workspace {ws_id!r} has no legal hold")
    ws.legal_hold = ""
    ws.version += 1
    _save(admin, ws)
    return get_workspace(admin, ws_id)


def set_retention(
    admin: KeycloakAdmin, ws_id: str, *, years: int | None = None, proceedings_closed_on: str | None = None
) -> Workspace:
    """Set the workspace's retention years (1 to 100; 0: the node's default) and/or the day its proceedings
    were recorded closed (an ISO date, not in the future). Version bumped."""
    ws = workspace_from_group(_workspace_group(admin, ws_id))
    if years is not None:
        if not (years == 0 or 1 <= years <= 100):
            raise WorkspaceAdminError("retention years: 1 to 100, or 0 for the node's default")
        ws.retention_years = years
    if proceedings_closed_on is not None:
        day = _validate_date("proceedings_closed_on", proceedings_closed_on)
        if day > _dt.datetime.now(_dt.UTC).date():
            raise WorkspaceAdminError(f"proceedings_closed_on {proceedings_closed_on} is in the future")
        ws.proceedings_closed_on = day.isoformat()
    ws.version += 1
    _save(admin, ws)
    return get_workspace(admin, ws_id)


def close_workspace(admin: KeycloakAdmin, ws_id: str) -> Workspace:
    """Close the workspace: status ``closed``, ``closed_at`` = now (UTC), version bumped.

    Membership is left unchanged (services decide what a closed workspace still allows).
    Raises if the workspace is already closed.
    """
    ws = workspace_from_group(_workspace_group(admin, ws_id))
    if ws.status == STATUS_CLOSED:
        raise WorkspaceAdminError(f"workspace {ws_id!r} is already closed (since {ws.closed_at or 'unknown'})")
    ws.status = STATUS_CLOSED
    ws.closed_at = _now_utc()
    ws.version += 1
    _save(admin, ws)
    return get_workspace(admin, ws_id)
