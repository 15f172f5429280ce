"""Figure 6: segmentation time per image at 20, 60 and 150 classes (a quarter of them stuff, as in ADE/Context).

Per vocabulary size: the real CLIP pre-filter's first stage picks the candidate things (at most 10; stuff always
passes), timed; its subset search is timed once (see ``run``); then the segmenter matches the kept prototypes
(synthetic paper-sized banks) with the forward passes replayed (see ``bench.suites.matching_overhead``), timed as a
median; the forward time of one image (the same at every size) is added.
"No worse than linear": matching time per kept prototype must not grow with the vocabulary (15 % noise margin).
"""
from __future__ import annotations

import dataclasses
from functools import partial

from bench.common import Context, FixedSelection, median_time, synthetic_banks, test_image, timed, vocabulary
from bench.suites.matching_overhead import prime, replay_extractors

SIZES = (20, 60, 150)


def run(ctx: Context) -> dict:
    from engine.features.clip_text import clip_text_image_similarity
    from engine.segment.prefilter import CategoryPrefilter
    from engine.segment.segmenter import Segmenter
    from engine.segment.stuff import background_keep_masks

    cfg = ctx.config
    seg_cfg = dataclasses.replace(cfg.segment, pamr=False)
    image = test_image()
    extractors = ctx.cache.get("replay_extractors") or replay_extractors(ctx, repeats=1)
    ctx.cache["replay_extractors"] = extractors
    prefilter = CategoryPrefilter(partial(clip_text_image_similarity, ctx.registry()), seg_cfg)
    repeats = 1 if not ctx.quick else 3  # full: SD matching alone is 20-40 s per image here
    rows = {}
    picks = {}
    for n in SIZES:  # first pre-filter stage per size: |C| prompts, cheap
        classes = vocabulary(n, stuff_every=4)
        things = [c for c in classes if not c.is_stuff]
        t_stage1, cand = timed(lambda: prefilter.candidates(image, things))
        picks[n] = (classes, things, cand, t_stage1)
    # Second stage (subset search): 2^m - 1 prompts for m candidates, m <= prefilter_max_classes whatever |C| is;
    # timed once on the largest candidate set, an upper bound added at every size. Matching keeps every candidate
    # (the largest subset the search can return): the matching figure is an upper bound too.
    classes, things, cand, _ = max(picks.values(), key=lambda p: len(p[2]))
    t_stage2 = timed(lambda: prefilter.best_subset(image, things, cand))[0]
    for n in SIZES:
        classes, things, cand, t_stage1 = picks[n]
        keep_names = {things[i].name for i in cand} | {c.name for c in classes if c.is_stuff}
        selected = [c.name for c in classes if c.name in keep_names]
        t_pre = t_stage1 + t_stage2
        banks = synthetic_banks(classes, {e: x.dim for e, x in extractors.items()})
        seg = Segmenter(seg_cfg, extractors, banks, classes, FixedSelection(selected))
        forward = sum(prime(extractors, image, seg_cfg)[1].values())  # cached after bench.suites.matching_overhead
        t_match = median_time(lambda: seg(image), repeats)
        is_stuff = {c.name: c.is_stuff for c in classes}
        kept = 0
        for e in extractors:
            keep = background_keep_masks({c.name: banks[c.name][e] for c in classes}, is_stuff, seg_cfg)
            kept += sum(banks[s][e].fg.shape[0] + int(keep[s].sum()) for s in selected)
        rows[str(n)] = {"seconds_per_image": forward + t_pre + t_match, "forward_seconds": forward,
                        "prefilter_seconds": t_pre, "prefilter_subset_search_seconds": t_stage2,
                        "matching_seconds": t_match, "classes_kept": len(selected), "prototypes_kept": kept,
                        "matching_seconds_per_1k_prototypes": 1000 * t_match / kept}
        ctx.log(f"  {n} classes: {rows[str(n)]}")
    per = [r["matching_seconds_per_1k_prototypes"] for r in rows.values()]
    linear = all(p <= per[0] * 1.15 for p in per[1:])
    return {
        "figures": {"vocab_scaling": {k: r["seconds_per_image"] for k, r in rows.items()},
                    "vocab_scaling_linear": linear},
        "details": {"profile": ctx.profile, "sizes": rows, "stuff_fraction": 0.25,
                    "target": "matching time per kept prototype does not grow (<= +15 %)", "passes": linear},
    }
