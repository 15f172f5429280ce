"""Figure 1: prototype matching overhead = (segmentation time without the forward passes) / (forward time).

One VOC-sized image, every window, the three extractors, a 60-class vocabulary of synthetic paper-sized banks
(97 fg + 33 kept bg prototypes per class and extractor). The extractors run for real once per window shape
(``ReplayExtractor``); later segmentations replay their outputs, so their time is exactly the scoring,
accumulation, upsampling and argmax. The headline uses the paper setting: the CLIP pre-filter keeps at most
``prefilter_max_classes`` (10) classes, here fixed to the first 10 so CLIP's guess does not vary the work (how the
time grows when more classes are kept, e.g. stuff classes, is ``bench.suites.vocab_scaling``).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from engine.config import SegmentConfig

from bench.common import Context, FixedSelection, ReplayExtractor, median_time, synthetic_banks, test_image, \
    vocabulary

N_CLASSES = 60


def replay_extractors(ctx: Context, repeats: int) -> dict[str, ReplayExtractor]:
    cfg = ctx.config
    reg = ctx.registry()
    return {e: ReplayExtractor(reg.extractor(e, cfg.features), repeats) for e in cfg.features.extractors}


def prime(extractors: dict[str, ReplayExtractor], image: np.ndarray, seg_cfg: SegmentConfig
          ) -> tuple[int, dict[str, float]]:
    """Run every extractor once per distinct crop shape of the image's windows; (windows, forward s per image)."""
    from engine.segment.windows import crop_batch, resize_short_side, window_boxes

    work = resize_short_side(image, seg_cfg.short_side)
    img_t = torch.from_numpy(work).permute(2, 0, 1).float().div_(255.0)
    windows = window_boxes(work.shape[0], work.shape[1], seg_cfg)
    forward = {}
    for ename, x in extractors.items():
        size = getattr(x, "input_size", None)
        total = 0.0
        for win in windows:
            crop = crop_batch(img_t, [win], size if isinstance(size, int) else None)
            key = tuple(crop.shape[-2:])
            if key not in x.cache:
                x.prime(crop)
            total += x.forward_seconds[key]
        forward[ename] = total
    return len(windows), forward


def run(ctx: Context) -> dict:
    from engine.segment.segmenter import Segmenter

    cfg = ctx.config
    image = test_image()
    classes = vocabulary(N_CLASSES)
    extractors = replay_extractors(ctx, repeats=1 if not ctx.quick else 3)
    ctx.cache["replay_extractors"] = extractors  # primed here, replayed by vocab_scaling
    banks = synthetic_banks(classes, {e: x.dim for e, x in extractors.items()})
    keep = cfg.segment.prefilter_max_classes
    seg_cfg = dataclasses.replace(cfg.segment, pamr=False)
    paper = Segmenter(seg_cfg, extractors, banks, classes, FixedSelection([c.name for c in classes[:keep]]))
    ctx.log(f"  forward passes per window shape ({ctx.profile}) ...")
    n_windows, forward = prime(extractors, image, seg_cfg)
    total_forward = sum(forward.values())
    ctx.log(f"  forward seconds per image: {forward}; matching ...")
    t_paper = median_time(lambda: paper(image), 2 if not ctx.quick else 5)
    protos = {e: (keep * (banks[classes[0].name][e].fg.shape[0] + banks[classes[0].name][e].bg.shape[0]))
              for e in extractors}
    return {
        "figures": {
            "matching_overhead_ratio": t_paper / total_forward,
        },
        "details": {
            "profile": ctx.profile,
            "image_hw": list(image.shape[:2]),
            "windows": n_windows,
            "classes": N_CLASSES,
            "classes_matched": keep,
            "prototypes_per_class": banks[classes[0].name][cfg.features.extractors[0]].fg.shape[0]
            + banks[classes[0].name][cfg.features.extractors[0]].bg.shape[0],
            "prototypes_matched_per_extractor": protos,
            "forward_seconds_per_image": forward,
            "matching_seconds_per_image": t_paper,
            "target": "matching_overhead_ratio <= 0.05",
            "passes": t_paper / total_forward <= 0.05,
        },
    }
