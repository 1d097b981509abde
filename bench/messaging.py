"""Messaging benchmark: post-to-delivery latency with 1 and 50 live subscribers, next to a bare NATS
publish-to-subscriber round trip measured in the same run, on the same broker.

    BENCH <name> p50_ms=<x> spread_ms=<min..max of the trials' p50> p99_ms=<y>
          ratio_p50=<x / bare NATS p50 with as many subscribers> trials=<n>

The messaging path measured: PostMessage (token check, policy, seal with AES-256-GCM, one transaction with
the outbox event and the audit entry), then the message it committed and opened handed to the channel's
live feed, which sends it to every Subscribe stream of the process without reading it back (a stream on
another replica is woken by the event the relay publishes, and reads it). Latency is from just before the
post to each subscriber's receipt; every subscriber of every message counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import nats

from bench.run import ISSUER, announce_workspace, make_key, percentile, start
from jit.messaging.v1 import messaging_pb2 as pb
from jit.messaging.v1 import messaging_pb2_grpc
from jitdev.nats import NatsInstance
from jitdev.procs import free_port, terminate, wait_until
from jitdev.stack import _grpc_healthy


def trial_line(name: str, p50s: list[float], every: list[float], floor_p50: float) -> str:
    """The median of the trials' p50s, their spread (min..max), the p99 over every delivery, and the
    ratio to the floor's median p50."""
    p50, p99 = statistics.median(p50s), percentile(every, 0.99)
    return (
        f"BENCH {name} p50_ms={p50:.3f} spread_ms={min(p50s):.3f}..{max(p50s):.3f} p99_ms={p99:.3f} "
        f"ratio_p50={p50 / floor_p50:.2f} trials={len(p50s)}"
    )


#: The pause between two messages, the floor's and the service's alike (``--pace-ms``): each message of
#: either starts from a machine that went idle for as long, whose wake-ups (each process's thread, its
#: caches) cost it the same. A floor paced faster than the posts measured a warmer machine than they met.
PACE_MS = 20.0


async def nats_floor(url: str, subscribers: int, messages: int, pace_ms: float = PACE_MS) -> list[float]:
    """Core NATS: one publisher, ``subscribers`` subscriptions, latency publish -> each receipt.

    Each trial publishes on a subject of its own, so a late message of an earlier trial cannot be
    counted (or trip the count) in this one. The wait is bounded; a trial that loses messages reports
    what arrived rather than hanging the whole benchmark."""
    subject = f"bench.floor.{uuid.uuid4().hex}"
    nc = await nats.connect(url)
    subs_nc = [await nats.connect(url) for _ in range(min(subscribers, 10))]
    latencies: list[float] = []
    sent: dict[bytes, float] = {}
    done = asyncio.Event()
    expected = subscribers * messages

    async def on_msg(msg: nats.aio.msg.Msg) -> None:
        at = sent.get(msg.data)
        if at is not None:
            latencies.append((time.perf_counter() - at) * 1000)
        if len(latencies) >= expected:
            done.set()

    try:
        for i in range(subscribers):
            await subs_nc[i % len(subs_nc)].subscribe(subject, cb=on_msg)
        for c in subs_nc:
            await c.flush()
        for i in range(messages):
            key = str(i).encode()
            sent[key] = time.perf_counter()
            await nc.publish(subject, key)
            await nc.flush()
            await asyncio.sleep(pace_ms / 1000)
        try:
            await asyncio.wait_for(done.wait(), 10 + messages * 0.05)
        except TimeoutError:
            print(f"# floor trial: {len(latencies)} of {expected} deliveries arrived in time", flush=True)
    finally:
        for c in [nc, *subs_nc]:
            with contextlib.suppress(Exception):
                await c.close()
    if not latencies:
        raise RuntimeError("no message of the NATS floor arrived")
    return latencies


