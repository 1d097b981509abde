"""Back up and restore a node: its services' databases, its blob folders, its key files and its JetStream
state, in one archive with a manifest.

What makes the copy consistent while the services run:

1. JetStream first: every stream of the account, with its consumers' positions, through the server's
   snapshot API (``jitcli.jetstream_backup``). The time it starts is ``jetstream_started_at``.
2. Then each database: SQLite through its online backup API (one consistent read of the whole file, the
   services keep writing), PostgreSQL with ``pg_dump -Fc`` (one snapshot per database).
3. Then the blob folders (a blob is written before the row that names it, so every restored row finds its
   blob), and the key files.

A database taken after the streams can only be ahead of them, never behind: an event a consumer
processed after the stream snapshot is in that consumer's inbox (restored), so its redelivery is dropped;
an event the outbox marked published after the snapshot began is missing from the restored stream, so
``restore`` puts those outbox rows back to pending (``republish_window``) and the relay publishes them
again, with the same event id. Nothing is lost and no event comes back as a new one.

``restore`` refuses a damaged archive (a part whose SHA-256 differs from the manifest, a missing or
unlisted part, a truncated file) and a mismatched one (another format, another node's country, a key
file that differs from the target's), and a target that already holds data unless told to replace it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import importlib.metadata
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from jitcli import jetstream_backup as jsb
from jitcli.files import file_sha256
from jitcli.nodeconf import NodeState, ServiceState

FORMAT = "jit-node-backup/1"
MANIFEST = "manifest.json"
#: Outbox rows marked published this long before the JetStream snapshot began are checked again at
#: restore (clock differences between this machine and the services', and a relay batch in flight).
REPUBLISH_MARGIN = dt.timedelta(seconds=60)


class BackupError(Exception):
    """A backup or restore that cannot go on; the text says why, in words."""


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class NatsOptions:
    url: str
    connect: dict[str, Any] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- PostgreSQL through its own client programs ----------------------------------------------------------


def pg_program(name: str) -> str:
    """A PostgreSQL client program: on the PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise BackupError(f"{name} not found: install the PostgreSQL client programs (Debian: postgresql-client)")
    return str(candidates[-1])


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` as libpq reads it (``postgresql://...``)."""
    url = sa.engine.make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _run(cmd: list[str], what: str) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        lines = (res.stderr or res.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {lines[-1] if lines else 'exit code ' + str(res.returncode)}")
    return res.stdout


def _pg_version(program: str) -> str:
    return _run([program, "--version"], f"{Path(program).name} --version").strip()


# ---- an archive sealed under a backup key ----------------------------------------------------------

SEALED_MAGIC = b"JIT-NODE-BACKUP-SEALED/1\n"
SEAL_CHUNK = 1 << 20


def load_backup_key(path: Path) -> bytes:
    """A backup key file: one line, the base64 of 32 random bytes (the format of the KEK file)."""
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, binascii.Error, ValueError):
        raise BackupError(f"{path} is not a readable backup key (base64 of 32 random bytes)") from None
    if len(key) != 32:
        raise BackupError(f"{path} holds {len(key)} bytes; a backup key is 32 (base64 of 32 random bytes)")
    return key


def seal(src: Path, dest: Path, key: bytes) -> None:
    """Write ``src`` to ``dest`` (0600) sealed with AES-256-GCM in chunks of 1 MiB: each chunk is bound to
    the file, its position and whether it is the last, so a chunk changed, moved, dropped or cut off
    makes the whole refuse to open."""
    aes = AESGCM(key)
    file_id = os.urandom(16)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
        out.write(SEALED_MAGIC + file_id)
        index, chunk = 0, fh.read(SEAL_CHUNK)
        while True:
            following = fh.read(SEAL_CHUNK)
            last = b"\x01" if not following else b"\x00"
            nonce = os.urandom(12)
            sealed = aes.encrypt(nonce, chunk, SEALED_MAGIC + file_id + index.to_bytes(8, "big") + last)
            out.write(last + len(sealed).to_bytes(4, "big") + nonce + sealed)
            if not following:
                return
            index, chunk = index + 1, following


def is_sealed(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(SEALED_MAGIC)) == SEALED_MAGIC


def unseal(src: Path, dest: Path, key: bytes) -> None:
    """Open what :func:`seal` wrote, or refuse in words (another key, or damaged)."""
    aes = AESGCM(key)
    with src.open("rb") as fh, dest.open("wb") as out:
        head = fh.read(len(SEALED_MAGIC) + 16)
        file_id = head[len(SEALED_MAGIC) :]
        index = 0
        while True:
            frame = fh.read(5)
            if len(frame) < 5:
                raise BackupError(f"{src} is damaged: the sealed archive is cut off")
            last, size = frame[:1], int.from_bytes(frame[1:], "big")
            nonce, sealed = fh.read(12), fh.read(size)
            if len(sealed) < size:
                raise BackupError(f"{src} is damaged: the sealed archive is cut off")
            try:
                out.write(aes.decrypt(nonce, sealed, SEALED_MAGIC + file_id + index.to_bytes(8, "big") + last))
            except InvalidTag:
                raise BackupError(f"{src} does not open with this backup key, or it is damaged") from None
            if last == b"\x01":
                if fh.read(1):
                    raise BackupError(f"{src} is damaged: it goes on after its last sealed piece")
                return
            index += 1


# ---- the archive -------------------------------------------------------------------------------------


@dataclass
class Part:
    path: str  # inside the archive
    kind: str  # database, blobs, key, stream
    name: str  # service or stream or key name
    sha256: str = ""
    bytes: int = 0
    info: dict[str, Any] = field(default_factory=dict)


def _dir_parts(root: Path, prefix: str, kind: str, name: str, src: Path) -> list[Part]:
    """Copy folder ``src`` to ``root/prefix`` file by file (0600), one part per file."""
    parts: list[Part] = []
    if not src.exists():
        return parts
    for file in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = f"{prefix}/{file.relative_to(src).as_posix()}"
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(file, dest)
        os.chmod(dest, 0o600)
        parts.append(Part(rel, kind, name))
    return parts


def _backup_sqlite(path: Path, dest: Path) -> dict[str, Any]:
    if not path.exists():
        raise BackupError(f"the database {path} does not exist: is the state folder (JIT_STATE_DIR) right?")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
    os.chmod(dest, 0o600)
    return {"engine": "sqlite", "sqlite_version": sqlite3.sqlite_version}


def _backup_postgres(url: str, dest: Path) -> dict[str, Any]:
    pg_dump = pg_program("pg_dump")
    _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", "--file", str(dest), libpq_url(url)], "pg_dump")
    os.chmod(dest, 0o600)
    return {"engine": "postgresql", "pg_dump": _pg_version(pg_dump)}


async def _backup_streams(nats: NatsOptions, root: Path, say: Say) -> tuple[list[Part], str, str]:
    nc = await jsb.connect(nats.url, **nats.connect)
    try:
        version = await jsb.server_version(nc)
        started = _now().isoformat()
        parts: list[Part] = []
        for name in await jsb.stream_names(nc):
            rel = f"jetstream/{name}.snapshot"
            meta = await jsb.snapshot(nc, name, root / rel)
            (root / f"jetstream/{name}.json").write_text(json.dumps(meta, sort_keys=True))
            parts.append(Part(rel, "stream", name, info={"messages": meta["state"].get("messages", 0)}))
            parts.append(Part(f"jetstream/{name}.json", "stream-meta", name))
            say(f"  stream {name}: {meta['state'].get('messages', 0)} messages")
        return parts, started, version
    finally:
        await nc.close()


def backup(
    node: NodeState,
    out: Path,
    nats: NatsOptions,
    *,
    keys: bool = True,
    say: Say = _quiet,
    after_streams: Callable[[], None] | None = None,
    encrypt_key: bytes | None = None,
) -> dict[str, Any]:
    """Write the node's archive to ``out`` (mode 0600); returns its manifest. ``after_streams`` runs
    between the stream snapshots and the databases (a test writes there, as a running node would)."""
    if out.exists():
        raise BackupError(f"{out} exists already: give a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".jit-backup-", dir=out.parent) as tmp:
        root = Path(tmp)
        (root / "jetstream").mkdir(mode=0o700)
        (root / "databases").mkdir(mode=0o700)
        say(f"JetStream at {nats.url}")
        parts, js_started, nats_version = asyncio.run(_backup_streams(nats, root, say))
        if after_streams is not None:
            after_streams()
        for svc in node.services:
            if svc.is_sqlite:
                rel = f"databases/{svc.name}.sqlite"
                info = _backup_sqlite(svc.sqlite_path, root / rel)
            else:
                rel = f"databases/{svc.name}.pgdump"
                info = _backup_postgres(svc.database_url, root / rel)
            parts.append(Part(rel, "database", svc.name, info=info))
            say(f"  database of {svc.name} ({info['engine']})")
        for svc in node.services:
            if svc.blob_dir is not None:
                blobs = _dir_parts(root, f"blobs/{svc.name}", "blob", svc.name, svc.blob_dir)
                parts.extend(blobs)
                say(f"  blobs of {svc.name}: {len(blobs)} files")
        key_note = "not included (--no-keys): keep the key files safe elsewhere"
        if keys:
            for name, path in node.key_files().items():
                if path.exists():
                    rel = f"keys/{name}"
                    (root / "keys").mkdir(exist_ok=True, mode=0o700)
                    shutil.copyfile(path, root / rel)
                    os.chmod(root / rel, 0o600)
                    parts.append(Part(rel, "key", name))
            key_note = "included"
        for part in parts:
            file = root / part.path
            part.sha256 = file_sha256(file)
            part.bytes = file.stat().st_size
        manifest = {
            "format": FORMAT,
            "created_at": _now().isoformat(),
            "jetstream_started_at": js_started,
            "node": {"jurisdiction": node.jurisdiction, "peers": node.peers},
            "keys": key_note,
            "versions": {
                "jit-platform": _package_version(),
                "nats-server": nats_version,
                "sqlite": sqlite3.sqlite_version,
            },
            "parts": [part.__dict__ for part in parts],
            "sealed": encrypt_key is not None,
        }
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        partial = out.with_name(out.name + ".partial")
        plain = root / "archive.tar.gz" if encrypt_key is not None else partial
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
            tar.add(root / MANIFEST, arcname=MANIFEST)
            for part in parts:
                tar.add(root / part.path, arcname=part.path)
        if encrypt_key is not None:
            seal(plain, partial, encrypt_key)
        partial.replace(out)
    return manifest


def _package_version() -> str:
    try:
        return importlib.metadata.version("jit-platform")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# ---- restore -----------------------------------------------------------------------------------------


@contextmanager
def opened(archive: Path, key: bytes | None = None) -> Iterator[tuple[dict[str, Any], Path]]:
    """The archive (sealed under ``key`` when it was made with one) unpacked in a private temporary folder
    and checked against its manifest: every part present, none more, each with its SHA-256. Yields
    (manifest, folder)."""
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file")
    with tempfile.TemporaryDirectory(prefix=".jit-restore-") as tmp, tempfile.TemporaryDirectory() as plain_dir:
        root = Path(tmp)
        source = archive
        if is_sealed(archive):
            if key is None:
                raise BackupError(f"{archive} is sealed under a backup key: give it with --decrypt-key")
            source = Path(plain_dir) / "archive.tar.gz"
            unseal(archive, source, key)
        try:
            with tarfile.open(source, mode="r:*") as tar:
                members = tar.getmembers()
                tar.extractall(root, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"{archive} is damaged: it does not read as a whole archive ({exc})") from None
        try:
            manifest = json.loads((root / MANIFEST).read_text())
        except (OSError, ValueError):
            raise BackupError(
                f"{archive} has no readable manifest: it is not a node backup, or it is damaged"
            ) from None
        if manifest.get("format") != FORMAT:
            raise BackupError(
                f"{archive} is in format {str(manifest.get('format'))[:40]!r}; this command reads {FORMAT}"
            )
        listed = {p["path"] for p in manifest.get("parts", [])}
        present = {m.name for m in members if m.isfile()} - {MANIFEST}
        if missing := sorted(listed - present):
            raise BackupError(f"{archive} is damaged: {len(missing)} listed part(s) missing, first {missing[0]}")
        if extra := sorted(present - listed):
            raise BackupError(f"{archive} holds {len(extra)} file(s) its manifest does not list, first {extra[0][:80]}")
        for part in manifest["parts"]:
            if file_sha256(root / part["path"]) != part["sha256"]:
                raise BackupError(f"{archive} is damaged: {part['path']} does not match its SHA-256 in the manifest")
        yield manifest, root


def verify(archive: Path, key: bytes | None = None) -> dict[str, Any]:
    with opened(archive, key) as (manifest, _):
        return manifest


def _sqlite_has_data(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _pg_table_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
                ).scalar_one()
            )
    except sa.exc.OperationalError as exc:
        raise BackupError(
            f"cannot reach the database of this service ({str(exc.orig).strip().splitlines()[0]})"
        ) from None
    finally:
        engine.dispose()


def _check_target(manifest: dict[str, Any], root: Path, node: NodeState, nc_streams: list[str], replace: bool) -> None:
    """Refuse a restore onto another node, onto different keys, or onto data, in words."""
    archived = manifest.get("node", {}).get("jurisdiction", "")
    if archived != node.jurisdiction:
        raise BackupError(
            f"the archive is of the node of {archived or 'no country (one node for every country)'}, this "
            f"configuration is the node of {node.jurisdiction or 'no country'} (JIT_NODE_JURISDICTION)"
        )
    by_service = {p["name"]: p for p in manifest["parts"] if p["kind"] == "database"}
    if sorted(by_service) != sorted(s.name for s in node.services):
        raise BackupError(f"the archive holds the databases of {', '.join(sorted(by_service))}, not of every service")
    keys = node.key_files()
    for part in manifest["parts"]:
        if part["kind"] != "key":
            continue
        target = keys.get(part["name"])
        if target is not None and target.exists() and target.read_bytes() != (root / part["path"]).read_bytes():
            raise BackupError(
                f"the key file {target} differs from the archive's {part['name']}: the restored data would not "
                f"open with it. Move it away (keep it) or point the setting at the archive's key"
            )
    if replace:
        return
    for svc in node.services:
        if svc.is_sqlite and _sqlite_has_data(svc.sqlite_path):
            raise BackupError(f"the database {svc.sqlite_path} exists: restore into a fresh state, or give --replace")
        if not svc.is_sqlite and _pg_table_count(svc.database_url) > 0:
            raise BackupError(f"the database of {svc.name} is not empty: restore into empty ones, or give --replace")
        if svc.blob_dir is not None and svc.blob_dir.exists() and any(svc.blob_dir.iterdir()):
            raise BackupError(
                f"the blob folder {svc.blob_dir} is not empty: restore into a fresh state, or give --replace"
            )
    archived_streams = {p["name"] for p in manifest["parts"] if p["kind"] == "stream"}
    if clash := sorted(archived_streams & set(nc_streams)):
        raise BackupError(
            f"the stream {clash[0]} exists on the NATS server: stop the services and restore onto an empty "
            f"JetStream, or give --replace"
        )


def _restore_sqlite(src: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".restoring")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _restore_postgres(src: Path, url: str, replace: bool) -> None:
    cmd = [pg_program("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if replace:
        cmd += ["--clean", "--if-exists"]
    _run([*cmd, "--dbname", libpq_url(url), str(src)], "pg_restore")


def _copy_tree(src: Path, dest: Path, replace: bool) -> int:
    if replace and dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    count = 0
    if src.exists():
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            target = dest / file.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copyfile(file, target)
            os.chmod(target, 0o600)
            count += 1
    return count


async def _stream_ids_since(nc: NatsClient, stream: str, since: dt.datetime) -> set[str]:
    """The ``Nats-Msg-Id`` of every message of ``stream`` stored at or after ``since``."""
    js = nc.jetstream()
    cfg = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since,
        ack_policy=AckPolicy.NONE,
        headers_only=True,
        inactive_threshold=30,
    )
    info = await js.add_consumer(stream, cfg)
    sub = await js.pull_subscribe_bind(durable=info.name, stream=stream)
    ids: set[str] = set()
    try:
        pending = int(info.num_pending or 0)
        while pending > 0:
            try:
                msgs = await sub.fetch(min(256, pending), timeout=5)
            except TimeoutError:
                break
            for m in msgs:
                if m.headers and "Nats-Msg-Id" in m.headers:
                    ids.add(m.headers["Nats-Msg-Id"])
            pending -= len(msgs)
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(stream, info.name)
    return ids


def _outbox_table() -> sa.Table:
    return sa.Table(
        "outbox",
        sa.MetaData(),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subject", sa.String(255)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )


def republish_window(svc: ServiceState, since: dt.datetime, in_streams: set[str], federated: bool) -> int:
    """Put back to pending the outbox rows marked published since ``since`` whose event is not in the
    restored streams (on a node with peers, every such row: its copies for peers are not checked one by
    one; a copy sent twice carries the same id, which the peer's inbox drops). Returns how many."""
    ob = _outbox_table()
    engine = sa.create_engine(svc.database_url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(sa.select(ob.c.id, ob.c.subject).where(ob.c.published_at >= since)).all()
            again = [r.id for r in rows if federated or r.subject.startswith("jit.peers.") or r.id not in in_streams]
            for start in range(0, len(again), 500):
                conn.execute(sa.update(ob).where(ob.c.id.in_(again[start : start + 500])).values(published_at=None))
            return len(again)
    finally:
        engine.dispose()


async def _restore_streams(
    nats: NatsOptions, manifest: dict[str, Any], root: Path, replace: bool, say: Say
) -> set[str]:
    nc = await jsb.connect(nats.url, **nats.connect)
    try:
        existing = set(await jsb.stream_names(nc))
        since = dt.datetime.fromisoformat(manifest["jetstream_started_at"]) - REPUBLISH_MARGIN
        ids: set[str] = set()
        for part in manifest["parts"]:
            if part["kind"] != "stream":
                continue
            name = part["name"]
            if name in existing and replace:
                await jsb.delete_stream(nc, name)
            meta = json.loads((root / f"jetstream/{name}.json").read_text())
            state = await jsb.restore(nc, name, meta, root / part["path"])
            say(f"  stream {name}: {state.get('messages', 0)} messages")
            ids |= await _stream_ids_since(nc, name, since)
        return ids
    finally:
        await nc.close()


async def _existing_streams(nats: NatsOptions) -> list[str]:
    nc = await jsb.connect(nats.url, **nats.connect)
    try:
        return await jsb.stream_names(nc)
    finally:
        await nc.close()


def restore(
    archive: Path,
    node: NodeState,
    nats: NatsOptions,
    *,
    replace: bool = False,
    say: Say = _quiet,
    key: bytes | None = None,
) -> dict[str, Any]:
    """Put the archive's node back: databases, blobs, keys, streams; then the outbox rows the streams
    lack back to pending. The services must be stopped. Returns the manifest."""
    with opened(archive, key) as (manifest, root):
        streams = asyncio.run(_existing_streams(nats))
        _check_target(manifest, root, node, streams, replace)
        parts = manifest["parts"]
        keys = node.key_files()
        for part in parts:
            if part["kind"] == "key" and part["name"] in keys:
                target = keys[part["name"]]
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.copyfile(root / part["path"], target)
                os.chmod(target, 0o600)
                say(f"  key {part['name']} -> {target}")
        for svc in node.services:
            db = next(p for p in parts if p["kind"] == "database" and p["name"] == svc.name)
            engine = db["info"]["engine"]
            if svc.is_sqlite != (engine == "sqlite"):
                raise BackupError(
                    f"the archive's {svc.name} database is {engine}, this configuration's is "
                    f"{'sqlite' if svc.is_sqlite else 'postgresql'}: restore onto the same kind of database"
                )
            if svc.is_sqlite:
                _restore_sqlite(root / db["path"], svc.sqlite_path)
            else:
                _restore_postgres(root / db["path"], svc.database_url, replace)
            say(f"  database of {svc.name}")
            if svc.blob_dir is not None:
                count = _copy_tree(root / "blobs" / svc.name, svc.blob_dir, replace)
                say(f"  blobs of {svc.name}: {count} files")
        ids = asyncio.run(_restore_streams(nats, manifest, root, replace, say))
        since = dt.datetime.fromisoformat(manifest["jetstream_started_at"]) - REPUBLISH_MARGIN
        for svc in node.services:
            n = republish_window(svc, since, ids, federated=bool(node.peers))
            if n:
                say(f"  {svc.name}: {n} event(s) published after the stream snapshot began will be published again")
    return manifest
