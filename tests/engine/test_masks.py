"""MaskCut on planted feature maps, fg/bg selection rules, apply_masks rules."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import MaskConfig
from engine.errors import BadInputError, MissingDependencyError
from engine.masks import apply_masks, build_proposer, erode, maskcut, propose_masks_maskcut, select_fg_bg
from engine.masks.cutler import CutlerProposer, is_detectron2_available
from engine.types import SupportImage, SupportSet


def planted(h: int, w: int, regions: list[tuple[slice, slice]], dim: int = 16, seed: int = 0) -> torch.Tensor:
    """(dim, h, w) map: background vector everywhere, one orthogonal vector per region, small noise."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.eye(dim)
    f = basis[0].view(dim, 1, 1).repeat(1, h, w)
    for i, (ys, xs) in enumerate(regions):
        f[:, ys, xs] = basis[i + 1].view(dim, 1, 1)
    return f + 0.05 * torch.randn(dim, h, w, generator=g)


def test_maskcut_separates_planted_region():
    f = planted(16, 16, [(slice(4, 11), slice(3, 10))])
    masks = maskcut(f, MaskConfig())
    assert masks, "no mask found"
    expected = np.zeros((16, 16), bool)
    expected[4:11, 3:10] = True
    assert np.array_equal(masks[0], expected)


def test_maskcut_finds_two_objects_without_overlap():
    f = planted(20, 20, [(slice(2, 8), slice(2, 8)), (slice(11, 18), slice(10, 18))])
    masks = maskcut(f, MaskConfig(maskcut_n=3))
    a = np.zeros((20, 20), bool)
    a[2:8, 2:8] = True
    b = np.zeros((20, 20), bool)
    b[11:18, 10:18] = True
    found = [m for m in masks if np.array_equal(m, a) or np.array_equal(m, b)]
    assert len(found) == 2
    assert not (masks[0] & masks[1]).any()


def test_maskcut_drops_tiny_second_mask():
    f = planted(20, 20, [(slice(2, 10), slice(2, 10)), (slice(15, 16), slice(15, 16))])
    masks = maskcut(f, MaskConfig(maskcut_n=3, maskcut_min_area=0.01))  # 1 cell = 0.25% of the grid
    assert all(m.sum() > 4 for m in masks)
    assert any(m[2:10, 2:10].all() and m.sum() == 64 for m in masks)  # the real object is still found


def test_propose_masks_maskcut_upsamples_to_image():
    def extractor(x: torch.Tensor) -> torch.Tensor:
        assert x.shape == (1, 3, 64, 64) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        return planted(8, 8, [(slice(2, 6), slice(2, 6))]).unsqueeze(0)

    img = np.zeros((40, 80, 3), np.uint8)
    masks = propose_masks_maskcut(img, extractor, MaskConfig(maskcut_resize=64))
    assert masks and masks[0].shape == (40, 80) and masks[0].dtype == bool
    assert masks[0][20, 40] and not masks[0][0, 0]
    assert masks[0].sum() == 20 * 40  # 4/8 of each side


def test_select_fg_bg_scores_masks_by_attribution():
    h = w = 20
    attr = np.full((h, w), 0.05, np.float32)
    obj = np.zeros((h, w), bool)
    obj[5:15, 5:15] = True
    other = np.zeros((h, w), bool)
    other[0:4, 0:4] = True
    attr[obj] = 0.9
    attr[other] = 0.3
    cfg = MaskConfig(bg_erosion_iterations=1)
    fg, bg = select_fg_bg(attr, [other, obj], cfg)
    assert np.array_equal(fg, obj)
    # lowest-scoring mask is the implicit background mask; eroded (cross) away from the other regions
    region = ~(obj | other)
    assert np.array_equal(bg, erode(region, 1))
    assert bg[19, 19] and not bg[4, 6]  # border kept (skimage rule), pixel next to the object eroded


def test_select_fg_bg_overlap_goes_to_higher_score_and_bg_threshold():
    attr = np.zeros((10, 10), np.float32)
    a = np.zeros((10, 10), bool)
    a[:, :6] = True
    b = np.zeros((10, 10), bool)
    b[:, 4:] = True
    attr[:, :5] = 0.8
    attr[:, 5:] = 0.1
    attr[:, 9] = 0.5  # above bg_threshold: never bg
    fg, bg = select_fg_bg(attr, [a, b], MaskConfig(bg_erosion_iterations=0))
    assert np.array_equal(fg, a)  # overlap columns 4-5 belong to a (higher score)
    expected_bg = np.zeros((10, 10), bool)
    expected_bg[:, 6:9] = True
    assert np.array_equal(bg, expected_bg)


