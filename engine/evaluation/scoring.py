"""Score a folder of predicted label PNGs against a folder of ground-truth PNGs (``python -m engine score``).

Files are matched by stem; every ground truth needs a prediction, so a partial run cannot look better
than it is. Extra predictions without ground truth are ignored (and counted).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.images import DEFAULT_MAX_PIXELS, load_label_png
from engine.evaluation.metrics import ConfusionMatrix, metrics_dict, per_image_iou


def _pngs(folder: Path, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise BadInputError(f"{what} folder not found", item=str(folder))
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".png" and p.is_file()}


def score_directories(
    pred_dir: str | Path,
    gt_dir: str | Path,
    num_classes: int,
    ignore_index: int = 255,
    class_names: list[str] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict[str, Any]:
    """Accumulate one confusion matrix over all ground-truth images; see ``engine.evaluation.metrics.metrics_dict``.

    Adds ``per_image`` {stem: mIoU over classes present}, ``num_images`` and ``unmatched_predictions``.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    gts = _pngs(gt_dir, "ground-truth")
    preds = _pngs(pred_dir, "prediction")
    if not gts:
        raise BadInputError("no ground-truth PNGs found", item=str(gt_dir))
    if class_names is not None and len(class_names) != num_classes:
        raise BadInputError(f"{len(class_names)} class names for {num_classes} classes", item="class_names")
    cm = ConfusionMatrix(num_classes, ignore_index)
    per_image: dict[str, float | None] = {}
    for stem, gt_path in gts.items():
        pred_path = preds.get(stem)
        if pred_path is None:
            raise BadInputError(f"no prediction for ground truth {gt_path.name}", item=str(pred_dir / f"{stem}.png"))
        gt = load_label_png(gt_path, num_classes=num_classes, ignore_index=ignore_index, max_pixels=max_pixels)
        pred = load_label_png(pred_path, expected_size=gt.shape, max_pixels=max_pixels)
        cm.update(pred, gt, item=str(pred_path))  # predictions are checked where the ground truth counts
        score = per_image_iou(pred, gt, num_classes, ignore_index)
        per_image[stem] = None if score != score else score
    out = metrics_dict(cm, class_names)
    out["per_image"] = per_image
    out["num_images"] = len(gts)
    out["unmatched_predictions"] = sorted(set(preds) - set(gts))
    return out
