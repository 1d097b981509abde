"""Wires the evidence service into the shared bootstrap (jitlib.server): the gRPC servicer, the consumer of
preservation-order events, the deadline-alert scanner (jitlib.alerts), the sweep of blobs no item names
(blobs.BlobSweep), the recount of stored deadlines at start (recount) and, on a federation of per-country
nodes, the replicas of the evidence requests and items other countries' nodes own (jitlib.replicas), and
what this node owns sent to the node of a country that joins a workspace (jitlib.joining)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from jitlib import alerts, bus, joining, jurisdictions, processes, replicas, retention_sweep, sealing, victimdir
from jitlib.alerts import AlertScanner
from jitlib.config import ServiceSettings
from jitlib.db import Write
from jitlib.runtime import Runtime
from jitlib.server import ServiceSpec, Worker
from services.evidence import blobs, events, mapping, recount, store, wire
from services.evidence.deadline_alerts import AlertOffsets, make_emit, make_scan
from services.evidence.domain import EvidenceRequest, ItemReplica, item_holder, item_restricted
from services.evidence.keys import WorkspaceKeys
from services.evidence.servicer import EvidenceServicer

MIGRATIONS = Path(__file__).parent / "migrations"
# At start, before serving, the consents of items sealed before they were (revision 0036) are sealed with
# the items' other text, after jitlib's own backfills (which seal rows from before sealing with them).
sealing.backfilled(store.Base.metadata, store.seal_clear_consents)


class _ChunksAsViews:
    """Registers the generated handlers of EvidenceService on ``server`` with UploadItem's request
    deserializer replaced by ``wire.read_upload_message`` (a chunk arrives as a view of the received bytes,
    not parsed into a message and copied out of it). The generated code registers each service twice, as a
    generic handler and as registered methods: both get the same handlers."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """Left out: ``add_registered_method_handlers`` adds the generic handler too, from its own table."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        upload = handlers["UploadItem"]
        assert upload.stream_unary is not None
        handlers = {
            **handlers,
            "UploadItem": grpc.stream_unary_rpc_method_handler(
                upload.stream_unary,
                request_deserializer=wire.read_upload_message,
                response_serializer=upload.response_serializer,
            ),
        }
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        self._server.add_registered_method_handlers(service, handlers)  # type: ignore[attr-defined]  # not in grpc's stubs


class EvidenceSettings(ServiceSettings):
    """Environment: JIT_EVIDENCE_LISTEN, JIT_EVIDENCE_DATABASE_URL, ... (see README)."""

    model_config = SettingsConfigDict(env_prefix="JIT_EVIDENCE_", extra="ignore")
    listen: str = "127.0.0.1:50052"
    #: Where encrypted evidence blobs live; empty means <state dir>/evidence-blobs.
    blob_dir: str = ""
    #: Warnings before a deadline (comma-separated durations: 48h, 2d, 1d12h, 90m); one more when it passes.
    warn_offsets: str = "48h,8h"
    #: Warnings for deadlines of 24 hours or less (the 8-hour emergency EPOC).
    short_warn_offsets: str = "2h"
    #: Seconds between deadline scans (a change that makes an alert due at once wakes the scanner too).
    scan_interval_seconds: float = Field(default=30.0, gt=0)
    #: A blob no item names (a failed upload's), and a stopped upload's temporary file, are removed once
    #: untouched for this long; the blob sweep runs at start and as often.
    orphan_grace_seconds: float = Field(default=blobs.ORPHAN_GRACE, gt=0)

    def offsets(self) -> AlertOffsets:
        return AlertOffsets.parse(self.warn_offsets, self.short_warn_offsets)


#: Evidence requests other countries' nodes own, held here as replicas when this node's country may see
#: them: the request record with its deadlines. Their events are published on
#: ``jit.evidence.<origin>.<event>`` with aggregate type ``evidence_request``.
def _write_request(session: Session, request: EvidenceRequest, exists: bool) -> None:
    """A peer's request, and the items of it that arrived first (``_write_item``)."""
    store.write_replica(session, request, exists)
    if exists:
        return
    for state in store.take_parked_items(session, request.id):
        item = mapping.item_from_pb(evidence_pb2.EvidenceItem.FromString(state))
        store.write_item_replica(session, replace(item, replicated_at=request.replicated_at), False)


