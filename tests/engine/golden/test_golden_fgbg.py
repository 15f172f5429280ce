"""Golden test: the fg/bg split of a support image (attribution thresholds and instance masks), ``sdov`` profile.

Reference written from karazijal/sdov (commit 218566b), shares no code with engine/ (numpy only):
- utils/cutler.py ``CUTLER_Processor.forward`` (lines 74-84): the background mask (1 - union of the instance
  masks) is put in front of the instance masks;
- sample_support_set.py ``main`` (lines 227-266): with fewer than 2 masks (no instance), fg = attribution > 0.5,
  bg = attribution < 0.2, no erosion; otherwise each mask's weight is its mean attribution, masks are sorted by
  descending weight, every pixel goes to the argmax of mask * weight, fg = pixels won by the top mask,
  bg = pixels won by the last winning rank AND attribution < 0.2, then skimage ``binary_erosion`` with its
  defaults (cross-shaped 3x3 footprint, pixels outside the image count as set).
Tolerance: exact (boolean masks).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from golden_inputs import coins, photo

from engine.config import OVDiffConfig
from engine.masks.fgbg import select_fg_bg
from engine.profile_sdov import sdov_config

SDOV = sdov_config().masks


def ref_erode(mask: np.ndarray) -> np.ndarray:
    """skimage.morphology.binary_erosion(mask): cross footprint, border_value=True."""
    p = np.pad(mask, 1, constant_values=True)
    return p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]


def ref_fg_bg(daam: np.ndarray, instances: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    masks = np.stack(instances).astype(np.float64) if instances else np.zeros((0, *daam.shape))
    r = np.concatenate([1 - masks.any(0, keepdims=True), masks]) if len(masks) else np.ones((1, *daam.shape))
    if r.shape[0] < 2:
        return daam > 0.5, daam < 0.2
    weights = (r * daam / r.sum((-1, -2), keepdims=True)).sum((-1, -2))
    order = np.argsort(-weights)
    weights, r = weights[order], r[order]
    won = (r * weights[:, None, None]).argmax(0)
    fg = won == 0
    bg = (won == won.max()) & (daam < 0.2)
    return fg, ref_erode(bg)


def _rects(rng: np.random.Generator, n: int, size: int) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        m = np.zeros((size, size), bool)
        y, x = rng.integers(0, size - 8, 2)
        h, w = rng.integers(6, size // 2, 2)
        m[y : y + h, x : x + w] = True
        out.append(m)
    return out


@pytest.mark.parametrize("seed", range(30))
def test_fg_bg_matches_the_code_on_random_maps(seed):
    """Attribution strictly positive, so every mask has a positive weight (zero weights: the tests below)."""
    rng = np.random.default_rng(seed)
    size = 48
    daam = rng.uniform(0.01, 1.0, (size, size)).astype(np.float32)
    instances = _rects(rng, int(rng.integers(0, 5)), size)
    fg, bg = select_fg_bg(daam, instances, SDOV)
    ref_fg, ref_bg = ref_fg_bg(daam.astype(np.float64), instances)
    assert np.array_equal(fg, ref_fg) and np.array_equal(bg, ref_bg)


def _photo_case(img: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Attribution: the photo's luminance, min-max normalised like a DAAM map; instance masks: three overlapping
    luminance bands (irregular real-image regions, as a detector's masks would be)."""
    lum = img.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) if img.ndim == 3 else img.astype(np.float64)
    daam = ((lum - lum.min()) / (lum.max() - lum.min())).astype(np.float32)
    bands = [(0.25, 0.5), (0.45, 0.7), (0.65, 0.85)]
    return daam, [(daam > lo) & (daam < hi) for lo, hi in bands]


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coins"])
def test_fg_bg_matches_the_code_on_photos(name):
    img = coins() if name == "coins" else photo(name)
    daam, instances = _photo_case(img)
    for masks in (instances, instances[:1], []):  # three masks, one mask, none (the threshold fallback)
        fg, bg = select_fg_bg(daam, masks, SDOV)
        ref_fg, ref_bg = ref_fg_bg(daam.astype(np.float64), masks)
        assert np.array_equal(fg, ref_fg) and np.array_equal(bg, ref_bg)
        assert fg.any()


def _zero_weight_case() -> tuple[np.ndarray, list[np.ndarray]]:
    daam = np.zeros((16, 16), np.float32)
    daam[:4, :4] = 1.0
    a = np.zeros((16, 16), bool)
    a[:6, :6] = True  # the salient mask
    b = np.zeros((16, 16), bool)
    b[10:, 10:] = True  # zero attribution: weight 0, as the background mask
    return daam, [a, b]


def test_zero_weight_masks_follow_the_code():
    """``masks.zero_score_pixels="top"`` (sdov): b's pixels go to rank 0 (the salient mask) as in the code."""
    daam, masks = _zero_weight_case()
    fg, bg = select_fg_bg(daam, masks, SDOV)
    ref_fg, ref_bg = ref_fg_bg(daam.astype(np.float64), masks)
    assert np.array_equal(fg, ref_fg) and np.array_equal(bg, ref_bg)
    assert fg[12, 12]


@pytest.mark.parametrize("seed", range(10))
def test_zero_weight_masks_follow_the_code_on_random_maps(seed):
    """Attribution zero on a random part of the image, so some masks have zero weight."""
    rng = np.random.default_rng(100 + seed)
    size = 48
    daam = rng.uniform(0.01, 1.0, (size, size)).astype(np.float32)
    daam[:, rng.integers(8, size - 8):] = 0.0
    instances = _rects(rng, int(rng.integers(1, 5)), size)
    fg, bg = select_fg_bg(daam, instances, SDOV)
    ref_fg, ref_bg = ref_fg_bg(daam.astype(np.float64), instances)
    assert np.array_equal(fg, ref_fg) and np.array_equal(bg, ref_bg)


def test_paper_keeps_zero_weight_pixels_with_their_mask():
    """The paper profile (``"covering"``): b's pixels stay with b, so they are not foreground."""
    daam, masks = _zero_weight_case()
    paper = OVDiffConfig().masks
    assert paper.zero_score_pixels == "covering"
    fg, _ = select_fg_bg(daam, masks, dataclasses.replace(SDOV, zero_score_pixels=paper.zero_score_pixels))
    assert not fg[12, 12] and not np.array_equal(fg, ref_fg_bg(daam.astype(np.float64), masks)[0])


def test_sdov_thresholds_are_the_codes():
    """The constants of sample_support_set.py:231-258 as the sdov profile states them."""
    assert (SDOV.fg_threshold, SDOV.bg_threshold, SDOV.bg_erosion_iterations) == (0.5, 0.2, 1)
    assert SDOV.use_instance_masks
