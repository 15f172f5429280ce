"""What the class page and the API do with support masks, in one place: add uploaded images (with their masks)
to the class's set as a new version, replace the class's images by an upload, add a dataset's ground-truth regions
as a new version. Every change is a curation version or an audit entry with who and when; a refused request
stores nothing."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

from django.conf import settings
from django.db.models import F

from ovdiff_web.accounts import audit
from ovdiff_web.common import media_store
from ovdiff_web.support import curation
from ovdiff_web.support.curation_models import SupportCuration
from ovdiff_web.support.masks import ground_truth
from ovdiff_web.support.masks.store import Stored, describe
from ovdiff_web.support.masks.uploads import store_upload
from ovdiff_web.vocabularies.models import VocabularyClass

UPLOAD_MODES = ("add", "replace")  # support images joined to the class's ones (a new version), or as its own


def _discard(stored: Stored) -> None:
    """Take back a folder whose version could not be written (nothing half-kept)."""
    try:
        media_store.remove(stored.rel)
    except Exception:  # noqa: BLE001 - the local copy goes in any case; the bucket sweep finds the rest
        pass
    shutil.rmtree(Path(settings.MEDIA_ROOT) / stored.rel, ignore_errors=True)


def _join(cls: VocabularyClass, stored: Stored, summary: str, user: Any,
          expected_version: int | None) -> SupportCuration:
    try:
        return curation.add_folder(cls, stored.rel, stored.n_images, user=user, expected_version=expected_version,
                                   summary=summary)
    except BaseException:
        _discard(stored)
        raise


def add_uploads(cls: VocabularyClass, images: Sequence[Any], masks: Sequence[Any] = (), archive: Any = None, *,
                user: Any = None, expected_version: int | None = None) -> tuple[SupportCuration, Stored]:
    """Store an upload (images, their masks by name, or a zip) and join it to the class's set as a new version;
    images without a mask get proposed masks when the set is rebuilt, the others keep the mask given."""
    stored = store_upload(cls.pk, images, masks, archive)
    return _join(cls, stored, f"added {describe(stored)}", user, expected_version), stored


def replace_uploads(cls: VocabularyClass, images: Sequence[Any], masks: Sequence[Any] = (), archive: Any = None,
                    *, user: Any = None) -> Stored:
    """Store an upload and make it the class's support images (the generated ones are no longer used)."""
    stored = store_upload(cls.pk, images, masks, archive)
    _make_own(cls, stored, user)
    return stored


def _make_own(cls: VocabularyClass, stored: Stored, user: Any) -> None:
    """``stored`` becomes the class's own support images (its upload folder); the class's version moves on."""
    old_dir, from_version = cls.user_support_dir, cls.version
    VocabularyClass.objects.filter(pk=cls.pk).update(user_support_dir=stored.rel, version=F("version") + 1)
    cls.vocabulary.bump_version()
    cls.refresh_from_db()
    audit.record(user, cls, "support_upload", {"user_support_dir": [old_dir, cls.user_support_dir],
                                               "masks_given": [None, stored.n_masks]}, from_version=from_version)


def add_ground_truth(cls: VocabularyClass, dataset: Any, image_ids: Any, *, crop: bool = True, user: Any = None,
                     expected_version: int | None = None) -> tuple[SupportCuration, Stored]:
    """The class's region in each chosen image of a dataset the user may read, with its exact mask, joined to
    the class's set as a new version (``ground_truth.GroundTruthRefused`` naming what is wrong)."""
    stored, found = _ground_truth_folder(cls, dataset, image_ids, crop, user)
    how = "cropped to the region" if crop else "whole images"
    summary = (f"added {stored.n_images} image{'s' if stored.n_images != 1 else ''} with the ground truth of "
               f"dataset {found.name} ({how})")
    return _join(cls, stored, summary, user, expected_version), stored


def replace_by_ground_truth(cls: VocabularyClass, dataset: Any, image_ids: Any, *, crop: bool = True,
                            user: Any = None) -> tuple[str, Stored]:
    """The class's regions in a dataset's images, with their exact masks, become the class's own support images
    (as ``replace_uploads`` does with files): what a few-shot profile, which has no generator, needs of a class
    that has no images of its own yet. Returns what happened, in words."""
    stored, found = _ground_truth_folder(cls, dataset, image_ids, crop, user)
    _make_own(cls, stored, user)
    return (f"replaced the class's images by {stored.n_images} image{'s' if stored.n_images != 1 else ''} with the "
            f"ground truth of dataset {found.name}"), stored


def _ground_truth_folder(cls: VocabularyClass, dataset: Any, image_ids: Any, crop: bool,
                         user: Any) -> tuple[Stored, Any]:
    found = ground_truth.dataset_for(user, dataset)
    ids = ground_truth.parse_ids(image_ids)
    return ground_truth.store_regions(cls.pk, cls.name, found, ids, crop=crop), found
