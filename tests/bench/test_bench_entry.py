"""The benchmark entry point's plumbing on --quick sizes: files written, headline keys present. No timings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import runner
from bench.report import render


def _quick(tmp_path: Path, *names: str) -> tuple[dict, str]:
    out, md = tmp_path / "r.json", tmp_path / "PERF.md"
    code = runner.main(["--quick", "--only", *names, "--json", str(out), "--markdown", str(md)])
    doc = json.loads(out.read_text())
    assert code == 0, {k: v.get("error") for k, v in doc["benchmarks"].items()}
    assert doc["mode"] == "quick" and doc["profile"] == "tiny"
    assert {"cpu", "cores", "torch"} <= set(doc["machine"])
    assert set(doc["benchmarks"]) == set(names)
    return doc, md.read_text()


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_quick_run_writes_json_and_markdown(tmp_path: Path) -> None:
    doc, text = _quick(tmp_path, "bank_memory")
    for key in ("bank_peak_memory_ratio", "bank_peak_memory_gib"):
        assert isinstance(doc[key], float) and doc[key] > 0, key
    mem = doc["benchmarks"]["bank_memory"]["details"]
    assert mem["peak_rss_bytes"] > mem["baseline_rss_bytes"] > 0
    assert mem["fg_prototypes"] == 1 + 16 + 32  # class + one instance per image + K parts
    assert "bank_peak_memory_ratio" in text and doc["date"] in text


@pytest.mark.slow
def test_quick_matching_and_scaling_share_primed_extractors(tmp_path: Path) -> None:
    doc, text = _quick(tmp_path, "matching_overhead", "vocab_scaling")
    assert doc["matching_overhead_ratio"] > 0 and doc["benchmarks"]["matching_overhead"]["details"]["windows"] == 9
    assert set(doc["vocab_scaling"]) == {"20", "60", "150"}
    assert "| 150 |" in text


def test_report_lists_failures_and_skips_missing_figures() -> None:
    doc = {"date": "2026-01-01T00:00:00+00:00", "mode": "quick", "profile": "tiny", "total_seconds": 1.0,
           "machine": {"cpu": "x", "cores": 2, "memory_gib": 1.0, "torch": "t", "python": "p"},
           "kmeans_speedup": 6.0, "benchmarks": {"kmeans_speed": {"figures": {}}, "vocab_growth": {"error": "boom"}}}
    text = render(doc)
    assert "| `kmeans_speedup`" in text and "| 6 | >= 5 | yes |" in text
    assert "vocab_growth_ratio" not in text and "`vocab_growth`: boom" in text


def test_unknown_benchmark_is_refused() -> None:
    with pytest.raises(SystemExit):
        runner.parse_args(["--only", "nope"])