async def messaging_latency(
    port: int,
    token: str,
    subscribers: int,
    messages: int,
    posts: list[float] | None = None,
    pace_ms: float = PACE_MS,
) -> list[float]:
    """Post-to-delivery latencies; ``posts`` (when given) gets each PostMessage's own round trip (from the
    call to its answer), to tell the post from the delivery."""
    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = messaging_pb2_grpc.MessagingServiceStub(ch)
        channel = (
            await stub.OpenWorkspaceChannel(pb.OpenWorkspaceChannelRequest(workspace_id="jit-bench"), metadata=md)
        ).channel
        start_seq = channel.last_seq
        sent: dict[str, float] = {}
        latencies: list[float] = []
        ready = 0
        all_ready = asyncio.Event()

        async def subscriber() -> None:
            nonlocal ready
            call = stub.Subscribe(pb.SubscribeRequest(channel_id=channel.id, after_seq=start_seq), metadata=md)
            ready += 1
            if ready == subscribers:
                all_ready.set()
            got = 0
            async for resp in call:
                t = time.perf_counter()
                body = resp.message.body
                if body in sent:
                    latencies.append((t - sent[body]) * 1000)
                    got += 1
                if got >= messages:
                    call.cancel()
                    return

        tasks = [asyncio.create_task(subscriber()) for _ in range(subscribers)]
        await all_ready.wait()
        await asyncio.sleep(1.0)  # let every stream reach its live wait
        for i in range(messages):
            body = f"bench message {i} {uuid.uuid4()}"
            sent[body] = t0 = time.perf_counter()
            await stub.PostMessage(
                pb.PostMessageRequest(request_id=str(uuid.uuid4()), channel_id=channel.id, body=body), metadata=md
            )
            if posts is not None:
                posts.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(pace_ms / 1000)
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 120)
        return latencies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--trials", type=int, default=3, help="interleaved trials per figure (default 3)")
    p.add_argument("--subscribers", default="1,50", help="the figures' numbers of subscribers")
    p.add_argument(
        "--pace-ms",
        type=float,
        default=PACE_MS,
        help=f"the pause between two messages, the floor's and the posts' alike (default {PACE_MS:g})",
    )
    p.add_argument("--profile", type=Path, help="profile the messaging service (pyinstrument); its report goes here")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jit-bench-msg-"))
    jwks, token = make_key(work)
    nats_i = NatsInstance(free_port(), work / "nats", work / "nats.log").start()
    proc = None
    try:
        asyncio.run(announce_workspace(nats_i.url))
        port = free_port()
        proc = start(
            [
                "messaging",
                "--db",
                f"sqlite:///{work / 'messaging.db'}",
                "--nats",
                nats_i.url,
                "--jwks",
                str(jwks),
                "--issuer",
                ISSUER,
                *(["--profile", str(a.profile.resolve())] if a.profile else []),
            ],
            work / "messaging.log",
            port,
        )
        wait_until(lambda: _grpc_healthy(port), 60, "messaging service", work / "messaging.log", proc)
        time.sleep(1.0)
        print(f"# each message {a.pace_ms:g} ms after the one before, the floor's and the posts' alike", flush=True)
        # Interleaved trials: floor, service, floor, service, ... so a quiet or busy spell of the machine
        # weighs on both. Each figure is the median of the trials' p50s, printed with their spread.
        for subs in (int(n) for n in a.subscribers.split(",")):
            floors: list[float] = []
            services: list[float] = []
            floor_all: list[float] = []
            service_all: list[float] = []
            post_p50s: list[float] = []
            for _ in range(a.trials):
                floor = asyncio.run(nats_floor(nats_i.url, subs, a.messages, a.pace_ms))
                posts: list[float] = []
                lat = asyncio.run(messaging_latency(port, token, subs, a.messages, posts, a.pace_ms))
                post_p50s.append(statistics.median(posts))
                floors.append(statistics.median(floor))
                services.append(statistics.median(lat))
                floor_all += floor
                service_all += lat
            floor_p50 = statistics.median(floors)
            print(trial_line(f"nats_pubsub_floor_s{subs}", floors, floor_all, floor_p50), flush=True)
            print(trial_line(f"message_post_to_delivery_s{subs}", services, service_all, floor_p50), flush=True)
            post_p50 = statistics.median(post_p50s)
            print(
                f"# s{subs}: PostMessage's own round trip (call to answer) p50 {post_p50:.3f} ms "
                f"({min(post_p50s):.3f}..{max(post_p50s):.3f}); post-to-delivery {statistics.median(services):.3f}",
                flush=True,
            )
    finally:
        terminate(proc, timeout=120 if a.profile else 20)  # a profiler writes its report at exit
        nats_i.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
