"""Evaluate OVDiff on a dataset split: predictions, per-image IoU and an accumulated confusion matrix.

The per-sample pieces are separate functions so the service can shard a split across workers and merge
the shards' confusion matrices afterwards; ``evaluate_dataset`` is the single-process loop the CLI uses.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from engine.atomic import atomic_write
from engine.evaluation.datasets.base import Sample, SegDataset
from engine.errors import CancelledError
from engine.images import save_label_png, voc_palette
from engine.evaluation.metrics import ConfusionMatrix, metrics_dict, per_image_iou
from engine.types import CancelFn, ClassSpec, ProgressFn, Segmentation

if TYPE_CHECKING:
    from engine.pipeline import OVDiff


def dataset_classes(ds: SegDataset, stuff: Sequence[str] | None = None) -> list[ClassSpec]:
    """The vocabulary a dataset implies: its classes (without "background"), prompts renamed, thing/stuff labelled.

    ``stuff`` overrides the labeller with an explicit list of stuff class names.
    """
    from engine.segment.labeller import label_class

    names = ds.class_names[1:] if ds.has_background else ds.class_names
    prompts = ds.prompts[1:] if ds.has_background else ds.prompts
    out = []
    for name, prompt in zip(names, prompts):
        is_stuff = (name in stuff) if stuff is not None else label_class(prompt).label == "stuff"
        out.append(ClassSpec(name=name, prompt=prompt, is_stuff=is_stuff))
    return out


def best_class_labels(seg: Segmentation) -> np.ndarray:
    """Labels in the segmenter's index space (1..C) with background left out: each pixel takes its best class.

    This is the without-background protocol (VOC-20, Context-59, ADE-150): there is no background to predict.
    """
    if seg.scores is None:
        raise ValueError("without-background protocols need the class scores (segment with return_scores=True)")
    return np.argmax(seg.scores[1:], axis=0).astype(np.int64) + 1


def to_dataset_labels(seg: Segmentation, has_background: bool) -> np.ndarray:
    """Map the segmenter's labels (0 = background, then vocabulary order) to the dataset's label ids.

    With background the ids coincide; without, every pixel takes its best class (``best_class_labels``).
    """
    if has_background:
        return seg.labels.astype(np.int64)
    return best_class_labels(seg) - 1


@dataclass
class SampleResult:
    id: str
    pred: np.ndarray
    gt: np.ndarray
    iou: float
    seconds: float


def predict_sample(ovd: "OVDiff", ds: SegDataset, classes: Sequence[ClassSpec], sample: Sample) -> SampleResult:
    """Segment one sample and score it against its ground truth."""
    t0 = time.perf_counter()
    image, gt = ds.load(sample)
    seg = ovd.segment(image, classes, return_scores=not ds.has_background)
    pred = to_dataset_labels(seg, ds.has_background)
    iou = per_image_iou(pred, gt, ds.num_classes, ds.ignore_index)
    return SampleResult(sample.id, pred, gt, iou, time.perf_counter() - t0)


def write_prediction(pred: np.ndarray, path: Path) -> Path:
    """Write a palette PNG atomically (temp file + rename) so a killed process leaves no half file."""
    return atomic_write(path, lambda tmp: save_label_png(pred.astype(np.uint8), tmp, voc_palette()))


def evaluate_dataset(
    ovd: "OVDiff",
    ds: SegDataset,
    out_dir: Path | None,
    limit: int | None = None,
    classes: Sequence[ClassSpec] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> dict:
    """Build every class's banks, segment the split, write predictions and metrics.json; return the metrics."""
    classes = list(classes) if classes is not None else dataset_classes(ds)
    for i, cls in enumerate(classes):
        ovd.banks(cls, progress=progress, cancel=cancel)
        if progress:
            progress("banks", i + 1, len(classes))
    samples = ds.samples[:limit] if limit else ds.samples
    cm = ConfusionMatrix(ds.num_classes, ds.ignore_index)
    per_image: list[dict] = []
    for i, sample in enumerate(samples):
        if cancel and cancel():
            raise CancelledError("evaluation cancelled")
        res = predict_sample(ovd, ds, classes, sample)
        cm.update(res.pred, res.gt, item=str(sample.label_path))
        per_image.append({"id": res.id, "iou": res.iou, "seconds": round(res.seconds, 4)})
        if out_dir is not None:
            write_prediction(res.pred, Path(out_dir) / "pred" / f"{sample.id}.png")
        if progress:
            progress("segment", i + 1, len(samples))
    metrics = metrics_dict(cm, ds.class_names)
    metrics.update(
        dataset=ds.name, protocol=ds.protocol, split=ds.split, images=len(samples), per_image=per_image,
        classes=[{"name": c.name, "prompt": c.text, "is_stuff": c.is_stuff} for c in classes],
        config=ovd.config.to_dict(), profile=ovd.registry.profile,
        random_weights=ovd.registry.is_random_weights,
    )
    if out_dir is not None:
        atomic_write(Path(out_dir) / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))
    return metrics
