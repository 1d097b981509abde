"""Evidence requests whose issuer, or whose addressee, was taken out of the JIT, through the real evidence
service (on SQLite and on PostgreSQL), real Keycloak tokens and a NATS of this module's own: once the
directory event of the amendment (`jit admin workspace remove-member`) reaches the service, a request DE
issued says so (``issuer_taken_out``: REQUEST_ISSUER_TAKEN_OUT), and so does a direct exchange addressed to DE
(``addressee_taken_out``: REQUEST_ADDRESSEE_TAKEN_OUT), never an EIO addressed to DE; in a read and in a list,
from a stored answer and from a row whose answer was emptied; and no longer once DE is a member again."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from jitdev.nats import NatsInstance
from jitlib.clock import OffsetClock
from jitlib.config import CommonSettings
from services.evidence.app import EvidenceSettings, spec
from services.evidence.store import RequestRow
from tests.conftest import amend_membership, wait_for_workspace
from tests.harness import RunningService, start_service
from tests.integration.evidence.conftest import WS, Client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def evidence_here(
    db_url: str,
    keycloak: Any,
    own_nats: NatsInstance,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[RunningService]:
    """The evidence service on the module's backend and on the module's own NATS, where DE may be taken out of
    the demo workspace for no other module."""
    state = tmp_path_factory.mktemp("evidence-out")
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{state / 'evidence.db'}"
    else:
        url = str(request.getfixturevalue("postgres").create_database(f"ev_out_{uuid.uuid4().hex[:10]}"))
    common = CommonSettings(nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=state)
    settings = EvidenceSettings(
        listen="127.0.0.1:0",
        database_url=url,
        consumer_group=f"evidence-out-{uuid.uuid4().hex[:8]}",
        blob_dir=str(state / "blobs"),
        kek=base64.b64encode(os.urandom(32)).decode(),
    )
    svc = start_service(spec(settings), settings, common, clock=OffsetClock())
    wait_for_workspace(svc, WS)
    yield svc
    svc.stop()


def test_a_request_says_its_issuer_or_its_direct_addressee_was_taken_out_of_the_jit(
    evidence_here: RunningService, own_nats: NatsInstance, tokens: Any
) -> None:
    """NL issues a JIT_DIRECT request and an EIO to DE, DE an EIO to NL, all open to the workspace. DE is taken
    out: NL's and IE's reads and lists flag DE's request (issuer) and the direct exchange (addressee), with
    the withdrawal offered to NL, not the EIO to DE; so do lists answered from rows whose stored answers were
    emptied. NL withdraws the direct exchange: its answer still says so. DE a member again: no flag."""
    client = Client(evidence_here, tokens)
    open_ = common_pb2.VISIBILITY_WORKSPACE

    def issued(user: str, **over: Any) -> pb.EvidenceRequest:
        r = client.create(user, visibility=open_, **over)
        return client.call(user, "IssueRequest", pb.IssueRequestRequest(id=r.id)).request

    def seen(user: str, request_id: str) -> tuple[tuple[bool, bool], tuple[bool, bool]]:
        """((issuer, addressee) flags in a read, the same in a list) of ``request_id`` as ``user`` gets it."""
        read = client.call(user, "GetRequest", pb.GetRequestRequest(id=request_id)).request
        page = client.call(user, "ListRequests", pb.ListRequestsRequest(workspace_id=WS, page_size=200)).requests
        listed = next(r for r in page if r.id == request_id)
        return (read.issuer_taken_out, read.addressee_taken_out), (listed.issuer_taken_out, listed.addressee_taken_out)

    def empty_answers() -> None:
        evidence_here.loop.run(evidence_here.rt.db.write(lambda s: s.execute(update(RequestRow).values(answer=None))))

    if "DE" in evidence_here.rt.workspaces.get(WS).former_members:  # type: ignore[union-attr]
        amend_membership(evidence_here, own_nats.url, WS, "DE", taken_out=False)
    direct = issued("nl-prosecutor", legal_basis=pb.LEGAL_BASIS_JIT_DIRECT, title="Direct exchange")
    eio = issued("nl-prosecutor", title="EIO to DE")
    from_de = issued(
        "de-prosecutor", addressee_jurisdiction="NL", issuing_authority="Staatsanwaltschaft Berlin", title="From DE"
    )
    none = ((False, False), (False, False))
    assert [seen("nl-prosecutor", r.id) for r in (direct, eio, from_de)] == [none] * 3

    amend_membership(evidence_here, own_nats.url, WS, "DE", taken_out=True)
    try:
        issuer, addressee = ((True, False),) * 2, ((False, True),) * 2
        for emptied in (False, True):
            if emptied:
                empty_answers()
            for user in ("nl-prosecutor", "ie-liaison"):
                assert seen(user, direct.id) == addressee, (user, emptied)
                assert seen(user, eio.id) == none, (user, emptied)
                assert seen(user, from_de.id) == issuer, (user, emptied)
        read = client.call("nl-prosecutor", "GetRequest", pb.GetRequestRequest(id=direct.id)).request
        assert "withdraw" in read.allowed_actions
        withdrawn = client.call(
            "nl-prosecutor",
            "WithdrawRequest",
            pb.WithdrawRequestRequest(id=direct.id, reason="DE left the JIT", expected_version=read.version),
        ).request
        assert withdrawn.state == pb.EVIDENCE_REQUEST_STATE_WITHDRAWN and withdrawn.addressee_taken_out
    finally:
        amend_membership(evidence_here, own_nats.url, WS, "DE", taken_out=False)
    assert [seen("nl-prosecutor", r.id) for r in (direct, eio, from_de)] == [none] * 3
