"""Runs never hang: find runs (and image segmentations) whose tasks are gone and end them clearly.

A run shows signs of life (``heartbeat_at``: every progress write, and every ~20 s from inside long engine work).
When it has shown none for OVDIFF_STALL_AFTER_S, its current task ids (``Run.celery_ids``) are looked for in the
broker's queues and among the tasks live workers hold. If none is there, the tasks were lost (a worker SIGKILLed
with its message unacknowledged, a Redis restart without persistence that dropped queue and chord state): the run
is marked failed with ``stalled_since`` (or cancelled, if a cancel was asked), so resume and cancel work on it.
A run whose tasks merely wait in a long queue is left alone. Called by ``tasks.watchdog`` (celery beat)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterable

from django.conf import settings
from django.utils import timezone

from ovdiff_web.core.jobs import SegmentJob
from ovdiff_web.core.models import Run
from ovdiff_web.core.services import run_state


@dataclass
class BrokerView:
    """Task ids in the broker's queues, taken-but-unacknowledged ones, and those live workers hold."""

    queued: set[str]
    unacked: dict[str, str]  # task id -> delivery tag
    held: set[str]  # active or reserved (prefetched) on a live worker
    active: set[str]  # executing now on a live worker

    def holds(self, task_id: str) -> bool:
        return task_id in self.queued or task_id in self.held


def _task_id(raw: bytes | str) -> str | None:
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if isinstance(message, list):  # unacked entries are [message, exchange, routing_key]
        message = message[0] if message else {}
    headers = message.get("headers") or {} if isinstance(message, dict) else {}
    return headers.get("id") or (message.get("properties") or {}).get("correlation_id")


def broker_view(timeout: float | None = None) -> BrokerView:
    """Read the Redis queues of this deployment and ask live workers what they hold. Raises when the broker is
    unreachable (then nothing can be decided)."""
    import redis

    from ovdiff_web.celery import app, queue_name

    client = redis.Redis.from_url(app.conf.broker_url, socket_connect_timeout=2, socket_timeout=5)
    queued: set[str] = set()
    for base in (queue_name("gpu"), queue_name("cpu")):
        keys = [base.encode(), *client.scan_iter(match=f"{base}\x06\x16*")]  # kombu's priority sub-queues
        for key in keys:
            for start in range(0, client.llen(key), 1000):
                queued.update(filter(None, (_task_id(m) for m in client.lrange(key, start, start + 999))))
    unacked = {}
    for tag, raw in client.hgetall("unacked").items():
        task_id = _task_id(raw)
        if task_id:
            unacked[task_id] = tag.decode() if isinstance(tag, bytes) else tag
    inspect = app.control.inspect(timeout=timeout if timeout is not None else settings.OVDIFF_WORKER_PING_TIMEOUT)
    active = {t["id"] for tasks in (inspect.active() or {}).values() for t in tasks if t.get("id")}
    reserved = {t["id"] for tasks in (inspect.reserved() or {}).values() for t in tasks if t.get("id")}
    return BrokerView(queued=queued, unacked=unacked, held=active | reserved, active=active)


def _last_sign(run: Run) -> Any:
    return max(t for t in (run.heartbeat_at, run.started_at, run.created_at) if t is not None)


def check_run(run_id: int, grace_s: float | None = None, view: BrokerView | None = None,
              cancelling: bool = False) -> str:
    """Decide about one unfinished run: "alive", "quiet" (too recent to judge), "stalled" or "unknown" (broker
    unreachable). A stalled run is failed (or cancelled when a cancel was asked) with ``stalled_since``.

    ``cancelling``: the run's queued tasks were just revoked, so only a task EXECUTING on a worker keeps it alive
    (that task sees the cancel flag within a second and records the cancellation itself)."""
    grace = settings.OVDIFF_STALL_AFTER_S if grace_s is None else grace_s
    run = Run.objects.filter(pk=run_id).exclude(status__in=Run.FINISHED).first()
    if run is None:
        return "finished"
    last = _last_sign(run)
    if timezone.now() - last < timedelta(seconds=grace):
        return "quiet"
    try:
        view = view or broker_view()
    except Exception:
        return "unknown"
    ids = list(run.celery_ids or [])
    if any((i in view.active) if cancelling else view.holds(i) for i in ids):
        return "alive"
    _forget_unacked(view, ids)
    run_state.mark_stalled(run, last)
    return "stalled"


def _forget_unacked(view: BrokerView, ids: Iterable[str]) -> None:
    """Drop lost messages from the broker's unacked set, so they do not come back hours later."""
    tags = [view.unacked[i] for i in ids if i in view.unacked]
    if not tags:
        return
    import redis

    from ovdiff_web.celery import app

    try:
        client = redis.Redis.from_url(app.conf.broker_url, socket_connect_timeout=2, socket_timeout=5)
        client.hdel("unacked", *tags)
        client.zrem("unacked_index", *tags)
    except Exception:  # best effort: the run is ended either way; a restored task finds it finished
        pass


def sweep() -> dict[str, int]:
    """One watchdog pass over every unfinished run and segmentation quiet for OVDIFF_STALL_AFTER_S."""
    cutoff = timezone.now() - timedelta(seconds=settings.OVDIFF_STALL_AFTER_S)
    candidates = [r for r in Run.objects.exclude(status__in=Run.FINISHED)
                  .only("heartbeat_at", "started_at", "created_at") if _last_sign(r) < cutoff]
    jobs = list(SegmentJob.objects.filter(status__in=SegmentJob.ACTIVE, created_at__lt=cutoff))
    counts = {"checked": len(candidates) + len(jobs), "stalled": 0}
    if not candidates and not jobs:
        return counts
    try:
        view = broker_view()
    except Exception:
        return {**counts, "unknown": 1}
    for run in candidates:
        counts["stalled"] += check_run(run.pk, view=view) == "stalled"
    for job in jobs:
        if not view.holds(job.celery_id):
            SegmentJob.objects.filter(pk=job.pk, status__in=SegmentJob.ACTIVE).update(
                status=SegmentJob.Status.FAILED, finished_at=timezone.now(),
                error="stalled: no queue or live worker holds this job (a worker or the broker was lost); "
                      "segment the image again")
            counts["stalled"] += 1
    return counts
