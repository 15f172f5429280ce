"""gpu task: segment one shard of a run's images with the engine's per-sample step; per-image rows
(update_or_create), the engine's prediction files, and the shard's confusion matrix for ``finalize_metrics``."""
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
    from engine.evaluation.evaluate import evaluate_sample
    from engine.evaluation.metrics import ConfusionMatrix
    from engine.evaluation.predictions import write_prediction
    from ovdiff_web.core.models import ImageResult, Run, RunShard
    from ovdiff_web.core.services import engine_bridge, run_state

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    shard = RunShard.objects.get(run_id=run_id, index=shard_index)
    if shard.finished_at is not None:  # re-delivered after its work was recorded: nothing to redo
        return {"shard": shard_index, "images": len(shard.image_ids), "already_done": True}
    with run_guard(run_id, "segment"):
        run_state.stage_start(run_id, "segment")
        seg_ds = engine_bridge.open_run_dataset(run)
        samples = {s.id: s for s in seg_ds.samples}
        ovd = self.ovdiff(run.profile, run.settings)
        specs = run.class_specs()
        cancel = cancel_checker(run_id)
        evaluate = run.kind == Run.Kind.EVALUATION
        n = seg_ds.num_classes
        cm = ConfusionMatrix(n + 1, seg_ds.ignore_index)  # extra column: engine classes with no dataset label
        media = Path(settings.MEDIA_ROOT)
        out_dir = media / "runs" / str(run_id)
        for image_id in shard.image_ids:
            if cancel():
                raise CancelledError(f"run {run_id} cancelled")
            res = evaluate_sample(ovd, seg_ds, specs, run.label_map, samples[image_id])
            paths = write_prediction(out_dir, image_id, res.image, res.pred, n)
            cm.merge(res.confusion)
            present = sorted({seg_ds.class_names[i] for i in np.unique(res.pred).tolist() if i < n})
            ImageResult.objects.update_or_create(run_id=run_id, image_id=image_id, defaults={
                "iou": res.iou if evaluate else None,
                "pixel_accuracy": res.pixel_accuracy if evaluate else None,
                "width": int(res.image.shape[1]), "height": int(res.image.shape[0]), "classes_present": present,
                **{k: p.relative_to(media).as_posix() for k, p in paths.items()}})
            run_state.stage_sync_images(run_id)
            fault_point("segment")
        RunShard.objects.filter(pk=shard.pk).update(confusion=cm.matrix.tolist() if evaluate else None,
                                                    finished_at=timezone.now())
        save_confusion_npy(out_dir, shard_index, cm.matrix)
        return {"shard": shard_index, "images": len(shard.image_ids)}
    return {"shard": shard_index, "cancelled": True}


def save_confusion_npy(out_dir: Path, shard_index: int, matrix: np.ndarray) -> None:
    atomic_write(out_dir / "shards" / f"{shard_index:05d}.npy", lambda tmp: np.save(tmp, matrix))