def _write_item(session: Session, replica: ItemReplica, exists: bool) -> None:
    """A peer's item; kept aside (``store.park_item_replica``) while its request is not here yet: the
    item's holder and the request's owner may be two nodes, whose streams come in no order between them."""
    if not exists and store.get(session, replica.item.evidence_request_id) is None:
        state = mapping.item_to_pb(replica.item, replica.version).SerializeToString()
        # ``replicas.apply`` sets ``replicated_at``: when this node took the item in.
        store.park_item_replica(session, replica, state, replica.replicated_at or replica.item.received_at)
        return
    store.write_item_replica(session, replica, exists)


REPLICAS = replicas.ReplicaKind(
    "evidence_request",
    "jit.evidence.>",
    evidence_pb2.EvidenceRequest,
    mapping.request_from_pb,
    store.get,
    _write_request,
)


def _request_replicas(rt: Runtime) -> replicas.ReplicaKind[EvidenceRequest]:
    """``REPLICAS`` as this node's consumer applies them: a change of the owner's that records an objection
    also restricts the items of the request held here (``events.restrict_held_items``): the owner's node
    writes the RESTRICTED entries of the items it holds, and only the holder writes an item's chain."""

    def write(session: Session, request: EvidenceRequest, exists: bool) -> None:
        before = store.restricted_at(session, request.id) if exists else None
        _write_request(session, request, exists)
        if request.items_restricted_at is None or request.items_restricted_at == before:
            return
        workspace = rt.workspaces.get(request.workspace_id)
        members = workspace.members if workspace is not None else request.access().parties
        if events.restrict_held_items(session, rt.tables, before, request, members, rt.clock.now()):
            bus.after_commit(session, rt.relay.wake)

    return replace(REPLICAS, write=write)


#: Their items, on the same subjects (aggregate type ``evidence_item``), so one consumer applies a request
#: and its items in the owner's order: the metadata and digest only. The bytes stay on the owner's node;
#: a download from here is forwarded to it, and it writes the custody entry.
ITEM_REPLICAS = replicas.ReplicaKind(
    "evidence_item",
    "jit.evidence.>",
    evidence_pb2.EvidenceItem,
    mapping.item_from_pb,
    store.get_item_replica,
    _write_item,
)


def _shared_request(
    session: Session, r: EvidenceRequest, members: frozenset[str], now: datetime
) -> tuple[str, Envelope]:
    """A request's event for the nodes of countries that joined its workspace (``jitlib.joining``): its
    state and audience as its other events have them."""
    state = mapping.request_to_pb(r, now)
    envelope = events.request_envelope(r, state, "shared", members, now, events.linked_order(session, r))
    return events.subject(r.origin_jurisdiction, "shared"), envelope


def _shared_item(
    session: Session, found: store.ItemWithHead, members: frozenset[str], now: datetime
) -> tuple[str, Envelope]:
    """An item's event for the nodes of countries that joined its workspace, sent by the node that holds it
    (which may not own its request): its request's audience, as the item's other events."""
    item = found.item
    req = store.get(session, item.evidence_request_id)
    if req is None:  # an item is stored with its request (a foreign key): never
        raise LookupError(f"item {item.id} without its request")
    state = mapping.item_to_pb(item, found.custody_seq, restricted=item_restricted(item, req))
    envelope = events.item_envelope(
        item, req, state, "item_shared", members, item.received_by, found.custody_seq, now, item_holder(item)
    )
    return events.subject(req.origin_jurisdiction, "item_shared"), envelope


def _resends(rt: Runtime) -> list[joining.ResendKind[Any]]:
    """What this node owns and sends to the node of a country that joins a workspace: the requests, then the
    items it holds (an item's request may come from another node, and the receiver keeps it aside until
    then: ``_write_item``)."""
    return [
        joining.ResendKind("evidence_request", store.REQUESTS.owned_page, _shared_request),
        joining.ResendKind("evidence_item", store.owned_items, _shared_item, key=lambda found: found.item.id),
    ]


