"""Which support images a person should look at first: the paper's failure cases made checkable.

A generated image that does not show the class tends to give an empty foreground or one that disagrees with the
class's attribution; a mask that took the background gives a whole-image foreground; a generator stuck on one
composition gives near duplicates (which weigh that composition twice in the prototypes). Plain data in and out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from engine.config import ReviewConfig
from engine.types import SupportSet

EMPTY_FG, WHOLE_FG, DISAGREES, DUPLICATE = "empty_fg", "whole_image_fg", "fg_disagrees", "near_duplicate"
FLAG_TEXT = {EMPTY_FG: "empty foreground", WHOLE_FG: "foreground covers the whole image",
             DISAGREES: "foreground disagrees with the attribution", DUPLICATE: "near duplicate of another image"}


def mask_flags(fg: np.ndarray | None, attribution: np.ndarray | None, fg_threshold: float,
               cfg: ReviewConfig) -> list[str]:
    """Flags of one image's fg mask: empty, whole image, or little overlap with attribution > ``fg_threshold``."""
    if fg is None:
        return [EMPTY_FG]
    fg = np.asarray(fg, dtype=bool)
    fraction = float(fg.mean()) if fg.size else 0.0
    flags = []
    if fraction < cfg.min_fg_fraction:
        flags.append(EMPTY_FG)
    elif fraction > cfg.max_fg_fraction:
        flags.append(WHOLE_FG)
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
