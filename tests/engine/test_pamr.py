"""PAMR smooths score maps within image regions and stops at image edges."""
from __future__ import annotations

import torch

from engine.segment.pamr import pamr, pamr_affinity


def _two_tone(h: int = 32, w: int = 32) -> torch.Tensor:
    img = torch.zeros(1, 3, h, w)
    img[:, :, :, w // 2 :] = 1.0
    return img


def test_affinity_is_a_distribution_over_neighbours():
    aff = pamr_affinity(torch.rand(2, 3, 20, 24), (1, 2, 4))
    assert aff.shape == (2, 24, 20, 24)
    torch.testing.assert_close(aff.sum(1), torch.ones(2, 20, 24))
    assert (aff >= 0).all()


def test_constant_maps_stay_constant_and_size_follows_the_image():
    out = pamr(torch.rand(1, 3, 16, 16), torch.full((1, 2, 4, 4), 0.3), 10, (1, 2))
    assert out.shape == (1, 2, 16, 16)
    torch.testing.assert_close(out, torch.full_like(out, 0.3))


def test_noise_is_smoothed_along_regions_but_not_across_the_edge():
    img = _two_tone()
    truth = torch.zeros(1, 1, 32, 32)
    truth[..., :16] = 1.0  # the class covers the dark left half
    noisy = truth + 0.3 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))
    out = pamr(img, noisy, 10, (1, 2, 4, 8, 12, 24))
    assert (out - truth).abs().mean() < 0.3 * (noisy - truth).abs().mean()
    # the edge stays sharp: columns right next to it keep their side's value
    assert out[..., 15].mean() > 0.8 and out[..., 16].mean() < 0.2
    # an edge-blind smoother (plain average of the same neighbours) would blur it
    blind = pamr(torch.zeros_like(img), noisy, 10, (1, 2, 4, 8, 12, 24))
    assert blind[..., 15].mean() < 0.8 and blind[..., 16].mean() > 0.2
