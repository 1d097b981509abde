"""`make test`'s workers (pytest-xdist with the scheduler of ``tests/conftest.py``): a module runs whole on
one worker, and so does each folder whose tests share one costly session fixture (the federation's nodes,
the console's browser). Checked on a small tree of tests run by a real pytest with two workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RECORDER = """
import os
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(6))
def test_records_its_worker(n: int) -> None:
    out = Path(os.environ["WORKERS_OUT"]) / f"{Path(__file__).stem}.{n}"
    out.write_text(os.environ.get("PYTEST_XDIST_WORKER", "none"))
"""


def test_a_module_and_a_shared_folder_each_run_whole_on_one_worker(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for folder, modules in {"console": 3, "federation": 3, "unit": 4}.items():
        (tree / "tests" / folder).mkdir(parents=True)
        for i in range(modules):
            (tree / "tests" / folder / f"test_{folder}_{i}.py").write_text(RECORDER)
    out = tmp_path / "out"
    out.mkdir()
    # The suite's conftest as a plugin (its scheduler), two workers, the tree's own rootdir and no config.
    args = ["-q", "-p", "no:cacheprovider", "-p", "tests.conftest", "-n2", "--rootdir", str(tree), "-c", "/dev/null"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(tree / "tests")],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'libs'}", "WORKERS_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ran = {p.name: p.read_text() for p in out.iterdir()}
    assert len(ran) == 10 * 6
    assert set(ran.values()) == {"gw0", "gw1"}  # both workers had work
    by_module: dict[str, set[str]] = {}
    for name, worker in ran.items():
        by_module.setdefault(name.rsplit(".", 1)[0], set()).add(worker)
    assert all(len(workers) == 1 for workers in by_module.values()), by_module
    for shared in ("console", "federation"):
        assert len({w for name, w in ran.items() if name.startswith(f"test_{shared}_")}) == 1, shared
