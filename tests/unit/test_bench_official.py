"""Issue #8's message targets held by a test: the realistic official of bench/official_bench.py
through the pure engine, the whole binh-dinh-2019-so form, submitted, both years.

Counts are deterministic (no clock, no randomness), so unlike timings they can be asserted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from flows.loader import builtin_forms

BENCH = Path(__file__).resolve().parents[2] / "bench" / "official_bench.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("official_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["official_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_whole_form_in_few_messages_one_message_per_answer() -> None:
    bench = _bench()
    form = builtin_forms()["binh-dinh-2019-so"]
    first, answers = bench.run_engine(form, 2026, {}, 10_000)  # asserts it was submitted
    second, _ = bench.run_engine(form, 2027, answers, 10_000)
    assert first.inputs <= 200, first
    assert second.inputs <= 80, second
    assert first.per_answer() <= 1.1 and second.per_answer() <= 1.1
    assert first.refused == 5  # every planned mistake was refused, nothing else
    assert len(answers) > 190
