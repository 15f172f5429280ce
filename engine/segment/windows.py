"""Sliding windows over a target image and the coverage-averaging accumulator (docs/METHOD.md#sliding-windows).

The target is resized so its short side is ``cfg.short_side``; windows of each size in ``cfg.window_sizes`` slide
with ``cfg.window_stride`` exactly as mmseg's slide inference does (the last window of a row/column is moved back so
it ends flush with the border; a window larger than the image shrinks to the image), and the whole image is added
as one more window. Every window's class-score maps are upsampled to the window's own size and added into a running
sum together with a per-pixel count; the final map is sum / count.

Extractor input sizes: a window crop is handed to an extractor at its own size unless the extractor declares an
integer ``input_size`` attribute, in which case the crop (the whole image included) is squashed to a square
``input_size`` x ``input_size`` (the authors' code squashes to 448x448 for CLIP and 512x512 for Stable Diffusion
and keeps DINO at the window's size). Scores come back at feature resolution and are upsampled to the window box,
so the extractor's internal size never changes where a score lands.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.config import SegmentConfig


@dataclass(frozen=True)
class Window:
    """A box of the resized image, [y0, y1) x [x0, x1); ``size`` is the nominal window size, None = whole image."""

    y0: int
    x0: int
    y1: int
    x1: int
    size: int | None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y1 - self.y0, self.x1 - self.x0)


def short_side_shape(height: int, width: int, short_side: int, rounding: str = "round") -> tuple[int, int]:
    """(h, w) with the short side equal to ``short_side`` and the aspect ratio kept: the long side rounded
    (``rounding="round"``) or truncated as torchvision does (``"floor"``: ``int(short_side * long / short)``)."""
    if rounding == "floor":
        short, long = min(height, width), max(height, width)
        new_long = max(1, int(short_side * long / short))
        return (new_long, short_side) if height > width else (short_side, new_long)
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_short_side(image: np.ndarray, short_side: int, rounding: str = "round") -> np.ndarray:
    """Resize a uint8 (H, W, 3) image so its short side is ``short_side`` (Lanczos, as the authors' code); the long
    side as ``short_side_shape`` gives it (``segment.short_side_rounding``)."""
    h, w = image.shape[:2]
    nh, nw = short_side_shape(h, w, short_side, rounding)
    if (nh, nw) == (h, w):
        return image
    return np.array(Image.fromarray(image).resize((nw, nh), Image.Resampling.LANCZOS))


def _grid(length: int, crop: int, stride: int) -> list[tuple[int, int]]:
    """mmseg slide grid along one axis: start/stop pairs, the last one flush with the border."""
    n = max(length - crop + stride - 1, 0) // stride + 1
    out: list[tuple[int, int]] = []
    for i in range(n):
        stop = min(i * stride + crop, length)
        out.append((max(stop - crop, 0), stop))
    return out


def window_boxes(height: int, width: int, cfg: SegmentConfig) -> list[Window]:
    """All windows for a (resized) image: sliding windows per size (if enabled), then the whole image."""
    boxes: list[Window] = []
    if cfg.sliding_window:
        for size in cfg.window_sizes:
            for y0, y1 in _grid(height, size, cfg.window_stride):
                for x0, x1 in _grid(width, size, cfg.window_stride):
                    boxes.append(Window(y0, x0, y1, x1, size))
        if cfg.include_whole_image:
            boxes.append(Window(0, 0, height, width, None))
    else:
        boxes.append(Window(0, 0, height, width, None))
    return boxes


def window_batches(windows: list[Window], batch_size: int) -> Iterator[list[Window]]:
    """Group windows of identical shape into batches of at most ``batch_size`` (order of first appearance)."""
    groups: dict[tuple[int, int], list[Window]] = {}
    for w in windows:
        groups.setdefault(w.shape, []).append(w)
    for group in groups.values():
        for i in range(0, len(group), max(1, batch_size)):
            yield group[i : i + batch_size]


def crop_batch(image: torch.Tensor, batch: list[Window], input_size: int | None = None) -> torch.Tensor:
    """Stack the crops of ``image`` (3, H, W) for windows of one shape; squash to ``input_size`` if given.

    One window is a view (no copy; the extractors never write into their input)."""
    if len(batch) == 1:
        crops = image[None, :, batch[0].y0 : batch[0].y1, batch[0].x0 : batch[0].x1]
    else:
        crops = torch.stack([image[:, w.y0 : w.y1, w.x0 : w.x1] for w in batch])
    if input_size is not None and crops.shape[-2:] != (input_size, input_size):
        crops = F.interpolate(crops, size=(input_size, input_size), mode="bilinear", align_corners=False,
                              antialias=True).clamp_(0.0, 1.0)
    return crops


def upsample_to_window(maps: torch.Tensor, window: Window) -> torch.Tensor:
    """Bilinear resize of (C, h, w) score maps to the window's size, clamped to the cosine range [-1, 1]."""
    out = F.interpolate(maps[None], size=window.shape, mode="bilinear", align_corners=False)[0]
    return out.clamp_(-1.0, 1.0)


class CoverageAccumulator:
    """Running (C, H, W) sum of window score maps plus a (H, W) count of windows covering each pixel."""

    def __init__(self, channels: int, height: int, width: int, device: torch.device | str = "cpu") -> None:
        self.sum = torch.zeros(channels, height, width, device=device)
        self.count = torch.zeros(height, width, device=device)

    def add(self, maps: torch.Tensor, window: Window) -> None:
        """Add (C, h, w) maps at feature resolution for ``window`` (upsampled here)."""
        up = upsample_to_window(maps.to(self.sum.device, torch.float32), window)
        self.sum[:, window.y0 : window.y1, window.x0 : window.x1] += up
        self.count[window.y0 : window.y1, window.x0 : window.x1] += 1

    def result(self) -> torch.Tensor:
        """sum / count; pixels no window covered (impossible with the whole image) stay 0."""
        return self.sum / self.count.clamp(min=1)[None]


def bilinear_taps(out_len: int, in_len: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """1-D bilinear resize (align_corners=False, no antialias) as two source indices and the second one's weight
    per output position: ``v[i0] + lam * (v[i1] - v[i0])`` resizes ``v`` (``torch.lerp``), as ``F.interpolate``."""
    scale = in_len / out_len
    src = ((torch.arange(out_len, dtype=torch.float32) + 0.5) * scale - 0.5).clamp(min=0)
    i0 = src.floor().long().clamp(max=in_len - 1)
    i1 = (i0 + 1).clamp(max=in_len - 1)
    return i0, i1, (src - i0).float()


def bilinear_matrix(out_len: int, in_len: int) -> torch.Tensor:
    """(out_len, in_len) matrix M with M @ v == 1-D bilinear resize of v (align_corners=False, no antialias).

    Equal to ``F.interpolate(..., mode="bilinear", align_corners=False)`` applied separably (``bilinear_taps``).
    """
    m = torch.zeros(out_len, in_len)
    i0, i1, lam = bilinear_taps(out_len, in_len)
    rows = torch.arange(out_len)
    m.index_put_((rows, i0), 1 - lam, accumulate=True)
    m.index_put_((rows, i1), lam, accumulate=True)
    return m


def nearest_index(out_len: int, in_len: int) -> torch.Tensor:
    """Source index of each output position for nearest resizing (as ``F.interpolate(mode="nearest")``)."""
    return (torch.arange(out_len, dtype=torch.float64) * (in_len / out_len)).floor().long().clamp(max=in_len - 1)
