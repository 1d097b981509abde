"""The path every record takes through a servicer, written once for every service.

``RecordPath`` holds what differs per kind of record (its name, its policy rules, how the store loads it)
and gives the servicer the steps they all share:

- ``create``: idempotent create keyed by the client's ``request_id``. A replay with the same content
  returns the stored record; the same ``request_id`` with other content is FAILED_PRECONDITION
  ``REQUEST_ID_REUSED``. A concurrent duplicate is caught by the store's unique index. ``create_record``
  also asks the workspace what it refuses of the new record (its members, the victims it names).
- ``load_visible`` / ``get``: validate the id, load, ask the policy (NOT_FOUND when the caller may not
  see it), and for ``get`` audit the read.
- ``list_in_workspaces`` (built on ``list_workspaces`` and ``list_audited``): the preamble of every List
  RPC (which workspaces, the role short-circuit, the audit entry); ``list_addressed`` for a kind of record
  whose addressee reads it from outside the workspace too (evidence requests).
- ``check_version``: the optimistic concurrency check; ``check_change`` that check for the RPC being
  served, which answers the retry of the call that made the record's current version as that call did
  (``Replayed``, ``jitlib.changes``), and ``check_race`` for a retry that raced its first call and whose
  write lost to it; ``load_for_change`` the steps of a change before the domain applies it
  (the request's id and expected version validated, load-visible, the version check, the audience of its
  events); ``store_change`` (a function, since the service's own clocks and consumers change records too)
  the write of the change: the next version under the version guard, the call that made it
  (``changes.remember``), its event, its audit entry.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast

from google.protobuf.message import Message
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jitlib import auth, changes, validate, victimdir
from jitlib.actors import Versioned
from jitlib.auth import Principal
from jitlib.db import RecordTable, Stored
from jitlib.envelopes import request_digest
from jitlib.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument
from jitlib.policy import (
    CASE_ROLES,
    ChangedRecord,
    Operation,
    RecordAccess,
    RecordRules,
    VisibilityScope,
    visibility_scope,
)
from jitlib.runtime import Runtime, UnitOfWork
from jitlib.workspaces import WorkspaceInfo

R = TypeVar("R")
X = TypeVar("X")
C = TypeVar("C", bound=ChangedRecord)

#: A stored record's workspace, read from its own field (``RecordPath``'s ``workspace_of``).
record_workspace: Callable[[Any], str] = attrgetter("workspace_id")
#: The arguments a List query takes after (session, scope, workspaces): its filter, cursor and limit.
Q = ParamSpec("Q")


class NewRecord(Protocol):
    """What a create command carries for the record path: its workspace and the client's request id."""

    @property
    def workspace_id(self) -> str: ...

    @property
    def request_id(self) -> str: ...


class ChangeRequest(Protocol):
    """What a request to change a record carries for the record path: the record's id and the version the
    caller last read (0: whatever it is now)."""

    @property
    def id(self) -> str: ...

    @property
    def expected_version(self) -> int: ...


class NamesVictims(NewRecord, Protocol):
    """A create command of a record that names victims by pseudonym (``validate.VICTIM_REF``)."""

    @property
    def victim_refs(self) -> Sequence[str]: ...


class Replayed(Exception):
    """The call being served is the retry of the one that made the record's current version
    (``RecordPath.check_change``): answered with ``record`` as it is now, nothing written. ``transition_rpc``
    answers it with the servicer's view of the record."""

    def __init__(self, record: Any) -> None:
        super().__init__("replayed")
        self.record = record


@dataclass(frozen=True)
class _CallState:
    """What the record path learnt, in the change RPC being served, about the record it changes."""

    #: The record's last change (``changes.LastChange`` or None), read with the record in its one read unit
    #: (``RecordPath.load_visible``), keyed by (record type, record id, its version then); ``check_change``
    #: compares it without a read of its own.
    last: tuple[str, str, int, changes.LastChange | None] | None = None
    #: The change that passed ``RecordPath.check_change``: the record path, the record as loaded and the version
    #: the request asked from; ``transition_rpc`` looks again at it when its write lost the race.
    checked: tuple[RecordPath[Any], Any, int] | None = None


