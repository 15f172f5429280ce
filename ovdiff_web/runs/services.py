"""Run orchestration: create a run (snapshot + settings + stages), queue it after commit, cancel it, and
report progress. The Celery workflow itself is built in ``tasks.runs``."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.evaluation.labelmap import dataset_label_map
from engine.profiles import FEW_SHOT_PROFILES, is_random_profile
from ovdiff_web.accounts import quotas
from ovdiff_web.common.errors import Conflict, InputError
from ovdiff_web.common.profiles import random_weights_fields
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import Run, RunShard, RunStage
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.common import engine_bridge
from ovdiff_web.common.broker import queue
from ovdiff_web.celery import app
from ovdiff_web.runs import kinds, liveness, state as run_state
from ovdiff_web.vocabularies.services import snapshot_from_dataset
from ovdiff_web.vocabularies.prompts import dataset_class_prompts

STAGES = ("support", "banks", "segment", "metrics")


RunInputError = InputError  # the name callers and tests know


def create_run(*, user: Any, dataset: Dataset, vocabulary: Vocabulary | None = None, profile: str | None = None,
               overrides: dict[str, Any] | None = None, limit: int | None = None,
               kind: str = Run.Kind.EVALUATION) -> Run:
    """Create a queued run and enqueue its start on commit. Raises RunInputError for unusable input."""
    behaviour = kinds.kind_of(kind)
    if behaviour.create_from_dataset is not None:  # e.g. a prediction job: segment a dataset's images, unscored
        return behaviour.create_from_dataset(user=user, dataset=dataset, vocabulary=vocabulary, profile=profile,
                                             overrides=overrides)
    profile = profile or settings.OVDIFF_PROFILE
    quotas.check_can_queue(user)
    if dataset.status != Dataset.Status.READY or not dataset.image_ids:
        raise RunInputError(f"dataset {dataset.name!r} is not ready (status {dataset.status})")
    config = engine_bridge.checked_config(profile, overrides)
    prompts = dataset_class_prompts(dataset.format, dataset.class_names, config)  # the profile's, once
    if vocabulary is not None:
        snapshot = [c.snapshot() for c in vocabulary.classes.all()]
        if not snapshot:
            raise RunInputError(f"vocabulary {vocabulary.name!r} has no classes")
    else:
        snapshot = snapshot_from_dataset(dataset, config, prompts)
    check_support_available(profile, snapshot)
    label_map = dataset_label_map([(c["name"], c.get("prompt")) for c in snapshot], dataset.class_names, prompts,
                                  dataset.has_background)
    image_ids = list(dataset.image_ids)[: limit or None]
    with transaction.atomic():
        return create_rows(kind=kind, vocabulary=vocabulary, vocabulary_snapshot=snapshot, dataset=dataset,
                           profile=profile, settings=config.to_dict(), limit=limit,
                           class_names=list(dataset.class_names), label_map=label_map, image_ids=image_ids,
                           created_by=user if getattr(user, "is_authenticated", False) else None)


def check_support_available(profile: str, snapshot: list[dict[str, Any]]) -> None:
    """RunInputError when a few-shot profile (no generator) meets classes without uploaded support images."""
    without_support = [c["name"] for c in snapshot if not c.get("user_support_dir")]
    if profile in FEW_SHOT_PROFILES and without_support:
        raise RunInputError(f"the {profile} profile has no image generator: upload support images for "
                            f"{', '.join(without_support)} (class page, or POST /api/classes/<id>/support/images/ "
                            "with mode=replace) or choose another profile")


def create_rows(**fields: Any) -> Run:
    """The run, its stages and shards, queued on commit: one job row for evaluations and prediction jobs alike
    (call inside ``transaction.atomic``). ``fields`` are Run fields; ``image_ids`` are split into shards."""
    image_ids, snapshot = list(fields["image_ids"]), fields["vocabulary_snapshot"]
    run = Run.objects.create(is_random_weights=is_random_profile(fields["profile"]), **fields)
    totals = {"support": len(snapshot), "banks": len(snapshot), "segment": len(image_ids),
              **kinds.kind_of(run).stage_counts}
    RunStage.objects.bulk_create([RunStage(run=run, name=n, order=i, total=totals[n])
                                  for i, n in enumerate(STAGES)])
    size = settings.OVDIFF_SHARD_SIZE
    RunShard.objects.bulk_create([RunShard(run=run, index=i, image_ids=image_ids[s: s + size])
                                  for i, s in enumerate(range(0, len(image_ids), size))])
    transaction.on_commit(lambda: enqueue_start(run.pk))
    return run


def enqueue_start(run_id: int) -> None:
    """Send the planning task; it decides which classes need building and launches the canvas."""
    try:
        task_id = queue.enqueue(queue.START_RUN, (run_id,), "cpu")
    except queue.QueueUnavailable as exc:  # say so on the run instead of leaving it queued forever
        run_state.mark_unqueued(run_id, f"could not queue the run: broker unavailable: {exc}")
        return
    Run.objects.filter(pk=run_id).update(celery_ids=[task_id])


class ResumeRefused(Conflict, ValueError):
    """Only failed or cancelled runs can be resumed."""

    code = "resume_refused"


def resume_run(run: Run) -> Run:
    """Queue a failed or cancelled run again. Finished work is kept: classes whose artifacts are in the store
    are skipped by planning, finished shards are not segmented again, progress never goes back."""
    with transaction.atomic():
        if not run_state.mark_resumed(run.pk):
            run.refresh_from_db()
            raise ResumeRefused(f"run {run.pk} is {run.status}; only failed or cancelled runs can be resumed")
        transaction.on_commit(lambda: enqueue_start(run.pk))
    run.refresh_from_db()
    return run


def request_cancel(run: Run) -> Run:
    """Raise the cancel flag (running tasks see it within ~0.5 s), revoke the run's queued tasks (a worker drops
    them unexecuted; no further chunk is queued) and cancel at once a run nobody started or no worker holds."""
    run_state.mark_cancel_requested(run.pk)
    revoke(list(run.celery_ids or []))
    if run.started_at is not None:  # its queued tasks are revoked: cancelled now unless a worker executes one
        liveness.check_run(run.pk, grace_s=0, cancelling=True)
    run.refresh_from_db()
    return run


def revoke(task_ids: list[str]) -> None:
    """Tell every worker to drop these tasks (best effort: a broker outage must not fail the cancel)."""
    if not task_ids:
        return
    try:
        app.control.revoke(task_ids)
    except Exception:  # the cancel flag and the watchdog still stop the run
        pass


# --- progress reads (API and dashboard) ---------------------------------------------------------------------

def stage_progress(stage: RunStage, now: Any = None) -> dict[str, Any]:
    return {"name": stage.name, "status": stage.status, "done": stage.done, "total": stage.total,
            "skipped": stage.skipped, "percent": stage.percent, "eta_seconds": stage.eta_seconds(now),
            "started_at": stage.started_at, "finished_at": stage.finished_at}


def run_progress(run: Run) -> dict[str, Any]:
    """Per-stage and run-level percent and ETA. Run percent weights stages equally (those with work)."""
    now = timezone.now()
    stages = [stage_progress(s, now) for s in run.stages.all()]
    active = [s for s in stages if s["total"] > 0]
    percent = 100.0 if run.status == Run.Status.SUCCEEDED else (
        round(sum(s["percent"] for s in active) / len(active), 1) if active else 0.0)
    unfinished = [s for s in active if s["status"] != RunStage.Status.DONE]
    etas = [s["eta_seconds"] for s in unfinished]
    eta = None if run.is_finished else (0.0 if not unfinished else (
        round(sum(etas), 1) if all(e is not None for e in etas) else None))
    out = {"run": run.pk, "status": run.status, "percent": percent, "eta_seconds": eta,
           "cancel_requested": run.cancel_requested, "stages": stages, "error": run.error}
    out.update(random_weights_fields(run.profile))
    return out
