"""Every script in bench/ runs at a tiny size, so no benchmark can rot unnoticed.

The convention (bench/README.md): a bench is `bench/<name>.py`, runnable as a script, with a
`main(argv)` entry (sync or async) that accepts `--tiny` — a run of a few seconds that goes
through every path the full run measures — prints its figures and exits 0.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted((ROOT / "bench").glob("*.py"))


def test_there_are_benches() -> None:
    names = {p.name for p in BENCHES}
    assert {"engine_bench.py", "official_bench.py", "linkcheck_bench.py", "zalo_bench.py"} <= names


@pytest.mark.parametrize("path", BENCHES, ids=[p.stem for p in BENCHES])
def test_bench_has_a_main_that_takes_argv(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mains = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
    ]
    assert mains, f"{path.name} has no main()"
    assert mains[0].args.args, f"{path.name}: main() must take argv (main(['--tiny']))"
    assert "--tiny" in path.read_text(encoding="utf-8"), f"{path.name} does not accept --tiny"


@pytest.mark.parametrize("path", BENCHES, ids=[p.stem for p in BENCHES])
def test_bench_runs_tiny(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(  # the script as users run it, from the repository root
        [sys.executable, str(path), "--tiny"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), f"{path.name} printed no figures"
    assert "Traceback" not in done.stderr
