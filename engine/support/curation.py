"""A person's review applied to support sets: merge the base set with added images, mark excluded images and
replace an image's fg/bg by a chosen proposed instance mask, by the attribution thresholds or by a mask the person
painted (``painted:<mask id>``, read from ``<mask_dir>/<mask id>.png``; the id hashes the mask's pixels, so an
edited mask changes the curated key and a rebuild uses it).

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
CANDIDATE = "candidate:"  # a candidate of engine.masks.fgbg.user_candidates (0 first mask, 1 its complement, ...)
PAINTED = "painted:"
PAINTED_DIR = "painted_masks"  # under the support root (the service's MEDIA_ROOT): <mask id>.png, 0/255 greyscale
MASK_ID_LEN = 24  # "painted:" + 24 hex digits fit the 32 characters of a stored mask choice
MAX_MASK_BYTES = 32 * 1024 * 1024


def image_id(image: np.ndarray) -> str:
    """Identity of a support image: sha256 of its shape and pixels (first 32 hex digits)."""
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    h = hashlib.sha256(repr(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:32]


def mask_id(mask: np.ndarray) -> str:
    """Identity of a painted mask: ``image_id`` of its 0/255 pixels, shortened to ``MASK_ID_LEN`` hex digits."""
    return image_id(np.asarray(mask, dtype=bool).astype(np.uint8) * 255)[:MASK_ID_LEN]


def painted_file(choice: str) -> str:
    """``painted_masks/<mask id>.png``: where the mask of a ``painted:<mask id>`` choice lives (root-relative)."""
    check_choice(choice)
    return f"{PAINTED_DIR}/{choice[len(PAINTED):]}.png"


def painted_files(data: Mapping[str, Any] | None) -> list[str]:
    """The root-relative files of every painted mask a curation dict chooses (for copying them to a worker)."""
    choices = dict((data or {}).get("masks") or {}).values()
    return sorted({painted_file(str(c)) for c in choices if str(c).startswith(PAINTED)})


def read_mask_png(raw: bytes, shape: tuple[int, int], item: str = "mask") -> np.ndarray:
    """A foreground mask from PNG bytes: one channel (or grey RGB / palette / 1-bit) whose pixels are only 0
    (background) and 255 (foreground), exactly ``shape`` (H, W) -- the support image's natural size. The size is
    checked before any pixel is decoded. ``BadInputError`` naming ``item`` says what is wrong."""
    import io

    from PIL import Image, UnidentifiedImageError

    if not raw:
        raise BadInputError("the mask is empty: send a PNG file", item)
    if len(raw) > MAX_MASK_BYTES:
        raise BadInputError(f"the mask is {len(raw)} bytes; at most {MAX_MASK_BYTES}", item)
    unreadable = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)
    try:
        img = Image.open(io.BytesIO(raw))
    except unreadable:
        raise BadInputError("the mask is not a readable PNG image", item) from None
    if img.format != "PNG":
        raise BadInputError(f"the mask is a {img.format} file, not a PNG", item)
    if (img.height, img.width) != tuple(shape):
        raise BadInputError(f"the mask is {img.width}x{img.height} pixels; the support image is "
                            f"{shape[1]}x{shape[0]}", item)
    try:
        grey = np.asarray(img.convert("L"))
    except unreadable:
        raise BadInputError("the mask is not a readable PNG image (its pixels do not decode)", item) from None
    other = np.setdiff1d(np.unique(grey), [0, 255])
    if other.size:
        raise BadInputError(f"the mask has pixel values other than 0 and 255 (e.g. {int(other[0])}): "
                            "use 255 for foreground and 0 for background", item)
    return grey == 255


def load_painted(mask_dir: str, choice: str, shape: tuple[int, int], item: str = "mask") -> np.ndarray:
    """The painted mask of a ``painted:<mask id>`` choice from ``mask_dir``, checked like an upload."""
    check_choice(choice)
    path = f"{str(mask_dir).rstrip('/') or '.'}/{choice[len(PAINTED):]}.png"
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        raise BadInputError(f"the painted mask {choice[len(PAINTED):]} is missing ({path})", item) from None
    return read_mask_png(raw, shape, item)


def curation_from_dict(data: Mapping[str, Any] | None, dir_root: str | None = None) -> Curation | None:
    """``{"excluded": {id: reason}, "masks": {id: choice}, "extra_seeds": [..], "extra_dirs": [..]}`` -> a
    ``Curation`` (sorted, so equal reviews hash equally); None when nothing is curated. ``extra_dirs`` are joined
    to ``dir_root`` when given, and painted masks are read from ``<dir_root>/painted_masks``. Raises ``BadInputError`` on a mask choice it does not know."""
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
                   extra_dirs=tuple(dirs),
                   mask_dir=PAINTED_DIR if dir_root is None else f"{str(dir_root).rstrip('/')}/{PAINTED_DIR}")
    return None if cur.is_empty else cur


def check_choice(choice: str, item: str = "mask") -> None:
    """A mask choice is "attribution", "instance:J" (J >= 0), "candidate:K" (K >= 0) or "painted:<mask id>"
    (24 hex digits)."""
    if choice == ATTRIBUTION:
        return
    for kind in (INSTANCE, CANDIDATE):
        if choice.startswith(kind) and choice[len(kind):].isdigit():
            return
    painted = choice[len(PAINTED):]
    if choice.startswith(PAINTED) and len(painted) == MASK_ID_LEN and all(c in "0123456789abcdef" for c in painted):
        return
    raise BadInputError(f"unknown mask choice {choice!r} (\"attribution\", \"instance:J\", \"candidate:K\" or "
                        "\"painted:<mask id>\")", item)


def chosen_fg_bg(image: SupportImage, choice: str, cfg: MaskConfig,
                 mask_dir: str = "") -> tuple[np.ndarray, np.ndarray]:
    """fg/bg of ``image`` under ``choice``: proposed instance mask J as fg with the eroded complement of all
    proposed masks as bg (the rule ``apply_masks`` uses for user images), the attribution thresholds
    (fg > ``fg_threshold``, bg < ``bg_threshold``, the method's fallback), or a painted mask from ``mask_dir`` as
    fg with its eroded complement as bg (the person drew the object: everything else is background), or candidate K
    of a user image's proposed masks (``engine.masks.fgbg.candidate_fg_bg``: the vocabulary rule's choice).
    ``BadInputError`` when the image has no such mask or no attribution map."""
    from engine.masks.fgbg import candidate_fg_bg, erode, threshold_fg_bg  # scipy: only when masks change

    check_choice(choice)
    if choice.startswith(PAINTED):
        fg = load_painted(mask_dir or PAINTED_DIR, choice, image.image.shape[:2], f"image {image.index}")
        return fg, erode(~fg, max(1, cfg.bg_erosion_iterations))
    if choice == ATTRIBUTION:
        if image.attribution is None:
            raise BadInputError("this image has no attribution map to threshold", f"image {image.index}")
        return threshold_fg_bg(image.attribution, cfg)
    if choice.startswith(CANDIDATE):
        if not image.instance_masks:
            raise BadInputError("this image has no proposed masks to choose from", f"image {image.index}")
        return candidate_fg_bg(image.instance_masks, int(choice[len(CANDIDATE):]), cfg)
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
                fg, bg = chosen_fg_bg(im, masks[iid], cfg, curation.mask_dir)
                out = dataclasses.replace(out, fg_mask=fg, bg_mask=bg, mask_choice=masks[iid])
            images.append(out)
    base = sets[0]
    return SupportSet(class_name=base.class_name, prompt=base.prompt, source=base.source, images=images)


def kept_images(support: SupportSet) -> list[SupportImage]:
    """The images prototypes are built from: every image not excluded by a person."""
    return [im for im in support.images if im.excluded is None]
