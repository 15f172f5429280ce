"""Images behind a run's pages: dataset samples, predictions and ground truth, label-map PNGs for
overlays (with hidden classes), palette colours and the images behind a confusion cell.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import F

from ovdiff_web.common.paths import PathNotAllowed, media_path
from ovdiff_web.datasets.preview import find_sample
from ovdiff_web.runs.legend import shown_labels_path
from ovdiff_web.runs.models import ImageResult, Run

if TYPE_CHECKING:
    import numpy as np


MAX_CELL_SCAN = 400  # images scanned to answer "which images are behind this confusion cell"


def dataset_sample(run: Run, image_id: str) -> tuple[Any, Any]:
    """(SegDataset, Sample) of one image of a run; LookupError when the dataset or the sample is gone."""
    if run.dataset is None:
        raise LookupError("the run's dataset was deleted")
    return find_sample(run.dataset, image_id)


def load_prediction(result: ImageResult, shown: bool = False) -> np.ndarray:
    """The stored prediction of one image: dataset label indices (>= n: no dataset label), or with ``shown`` the
    ``legend.run_legend`` indices that tell which vocabulary class it was (runs older than that file: the same)."""
    from engine.images import load_label_png

    if not result.prediction:
        raise LookupError(f"no prediction stored for {result.image_id!r}")
    rel = result.prediction
    if shown and shown_labels_path(rel):
        try:
            if media_path(shown_labels_path(rel)).is_file():
                rel = shown_labels_path(rel)
        except PathNotAllowed:
            pass
    try:
        path = media_path(rel)
    except PathNotAllowed as exc:
        raise LookupError(str(exc)) from None
    if not path.is_file():
        raise LookupError(f"prediction file of {result.image_id!r} is missing")
    return load_label_png(path)


def load_ground_truth(run: Run, image_id: str) -> np.ndarray:
    seg, sample = dataset_sample(run, image_id)
    return seg.load(sample)[1]


def load_dataset_image(run: Run, image_id: str) -> np.ndarray:
    seg, sample = dataset_sample(run, image_id)
    from engine.images import load_image

    return load_image(sample.image_path, seg.max_pixels, apply_exif=seg.exif_transpose)


def cell_hits(run: Run, p: np.ndarray, g: np.ndarray, gt: int, pred: int) -> np.ndarray:
    """Boolean map of the pixels of ground truth ``gt`` predicted as ``pred`` (n: any class with no dataset label)."""
    n = len(run.class_names or [])
    return (g == gt) & ((p >= n) if pred == n else (p == pred))


def images_in_cell(run: Run, gt: int, pred: int, limit: int = 60) -> tuple[list[tuple[ImageResult, int]], int]:
    """Images with pixels of ground-truth ``gt`` predicted as ``pred`` (``pred`` = n: any class with no dataset
    label, see ``legend.py``): [(result, pixel count)] most first, and how many images were scanned (bounded by
    MAX_CELL_SCAN so the page stays fast)."""
    found: list[tuple[ImageResult, int]] = []
    scanned = 0
    for result in run.image_results.exclude(prediction="").order_by("iou", "image_id")[:MAX_CELL_SCAN]:
        scanned += 1
        try:
            p = load_prediction(result)
            g = load_ground_truth(run, result.image_id)
        except (LookupError, OSError, ValueError):
            continue
        if p.shape != g.shape:
            continue
        count = int(cell_hits(run, p, g, gt, pred).sum())
        if count:
            found.append((result, count))
    found.sort(key=lambda item: -item[1])
    return found[:limit], scanned


# -- the gallery: images filtered by a class present and an IoU range, sorted by IoU or name ----------------------

CLASS_WHERE = {"gt": "in the ground truth", "pred": "in the prediction", "either": "in the ground truth or the prediction"}
GALLERY_SORTS = ("iou", "name")
MAX_GT_BACKFILL = 400  # older rows (no stored ground-truth classes) read per request


@dataclass(frozen=True)
class GalleryQuery:
    """What the images list shows: ``class_name`` present ``where`` (``CLASS_WHERE``), per-image IoU within
    [``iou_min``, ``iou_max``] (fractions; an image without an IoU never matches a range), sorted by ``sort``
    (``iou``: images without an IoU last either way, ``name``) in ``order`` (``asc``/``desc``)."""

    class_name: str = ""
    where: str = "gt"
    iou_min: float | None = None
    iou_max: float | None = None
    sort: str = "iou"
    order: str = "asc"

    def describe(self) -> str:
        """" with cat in the ground truth, IoU 0.0-50.0 %": what the list is restricted to (empty: nothing)."""
        text = f" with {self.class_name} {CLASS_WHERE.get(self.where, '')}" if self.class_name else ""
        if self.iou_min is not None or self.iou_max is not None:
            low, high = (self.iou_min or 0) * 100, (1 if self.iou_max is None else self.iou_max) * 100
            text += f"{',' if text else ''} IoU {low:.1f}–{high:.1f} %"
        return text


def gallery_ids(run: Run, query: GalleryQuery) -> tuple[list[int], int]:
    """The ``ImageResult`` pks the query shows, in order, and how many images could not be checked for a
    ground-truth class (scored before ground-truth classes were kept and their ground truth unreadable or not
    read yet: at most ``MAX_GT_BACKFILL`` such images are read, and stored, per call)."""
    rows = run.image_results.all()
    if query.iou_min is not None:
        rows = rows.filter(iou__gte=query.iou_min)
    if query.iou_max is not None:
        rows = rows.filter(iou__lte=query.iou_max)
    desc = query.order == "desc"
    if query.sort == "name":
        rows = rows.order_by("-image_id" if desc else "image_id")
    else:
        rows = rows.order_by(F("iou").desc(nulls_last=True) if desc else F("iou").asc(nulls_last=True), "image_id")
    if not query.class_name:
        return list(rows.values_list("pk", flat=True)), 0
    return with_class(run, rows, query.class_name, query.where)


def with_class(run: Run, rows: Any, class_name: str, where: str) -> tuple[list[int], int]:
    """The pks of ``rows`` (a queryset of the run's results, in its order) with ``class_name`` present ``where``,
    and how many could not be checked for a ground-truth class (see ``gallery_ids``). Filtered here rather than
    with a JSON lookup, which SQLite lacks."""
    if where != "pred":
        backfill_gt_classes(run)
    found, unknown = [], 0
    for pk, truth, predicted in rows.values_list("pk", "gt_classes", "classes_present"):
        in_gt = truth is not None and class_name in truth
        in_pred = class_name in (predicted or [])
        if where != "pred" and truth is None and not (where == "either" and in_pred):
            unknown += 1
        if in_gt if where == "gt" else in_pred if where == "pred" else in_gt or in_pred:
            found.append(pk)
    return found, unknown


def results_in_order(pks: list[int]) -> list[ImageResult]:
    """The rows of ``pks`` (one page of ``gallery_ids``), in that order."""
    rows = ImageResult.objects.select_related("run").in_bulk(pks)
    return [rows[pk] for pk in pks if pk in rows]


def gt_class_names(run: Run, image_id: str) -> list[str]:
    """The dataset classes in one image's ground truth (ignored pixels aside); LookupError / OSError if unreadable."""
    import numpy as np

    names = run.class_names or []
    g = load_ground_truth(run, image_id)
    return sorted(names[i] for i in np.unique(g).tolist() if 0 <= i < len(names))


def backfill_gt_classes(run: Run, limit: int = MAX_GT_BACKFILL) -> int:
    """Store the ground-truth classes of up to ``limit`` rows scored before they were kept; returns how many."""
    if run.dataset_id is None:
        return 0
    done = 0
    for result in run.image_results.filter(gt_classes__isnull=True).order_by("image_id")[:limit]:
        try:
            names = gt_class_names(run, result.image_id)
        except (LookupError, OSError, ValueError):
            continue
        ImageResult.objects.filter(pk=result.pk).update(gt_classes=names)
        done += 1
    return done
