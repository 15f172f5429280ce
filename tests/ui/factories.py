"""Builders shared by the dashboard tests (test-client and browser)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def make_demo_dataset(root: Path, n_images: int = 5, size: int = 32, owner: Any = None) -> Any:
    """The engine's synthetic demo dataset in folder format, ingested by the service (status READY)."""
    from engine.evaluation.demo_data import write_demo_dataset
    from ovdiff_web.core.models import Dataset
    from ovdiff_web.datasets.services import ingest

    written = write_demo_dataset(root, n_images=n_images, size=size, seed=0)
    ds = ingest(Dataset.objects.create(name="demo", format="folder", source=Dataset.Source.SERVER, root=str(written),
                                       split="val", created_by=owner))
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
        names = seg.class_names
        ImageResult.objects.create(run=run, image_id=sample.id, iou=per_image_iou(pred, gt, n), prediction=rel,
                                   width=gt.shape[1], height=gt.shape[0],
                                   classes_present=sorted({names[i] for i in np.unique(pred).tolist() if i < n}),
                                   gt_classes=sorted({names[i] for i in np.unique(gt).tolist() if i < n}))
    iou = cm.iou()
    run.per_class_iou = {name: (None if np.isnan(v) else float(v)) for name, v in zip(seg.class_names, iou)}
    run.miou = cm.miou()
    run.pixel_accuracy = cm.pixel_accuracy()
    run.confusion = cm.matrix.tolist()
    run.save()
    for order, name in enumerate(("support", "banks", "segment", "metrics")):
        RunStage.objects.create(run=run, name=name, order=order, done=1, total=1, status=RunStage.Status.DONE)
    return run


EXTRA_CLASSES = ("zebra", "lava")  # vocabulary classes the demo dataset has no label for


def make_vocabulary_run(dataset: Any, user: Any, media_root: Path, n_classes: int | None = None) -> Any:
    """A succeeded run of a vocabulary = the dataset's classes + EXTRA_CLASSES, stored like the worker stores it:
    predictions in ``legend.py`` indices (the right quarter of each image predicted as an extra class) and a
    confusion matrix with the extra "no dataset label" column. ``n_classes`` pads the class list (big matrices)."""
    from engine.evaluation.datasets import open_dataset
    from engine.images import save_label_png
    from engine.evaluation.metrics import ConfusionMatrix
    from ovdiff_web.core.models import ImageResult, Run, RunStage
    from engine.evaluation.predictions import write_prediction
    from engine.evaluation.labelmap import dataset_label_map
    from ovdiff_web.runs.legend import write_shown_labels

    seg = open_dataset("folder", dataset.root, split="val")
    names = list(seg.class_names) + [f"padding class {i}" for i in range(max(0, (n_classes or 0) - seg.num_classes))]
    n = len(names)
    snapshot = [{"name": c, "prompt": "", "is_stuff": False, "class_id": None} for c in names[1:]]
    snapshot += [{"name": c, "prompt": "", "is_stuff": False, "class_id": None} for c in EXTRA_CLASSES]
    label_map = dataset_label_map([(c["name"], "") for c in snapshot], names, names, True)
    run = Run.objects.create(dataset=dataset, profile="tiny", is_random_weights=True, status=Run.Status.SUCCEEDED,
                             class_names=names, label_map=label_map, image_ids=list(dataset.image_ids),
                             settings={"seed": 0}, vocabulary_snapshot=snapshot, created_by=user)
    cm = ConfusionMatrix(n + 1)
    for i, sample in enumerate(seg.samples):
        _, gt = seg.load(sample)
        shown = gt.copy()
        shown[:, -gt.shape[1] // 4:] = n + (i % len(EXTRA_CLASSES))
        cm.update(np.minimum(shown, n), gt)
        paths = write_prediction(media_root / "runs" / str(run.pk), sample.id, seg.load(sample)[0], shown, n)
        write_shown_labels(media_root / "runs" / str(run.pk), sample.id, shown)
        rel = paths["prediction"].relative_to(media_root).as_posix()
        ImageResult.objects.create(run=run, image_id=sample.id, iou=0.5, prediction=rel,
                                   width=gt.shape[1], height=gt.shape[0])
    run.per_class_iou = {name: float(v) if v == v else None for name, v in zip(names, cm.iou()[:n])}
    run.miou = 0.5
    run.confusion = cm.matrix[:n, :n + 1].tolist()
    run.save()
    for order, name in enumerate(("support", "banks", "segment", "metrics")):
        RunStage.objects.create(run=run, name=name, order=order, done=1, total=1, status=RunStage.Status.DONE)
    return run


def make_stored_segmentation(media: Path, user: Any, image: np.ndarray | None = None,
                             labels: np.ndarray | None = None, class_names: tuple[str, ...] = ("brick", "sky")) -> str:
    """A finished segmentation of the earlier one-image path (a read-only record of ``user``), its files in the
    format that path's worker wrote, with one
    dino prototype per class (default: a grey 60x40 image, left half "brick", right half "sky")."""
    import json

    from PIL import Image

    from engine.images import save_label_png

    if image is None or labels is None:
        image = np.full((40, 60, 3), 120, np.uint8)
        labels = np.zeros((40, 60), np.int64)
        labels[:, 30:] = 1
    token = "a" * 32
    out = media / "segment" / token
    out.mkdir(parents=True)
    Image.fromarray(image).save(out / "image.png")
    save_label_png(labels, out / "labels.png")
    np.savez_compressed(out / "explain.npz", w_dino=labels.astype(np.int64), s_dino=np.full(labels.shape, 0.5))
    index = [[name, "instance", "fg", 0, 0, [0, 0, 1, 1], 10] for name in class_names]
    meta = {"profile": "tiny", "class_names": list(class_names), "selected": [], "support": {},
            "prototype_index": {"dino": index}}
    (out / "meta.json").write_text(json.dumps(meta))
    from ovdiff_web.predictions.models import LegacySegmentation

    LegacySegmentation.objects.create(token=token, user=user, profile="tiny", class_names=list(class_names),
                                      status=LegacySegmentation.Status.SUCCEEDED)
    return token