#: Nothing learnt yet (``_CallState`` is frozen: one value serves every call).
_NOTHING = _CallState()
#: The call's ``_CallState``, replaced (never changed in place) as the call learns more; ``transition_rpc``
#: starts each call with ``_NOTHING``.
_call: contextvars.ContextVar[_CallState] = contextvars.ContextVar("jit_record_call", default=_NOTHING)


@dataclass(frozen=True)
class Created(Generic[R]):
    record: R
    #: True when this call replayed an earlier create and wrote nothing.
    replayed: bool


class RecordPath(Generic[R]):
    """The shared steps for one kind of record (tasks, evidence requests, orders, channels)."""

    def __init__(
        self,
        rt: Runtime,
        rules: RecordRules,
        load: Callable[[Session, str], R | None],
        access: Callable[[R], RecordAccess],
        find_by_request: Callable[[Session, str, str], Stored[R] | None] | None = None,
        *,
        label: str = "",
        case_record: bool = True,
        victims: Table | None = None,
        workspace_of: Callable[[R], str] | None = None,
        pages_on_loop: bool = False,
    ) -> None:
        """The path of the records of kind ``rules.kind``: ``load`` reads one by id, ``access`` gives the
        policy's view of it, ``find_by_request`` (for creates) finds one by (creator, request id).
        ``case_record``: a new one is refused once its workspace's agreed period ended (rule
        ``JIT_PERIOD_ENDED``); False for what members talk in (channels), which stays open to wind down.
        ``victims``: the service's directory of the workspaces' victims (``jitlib.victimdir``), for a kind
        of record that names victims: ``create_record`` refuses a pseudonym it does not know.
        ``workspace_of``: a record's workspace without its whole ``access``, which ``allowed_actions`` asks of
        every record of a page: by default the record's own ``workspace_id`` (``record_workspace``); a kind
        whose record has none (an evidence item with its request) says where it is. ``pages_on_loop``: a
        List's page is read on the event loop first (``Database.read`` ``on_loop``), for a kind whose page
        queries send nothing but ``CompiledSelect``s (the answered pages of tasks and evidence requests);
        any other would be read twice, as a statement through the session sends it to a worker thread."""
        self.rt = rt
        self.record_type = rules.kind
        self.rules = rules
        self._load = load
        self._access = access
        self._workspace_of = workspace_of or record_workspace
        #: The store's lookup of a record by (creator's user id, request id), for idempotent creates.
        self._find_by_request = find_by_request
        #: How messages name the kind ("evidence request").
        self.label = label or label_of(rules)
        self.case_record = case_record
        self._victims = victims
        self._pages_on_loop = pages_on_loop

    # -- create -----------------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        cmd: NewRecord,
        digest: str,
        build: Callable[[WorkspaceInfo], R],
        write: Callable[[UnitOfWork, R, WorkspaceInfo], None],
        *,
        action: str = "create",
        owned_by_lead: bool = False,
        on_loop: bool = False,
    ) -> Created[R]:
        """Authorize a create of ``cmd`` in its workspace, then write ``build(workspace)`` with ``write``,
        or return the stored result of an earlier call with the same ``cmd.request_id`` (found with the
        store's ``find_by_request``).

        ``build`` may refuse with INVALID_ARGUMENT (an addressee outside the workspace, say); the caller
        validated the request's own fields before. A refusal that depends on stored state (the workspace
        unknown here or closed, its agreed period ended) still lets a genuine replay through: the first
        call succeeded.

        ``owned_by_lead``: the record is held by the node of the workspace's lead (a victim), not by the
        caller's own node; on another node the call goes to the lead's (``OwnedElsewhere``).

        ``on_loop``: ``write`` is tried on the event loop first (``Runtime.change``), so it may run twice
        and must keep nothing of a run but what it writes through its unit of work."""
        if self._find_by_request is None:
            raise TypeError(f"the {self.label} path was made without find_by_request")
        lookup, user_id, request_id = self._find_by_request, principal.user_id, cmd.request_id

        def find(session: Session) -> Stored[R] | None:
            return lookup(session, user_id, request_id)

        workspace_id = cmd.workspace_id
        rt = self.rt
        await rt.authorize(
            principal,
            Operation.CREATE,
            self.rules,
            record_type=self.record_type,
            record_id="",
            workspace_id=workspace_id,
            action=action,
        )
        try:
            if not owned_by_lead:
                rt.require_home_node(principal)
            workspace = rt.open_workspace(workspace_id, new_case_record=self.case_record)
            if owned_by_lead:
                rt.require_owner(workspace.lead, self.record_type)
            record = build(workspace)
        except (FailedPrecondition, InvalidArgument):
            replay = await rt.read(find)
            if replay is not None:
                return self.replayed(replay, digest)
            raise
        try:
            await rt.change(principal, lambda uow: write(uow, record, workspace), on_loop=on_loop)
        except IntegrityError:
            # The request_id was used before (a retry, or a concurrent duplicate): the store's unique
            # index on (creator, request_id) refused the insert, so answer with what the first call stored.
            replay = await rt.read(find)
            if replay is None:
                raise
            return self.replayed(replay, digest)
        return Created(record, replayed=False)

    async def create_record(
        self,
        principal: Principal,
        request: Message,
        cmd: NewRecord,
        build: Callable[[WorkspaceInfo], R],
        table: RecordTable[Any],
        announce: Callable[[UnitOfWork, R, WorkspaceInfo], None],
        *,
        admit: Callable[[WorkspaceInfo], list[FieldViolation]] | None = None,
    ) -> Created[R]:
        """``create`` as a create RPC of a record of its own table does it: keyed by the digest of
        ``request``, it inserts what ``build`` made into ``table`` under the request's id, lets ``announce``
        emit its event and writes the audit entry, in one unit of work.

        Before ``build``, once the policy let the caller create in the workspace, the workspace refuses
        with INVALID_ARGUMENT what ``admit(workspace)`` names (the domain's check against its members,
        say) and, on a path made with ``victims``, each pseudonym of ``cmd.victim_refs`` that is not a
        victim registered in it (``victimdir.unregistered``), in that order.

        The unit of work is tried on the event loop first (``Database.write`` ``on_loop``: on PostgreSQL a
        create then sends its one statement from the loop), so ``announce`` may run twice, the first run
        dropped unsent: it emits, and keeps nothing but what the last run made (the event's state, say)."""
        digest = request_digest(request)
        victims = self._victims
        refs: Sequence[str] = cast(NamesVictims, cmd).victim_refs if victims is not None else ()
        known = await victimdir.known(self.rt, victims, cmd.workspace_id, refs) if victims is not None else frozenset()

        def admitted(workspace: WorkspaceInfo) -> R:
            violations = admit(workspace) if admit is not None else []
            if refs:
                violations += victimdir.unregistered(refs, known, workspace.lead)
            InvalidArgument.raise_for(violations)
            return build(workspace)

        def write(uow: UnitOfWork, record: R, workspace: WorkspaceInfo) -> None:
            stored: Any = record  # a row of ``table``: it has an id and a workspace
            table.insert(uow.session, stored, request_id=cmd.request_id, request_digest=digest)
            announce(uow, record, workspace)
            uow.audit(self.record_type, stored.id, stored.workspace_id)

        return await self.create(principal, cmd, digest, admitted, write, on_loop=True)

    def replayed(self, replay: Stored[X], digest: str, *, field: str = "request_id") -> Created[X]:
        """The answer to a create whose ``request_id`` was used before: the stored record when the
        request is the same (``digest``), FAILED_PRECONDITION ``REQUEST_ID_REUSED`` when it is not
        (naming ``field``, where the request carries its request_id). The record is of this path's kind,
        or one it is loaded with (an evidence item, loaded with its request, is stored by itself)."""
        if replay.digest != digest:
            raise FailedPrecondition(
                "REQUEST_ID_REUSED",
                f"request_id was already used for a different {self.label}; generate a new one",
                {"field": field},
            )
        return Created(replay.record, replayed=True)

    # -- read -------------------------------------------------------------------------------------

    async def load_visible(
        self, principal: Principal, record_id: str, operation: Operation, *, action: str = "", field: str = "id"
    ) -> R:
        """The record, when ``principal`` may see it and do ``operation``: INVALID_ARGUMENT for a
        malformed id, NOT_FOUND when it does not exist or the caller may not know it does. On a
        federation, a change to a replica goes to its owner from here (``OwnedElsewhere``), before any
        check of the caller's view against the replica: the owner checks the version against its own."""
        InvalidArgument.raise_for(validate.uuid(field, record_id))
        expected = changes.expected_version()
        if expected is None:
            record = await self.rt.read(lambda session: self._load(session, record_id))
        else:
            # A change RPC: with the record, in the same read unit, its last change when the call may be the
            # retry of the one that made the record's version (``expected`` 0 or one behind), which
            # ``check_change`` then compares without a read of its own. A change asked from the current
            # version, the common case, reads nothing more.
            record, last = await self.rt.read(
                functools.partial(self._with_last_change, record_id=record_id, expected=expected)
            )
            version = getattr(record, "version", None)
            if isinstance(version, int):
                _call.set(replace(_call.get(), last=(self.record_type, record_id, version, last)))
        await self.rt.authorize(
            principal,
            operation,
            self.rules,
            record_type=self.record_type,
            record_id=record_id,
            record=self._access(record) if record is not None else None,
            action=action,
        )
        assert record is not None  # authorize refuses a missing record as NOT_FOUND
        if operation is not Operation.READ:
            self.rt.require_owner(self._access(record).origin_jurisdiction, self.record_type)
        return record

    def _with_last_change(
        self, session: Session, *, record_id: str, expected: int | None
    ) -> tuple[R | None, changes.LastChange | None]:
        """The record and its last change (``changes.last_change``): always for ``expected`` None, else only when
        a call asked from ``expected`` may be the retry of the one that made the record's version (0 or one
        behind; None otherwise)."""
        record = self._load(session, record_id)
        version = getattr(record, "version", None)
        if version is None or (expected is not None and expected not in (0, version - 1)):
            return record, None
        return record, changes.last_change(session, self.rt.tables.last_changes, self.record_type, record_id)

    async def get(self, principal: Principal, record_id: str, *, field: str = "id") -> R:
        """``load_visible`` for reading, with the read in the audit log."""
        record = await self.load_visible(principal, record_id, Operation.READ, field=field)
        workspace = self._access(record).workspace_id
        await self.rt.change(principal, lambda uow: uow.audit(self.record_type, record_id, workspace))
        return record

    # -- list -------------------------------------------------------------------------------------

    async def list_workspaces(self, principal: Principal, workspace_id: str) -> frozenset[str]:
        """The workspaces a List covers: the one asked for (NOT_FOUND when the caller is not in it), or
        all of the caller's. A caller in no workspace gets an empty set (an empty list, not an error);
        a role without access to case content is refused as for any workspace."""
        InvalidArgument.raise_for(validate.workspace_id("workspace_id", workspace_id, required=False))
        if not workspace_id and not principal.workspaces and principal.roles & CASE_ROLES:
            return frozenset()
        ask = workspace_id or next(iter(sorted(principal.workspaces)), "-")
        await self.rt.authorize(
            principal, Operation.READ, None, record_type=self.record_type, record_id="", workspace_id=ask
        )
        return frozenset({workspace_id}) if workspace_id else principal.workspaces

    async def list_audited(
        self,
        principal: Principal,
        workspace_id: str,
        query: Callable[[Session, VisibilityScope], list[X]],
        *,
        record_id: str = "*",
    ) -> list[X]:
        """Run a list ``query`` under the caller's visibility scope, with the list in the audit log (its
        ``record_id``: ``*``, or the record whose parts it lists, as the evidence request of ``ListItems``).

        The audit entry commits in a unit of work of its own while the page is read in a read transaction,
        both awaited before the answer exists: on PostgreSQL the entry, one INSERT, is sent from the event
        loop in a transaction of its own (``Database.write`` ``on_loop``, as a create's unit) and its commit
        waits for the WAL's fsync, while the page is read on a worker thread or, for a kind whose pages are
        read on the loop (``pages_on_loop``), there too, its statement awaited beside the entry's: no worker
        thread, hand-off or GIL passed for either (bench/README.md, Lists, the ninth, fifteenth and
        sixteenth passes); on SQLite (inline) the write lock is held for the entry alone, not for the query.
        No answer leaves without its entry committed:
        when the entry does not commit, the list fails. A list whose query fails after its entry committed
        leaves the entry (an attempt to read, audited as every read is; ARCHITECTURE.md, "Audit")."""
        scope = visibility_scope(principal)
        record_type, logged_as = self.record_type, workspace_id or "*"
        found, logged = await asyncio.gather(
            self.rt.read(lambda session: query(session, scope), on_loop=self._pages_on_loop),
            self.rt.change(principal, lambda uow: uow.audit(record_type, record_id, logged_as), on_loop=True),
            return_exceptions=True,
        )
        if isinstance(logged, BaseException):
            raise logged
        if isinstance(found, BaseException):
            raise found
        return found

    async def list_in_workspaces(
        self,
        principal: Principal,
        workspace_id: str,
        query: Callable[Concatenate[Session, VisibilityScope, frozenset[str], Q], list[X]],
        *args: Q.args,
        **kwargs: Q.kwargs,
    ) -> list[X]:
        """A List RPC's ``query(session, scope, workspaces, *args, **kwargs)`` (a store's ``list_visible`` or
        ``list_answered`` with the RPC's filter, cursor and limit) over the workspaces it covers (``list_workspaces``),
        audited as ``list_audited``. A caller in no workspace gets an empty list, and nothing is queried or
        audited."""
        workspaces = await self.list_workspaces(principal, workspace_id)
        if not workspaces:
            return []
        return await self.list_audited(
            principal, workspace_id, lambda session, scope: query(session, scope, workspaces, *args, **kwargs)
        )

    async def list_addressed(
        self,
        principal: Principal,
        workspace_id: str,
        addressed_in: Callable[[Session, str, str], bool],
        query: Callable[Concatenate[Session, VisibilityScope, frozenset[str] | None, Q], list[X]],
        *args: Q.args,
        **kwargs: Q.kwargs,
    ) -> list[X]:
        """``list_in_workspaces`` for a kind of record whose addressee reads it whether or not it is a
        member of the workspace (``RecordAccess.outside_addressee``): ``query(session, scope, workspaces,
        *args, **kwargs)``
        with ``workspaces`` None (any workspace) when no ``workspace_id`` is asked for, else just that one.
        The READ rule in the query keeps what the caller may see: a member's records of its workspaces and,
        in any workspace, those addressed to the caller's jurisdiction from outside it. A workspace the
        caller is not a member of is listed only when it addressed a record to the caller's jurisdiction
        (``addressed_in(session, workspace_id, jurisdiction)``), which the caller knows of already; else it
        is NOT_FOUND, as for any workspace the caller may not see. A role without access to case content
        is refused as for any workspace."""
        InvalidArgument.raise_for(validate.workspace_id("workspace_id", workspace_id, required=False))
        jurisdiction = principal.jurisdiction
        seen = not workspace_id or workspace_id in principal.workspaces
        if seen is False:
            seen = await self.rt.read(lambda session: addressed_in(session, workspace_id, jurisdiction))
        if not principal.roles & CASE_ROLES or not seen:
            await self.rt.authorize(
                principal, Operation.READ, None, record_type=self.record_type, record_id="", workspace_id=workspace_id
            )
        workspaces = frozenset({workspace_id}) if workspace_id else None
        return await self.list_audited(
            principal, workspace_id, lambda session, scope: query(session, scope, workspaces, *args, **kwargs)
        )

    # -- change -----------------------------------------------------------------------------------

    def members_for_change(self, record: R, *, owned: bool = True) -> frozenset[str]:
        """The members of the record's workspace (the audience of its events), refusing any change
        while the workspace is closed. A workspace this node has not heard of yet falls back to the
        record's own parties. On a federation, a change to a replica goes to its owner's node; with
        ``owned=False`` the caller adds a record of its own to it (an evidence item received here for a
        request owned elsewhere), which this node may do."""
        acc = self._access(record)
        if owned:
            self.rt.require_owner(acc.origin_jurisdiction, self.record_type)
        if self.rt.workspaces.get(acc.workspace_id) is None:
            return acc.parties
        return self.rt.open_workspace(acc.workspace_id).members

    def allowed_actions(self, record: R, actions: tuple[str, ...]) -> tuple[str, ...]:
        """What a record's message tells its caller they may do: ``actions`` (the domain's
        ``allowed_actions``: the policy and the record's state), or none while its workspace is closed,
        since ``members_for_change`` refuses every change then. Owned or a replica alike: a change to a
        replica goes to its owner, which decides the same."""
        return self.actions_in(self._workspace_of(record), actions)

    def actions_in(self, workspace_id: str, actions: tuple[str, ...]) -> tuple[str, ...]:
        """``allowed_actions`` of a record of ``workspace_id`` (one a list answers from its stored form)."""
        if not actions:
            return actions
        workspace = self.rt.workspaces.get(workspace_id)
        return actions if workspace is None or workspace.is_open else ()

    async def load_for_change(
        self,
        principal: Principal,
        request: ChangeRequest,
        operation: Operation,
        violations: list[FieldViolation],
        *,
        action: str = "",
    ) -> tuple[R, frozenset[str]]:
        """The record ``request`` changes and the audience of the change's events, once every check before
        the domain applies the change passed: the request's id, the change's own ``violations`` and the
        expected version, refused together as INVALID_ARGUMENT (in that order); ``load_visible`` for
        ``operation``; ABORTED when the caller's view is stale (``check_version``); the members of the
        record's workspace, refusing a change while it is closed (``members_for_change``). The retry of the
        call that made the record's current version raises ``Replayed`` instead (``check_change``)."""
        InvalidArgument.raise_for(
            validate.uuid("id", request.id) + violations + validate.expected_version(request.expected_version)
        )
        record = await self.load_visible(principal, request.id, operation, action=action)
        await self.check_change(principal, record, request.expected_version)
        return record, self.members_for_change(record)

    async def check_change(self, principal: Principal, record: R, expected: int) -> None:
        """``check_version`` for a change of ``record`` by the RPC being served, which may be the retry of
        the call that made the record's current version (its answer lost to a cut link or a timeout): the
        same caller, RPC and request body (``changes.fingerprint``), asking from one version behind the
        current one, or from 0 ("whatever it is now") while the record was not changed since
        (``changes.replays``). That retry raises ``Replayed`` with the record as it is now: the call is
        answered as the first one was and writes nothing but its audit entry, a read of the record (the
        RPC's operation, outcome ``replayed``), since the answer shows the record as every read does.
        Anything else is checked as ``check_version`` does (ABORTED when stale). A change that passes is kept
        for the rest of the call, in case its write then loses the race to its own first call (``check_race``).

        On a federation, a change whose view is not the current one of a replica goes to the record's owner
        first (``OwnedElsewhere``), which knows the calls that made its versions: a replica keeps none."""
        current = cast(Versioned, record).version
        if expected == current:
            _call.set(replace(_call.get(), checked=(self, record, expected)))
            return
        self.rt.require_owner(self._access(record).origin_jurisdiction, self.record_type)
        call = changes.of_call(principal, self.rt.call_keys) if expected in (0, current - 1) else None
        if call is not None:
            changed = cast(ChangedRecord, record)
            table, kind = self.rt.tables.last_changes, self.record_type
            state = _call.get()
            if state.last is not None and state.last[:3] == (kind, changed.id, current):
                last = state.last[3]
            else:
                last = await self.rt.read(lambda session: changes.last_change(session, table, kind, changed.id))
            if changes.replays(last, current, expected, call):
                await self._replay(principal, record)
        self.check_version(current, expected)
        _call.set(replace(_call.get(), checked=(self, record, expected)))

    async def check_race(self, principal: Principal, record: R, expected: int) -> None:
        """After the version-guarded write of a change of ``record`` (as ``check_change`` passed it, asked
        from ``expected``) found it changed meanwhile (``store_change``'s ABORTED ``CONCURRENT_UPDATE``): the
        retry of a call still in flight (its client's deadline expired while the server committed) read the
        record before that first call's commit and lost the race to it. A fresh read of the record and its
        last change tells: when the record is one version past the one the change was to replace and that
        version was made by this very call (``changes.raced``), ``Replayed`` with the record as it is now,
        audited as ``check_change`` audits a replay. Anything else returns, and the change stays ABORTED.

        On PostgreSQL the retry's UPDATE waited for the first call's transaction to commit (it held the row)
        and then matched no row; its unit rolled back before this read, which sees that commit."""
        call = changes.of_call(principal, self.rt.call_keys)
        if call is None:
            return
        record_id, read = cast(ChangedRecord, record).id, cast(Versioned, record).version
        now, last = await self.rt.read(functools.partial(self._with_last_change, record_id=record_id, expected=None))
        if now is not None and changes.raced(last, cast(Versioned, now).version, read, expected, call):
            await self._replay(principal, now)

    async def _replay(self, principal: Principal, record: R) -> None:
        """Answer the call being served as the retry of the one that made ``record``'s version: its audit entry
        (a read of the record, the RPC's operation, outcome ``replayed``), then ``Replayed``."""
        kind, record_id = self.record_type, cast(ChangedRecord, record).id
        workspace = self._access(record).workspace_id
        await self.rt.change(principal, lambda uow: uow.audit(kind, record_id, workspace, outcome="replayed"))
        raise Replayed(record)

    def check_version(self, current: int, expected: int) -> None:
        """ABORTED when the caller's view is stale (``expected`` 0 means "whatever it is now")."""
        if expected and expected != current:
            raise Aborted(
                "VERSION_MISMATCH",
                f"{self.label} is at version {current}, not {expected}; re-read it",
                {"current_version": str(current)},
            )

    def concurrent_update(self) -> Aborted:
        """The error for a write that lost the race to another writer after the version check."""
        return concurrent_update(self.label)


