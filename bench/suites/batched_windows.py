"""Figure 2: per-image segmentation time with windows batched (``window_batch_size``) against one at a time.

Real extractors, real segmenter, one VOC-sized image, 10 classes of synthetic paper-sized banks (the pre-filter's
cap). The full run uses the paper-shape CLIP extractor only: SD and DINO at 448 px cost about 30 and 10 s per
window on this CPU, too slow to repeat both ways within the 15-minute budget; --quick uses all three tiny models.
Ratio < 1 means batching helps.

Why an earlier run reported 1.61 (batched slower): it timed ONE call per side, batched first, without a warm-up,
so the batched side alone paid the one-time costs of new shapes (oneDNN picks and caches a kernel per input
shape; the batched activations, 6 windows x 785 tokens x 768 wide per layer, are fresh allocations that fault in
their pages). Profiled warm (torch.profiler), the batched image does the same linear layers in fewer, larger
matrix products (addmm 25.9 s vs 32.8 s CPU time for the 9 windows) and fewer copies, so both sides are now warmed
up and timed interleaved. On an idle machine batching still does not pay on this 2-core CPU (1.06-1.08; batches of
2 and 3 windows 1.00 and 1.01): one window's matrix products already fill both cores. So ``runtime.window_batching``
``auto`` batches on CUDA only (``engine.runtime.windows_per_batch``); this figure times forced batching.
"""
from __future__ import annotations

import dataclasses

from bench.common import Context, FixedSelection, interleaved_medians, synthetic_banks, test_image, vocabulary

N_CLASSES = 10


def run(ctx: Context) -> dict:
    from engine.runtime import RuntimeConfig, windows_per_batch
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
    for seg in segs.values():  # warm-up: first calls per input shape pay kernel selection and page faults
        seg(image)
    repeats = 2 if not ctx.quick else 3  # full: a paper CLIP image is ~30 s here; both sides warmed up first
    t = interleaved_medians({k: (lambda s=s: s(image)) for k, s in segs.items()}, repeats)
    return {
        "figures": {"batched_window_ratio": t["batched"] / t["single"]},
        "details": {
            "profile": ctx.profile,
            "extractors": list(names),
            "window_batch_size": batch,
            "auto_windows_per_forward": {"cpu": windows_per_batch(RuntimeConfig(), batch, "cpu"),
                                         "cuda": windows_per_batch(RuntimeConfig(), batch, "cuda")},
            "seconds_per_image_batched": t["batched"],
            "seconds_per_image_single": t["single"],
            "repeats": repeats,
        },
    }
