"""Victims on a federation (issue 16): the record is held by the node of the workspace's lead (NL for the
demo JIT). A DE liaison registers a DE victim on the DE node, which forwards the call to NL's node; every
member's node gets the pseudonym-level record as a replica; the identity is read on the DE node by the
victim's jurisdiction (forwarded to NL, which decides) and by nobody else; it is in clear in no node's files."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from jit.victims.v1 import victims_pb2 as pb
from jit.victims.v1 import victims_pb2_grpc
from jitdev.nodes import LocalFederation
from tests.harness import eventually, md, rid

pytestmark = pytest.mark.integration
NAME = f"Dora zzfed{uuid.uuid4().hex[:8]}"


def stub(federation: LocalFederation, country: str) -> victims_pb2_grpc.VictimServiceStub:
    return victims_pb2_grpc.VictimServiceStub(grpc.insecure_channel(federation.nodes[country].address("victims")))


@pytest.fixture(scope="module")
def registered(federation: LocalFederation, country_tokens: Any) -> pb.Victim:
    req = pb.RegisterVictimRequest(
        request_id=rid(),
        workspace_id="jit-demo",
        victim_jurisdiction="DE",
        identity=pb.VictimIdentity(full_name=NAME, languages=["de"]),
    )
    return stub(federation, "DE").RegisterVictim(req, metadata=md(country_tokens("de-liaison")), timeout=30).victim


def test_victim_held_by_lead_a_registration_on_the_de_node_is_held_by_nl(registered: pb.Victim) -> None:
    """VICTIM_HELD_BY_LEAD, VICTIM_PSEUDONYM"""
    assert registered.pseudonym.startswith("V-NL-") and registered.origin_jurisdiction == "NL"
    assert registered.registered_by.jurisdiction == "DE" and not registered.HasField("replica")


def test_every_members_node_holds_the_pseudonym_as_a_replica(
    federation: LocalFederation, country_tokens: Any, registered: pb.Victim
) -> None:
    def seen(country: str, user: str) -> pb.Victim | None:
        try:
            return (
                stub(federation, country)
                .GetVictim(pb.GetVictimRequest(id=registered.id), metadata=md(country_tokens(user)), timeout=15)
                .victim
            )
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    for country, user in (("DE", "de-prosecutor"), ("IE", "ie-liaison")):
        replica = eventually(lambda c=country, u=user: seen(c, u), timeout=30)
        assert replica.pseudonym == registered.pseudonym and replica.replica.owner_node == "NL"


def test_victim_identity_need_to_know_on_a_federation(
    federation: LocalFederation, country_tokens: Any, registered: pb.Victim
) -> None:
    """VICTIM_IDENTITY_NEED_TO_KNOW: DE reads it on its own node (the call goes to NL's); IE and NL's own
    prosecutor get NOT_FOUND; the identity is in clear in no file of any node (the lead's holds it sealed)."""
    ask = pb.GetVictimIdentityRequest(id=registered.id, purpose="hearing in Cologne")
    got = stub(federation, "DE").GetVictimIdentity(ask, metadata=md(country_tokens("de-prosecutor")), timeout=30)
    assert got.identity.full_name == NAME
    for country, user in (("IE", "ie-prosecutor"), ("NL", "nl-prosecutor")):
        with pytest.raises(grpc.RpcError) as info:
            stub(federation, country).GetVictimIdentity(ask, metadata=md(country_tokens(user)), timeout=30)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, country
    for country in ("NL", "DE", "IE"):
        folder = federation.nodes[country].folder
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size < 64 * 1024 * 1024:
                assert NAME.encode() not in path.read_bytes(), path