def label_of(rules: RecordRules) -> str:
    """How messages name a kind of record: its policy kind in words ("evidence_request": "evidence request")."""
    return rules.kind.replace("_", " ")


def concurrent_update(label: str) -> Aborted:
    """The error for a write of a ``label`` that lost the race to another writer after the version check."""
    return Aborted("CONCURRENT_UPDATE", f"{label} was changed by someone else meanwhile; re-read it")


def store_change(
    uow: UnitOfWork,
    rules: RecordRules,
    before: C,
    after: C,
    update: Callable[[Session, C, int], bool],
    announce: Callable[[UnitOfWork, C], None],
) -> None:
    """Write a change of a record of kind ``rules.kind`` in the caller's unit of work (the change's one
    transaction): ``after`` stored by ``update(session, after, before.version)`` (a store's version-guarded
    update, ``RecordTable.update_if_version``), then its event(s) by ``announce(uow, after)`` and the change's
    audit entry. ``update`` answering False means someone changed the record since ``before`` was read:
    ABORTED ``CONCURRENT_UPDATE``, nothing announced, and the transaction rolls back. Made by an RPC, the
    change also records the call that made its version (``changes.remember``), so that its retry is answered
    as it was (``RecordPath.check_change``). The change's side of what ``RecordPath.create_record`` does for
    a new record."""
    if not update(uow.session, after, before.version):
        raise concurrent_update(label_of(rules))
    changes.remember(uow, rules.kind, after.id, after.workspace_id, after.version)
    announce(uow, after)
    uow.audit(rules.kind, after.id, after.workspace_id)


