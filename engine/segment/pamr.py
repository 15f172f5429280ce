"""PAMR: pixel-adaptive mask refinement (Araslanov & Roth, CVPR 2020), as TCL and OVDiff apply it.

Each pixel's score is repeatedly replaced by an affinity-weighted average of its 8 neighbours at several dilations.
The affinity of pixel p to neighbour q is softmax over all neighbours of ``-mean_channels(|I(p) - I(q)| /
(1e-8 + 0.1 * std(p)))``, where std(p) is the per-channel standard deviation of the image over p's neighbourhood
(all dilations' 3x3 samples together). So scores flow along similar colours and stop at image edges. Borders
replicate. OVDiff: 10 iterations, dilations (1, 2, 4, 8, 12, 24), applied to the averaged class-score maps at the
working (short side 448) resolution before upsampling and the argmax.

Memory stays O((C + 8 * len(dilations)) * H * W): shifted copies are consumed one at a time, never stacked.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _shift(padded: torch.Tensor, pad: int, dy: int, dx: int, h: int, w: int) -> torch.Tensor:
    """Values at (y + dy, x + dx) with coordinates clamped to the image (replicate padding)."""
    return padded[..., pad + dy : pad + dy + h, pad + dx : pad + dx + w]


def _offsets(dilations: Sequence[int]) -> list[tuple[int, int]]:
    return [(dy * d, dx * d) for d in dilations for dy, dx in _NEIGHBOURS]


@torch.no_grad()
def pamr_affinity(image: torch.Tensor, dilations: Sequence[int]) -> torch.Tensor:
    """Affinity weights (B, 8 * len(dilations), H, W), summing to 1 over dim 1, from a (B, K, H, W) image."""
    img = image.float()
    _, _, h, w = img.shape
    pad = max(dilations)
    padded = F.pad(img, [pad] * 4, mode="replicate")
    offsets = _offsets(dilations)
    # std over every dilation's 3x3 samples (the centre once per dilation), unbiased, per channel
    n = 9 * len(dilations)
    total = img * len(dilations)
    total_sq = img.square() * len(dilations)
    for dy, dx in offsets:
        s = _shift(padded, pad, dy, dx, h, w)
        total = total + s
        total_sq = total_sq + s.square()
    var = (total_sq - total.square() / n) / (n - 1)
    denom = 1e-8 + 0.1 * var.clamp_min(0).sqrt()
    logits = torch.stack(
        [(-(img - _shift(padded, pad, dy, dx, h, w)).abs() / denom).mean(dim=1) for dy, dx in offsets], dim=1
    )
    return torch.softmax(logits, dim=1)


@torch.no_grad()
def pamr(
    image: torch.Tensor,
    scores: torch.Tensor,
    iterations: int = 10,
    dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
) -> torch.Tensor:
    """Refine (B, C, h, w) score maps guided by a (B, K, H, W) image; returns (B, C, H, W).

    Scores are first resized to the image (bilinear, align_corners=True as the reference implementation).
    """
    _, _, h, w = image.shape
    out = scores.float()
    if out.shape[-2:] != (h, w):
        out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=True)
    if iterations <= 0 or not dilations:
        return out
    aff = pamr_affinity(image.to(out.device), dilations)
    pad = max(dilations)
    offsets = _offsets(dilations)
    for _ in range(iterations):
        padded = F.pad(out, [pad] * 4, mode="replicate")
        acc = torch.zeros_like(out)
        for k, (dy, dx) in enumerate(offsets):
            acc.addcmul_(_shift(padded, pad, dy, dx, h, w), aff[:, k : k + 1])
        out = acc
    return out
