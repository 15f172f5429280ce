"""gpu task: segment one shard of a run's images (the run kind's step, ``ovdiff_web.runs.kinds``: an evaluation
scores each image and saves the shard's confusion matrix, a prediction job keeps labels and explanations)."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from tasks.base import RunTask, cancel_checker, fault_point, load_active_run, run_guard
from ovdiff_web.runs.models import RunShard
from ovdiff_web.runs import kinds, state as run_state


@shared_task(bind=True, base=RunTask, name="tasks.segment.segment_shard")
def segment_shard(self: RunTask, run_id: int, shard_index: int) -> dict[str, Any]:
    """Segment the images of shard ``shard_index`` (ids stored on the RunShard row)."""

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    shard = RunShard.objects.get(run_id=run_id, index=shard_index)
    if shard.finished_at is not None:  # re-delivered after its work was recorded: nothing to redo
        return {"shard": shard_index, "images": len(shard.image_ids), "already_done": True}
    with run_guard(run_id, "segment"):
        run_state.stage_start(run_id, "segment")
        kinds.kind_of(run).segment_shard(run, shard, self.ovdiff(run.profile, run.settings), cancel_checker(run_id),
                             after_image=lambda: fault_point("segment"))
        return {"shard": shard_index, "images": len(shard.image_ids)}
    return {"shard": shard_index, "cancelled": True}
