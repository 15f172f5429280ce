"""Explanations: which prototype (and so which support-image region) made a pixel its label.

A segmentation run with ``explain=True`` keeps, per extractor, the winning prototype of the labelled class at each
pixel (the best-scoring prototype over all windows). Every prototype carries a ``ProtoSource`` (instance: its
support image and mask box; part: the image holding most of the cluster; class: no single image), so a pixel can be
traced back to a region of a generated image. For "background" pixels the prototype belongs to the bank of the
class whose support images it was taken from (``prototype_class``).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw

from engine.errors import BadInputError
from engine.types import PixelExplanation, ProtoSource, Segmentation, SupportSet


def explain_pixel(seg: Segmentation, x: int, y: int) -> list[PixelExplanation]:
    """One explanation per extractor for pixel (x, y) of the original image (extractors without a winner skipped)."""
    if not seg.winners:
        raise BadInputError("the segmentation was computed without explain=True", item="segmentation")
    h, w = seg.labels.shape
    if not (0 <= x < w and 0 <= y < h):
        raise BadInputError(f"pixel ({x}, {y}) is outside the {w}x{h} image", item=f"({x}, {y})")
    class_name = seg.label_names[int(seg.labels[y, x])]
    out: list[PixelExplanation] = []
    for extractor, winners in seg.winners.items():
        idx = int(winners[y, x])
        if idx < 0:
            continue
        owner, source = seg.prototype_index[extractor][idx]
        scores = seg.winner_scores.get(extractor)
        score = float(scores[y, x]) if scores is not None else float("nan")
        out.append(PixelExplanation(class_name=class_name, extractor=extractor, score=score, source=source,
                                    prototype_class=owner, prototype_index=idx))
    return out


def support_image_for(explanation: PixelExplanation, support_sets: Mapping[str, SupportSet]) -> np.ndarray | None:
    """The support image a prototype came from, or None (class prototypes, missing sets or images)."""
    sset = support_sets.get(explanation.prototype_class)
    index = explanation.source.image_index
    if sset is None or index is None:
        return None
    return next((im.image for im in sset.images if im.index == index), None)


def draw_explanation(
    support_image: np.ndarray,
    source: ProtoSource,
    colour: tuple[int, int, int] | None = None,
    line_width: int | None = None,
) -> np.ndarray:
    """A copy of the support image (uint8 HxWx3) with the prototype's region boxed.

    Green boxes foreground prototypes, red background ones; a source without a box (class prototypes average the
    whole support set) is outlined around the full image.
    """
    if support_image.ndim != 3 or support_image.shape[2] != 3 or support_image.dtype != np.uint8:
        raise BadInputError(f"expected uint8 (H, W, 3), got {support_image.dtype} {support_image.shape}",
                            item="support_image")
    h, w = support_image.shape[:2]
    box = source.box or (0.0, 0.0, 1.0, 1.0)
    x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in box)
    px0, py0 = int(round(x0 * (w - 1))), int(round(y0 * (h - 1)))
    px1, py1 = max(px0, int(round(x1 * (w - 1)))), max(py0, int(round(y1 * (h - 1))))
    colour = colour or ((0, 200, 0) if source.mask == "fg" else (220, 0, 0))
    width = line_width or max(1, min(h, w) // 100)
    canvas = Image.fromarray(support_image.copy())
    ImageDraw.Draw(canvas).rectangle((px0, py0, px1, py1), outline=colour, width=width)
    return np.asarray(canvas).copy()
