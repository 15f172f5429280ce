"""Correcting a support image's foreground by hand: the mask the editor starts from, and saving a painted mask.

A saved mask is validated (a PNG of the image's natural size holding only 0 and 255), stored content-addressed
under MEDIA_ROOT/painted_masks/<mask id>.png (published to the media bucket, so a worker elsewhere reads it) and
chosen for its image as ``painted:<mask id>`` in a new curation version, with who and when, under the same lock and
compare-and-swap as every curation edit (``curation.append_version``: 409 on a stale ``expected_version``). The
mask id hashes the pixels, so the class's curated support key changes and "Rebuild" builds the edited mask, which
replaces whatever the proposer or an earlier choice gave that image.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from engine.storage.atomic import atomic_write
from engine.errors import BadInputError
from ovdiff_web.common import media_store
from ovdiff_web.common.images import png_bytes
from ovdiff_web.common.paths import PathNotAllowed, media_path
from ovdiff_web.support import curation
from ovdiff_web.support.curation_models import SupportCuration
from ovdiff_web.support.images import support_sets_for
from ovdiff_web.support.models import SupportImage
from ovdiff_web.vocabularies.models import VocabularyClass

MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # engine.support.curation.MAX_MASK_BYTES: the request is refused before reading
SOURCES = {"attribution": "the attribution threshold", "": "the proposer's rule"}


def class_image(cls: VocabularyClass, image_pk: int) -> SupportImage | None:
    """The support image ``image_pk`` when it belongs to one of the class's support sets (None otherwise)."""
    return (SupportImage.objects.filter(pk=image_pk, support_set__in=support_sets_for(cls))
            .exclude(content_id="").select_related("support_set").first())


def _file(rel: str) -> Path | None:
    try:
        path = media_path(rel) if rel else None
    except PathNotAllowed:
        return None
    return path if path is not None and path.is_file() else None


def natural_size(image: SupportImage) -> tuple[int, int]:
    """(height, width) of the support image's pixels (read from the PNG header)."""
    from PIL import Image

    path = _file(image.image)
    if path is None:
        raise curation.CurationRefused(f"the pixels of support image {image.index} are missing", "image")
    with Image.open(path) as img:
        return img.height, img.width


def chosen(cls: VocabularyClass, image: SupportImage) -> str:
    """The image's mask choice in the version in use ("" = the proposer's rule)."""
    version = curation.current(cls)
    return (version.masks or {}).get(image.content_id, curation.AUTO) if version is not None else curation.AUTO


def current_foreground(cls: VocabularyClass, image: SupportImage) -> tuple[str, str]:
    """(MEDIA_ROOT-relative 0/255 PNG or "", what it is) of the foreground the version in use gives ``image``:
    an edited mask, the built foreground of that choice (this image's or another built set's copy of it), a
    proposed instance mask not built yet, else the foreground as built."""
    from engine.support.curation import painted_file

    choice = chosen(cls, image)
    if choice.startswith(curation.PAINTED):
        return painted_file(choice), "your edited mask"
    label = SOURCES.get(choice, f"proposed mask {choice[len('instance:'):]}")
    if image.mask_choice == choice and _file(image.fg_mask):
        return image.fg_mask, label
    twins = (SupportImage.objects.filter(support_set__in=support_sets_for(cls), content_id=image.content_id)
             .exclude(fg_mask="").order_by("-support_set__created_at"))
    for twin in twins:
        if twin.mask_choice == choice and _file(twin.fg_mask):
            return twin.fg_mask, label
    if choice.startswith("instance:"):
        j = int(choice[len("instance:"):])
        for candidate in [image, *twins]:
            if j < len(candidate.instances or []) and _file(candidate.instances[j]):
                return candidate.instances[j], label
    return (image.fg_mask, "the foreground as built") if _file(image.fg_mask) else ("", "no foreground yet")


def current_mask_png(cls: VocabularyClass, image: SupportImage) -> bytes:
    """The editor's starting mask: the current foreground as a one-channel PNG of 0 and 255 at the image's
    natural size (all 0 when the image has none)."""
    import numpy as np
    from PIL import Image

    shape = natural_size(image)
    rel, _ = current_foreground(cls, image)
    path = _file(rel)
    mask = np.zeros(shape, np.uint8)
    if path is not None:
        with Image.open(path) as img:
            grey = np.asarray(img.convert("L"))
        if grey.shape == shape:
            mask = np.where(grey > 127, 255, 0).astype(np.uint8)
    return png_bytes(mask)


def save_mask(cls: VocabularyClass, content_id: str, raw: bytes, *, user: Any = None,
              expected_version: int | None = None) -> SupportCuration:
    """Take ``raw`` (PNG bytes) as the foreground of support image ``content_id``: a new version "image N: mask
    edited by <user>". ``CurationRefused`` (400, nothing stored) for an unknown image or a mask that is not a
    0/255 PNG of the image's natural size or has no foreground; ``VersionConflict`` (409) when
    ``expected_version`` is stale, the mask file then not written either."""
    from PIL import Image

    from engine.support.curation import PAINTED, mask_id, painted_file, read_mask_png

    image = curation.support_image(cls, content_id)
    try:
        mask = read_mask_png(raw, natural_size(image), "")
    except BadInputError as exc:
        raise curation.CurationRefused(str(exc), "mask") from None
    if not mask.any():
        raise curation.CurationRefused("the mask has no foreground (all 0): paint the object, or exclude the "
                                       "image instead", "mask")
    choice = f"{PAINTED}{mask_id(mask)}"
    rel = painted_file(choice)
    who = getattr(user, "username", "") if getattr(user, "is_authenticated", False) else ""

    def change(data: dict[str, Any]) -> dict[str, list[Any]]:
        # inside the version's transaction: a stale expected_version (409) never gets here, and a failed
        # publish (bucket down) rolls the version back
        target = Path(settings.MEDIA_ROOT) / rel
        if not target.is_file():
            atomic_write(target, lambda tmp: Image.fromarray(mask.astype("uint8") * 255).save(tmp, format="PNG"))
        media_store.publish(rel)
        old = data["masks"].get(image.content_id, curation.AUTO)
        data["masks"][image.content_id] = choice
        return {f"mask:{image.content_id[:10]}": [old, choice]}

    return curation.append_version(cls, user, expected_version, "support_mask_edit",
                                   f"image {image.index}: mask edited by {who or 'an anonymous user'}", change)
