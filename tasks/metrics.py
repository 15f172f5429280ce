"""cpu task: merge the shards into the run's metrics and metrics.json (``services.shards.write_run_metrics``)
and close the run."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from tasks.base import RunTask, fault_point, load_active_run, run_guard
from ovdiff_web.runs.models import Run, RunShard
from ovdiff_web.runs import state as run_state
from ovdiff_web.runs.shards import write_run_metrics
from ovdiff_web.runs import kinds


@shared_task(bind=True, base=RunTask, name="tasks.metrics.finalize_metrics")
def finalize_metrics(self: RunTask, run_id: int) -> dict[str, Any]:

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
        if kinds.kind_of(run).scored:
            fields = write_run_metrics(run, [s.confusion for s in shards if s.confusion is not None])
            run_state.stage_advance(run_id, "metrics")
        if Run.objects.filter(pk=run_id, cancel_requested=True).exists():
            run_state.mark_cancelled(run_id)
            return {"cancelled": True}
        run_state.stage_finish(run_id, "metrics")
        run_state.mark_succeeded(run_id, **fields)
        return {"miou": fields.get("miou")}
    return {"cancelled": True}
