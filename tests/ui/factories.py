"""Builders shared by the dashboard tests (test-client and browser)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def make_demo_dataset(root: Path, n_images: int = 5, size: int = 32) -> Any:
    """The engine's synthetic demo dataset in folder format, ingested by the service (status READY)."""
    from engine.evaluation.demo_data import write_demo_dataset
    from ovdiff_web.core.models import Dataset
    from ovdiff_web.core.services.datasets import ingest

    written = write_demo_dataset(root, n_images=n_images, size=size, seed=0)
    ds = ingest(Dataset.objects.create(name="demo", format="folder", source=Dataset.Source.SERVER, root=str(written),
                                       split="val"))
    assert ds.status == Dataset.Status.READY, ds.ingest_errors
    return ds


def _shift(labels: np.ndarray, k: int) -> np.ndarray:
    """A plausible wrong prediction: the ground truth moved by k pixels (k = 0 is perfect)."""
    return np.roll(labels, k, axis=1)


def make_finished_run(dataset: Any, user: Any, media_root: Path) -> Any:
    """A succeeded tiny-profile run whose prediction of image i is the ground truth shifted by 3*i pixels."""
    from engine.evaluation.datasets import open_dataset
    from engine.images import save_label_png
    from engine.evaluation.metrics import ConfusionMatrix, per_image_iou
    from ovdiff_web.core.models import ImageResult, Run, RunStage

    seg = open_dataset("folder", dataset.root, split="val")
    n = seg.num_classes
    cm = ConfusionMatrix(n)
    run = Run.objects.create(dataset=dataset, profile="tiny", is_random_weights=True, status=Run.Status.SUCCEEDED,
                             class_names=list(seg.class_names), image_ids=list(dataset.image_ids),
                             settings={"segmenter": {"use_pamr": True, "window": 512}, "seed": 0},
                             vocabulary_snapshot=[{"name": c, "prompt": "", "is_stuff": False, "class_id": None}
                                                  for c in seg.class_names], created_by=user)
    for i, sample in enumerate(seg.samples):
        _, gt = seg.load(sample)
        pred = _shift(gt, 3 * i)
        cm.update(pred, gt)
        rel = f"runs/{run.pk}/pred/{sample.id}.png"
        save_label_png(pred, media_root / rel)
        ImageResult.objects.create(run=run, image_id=sample.id, iou=per_image_iou(pred, gt, n), prediction=rel,
                                   width=gt.shape[1], height=gt.shape[0])
    iou = cm.iou()
    run.per_class_iou = {name: (None if np.isnan(v) else float(v)) for name, v in zip(seg.class_names, iou)}
    run.miou = cm.miou()
    run.pixel_accuracy = cm.pixel_accuracy()
    run.confusion = cm.matrix.tolist()
    run.save()
    for order, name in enumerate(("support", "banks", "segment", "metrics")):
        RunStage.objects.create(run=run, name=name, order=order, done=1, total=1, status=RunStage.Status.DONE)
    return run
