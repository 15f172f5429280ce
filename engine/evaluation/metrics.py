"""Confusion-matrix segmentation metrics, computed the way mmseg does.

mIoU is accumulated over the whole split (intersections and unions summed over images, then divided),
not averaged per image; classes whose union is empty over the split are left out of the mean.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import BadInputError


class ConfusionMatrix:
    """Rows are ground truth, columns predictions; pixels whose ground truth is ``ignore_index`` are skipped."""

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        if num_classes < 1:
            raise BadInputError(f"num_classes must be >= 1, got {num_classes}", item="num_classes")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, pred: np.ndarray, gt: np.ndarray, item: str | None = None) -> "ConfusionMatrix":
        """Add one image. ``item`` names it in errors (e.g. the file or sample id)."""
        pred = np.asarray(pred)
        gt = np.asarray(gt)
        if pred.shape != gt.shape:
            raise BadInputError(f"prediction shape {pred.shape} differs from ground truth {gt.shape}", item=item)
        valid = gt != self.ignore_index
        g = gt[valid].astype(np.int64)
        p = pred[valid].astype(np.int64)
        n = self.num_classes
        if g.size and (g.min() < 0 or g.max() >= n):
            bad = np.unique(g[(g < 0) | (g >= n)])[:8].tolist()
            raise BadInputError(f"ground-truth labels {bad} outside [0, {n}) and not ignore {self.ignore_index}",
                                item=item)
        if p.size and (p.min() < 0 or p.max() >= n):
            bad = np.unique(p[(p < 0) | (p >= n)])[:8].tolist()
            raise BadInputError(f"predicted labels {bad} outside [0, {n})", item=item)
        self.matrix += np.bincount(g * n + p, minlength=n * n).reshape(n, n)
        return self

    def merge(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        if other.num_classes != self.num_classes or other.ignore_index != self.ignore_index:
            raise BadInputError(
                f"cannot merge a {other.num_classes}-class matrix (ignore {other.ignore_index}) into a "
                f"{self.num_classes}-class one (ignore {self.ignore_index})"
            )
        self.matrix += other.matrix
        return self

    def intersection(self) -> np.ndarray:
        return np.diag(self.matrix).astype(np.float64)

    def union(self) -> np.ndarray:
        return self.matrix.sum(0) + self.matrix.sum(1) - np.diag(self.matrix).astype(np.float64)

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN where the class appears in neither prediction nor ground truth."""
        union = self.union()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, self.intersection() / union, np.nan)

    def miou(self) -> float:
        ious = self.iou()
        return float(np.nanmean(ious)) if np.isfinite(ious).any() else float("nan")

    def pixel_accuracy(self) -> float:
        total = self.matrix.sum()
        return float(np.diag(self.matrix).sum() / total) if total else float("nan")

    def class_accuracy(self) -> np.ndarray:
        """Per-class recall (mmseg "Acc"); NaN for classes absent from the ground truth."""
        gt_total = self.matrix.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(gt_total > 0, self.intersection() / gt_total, np.nan)

    def mean_accuracy(self) -> float:
        acc = self.class_accuracy()
        return float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "ignore_index": self.ignore_index,
                "matrix": self.matrix.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConfusionMatrix":
        cm = cls(int(data["num_classes"]), int(data.get("ignore_index", 255)))
        m = np.asarray(data["matrix"], dtype=np.int64)
        if m.shape != (cm.num_classes, cm.num_classes) or (m < 0).any():
            raise BadInputError(f"matrix shape {m.shape} does not match {cm.num_classes} classes", item="matrix")
        cm.matrix = m
        return cm


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values]


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def metrics_dict(cm: ConfusionMatrix, class_names: list[str] | None = None) -> dict[str, Any]:
    """The one metrics summary (CLI, service shards merged, scorer): JSON-ready, NaN becomes None.

    A matrix wider than ``class_names`` carries the "no dataset label" column (vocabulary classes the dataset
    does not know): those pixels count as wrong predictions but are no class, so means, per-class lists and
    the confusion rows cover only the named classes.
    """
    n = cm.num_classes if class_names is None else len(class_names)
    iou, class_acc = cm.iou()[:n], cm.class_accuracy()[:n]
    out: dict[str, Any] = {
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else None,
        "pixel_accuracy": _none_if_nan(cm.pixel_accuracy()),
        "mean_accuracy": float(np.nanmean(class_acc)) if np.isfinite(class_acc).any() else None,
        "per_class_iou": _nan_to_none(iou),
        "per_class_accuracy": _nan_to_none(class_acc),
        "confusion": {"num_classes": n, "ignore_index": cm.ignore_index, "matrix": cm.matrix[:n].tolist()},
    }
    if class_names is not None:
        out["class_names"] = list(class_names)
    return out


def image_scores(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int = 255,
                 item: str | None = None) -> tuple[ConfusionMatrix, float | None, float | None]:
    """One image's confusion matrix, mIoU over its first ``num_classes`` classes present in prediction or
    ground truth, and pixel accuracy; the matrix has one extra "no dataset label" column, where every prediction
    id >= ``num_classes`` counts (a label map may keep vocabulary classes without a dataset label apart)."""
    one = ConfusionMatrix(num_classes + 1, ignore_index).update(np.minimum(pred, num_classes), gt, item=item)
    ious = one.iou()[:num_classes]
    iou = float(np.nanmean(ious)) if np.isfinite(ious).any() else None
    return one, iou, _none_if_nan(one.pixel_accuracy())


def per_image_iou(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int = 255) -> float:
    """mIoU of one image over the classes present in its prediction or ground truth."""
    return ConfusionMatrix(num_classes, ignore_index).update(pred, gt).miou()
