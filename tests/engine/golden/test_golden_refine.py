"""Golden tests of PAMR (karazijal/sdov utils/pamr.py) and MaskCut's first mask (CutLER maskcut/maskcut.py)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import torch
import torch.nn.functional as F

from engine.config import MaskConfig
from engine.masks.maskcut import maskcut
from engine.segment.pamr import pamr

_NEIGHBOURS = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]


def _kernel(centre: float, neighbour: float, with_centre_tap: bool = False) -> torch.Tensor:
    """utils/pamr.py:18-38, 58-74, 78-95: 3x3 kernels, one output channel per neighbour (and the centre)."""
    taps = _NEIGHBOURS[:4] + ([(1, 1)] if with_centre_tap else []) + _NEIGHBOURS[4:]
    k = torch.zeros(len(taps), 1, 3, 3)
    for i, (y, x) in enumerate(taps):
        k[i, 0, 1, 1] += centre
        k[i, 0, y, x] += neighbour
    return k


def _local(x: torch.Tensor, kernel: torch.Tensor, dilations: list[int]) -> torch.Tensor:
    """LocalAffinity.forward (utils/pamr.py:40-54): replicate padding, dilated conv per dilation."""
    b, k, h, w = x.shape
    x = x.reshape(b * k, 1, h, w)
    out = [F.conv2d(F.pad(x, [d] * 4, mode="replicate"), kernel, dilation=d) for d in dilations]
    return torch.cat(out, 1).view(b, k, -1, h, w)


def ref_pamr(image: torch.Tensor, mask: torch.Tensor, iters: int, dilations: list[int]) -> torch.Tensor:
    """PAMR.forward (utils/pamr.py:127-146), with LocalStDev / LocalAffinityAbs (:97-110)."""
    mask = F.interpolate(mask, size=image.shape[-2:], mode="bilinear", align_corners=True)
    std = _local(image, _kernel(0, 1, with_centre_tap=True), dilations).std(2, keepdim=True)
    aff = -torch.abs(_local(image, _kernel(1, -1), dilations)) / (1e-8 + 0.1 * std)
    aff = F.softmax(aff.mean(1, keepdim=True), 2)
    for _ in range(iters):
        mask = (_local(mask, _kernel(0, 1), dilations) * aff).sum(2)
    return mask


@pytest.mark.parametrize("seed", range(3))
def test_pamr_matches_the_code(seed):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, 30, 34, generator=g) * 255
    scores = torch.rand(1, 4, 15, 17, generator=g) * 2 - 1
    dil = [1, 2, 4, 8, 12, 24]  # predict.py:464
    assert torch.allclose(pamr(image, scores, 10, dil), ref_pamr(image, scores, 10, dil), atol=1e-5)


def ref_maskcut_first(feats: torch.Tensor, tau: float, eps: float = 1e-5) -> np.ndarray:
    """maskcut.py:40-69 and 95-131 (i = 0): binarised cosine affinity, second-smallest generalised eigenvector,
    split at its mean, reverse on >= 3 corners or a seed outside, seed's connected component (detect_box,
    TokenCut object_discovery.py:71-77)."""
    d, h, w = feats.shape
    f = F.normalize(feats.reshape(d, h * w), p=2, dim=0)
    a = (f.T @ f).numpy() > tau
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


@pytest.mark.parametrize("seed", range(15))
def test_maskcut_first_mask_matches_cutler(seed):
    """An object blob on a background, both noisy. Difference on purpose (``paper`` default): a first mask at or
    under ``maskcut_min_area`` is dropped here; CutLER applies the area rule from the second mask on (``sdov``)."""
    rng = np.random.default_rng(seed)
    h, w, d = 14, 16, 24
    obj, back = rng.standard_normal(d), rng.standard_normal(d)
    y0, x0 = rng.integers(1, 7, 2)
    inside = np.zeros((h, w), bool)
    inside[y0 : y0 + int(rng.integers(3, 7)), x0 : x0 + int(rng.integers(3, 8))] = True
    feats = np.where(inside[..., None], obj, back) + 0.8 * rng.standard_normal((h, w, d))
    feats = torch.from_numpy(feats.transpose(2, 0, 1).astype(np.float32))
    cfg = MaskConfig()
    ref = ref_maskcut_first(feats, cfg.maskcut_tau)
    ours = maskcut(feats, cfg)
    assert ours and np.array_equal(ours[0], ref)


def test_tiny_first_mask_is_kept_with_cutlers_area_rule():
    """With ``maskcut_area_rule_first=False`` (sdov) a first mask under ``maskcut_min_area`` survives, as in CutLER
    (maskcut.py:136-138 applies the rule only for i >= 1); the default drops it."""
    rng = np.random.default_rng(0)
    h, w, d = 16, 16, 24
    obj, back = rng.standard_normal(d), rng.standard_normal(d)
    inside = np.zeros((h, w), bool)
    inside[5:7, 6:7] = True  # 2 of 256 patches: under 1 %
    feats = np.where(inside[..., None], obj, back) + 0.05 * rng.standard_normal((h, w, d))
    feats = torch.from_numpy(feats.transpose(2, 0, 1).astype(np.float32))
    ref = ref_maskcut_first(feats, 0.15)
    assert ref.sum() == 2
    kept = maskcut(feats, MaskConfig(maskcut_area_rule_first=False, maskcut_n=1))
    assert kept and np.array_equal(kept[0], ref)
    assert maskcut(feats, MaskConfig(maskcut_n=1)) == []
