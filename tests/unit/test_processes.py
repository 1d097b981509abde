"""The supervisor of a service run as several processes (``jitlib.processes``), the checks before it
starts them (``jitlib.server.check_processes``), and the doorbell by which a copy wakes copy 0's worker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from jitlib import processes
from jitlib.server import check_processes
from services.tasks.app import TasksSettings
from services.tasks.app import spec as tasks_spec

#: A copy that writes its pid to ``<dir>/started/<index>``, then waits; on SIGTERM it writes
#: ``<dir>/stopped/<index>`` and exits 0.
COPY = """
import os, pathlib, signal, sys, time
index, folder = os.environ["JIT_PROCESS_INDEX"], pathlib.Path(sys.argv[1])
def stopped(*_):
    (folder / "stopped" / index).write_text("")
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
(folder / "started" / index).write_text(str(os.getpid()))
time.sleep(60)
sys.exit(5)
"""


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "started").mkdir()
    (tmp_path / "stopped").mkdir()
    return tmp_path


def test_process_index_is_none_for_a_sole_process_and_read_for_a_copy() -> None:
    assert processes.process_index({}) is None
    assert processes.process_index({processes.INDEX_ENV: "3"}) == 3
    with pytest.raises(SystemExit, match="JIT_PROCESS_INDEX: not a number"):
        processes.process_index({processes.INDEX_ENV: "x"})
    with pytest.raises(SystemExit, match="0 or more"):
        processes.process_index({processes.INDEX_ENV: "-1"})


def _wait_for(path: Path, count: int) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        files = sorted(path.iterdir())
        if len(files) == count and all(f.read_text() for f in files):
            return [int(f.read_text()) for f in files]
        time.sleep(0.05)
    raise AssertionError(f"{count} copies never started")


def test_sigterm_is_passed_to_every_copy_and_the_supervisor_exits_0(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    started: list[int] = []

    def terminate_when_started() -> None:
        started.extend(_wait_for(folder / "started", 3))
        os.kill(os.getpid(), signal.SIGTERM)

    t = threading.Thread(target=terminate_when_started)
    t.start()
    status = processes.supervise("test", [sys.executable, "-c", COPY, str(folder)], 3)
    t.join()
    assert status == 0
    assert len(set(started)) == 3  # each copy got its own index
    assert sorted(p.name for p in (folder / "stopped").iterdir()) == ["0", "1", "2"]
    assert not [pid for pid in started if Path(f"/proc/{pid}").exists()]


def test_a_copy_that_ends_on_its_own_stops_the_others_and_the_supervisor_fails(tmp_path: Path) -> None:
    # Copy 1 exits with 3 once copy 0 has started; copy 0 waits for SIGTERM (else it would exit 5).
    script = (
        "import os, pathlib, sys, time\n"
        "if os.environ['JIT_PROCESS_INDEX'] == '1':\n"
        "    while not pathlib.Path(sys.argv[1], 'started', '0').exists():\n"
        "        time.sleep(0.05)\n"
        "    sys.exit(3)\n"
    ) + COPY
    folder = _folder(tmp_path)
    status = processes.supervise("test", [sys.executable, "-c", script, str(folder)], 2)
    assert status == 1
    assert [p.name for p in (folder / "stopped").iterdir()] == ["0"]  # stopped by the supervisor


def test_copies_need_a_fixed_port_to_share() -> None:
    with pytest.raises(SystemExit, match="JIT_TASKS_LISTEN"):
        check_processes(tasks_spec(), TasksSettings(listen="127.0.0.1:0", processes=2))
    check_processes(tasks_spec(), TasksSettings(listen="127.0.0.1:50051", processes=2))


def test_the_process_count_is_bounded() -> None:
    with pytest.raises(ValueError):
        TasksSettings(processes=0)
    with pytest.raises(ValueError):
        TasksSettings(processes=65)


def test_a_ring_from_another_process_wakes_copy_0s_worker_and_a_ring_nobody_hears_is_dropped() -> None:
    url = f"sqlite:////tmp/doorbell-{os.getpid()}-{time.time_ns()}.db"  # a name no other test listens on
    bell = processes.Doorbell("evidence", url)
    other_service = processes.Doorbell("preservation", url)
    assert other_service.address != bell.address != processes.Doorbell("evidence", url + "x").address
    bell.ring()  # nobody listens yet: no error, nothing kept for later
    rung: list[str] = []

    async def main() -> None:
        woken = asyncio.Event()
        listener = bell.listener(lambda: (rung.append("evidence"), woken.set()))
        listener.start()
        try:
            other_service.ring()  # another service's bell: not this one
            # Another copy of the service, as a process of its own, rings it (its address from the same inputs).
            ringer = [
                sys.executable,
                "-c",
                f"from jitlib import processes; processes.Doorbell('evidence', {url!r}).ring()",
            ]
            proc = await asyncio.create_subprocess_exec(*ringer, env={**os.environ})
            assert await proc.wait() == 0
            await asyncio.wait_for(woken.wait(), timeout=30)
        finally:
            await listener.stop()

    asyncio.run(main())
    assert rung == ["evidence"]
    bell.ring()  # stopped: dropped again
    bell.close()
    other_service.close()
