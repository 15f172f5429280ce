"""MaskCut (Wang et al., CutLER 2023): training-free instance masks from DINO key features by Normalized Cut.

Pure torch + scipy, no detectron2. Steps per round (docs/METHOD.md#maskcut): cosine affinity of the patch features,
binarised at ``tau`` (zeros become 1e-5 so the graph stays connected), the second-smallest generalised
eigenvector of (D - A) x = lambda D x split at its mean; the side to keep is the one NOT covering >= 3 corners,
otherwise the side holding the eigenvector's largest-magnitude entry (the seed); only the seed's connected
component is kept. Claimed patches have their features zeroed for the next round.

Differences from the reference implementation, on purpose:
- masks are returned with patches claimed by earlier masks removed (the reference subtracts them too);
- a round's mask is dropped (IoU > ``maskcut_iou_drop`` with the previous one, or area <= ``maskcut_min_area``,
  by default also in the first round; ``maskcut_area_rule_first=False`` keeps a tiny first mask as the reference
  does) but its patches are still claimed, so the next round looks elsewhere instead of repeating the same cut;
- the image is resized to ``maskcut_resize`` bilinearly by default (the reference: Lanczos, ``maskcut_resample``);
- no DenseCRF post-processing (optional in the paper);
- ``maskcut_center`` (off by default) subtracts the mean feature before the cosine affinity: DINOv2 key features
  share a large common component, so without it every affinity exceeds ``tau`` and no cut is found.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.linalg
import scipy.ndimage
import scipy.sparse.linalg
import torch
import torch.nn.functional as F
from PIL import Image

from engine.config import MaskConfig
from engine.errors import BadInputError

_EPS = 1e-5


def _second_eigvec(feats: torch.Tensor, tau: float) -> np.ndarray:
    """Second-smallest generalised eigenvector of (D - A) x = lambda D x for the binarised cosine affinity.

    Solved in the equivalent symmetric form: x = D^-1/2 y with y the eigenvector of the second-LARGEST
    eigenvalue of D^-1/2 A D^-1/2. Lanczos (ARPACK, fixed start vector) needs only matrix-vector products:
    ~1 s for a 60x60 grid where a dense generalised solver takes ~25 s. Small graphs are solved densely.
    """
    a = (feats @ feats.t()).double().numpy()
    a = np.where(a > tau, 1.0, _EPS)
    d = a.sum(1)
    inv_sqrt = 1.0 / np.sqrt(d)
    m = a * inv_sqrt[:, None] * inv_sqrt[None, :]
    n = m.shape[0]
    if n > 256:
        v0 = np.random.default_rng(0).standard_normal(n)
        try:
            vals, vecs = scipy.sparse.linalg.eigsh(m, k=2, which="LA", v0=v0, tol=1e-8)
            return vecs[:, int(np.argmin(vals))] * inv_sqrt
        except scipy.sparse.linalg.ArpackNoConvergence:
            pass
    _, vecs = scipy.linalg.eigh(m, subset_by_index=[n - 2, n - 2])
    return vecs[:, 0] * inv_sqrt


def _num_fg_corners(part: np.ndarray) -> int:
    return int(part[0, 0]) + int(part[0, -1]) + int(part[-1, 0]) + int(part[-1, -1])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def maskcut(features: torch.Tensor, cfg: MaskConfig) -> list[np.ndarray]:
    """Up to ``cfg.maskcut_n`` non-overlapping bool (h, w) masks from key features (D, h, w), most salient first."""
    if features.ndim != 3:
        raise BadInputError(f"expected features (D, h, w), got shape {tuple(features.shape)}", "features")
    dim, h, w = features.shape
    flat = features.detach().float().cpu().reshape(dim, h * w).t()
    if cfg.maskcut_center:  # cosine of the deviations from the image's mean feature
        flat = flat - flat.mean(dim=0, keepdim=True)
    feats = F.normalize(flat, dim=1)
    claimed = np.zeros((h, w), dtype=bool)
    masks: list[np.ndarray] = []
    previous: np.ndarray | None = None
    for _ in range(cfg.maskcut_n):
        if claimed.all():
            break
        live = torch.from_numpy(~claimed.reshape(-1)).to(feats.dtype).unsqueeze(1)
        vec = _second_eigvec(feats * live, cfg.maskcut_tau)
        part = (vec > vec.mean()).reshape(h, w)
        seed = int(np.argmax(np.abs(vec)))
        if _num_fg_corners(part) >= 3 or not part.reshape(-1)[seed]:
            part = ~part
            vec = -vec
            seed = int(np.argmax(vec))
        else:
            seed = int(np.argmax(vec))
        labels, _ = scipy.ndimage.label(part)
        sy, sx = divmod(seed, w)
        if labels[sy, sx] == 0:  # seed fell outside the kept side (ties); no object this round
            break
        mask = labels == labels[sy, sx]
        tiny = mask.sum() / mask.size <= cfg.maskcut_min_area and (cfg.maskcut_area_rule_first or previous is not None)
        dropped = tiny or (previous is not None and _iou(previous, mask) > cfg.maskcut_iou_drop)
        previous = mask
        new = mask & ~claimed
        claimed |= mask
        if new.any() and not dropped:
            masks.append(new)
    return masks


def propose_masks_maskcut(
    image: np.ndarray, dino_extractor: Callable[[torch.Tensor], torch.Tensor], cfg: MaskConfig
) -> list[np.ndarray]:
    """MaskCut on an RGB uint8 (H, W, 3) image: resize to ``maskcut_resize`` square, extract DINO key features
    with ``dino_extractor`` ((1, 3, R, R) in [0, 1] -> (1, D, h, w)), cut, and upsample masks (nearest) to (H, W)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise BadInputError(f"expected uint8 (H, W, 3), got {image.dtype} {image.shape}", "image")
    hh, ww = image.shape[:2]
    r = cfg.maskcut_resize
    resample = Image.LANCZOS if cfg.maskcut_resample == "lanczos" else Image.BILINEAR
    small = np.asarray(Image.fromarray(image).resize((r, r), resample), dtype=np.float32) / 255.0
    x = torch.from_numpy(small).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        feats = dino_extractor(x)
    out = []
    for m in maskcut(feats[0], cfg):
        up = F.interpolate(torch.from_numpy(m)[None, None].float(), size=(hh, ww), mode="nearest")[0, 0]
        out.append(up.numpy() > 0.5)
    return out
