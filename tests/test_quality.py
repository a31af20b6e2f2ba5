"""The answer-quality set (bench/quality_set, frozen) does not regress: a floor, not a target."""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quality_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("quality_bench", ROOT / "bench" / "quality.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_quality_set_accuracy_and_wrong_cards_stay_above_the_floor() -> None:
    bench = _quality_bench()
    results = bench.score(ROOT / "bench" / "quality_set")
    assert len(results) == 527
    right = sum(r.verdict == "right" for r in results) / len(results)
    wrong = sum(r.verdict == "wrong" for r in results) / len(results)
    assert right >= 0.93, f"accuracy fell to {right:.1%}"
    assert wrong <= 0.05, f"wrong cards rose to {wrong:.1%}"
    by_category: dict[str, list[str]] = defaultdict(list)
    for r in results:
        by_category[r.case["category"]].append(r.verdict)
    for category, verdicts in by_category.items():
        if category in ("trap", "unrelated"):
            continue
        share = verdicts.count("right") / len(verdicts)
        assert share >= 0.85, f"{category}: {share:.0%} right"


def test_the_contains_baseline_is_what_the_engine_beats() -> None:
    bench = _quality_bench()
    results = bench.score(ROOT / "bench" / "quality_set", "courses")
    engine = sum(r.verdict == "right" for r in results)
    baseline = sum(r.baseline == "right" for r in results)
    assert engine > baseline
