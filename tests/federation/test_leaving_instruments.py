"""A country taken out of a JIT stays the addressee of the instruments addressed to it (jitlib.legal
JIT_MEMBER_TAKEN_OUT, JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES): NL's EIO to DE goes on reaching DE's node and
DE's prosecutor reads it there, as a state outside the JIT would, while a direct exchange inside the JIT
(JIT_DIRECT), which is between members only, reaches DE's node no more (``envelopes.audience``'s
``outside``, ``RecordAccess.outside_reader``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from jit.common.v1 import common_pb2
from jit.evidence.v1 import evidence_pb2 as pb
from jitdev.nodes import LocalFederation
from tests.federation.test_addressees import _created, _request
from tests.federation.test_evidence import Evidence
from tests.federation.test_joining import Workspace
from tests.federation.test_links import _inbound_events
from tests.harness import eventually

pytestmark = pytest.mark.integration


def test_an_eio_to_a_country_taken_out_still_reaches_its_node_a_direct_exchange_no_more(
    federation: LocalFederation, keycloak: Any, country_tokens: Any
) -> None:
    """NL's JIT with DE and IE: NL issues an EIO to DE and a JIT_DIRECT request to DE, both open to the
    workspace, and DE's node holds both. NL's administrator takes DE out; NL withdraws both. DE's node gets
    the EIO's withdrawal (its prosecutor reads it there, WITHDRAWN) and not the direct exchange's (DE's JIT_IN
    holds that request at the version before); IE's node, a member's, gets both withdrawals."""
    workspace = Workspace(federation, keycloak, country_tokens, "leave-ev")
    workspace.open("Doxxing case", de_users=("de-liaison", "de-prosecutor"))
    workspace.add("IE", "ie-liaison")
    ws = workspace.id
    evidence = Evidence(federation, country_tokens)
    open_ = common_pb2.VISIBILITY_WORKSPACE
    eio = _created(evidence, _request(ws, visibility=open_))
    direct = _created(evidence, _request(ws, visibility=open_, legal_basis=pb.LEGAL_BASIS_JIT_DIRECT))
    issued = {
        r.id: evidence.call("NL", "nl-prosecutor", "IssueRequest", pb.IssueRequestRequest(id=r.id)).request
        for r in (eio, direct)
    }

    def state_on(country: str, user: str, request_id: str) -> int | None:
        found = evidence.found(country, user, "GetRequest", pb.GetRequestRequest(id=request_id))
        return found.request.state if found is not None else None

    issued_state = pb.EVIDENCE_REQUEST_STATE_ISSUED
    eventually(lambda: all(state_on("DE", "de-prosecutor", i) == issued_state for i in issued), timeout=60)

    workspace.ok("NL", "admin", "workspace", "remove-member", ws, "DE")
    # NL's evidence service applied it: DE's prosecutor no longer reads the direct exchange there, and still
    # reads the EIO addressed to DE, as the addressee of an instrument.
    eventually(lambda: state_on("NL", "de-prosecutor", direct.id) is None, timeout=45)
    assert state_on("NL", "de-prosecutor", eio.id) == issued_state

    withdrawn = {
        i: evidence.call(
            "NL", "nl-prosecutor", "WithdrawRequest",
            pb.WithdrawRequestRequest(id=i, expected_version=r.version, reason="DE left the JIT"),
        ).request
        for i, r in issued.items()
    }  # fmt: skip
    gone = pb.EVIDENCE_REQUEST_STATE_WITHDRAWN
    assert {r.state for r in withdrawn.values()} == {gone}
    eventually(lambda: state_on("DE", "de-prosecutor", eio.id) == gone, timeout=60)
    eventually(lambda: all(state_on("IE", "ie-liaison", i) == gone for i in withdrawn), timeout=60)
    time.sleep(3)  # anything still on its way to DE's node would be stored by now
    stored = asyncio.run(
        _inbound_events(
            federation.nats.nodes["DE"].url, set(withdrawn), federation.nats.users["DE"].credentials("evidence"),
            service="evidence",
        )
    )  # fmt: skip
    latest = {i: max(int(e.split("@")[1]) for e in stored if e.startswith(i)) for i in withdrawn}
    assert latest == {eio.id: withdrawn[eio.id].version, direct.id: issued[direct.id].version}
