"""Images behind a run's pages: dataset samples, predictions and ground truth, label-map PNGs for
overlays (with hidden classes), palette colours and the images behind a confusion cell.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
