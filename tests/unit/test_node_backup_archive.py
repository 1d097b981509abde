"""`jit node restore` refuses a damaged or mismatched archive, in words, before it changes anything.

The archives here are built by hand in the layout `jit node backup` writes (a manifest and its parts);
the whole round trip on real servers is tests/integration/test_node_backup.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jitcli import node_backup
from jitcli.main import app
from jitcli.nodeconf import NodeState

PARTS = {
    "databases/tasks.sqlite": b"tasks",
    "databases/evidence.sqlite": b"evidence",
    "databases/preservation.sqlite": b"preservation",
    "databases/messaging.sqlite": b"messaging",
    "databases/victims.sqlite": b"victims",
    "keys/tasks-kek": b"a2V5\n",
    "jetstream/JIT_TASKS.snapshot": b"snapshot",
}


def _manifest(parts: dict[str, bytes], **over: Any) -> dict[str, Any]:
    listed = []
    for path, data in parts.items():
        kind = path.split("/")[0]
        name = Path(path).stem
        kinds = {"databases": "database", "keys": "key", "jetstream": "stream"}
        listed.append(
            {
                "path": path,
                "kind": kinds[kind],
                "name": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "info": {"engine": "sqlite"} if kind == "databases" else {},
            }
        )
    return {
        "format": node_backup.FORMAT,
        "created_at": "2026-12-02T10:00:00+00:00",
        "jetstream_started_at": "2026-12-02T10:00:00+00:00",
        "node": {"jurisdiction": "NL", "peers": "DE"},
        "parts": listed,
        **over,
    }


def write_archive(path: Path, files: dict[str, bytes], manifest: dict[str, Any] | None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        entries = dict(files)
        if manifest is not None:
            entries = {node_backup.MANIFEST: json.dumps(manifest).encode(), **entries}
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_archive(tmp_path / "good.tar.gz", PARTS, _manifest(PARTS))


def refusal(archive: Path) -> str:
    with pytest.raises(node_backup.BackupError) as err:
        node_backup.verify(archive)
    return str(err.value)


def test_a_sound_archive_reads(good: Path) -> None:
    assert node_backup.verify(good)["node"]["jurisdiction"] == "NL"


def test_the_command_checks_only(good: Path) -> None:
    res = CliRunner().invoke(app, ["node", "restore", str(good), "--check-only"], env={})
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "7 parts intact" in res.stdout


def test_a_part_changed(tmp_path: Path) -> None:
    files = {**PARTS, "databases/tasks.sqlite": b"tasks, changed"}
    archive = write_archive(tmp_path / "a.tar.gz", files, _manifest(PARTS))
    assert "databases/tasks.sqlite does not match its SHA-256" in refusal(archive)


def test_a_part_missing(tmp_path: Path) -> None:
    files = {k: v for k, v in PARTS.items() if k != "keys/tasks-kek"}
    archive = write_archive(tmp_path / "a.tar.gz", files, _manifest(PARTS))
    assert "1 listed part(s) missing, first keys/tasks-kek" in refusal(archive)


def test_a_file_the_manifest_does_not_list(tmp_path: Path) -> None:
    files = {**PARTS, "databases/other.sqlite": b"x"}
    archive = write_archive(tmp_path / "a.tar.gz", files, _manifest(PARTS))
    assert "does not list" in refusal(archive)


def test_no_manifest(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", PARTS, None)
    assert "no readable manifest" in refusal(archive)


def test_another_format(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", PARTS, _manifest(PARTS, format="jit-node-backup/99"))
    assert "this command reads jit-node-backup/1" in refusal(archive)


def test_a_truncated_archive(good: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "is damaged" in refusal(cut)


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive at all")
    assert "is damaged" in refusal(junk)


def test_a_path_outside_the_archive_is_refused(tmp_path: Path) -> None:
    files = {**PARTS, "../escape.txt": b"x"}
    manifest = _manifest(PARTS)
    archive = write_archive(tmp_path / "a.tar.gz", files, manifest)
    assert "is damaged" in refusal(archive)
    assert not (tmp_path / "escape.txt").exists()


def _node(tmp_path: Path, **env: str) -> NodeState:
    return NodeState.of({"JIT_STATE_DIR": str(tmp_path / "state"), "JIT_NODE_JURISDICTION": "NL", **env})


def test_another_nodes_archive(good: Path, tmp_path: Path) -> None:
    with node_backup.opened(good) as (manifest, root), pytest.raises(node_backup.BackupError) as err:
        node_backup._check_target(manifest, root, _node(tmp_path, JIT_NODE_JURISDICTION="DE"), [], False)
    assert "the archive is of the node of NL, this configuration is the node of DE" in str(err.value)


def test_a_key_file_that_differs(good: Path, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "tasks-kek.b64").write_bytes(b"b3RoZXI=\n")
    with node_backup.opened(good) as (manifest, root), pytest.raises(node_backup.BackupError) as err:
        node_backup._check_target(manifest, root, _node(tmp_path), [], False)
    assert "differs from the archive's tasks-kek" in str(err.value)


def test_a_target_that_holds_data(good: Path, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "tasks.db").write_bytes(b"data")
    with node_backup.opened(good) as (manifest, root), pytest.raises(node_backup.BackupError) as err:
        node_backup._check_target(manifest, root, _node(tmp_path), [], False)
    assert "exists: restore into a fresh state, or give --replace" in str(err.value)


def test_a_jetstream_that_holds_the_streams(good: Path, tmp_path: Path) -> None:
    with node_backup.opened(good) as (manifest, root), pytest.raises(node_backup.BackupError) as err:
        node_backup._check_target(manifest, root, _node(tmp_path), ["JIT_TASKS"], False)
    assert "the stream JIT_TASKS exists on the NATS server" in str(err.value)


# ---- which outbox rows a restore puts back to pending --------------------------------------------------


def _outbox(tmp_path: Path, rows: list[tuple[str, str, Any]]) -> NodeState:
    import sqlalchemy as sa

    from jitlib.db import runtime_tables

    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    metadata = sa.MetaData()
    tables = runtime_tables(metadata)
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for event_id, subject, published in rows:
            conn.execute(
                tables.outbox.insert().values(
                    id=event_id, subject=subject, event_type="t", payload=b"", headers="{}",
                    created_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC), published_at=published,
                )
            )  # fmt: skip
    engine.dispose()
    return NodeState.of({"JIT_STATE_DIR": str(tmp_path), "JIT_TASKS_DATABASE_URL": url})


def _pending(node: NodeState) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(node.services[0].database_url)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id")).scalars().all()
    engine.dispose()
    return list(ids)


SNAPSHOT = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def _rows() -> list[tuple[str, str, Any]]:
    minute = dt.timedelta(minutes=1)
    return [
        ("a-old", "jit.tasks.NL.created", SNAPSHOT - 10 * minute),  # long before: in the snapshot
        ("b-in-stream", "jit.tasks.NL.accepted", SNAPSHOT + minute),  # marked late, but the stream has it
        ("c-missing", "jit.tasks.NL.started", SNAPSHOT + minute),  # published after the snapshot began
        ("d-peers", "jit.peers.messaging.NL.posted", SNAPSHOT + minute),  # for other nodes only
        ("e-pending", "jit.tasks.NL.completed", None),  # never published: stays pending
    ]


def test_restore_republishes_what_the_streams_lack(tmp_path: Path) -> None:
    node = _outbox(tmp_path, _rows())
    since = SNAPSHOT - node_backup.REPUBLISH_MARGIN
    again = node_backup.republish_window(node.services[0], since, {"a-old", "b-in-stream"}, federated=False)
    assert again == 2
    assert _pending(node) == ["c-missing", "d-peers", "e-pending"]


def test_on_a_federation_node_every_row_since_the_snapshot_goes_again(tmp_path: Path) -> None:
    node = _outbox(tmp_path, _rows())
    since = SNAPSHOT - node_backup.REPUBLISH_MARGIN
    assert node_backup.republish_window(node.services[0], since, {"a-old", "b-in-stream"}, federated=True) == 3
    assert _pending(node) == ["b-in-stream", "c-missing", "d-peers", "e-pending"]


# ---- an archive sealed under a backup key --------------------------------------------------------------


def _key(tmp_path: Path, name: str = "backup.key") -> Path:
    import base64
    import os

    path = tmp_path / name
    path.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    return path


def _sealed(good: Path, tmp_path: Path) -> tuple[Path, Path]:
    key = _key(tmp_path)
    out = tmp_path / "sealed.bin"
    node_backup.seal(good, out, node_backup.load_backup_key(key))
    return out, key


def test_a_sealed_archive_opens_with_its_key_only(good: Path, tmp_path: Path) -> None:
    sealed, key = _sealed(good, tmp_path)
    assert sealed.stat().st_mode & 0o777 == 0o600
    assert b"manifest" not in sealed.read_bytes() and b"tasks" not in sealed.read_bytes()
    assert node_backup.verify(sealed, node_backup.load_backup_key(key))["node"]["jurisdiction"] == "NL"
    with pytest.raises(node_backup.BackupError, match="give it with --decrypt-key"):
        node_backup.verify(sealed)
    other = node_backup.load_backup_key(_key(tmp_path, "other.key"))
    with pytest.raises(node_backup.BackupError, match="does not open with this backup key"):
        node_backup.verify(sealed, other)


def test_the_command_opens_a_sealed_archive(good: Path, tmp_path: Path) -> None:
    sealed, key = _sealed(good, tmp_path)
    res = CliRunner().invoke(app, ["node", "restore", str(sealed), "--check-only", "--decrypt-key", str(key)], env={})
    assert res.exit_code == 0, res.stdout + res.stderr
    res = CliRunner().invoke(app, ["node", "restore", str(sealed), "--check-only"], env={})
    assert res.exit_code == 1 and "--decrypt-key" in res.stderr


def test_a_sealed_archive_in_several_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_backup, "SEAL_CHUNK", 64)  # many pieces, to move and cut them
    src = tmp_path / "plain"
    src.write_bytes(bytes(range(256)) * 3)
    key = node_backup.load_backup_key(_key(tmp_path))
    node_backup.seal(src, tmp_path / "s", key)
    node_backup.unseal(tmp_path / "s", tmp_path / "back", key)
    assert (tmp_path / "back").read_bytes() == src.read_bytes()
    data = (tmp_path / "s").read_bytes()
    head, frame = len(node_backup.SEALED_MAGIC) + 16, 5 + 12 + 64 + 16

    def refused(blob: bytes) -> str:
        (tmp_path / "bad").write_bytes(blob)
        with pytest.raises(node_backup.BackupError) as err:
            node_backup.unseal(tmp_path / "bad", tmp_path / "out", key)
        return str(err.value)

    first, second = data[head : head + frame], data[head + frame : head + 2 * frame]
    assert "does not open" in refused(data[:head] + second + first + data[head + 2 * frame :])  # moved
    assert "cut off" in refused(data[: head + 2 * frame])  # the last pieces dropped
    flipped = bytearray(data)
    flipped[head + 40] ^= 1
    assert "does not open" in refused(bytes(flipped))  # changed
    assert "goes on after" in refused(data + b"more")


def test_a_backup_key_of_the_wrong_size(tmp_path: Path) -> None:
    (tmp_path / "short.key").write_text("c2hvcnQ=\n")
    with pytest.raises(node_backup.BackupError, match="holds 5 bytes"):
        node_backup.load_backup_key(tmp_path / "short.key")
