"""Sliding windows (mmseg slide grid), batching and coverage averaging."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.config import SegmentConfig
from engine.segment.windows import (
    CoverageAccumulator,
    Window,
    bilinear_matrix,
    bilinear_taps,
    crop_batch,
    nearest_index,
    resize_short_side,
    short_side_shape,
    window_batches,
    window_boxes,
)


def test_paper_windows_on_a_voc_sized_image():
    cfg = SegmentConfig()
    h, w = short_side_shape(375, 500, cfg.short_side)
    assert (h, w) == (448, 597)
    boxes = window_boxes(h, w, cfg)
    big = [(b.y0, b.x0, b.y1, b.x1) for b in boxes if b.size == 448]
    assert big == [(0, 0, 448, 448), (0, 149, 448, 597)]  # last window flush with the right border
    small = [(b.y0, b.x0, b.y1, b.x1) for b in boxes if b.size == 336]
    assert small == [(0, 0, 336, 336), (0, 224, 336, 560), (0, 261, 336, 597),
                     (112, 0, 448, 336), (112, 224, 448, 560), (112, 261, 448, 597)]
    assert boxes[-1] == Window(0, 0, 448, 597, None)
    assert len(boxes) == 9


def test_every_pixel_is_covered_and_windows_stay_inside():
    cfg = SegmentConfig(window_sizes=(448, 336), window_stride=224)
    for h, w in [(448, 448), (448, 1000), (900, 448), (200, 300)]:
        counts = np.zeros((h, w), int)
        for b in window_boxes(h, w, cfg):
            assert 0 <= b.y0 < b.y1 <= h and 0 <= b.x0 < b.x1 <= w
            if b.size is not None:
                assert b.shape == (min(b.size, h), min(b.size, w))
            counts[b.y0 : b.y1, b.x0 : b.x1] += 1
        assert counts.min() >= 2  # at least one sliding window + the whole image


def test_switches_whole_image_only_and_no_whole_image():
    only = window_boxes(448, 600, SegmentConfig(sliding_window=False))
    assert only == [Window(0, 0, 448, 600, None)]
    no_whole = window_boxes(448, 600, SegmentConfig(include_whole_image=False))
    assert all(b.size is not None for b in no_whole) and len(no_whole) == 8


def test_batches_hold_one_shape_and_respect_the_batch_size():
    boxes = window_boxes(448, 597, SegmentConfig())
    batches = list(window_batches(boxes, 4))
    assert sum(len(b) for b in batches) == len(boxes)
    assert all(len(b) <= 4 and len({w.shape for w in b}) == 1 for b in batches)
    assert [len(b) for b in batches] == [2, 4, 2, 1]


def test_crop_batch_squashes_to_input_size():
    img = torch.rand(3, 50, 70)
    wins = [Window(0, 0, 30, 30, 30), Window(20, 40, 50, 70, 30)]
    crops = crop_batch(img, wins)
    assert crops.shape == (2, 3, 30, 30)
    torch.testing.assert_close(crops[1], img[:, 20:50, 40:70])
    assert crop_batch(img, wins, input_size=16).shape == (2, 3, 16, 16)


def test_coverage_average_of_overlapping_windows():
    acc = CoverageAccumulator(1, 4, 6)
    acc.add(torch.full((1, 2, 2), 0.2), Window(0, 0, 4, 4, 4))
    acc.add(torch.full((1, 1, 1), 0.6), Window(0, 2, 4, 6, 4))
    np.testing.assert_array_equal(acc.count.numpy(), [[1, 1, 2, 2, 1, 1]] * 4)
    out = acc.result()[0].numpy()
    np.testing.assert_allclose(out[:, :2], 0.2, rtol=1e-6)
    np.testing.assert_allclose(out[:, 2:4], 0.4, rtol=1e-6)
    np.testing.assert_allclose(out[:, 4:], 0.6, rtol=1e-6)


def test_window_maps_are_bilinearly_upsampled_and_clamped():
    acc = CoverageAccumulator(1, 8, 8)
    maps = torch.tensor([[[0.0, 2.0], [0.0, 2.0]]])  # 2.0 is clamped to the cosine range
    acc.add(maps, Window(0, 0, 8, 8, 8))
    ref = F.interpolate(maps[None], size=(8, 8), mode="bilinear", align_corners=False)[0].clamp(-1, 1)
    torch.testing.assert_close(acc.result(), ref)


def test_resize_short_side_keeps_aspect():
    img = np.zeros((100, 250, 3), np.uint8)
    assert resize_short_side(img, 40).shape == (40, 100, 3)
    assert resize_short_side(img, 100) is img


def test_short_side_rounding_floor_truncates_the_long_side():
    """375 x 500 at 448: 597.33 -> 597 both ways; 872 x 1000: 513.76 -> 514 rounded, 513 truncated (torchvision)."""
    assert short_side_shape(375, 500, 448, "floor") == short_side_shape(375, 500, 448) == (448, 597)
    assert short_side_shape(872, 1000, 448) == (448, 514)
    assert short_side_shape(872, 1000, 448, "floor") == (448, 513)
    assert short_side_shape(1000, 872, 448, "floor") == (513, 448)
    assert short_side_shape(448, 448, 448, "floor") == (448, 448)
    img = np.zeros((100, 250, 3), np.uint8)
    assert resize_short_side(img, 100, "floor") is img


@pytest.mark.parametrize("out_len,in_len", [(10, 3), (448, 448), (3, 10), (500, 448)])
def test_interpolation_matrices_match_torch(out_len, in_len):
    v = torch.randn(2, in_len, 4)
    ref = F.interpolate(v[None], size=(out_len, 4), mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(bilinear_matrix(out_len, in_len) @ v, ref, atol=1e-4, rtol=0)
    i0, i1, lam = bilinear_taps(out_len, in_len)  # the segmenter's strip resize: two taps per row, torch.lerp
    torch.testing.assert_close(torch.lerp(v[:, i0], v[:, i1], lam[:, None]), ref, atol=1e-5, rtol=0)
    x = torch.arange(in_len, dtype=torch.float32)[None, None]
    near = F.interpolate(x, size=out_len, mode="nearest")[0, 0].long()
    assert torch.equal(near, nearest_index(out_len, in_len))
