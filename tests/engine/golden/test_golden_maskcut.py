"""Golden test: MaskCut's first mask (the stand-in for CutLER when detectron2 is absent), with the ``sdov``
profile's MaskCut settings.

Reference written from CutLER's maskcut/maskcut.py (vendored in karazijal/sdov as CutLER/maskcut/maskcut.py):
``get_affinity_matrix`` (cosine of L2-normalised patch features, binarised at tau, zeros -> 1e-5),
``second_smallest_eigenvector`` (``scipy.linalg.eigh(D - A, D, subset_by_index=[1, 2])``), ``get_salient_areas``
(split at the mean), ``check_num_fg_corners`` and ``maskcut_forward`` for i = 0 (reverse on >= 3 corners or a seed
outside; the seed is re-taken after the reversal), ``detect_box`` (``scipy.ndimage.label``, the seed's component).
The reference calls scipy's ``eigh`` and ``ndimage.label`` exactly as CutLER does: the generalised eigenvector's
sign decides the reversal branch, so a re-derived solver with another sign convention would not be the same rule.
It shares no code with engine/. Tolerance: exact (boolean masks).
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import torch
from golden_inputs import photo
from PIL import Image

from engine.masks.maskcut import maskcut
from engine.profile_sdov import sdov_config

SDOV = sdov_config().masks
TAU = 0.15  # maskcut.py --tau 0.15


def ref_first_mask(feats: np.ndarray, tau: float = TAU, eps: float = 1e-5) -> np.ndarray:
    d, h, w = feats.shape
    f = feats.reshape(d, h * w)
    f = f / np.maximum(np.linalg.norm(f, axis=0, keepdims=True), 1e-12)
    a = (f.T @ f) > tau
    a = np.where(a.astype(float) == 0, eps, a)
    dmat = np.diag(a.sum(1))
    _, vecs = scipy.linalg.eigh(dmat - a, dmat, subset_by_index=[1, 2])
    vec = vecs[:, 0]
    part = vec > vec.sum() / len(vec)
    seed = np.argmax(np.abs(vec))
    grid = part.reshape(h, w)
    corners = int(grid[0, 0]) + int(grid[0, -1]) + int(grid[-1, 0]) + int(grid[-1, -1])
    if corners >= 3 or part[seed] != 1:
        part, seed = ~part, np.argmax(-vec)
    else:
        seed = np.argmax(vec)
    objects, _ = scipy.ndimage.label(part.reshape(h, w).astype(float))
    return objects == objects[np.unravel_index(seed, (h, w))]


def _blob_features(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w, d = 14, 16, 24
    obj, back = rng.standard_normal(d), rng.standard_normal(d)
    y0, x0 = rng.integers(1, 7, 2)
    inside = np.zeros((h, w), bool)
    inside[y0 : y0 + int(rng.integers(3, 7)), x0 : x0 + int(rng.integers(3, 8))] = True
    feats = np.where(inside[..., None], obj, back) + 0.8 * rng.standard_normal((h, w, d))
    return feats.transpose(2, 0, 1).astype(np.float32)


@pytest.mark.parametrize("seed", range(12))
def test_first_mask_matches_cutler_on_random_features(seed):
    feats = _blob_features(seed)
    ours = maskcut(torch.from_numpy(feats), SDOV)
    assert ours and np.array_equal(ours[0], ref_first_mask(feats))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_first_mask_matches_cutler_on_photo_features(name):
    """Features of a real photo: each cell of a 16 x 16 grid is its 4 x 4 patch of pixels, centred on the image's
    mean patch (raw pixel patches all point one way: every cosine would pass tau)."""
    img = np.asarray(Image.fromarray(photo(name)).resize((64, 64), Image.Resampling.LANCZOS)) / 255.0
    cells = img.reshape(16, 4, 16, 4, 3).transpose(1, 3, 4, 0, 2).reshape(48, 16, 16)
    feats = (cells - cells.mean(axis=(1, 2), keepdims=True)).astype(np.float32)
    ours = maskcut(torch.from_numpy(feats), SDOV)
    ref = ref_first_mask(feats)
    assert ours and np.array_equal(ours[0], ref)
    assert 0 < ref.sum() < ref.size


def test_tiny_first_mask_is_kept_as_in_cutler():
    """sdov: the area rule applies from the second mask on (maskcut.py:136-138), so a first mask under 1 % stays."""
    rng = np.random.default_rng(0)
    h, w, d = 16, 16, 24
    obj, back = rng.standard_normal(d), rng.standard_normal(d)
    inside = np.zeros((h, w), bool)
    inside[5:7, 6:7] = True  # 2 of 256 patches
    feats = (np.where(inside[..., None], obj, back) + 0.05 * rng.standard_normal((h, w, d)))
    feats = feats.transpose(2, 0, 1).astype(np.float32)
    ref = ref_first_mask(feats)
    assert ref.sum() == 2
    kept = maskcut(torch.from_numpy(feats), SDOV)
    assert kept and np.array_equal(kept[0], ref)


def test_sdov_maskcut_settings_are_cutlers():
    """maskcut.py: --tau 0.15, --N 3, 480 px Lanczos; the area / IoU rule from the second mask on."""
    assert (SDOV.maskcut_tau, SDOV.maskcut_n, SDOV.maskcut_resize, SDOV.maskcut_resample) == (TAU, 3, 480, "lanczos")
    assert (SDOV.maskcut_iou_drop, SDOV.maskcut_min_area, SDOV.maskcut_area_rule_first) == (0.5, 0.01, False)
