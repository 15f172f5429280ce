"""What the dashboard reports about finished runs: per-class rows, exports (metrics.json, metrics.csv,
predictions.zip, COCO polygons, YOLO segmentation labels), settings diffs between runs, and which runs a thing/stuff label change makes stale.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Iterator, Sequence

from django.conf import settings

from ovdiff_web.runs.models import Run
from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.common.paths import PathNotAllowed, media_path
from ovdiff_web.runs.reproduction import run_reproduction
from django.db.models import Exists, OuterRef, Q
from ovdiff_web.runs.models import ImageResult
from ovdiff_web.common import polygons
from ovdiff_web.runs.images import load_prediction
from ovdiff_web.runs.legend import run_legend
from ovdiff_web.accounts import access
from ovdiff_web.support import curation
from ovdiff_web.support.masks.chosen import chosen_rows
from ovdiff_web.support.models import SupportSet


def changed_labels(run: Run) -> list[dict[str, Any]]:
    """Classes whose thing/stuff label differs now from what the run used: the run's results are stale."""
    ids = [e.get("class_id") for e in run.vocabulary_snapshot or [] if e.get("class_id")]
    if not ids:
        return []
    current = {c.pk: c for c in VocabularyClass.objects.filter(pk__in=ids).select_related("label_changed_by")}
    out = []
    for entry in run.vocabulary_snapshot:
        cls = current.get(entry.get("class_id"))
        if cls is not None and bool(entry.get("is_stuff")) != cls.is_stuff:
            out.append({"name": cls.name, "was_stuff": bool(entry.get("is_stuff")), "is_stuff": cls.is_stuff,
                        "by": cls.label_changed_by, "at": cls.label_changed_at})
    return out


def runs_affected_by(cls: VocabularyClass) -> list[Run]:
    """Runs with results made with another thing/stuff label (set by a person) or another support-set version of
    this class than the current one (a run cancelled before any result has nothing to be stale)."""
    return runs_affected_by_many([cls]).get(cls.pk, [])


def runs_affected_by_many(classes: Sequence[VocabularyClass]) -> dict[int, list[Run]]:
    """``runs_affected_by`` for classes of one vocabulary in one query (a 150-class page, 1,000 runs)."""


    if not classes:
        return {}
    label = {c.pk: c.is_stuff for c in classes if c.label_source == "person"}
    support = {c.pk: c.support_version for c in classes}
    has_results = Exists(ImageResult.objects.filter(run=OuterRef("pk")))
    runs = (Run.objects.filter(vocabulary_id=classes[0].vocabulary_id)
            .filter(~Q(status=Run.Status.CANCELLED) | has_results)
            .only("id", "vocabulary_snapshot", "status", "created_at"))
    out: dict[int, list[Run]] = {}
    for run in runs:
        for entry in run.vocabulary_snapshot or []:
            pk = entry.get("class_id")
            if pk not in support:
                continue
            if (pk in label and bool(entry.get("is_stuff")) != label[pk]) or \
                    int(entry.get("support_version") or 0) != support[pk]:
                out.setdefault(pk, []).append(run)
    return out


def with_previous(runs: Sequence[Run]) -> list[Run]:
    """``runs`` (newest first), each with ``previous``: the next older one on the same dataset (None), so a page
    can offer "compare with the previous run" after a re-run."""
    for i, run in enumerate(runs):
        run.previous = next((r for r in runs[i + 1:] if r.dataset_id == run.dataset_id and r.kind == run.kind), None)
    return list(runs)


def support_versions(run: Run) -> dict[str, int]:
    """class name -> the support-set version (curation) the run used; 0 = as built."""
    return {e.get("name", ""): int(e.get("support_version") or 0) for e in run.vocabulary_snapshot or []}


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings -> {"a.b.c": value} (lists kept whole): easy to show and to diff."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def settings_diff(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Every flattened setting with its value per run and whether the runs disagree."""
    flats = [flatten({"profile": r.profile, "limit": r.limit, **(r.settings or {})}) for r in runs]
    keys = sorted(set().union(*[f.keys() for f in flats])) if flats else []
    missing = object()
    rows = []
    for key in keys:
        values = [f.get(key, missing) for f in flats]
        shown = ["—" if v is missing else json.dumps(v) if not isinstance(v, str) else v for v in values]
        rows.append({"key": key, "values": shown, "differs": len(set(shown)) > 1})
    return rows


def per_class_rows(run: Run) -> list[dict[str, Any]]:
    """[{index, name, iou}] in label order; IoU None for classes absent from prediction and ground truth."""
    per = run.per_class_iou or {}
    return [{"index": i, "name": name, "iou": per.get(name)} for i, name in enumerate(run.class_names or [])]


