"""JetStream streams saved and put back through the server's own snapshot and restore API
(``$JS.API.STREAM.SNAPSHOT.<stream>``, ``$JS.API.STREAM.RESTORE.<stream>``), the one the ``nats stream
backup`` and ``nats stream restore`` commands use: a live, consistent copy of a stream's messages and of
its consumers' state (delivered and acknowledged positions), taken while the services run.

A snapshot arrives as chunks on a subject of ours; each chunk carries a reply subject we answer, which is
the server's flow control; an empty message ends it (with a status header when the server gave up). The
bytes are the server's own format (an S2-compressed tar), kept as they are. A restore sends the stream's
configuration and state, then the same bytes back in chunks, each acknowledged, then an empty message,
answered by the restored stream's info.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient

API = "$JS.API"
CHUNK_BYTES = 128 * 1024
TIMEOUT_SECONDS = 10.0


class JetStreamBackupError(Exception):
    """A snapshot or restore the server refused or broke off; the text says why, in words."""


def shown(url: str) -> str:
    """A server list without any credentials written into its URLs."""
    out = []
    for one in url.split(","):
        scheme, sep, rest = one.strip().partition("://")
        out.append(f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else one.strip().rpartition("@")[2])
    return ",".join(out)


async def connect(url: str, **options: Any) -> NatsClient:
    """A connection to the node's NATS (``url``: one server, or a cluster's, comma-separated)."""
    servers = [u.strip() for u in url.split(",") if u.strip()]
    try:
        return await nats.connect(
            servers=servers, connect_timeout=5, max_reconnect_attempts=0, allow_reconnect=False, **options
        )
    except Exception as exc:
        raise JetStreamBackupError(f"cannot reach NATS at {shown(url)}: {type(exc).__name__}") from None


async def _api(nc: NatsClient, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        msg = await nc.request(f"{API}.{subject}", json.dumps(body or {}).encode(), timeout=TIMEOUT_SECONDS)
    except Exception as exc:
        raise JetStreamBackupError(f"JetStream did not answer {subject.split('.')[0].lower()} ({exc})") from None
    answer: dict[str, Any] = json.loads(msg.data or b"{}")
    if "error" in answer:
        err = answer["error"]
        raise JetStreamBackupError(f"JetStream refused {subject}: {err.get('description', err)}")
    return answer


async def stream_names(nc: NatsClient) -> list[str]:
    """Every stream of the account, sorted."""
    names: list[str] = []
    offset = 0
    while True:
        page = await _api(nc, "STREAM.NAMES", {"offset": offset})
        batch = page.get("streams") or []
        names.extend(batch)
        offset += len(batch)
        if not batch or offset >= int(page.get("total", 0)):
            return sorted(names)


async def stream_exists(nc: NatsClient, name: str) -> bool:
    try:
        await _api(nc, f"STREAM.INFO.{name}")
    except JetStreamBackupError as exc:
        if "not found" in str(exc):
            return False
        raise
    return True


async def delete_stream(nc: NatsClient, name: str) -> None:
    await _api(nc, f"STREAM.DELETE.{name}")


async def server_version(nc: NatsClient) -> str:
    return str(getattr(nc, "_server_info", {}).get("version", "unknown"))


async def snapshot(nc: NatsClient, name: str, out: Path) -> dict[str, Any]:
    """Write stream ``name``'s snapshot (messages and consumers) to ``out``; returns its configuration
    and state as the server gave them at the start of the snapshot."""
    deliver = nc.new_inbox()
    sub = await nc.subscribe(deliver)
    try:
        meta = await _api(
            nc,
            f"STREAM.SNAPSHOT.{name}",
            {"deliver_subject": deliver, "chunk_size": CHUNK_BYTES, "no_consumers": False, "jsck": False},
        )
        with out.open("wb") as fh:
            while True:
                try:
                    msg = await sub.next_msg(timeout=TIMEOUT_SECONDS)
                except Exception:
                    raise JetStreamBackupError(f"the snapshot of stream {name} stopped arriving") from None
                if not msg.data:
                    status = (msg.headers or {}).get("Status", "")
                    if status and not status.startswith("2"):
                        reason = (msg.headers or {}).get("Description", "")
                        raise JetStreamBackupError(f"the server broke off the snapshot of {name}: {status} {reason}")
                    break
                fh.write(msg.data)
                if msg.reply:
                    await nc.publish(msg.reply, b"")
        return {"config": meta["config"], "state": meta["state"]}
    finally:
        await sub.unsubscribe()


async def restore(nc: NatsClient, name: str, meta: dict[str, Any], data: Path) -> dict[str, Any]:
    """Create stream ``name`` from a snapshot written by :func:`snapshot` (``meta``: its configuration
    and state). Refused by the server when the stream exists. Returns the restored stream's state."""
    answer = await _api(nc, f"STREAM.RESTORE.{name}", {"config": meta["config"], "state": meta["state"]})
    target = answer.get("deliver_subject")
    if not target:
        raise JetStreamBackupError(f"JetStream gave no subject to restore stream {name} to")
    try:
        with data.open("rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                reply = await nc.request(target, chunk, timeout=TIMEOUT_SECONDS)
                if reply.data:
                    err = json.loads(reply.data).get("error", {})
                    raise JetStreamBackupError(f"JetStream refused the restore of {name}: {err.get('description')}")
        done = await nc.request(target, b"", timeout=60)
    except (TimeoutError, nats.errors.TimeoutError):
        raise JetStreamBackupError(f"JetStream stopped answering while stream {name} was restored") from None
    result: dict[str, Any] = json.loads(done.data or b"{}")
    if "error" in result:
        raise JetStreamBackupError(f"JetStream refused the restore of {name}: {result['error'].get('description')}")
    return dict(result.get("state") or {})
