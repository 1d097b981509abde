"""Every benchmark of ``bench/`` runs end to end at a small size and prints its figures: each figure's line
(``BENCH``, ``STEP`` or ``ENTRY``) with its ratio to the floor measured in the same run, and the mixed
load's count of errors, 0. A benchmark that stops working is found here, not at the next reading round
(``bench.entry_steps`` failed unseen for two days: bench/README.md, Lists, the twenty-first pass). No figure
is judged: sizes this small measure nothing. Not here: ``bench.lists``, whose victim's page is full only
from about 51,000 records of each kind (a victim is named by every 1,000th record); ``bench.list_steps``
runs the same two services' lists end to end.

Each benchmark starts its own servers (NATS, PostgreSQL, the services), as ``make bench`` does, on ports
of the worker's own part of the range; it runs without the suite's ``JIT_`` settings (the suite's NATS
users, for one), as from a shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jitdev.procs import PORT_SHARE_ENV

ROOT = Path(__file__).resolve().parents[2]

#: Each benchmark, the arguments of a small run, and the lines it must print (a pattern each, per line).
CASES: dict[str, tuple[list[str], list[str]]] = {
    "run": (
        ["--requests", "20", "--trials", "1", "--no-victim", "--concurrency", "1"],
        [r"BENCH grpc_echo_floor_c1 ", *(rf"BENCH create_task_{b}_c1 .*ratio_p50=" for b in ("sqlite", "postgresql"))],
    ),
    "messaging": (
        ["--messages", "20", "--trials", "1", "--subscribers", "1"],
        [r"BENCH nats_pubsub_floor_s1 ", r"BENCH message_post_to_delivery_s1 .*ratio_p50="],
    ),
    "evidence": (
        ["--requests", "10", "--megabytes", "2", "--trials", "1"],
        [
            r"BENCH evidence_file_copy ",
            r"BENCH create_evidence_request_sqlite_c1 .*ratio_p50=",
            r"BENCH evidence_upload_sqlite .*ratio",
            r"BENCH evidence_download_sqlite .*ratio",
        ],
    ),
    "preservation_scan": (
        ["--orders", "2000", "--repeat", "1", "--trials", "1"],
        [rf"BENCH preservation_scan_due_{b} .*ratio" for b in ("sqlite", "postgresql")],
    ),
    "list_steps": (
        ["--records", "300", "--calls", "20", "--rounds", "1"],
        [rf"STEP {b} {k} total .*ratio_p50=" for b in ("sqlite", "postgresql") for k in ("tasks", "requests")],
    ),
    "mixed": (
        ["--minutes", "0.1"],
        [
            r"BENCH mixed_create_task calls=[1-9]\d* .*ratio_p50=",
            r"BENCH mixed_errors count=0$",
            r"BENCH mixed_rss_tasks ",
        ],
    ),
    "entry_steps": (
        ["--calls", "30", "--trials", "1"],
        [rf"ENTRY {s} .*ratio_p50=" for s in ("token", "deadline", "entry", "protobuf", "server", "loop", "wait")],
    ),
    "create_steps": (["--calls", "30"], [rf"STEP {b} .*ratio_p50=" for b in ("sqlite", "postgresql")]),
    "victims": (
        ["--requests", "20"],
        [rf"BENCH victim_identity_{b}_c1 .*ratio_p50=" for b in ("sqlite", "postgresql")],
    ),
    "joining": (["--tasks", "20", "--trials", "1"], [r"BENCH joining_first_pass_sqlite_20 .*ratio="]),
    "federation": (
        ["--trials", "1", "--tasks", "5", "--round-trips", "20", "--commands", "5"],
        [r"BENCH federation_replication .*ratio", r"BENCH federation_forwarded_command .*ratio_p50="],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_benchmark_runs_and_prints_its_figures(name: str) -> None:
    args, expected = CASES[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIT_") or k == PORT_SHARE_ENV}
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"bench.{name} failed:\n{done.stderr[-4000:]}"
    missing = [p for p in expected if not re.search(p, done.stdout, re.MULTILINE)]
    assert not missing, f"bench.{name} printed no line for {missing}:\n{done.stdout[-4000:]}"
