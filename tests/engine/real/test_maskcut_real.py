"""MaskCut on real DINOv2-S features (saliency fine-tune of DINOv2-S, not Meta's checkpoint) finds the main object
of real photos bundled with scikit-image, against outlines drawn by hand (tests/data/real_photos.json).

Floors sit a few points under the IoU measured with the dinov2-small profile's MaskCut settings (block 10, centred
keys, tau 0.3; docs/REAL_WEIGHTS.md); the outlines are rough, so a perfect cut does not reach 1.0.
"""
from __future__ import annotations

import dataclasses

import pytest

from tests.engine.real.photos import load_photos, mask_iou
from engine.masks.maskcut import propose_masks_maskcut
from engine.models import ModelRegistry
from engine.profiles import default_config

# photo -> IoU floor of MaskCut's first (most salient) mask; measured values in docs/REAL_WEIGHTS.md
FLOORS = {"coffee": 0.80, "camera": 0.70, "retina": 0.90, "clock": 0.60, "astronaut": 0.55, "chelsea": 0.25}
PHOTOS = {p.name: p for p in load_photos()}


@pytest.fixture(scope="module")
def registry(dinov2_dir):
    return ModelRegistry("dinov2-small", sources={"dino": str(dinov2_dir)})


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_maskcut_finds_the_main_object(registry, name):
    cfg = default_config("dinov2-small")
    photo = PHOTOS[name]
    masks = propose_masks_maskcut(photo.image, registry.maskcut_extractor(cfg.masks, cfg.features), cfg.masks)
    assert masks, f"MaskCut found nothing in {name}"
    iou = mask_iou(masks[0], photo.mask)
    assert iou >= FLOORS[name], f"{name}: IoU {iou:.3f} < {FLOORS[name]}"


def test_maskcut_layer_is_its_own_setting(registry):
    """MaskCut's block defaults to the feature extractor's and can differ from it."""
    cfg = default_config("dinov2-small")
    assert cfg.masks.maskcut_layer != cfg.features.dino_layer
    own = registry.maskcut_extractor(cfg.masks, cfg.features)
    inherited = registry.maskcut_extractor(dataclasses.replace(cfg.masks, maskcut_layer=None), cfg.features)
    assert own is not inherited and registry.dino() is registry._get("maskcut")  # one backbone, loaded once
