"""The one-command GPU check runs end to end on the CPU with the tiny profile (so it cannot rot), and says
clearly that it skipped when asked for a GPU this machine does not have."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench import runner


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the skip path is not taken")
def test_without_a_gpu_the_check_skips_with_a_reason(tmp_path: Path, capsys) -> None:
    out = tmp_path / "gpu.json"
    assert runner.main(["--device", "cuda", "--quick", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert "no CUDA device" in doc["skipped"] and "skipped" in capsys.readouterr().out


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_check_on_cpu_with_the_tiny_profile_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    assert runner.main(["--device", "cpu", "--profile", "tiny", "--quick", "--images", "2", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["device"] == "cpu" and doc["profile"] == "tiny" and doc["support_images_per_class"] == 2
    assert doc["dtypes"] == {"generator": "float32", "dino": "float32", "clip": "float32"}
    assert set(doc["seconds_per_class"]) == {"sampling", "masks", "banks"}
    assert all(v > 0 for v in doc["seconds_per_class"].values())
    assert set(doc["seconds_per_image_segment"]) == {"20", "60"}
    assert set(doc["fast_over_fp32"]) == {"sampling_batch", "segment_image"}
    assert all(v > 0 for v in doc["fast_over_fp32"].values())
    assert doc["peak_gpu_gib"]["banks"] is None  # no GPU memory on the CPU