def page(items: list[X], size: int, token_for: Callable[[X], str]) -> tuple[list[X], str]:
    """Split a query's ``size + 1`` rows into the page and the next page's token ("" on the last page)."""
    return items[:size], (token_for(items[size - 1]) if len(items) > size else "")


def get_rpc(path: str, response: Callable[..., Message], field: str) -> Callable[..., Awaitable[Message]]:
    """A servicer method for a Get RPC: the record ``request.id`` read through the servicer's
    ``RecordPath`` attribute ``path`` (validated, NOT_FOUND when hidden, the read audited), answered as
    ``response(<field>=...)`` with the servicer's ``_view(principal, record, now)`` (which may be async)."""

    async def rpc(self: Any, request: Message, context: Any) -> Message:
        principal = auth.current()
        record = await getattr(self, path).get(principal, request.id)  # type: ignore[attr-defined]
        view = self._view(principal, record, self.rt.clock.now())
        return response(**{field: await view if inspect.isawaitable(view) else view})

    rpc.__name__ = rpc.__qualname__ = f"get_{field}"
    return rpc


def transition_rpc(action: str, response: Callable[..., Message], field: str) -> Callable[..., Awaitable[Message]]:
    """A servicer method for one transition RPC: it answers ``response(<field>=...)`` with what the
    servicer's ``_transition(action, request)`` returns. The servicer declares its transitions as a table,
    one line each (``AcceptTask = transition_rpc("accept", AcceptTaskResponse, "task")``). The retry of the
    call that made the record's current version (``Replayed``) is answered with the servicer's
    ``_view(principal, record, now)`` of the record as it is now (which may be async), as ``get_rpc`` answers;
    so is a retry that raced that first call and whose write lost to it (``RecordPath.check_race``)."""

    async def rpc(self: Any, request: Message, context: Any) -> Message:
        token = _call.set(_NOTHING)
        try:
            try:
                changed = await self._transition(action, request)
            except Aborted as lost:
                await _after_lost_race(lost)
                raise
        except Replayed as replay:
            view = self._view(auth.current(), replay.record, self.rt.clock.now())
            changed = await view if inspect.isawaitable(view) else view
        finally:
            _call.reset(token)
        return response(**{field: changed})

    rpc.__name__ = rpc.__qualname__ = f"transition_{action}"
    return rpc


async def _after_lost_race(lost: Aborted) -> None:
    """A transition's write that lost the race to another writer (``CONCURRENT_UPDATE``, after the change passed
    ``RecordPath.check_change``): ``Replayed`` when the other writer was this very call's first attempt
    (``RecordPath.check_race``); else nothing, and the caller re-raises ``lost``."""
    checked = _call.get().checked
    if lost.reason == "CONCURRENT_UPDATE" and checked is not None:
        path, record, expected = checked
        await path.check_race(auth.current(), record, expected)
