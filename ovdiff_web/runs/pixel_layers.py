"""Pixel layers of one run image for the dashboard: the pixels behind a confusion cell and every wrong pixel, as
transparent PNG overlays (the viewer's "errors" layer, the confusion-cell page's "confused pixels")."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ovdiff_web.runs.models import ImageResult
from ovdiff_web.common.images import IGNORE_INDEX, png_bytes
from ovdiff_web.runs.images import cell_hits, load_ground_truth, load_prediction

if TYPE_CHECKING:
    import numpy as np


def _prediction_and_truth(result: ImageResult) -> tuple[np.ndarray, np.ndarray]:
    p = load_prediction(result)
    g = load_ground_truth(result.run, result.image_id)
    if p.shape != g.shape:
        raise LookupError("prediction and ground truth differ in size")
    return p, g


def highlight_png(mask: np.ndarray) -> bytes:
    """``mask`` as an opaque magenta layer (everything else transparent): confused or wrong pixels."""
    import numpy as np

    rgba = np.zeros(mask.shape + (4,), dtype=np.uint8)
    rgba[mask] = (255, 0, 200, 255)
    return png_bytes(rgba)


def cell_mask_png(result: ImageResult, gt: int, pred: int) -> bytes:
    """The pixels of one image behind a confusion cell."""
    p, g = _prediction_and_truth(result)
    return highlight_png(cell_hits(result.run, p, g, gt, pred))


def error_mask_png(result: ImageResult) -> bytes:
    """Every wrongly predicted pixel of one image (ignored ground truth left out)."""
    p, g = _prediction_and_truth(result)
    return highlight_png((g != IGNORE_INDEX) & (p != g))
