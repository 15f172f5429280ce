"""cpu task: merge the shards' confusion matrices into the run's metrics (the engine's summary), write the
run's metrics.json (the same document ``python -m engine evaluate`` writes) and close the run."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings

from tasks.base import RunTask, fault_point, load_active_run, run_guard


@shared_task(bind=True, base=RunTask, name="tasks.metrics.finalize_metrics")
def finalize_metrics(self: RunTask, run_id: int) -> dict[str, Any]:
    from ovdiff_web.core.models import Run, RunShard
    from ovdiff_web.core.services import run_state

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    with run_guard(run_id, "metrics"):
        run_state.stage_start(run_id, "metrics")
        fault_point("metrics")
        shards = list(RunShard.objects.filter(run_id=run_id))
        unfinished = [s.index for s in shards if s.finished_at is None]
        if unfinished:
            raise RuntimeError(f"shards {unfinished} did not finish; metrics would be partial")
        fields: dict[str, Any] = {}
        if run.kind == Run.Kind.EVALUATION:
            fields = write_run_metrics(run, [s.confusion for s in shards if s.confusion is not None])
            run_state.stage_advance(run_id, "metrics")
        if Run.objects.filter(pk=run_id, cancel_requested=True).exists():
            run_state.mark_cancelled(run_id)
            return {"cancelled": True}
        run_state.stage_finish(run_id, "metrics")
        run_state.mark_succeeded(run_id, **fields)
        return {"miou": fields.get("miou")}
    return {"cancelled": True}


def write_run_metrics(run: Any, matrices: list[list[list[int]]]) -> dict[str, Any]:
    """Merge the shard matrices, write ``runs/<id>/metrics.json`` and return the Run fields it fills."""
    import numpy as np

    from engine.evaluation.evaluate import metrics_document, write_metrics
    from engine.evaluation.metrics import ConfusionMatrix
    from ovdiff_web.core.models import ImageResult
    from ovdiff_web.core.services import engine_bridge

    ds = engine_bridge.open_run_dataset(run)
    total = ConfusionMatrix(ds.num_classes + 1, ds.ignore_index)
    for m in matrices:
        shard = ConfusionMatrix(ds.num_classes + 1, ds.ignore_index)
        shard.matrix = np.asarray(m, dtype=np.int64)
        total.merge(shard)
    rows = {r.image_id: r for r in ImageResult.objects.filter(run_id=run.pk)}
    per_image = [{"id": i, "iou": rows[i].iou, "pixel_accuracy": rows[i].pixel_accuracy}
                 for i in run.image_ids if i in rows]
    metrics = metrics_document(total, ds, run.class_specs(), per_image,
                               config=run.settings, profile=run.profile, random_weights=run.is_random_weights)
    write_metrics(Path(settings.MEDIA_ROOT) / "runs" / str(run.pk), metrics)
    return {"miou": metrics["miou"], "pixel_accuracy": metrics["pixel_accuracy"],
            "per_class_iou": dict(zip(metrics["class_names"], metrics["per_class_iou"])),
            "confusion": metrics["confusion"]["matrix"]}
