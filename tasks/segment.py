"""gpu task: segment one shard of a run's images; per-image rows (update_or_create), prediction and overlay
PNGs written atomically, and the shard's confusion matrix saved for ``finalize_metrics``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from engine.atomic import atomic_write
from tasks.base import RunTask, cancel_checker, fault_point, load_active_run, run_guard


@shared_task(bind=True, base=RunTask, name="tasks.segment.segment_shard")
def segment_shard(self: RunTask, run_id: int, shard_index: int) -> dict[str, Any]:
    """Segment the images of shard ``shard_index`` (ids stored on the RunShard row)."""
    from engine.errors import CancelledError
    from engine.evaluation.evaluate import best_class_labels
    from engine.evaluation.metrics import ConfusionMatrix
    from ovdiff_web.core.models import ImageResult, Run, RunShard
    from ovdiff_web.core.services import engine_bridge, runs
    from ovdiff_web.core.services.labels import spec_from_snapshot, to_dataset_labels

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    shard = RunShard.objects.get(run_id=run_id, index=shard_index)
    if shard.finished_at is not None:  # re-delivered after its work was recorded: nothing to redo
        return {"shard": shard_index, "images": len(shard.image_ids), "already_done": True}
    with run_guard(run_id, "segment"):
        runs.stage_start(run_id, "segment")
        dataset = run.dataset
        if dataset is None:
            raise RuntimeError("the run's dataset was deleted")
        seg_ds = engine_bridge.open_dataset(dataset.format, dataset.root, dataset.split, dataset.protocol,
                                            check_files=False)
        samples = {s.id: s for s in seg_ds.samples}
        ovd = self.ovdiff(run.profile, run.settings)
        specs = [spec_from_snapshot(e) for e in run.vocabulary_snapshot]
        cancel = cancel_checker(run_id)
        evaluate = run.kind == Run.Kind.EVALUATION
        n = len(run.class_names)
        cm = ConfusionMatrix(n + 1, seg_ds.ignore_index)  # extra column: engine classes with no dataset label
        out_dir = Path("runs") / str(run_id)
        for image_id in shard.image_ids:
            if cancel():
                raise CancelledError(f"run {run_id} cancelled")
            image, gt = seg_ds.load(samples[image_id])
            result = ovd.segment(image, specs, return_scores=not seg_ds.has_background)
            labels = result.labels if seg_ds.has_background else best_class_labels(result)
            pred = to_dataset_labels(labels, result.class_names, run.label_map, unmatched=n)
            fields = write_prediction(out_dir, image_id, image, pred, n)
            iou = None
            if evaluate:
                one = ConfusionMatrix(n + 1, seg_ds.ignore_index).update(pred, gt, item=image_id)
                cm.merge(one)
                ious = one.iou()[:n]
                iou = float(np.nanmean(ious)) if np.isfinite(ious).any() else None
                acc = one.pixel_accuracy()
                fields["pixel_accuracy"] = None if np.isnan(acc) else acc
            present = sorted({run.class_names[i] for i in np.unique(pred).tolist() if i < n})
            ImageResult.objects.update_or_create(run_id=run_id, image_id=image_id, defaults={
                "iou": iou, "width": int(image.shape[1]), "height": int(image.shape[0]),
                "classes_present": present, **fields})
            runs.stage_sync_images(run_id)
            fault_point("segment")
        RunShard.objects.filter(pk=shard.pk).update(confusion=cm.matrix.tolist() if evaluate else None,
                                                    finished_at=timezone.now())
        save_confusion_npy(out_dir, shard_index, cm.matrix)
        return {"shard": shard_index, "images": len(shard.image_ids)}
    return {"shard": shard_index, "cancelled": True}


def write_prediction(out_dir: Path, image_id: str, image: np.ndarray, pred: np.ndarray, n: int) -> dict[str, Any]:
    """Label PNG (dataset indices, palette) and an overlay PNG, both renamed into place when complete."""
    from PIL import Image

    from engine.images import voc_palette

    media = Path(settings.MEDIA_ROOT)
    safe = image_id.replace("/", "_").replace("\\", "_")
    pred_rel = out_dir / "pred" / f"{safe}.png"
    overlay_rel = out_dir / "overlay" / f"{safe}.png"
    palette = voc_palette(256)
    labels = np.where(pred >= n, 255, pred).astype(np.uint8)
    label_img = Image.fromarray(labels)  # putpalette turns the L image into P
    label_img.putpalette(palette.astype(np.uint8).flatten().tolist())
    atomic_write(media / pred_rel, lambda tmp: label_img.save(tmp, format="PNG"))
    colours = palette[labels].astype(np.float32)
    blended = (0.5 * image.astype(np.float32) + 0.5 * colours).clip(0, 255).astype(np.uint8)
    atomic_write(media / overlay_rel, lambda tmp: Image.fromarray(blended).save(tmp, format="PNG"))
    return {"prediction": pred_rel.as_posix(), "overlay": overlay_rel.as_posix()}


def save_confusion_npy(out_dir: Path, shard_index: int, matrix: np.ndarray) -> None:
    target = Path(settings.MEDIA_ROOT) / out_dir / "shards" / f"{shard_index:05d}.npy"
    atomic_write(target, lambda tmp: np.save(tmp, matrix))
