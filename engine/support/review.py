"""Which support images a person should look at first: the paper's failure cases made checkable.

A generated image that does not show the class tends to give an empty foreground or one that disagrees with the
class's attribution; a mask that took the background gives a whole-image foreground, or one that holds most of the
image's border (an uploaded crop shows the object with a margin: its surround is what touches the border); a
generator stuck on one composition gives near duplicates (which weigh that composition twice in the prototypes).
The two background flags come first (``SEVERITY``) and say what was measured (``flag_text``). Plain data in and out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from engine.config import ReviewConfig
from engine.masks.fgbg import border_fraction
from engine.types import SupportSet

EMPTY_FG, WHOLE_FG, DISAGREES, DUPLICATE = "empty_fg", "whole_image_fg", "fg_disagrees", "near_duplicate"
BORDER_FG = "fg_on_border"
FLAG_TEXT = {EMPTY_FG: "empty foreground", WHOLE_FG: "foreground covers the whole image: probably background",
             BORDER_FG: "foreground holds most of the border: probably background",
             DISAGREES: "foreground disagrees with the attribution", DUPLICATE: "near duplicate of another image"}
# which flags a reviewer sees first (lower first): a foreground that took the background spoils the prototypes most
SEVERITY = {WHOLE_FG: 0, BORDER_FG: 0, EMPTY_FG: 1, DISAGREES: 2, DUPLICATE: 3}
FG_FRACTION, BORDER_SHARE = "fg_fraction", "border_share"


def border_share(fg: np.ndarray) -> float:
    """Share of the image's outermost ring of pixels inside ``fg`` (0 for an empty image)."""
    m = np.asarray(fg, dtype=bool)
    return border_fraction(m) if m.ndim == 2 and m.size else 0.0


def mask_measures(fg: np.ndarray | None) -> dict[str, float]:
    """What the mask flags read, rounded for storage: the fg's share of the image and of its border."""
    if fg is None:
        return {}
    fg = np.asarray(fg, dtype=bool)
    return {FG_FRACTION: round(float(fg.mean()) if fg.size else 0.0, 4), BORDER_SHARE: round(border_share(fg), 4)}


def flag_text(code: str, measures: dict[str, float] | None = None) -> str:
    """A reviewer's reason for ``code``, with the measured share when known ("foreground touches 83% of the border:
    probably background")."""
    measures = measures or {}
    if code == BORDER_FG and BORDER_SHARE in measures:
        return f"foreground touches {measures[BORDER_SHARE]:.0%} of the border: probably background"
    if code == WHOLE_FG and FG_FRACTION in measures:
        return f"foreground covers {measures[FG_FRACTION]:.0%} of the image: probably background"
    return FLAG_TEXT.get(code, code)


def flags_order(flags: Sequence[str]) -> tuple[int, int]:
    """Sort key of an image by its flags: the most severe flag first, then more flags first; unflagged last."""
    if not flags:
        return (len(SEVERITY) + 1, 0)
    return (min(SEVERITY.get(f, len(SEVERITY)) for f in flags), -len(flags))


def mask_flags(fg: np.ndarray | None, attribution: np.ndarray | None, fg_threshold: float,
               cfg: ReviewConfig) -> list[str]:
    """Flags of one image's fg mask: empty, whole image (more than ``cfg.max_fg_fraction``), holding more than
    ``cfg.max_border_share`` of the border, or little overlap with attribution > ``fg_threshold``."""
    if fg is None:
        return [EMPTY_FG]
    fg = np.asarray(fg, dtype=bool)
    fraction = float(fg.mean()) if fg.size else 0.0
    flags = []
    if fraction < cfg.min_fg_fraction:
        flags.append(EMPTY_FG)
    elif fraction > cfg.max_fg_fraction:
        flags.append(WHOLE_FG)
    elif border_share(fg) > cfg.max_border_share:
        flags.append(BORDER_FG)
    if attribution is not None and EMPTY_FG not in flags and attribution_iou(fg, attribution, fg_threshold) \
            < cfg.min_attribution_iou:
        flags.append(DISAGREES)
    return flags


def attribution_iou(fg: np.ndarray, attribution: np.ndarray, fg_threshold: float) -> float:
    """IoU of ``fg`` with the attribution's own foreground (attribution > ``fg_threshold``); 0 when both empty."""
    hot = np.asarray(attribution) > fg_threshold
    if hot.shape != fg.shape:
        return 0.0
    union = np.logical_or(fg, hot).sum()
    return float(np.logical_and(fg, hot).sum() / union) if union else 0.0


def average_hash(image: np.ndarray, size: int = 8) -> str:
    """Average hash (grey ``size`` x ``size`` thumbnail above its mean) as hex: equal for near-identical images."""
    grey = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).convert("L").resize((size, size),
                                                                                           Image.BILINEAR)
    bits = (np.asarray(grey, dtype=np.float32) > np.asarray(grey, dtype=np.float32).mean()).reshape(-1)
    value = int("".join("1" if b else "0" for b in bits), 2)
    return f"{value:0{(size * size + 3) // 4}x}"


def near_duplicates(hashes: Sequence[str], cfg: ReviewConfig) -> list[bool]:
    """Per hash: True when another hash differs from it in at most ``duplicate_max_bits`` bits."""
    values = [int(h, 16) for h in hashes]
    out = [False] * len(values)
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            if bin(values[i] ^ values[j]).count("1") <= cfg.duplicate_max_bits:
                out[i] = out[j] = True
    return out


def support_flags(support: SupportSet, fg_threshold: float, cfg: ReviewConfig) -> list[list[str]]:
    """Flags of every image of ``support`` (in order): its fg mask's and near duplicates within the set."""
    flags = [mask_flags(im.fg_mask, im.attribution, fg_threshold, cfg) for im in support.images]
    duplicates = near_duplicates([average_hash(im.image, cfg.hash_size) for im in support.images], cfg)
    return [f + [DUPLICATE] if dup else f for f, dup in zip(flags, duplicates)]


def support_review(support: SupportSet, fg_threshold: float,
                   cfg: ReviewConfig) -> list[tuple[list[str], dict[str, float]]]:
    """(flags, measures) of every image of ``support``, in order: what a reviewer sees and why."""
    flags = support_flags(support, fg_threshold, cfg)
    return [(f, mask_measures(im.fg_mask)) for f, im in zip(flags, support.images)]
