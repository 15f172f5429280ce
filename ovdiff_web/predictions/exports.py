"""A prediction job's exports that annotation and training tools import, besides the palette PNGs (``labels.zip``)
and COCO RLE (``coco.json``): COCO polygons and YOLO segmentation labels. Polygons come from
``common.polygons`` (scikit-image contours): one per region of a class, regions under ``min_area`` pixels left
out, holes of at least ``min_area`` pixels cut in by a zero-width bridge, smaller holes filled."""
from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath
from typing import Any, Iterator

from ovdiff_web.common.errors import InputError
from ovdiff_web.common.polygons import MAX_MIN_AREA, MIN_AREA, label_regions, yolo_data_yaml, yolo_line
from ovdiff_web.predictions import results as prediction_results
from ovdiff_web.runs.models import ImageResult, Run

HOLES_NOTE = ("one polygon per region of a class; regions under min_area pixels are left out; a hole of at least "
              "min_area pixels is cut into its region's polygon by a zero-width bridge (even-odd filling, as "
              "pycocotools and OpenCV fillPoly do, leaves it empty); smaller holes are filled")


def min_area(raw: str | None) -> int:
    """The ``?min_area=`` of an export (pixels; default ``MIN_AREA``); a 400 naming ``min_area`` when unusable."""
    if raw is None or raw == "":
        return MIN_AREA
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{raw!r} is not a whole number of pixels", "min_area") from None
    if not 1 <= value <= MAX_MIN_AREA:
        raise InputError(f"{value} is outside 1..{MAX_MIN_AREA} pixels", "min_area")
    return value


def _classes(run: Run) -> list[tuple[int, str, bool]]:
    """(label index, name, is_stuff) of every class a job's label PNG can hold, background (index 0) aside."""
    stuff = {c.get("name"): bool(c.get("is_stuff")) for c in run.vocabulary_snapshot or []}
    return [(row["index"], row["name"], stuff.get(row["name"], False))
            for row in prediction_results.legend(run) if row["index"] > 0]


def _labelled(run: Run) -> Iterator[tuple[ImageResult, Any]]:
    """Each result in image order with its label map (legend indices; None when its file is gone)."""
    for row in ImageResult.objects.filter(run=run).order_by("image_id"):
        try:
            yield row, prediction_results.labels(run, row.image_id)
        except LookupError:
            yield row, None


def coco_polygons_document(run: Run, area: int = MIN_AREA) -> dict[str, Any]:
    """COCO instances-style JSON: images, categories (``id`` = the label PNGs' index, as in ``coco.json``) and one
    polygon annotation per region ([x0, y0, x1, y1, ...] in COCO pixel coordinates), with area and bbox."""
    classes = _classes(run)
    categories = [{"id": i, "name": n, "supercategory": "stuff" if s else "thing", "isthing": 0 if s else 1}
                  for i, n, s in classes]
    values = {i: i for i, _, _ in classes}
    images, annotations = [], []
    for number, (row, labels) in enumerate(_labelled(run), start=1):
        images.append({"id": number, "file_name": row.image_id, "width": row.width, "height": row.height})
        if labels is None:
            continue
        for category, polygon in label_regions(labels, values, area):
            annotations.append({"id": len(annotations) + 1, "image_id": number, "category_id": category,
                                "segmentation": [polygon.coords], "area": polygon.area, "bbox": polygon.bbox,
                                "iscrowd": 0})
    return {"info": {"description": f"ovdiff prediction job {run.pk}: polygons", "profile": run.profile,
                     "min_area": area, "regions": HOLES_NOTE},
            "images": images, "categories": categories, "annotations": annotations}


def yolo_label_name(image_id: str, taken: set[str]) -> str:
    """``labels/<image path without extension>.txt`` (the name YOLO looks up for ``images/<image path>``); when
    two images share that name, the second keeps its extension (``labels/a.jpg.txt``)."""
    path = PurePosixPath(image_id.replace("\\", "/"))
    name = f"labels/{path.with_suffix('.txt').as_posix()}"
    if name.lower() in taken:
        name = f"labels/{path.as_posix()}.txt"
    taken.add(name.lower())
    return name


def yolo_zip(run: Run, area: int = MIN_AREA) -> bytes:
    """``data.yaml`` (class ids 0..n-1 = label index - 1, names) and ``labels/<image>.txt`` (one line per region:
    class id, then the polygon normalised to the image's width and height), an empty file for an image with
    nothing found."""
    classes = _classes(run)
    values = {i: k for k, (i, _, _) in enumerate(classes)}
    taken: set[str] = set()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for row, labels in _labelled(run):
            if labels is None:
                continue
            height, width = labels.shape[:2]
            lines = [yolo_line(k, polygon, width, height) for k, polygon in label_regions(labels, values, area)]
            zf.writestr(yolo_label_name(row.image_id, taken), "".join(f"{line}\n" for line in lines))
        comment = (f"ovdiff prediction job {run.pk} ({run.profile}): YOLO segmentation labels, min_area {area} px.\n"
                   "Put the job's images under images/ (same relative paths) next to labels/.\n"
                   f"Regions: {HOLES_NOTE}.")
        zf.writestr("data.yaml", yolo_data_yaml([n for _, n, _ in classes], comment))
    return buf.getvalue()
