"""Per-run workflow: plan on the cpu queue, then chain(group(class tasks), group(shard tasks), finalize).

Classes whose support set and every bank already exist in the artifact store are not queued at all, so a
repeated run starts segmenting at once. Signatures are immutable (``.si``): no task consumes another's result.
"""
from __future__ import annotations

from typing import Any, Sequence

from celery import chain, group, shared_task
from celery.canvas import Signature

from ovdiff_web.celery import queue_name
from tasks.artifacts import build_class_artifacts
from tasks.base import RunTask, load_active_run, run_guard
from tasks.metrics import finalize_metrics
from tasks.segment import segment_shard


def build_workflow(run_id: int, class_indices: Sequence[int], shard_indices: Sequence[int]) -> Signature:
    """The canvas for one run (pure: no I/O), empty groups left out. Celery upgrades a group followed by
    more work into a chord, so the result is chord(classes, chord(shards, finalize)): each stage waits for
    the whole previous group (chords use the result backend only as a counter, not as the source of truth)."""
    gpu = queue_name("gpu")
    steps: list[Signature] = []
    if class_indices:
        steps.append(group([build_class_artifacts.si(run_id, i).set(queue=gpu) for i in class_indices]))
    if shard_indices:
        steps.append(group([segment_shard.si(run_id, i).set(queue=gpu) for i in shard_indices]))
    steps.append(finalize_metrics.si(run_id).set(queue=queue_name("cpu")))
    return chain(*steps)


@shared_task(bind=True, base=RunTask, name="tasks.workflow.start_run")
def start_run(self: RunTask, run_id: int) -> dict[str, Any]:
    """Mark the run running, skip cached classes (keys only, no model weights) and launch the canvas."""
    from ovdiff_web.core.models import Run, RunShard
    from ovdiff_web.core.services import engine_bridge, run_state

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    with run_guard(run_id, "support"):
        run_state.mark_running(run_id)
        ovd = self.ovdiff(run.profile, run.settings)
        to_build: list[int] = []
        cached: list[str] = []
        for i, spec in enumerate(run.class_specs()):
            if engine_bridge.class_is_cached(ovd, self.store, spec):
                cached.append(spec.name)
            else:
                to_build.append(i)
        Run.objects.filter(pk=run_id).update(skipped_classes=cached)
        if cached:  # absolute, not incremental: a resumed run plans again over the same classes
            run_state.stage_at_least(run_id, "support", len(cached), skipped=len(cached))
            run_state.stage_at_least(run_id, "banks", len(cached), skipped=len(cached))
        shards = list(RunShard.objects.filter(run_id=run_id, finished_at__isnull=True)
                      .values_list("index", flat=True))  # a resumed run keeps its finished shards
        result = build_workflow(run_id, to_build, shards).apply_async()
        Run.objects.filter(pk=run_id).update(celery_ids=list(run.celery_ids or []) + [result.id])
        return {"build": len(to_build), "cached": len(cached), "shards": len(shards)}
    return {"cancelled": True}
