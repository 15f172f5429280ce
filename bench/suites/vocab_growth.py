"""Figure 5: adding a 60th class to a vocabulary whose 59 banks are cached costs only that class.

A = segment one image with 59 cached classes + 1 new class through the ``OVDiff`` facade (the new class's support
set, masks and banks are built inside the call); B = build a different new class alone, then segment with the 60
(now cached) classes. Target A / B <= 1.1: nothing cached is recomputed and there is no hidden per-vocabulary cost.
Both modes use the tiny profile: building one class with paper-shape Stable Diffusion (64 images x 30 steps)
takes hours on this CPU, and the figure measures caching, not compute. The 59 cached banks are synthetic banks
written into the store under their real keys (what the store holds after 59 builds).
"""
from __future__ import annotations

import statistics
import tempfile

from bench.common import Context, test_image, timed, vocabulary, synthetic_bank

N_CACHED = 59


def run(ctx: Context) -> dict:
    from engine.pipeline import BANK, build_ovdiff
    from engine.prototypes.banks import save_bank
    from engine.types import ClassSpec

    image = test_image()
    repeats = 5 if not ctx.quick else 2  # tiny and cheap: more repeats keep the median out of load spikes
    with tempfile.TemporaryDirectory(prefix="ovdiff-bench-") as store_dir:
        ovd = build_ovdiff("tiny", store_dir)
        dims = {e: ovd.registry.extractor(e, ovd.config.features).dim for e in ovd.config.features.extractors}
        cached = vocabulary(N_CACHED)
        for i, cls in enumerate(cached):
            for j, (ename, key) in enumerate(ovd.bank_keys(cls).items()):
                with ovd.store.writing(BANK, key) as tmp:
                    save_bank(synthetic_bank(cls.name, ename, dims[ename], seed=i * 7 + j), tmp)
        ovd.segment(image, [*cached, ClassSpec("warmup")])  # loads every model once
        a_times, b_build, b_seg = [], [], []
        for r in range(repeats):
            new_a, new_b = ClassSpec(f"new a{r}"), ClassSpec(f"new b{r}")
            a_times.append(timed(lambda: ovd.segment(image, [*cached, new_a]))[0])
            b_build.append(timed(lambda: ovd.banks(new_b))[0])
            b_seg.append(timed(lambda: ovd.segment(image, [*cached, new_b]))[0])
    a = statistics.median(a_times)
    b = statistics.median([x + y for x, y in zip(b_build, b_seg)])
    return {
        "figures": {"vocab_growth_ratio": a / b},
        "details": {
            "profile": "tiny",
            "cached_classes": N_CACHED,
            "seconds_new_class_in_vocabulary": a,
            "seconds_build_alone": statistics.median(b_build),
            "seconds_segment_cached": statistics.median(b_seg),
            "repeats": repeats,
            "runs_a": a_times, "runs_b_build": b_build, "runs_b_segment": b_seg,
            "target": "vocab_growth_ratio <= 1.1",
            "passes": a / b <= 1.1,
        },
    }
