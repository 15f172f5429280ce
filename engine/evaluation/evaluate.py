"""Evaluate OVDiff on a dataset split: the per-sample step, the metrics document and the single-process loop.

The one evaluation path: ``python -m engine evaluate`` runs ``evaluate_dataset``; the service's shard task
runs ``evaluate_sample`` + ``write_prediction`` per image and merges the shards' confusion matrices
(``ConfusionMatrix.merge``) into the same ``metrics_document``. Both write the same files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from engine.storage.atomic import atomic_write
from engine.class_specs import check_table, class_specs, dataset_entries, is_stuff_text
from engine.errors import CancelledError
from engine.evaluation.datasets.base import Sample, SegDataset
from engine.evaluation.labelmap import dataset_label_map, to_dataset_labels
from engine.evaluation.metrics import ConfusionMatrix, image_scores, metrics_dict
from engine.evaluation.predictions import write_prediction
from engine.record import run_record
from engine.types import CancelFn, ClassSpec, ProgressFn

if TYPE_CHECKING:
    from engine.pipeline import OVDiff


def dataset_classes(ds: SegDataset, stuff: Sequence[str] | None = None, table: str = "") -> list[ClassSpec]:
    """The vocabulary a dataset implies (``class_specs`` of its entries); ``stuff`` overrides the labeller,
    ``table`` is the thing/stuff table it tries first (``SegmentConfig.thing_stuff_table``). A table is read by
    the dataset's class name, as the authors' code reads ``IS_STUFF[cname]`` (karazijal/sdov ``predict.py:306``),
    not by the prompt (the ``sdov`` prompt "window blinds" would read COCO-Stuff's "window-blind")."""
    entries = dataset_entries(ds.class_names, ds.prompts, ds.has_background)
    if table and stuff is None:
        check_table(table)
        entries = [{**e, "is_stuff": is_stuff_text(e["name"], table)} for e in entries]
    return class_specs(entries, stuff, table=table)


def vocabulary_label_map(classes: Sequence[ClassSpec], ds: SegDataset) -> dict[str, int]:
    """``dataset_label_map`` for a vocabulary of ``ClassSpec``s and an open dataset."""
    return dataset_label_map([(c.name, c.prompt) for c in classes], ds.class_names, ds.prompts,
                             ds.has_background)


@dataclass
class SampleResult:
    """One evaluated image: dataset-id prediction, its confusion matrix (with the extra column) and scores."""

    id: str
    image: np.ndarray
    pred: np.ndarray
    confusion: ConfusionMatrix
    iou: float | None
    pixel_accuracy: float | None

    def entry(self) -> dict[str, Any]:
        """The image's line in ``metrics.json``'s ``per_image``."""
        return {"id": self.id, "iou": self.iou, "pixel_accuracy": self.pixel_accuracy}


def evaluate_sample(ovd: "OVDiff", ds: SegDataset, classes: Sequence[ClassSpec], label_map: dict[str, int],
                    sample: Sample) -> SampleResult:
    """Segment one sample, map it to the dataset's ids and score it against its ground truth."""
    image, gt = ds.load(sample)
    seg = ovd.segment(image, classes, return_scores=not ds.has_background)
    pred = to_dataset_labels(seg, label_map, ds.has_background, ds.num_classes)
    one, iou, acc = image_scores(pred, gt, ds.num_classes, ds.ignore_index, item=str(sample.label_path))
    return SampleResult(sample.id, image, pred, one, iou, acc)


def metrics_document(cm: ConfusionMatrix, ds: SegDataset, classes: Sequence[ClassSpec],
                     per_image: list[dict[str, Any]], *, config: dict[str, Any], profile: str,
                     random_weights: bool, reproduction: dict[str, Any] | None = None) -> dict[str, Any]:
    """``metrics.json``: the summary (``metrics_dict``) plus what produced it (``reproduction``: engine.record)."""
    metrics = metrics_dict(cm, list(ds.class_names))
    metrics.update(
        dataset=ds.name, protocol=ds.protocol, split=ds.split, images=len(per_image), per_image=per_image,
        classes=[{"name": c.name, "prompt": c.text, "is_stuff": c.is_stuff} for c in classes],
        config=config, profile=profile, random_weights=random_weights,
    )
    if reproduction is not None:
        metrics["reproduction"] = reproduction
    return metrics


def write_metrics(out_dir: Path, metrics: dict[str, Any]) -> Path:
    """``out_dir/metrics.json``, written atomically."""
    return atomic_write(Path(out_dir) / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))


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
    table = ovd.config.segment.thing_stuff_table
    classes = list(classes) if classes is not None else dataset_classes(ds, table=table)
    label_map = vocabulary_label_map(classes, ds)
    for i, cls in enumerate(classes):
        ovd.banks(cls, progress=progress, cancel=cancel)
        if progress:
            progress("banks", i + 1, len(classes))
    samples = ds.samples[:limit] if limit else ds.samples
    cm = ConfusionMatrix(ds.num_classes + 1, ds.ignore_index)  # + the "no dataset label" column
    per_image: list[dict[str, Any]] = []
    for i, sample in enumerate(samples):
        if cancel and cancel():
            raise CancelledError("evaluation cancelled")
        res = evaluate_sample(ovd, ds, classes, label_map, sample)
        cm.merge(res.confusion)
        per_image.append(res.entry())
        if out_dir is not None:
            write_prediction(Path(out_dir), res.id, res.image, res.pred, ds.num_classes)
        if progress:
            progress("segment", i + 1, len(samples))
    metrics = metrics_document(cm, ds, classes, per_image, config=ovd.config.to_dict(),
                               profile=ovd.registry.profile, random_weights=ovd.registry.is_random_weights,
                               reproduction=run_record(ovd.config, ovd.registry))
    if out_dir is not None:
        write_metrics(Path(out_dir), metrics)
    return metrics
