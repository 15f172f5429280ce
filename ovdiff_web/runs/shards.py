"""A run's evaluation, sharded: segment one shard's images with the engine's per-sample step, and merge the
shards into the run's metrics. The engine owns the method (``evaluate_sample``, ``write_prediction``,
``metrics_document``); this module adds only rows, progress and where files go (``MEDIA_ROOT/runs/<id>/``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from django.conf import settings
from django.utils import timezone

from engine.storage.atomic import atomic_write
from engine.errors import CancelledError
from ovdiff_web.runs.models import ImageResult, Run, RunShard
from ovdiff_web.common import engine_bridge, media_store
from ovdiff_web.runs import state as run_state
from ovdiff_web.runs.legend import prediction_label_map, write_shown_labels
from engine.config import OVDiffConfig
from engine.record import run_record


def run_dir(run_id: int) -> Path:
    """Where a run's prediction files and metrics.json live."""
    return Path(settings.MEDIA_ROOT) / "runs" / str(run_id)


def segment_shard(run: Run, shard: RunShard, ovd: Any, cancel: Callable[[], bool],
                  after_image: Callable[[], None] = lambda: None) -> None:
    """Segment, score and record every image of ``shard`` (rows updated in place on a re-delivery), then save
    the shard's confusion matrix (with the "no dataset label" column) and mark the shard finished."""
    import numpy as np  # the web process imports this module: numpy only on use

    from engine.evaluation.evaluate import evaluate_sample
    from engine.evaluation.metrics import ConfusionMatrix
    from engine.evaluation.predictions import write_prediction

    seg_ds = engine_bridge.open_run_dataset(run)
    samples = {s.id: s for s in seg_ds.samples}
    specs = run.class_specs()
    n = seg_ds.num_classes
    cm = ConfusionMatrix(n + 1, seg_ds.ignore_index)
    media, out_dir = Path(settings.MEDIA_ROOT), run_dir(run.pk)
    shown_map = prediction_label_map(run)  # + vocabulary classes without a dataset label as n, n+1, ...
    for image_id in shard.image_ids:
        if cancel():
            raise CancelledError(f"run {run.pk} cancelled")
        res = evaluate_sample(ovd, seg_ds, specs, shown_map, samples[image_id])
        paths = write_prediction(out_dir, image_id, res.image, res.pred, n)
        shown = write_shown_labels(out_dir, image_id, res.pred)  # the dashboard's overlays keep every class
        for path in (*paths.values(), shown):
            media_store.publish(path)  # the dashboard may run on another machine
        cm.merge(res.confusion)
        present = sorted({seg_ds.class_names[i] for i in np.unique(res.pred).tolist() if i < n})
        truth = sorted(seg_ds.class_names[i] for i in np.flatnonzero(res.confusion.matrix[:n].sum(axis=1)).tolist())
        ImageResult.objects.update_or_create(run_id=run.pk, image_id=image_id, defaults={
            "iou": res.iou, "pixel_accuracy": res.pixel_accuracy,
            "width": int(res.image.shape[1]), "height": int(res.image.shape[0]), "classes_present": present,
            "gt_classes": truth,
            **{k: p.relative_to(media).as_posix() for k, p in paths.items()}})
        run_state.stage_sync_images(run.pk)
        after_image()
    RunShard.objects.filter(pk=shard.pk).update(confusion=cm.matrix.tolist(),
                                                finished_at=timezone.now())
    atomic_write(out_dir / "shards" / f"{shard.index:05d}.npy", lambda tmp: np.save(tmp, cm.matrix))


def write_run_metrics(run: Run, matrices: list[list[list[int]]]) -> dict[str, Any]:
    """Merge the shard matrices, write ``runs/<id>/metrics.json`` (the document ``python -m engine evaluate``
    writes) and return the Run fields it fills."""
    import numpy as np  # the web process imports this module: numpy only on use

    from engine.evaluation.evaluate import metrics_document, write_metrics
    from engine.evaluation.metrics import ConfusionMatrix

    ds = engine_bridge.open_run_dataset(run)
    total = ConfusionMatrix(ds.num_classes + 1, ds.ignore_index)
    for m in matrices:
        shard = ConfusionMatrix(ds.num_classes + 1, ds.ignore_index)
        shard.matrix = np.asarray(m, dtype=np.int64)
        total.merge(shard)
    rows = {r.image_id: r for r in ImageResult.objects.filter(run_id=run.pk)}
    per_image = [{"id": i, "iou": rows[i].iou, "pixel_accuracy": rows[i].pixel_accuracy}
                 for i in run.image_ids if i in rows]
    record = run_record(OVDiffConfig.from_dict(run.settings), engine_bridge.registry(run.profile))
    metrics = metrics_document(total, ds, run.class_specs(), per_image, config=run.settings, profile=run.profile,
                               random_weights=run.is_random_weights, reproduction=record)
    write_metrics(run_dir(run.pk), metrics)
    media_store.publish(run_dir(run.pk) / "metrics.json")
    return {"miou": metrics["miou"], "pixel_accuracy": metrics["pixel_accuracy"],
            "per_class_iou": dict(zip(metrics["class_names"], metrics["per_class_iou"])),
            "confusion": metrics["confusion"]["matrix"]}
