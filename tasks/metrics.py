"""cpu task: merge the shards' confusion matrices into the run's mIoU / per-class IoU, and close the run."""
from __future__ import annotations

from typing import Any

import numpy as np
from celery import shared_task
from django.utils import timezone

from tasks.base import RunTask, fault_point, load_active_run, mark_cancelled, run_guard


@shared_task(bind=True, base=RunTask, name="tasks.metrics.finalize_metrics")
def finalize_metrics(self: RunTask, run_id: int) -> dict[str, Any]:
    from ovdiff_web.core.models import Run, RunShard
    from ovdiff_web.core.services import runs

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    with run_guard(run_id, "metrics"):
        runs.stage_start(run_id, "metrics")
        fault_point("metrics")
        shards = list(RunShard.objects.filter(run_id=run_id))
        unfinished = [s.index for s in shards if s.finished_at is None]
        if unfinished:
            raise RuntimeError(f"shards {unfinished} did not finish; metrics would be partial")
        fields: dict[str, Any] = {}
        if run.kind == Run.Kind.EVALUATION:
            fields = summarise(run.class_names, [s.confusion for s in shards if s.confusion is not None])
            runs.stage_advance(run_id, "metrics")
        if Run.objects.filter(pk=run_id, cancel_requested=True).exists():
            mark_cancelled(run_id)
            return {"cancelled": True}
        runs.stage_finish(run_id, "metrics")
        Run.objects.filter(pk=run_id).exclude(status__in=Run.FINISHED).update(
            status=Run.Status.SUCCEEDED, finished_at=timezone.now(), **fields)
        return {"miou": fields.get("miou")}
    return {"cancelled": True}


def summarise(class_names: list[str], matrices: list[list[list[int]]]) -> dict[str, Any]:
    """mmseg-style mIoU over the dataset classes; the extra last row/column (unmatched engine classes)
    counts as wrong predictions but is not a class of its own."""
    n = len(class_names)
    total = np.zeros((n + 1, n + 1), dtype=np.int64)
    for m in matrices:
        total += np.asarray(m, dtype=np.int64)
    inter = np.diag(total)[:n].astype(np.float64)
    union = (total.sum(0) + total.sum(1))[:n] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, np.nan)
    pixels = total.sum()
    return {
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else None,
        "pixel_accuracy": float(np.diag(total).sum() / pixels) if pixels else None,
        "per_class_iou": {name: (None if np.isnan(v) else float(v)) for name, v in zip(class_names, iou)},
        "confusion": total[:n, :n + 1].tolist(),
    }
