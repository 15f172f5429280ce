"""Golden test: PAMR refinement of the score maps (the paper's "+PAMR" rows), with the ``sdov`` settings.

Reference written from karazijal/sdov (commit 218566b), shares no code with engine/ (torch only):
utils/pamr.py ``LocalAffinity._init_aff`` / ``forward`` (3x3 shift kernels, replicate padding, one dilated conv
per dilation), ``LocalAffinityCopy``, ``LocalStDev`` (std over the 9 taps of every dilation together),
``LocalAffinityAbs`` and ``PAMR.forward`` (mask bilinear with align_corners=True to the image, affinity
-|x_i - x_j| / (1e-8 + 0.1 std), mean over colour channels, softmax over the neighbours, ``num_iter`` propagations);
predict.py ``main`` (lines 460-466, 617-621): 10 iterations, dilations [1, 2, 4, 8, 12, 24], run on the 448-scale
image in 0..255 (the engine feeds 0..1: PAMR's affinity is scale-free up to its 1e-8).
Tolerance: 1e-4 absolute on scores in [-1, 1].
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from golden_inputs import photo
from PIL import Image

from engine.profile_sdov import sdov_config
from engine.segment.pamr import pamr

SDOV = sdov_config().segment
CODE_ITERS, CODE_DILATIONS = 10, [1, 2, 4, 8, 12, 24]  # predict.py:463-464
TOL = 1e-4

# (row, col) of the -1 / +1 tap of each of the 8 neighbour channels, in the code's order (utils/pamr.py:18-27)
_TAPS = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]


def _local(x: torch.Tensor, kind: str, dilations: list[int]) -> torch.Tensor:
    """LocalAffinity(.forward) family: per dilation d, replicate padding by d, then the 3x3 kernel with dilation d.
    The kernels only pick taps, so the conv is written as slices of the padded map (conv2d with dilation 24 is
    slow on a CPU): "std" = the 9 taps (LocalStDev), "diff" = centre - tap (LocalAffinity), "copy" = tap
    (LocalAffinityCopy), taps in the code's order."""
    b, k, h, w = x.shape
    taps = [(i // 3, i % 3) for i in range(9)] if kind == "std" else _TAPS
    out = []
    for d in dilations:
        p = F.pad(x.reshape(b * k, 1, h, w), [d] * 4, mode="replicate")
        centre = p[:, :, d : d + h, d : d + w]
        for y, xx in taps:
            tap = p[:, :, y * d : y * d + h, xx * d : xx * d + w]
            out.append(centre - tap if kind == "diff" else tap)
    return torch.cat(out, 1).view(b, k, -1, h, w)


def ref_pamr(image: torch.Tensor, mask: torch.Tensor, iters: int, dilations: list[int]) -> torch.Tensor:
    mask = F.interpolate(mask, size=image.shape[-2:], mode="bilinear", align_corners=True)
    std = _local(image, "std", dilations).std(2, keepdim=True)
    aff = -torch.abs(_local(image, "diff", dilations)) / (1e-8 + 0.1 * std)
    aff = F.softmax(aff.mean(1, keepdim=True), 2)
    for _ in range(iters):
        mask = (_local(mask, "copy", dilations) * aff).sum(2)
    return mask


def engine_pamr(image_255: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """The engine as the segmenter calls it: the image in 0..1, sdov's iterations and dilations."""
    return pamr(image_255 / 255.0, scores, SDOV.pamr_iterations, SDOV.pamr_dilations)


@pytest.mark.parametrize("seed", range(3))
def test_pamr_matches_the_code_on_random_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, 30, 34, generator=g) * 255
    scores = torch.rand(1, 4, 30, 34, generator=g) * 2 - 1
    assert (engine_pamr(image, scores) - ref_pamr(image, scores, CODE_ITERS, CODE_DILATIONS)).abs().max() < TOL


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_pamr_matches_the_code_on_photos(name):
    """A photo at 1/8 of the 448 scale, score maps made from its colour channels plus seeded noise."""
    full = photo(name)
    img = np.asarray(Image.fromarray(full).resize((56 * full.shape[1] // full.shape[0], 56), Image.Resampling.LANCZOS))
    image = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float()
    g = torch.Generator().manual_seed(0)
    scores = torch.cat([image / 255 - 0.5, torch.rand(1, 1, *image.shape[-2:], generator=g) - 0.5], 1)
    ours = engine_pamr(image, scores)
    ref = ref_pamr(image, scores, CODE_ITERS, CODE_DILATIONS)
    assert (ours - ref).abs().max() < TOL
    assert (ref - scores).abs().max() > 0.05  # the refinement did move the scores


def test_sdov_pamr_settings_are_the_codes():
    assert SDOV.pamr_iterations == CODE_ITERS and list(SDOV.pamr_dilations) == CODE_DILATIONS
