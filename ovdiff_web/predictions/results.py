"""What a prediction job shows and exports: per-image results (legend, pixel share, pre-filter), a pixel's
explanation on demand, a zip of label PNGs and a COCO-style JSON (RLE by pycocotools, not an encoder of ours)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.support.models import SupportImage
from ovdiff_web.predictions import files as prediction_files
from ovdiff_web.runs.legend import run_legend
from ovdiff_web.runs.images import load_prediction
from ovdiff_web.predictions.segment_page import explain_arrays
from ovdiff_web.common import polygons

if TYPE_CHECKING:
    import numpy as np


def legend(run: Run) -> list[dict[str, Any]]:
    """[{index, name, colour}] of the job's label PNGs (0 = background, then the vocabulary)."""
    return [{k: row[k] for k in ("index", "name", "colour")} for row in run_legend(run)]


def image_result(run: Run, image_id: str) -> ImageResult:
    """One image's row; LookupError when the job has no such (finished) image."""
    row = ImageResult.objects.filter(run=run, image_id=image_id).first()
    if row is None:
        raise LookupError(f"no result for image {image_id!r} in this job")
    return row


def input_image(run: Run, image_id: str) -> np.ndarray:
    """The input image of one result (any source)."""
    image_result(run, image_id)
    return prediction_files.load_input_image(run, image_id)


def labels(run: Run, image_id: str) -> np.ndarray:

    return load_prediction(image_result(run, image_id), shown=True)


def explain(run: Run, image_id: str, x: int, y: int) -> dict[str, Any]:
    """Which prototype decided pixel (x, y) and the support image region it came from; LookupError if unknown."""

    label_map = labels(run, image_id)
    winners, scores, index = prediction_files.read_explain(run.pk, image_id)
    keys = prediction_files.read_support_keys(run.pk)

    def support_image(cls: str, image_index: int) -> str | None:
        row = SupportImage.objects.filter(support_set__key=keys.get(cls, ""), index=image_index).first()
        return row.image if row else None

    return explain_arrays(label_map, run.class_names, winners, scores, index, x, y, run.profile, support_image)


def labels_zip(run: Run) -> bytes:
    """Every label PNG of the job and ``legend.json`` (index -> class name, colour)."""
    rows = ImageResult.objects.filter(run=run).order_by("image_id")
    return prediction_files.labels_zip(prediction_files.iter_label_files(rows), {"classes": legend(run)})


def coco_document(run: Run, area: int = polygons.MIN_AREA) -> dict[str, Any]:
    """COCO-style results: images, categories (vocabulary, thing/stuff), one RLE annotation per class present
    in an image with its area and bbox ([x, y, w, h]); ``category_id`` is the label index of the PNGs. Regions
    (4-connected) under ``area`` pixels are left out, as in the polygon exports; a class left with no pixels gets
    no annotation."""
    import numpy as np
    from pycocotools import mask as coco_mask

    stuff = {c.get("name"): bool(c.get("is_stuff")) for c in run.vocabulary_snapshot or []}
    categories = [{"id": i, "name": n, "supercategory": "stuff" if stuff.get(n) else "thing",
                   "isthing": 0 if stuff.get(n) else 1} for i, n in enumerate(run.class_names) if i > 0]
    images, annotations = [], []
    for number, row in enumerate(ImageResult.objects.filter(run=run).order_by("image_id"), start=1):
        images.append({"id": number, "file_name": row.image_id, "width": row.width, "height": row.height})
        try:
            label_map = labels(run, row.image_id)
        except LookupError:
            continue
        for value in np.unique(label_map).tolist():
            if value == 0 or value >= len(run.class_names):  # background is not an object to annotate
                continue
            mask = polygons.drop_small_regions(label_map == value, area)
            if not mask.any():
                continue
            rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
            annotations.append({
                "id": len(annotations) + 1, "image_id": number, "category_id": int(value),
                "segmentation": {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")},
                "area": int(coco_mask.area(rle)), "bbox": [float(v) for v in coco_mask.toBbox(rle)], "iscrowd": 0})
    return {"info": {"description": f"ovdiff prediction job {run.pk}", "profile": run.profile, "min_area": area},
            "images": images, "categories": categories, "annotations": annotations}
