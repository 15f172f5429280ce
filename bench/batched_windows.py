"""Figure 2: per-image segmentation time with windows batched (``window_batch_size``) against one at a time.

Real extractors, real segmenter, one VOC-sized image, 10 classes of synthetic paper-sized banks (the pre-filter's
cap). The full run uses the paper-shape CLIP extractor only: SD and DINO at 448 px cost about 30 and 10 s per
window on this CPU, too slow to repeat both ways within the 15-minute budget; --quick uses all three tiny models.
Ratio < 1 means batching helps.
"""
from __future__ import annotations

import dataclasses

from bench.common import Context, FixedSelection, interleaved_medians, synthetic_banks, test_image, vocabulary

N_CLASSES = 10


def run(ctx: Context) -> dict:
    from engine.segment.segmenter import Segmenter

    cfg = ctx.config
    reg = ctx.registry()
    names = ("dino", "clip") if ctx.quick else ("clip",)
    extractors = {e: reg.extractor(e, cfg.features) for e in names}
    image = test_image()
    classes = vocabulary(N_CLASSES)
    banks = synthetic_banks(classes, {e: x.dim for e, x in extractors.items()})
    select = FixedSelection([c.name for c in classes])
    batch = cfg.segment.window_batch_size
    segs = {
        "batched": Segmenter(dataclasses.replace(cfg.segment, window_batch_size=batch), extractors, banks, classes,
                             select),
        "single": Segmenter(dataclasses.replace(cfg.segment, window_batch_size=1), extractors, banks, classes, select),
    }
    if ctx.quick:
        segs["batched"](image)  # warm-up (the full run's models are warm from earlier benchmarks)
    repeats = 1 if not ctx.quick else 3
    t = interleaved_medians({k: (lambda s=s: s(image)) for k, s in segs.items()}, repeats)
    return {
        "figures": {"batched_window_ratio": t["batched"] / t["single"]},
        "details": {
            "profile": ctx.profile,
            "extractors": list(names),
            "window_batch_size": batch,
            "seconds_per_image_batched": t["batched"],
            "seconds_per_image_single": t["single"],
            "repeats": repeats,
        },
    }
