"""What the local runner's servers write (logs, SQLite databases, blobs) is for their owner only
(security review: state folder, databases and logs were world-readable)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from jitdev.procs import spawn


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_spawned_server_writes_files_and_logs_for_its_owner_only(tmp_path: Path) -> None:
    made = tmp_path / "state" / "made.db"
    code = f"import os; os.makedirs({str(made.parent)!r}); open({str(made)!r}, 'w').write('case data'); print('hi')"
    proc = spawn([sys.executable, "-c", code], tmp_path / "logs" / "server.log")
    assert proc.wait(30) == 0
    assert _mode(made) == 0o600
    assert _mode(made.parent) == 0o700
    assert _mode(tmp_path / "logs" / "server.log") == 0o600
    assert _mode(tmp_path / "logs") == 0o700
