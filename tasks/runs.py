"""The runs room's tasks: the per-run workflow (plan on the cpu queue, then chunks of class tasks, chunks of
shard tasks, finalize), the gpu shard task and the cpu metrics task. Their public names (``tasks.workflow.*``,
``tasks.segment.segment_shard``, ``tasks.metrics.finalize_metrics``) are those of the modules they came from.

Classes whose support set and every bank already exist in the artifact store are not queued at all, so a
repeated run starts segmenting at once. Signatures are immutable (``.si``): no task consumes another's result.
"""
from __future__ import annotations

from typing import Any, Sequence

from celery import chord, shared_task
from celery.canvas import Signature
from django.conf import settings
from kombu.utils.uuid import uuid

from ovdiff_web.celery import queue_name
from tasks.base import RunTask, cancel_checker, fault_point, load_active_run, run_guard
from tasks.support import build_class_artifacts
from ovdiff_web.runs.models import Run, RunShard
from ovdiff_web.runs import kinds, state as run_state
from ovdiff_web.runs.shards import write_run_metrics
from ovdiff_web.common import engine_bridge
from ovdiff_web.support.curation import note_built


@shared_task(bind=True, base=RunTask, name="tasks.segment.segment_shard")
def segment_shard(self: RunTask, run_id: int, shard_index: int) -> dict[str, Any]:
    """gpu: segment the images of shard ``shard_index`` (ids stored on the RunShard row) with the run kind's step
    (``ovdiff_web.runs.kinds``: an evaluation scores each image and saves the shard's confusion matrix, a
    prediction job keeps labels and explanations)."""

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    shard = RunShard.objects.get(run_id=run_id, index=shard_index)
    if shard.finished_at is not None:  # re-delivered after its work was recorded: nothing to redo
        return {"shard": shard_index, "images": len(shard.image_ids), "already_done": True}
    with run_guard(run_id, "segment"):
        run_state.stage_start(run_id, "segment")
        ovd, cancel = self.ovdiff(run.profile, run.settings), cancel_checker(run_id)
        run_state.record_mask_choices(run_id, ovd.vocabulary_choices(run.class_specs(), cancel=cancel))
        kinds.kind_of(run).segment_shard(run, shard, ovd, cancel, after_image=lambda: fault_point("segment"))
        return {"shard": shard_index, "images": len(shard.image_ids)}
    return {"shard": shard_index, "cancelled": True}


@shared_task(bind=True, base=RunTask, name="tasks.metrics.finalize_metrics")
def finalize_metrics(self: RunTask, run_id: int) -> dict[str, Any]:
    """cpu: merge the shards into the run's metrics and metrics.json (``runs.shards.write_run_metrics``) and
    close the run."""
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


def build_workflow(run_id: int, class_indices: Sequence[int], shard_indices: Sequence[int],
                   chunk: int | None = None) -> Signature:
    """The NEXT step of a run (pure: no I/O): at most ``chunk`` class tasks, else at most ``chunk`` shard tasks,
    as a chord whose callback ``advance_run`` queues the rest; ``finalize_metrics`` when nothing is left.

    Fair queueing: the rest of a big run is appended to the queue only when this chunk is done, so work another
    user queued meanwhile runs in between (a 10,000-class vocabulary holds a small run back by one chunk, not by
    10,000 classes). Chords use the result backend only as a counter; every task id is fixed here so the run
    knows which tasks it is waiting for (cancel revokes them, the watchdog looks for them)."""
    gpu, cpu = queue_name("gpu"), queue_name("cpu")
    size = max(1, chunk or settings.OVDIFF_FAIR_CHUNK)
    if class_indices:
        now, rest_classes, rest_shards = class_indices[:size], class_indices[size:], shard_indices
        header = [build_class_artifacts.si(run_id, i).set(queue=gpu, task_id=uuid()) for i in now]
    elif shard_indices:
        now, rest_classes, rest_shards = shard_indices[:size], [], shard_indices[size:]
        header = [segment_shard.si(run_id, i).set(queue=gpu, task_id=uuid()) for i in now]
    else:
        return finalize_metrics.si(run_id).set(queue=cpu, task_id=uuid())
    body = advance_run.si(run_id, list(rest_classes), list(rest_shards)).set(queue=cpu, task_id=uuid())
    return chord(header, body)


def task_ids(signature: Signature) -> list[str]:
    """The ids of the tasks a step sends now and of its callback."""
    if isinstance(signature, chord):
        return [t.options["task_id"] for t in signature.tasks] + [signature.body.options["task_id"]]
    return [signature.options["task_id"]]


def launch(run_id: int, class_indices: Sequence[int], shard_indices: Sequence[int]) -> dict[str, int]:
    """Send the run's next step and record its task ids (replacing the previous step's)."""

    step = build_workflow(run_id, class_indices, shard_indices)
    ids = task_ids(step)
    Run.objects.filter(pk=run_id).update(celery_ids=ids)
    step.apply_async()
    run_state.heartbeat(run_id)
    return {"tasks": len(ids), "classes_left": len(class_indices), "shards_left": len(shard_indices)}


@shared_task(bind=True, base=RunTask, name="tasks.workflow.advance_run")
def advance_run(self: RunTask, run_id: int, class_indices: list[int], shard_indices: list[int]) -> dict[str, Any]:
    """Chord callback: queue the run's next chunk at the tail of the queue (nothing more once cancelled)."""
    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    with run_guard(run_id):
        return launch(run_id, class_indices, shard_indices)
    return {"cancelled": True}


@shared_task(bind=True, base=RunTask, name="tasks.workflow.start_run")
def start_run(self: RunTask, run_id: int) -> dict[str, Any]:
    """Mark the run running, skip cached classes (keys only, no model weights) and launch the canvas."""

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    with run_guard(run_id, "support"):
        run_state.mark_running(run_id)
        ovd = self.ovdiff(run.profile, run.settings)
        to_build: list[int] = []
        cached: list[str] = []
        snapshot = run.vocabulary_snapshot or []
        for i, spec in enumerate(run.class_specs()):
            if engine_bridge.class_is_cached(ovd, self.store, spec):
                cached.append(spec.name)
                entry = snapshot[i] if i < len(snapshot) else {}  # a reviewed set found built: its class page says so
                note_built(entry.get("class_id"), entry.get("support_version") or 0, ovd.support_key(spec))
            else:
                to_build.append(i)
        Run.objects.filter(pk=run_id).update(skipped_classes=cached)
        if cached:  # absolute, not incremental: a resumed run plans again over the same classes
            run_state.stage_at_least(run_id, "support", len(cached), skipped=len(cached))
            run_state.stage_at_least(run_id, "banks", len(cached), skipped=len(cached))
        shards = list(RunShard.objects.filter(run_id=run_id, finished_at__isnull=True)
                      .values_list("index", flat=True))  # a resumed run keeps its finished shards
        launch(run_id, to_build, shards)
        return {"build": len(to_build), "cached": len(cached), "shards": len(shards)}
    return {"cancelled": True}
