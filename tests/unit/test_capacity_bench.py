"""bench/capacity_bench.py runs at a tiny size and prints its figures (a bench must not rot)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_capacity_bench_runs_tiny_and_prints_its_figures() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "bench/capacity_bench.py", "--tiny", "--only", "sqlite"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("SQLite"))
    figures = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", row.split("3 chats")[0])]
    updates_per_s, _p50, _p99, statements, commits = figures[:5]
    assert updates_per_s > 0
    assert 0 < statements <= 11  # BEGIN IMMEDIATE + at most ten per update
    assert commits == 1.0
    assert "3 chats × 3 updates" in row
