"""Prediction jobs: segment new, unlabelled images with a vocabulary on the workers.

A prediction job is a ``Run`` of kind ``segmentation``: the same rows, stages, shards, planning task, class
builds (cached banks skipped), cancel, resume and re-delivery as an evaluation (``services/runs.py``,
``tasks/workflow.py``); only the per-image step differs (``prediction_work.predict_shard``: no ground truth,
labels in vocabulary order, explanation arrays kept). API and dashboard both call ``create_prediction``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from django.conf import settings
from django.db import transaction

from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import Run
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.predictions import files as prediction_files
from ovdiff_web.common import engine_bridge
from ovdiff_web.runs.services import RunInputError, check_support_available, create_rows
from engine.class_specs import is_stuff_text
from ovdiff_web.vocabularies.services import parse_names
from ovdiff_web.accounts import quotas
from ovdiff_web.common.paths import confine
from ovdiff_web.accounts import access

BACKGROUND = "background"


def adhoc_snapshot(classes: Sequence[str] | str, stuff: Sequence[str] | str = ()) -> list[dict[str, Any]]:
    """Vocabulary entries of a typed class list; ``stuff`` names the stuff classes (others: the labeller decides).

    RunInputError (field ``classes``/``stuff``) for an empty list, too many classes, a name too long, or stuff
    names that are not in the list."""

    names = parse_names(classes)
    if not names:
        raise RunInputError("give at least one class name (or a stored vocabulary)", field="classes")
    limit = settings.OVDIFF_MAX_CLASSES_PER_VOCABULARY
    if len(names) > limit:
        raise RunInputError(f"{len(names)} classes; at most {limit} per job", field="classes")
    long = next((n for n in names if len(n) > 200), None)
    if long:
        raise RunInputError(f"class name longer than 200 characters: {long[:60]}...", field="classes")
    if any(n.lower() == BACKGROUND for n in names):
        raise RunInputError("'background' is added by the method; leave it out", field="classes")
    marked = {n.lower() for n in parse_names(stuff)}
    unknown = marked - {n.lower() for n in names}
    if unknown:
        raise RunInputError(f"stuff names classes not in the list: {', '.join(sorted(unknown))}", field="stuff")
    return [{"name": n, "prompt": "", "is_stuff": (n.lower() in marked) if marked else is_stuff_text(n),
             "label_source": "user" if marked else "labeller", "user_support_dir": ""} for n in names]


def create_prediction(*, user: Any, files: Sequence[Any] = (), archive: Any | None = None,
                      dataset: Dataset | None = None, folder: str = "", vocabulary: Vocabulary | None = None,
                      classes: Sequence[str] | str = (), stuff: Sequence[str] | str = (), profile: str | None = None,
                      overrides: dict[str, Any] | None = None) -> Run:
    """Validate everything, keep the images and queue the job (202 for the caller).

    Refusals, with nothing kept: ``RunInputError`` (field named), ``prediction_files.ImageRefused`` (the image
    named), ``uploads.ZipRejected``, ``paths.PathNotAllowed``, ``quotas.QuotaExceeded``."""

    profile = profile or settings.OVDIFF_PROFILE
    quotas.check_can_queue(user)
    sources = [bool(files) or archive is not None, dataset is not None, bool(folder)]
    if sum(sources) != 1:
        raise RunInputError("give the images one way: files (and/or a zip archive), a dataset, or a folder",
                            field="files")
    config = engine_bridge.checked_config(profile, overrides)
    if vocabulary is not None:
        snapshot = [c.snapshot() for c in vocabulary.classes.all()]
        if not snapshot:
            raise RunInputError(f"vocabulary {vocabulary.name!r} has no classes", field="vocabulary")
    elif classes:
        snapshot = adhoc_snapshot(classes, stuff)
    else:
        raise RunInputError("give a vocabulary or a list of classes", field="classes")
    check_support_available(profile, snapshot)
    staging, image_ids, image_root = _images(files, archive, dataset, folder)
    names = [c["name"] for c in snapshot]
    moved: list[Path] = []
    try:
        with transaction.atomic():
            run = create_rows(kind=Run.Kind.SEGMENTATION, vocabulary=vocabulary, vocabulary_snapshot=snapshot,
                              dataset=dataset, profile=profile, settings=config.to_dict(), limit=None,
                              class_names=[BACKGROUND, *names], label_map={n: i + 1 for i, n in enumerate(names)},
                              image_ids=image_ids, image_root=image_root,
                              created_by=user if getattr(user, "is_authenticated", False) else None)
            if staging is not None:
                run.image_root = prediction_files.commit_uploads(staging, run.pk)
                moved.append(Path(run.image_root))
                Run.objects.filter(pk=run.pk).update(image_root=run.image_root)
    except BaseException:  # the row is rolled back: its images go too
        for path in [staging, *moved]:
            if path is not None:
                prediction_files.discard(path)
        raise
    return run


def _images(files: Sequence[Any], archive: Any | None, dataset: Dataset | None,
            folder: str) -> tuple[Path | None, list[str], str]:
    """(staging folder of validated uploads or None, image ids, image_root) of the job's one image source."""

    if dataset is not None:
        if dataset.status != Dataset.Status.READY or not dataset.image_ids:
            raise RunInputError(f"dataset {dataset.name!r} is not ready (status {dataset.status})", field="dataset")
        return None, _bounded(list(dataset.image_ids), "dataset"), ""
    if folder:
        root = confine(folder, settings.OVDIFF_DATASET_ROOTS, field="folder")
        if not root.is_dir():
            raise RunInputError(f"{folder}: not a folder", field="folder")
        image_ids = prediction_files.folder_images(root)
        if not image_ids:
            raise RunInputError(f"{folder}: no image files in this folder", field="folder")
        return None, _bounded(image_ids, "folder"), str(root)
    staging, image_ids = prediction_files.stage_uploads(files, archive)  # checks the limit itself
    return staging, image_ids, ""


def _bounded(image_ids: list[str], field: str) -> list[str]:
    limit = settings.OVDIFF_PREDICT_MAX_IMAGES
    if len(image_ids) > limit:
        raise RunInputError(f"{len(image_ids)} images; at most {limit} per prediction job "
                            "(OVDIFF_PREDICT_MAX_IMAGES)", field=field)
    return image_ids


def predictions(user: Any) -> Any:
    """The prediction jobs ``user`` may see, newest first."""

    return access.scope(Run.objects.filter(kind=Run.Kind.SEGMENTATION), user).prefetch_related("stages")
