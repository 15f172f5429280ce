"""Foreground / background masks of support images from instance masks and attribution (docs/METHOD.md#fg-bg-selection).

Read from the authors' code (karazijal/sdov, ``sample_support_set.py``):
- a "background" mask (complement of the union of instance masks) joins the instance masks;
- each mask is scored by its mean attribution; each pixel goes to the highest-scoring mask covering it
  (masks ordered by descending score, ties go to the higher-ranked mask); a pixel covered only by zero-score masks
  stays with its covering mask (``zero_score_pixels="covering"``), or goes to the top mask as the code's argmax of
  mask * score hands it there (``"top"``, the ``sdov`` profile);
- fg = pixels won by the top-scoring mask (which may be the background mask: kept as the code does);
- bg = pixels won by the lowest-scoring mask that won any pixel, AND attribution < ``bg_threshold``,
  then ``binary_erosion`` (skimage default: cross-shaped 3x3 footprint, image border not eroded);
- fallback when there is no instance mask: fg = attribution > ``fg_threshold``, bg = attribution <
  ``bg_threshold``, and the code does NOT erode in this branch; we follow it.
Empty fg: left empty. ``engine.prototypes.banks`` skips images whose fg is empty on the feature grid (as the code
does), so a failed generation contributes nothing rather than a guessed region.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import scipy.ndimage

from engine.config import MaskConfig
from engine.errors import BadInputError
from engine.types import SupportImage, SupportSet

_CROSS = scipy.ndimage.generate_binary_structure(2, 1)

# image uint8 (H, W, 3) -> instance masks bool (H, W), most salient first
Proposer = Callable[[np.ndarray], list[np.ndarray]]


def erode(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Binary erosion with a cross-shaped 3x3 footprint; pixels outside the image count as set (skimage's rule)."""
    if iterations <= 0 or not mask.any():
        return mask.astype(bool)
    return scipy.ndimage.binary_erosion(mask, structure=_CROSS, iterations=iterations, border_value=1)


def threshold_fg_bg(attribution: np.ndarray, cfg: MaskConfig) -> tuple[np.ndarray, np.ndarray]:
    """Attribution-only masks (the code's fallback and the no-instance-mask ablation)."""
    return attribution > cfg.fg_threshold, attribution < cfg.bg_threshold


def select_fg_bg(
    attribution: np.ndarray, instance_masks: Sequence[np.ndarray], cfg: MaskConfig
) -> tuple[np.ndarray, np.ndarray]:
    """fg and bg bool (H, W) masks of one support image; see the module docstring for the rule."""
    attribution = np.asarray(attribution, dtype=np.float32)
    if attribution.ndim != 2:
        raise BadInputError(f"expected an (H, W) attribution map, got shape {attribution.shape}", "attribution")
    masks = [np.asarray(m, dtype=bool) for m in instance_masks if np.asarray(m).any()]
    for i, m in enumerate(masks):
        if m.shape != attribution.shape:
            raise BadInputError(
                f"shape {m.shape} differs from the attribution map {attribution.shape}", f"instance mask {i}"
            )
    if not masks or not cfg.use_instance_masks:
        return threshold_fg_bg(attribution, cfg)
    stack = np.stack([~np.logical_or.reduce(masks)] + masks)  # (M, H, W), background mask first
    area = stack.reshape(len(stack), -1).sum(1)
    scores = (stack * attribution).reshape(len(stack), -1).sum(1) / np.maximum(area, 1)
    order = np.argsort(-scores, kind="stable")
    if cfg.zero_score_pixels == "top":  # the code: argmax of mask * score, all-zero columns go to rank 0
        ranked = stack[order] * scores[order][:, None, None]
    else:
        ranked = np.where(stack[order], scores[order][:, None, None], -np.inf)
    winner = ranked.argmax(0)  # rank of the mask owning each pixel; every pixel is covered by some mask
    fg = winner == 0
    bg = (winner == winner.max()) & (attribution < cfg.bg_threshold)
    return fg, erode(bg, cfg.bg_erosion_iterations)


def border_fraction(mask: np.ndarray) -> float:
    """Share of the image's border pixels (the outermost ring) inside ``mask``."""
    m = np.asarray(mask, dtype=bool)
    ring = np.concatenate([m[0], m[-1], m[1:-1, 0], m[1:-1, -1]])
    return float(ring.mean()) if ring.size else 0.0


