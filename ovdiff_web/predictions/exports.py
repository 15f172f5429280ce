"""A prediction job's exports that annotation and training tools import, besides the palette PNGs (``labels.zip``)
and COCO RLE (``coco.json``): COCO polygons and YOLO segmentation labels, built by ``common.polygons``
(scikit-image contours; one polygon per region of a class, regions under ``min_area`` pixels left out, holes of at
least ``min_area`` pixels cut in by a zero-width bridge, smaller holes filled)."""
from __future__ import annotations

from typing import Any, Iterator

from ovdiff_web.common import polygons
from ovdiff_web.predictions import results as prediction_results
from ovdiff_web.runs.models import ImageResult, Run

def _classes(run: Run) -> list[polygons.ExportClass]:
    """(label index, name, is_stuff) of every class a job's label PNG can hold, background (index 0) aside."""
    stuff = {c.get("name"): bool(c.get("is_stuff")) for c in run.vocabulary_snapshot or []}
    return [(row["index"], row["name"], stuff.get(row["name"], False))
            for row in prediction_results.legend(run) if row["index"] > 0]


def _labelled(run: Run) -> Iterator[polygons.LabelledImage]:
    for row in ImageResult.objects.filter(run=run).order_by("image_id"):
        try:
            labels = prediction_results.labels(run, row.image_id)
        except LookupError:
            labels = None
        yield row.image_id, row.width, row.height, labels


def coco_polygons_document(run: Run, area: int = polygons.MIN_AREA) -> dict[str, Any]:
    """COCO polygons of the job (category ids = the label PNGs' indices, as in ``coco.json``)."""
    return polygons.coco_polygons_document(_labelled(run), _classes(run), area, {
        "description": f"ovdiff prediction job {run.pk}: polygons", "profile": run.profile})


def yolo_zip(run: Run, area: int = polygons.MIN_AREA) -> bytes:
    """YOLO segmentation labels of the job (class id = label index - 1) and ``data.yaml``."""
    return polygons.yolo_zip(_labelled(run), _classes(run), area, f"ovdiff prediction job {run.pk} ({run.profile})")
