"""A class's support images on the dashboard: uploading your own, listing its support sets, and the
attribution / fg / bg layers as PNGs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from django.conf import settings
from django.db.models import F, Q

from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.common import media_store
from ovdiff_web.common.images import png_bytes
import shutil
import tempfile
import uuid
from engine.errors import BadInputError
from ovdiff_web.common.paths import media_relative
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.support.models import SupportSet
from ovdiff_web.common.engine_bridge import build_config


MAX_SUPPORT_UPLOADS = 64


def save_user_support_images(cls: VocabularyClass, files: Sequence[Any]) -> int:
    """Store the uploads (``store_user_support_images``) and point the class at them (its support key changes,
    so artifacts rebuild). Raises ``engine.errors.BadInputError`` naming the first unusable file."""
    rel = store_user_support_images(cls, files)
    VocabularyClass.objects.filter(pk=cls.pk).update(user_support_dir=rel, version=F("version") + 1)
    cls.vocabulary.bump_version()
    cls.refresh_from_db()
    return len(files)


def store_user_support_images(cls: VocabularyClass, files: Sequence[Any]) -> str:
    """Validate each upload with the engine's image loader and store them as PNGs in a fresh folder under
    MEDIA_ROOT/user_support; returns that folder, MEDIA_ROOT-relative (the class is not changed).

    Raises ``engine.errors.BadInputError`` naming the first unusable file; nothing is kept in that case.
    """

    from PIL import Image

    from engine.images import load_image

    if not files:
        raise BadInputError("no images uploaded")
    if len(files) > MAX_SUPPORT_UPLOADS:
        raise BadInputError(f"{len(files)} images; at most {MAX_SUPPORT_UPLOADS} per upload")
    media = Path(settings.MEDIA_ROOT)
    parent = media / "user_support" / str(cls.pk)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=parent))
    try:
        for i, upload in enumerate(files):
            raw = staging / f"raw-{i}"
            with open(raw, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                array = load_image(raw)
            except BadInputError as exc:
                raise BadInputError(exc.detail, item=getattr(upload, "name", f"file {i}")) from None
            raw.unlink()
            Image.fromarray(array).save(staging / f"{i:03d}.png", format="PNG")
        final = parent / uuid.uuid4().hex
        staging.rename(final)
        staging = final  # from here on, a failed publish (bucket down) must not leave the folder behind
        media_store.publish(final)  # workers on other machines build the class from it
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return media_relative(final)


def support_sets_for(cls: VocabularyClass) -> Any:
    """Support sets built for this class's name and text (any profile), newest first, with images and banks.

    A generated set stores the generator prompt (the profile's template around the class text, e.g. "A good photo
    of a cat"); a user folder stores the bare text. Both forms are matched. A set of someone's uploads or curated
    review (``restricted``) is listed only for the class it was built for, never for another user's class of the
    same name."""

    prompts = {cls.text}
    for profile, _ in PROFILE_CHOICES:
        prompts.add(build_config(profile).support.prompt_template.format(cls.text.strip()))
    own = SupportSet.objects.filter(Q(restricted=False) | Q(classes=cls)).values("pk")
    return (SupportSet.objects.filter(class_name=cls.name, prompt__in=prompts, pk__in=own)
            .prefetch_related("images", "banks").order_by("-created_at"))


SUPPORT_LAYERS = ("attribution", "fg_mask", "bg_mask")


def support_layer_png(path: Path, layer: str) -> bytes:
    """A transparent overlay from a stored grayscale PNG: attribution as a heat map, fg red, bg blue, a proposed
    instance mask yellow."""
    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
    rgba = np.zeros(grey.shape + (4,), dtype=np.uint8)
    if layer == "attribution":
        rgba[..., 0] = np.clip(grey * 2.0, 0, 1) * 255
        rgba[..., 1] = np.clip(grey * 2.0 - 1.0, 0, 1) * 255
        rgba[..., 2] = np.clip(1.0 - grey * 2.0, 0, 1) * 96
        rgba[..., 3] = (60 + 195 * grey).astype(np.uint8)
    else:
        colour = {"fg_mask": (255, 40, 40), "instance": (250, 200, 0)}.get(layer, (40, 90, 255))
        rgba[..., :3] = colour
        rgba[..., 3] = np.where(grey > 0.5, 255, 0).astype(np.uint8)
    return png_bytes(rgba)
