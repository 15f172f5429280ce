"""Golden test: the target image's resize and the sliding windows, under the ``sdov`` profile.

Reference written from karazijal/sdov (commit 218566b), shares no code with engine/ (numpy / PIL only):
- predict.py ``EvalDataset.__getitem__`` (lines 37-40): ``TF.resize(PIL image, size=448, LANCZOS)``; torchvision
  0.13's rule for an int size (``_compute_resized_output_size``): the short side becomes 448 and the long side
  ``int(448 * long / short)`` (truncated), then PIL's LANCZOS resize;
- predict.py ``main`` (lines 562-592): per (crop, stride) in (448, 224), (336, 224) the mmseg slide grid
  h_grids = max(H - crop + stride - 1, 0) // stride + 1, each window moved back to end flush with the border,
  then the whole image as one more window.
Tolerance: exact (integer boxes, uint8 pixels).
"""
from __future__ import annotations

import numpy as np
import pytest
from golden_inputs import PHOTOS, photo
from PIL import Image

from engine.config import OVDiffConfig
from engine.profile_sdov import sdov_config
from engine.segment.windows import resize_short_side, window_boxes

SDOV = sdov_config().segment


def ref_short_side_size(h: int, w: int, size: int = 448) -> tuple[int, int]:
    """torchvision 0.13 ``_compute_resized_output_size`` for an int size, no max_size: (new_h, new_w)."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if w <= h else (new_short, new_long)


def ref_resize(image: np.ndarray, size: int = 448) -> np.ndarray:
    h, w = image.shape[:2]
    nh, nw = ref_short_side_size(h, w, size)
    if (nh, nw) == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.LANCZOS))


def ref_windows(h: int, w: int, crops=(448, 336), strides=(224, 224)) -> list[tuple[int, int, int, int]]:
    out = []
    for crop, stride in zip(crops, strides):
        for hi in range(max(h - crop + stride - 1, 0) // stride + 1):
            for wi in range(max(w - crop + stride - 1, 0) // stride + 1):
                y2, x2 = min(hi * stride + crop, h), min(wi * stride + crop, w)
                out.append((max(y2 - crop, 0), max(x2 - crop, 0), y2, x2))
    return out + [(0, 0, h, w)]


def engine_windows(h: int, w: int) -> list[tuple[int, int, int, int]]:
    return [(b.y0, b.x0, b.y1, b.x1) for b in window_boxes(h, w, SDOV)]


@pytest.mark.parametrize("seed", range(20))
def test_window_layout_matches_the_code_on_random_sizes(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(300, 1400, 2))
    h, w = ref_short_side_size(h, w)
    assert engine_windows(h, w) == ref_windows(h, w)


def test_window_layout_includes_small_and_exact_sizes():
    for h, w in [(448, 448), (448, 449), (448, 672), (448, 673), (448, 896), (1000, 448), (448, 335)]:
        assert engine_windows(h, w) == ref_windows(h, w)


def sdov_resize(image: np.ndarray) -> np.ndarray:
    return resize_short_side(image, SDOV.short_side, SDOV.short_side_rounding)


@pytest.mark.parametrize("name", PHOTOS)
def test_target_resize_and_windows_match_the_code_on_photos(name):
    img = photo(name)
    ours, ref = sdov_resize(img), ref_resize(img)
    assert ours.shape == ref.shape and np.array_equal(ours, ref)
    assert engine_windows(*ours.shape[:2]) == ref_windows(*ref.shape[:2])


def test_target_resize_truncates_the_long_side_like_torchvision():
    """``segment.short_side_rounding="floor"``: hubble_deep_field 872x1000 -> 448x513 as in the code."""
    img = photo("hubble_deep_field")
    assert sdov_resize(img).shape == ref_resize(img).shape == (448, 513, 3)


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_target_resize_size_matches_torchvision_on_random_sizes():
    rng = np.random.default_rng(0)
    for h, w in rng.integers(200, 2000, (200, 2)):
        img = np.zeros((int(h), int(w), 3), np.uint8)
        assert sdov_resize(img).shape[:2] == ref_short_side_size(int(h), int(w))


def test_paper_rounds_the_long_side():
    """The paper profile keeps the rounded long side (mmseg's rule): hubble_deep_field 872x1000 -> 448x514."""
    paper = OVDiffConfig().segment
    assert paper.short_side_rounding == "round"
    assert resize_short_side(photo("hubble_deep_field"), paper.short_side, paper.short_side_rounding).shape == (
        448, 514, 3)


def test_sdov_window_settings_are_the_codes():
    """predict.py:227-228 (--crops 448,336 --strides 224,224), :45 (--size 448), :586-592 (whole image added)."""
    assert (SDOV.short_side, tuple(SDOV.window_sizes), SDOV.window_stride) == (448, (448, 336), 224)
    assert SDOV.sliding_window and SDOV.include_whole_image
