"""Per-country nodes keep each country's data at home: a record reaches another node only when that
country is entitled to it, the broker (not our code) keeps a node's credentials off what is sent to
others, and a link cut loses nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import grpc
import nats
import nats.errors
import pytest

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as ev
from jit.evidence.v1 import evidence_pb2_grpc
from jit.preservation.v1 import preservation_pb2 as pres
from jit.preservation.v1 import preservation_pb2_grpc
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.nodes import LocalFederation
from tests.harness import error_reason, eventually, files_holding, md, rid

pytestmark = pytest.mark.integration
WS = "jit-demo"


class Nodes:
    def __init__(self, channels: dict[tuple[str, str], grpc.Channel], tokens: Any) -> None:
        self._channels = channels
        self.tokens = tokens

    def tasks(self, country: str) -> tasks_pb2_grpc.TaskServiceStub:
        return tasks_pb2_grpc.TaskServiceStub(self._channels[(country, "tasks")])

    def create_task(self, country: str, user: str, title: str, **fields: Any) -> pb.Task:
        req = pb.CreateTaskRequest(request_id=rid(), workspace_id=WS, title=title, kind=pb.TASK_KIND_OTHER, **fields)
        return self.tasks(country).CreateTask(req, metadata=md(self.tokens(user)), timeout=15).task

    def get_task(self, country: str, user: str, task_id: str) -> pb.Task | None:
        try:
            return (
                self.tasks(country)
                .GetTask(pb.GetTaskRequest(id=task_id), metadata=md(self.tokens(user)), timeout=15)
                .task
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def call(self, country: str, service: str, method: str, user: str, request: Any) -> Any:
        stubs = {
            "tasks": tasks_pb2_grpc.TaskServiceStub,
            "evidence": evidence_pb2_grpc.EvidenceServiceStub,
            "preservation": preservation_pb2_grpc.PreservationServiceStub,
        }
        stub = stubs[service](self._channels[(country, service)])
        return getattr(stub, method)(request, metadata=md(self.tokens(user)), timeout=15)

    def found(self, country: str, service: str, method: str, user: str, request: Any) -> Any:
        """The response, or None for NOT_FOUND."""
        try:
            return self.call(country, service, method, user, request)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def task_ids(self, country: str, user: str) -> set[str]:
        ids: set[str] = set()
        token = ""
        while True:
            resp = self.tasks(country).ListTasks(
                pb.ListTasksRequest(workspace_id=WS, page_size=200, page_token=token),
                metadata=md(self.tokens(user)),
                timeout=15,
            )
            ids |= {t.id for t in resp.tasks}
            token = resp.next_page_token
            if not token:
                return ids


@pytest.fixture(scope="module")
def nodes(channels: dict[tuple[str, str], grpc.Channel], country_tokens: Any) -> Nodes:
    return Nodes(channels, country_tokens)


def _barrier(nodes: Nodes, country: str, user: str) -> pb.Task:
    """A workspace-visible NL task, created after what came before it: once ``country``'s node holds it,
    that node has taken in everything NL sent it before (one ordered stream per recipient)."""
    marker = nodes.create_task(
        "NL",
        "nl-prosecutor",
        f"barrier {uuid.uuid4().hex[:8]}",
        assignee_jurisdiction="DE",
        visibility=common_pb2.VISIBILITY_WORKSPACE,
    )
    eventually(lambda: nodes.get_task(country, user, marker.id), timeout=30)
    return marker


def test_an_nl_task_shared_with_de_reaches_des_node_and_never_ies(nodes: Nodes) -> None:
    title = f"Restricted NL-DE {uuid.uuid4().hex}"
    task = nodes.create_task("NL", "nl-prosecutor", title, assignee_jurisdiction="DE")
    assert not task.HasField("replica")  # on its owner's node it is no replica

    replica = eventually(lambda: nodes.get_task("DE", "de-liaison", task.id), timeout=30)
    assert replica.title == title and replica.version == task.version
    assert replica.replica.owner_node == "NL" and replica.replica.updated_at.seconds > 0
    assert task.id in nodes.task_ids("DE", "de-liaison")

    _barrier(nodes, "IE", "ie-prosecutor")
    assert nodes.get_task("IE", "ie-prosecutor", task.id) is None
    assert task.id not in nodes.task_ids("IE", "ie-prosecutor")


def test_a_change_by_the_owner_reaches_the_replica_at_the_owners_version(nodes: Nodes) -> None:
    task = nodes.create_task("NL", "nl-prosecutor", "Versioned", assignee_jurisdiction="DE")
    eventually(lambda: nodes.get_task("DE", "de-liaison", task.id), timeout=30)
    nodes.tasks("NL").CancelTask(
        pb.CancelTaskRequest(id=task.id, expected_version=task.version, reason="withdrawn by NL"),
        metadata=md(nodes.tokens("nl-prosecutor")),
        timeout=15,
    )
    replica = eventually(
        lambda: (t := nodes.get_task("DE", "de-liaison", task.id)) is not None and t.version == task.version + 1 and t,
        timeout=30,
    )
    assert replica.state == pb.TASK_STATE_CANCELLED and replica.state_reason == "withdrawn by NL"


def test_a_restricted_task_reassigned_away_from_de_is_withdrawn_from_des_node(nodes: Nodes) -> None:
    """NL's restricted task for DE, declined by DE and reassigned to IE: DE's node drops its copy (the
    owner's withdrawal), so DE's users get NOT_FOUND there as on NL's node; IE's node gets the task."""
    task = nodes.create_task("NL", "nl-prosecutor", f"Reassigned {uuid.uuid4().hex[:8]}", assignee_jurisdiction="DE")
    eventually(lambda: nodes.get_task("DE", "de-liaison", task.id), timeout=30)
    declined = nodes.call(
        "NL",
        "tasks",
        "DeclineTask",
        "de-liaison",
        pb.DeclineTaskRequest(id=task.id, expected_version=task.version, reason="no capacity"),
    ).task
    nodes.call(
        "NL",
        "tasks",
        "AssignTask",
        "nl-prosecutor",
        pb.AssignTaskRequest(id=task.id, expected_version=declined.version, assignee_jurisdiction="IE"),
    )
    held = eventually(lambda: nodes.get_task("IE", "ie-prosecutor", task.id), timeout=30)
    assert held.assignee_jurisdiction == "IE"
    eventually(lambda: nodes.get_task("DE", "de-liaison", task.id) is None, timeout=30)
    assert task.id not in nodes.task_ids("DE", "de-liaison")
    assert nodes.get_task("NL", "de-liaison", task.id) is None


def test_a_user_creates_records_on_their_own_countrys_node(nodes: Nodes) -> None:
    with pytest.raises(grpc.RpcError) as info:
        nodes.create_task("NL", "de-prosecutor", "DE writes on NL's node", assignee_jurisdiction="NL")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(info.value) == "NOT_YOUR_NODE"


def _files_containing(folder: Path, needle: bytes) -> list[str]:
    """The files of a node's folder that hold ``needle``, relative to it (``files_holding``: a live folder)."""
    return [str(path.relative_to(folder)) for path in files_holding(folder, needle)[0]]


def test_restricted_titles_never_reach_ies_state_folder(nodes: Nodes, federation: LocalFederation) -> None:
    """A byte search of each node's whole folder (databases, JetStream store, logs, traces): no node keeps a
    title in clear (case content is sealed at rest, ``jitlib.sealing``), and the NL-DE restricted task (by
    its id, which is not sealed) is on NL's and DE's, nowhere on IE's, while a workspace-visible one is on
    all three (so the search can find what is there)."""
    secret = f"NL-DE only {uuid.uuid4().hex}"
    shared = f"For the whole JIT {uuid.uuid4().hex}"
    restricted = nodes.create_task("NL", "nl-prosecutor", secret, assignee_jurisdiction="DE")
    visible = nodes.create_task(
        "NL",
        "nl-prosecutor",
        shared,
        assignee_jurisdiction="IE",
        visibility=common_pb2.VISIBILITY_WORKSPACE,
    )
    eventually(lambda: nodes.get_task("DE", "de-liaison", restricted.id), timeout=30)
    _barrier(nodes, "IE", "ie-prosecutor")

    node_dir = federation.nats.node_dir
    for country in ("NL", "DE", "IE"):
        assert _files_containing(node_dir(country), secret.encode()) == [], country
        assert _files_containing(node_dir(country), shared.encode()) == [], country
    assert _files_containing(node_dir("NL"), restricted.id.encode())
    assert _files_containing(node_dir("DE"), restricted.id.encode())
    assert _files_containing(node_dir("IE"), visible.id.encode())
    assert _files_containing(node_dir("IE"), restricted.id.encode()) == []


def _evidence_request(title: str) -> ev.CreateRequestRequest:
    return ev.CreateRequestRequest(
        request_id=rid(),
        workspace_id=WS,
        legal_basis=ev.LEGAL_BASIS_EIO,
        issuing_authority="Openbaar Ministerie, Arrondissementsparket Amsterdam",
        addressee_kind=ev.ADDRESSEE_KIND_MEMBER_STATE,
        addressee_jurisdiction="DE",
        data_categories=[ev.DATA_CATEGORY_SUBSCRIBER],
        targets=[ev.TargetIdentifier(type=ev.TARGET_TYPE_ACCOUNT_HANDLE, value="@harasser_x", platform="instagram")],
        offence_category=ev.OFFENCE_CATEGORY_CYBERSTALKING,
        urgency=ev.URGENCY_NORMAL,
        title=title,
    )


def _order(description: str, **over: Any) -> pres.CreateOrderRequest:
    return pres.CreateOrderRequest(
        request_id=rid(),
        workspace_id=WS,
        legal_basis=pres.LEGAL_BASIS_PROVIDER_VOLUNTARY,
        provider_id="socialnet-ie",
        targets=[pres.TargetIdentifier(kind=pres.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
        data_categories=[pres.DATA_CATEGORY_SUBSCRIBER],
        description=description,
        **over,
    )


def test_evidence_requests_and_preservation_orders_follow_the_same_rule(
    nodes: Nodes, federation: LocalFederation
) -> None:
    """An EIO from NL to DE and an order NL shares with DE only reach DE's node; an order open to the
    whole workspace reaches IE's too (found by id: no node keeps their text in clear)."""
    eio_title = f"EIO NL to DE {uuid.uuid4().hex}"
    secret_order = f"Order shared with DE only {uuid.uuid4().hex}"
    open_order = f"Order for the whole JIT {uuid.uuid4().hex}"
    request = nodes.call("NL", "evidence", "CreateRequest", "nl-prosecutor", _evidence_request(eio_title)).request
    shared = nodes.call(
        "NL", "preservation", "CreateOrder", "nl-liaison", _order(secret_order, shared_with=["DE"])
    ).order
    public = nodes.call(
        "NL",
        "preservation",
        "CreateOrder",
        "nl-liaison",
        _order(open_order, visibility=common_pb2.VISIBILITY_WORKSPACE),
    ).order

    def de_has_both() -> bool:
        req = nodes.found("DE", "evidence", "GetRequest", "de-prosecutor", ev.GetRequestRequest(id=request.id))
        order = nodes.found("DE", "preservation", "GetOrder", "de-liaison", pres.GetOrderRequest(id=shared.id))
        return bool(req and order and req.request.replica.owner_node == "NL" and order.order.replica.owner_node)

    eventually(de_has_both, timeout=30)
    get_public = pres.GetOrderRequest(id=public.id)
    eventually(lambda: nodes.found("IE", "preservation", "GetOrder", "ie-liaison", get_public), timeout=30)
    _barrier(nodes, "IE", "ie-prosecutor")
    # Searched before IE is asked for them (its audit log would then name the ids it answered NOT_FOUND).
    ie_folder = federation.nats.node_dir("IE")
    assert _files_containing(ie_folder, public.id.encode())
    assert _files_containing(ie_folder, request.id.encode()) == []
    assert _files_containing(ie_folder, shared.id.encode()) == []
    assert nodes.found("IE", "evidence", "GetRequest", "ie-prosecutor", ev.GetRequestRequest(id=request.id)) is None
    assert nodes.found("IE", "preservation", "GetOrder", "ie-liaison", pres.GetOrderRequest(id=shared.id)) is None
    assert _files_containing(federation.nats.node_dir("DE"), request.id.encode())
    for country in ("NL", "DE", "IE"):
        for text in (eio_title, secret_order, open_order):
            assert _files_containing(federation.nats.node_dir(country), text.encode()) == [], country


def _link_password(federation: LocalFederation, country: str) -> str:
    return str(json.loads((federation.root / "hub" / "links.json").read_text())[country])


async def _attempts_as_ie(federation: LocalFederation) -> dict[str, str]:
    """IE's link credentials, used directly against the hub: what the broker answers."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    url = f"nats://ie:{_link_password(federation, 'IE')}@127.0.0.1:{federation.ports.hub}"
    nc = await nats.connect(url, error_cb=on_error, allow_reconnect=False)
    outcome: dict[str, str] = {}
    try:

        async def ask(subject: str, body: dict[str, Any]) -> str:
            try:
                reply = await nc.request(subject, json.dumps(body).encode(), timeout=3)
            except nats.errors.NoRespondersError:
                return "no responders"
            except nats.errors.TimeoutError:
                return "timeout"
            return "answered: " + reply.data.decode()[:200]

        def create(filter_subject: str, name: str) -> tuple[str, dict[str, Any]]:
            subject = f"$JS.nl.API.CONSUMER.CREATE.JIT_OUT_NL.{name}.{filter_subject}"
            config = {"name": name, "filter_subject": filter_subject, "inactive_threshold": 5_000_000_000}
            return subject, {"stream_name": "JIT_OUT_NL", "config": config}

        outcome["create for DE"] = await ask(*create("jit.out.de.>", "ie-reads-de"))
        outcome["create for IE"] = await ask(*create("jit.out.ie.>", "ie-reads-ie"))
        outcome["msg get"] = await ask("$JS.nl.API.STREAM.MSG.GET.JIT_OUT_NL", {"seq": 1})
        outcome["de stream info"] = await ask("$JS.de.API.STREAM.INFO.JIT_IN", {})
        await nc.subscribe("fed.deliver.de.nl.>")
        await nc.flush()
        await asyncio.sleep(0.5)
        outcome["subscribe"] = " | ".join(errors)
    finally:
        await nc.close()
    return outcome


def test_ies_link_credentials_cannot_read_what_nl_sends_de(federation: LocalFederation) -> None:
    outcome = asyncio.run(_attempts_as_ie(federation))
    # IE may read what is sent to IE (so the attempts below could have succeeded) ...
    assert outcome["create for IE"].startswith("answered") and '"error"' not in outcome["create for IE"]
    # ... and nothing else: no consumer on DE's subjects, no direct read of NL's stream or DE's.
    assert outcome["create for DE"] in {"no responders", "timeout"}
    assert outcome["msg get"] in {"no responders", "timeout"}
    assert outcome["de stream info"] in {"no responders", "timeout"}
    assert "permissions violation" in outcome["subscribe"].lower() and "fed.deliver.de.nl" in outcome["subscribe"]


def test_a_cut_link_loses_nothing(nodes: Nodes, federation: LocalFederation) -> None:
    """The hub stops (every link cut); NL keeps working; what it sent DE meanwhile arrives once the hub is
    back, once."""
    federation.nats.hub.kill()
    try:
        titles = [f"During the cut {i} {uuid.uuid4().hex[:6]}" for i in range(3)]
        made = [nodes.create_task("NL", "nl-prosecutor", t, assignee_jurisdiction="DE") for t in titles]
        assert nodes.get_task("DE", "de-liaison", made[0].id) is None
    finally:
        federation.nats.hub.start()
    for task in made:
        replica = eventually(lambda t=task: nodes.get_task("DE", "de-liaison", t.id), timeout=60)
        assert replica.version == task.version
    ids = [t.id for t in made]
    listed = nodes.task_ids("DE", "de-liaison")
    assert all(i in listed for i in ids)


def test_de_names_on_its_own_node_a_victim_nl_registered_on_the_leads(nodes: Nodes) -> None:
    """VICTIM_BY_PSEUDONYM on a federation: the victim is registered on the lead's node (NL); DE's node
    learns her pseudonym from what NL's node sends it (jitlib.victimdir's inbound consumer), so a DE
    prosecutor's task on DE's node may name her, and NL's copy of that task names her too."""
    from jit.victims.v1 import victims_pb2 as vpb
    from jit.victims.v1 import victims_pb2_grpc

    register = vpb.RegisterVictimRequest(
        request_id=rid(),
        workspace_id=WS,
        victim_jurisdiction="NL",
        identity=vpb.VictimIdentity(full_name="DEMO ONLY federation victim"),
    )
    stub = victims_pb2_grpc.VictimServiceStub(nodes._channels[("NL", "victims")])

    def registered() -> str | None:  # the same request id each time: one victim at most
        try:
            answer = stub.RegisterVictim(register, metadata=md(nodes.tokens("nl-prosecutor")), timeout=15)
            return str(answer.victim.pseudonym)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.FAILED_PRECONDITION and "not known to this node yet" in str(err.details()):
                return None  # the victims service has not yet taken in the workspace
            raise

    pseudonym = eventually(registered, timeout=60)
    req = pb.CreateTaskRequest(
        request_id=rid(),
        workspace_id=WS,
        title="Hear the uploader's ISP",
        kind=pb.TASK_KIND_OTHER,
        assignee_jurisdiction="NL",
        victim_refs=[pseudonym],
    )

    def create() -> pb.Task | None:  # the same request id each time: one task at most
        try:
            return nodes.call("DE", "tasks", "CreateTask", "de-prosecutor", req).task
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.INVALID_ARGUMENT and "not a victim registered" in str(err.details()):
                return None  # DE's node has not learnt the pseudonym yet
            if err.code() == grpc.StatusCode.FAILED_PRECONDITION and "not known to this node yet" in str(err.details()):
                return None  # nor the workspace
            raise

    task = eventually(create, timeout=60)
    assert list(task.victim_refs) == [pseudonym] and task.origin_jurisdiction == "DE"
    copy = eventually(lambda: nodes.get_task("NL", "nl-prosecutor", task.id), timeout=30)
    assert list(copy.victim_refs) == [pseudonym]
