"""A run or prediction job in FiftyOne's ImageSegmentationDirectory layout, so that
``fo.Dataset.from_dir(path, dataset_type=fo.types.ImageSegmentationDirectory)`` (or the database-free
``fiftyone.utils.data.ImageSegmentationDirectoryImporter``) loads it::

    data/<stem>.png           the input images
    labels/<stem>.png         the predictions: 8-bit grayscale label indices (the job's label PNGs' indices)
    ground_truth/<stem>.png   an evaluation run's ground truth, same indices (labels_path="ground_truth")
    mask_targets.json         {index: class name}: FiftyOne does not read class names from disk; pass these as
                              ``default_mask_targets`` (255 = no dataset label / ignored)
    iou.json                  per image: mean IoU and per-class IoU against the ground truth (null without one)

``<stem>`` is the image's prediction file name without ``.png`` (ids with folders are flattened)."""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ovdiff_web.integrations import core_bridge as core


def _stem(image_id: str) -> str:
    return image_id.replace("/", "_").replace("\\", "_")


def _save_gray(array: Any, path: Path) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(path, format="PNG")


def image_iou(pred: Any, gt: Any, names: list[str]) -> dict[str, Any]:
    """Mean IoU over the classes present in the ground truth or the prediction (255 ignored) and per class."""
    import numpy as np

    valid = gt != 255
    per_class = {}
    for index, name in enumerate(names):
        p, g = (pred == index) & valid, (gt == index) & valid
        union = int((p | g).sum())
        if union:
            per_class[name] = round(int((p & g).sum()) / union, 6)
    miou = round(float(np.mean(list(per_class.values()))), 6) if per_class else None
    return {"miou": miou, "per_class_iou": per_class}


def write_layout(run: Any, out: Path) -> dict[str, Any]:
    """Write the layout of ``run`` under ``out``; returns the mask targets and the per-image IoU."""
    from PIL import Image

    for sub in ("data", "labels"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    names = list(run.class_names)
    is_eval = run.kind == "evaluation"
    ious: dict[str, Any] = {}
    for row in core.ImageResult.objects.filter(run=run).order_by("image_id"):
        stem = _stem(row.image_id)
        try:
            pred = core.run_labels(run, row.image_id)
        except LookupError:
            continue
        Image.fromarray(core.run_input_image(run, row.image_id)).save(out / "data" / f"{stem}.png", format="PNG")
        _save_gray(pred, out / "labels" / f"{stem}.png")
        ious[stem] = None
        if is_eval:
            gt = core.ground_truth(run, row.image_id)
            (out / "ground_truth").mkdir(exist_ok=True)
            _save_gray(gt, out / "ground_truth" / f"{stem}.png")
            ious[stem] = image_iou(pred, gt, names)
    targets = {str(i): n for i, n in enumerate(names)}
    (out / "mask_targets.json").write_text(json.dumps(targets, indent=1), encoding="utf-8")
    (out / "iou.json").write_text(json.dumps({"run": run.pk, "kind": run.kind, "images": ious}, indent=1),
                                  encoding="utf-8")
    return {"mask_targets": targets, "iou": ious}


def export_zip(run: Any) -> bytes:
    """The layout of ``run`` as zip bytes (built in a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="ovdiff-fo-") as tmp:
        root = Path(tmp)
        write_layout(run, root)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(root).as_posix())
        return buf.getvalue()