def spec(settings: EvidenceSettings | None = None) -> ServiceSpec:
    """The service's spec. ``extra["scanner"]`` holds the running AlertScanner, ``extra["blobs"]`` the
    blob store and ``extra["blob_sweep"]`` its sweep (tests use them)."""
    settings = settings or EvidenceSettings()
    offsets = settings.offsets()
    extra: dict[str, Any] = {}
    # Counting a deadline loads the holiday calendars: at start, not in the first call that counts one.
    jurisdictions.preload(datetime.now(UTC).year)

    def blob_files(session: Session, workspace_id: str) -> list[Path]:
        """Retention: the blob files of a workspace whose key is destroyed (``jitlib.retention_sweep``)."""
        blob_store = extra.get("blobs")
        if blob_store is None:
            return []
        return [blob_store.path(k) for k in store.blob_keys_of_workspace(session, workspace_id)]

    def blob_folder(workspace_id: str) -> int:
        """Retention: what is left of a destroyed workspace's blobs (a stopped shred's, those no item names)."""
        blob_store = extra.get("blobs")
        return blob_store.remove_workspace(workspace_id) if blob_store is not None else 0

    def erase(session: Session, workspace_id: str) -> dict[str, int]:
        return {"custody_texts_erased": store.erase_custody_text(session, workspace_id)}

    extra["retention_hooks"] = retention_sweep.Hooks(files=blob_files, erase=erase, leftovers=blob_folder)

    def blob_store_of(rt: Runtime) -> blobs.BlobStore:
        """The blob store, made once (the background workers are made before the servicer)."""
        if "blobs" not in extra:
            root = Path(settings.blob_dir) if settings.blob_dir else rt.common.state_dir / "evidence-blobs"
            extra["blobs"] = blobs.BlobStore(root)
        blob_store: blobs.BlobStore = extra["blobs"]
        return blob_store

    def register(rt: Runtime, server: grpc.aio.Server) -> Sequence[str]:
        blob_store = blob_store_of(rt)
        blobs.keep_freed_memory()  # in each process serving transfers (bench/README.md, the evidence section)
        assert rt.content_keys is not None  # the store declares workspace_keys
        servicer = EvidenceServicer(rt, blob_store, WorkspaceKeys(rt, rt.content_keys), offsets)
        scanner = extra.get("scanner")
        if scanner is not None:
            servicer.wake_scanner = scanner.wake
        elif processes.process_index():
            # With JIT_EVIDENCE_PROCESSES above 1 the scanner runs in copy 0 alone: this copy's changes ring it.
            servicer.wake_scanner = processes.Doorbell(rt.name, rt.db.url).ring
        extra.update(servicer=servicer)
        evidence_pb2_grpc.add_EvidenceServiceServicer_to_server(servicer, _ChunksAsViews(server))
        return [evidence_pb2.DESCRIPTOR.services_by_name["EvidenceService"].full_name]

    def background(rt: Runtime) -> Sequence[Worker]:
        interval = settings.scan_interval_seconds
        scanner = AlertScanner(
            rt, store.ALERTS, make_scan(offsets), make_emit(rt), interval=interval, batch=alerts.BATCH
        )
        extra["scanner"] = scanner
        bell = processes.Doorbell(rt.name, rt.db.url)
        copies = [bell.listener(scanner.wake)] if processes.process_index() is not None else []

        async def in_use(blob_keys: Sequence[str]) -> set[str]:
            return await rt.read(lambda s: store.blob_keys_in_use(s, blob_keys))

        grace = settings.orphan_grace_seconds
        blob_sweep = blobs.BlobSweep(blob_store_of(rt), in_use, grace=grace, interval=grace)
        extra["blob_sweep"] = blob_sweep
        return [
            *events.consumers(rt),
            *replicas.consumers(rt, _request_replicas(rt), ITEM_REPLICAS),
            *victimdir.consumers(rt, store.VICTIMS),
            scanner,
            blob_sweep,
            *copies,
        ]

    def recount_deadlines(write: Write, now: datetime) -> int:
        """Deadlines stored before periods were counted as they are now: recounted once, before serving."""
        return recount.recount(write, offsets, now)

    return ServiceSpec.of(
        "evidence",
        store,
        [events.STREAM],
        register,
        consumers=background,
        extra=extra,
        backfills=[recount_deadlines],
        resends=_resends,
    )
