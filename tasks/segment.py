"""gpu task: segment one shard of a run's images (``services.shards.segment_shard`` runs the engine's
per-sample step, writes the prediction files and rows, and saves the shard's confusion matrix)."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from tasks.base import RunTask, cancel_checker, fault_point, load_active_run, run_guard


@shared_task(bind=True, base=RunTask, name="tasks.segment.segment_shard")
def segment_shard(self: RunTask, run_id: int, shard_index: int) -> dict[str, Any]:
    """Segment the images of shard ``shard_index`` (ids stored on the RunShard row)."""
    from ovdiff_web.core.models import RunShard
    from ovdiff_web.core.services import run_state, shards

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    shard = RunShard.objects.get(run_id=run_id, index=shard_index)
    if shard.finished_at is not None:  # re-delivered after its work was recorded: nothing to redo
        return {"shard": shard_index, "images": len(shard.image_ids), "already_done": True}
    with run_guard(run_id, "segment"):
        run_state.stage_start(run_id, "segment")
        shards.segment_shard(run, shard, self.ovdiff(run.profile, run.settings), cancel_checker(run_id),
                             after_image=lambda: fault_point("segment"))
        return {"shard": shard_index, "images": len(shard.image_ids)}
    return {"shard": shard_index, "cancelled": True}
