"""One small thumbnail per proposed mask of a support image: the image with that one mask overlaid, so a
reviewer tells the proposals apart at a glance. Written next to the mask in the support set's folder
(``support/<xx>/<key>/NNNN_inst_J_thumb.png``) the first time the class page shows it, and served like every
file of that set through ``/files/`` (``ops.media_files``: readable by whoever may read the set)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.storage.atomic import atomic_write
from ovdiff_web.common.paths import PathNotAllowed, media_path

THUMB_SIDE = 160  # pixels, longest side
COLOUR = (255, 200, 0)


def thumb_path(instance_rel: str, outside: bool = False) -> str:
    rel = Path(instance_rel)
    return (rel.parent / f"{rel.stem}_{'outside_' if outside else ''}thumb.png").as_posix()


def proposal_thumbs(image: Any) -> list[str]:
    """MEDIA_ROOT-relative thumbnails of each proposed mask of ``image`` (a ``SupportImage`` row), made when
    missing; "" for a proposal whose files are gone."""
    return [_ensure(image.image, rel) for rel in image.instances or []]


def candidate_thumb(image: Any, k: int) -> str:
    """Thumbnail of candidate ``k`` of the engine's ``user_candidates``: 0 the first proposed mask, 1 everything
    outside it, k >= 2 proposed mask k - 1; "" when that mask is not there."""
    instances = image.instances or []
    j = 0 if k <= 1 else k - 1
    if k < 0 or j >= len(instances):
        return ""
    return _ensure(image.image, instances[j], outside=k == 1)


def _ensure(image_rel: str, instance_rel: str, outside: bool = False) -> str:
    rel = thumb_path(instance_rel, outside)
    try:
        target = media_path(rel)
        if target.is_file():
            return rel
        source, mask = media_path(image_rel), media_path(instance_rel)
    except PathNotAllowed:
        return ""
    if not (source.is_file() and mask.is_file()):
        return ""
    try:
        atomic_write(target, lambda tmp: _render(source, mask, outside).save(tmp, format="PNG"))
    except OSError:
        return ""
    return rel


def _render(source: Path, mask: Path, outside: bool = False) -> Any:
    """The image with the mask (or, ``outside``, everything outside it) tinted and outlined, at most
    ``THUMB_SIDE`` pixels on its longest side."""
    import numpy as np
    from PIL import Image

    with Image.open(source) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    with Image.open(mask) as m:
        fg = np.asarray(m.convert("L")) > 127
    if fg.shape != rgb.shape[:2]:
        fg = np.asarray(Image.fromarray(fg.astype(np.uint8) * 255).resize(rgb.shape[1::-1], Image.NEAREST)) > 127
    if outside:
        fg = ~fg
    colour = np.array(COLOUR, dtype=np.float32)
    out = rgb * np.where(fg[..., None], 0.45, 0.6)  # the rest dimmed, so the proposal stands out
    out[fg] += 0.55 * colour
    edge = fg & ~(np.roll(fg, 1, 0) & np.roll(fg, -1, 0) & np.roll(fg, 1, 1) & np.roll(fg, -1, 1))
    out[edge] = colour
    thumb = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.BILINEAR)
    return thumb