def user_candidates(instances: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The fg candidates of a user image, in the order the rules read them: the first proposed mask, its
    complement (the cut's other side), then the other masks."""
    masks = [np.asarray(m, dtype=bool) for m in instances]
    return [masks[0], ~masks[0], *masks[1:]] if masks else []


def extent_score(mask: np.ndarray) -> float:
    """How well ``mask`` fits a crop framing one object with a margin: the share of the image its bounding box
    spans (the object reaches across the crop) minus the share of the image's border it holds (the margin is not
    the object). -1 for an empty mask."""
    m = np.asarray(mask, dtype=bool)
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return -1.0
    span = (ys.max() - ys.min() + 1) / m.shape[0] * (xs.max() - xs.min() + 1) / m.shape[1]
    return float(span) - border_fraction(m)


def candidate_fg_bg(instances: Sequence[np.ndarray], k: int, cfg: MaskConfig) -> tuple[np.ndarray, np.ndarray]:
    """fg = candidate ``k`` of ``user_candidates``; bg = the eroded complement of it and of every other proposed
    mask that holds at most ``cfg.user_fg_max_border`` of the border and lies outside it (another object: neither
    side of the class)."""
    masks = [np.asarray(m, dtype=bool) for m in instances]
    candidates = user_candidates(masks)
    if not 0 <= k < len(candidates):
        raise BadInputError(f"image has {len(candidates)} candidate masks, not a candidate {k}", "mask")
    fg = candidates[k]
    objects = [fg] + [m for m in masks if m.any() and border_fraction(m) <= cfg.user_fg_max_border
                      and not (m & fg).any()]
    return fg, erode(~np.logical_or.reduce(objects), max(1, cfg.bg_erosion_iterations))


def default_candidate(instances: Sequence[np.ndarray], cfg: MaskConfig, stuff: bool = False) -> int:
    """The candidate ``user_fg_bg`` takes under ``cfg.user_fg_rule`` (see there)."""
    candidates = user_candidates(instances)
    if cfg.user_fg_rule == "first" or (stuff and cfg.user_fg_rule == "border"):
        return 0
    if cfg.user_fg_rule in ("extent", "vocabulary"):
        return int(np.argmax([extent_score(m) for m in candidates]))
    shares = [border_fraction(m) if m.any() else 2.0 for m in candidates]
    ok = [i for i, s in enumerate(shares) if s <= cfg.user_fg_max_border]
    return ok[0] if ok else int(np.argmin(shares))


def user_fg_bg(instances: Sequence[np.ndarray], cfg: MaskConfig, stuff: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """fg/bg of a user image from its proposed masks under ``cfg.user_fg_rule``: "first" takes the first mask
    and the eroded complement of all masks as bg; "border" takes the first candidate (the first mask, its
    complement: the cut's other side, then the other masks) holding at most ``cfg.user_fg_max_border`` of the
    border (else the candidate holding the least; a ``stuff`` class, often the surround itself, keeps the first
    rule); "extent" (and "vocabulary", for an image seen alone) takes the candidate with the best ``extent_score``,
    whatever the class. Both take ``candidate_fg_bg``'s bg: the eroded complement of the fg and of every other
    proposed mask under the border share (under the border rule those are the same masks as every proposed mask
    under the share: the candidates are disjoint or nested)."""
    masks = [np.asarray(m, dtype=bool) for m in instances]
    if cfg.user_fg_rule == "first" or (stuff and cfg.user_fg_rule == "border"):
        return masks[0], erode(~np.logical_or.reduce(masks), max(1, cfg.bg_erosion_iterations))
    return candidate_fg_bg(masks, default_candidate(masks, cfg, stuff), cfg)


def apply_masks(support: SupportSet, propose: Proposer | None, cfg: MaskConfig, stuff: bool = False) -> SupportSet:
    """A copy of ``support`` with fg/bg (and instance) masks on every image.

    Rules: images that already carry an fg mask keep it (a missing bg becomes the eroded complement of fg);
    generated images use ``select_fg_bg`` on their attribution and the proposer's masks (none are proposed
    when ``cfg.use_instance_masks`` is off or ``cfg.proposer == "attribution"``); user images with neither
    attribution nor masks take the proposer's first (most salient) mask as fg and the eroded complement of
    all proposed masks as bg (``cfg.user_fg_rule``: ``user_fg_bg``, told ``stuff``); without a proposer, or
    when it finds nothing, the whole image is fg and bg is
    empty (the user said the image shows the class).
    """
    want_instances = propose is not None and cfg.use_instance_masks and cfg.proposer != "attribution"
    out: list[SupportImage] = []
    for im in support.images:
        h, w = im.image.shape[:2]
        if im.fg_mask is not None:
            fg = np.asarray(im.fg_mask, dtype=bool)
            bg = (
                np.asarray(im.bg_mask, dtype=bool)
                if im.bg_mask is not None
                else erode(~fg, max(1, cfg.bg_erosion_iterations))
            )
            out.append(dataclasses.replace(im, fg_mask=fg, bg_mask=bg))
            continue
        instances = propose(im.image) if want_instances else []  # type: ignore[misc]
        if im.attribution is not None:
            fg, bg = select_fg_bg(im.attribution, instances, cfg)
        elif instances:
            fg, bg = user_fg_bg(instances, cfg, stuff)
        else:
            fg, bg = np.ones((h, w), dtype=bool), np.zeros((h, w), dtype=bool)
        out.append(dataclasses.replace(im, fg_mask=fg, bg_mask=bg, instance_masks=list(instances)))
    return dataclasses.replace(support, images=out)
