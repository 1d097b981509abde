"""The victim is told (issue 18): a removal request naming a victim by pseudonym, whose content the platform
removes and then restores, gives the victim a notice of each, recorded by the system in the victims service
from the preservation service's events, once per event even when the event is delivered again. Real
Keycloak tokens, NATS JetStream and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import removal_pb2 as rpb
from jit.preservation.v1 import removal_pb2_grpc
from jit.victims.v1 import victims_pb2 as vpb
from jit.victims.v1 import victims_pb2_grpc
from jitdev.nats import NatsInstance
from services.preservation.events import STREAM
from tests.conftest import read_stream, wait_for_workspace
from tests.harness import eventually, field_violations, md, rid
from tests.integration.preservation.conftest import publish

pytestmark = pytest.mark.integration
WS = "jit-demo"


@pytest.fixture(scope="module")
def preservation_on_suite_nats(
    db_url: str,
    keycloak: Any,
    nats_server: NatsInstance,
    demo_workspace_synced: str,
    tmp_path_factory: Any,
    request: pytest.FixtureRequest,
) -> Iterator[Any]:
    """A preservation service on the suite's NATS (where the victims service listens), its own database."""
    from jitlib.clock import OffsetClock
    from jitlib.config import CommonSettings
    from services.preservation.app import PreservationSettings, spec
    from tests.harness import start_service

    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('removal-notice') / 'p.db'}"
    else:
        url = str(request.getfixturevalue("postgres").create_database(f"pres_{uuid.uuid4().hex[:12]}"))
    common = CommonSettings(
        nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path_factory.mktemp("pstate")
    )
    settings = PreservationSettings(
        listen="127.0.0.1:0", database_url=url, consumer_group=f"preservation-{uuid.uuid4().hex[:8]}"
    )
    svc = start_service(spec(settings), settings, common, clock=OffsetClock())
    wait_for_workspace(svc, demo_workspace_synced)
    yield svc
    svc.stop()


def _notices(victims: Any, token: str, victim_id: str) -> list[vpb.VictimNotice]:
    stub = victims_pb2_grpc.VictimServiceStub(victims.channel)
    resp = stub.ListVictimNotices(vpb.ListVictimNoticesRequest(victim_id=victim_id), metadata=md(token), timeout=15)
    return list(resp.notices)


def test_removal_victim_notice_once_per_removal_and_restoration(
    victims_svc: Any, preservation_on_suite_nats: Any, nats_server: NatsInstance, tokens: Any
) -> None:
    """REMOVAL_VICTIM_NOTICE: REMOVED and RESTORED each give the named victim one notice (CONTENT_REMOVED,
    CONTENT_RESTORED) by the system, told_at the platform's answer; the removed event delivered again adds none."""
    victims = victims_pb2_grpc.VictimServiceStub(victims_svc.channel)
    victim = victims.RegisterVictim(
        vpb.RegisterVictimRequest(
            request_id=rid(),
            workspace_id=WS,
            victim_jurisdiction="NL",
            identity=vpb.VictimIdentity(full_name="Test Victim", languages=["nl"]),
        ),
        metadata=md(tokens("nl-liaison")),
        timeout=15,
    ).victim
    removals = removal_pb2_grpc.RemovalServiceStub(preservation_on_suite_nats.channel)
    nl = md(tokens("nl-liaison"))

    def create(url: str) -> rpb.RemovalRequest | None:
        request = rpb.CreateRemovalRequest(
            request_id=rid(),
            workspace_id=WS,
            basis=rpb.REMOVAL_BASIS_DSA_ART9_ORDER,
            provider_id="socialnet-ie",
            items=[rpb.ContentItem(url=url)],
            proceed_without_preservation_reason="the images were reported by the victim's lawyer",
            victim_refs=[victim.pseudonym],
        )
        try:
            return removals.CreateRemoval(request, metadata=nl, timeout=15).removal
        except grpc.RpcError as err:
            # Until the preservation service has heard of the victim (its directory), as a client must wait.
            if err.code() == grpc.StatusCode.INVALID_ARGUMENT and "victim_refs[0]" in field_violations(err):
                return None
            raise

    r = eventually(lambda: create("https://socialnet.example/img/1"), timeout=30)
    removed = removals.RecordRemoved(rpb.RecordRemovedRequest(id=r.id), metadata=nl, timeout=15).removal
    reader = tokens("nl-liaison")

    # Only this request's notices: the other backend's run shares the suite's NATS, and its victim may hold the
    # same pseudonym in its own victims service.
    def mine() -> list[Any]:
        return [n for n in _notices(victims_svc, reader, victim.id) if r.id in n.note]

    first = eventually(mine, timeout=30)
    assert [n.step for n in first] == [vpb.NOTICE_STEP_CONTENT_REMOVED]
    assert first[0].channel == vpb.NOTICE_CHANNEL_SYSTEM and first[0].told_by.username == "jit-system"
    assert first[0].told_at == removed.answered_at and "socialnet-ie" in first[0].note

    removals.RecordAppealed(rpb.RecordAppealedRequest(id=r.id), metadata=nl, timeout=15)
    removals.RecordRestored(rpb.RecordRestoredRequest(id=r.id), metadata=nl, timeout=15)
    both = eventually(lambda: (lambda n: n if len(n) >= 2 else None)(mine()))
    assert [n.step for n in both] == [vpb.NOTICE_STEP_CONTENT_REMOVED, vpb.NOTICE_STEP_CONTENT_RESTORED]

    # The removed event again (as a redelivery would bring it), then a new removal: once the new one's notice is
    # there, the consumer has passed the repeated event (stream order) and recorded nothing for it.
    msgs = read_stream(nats_server.url, "JIT_PRESERVATION", "jit.preservation.NL.removal_removed")
    again = next(m for m in msgs if Envelope.FromString(m.data).aggregate_id == r.id)
    publish(nats_server.url, STREAM, again.subject, again.data, msg_id=rid())
    second = eventually(lambda: create("https://socialnet.example/img/2"), timeout=30)
    removals.RecordRemoved(rpb.RecordRemovedRequest(id=second.id), metadata=nl, timeout=15)
    ours = (r.id, second.id)
    final = eventually(
        lambda: (lambda n: n if len(n) >= 3 else None)(
            [n for n in _notices(victims_svc, reader, victim.id) if any(i in n.note for i in ours)]
        )
    )
    assert [n.step for n in final] == [
        vpb.NOTICE_STEP_CONTENT_REMOVED,
        vpb.NOTICE_STEP_CONTENT_RESTORED,
        vpb.NOTICE_STEP_CONTENT_REMOVED,
    ]
    assert len({n.note for n in final}) == 3  # the third names the second request


def test_a_user_cannot_record_a_system_notice(victims_svc: Any, tokens: Any) -> None:
    victims = victims_pb2_grpc.VictimServiceStub(victims_svc.channel)
    nl = md(tokens("nl-liaison"))
    victim = victims.RegisterVictim(
        vpb.RegisterVictimRequest(
            request_id=rid(), workspace_id=WS, victim_jurisdiction="NL", identity=vpb.VictimIdentity(full_name="X")
        ),
        metadata=nl,
        timeout=15,
    ).victim
    with pytest.raises(grpc.RpcError) as info:
        victims.RecordVictimNotice(
            vpb.RecordVictimNoticeRequest(
                request_id=rid(),
                victim_id=victim.id,
                step=vpb.NOTICE_STEP_CONTENT_REMOVED,
                language="nl",
                channel=vpb.NOTICE_CHANNEL_SYSTEM,
            ),
            metadata=nl,
            timeout=15,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "channel" in field_violations(info.value)
