"""Worker side of a prediction job: segment one shard of unlabelled images (the prediction kind's step in the run-kind table,
``ovdiff_web.runs.kinds``, which the shard task asks). Rows are updated in place, files written atomically,
so a re-delivered shard redoes nothing wrong; the engine objects are the worker's cached ones (warm workers)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from django.utils import timezone

from engine.errors import CancelledError
from ovdiff_web.runs.models import ImageResult, Run, RunShard
from ovdiff_web.predictions import files as prediction_files
from ovdiff_web.runs import state as run_state

if TYPE_CHECKING:
    import numpy as np


def pixel_share(labels: np.ndarray, names: list[str]) -> dict[str, float]:
    """Class name -> fraction of the image's pixels (classes absent from the image left out)."""
    import numpy as np  # the web process imports this module: numpy only on use

    counts = np.bincount(labels.ravel(), minlength=len(names))
    total = max(1, int(labels.size))
    return {names[i]: round(int(c) / total, 6) for i, c in enumerate(counts[: len(names)]) if c}


def predict_shard(run: Run, shard: RunShard, ovd: Any, cancel: Callable[[], bool],
                  after_image: Callable[[], None] = lambda: None) -> None:
    """Segment every image of ``shard`` with explanations, write the job's files and rows, mark the shard done."""
    specs = run.class_specs()
    prediction_files.write_support_keys(run.pk, {s.name: ovd.support_key(s) for s in specs})
    for image_id in shard.image_ids:
        if cancel():
            raise CancelledError(f"run {run.pk} cancelled")
        image = prediction_files.load_input_image(run, image_id)
        seg = ovd.segment(image, specs, explain=True)
        paths = prediction_files.write_outputs(run.pk, image_id, image, seg)
        share = pixel_share(seg.labels, list(seg.label_names))
        ImageResult.objects.update_or_create(run_id=run.pk, image_id=image_id, defaults={
            "iou": None, "pixel_accuracy": None, "width": int(image.shape[1]), "height": int(image.shape[0]),
            "classes_present": [n for n in seg.label_names if n in share], "kept_classes": list(seg.selected),
            "pixel_share": share, **paths})
        run_state.stage_sync_images(run.pk)
        after_image()
    RunShard.objects.filter(pk=shard.pk).update(confusion=None, finished_at=timezone.now())
