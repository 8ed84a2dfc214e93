"""bench/db_cuts.py at a tiny size: it runs, cuts, and finds nothing lost or doubled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.integration.conftest import PG_URL, _create_schema, _drop_schema

BENCH = Path(__file__).resolve().parents[2] / "bench" / "db_cuts.py"


@pytest.mark.postgres
async def test_db_cuts_bench_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    await _drop_schema(await _create_schema())  # skips (or fails in CI) without PostgreSQL
    spec = importlib.util.spec_from_file_location("db_cuts", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = await bench.main(["--cuts", "4", "--users", "2", "--postgres-url", PG_URL])
    assert figures["cuts made"] == 4
    assert figures["updates"] == 4
    assert figures["updates dropped"] == 0
    assert figures["replies lost"] == 0
    assert figures["duplicates sent"] == 0
    assert figures["replies queued"] >= figures["updates"]
    assert "updates dropped" in capsys.readouterr().out
