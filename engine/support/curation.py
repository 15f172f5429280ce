"""A person's review applied to support sets: merge the base set with added images, mark excluded images and
replace an image's fg/bg by a chosen proposed instance mask or by the attribution thresholds.

Plain data in and out. Excluded images stay in the curated set (so a reviewer still sees them and can take the
exclusion back) but carry their reason in ``SupportImage.excluded``; ``kept_images`` is what the banks are built
from. Images are matched by ``image_id`` (a hash of their pixels), never by position, so a decision stays with its
image when more images join the set.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Mapping, Sequence

import numpy as np

from engine.config import MaskConfig
from engine.errors import BadInputError
from engine.types import Curation, SupportImage, SupportSet

ATTRIBUTION = "attribution"
INSTANCE = "instance:"


def image_id(image: np.ndarray) -> str:
    """Identity of a support image: sha256 of its shape and pixels (first 32 hex digits)."""
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    h = hashlib.sha256(repr(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:32]


def curation_from_dict(data: Mapping[str, Any] | None, dir_root: str | None = None) -> Curation | None:
    """``{"excluded": {id: reason}, "masks": {id: choice}, "extra_seeds": [..], "extra_dirs": [..]}`` -> a
    ``Curation`` (sorted, so equal reviews hash equally); None when nothing is curated. ``extra_dirs`` are joined
    to ``dir_root`` when given. Raises ``BadInputError`` on a mask choice it does not know."""
    if not data:
        return None
    masks = {str(k): str(v) for k, v in dict(data.get("masks") or {}).items()}
    for key, choice in masks.items():
        check_choice(choice, key)
    dirs = [str(d) for d in data.get("extra_dirs") or []]
    if dir_root is not None:
        dirs = [f"{str(dir_root).rstrip('/')}/{d}" for d in dirs]
    cur = Curation(excluded=tuple(sorted((str(k), str(v)) for k, v in dict(data.get("excluded") or {}).items())),
                   masks=tuple(sorted(masks.items())),
                   extra_seeds=tuple(sorted({int(s) for s in data.get("extra_seeds") or []})),
                   extra_dirs=tuple(dirs))
    return None if cur.is_empty else cur


def check_choice(choice: str, item: str = "mask") -> None:
    """A mask choice is "attribution" or "instance:J" (J >= 0)."""
    if choice == ATTRIBUTION:
        return
    if choice.startswith(INSTANCE) and choice[len(INSTANCE):].isdigit():
        return
    raise BadInputError(f"unknown mask choice {choice!r} (\"attribution\" or \"instance:J\")", item)


def chosen_fg_bg(image: SupportImage, choice: str, cfg: MaskConfig) -> tuple[np.ndarray, np.ndarray]:
    """fg/bg of ``image`` under ``choice``: proposed instance mask J as fg with the eroded complement of all
    proposed masks as bg (the rule ``apply_masks`` uses for user images), or the attribution thresholds
    (fg > ``fg_threshold``, bg < ``bg_threshold``, the method's fallback). ``BadInputError`` when the image has no
    such mask or no attribution map."""
    from engine.masks.fgbg import erode, threshold_fg_bg  # scipy and the proposers load only when masks change

    check_choice(choice)
    if choice == ATTRIBUTION:
        if image.attribution is None:
            raise BadInputError("this image has no attribution map to threshold", f"image {image.index}")
        return threshold_fg_bg(image.attribution, cfg)
    j = int(choice[len(INSTANCE):])
    if j >= len(image.instance_masks):
        raise BadInputError(f"image has {len(image.instance_masks)} proposed masks, not a mask {j}",
                            f"image {image.index}")
    fg = np.asarray(image.instance_masks[j], dtype=bool)
    bg = erode(~np.logical_or.reduce([np.asarray(m, dtype=bool) for m in image.instance_masks]),
               max(1, cfg.bg_erosion_iterations))
    return fg, bg


def curate(sets: Sequence[SupportSet], curation: Curation, cfg: MaskConfig) -> SupportSet:
    """One support set from ``sets`` (the base set first, then added ones) under ``curation``: images re-indexed
    in order, an image appearing twice kept once, excluded ones marked, chosen masks applied. A decision naming an
    image that is in none of the sets is ignored (the image was removed with its folder)."""
    if not sets:
        raise BadInputError("no support set to curate")
    excluded, masks = dict(curation.excluded), dict(curation.masks)
    seen: set[str] = set()
    images: list[SupportImage] = []
    for support in sets:
        for im in support.images:
            iid = image_id(im.image)
            if iid in seen:
                continue
            seen.add(iid)
            out = dataclasses.replace(im, index=len(images), excluded=excluded.get(iid), mask_choice="")
            if iid in masks:
                fg, bg = chosen_fg_bg(im, masks[iid], cfg)
                out = dataclasses.replace(out, fg_mask=fg, bg_mask=bg, mask_choice=masks[iid])
            images.append(out)
    base = sets[0]
    return SupportSet(class_name=base.class_name, prompt=base.prompt, source=base.source, images=images)


def kept_images(support: SupportSet) -> list[SupportImage]:
    """The images prototypes are built from: every image not excluded by a person."""
    return [im for im in support.images if im.excluded is None]
