"""The tables jitlib's machinery keeps in each service's own database, declared with the store's
declarative base (so that the service's migrations own them): the runtime tables (outbox, inbox, audit,
workspaces, ...), and, where the service uses them, each workspace's content key (``jitlib.sealing``), the
pseudonyms of the workspaces' victims (``jitlib.victimdir``), the alerts already sent
(``jitlib.alerts``) and the tombstones of the peers' records withdrawn from this node's country
(``jitlib.replicas``). A store declares its base as ``class Base(ServiceBase, DeclarativeBase, victims=True)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

from jitlib import replicas, victimdir
from jitlib.alerts import alerts_table
from jitlib.db import RuntimeTables, new_metadata, runtime_tables
from jitlib.sealing import workspace_keys_table


@dataclass(frozen=True)
class SharedTables:
    """What ``shared_tables`` declared; asking for a table the service does not keep is a LookupError."""

    runtime: RuntimeTables
    optional: dict[str, Table]

    def _table(self, name: str) -> Table:
        try:
            return self.optional[name]
        except KeyError:
            raise LookupError(f"this service keeps no {name} table") from None

    @property
    def alerts(self) -> Table:
        """``alerts_sent``: each alert sent once (``jitlib.alerts.AlertScanner``)."""
        return self._table("alerts_sent")

    @property
    def workspace_keys(self) -> Table:
        """``workspace_keys``: each workspace's content key, wrapped by the node's KEK; shredding it
        destroys the workspace's sealed text."""
        return self._table("workspace_keys")

    @property
    def victims(self) -> Table:
        """``victim_pseudonyms``: the pseudonyms of each workspace's victims, from the victims service's
        events (``jitlib.victimdir``)."""
        return self._table("victim_pseudonyms")

    @property
    def replica_tombstones(self) -> Table:
        """``replica_tombstones``: the peers' records withdrawn from this node's country, each at the
        withdrawal's version (``jitlib.replicas``)."""
        return self._table("replica_tombstones")


def shared_tables(
    metadata: MetaData,
    *,
    sealed: bool = True,
    victims: bool = False,
    alerts: bool = False,
    withdrawals: bool = False,
) -> SharedTables:
    """Declare in a service's ``metadata`` the runtime tables and those it asks for: ``sealed`` (its case
    text is sealed per workspace), ``victims`` (its records name victims by pseudonym), ``alerts`` (it
    sends alerts on a clock), ``withdrawals`` (it keeps replicas its peers may withdraw from this node's
    country, ``replicas.ReplicaKind.withdraw``)."""
    runtime = runtime_tables(metadata)
    optional: dict[str, Table] = {}
    for wanted, declare in (
        (alerts, alerts_table),
        (sealed, workspace_keys_table),
        (victims, victimdir.pseudonyms_table),
        (withdrawals, replicas.tombstones_table),
    ):
        if wanted:
            table = declare(metadata)
            optional[table.name] = table
    return SharedTables(runtime, optional)


class ServiceBase:
    """Mixin for a service's declarative base, named before ``DeclarativeBase``:
    ``class Base(ServiceBase, DeclarativeBase, victims=True, alerts=True)``. The base gets its own metadata
    with jitlib's naming convention (``db.new_metadata``, which the migrations rely on) and, declared in
    it, jitlib's tables (``shared_tables`` with the same options) as ``Base.tables``. The store's mapped
    classes derive from the base as from any declarative base."""

    metadata: ClassVar[MetaData]
    tables: ClassVar[SharedTables]

    def __init_subclass__(
        cls,
        *,
        sealed: bool = True,
        victims: bool = False,
        alerts: bool = False,
        withdrawals: bool = False,
        **kwargs: Any,
    ) -> None:
        if DeclarativeBase in cls.__bases__:
            # Before DeclarativeBase sets up the registry, which takes the metadata the class holds.
            cls.metadata = new_metadata()
            cls.tables = shared_tables(
                cls.metadata, sealed=sealed, victims=victims, alerts=alerts, withdrawals=withdrawals
            )
        elif (sealed, victims, alerts, withdrawals) != (True, False, False, False):
            raise TypeError(f"{cls.__name__}: only the declarative base itself takes jitlib's table options")
        super().__init_subclass__(**kwargs)
