"""Which support images a class uses: its generated sets or one of the folders of images users uploaded for it.

Uploaded folders live under MEDIA_ROOT/user_support/<class id>/<uuid>/ (written by
``support_images.save_user_support_images``); the class's ``user_support_dir`` names the one in use, blank meaning
generated images. Changing it changes the
class's support key, so the next run rebuilds (or finds) the matching prototypes; the version bump makes concurrent
editors and stale runs notice.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F

from ovdiff_web.support.models import SupportSet
from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.common import media_store
from ovdiff_web.common.engine_bridge import build_config
from ovdiff_web.common.errors import ServiceError


USER_SUPPORT = "user_support"


def _parent(cls: VocabularyClass) -> Path:
    return Path(settings.MEDIA_ROOT) / USER_SUPPORT / str(cls.pk)


def uploaded_sets(cls: VocabularyClass) -> list[dict[str, Any]]:
    """Every folder uploaded for ``cls``, newest first: {folder, images (MEDIA_ROOT-relative), in_use}."""
    parent = _parent(cls)
    if not parent.is_dir():
        return []
    out = []
    folders = [p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for folder in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True):
        rel = f"{USER_SUPPORT}/{cls.pk}/{folder.name}"
        images = [f"{rel}/{f.name}" for f in sorted(folder.glob("*.png"))]
        out.append({"folder": folder.name, "images": images, "in_use": cls.user_support_dir == rel})
    return out


def generated_in_use(cls: VocabularyClass, sets: list[SupportSet]) -> int | None:
    """pk of the generated set a run with the default profile and settings uses now (None: uploaded images are
    in use, or that set was not built yet). Cheap: compares prompt, profile and seed, loads no model."""

    if cls.user_support_dir:
        return None
    profile = settings.OVDIFF_PROFILE
    support = build_config(profile).support
    prompt = support.prompt_template.format(cls.text.strip())
    for sset in sets:  # newest first
        first = next(iter(sset.images.all()), None)
        if (sset.source == SupportSet.Source.GENERATED and sset.profile == profile and sset.prompt == prompt
                and (first is None or first.seed in (None, support.seed))):
            return sset.pk
    return None


def _set_dir(cls: VocabularyClass, rel: str) -> None:
    VocabularyClass.objects.filter(pk=cls.pk).update(user_support_dir=rel, version=F("version") + 1)
    cls.vocabulary.bump_version()
    cls.refresh_from_db()


def use_generated(cls: VocabularyClass) -> None:
    """Go back to generated support images (uploaded folders are kept)."""
    _set_dir(cls, "")


class ChoiceRefused(ServiceError, LookupError):
    """No such uploaded folder for this class, or one a support-set version still needs."""

    code = "support_choice_refused"


def _folder(cls: VocabularyClass, folder: str) -> str:
    """The MEDIA_ROOT-relative path of an uploaded folder of ``cls``; ``ChoiceRefused`` for anything else."""
    if not folder.isalnum() or not (_parent(cls) / folder).is_dir():
        raise ChoiceRefused("no such uploaded support set for this class")
    return f"{USER_SUPPORT}/{cls.pk}/{folder}"


def use_uploaded(cls: VocabularyClass, folder: str) -> None:
    _set_dir(cls, _folder(cls, folder))


def delete_uploaded(cls: VocabularyClass, folder: str) -> bool:
    """Delete an uploaded folder; if it was in use the class goes back to generated images (returns True).
    A folder a support-set version added images from is kept (``ChoiceRefused``): that version must stay buildable."""
    rel = _folder(cls, folder)
    used_by = [v.number for v in cls.curations.all() if rel in (v.extra_dirs or [])]
    if used_by:
        raise ChoiceRefused(f"set {folder[:8]} was added to the reviewed support set (version "
                          f"{', '.join(map(str, used_by))}); it is kept so those versions stay buildable")
    was_in_use = cls.user_support_dir == rel
    media_store.remove(rel)  # first: with the bucket down nothing changes (a 503)
    if was_in_use:
        use_generated(cls)
    shutil.rmtree(Path(settings.MEDIA_ROOT) / rel, ignore_errors=True)
    return was_in_use