def test_select_fg_bg_fallback_without_instances_and_when_switched_off():
    attr = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    cfg = MaskConfig(fg_threshold=0.5, bg_threshold=0.2, bg_erosion_iterations=3)
    fg, bg = select_fg_bg(attr, [], cfg)
    assert np.array_equal(fg, attr > 0.5) and np.array_equal(bg, attr < 0.2)  # no erosion in the fallback
    inst = np.zeros((10, 10), bool)
    inst[:2] = True
    fg2, bg2 = select_fg_bg(attr, [inst], MaskConfig(use_instance_masks=False))
    assert np.array_equal(fg2, attr > 0.5) and np.array_equal(bg2, attr < 0.2)


def test_select_fg_bg_rejects_mismatched_mask():
    with pytest.raises(BadInputError, match="instance mask 0"):
        select_fg_bg(np.zeros((8, 8), np.float32), [np.ones((4, 4), bool)], MaskConfig())


def test_erosion_shrinks_by_iterations():
    m = np.zeros((12, 12), bool)
    m[2:10, 2:10] = True
    assert erode(m, 1).sum() == 36 and erode(m, 2).sum() == 16 and erode(m, 0).sum() == 64


def _support(images: list[SupportImage]) -> SupportSet:
    return SupportSet(class_name="cat", prompt="cat", source="generated", images=images)


def test_apply_masks_rules():
    img = np.zeros((10, 10, 3), np.uint8)
    attr = np.zeros((10, 10), np.float32)
    attr[3:7, 3:7] = 1.0
    square = attr > 0.5
    calls = []

    def propose(image: np.ndarray) -> list[np.ndarray]:
        calls.append(1)
        return [square.copy()]

    given_fg = np.zeros((10, 10), bool)
    given_fg[0, 0] = True
    s = _support(
        [
            SupportImage(0, img, attr),  # generated: attribution + proposer
            SupportImage(1, img, None, fg_mask=given_fg),  # user mask kept, bg = eroded complement
            SupportImage(2, img, None),  # user image, no mask: proposer's first mask
        ]
    )
    out = apply_masks(s, propose, MaskConfig())
    assert s.images[0].fg_mask is None  # input untouched
    a, b, c = out.images
    assert np.array_equal(a.fg_mask, square) and a.instance_masks and len(calls) == 2
    assert np.array_equal(b.fg_mask, given_fg) and not b.bg_mask[0, 1] and b.bg_mask[5, 5]
    assert np.array_equal(c.fg_mask, square) and c.bg_mask[0, 0] and not c.bg_mask[2, 4]
    none = apply_masks(_support([SupportImage(0, img, None)]), None, MaskConfig()).images[0]
    assert none.fg_mask.all() and not none.bg_mask.any()
    off = apply_masks(_support([SupportImage(0, img, attr)]), propose, MaskConfig(proposer="attribution"))
    assert len(calls) == 2 and np.array_equal(off.images[0].fg_mask, square)


def test_build_proposer_choices():
    assert build_proposer(MaskConfig(proposer="attribution")) is None
    assert build_proposer(MaskConfig(use_instance_masks=False)) is None
    with pytest.raises(BadInputError, match="masks.proposer"):
        build_proposer(MaskConfig(proposer="maskcut"))
    assert callable(build_proposer(MaskConfig(proposer="maskcut"), dino_extractor=lambda x: x))


@pytest.mark.skipif(is_detectron2_available(), reason="detectron2 installed")
def test_cutler_without_detectron2_says_how_to_install():
    with pytest.raises(MissingDependencyError, match="detectron2.git"):
        CutlerProposer(MaskConfig(proposer="cutler"))
    with pytest.raises(MissingDependencyError):
        build_proposer(MaskConfig(proposer="cutler"))


def test_user_fg_rule_border_skips_a_mask_holding_the_border():
    from engine.masks.fgbg import border_fraction, user_fg_bg

    h = w = 20
    obj = np.zeros((h, w), bool)
    obj[6:14, 6:14] = True
    surround = ~obj  # MaskCut's first mask took the background of a tight crop
    part = np.zeros((h, w), bool)
    part[6:9, 6:9] = True
    assert border_fraction(surround) == 1.0 and border_fraction(obj) == 0.0
    first_fg, _ = user_fg_bg([surround, part], MaskConfig())
    assert (first_fg == surround).all()  # the paper's rule keeps the first mask
    cfg = MaskConfig(user_fg_rule="border", user_fg_max_border=0.5)
    fg, bg = user_fg_bg([surround, part], cfg)
    assert (fg == obj).all()  # the cut's other side comes before the later masks
    assert bg[0, 0] and not bg[10, 10]
    fg, _ = user_fg_bg([surround, surround & ~part], cfg)  # nothing under the share: the least border wins
    assert (fg == obj).all()
    fg, _ = user_fg_bg([obj, surround], cfg)
    assert (fg == obj).all()
    fg, _ = user_fg_bg([surround, part], cfg, stuff=True)  # stuff (sky, grass) may be the surround: first rule
    assert (fg == surround).all()
