"""Every state change of a run and its stages, in one place.

Run: queued -> running -> succeeded | failed | cancelled; failed/cancelled -> queued again (resumed); a queued
run nobody started is cancelled at once; a run the broker would not take fails. Stages: pending -> running
(start) -> done (advance/at_least/sync_images reach total, or finish). A running run whose tasks were lost is
failed (or cancelled) by the watchdog with ``stalled_since`` (``mark_stalled``). Every write is one conditional UPDATE, so
re-delivered tasks and racing workers never move a run backwards or count work twice.
"""
from __future__ import annotations

import traceback as tb
from typing import Any

from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from ovdiff_web.runs.models import ImageResult, Run, RunStage


def mark_running(run_id: int) -> None:
    Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(status=Run.Status.RUNNING,
                                                                   started_at=timezone.now())


def mark_succeeded(run_id: int, **fields: Any) -> None:
    """Close the run with its metrics fields (unless it already ended)."""
    Run.objects.filter(pk=run_id).exclude(status__in=Run.FINISHED).update(
        status=Run.Status.SUCCEEDED, finished_at=timezone.now(), **fields)


def mark_unqueued(run_id: int, message: str) -> None:
    """The broker would not take the run: it fails with ``message`` instead of staying queued forever."""
    Run.objects.filter(pk=run_id).update(status=Run.Status.FAILED, finished_at=timezone.now(), error=message)


def mark_resumed(run_id: int) -> bool:
    """A failed or cancelled run back to queued (unfinished stages pending); False if it was neither."""
    updated = Run.objects.filter(pk=run_id, status__in=(Run.Status.FAILED, Run.Status.CANCELLED)).update(
        status=Run.Status.QUEUED, error="", traceback="", cancel_requested=False, finished_at=None,
        stalled_since=None, heartbeat_at=timezone.now())
    if updated:
        RunStage.objects.filter(run_id=run_id).exclude(status=RunStage.Status.DONE).update(
            status=RunStage.Status.PENDING, finished_at=None)
    return bool(updated)


def mark_cancel_requested(run_id: int) -> None:
    """Raise the cancel flag (workers see it within ~0.5 s); a run nobody started is cancelled at once."""
    Run.objects.filter(pk=run_id).update(cancel_requested=True)
    Run.objects.filter(pk=run_id, status=Run.Status.QUEUED, started_at__isnull=True).update(
        status=Run.Status.CANCELLED, finished_at=timezone.now())


def mark_cancelled(run_id: int) -> None:
    Run.objects.filter(pk=run_id).exclude(status__in=Run.FINISHED).update(
        status=Run.Status.CANCELLED, finished_at=timezone.now())
    RunStage.objects.filter(run_id=run_id).exclude(status=RunStage.Status.DONE).update(
        status=RunStage.Status.CANCELLED)


def mark_failed(run_id: int, exc: BaseException, stage: str | None = None) -> None:
    """Keep the error and traceback; earlier results (images, stages) stay as they are."""
    message = f"{type(exc).__name__}: {exc}"
    Run.objects.filter(pk=run_id).exclude(status__in=Run.FINISHED).update(
        status=Run.Status.FAILED, error=message[:4000], traceback="".join(tb.format_exception(exc))[-20000:],
        finished_at=timezone.now())
    if stage:
        RunStage.objects.filter(run_id=run_id, name=stage).exclude(status=RunStage.Status.DONE).update(
            status=RunStage.Status.FAILED, finished_at=timezone.now())


def record_mask_choices(run_id: int, choices: dict[str, dict[str, str]]) -> None:
    """The support masks the vocabulary chose for this run (every shard finds the same; the last write stays)."""
    Run.objects.filter(pk=run_id).update(support_mask_choices=choices)


def heartbeat(run_id: int) -> None:
    """A worker's sign of life, read by the watchdog (``services.watchdog``)."""
    Run.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


def mark_stalled(run: Run, since: Any) -> None:
    """End a run whose tasks are gone (the watchdog decided): cancelled if a cancel was asked, else failed with
    the reason and ``stalled_since``; resume works on it like on any failed run."""
    unfinished = Run.objects.filter(pk=run.pk).exclude(status__in=Run.FINISHED)
    if run.cancel_requested:
        unfinished.update(status=Run.Status.CANCELLED, finished_at=timezone.now(), stalled_since=since)
        final = RunStage.Status.CANCELLED
    else:
        unfinished.update(status=Run.Status.FAILED, finished_at=timezone.now(), stalled_since=since,
                          error=f"stalled: no sign of life since {since:%Y-%m-%d %H:%M:%S %Z} and no queue or live "
                                "worker holds its tasks (a worker or the broker was lost). Resume it to continue: "
                                "finished work is kept.")
        final = RunStage.Status.FAILED
    RunStage.objects.filter(run_id=run.pk).exclude(status=RunStage.Status.DONE).update(status=final)


def stage_start(run_id: int, name: str) -> None:
    heartbeat(run_id)
    RunStage.objects.filter(run_id=run_id, name=name, started_at__isnull=True).update(started_at=timezone.now())
    RunStage.objects.filter(run_id=run_id, name=name, status=RunStage.Status.PENDING).update(
        status=RunStage.Status.RUNNING)


def stage_advance(run_id: int, name: str, by: int = 1, *, skipped: int = 0) -> None:
    """Atomic increment (F expression), capped at total (a task re-delivered after a worker died between
    its progress write and its ack must not count twice), and completion when done reaches total."""
    stage_start(run_id, name)
    RunStage.objects.filter(run_id=run_id, name=name).update(done=Least(F("done") + by, F("total")),
                                                             skipped=Least(F("skipped") + skipped, F("total")))
    _close_if_complete(run_id, name)


def stage_at_least(run_id: int, name: str, done: int, *, skipped: int = 0) -> None:
    """Raise done/skipped to at least these values (idempotent: planning may run again on resume)."""
    stage_start(run_id, name)
    RunStage.objects.filter(run_id=run_id, name=name).update(done=Greatest(F("done"), done),
                                                             skipped=Greatest(F("skipped"), skipped))
    _close_if_complete(run_id, name)


def stage_sync_images(run_id: int) -> None:
    """segment.done = number of ImageResult rows: one UPDATE, idempotent under re-delivered shards."""
    heartbeat(run_id)
    count = (ImageResult.objects.filter(run_id=OuterRef("run_id")).values("run_id")
             .annotate(c=Count("id")).values("c"))
    RunStage.objects.filter(run_id=run_id, name="segment").update(done=Subquery(count))
    _close_if_complete(run_id, "segment")


def _close_if_complete(run_id: int, name: str) -> None:
    RunStage.objects.filter(run_id=run_id, name=name, done__gte=F("total")).exclude(
        status=RunStage.Status.DONE).update(status=RunStage.Status.DONE, finished_at=timezone.now())


def stage_finish(run_id: int, name: str, status: str = RunStage.Status.DONE) -> None:
    stage_start(run_id, name)
    RunStage.objects.filter(run_id=run_id, name=name).exclude(status=RunStage.Status.DONE).update(
        status=status, finished_at=timezone.now())