def metrics_payload(run: Run) -> dict[str, Any]:
    """``Run.results()`` plus what produced it and every image's scores (the dashboard's metrics.json export)."""
    return {**run.results(), "profile": run.profile, "dataset": run.dataset.name if run.dataset else None,
            "vocabulary": run.vocabulary.name if run.vocabulary else None, "settings": run.settings,
            "reproduction": run_reproduction(run),
            "images": [{"image_id": r.image_id, "iou": r.iou, "pixel_accuracy": r.pixel_accuracy}
                       for r in run.image_results.order_by("image_id")]}


def metrics_csv(run: Run) -> str:
    """Per-class IoU then per-image IoU; a comment line first when the output is from random weights."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    if run.is_random_weights:
        writer.writerow([f"# {run.random_weights_note}"])
    writer.writerow(["kind", "name", "iou"])
    writer.writerow(["mean", "mIoU", "" if run.miou is None else f"{run.miou:.6f}"])
    for row in per_class_rows(run):
        writer.writerow(["class", row["name"], "" if row["iou"] is None else f"{row['iou']:.6f}"])
    for r in run.image_results.order_by("image_id"):
        writer.writerow(["image", r.image_id, "" if r.iou is None else f"{r.iou:.6f}"])
    return buf.getvalue()


def predictions_zip(run: Run) -> Path:
    """A zip of the run's palette PNG predictions (+ metrics.json) in a temp file under MEDIA_ROOT/tmp."""
    import numpy as np

    tmp_dir = Path(settings.MEDIA_ROOT) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    target = tmp_dir / f"run-{run.pk}-predictions-{np.random.default_rng().integers(1 << 62):x}.zip"
    taken: set[str] = set()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for r in run.image_results.exclude(prediction="").order_by("image_id"):
            try:
                path = media_path(r.prediction)
            except PathNotAllowed:
                continue
            if path.is_file():
                zf.write(path, arcname=polygons.export_name("predictions", r.image_id, ".png", taken))
        zf.writestr("metrics.json", json.dumps(metrics_payload(run), indent=2, default=str))
        if run.is_random_weights:
            zf.writestr("RANDOM_WEIGHTS.txt", run.random_weights_note + "\n")
    return target


def export_classes(run: Run) -> list[polygons.ExportClass]:
    """(legend index, name, is_stuff) of the classes a run's polygon exports annotate: every legend class, the
    dataset's background (index 0 when the dataset has one) aside."""
    stuff = {c.get("name"): bool(c.get("is_stuff")) for c in run.vocabulary_snapshot or []}
    names = list(run.class_names or [])
    background = run.dataset.has_background if run.dataset is not None else names[:1] == ["background"]
    return [(row["index"], row["name"], stuff.get(row["name"], False)) for row in run_legend(run)
            if not (background and row["index"] == 0)]


def _labelled(run: Run) -> Iterator[polygons.LabelledImage]:
    """Each result with its prediction in legend indices (None when its file is gone)."""
    for row in run.image_results.order_by("image_id"):
        try:
            labels = load_prediction(row, shown=True)
        except (LookupError, OSError, ValueError):
            labels = None
        yield row.image_id, row.width, row.height, labels


def coco_polygons(run: Run, area: int = polygons.MIN_AREA) -> dict[str, Any]:
    """The run's predictions as COCO polygons (category id = legend index, as its label PNGs hold)."""
    return polygons.coco_polygons_document(_labelled(run), export_classes(run), area, {
        "description": f"ovdiff run {run.pk}: predictions as polygons", "profile": run.profile})


def yolo_zip(run: Run, area: int = polygons.MIN_AREA) -> bytes:
    """The run's predictions as YOLO segmentation labels and ``data.yaml``."""
    return polygons.yolo_zip(_labelled(run), export_classes(run), area, f"ovdiff run {run.pk} ({run.profile})")


def mask_choice_rows(run: Run, user: Any) -> list[dict[str, Any]]:
    """The support images whose proposed mask this run chose with its whole vocabulary in view, among the support
    sets ``user`` may read (``support.masks.chosen``)."""
    choices = run.support_mask_choices or {}
    if not choices:
        return []
    sets = access.scope(SupportSet.objects.filter(class_name__in=list(choices), profile=run.profile), user)
    rows = chosen_rows(sets, choices)
    ids = {c.get("name"): c.get("class_id") for c in run.vocabulary_snapshot or [] if c.get("class_id")}
    classes = VocabularyClass.objects.filter(pk__in=list(ids.values()))
    readable = set(access.scope(classes, user).values_list("pk", flat=True))
    editable = {c.pk: (c, curation.current(c)) for c in access.scope(classes, user, write=True)}
    for row in rows:  # where a person keeps or overrides the choice: the class's page, when the reader may see it
        class_id = ids.get(row["class_name"])
        row["class_id"] = class_id if class_id in readable else None
        cls, version = editable.get(class_id, (None, None))
        row["kept"] = version is not None and version.masks.get(row["image"].content_id) == row["choice"]
        row["keep_class"] = cls if cls is not None and not row["kept"] else None
    return rows
