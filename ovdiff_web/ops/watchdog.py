"""Runs never hang: find runs whose tasks are gone and end them clearly.

A run shows signs of life (``heartbeat_at``: every progress write, and every ~20 s from inside long engine work).
When it has shown none for OVDIFF_STALL_AFTER_S, its current task ids (``Run.celery_ids``) are looked for in the
broker's queues and among the tasks live workers hold. If none is there, the tasks were lost (a worker SIGKILLed
with its message unacknowledged, a Redis restart without persistence that dropped queue and chord state): the run
is marked failed with ``stalled_since`` (or cancelled, if a cancel was asked), so resume and cancel work on it.
A run whose tasks merely wait in a long queue is left alone. Called by ``tasks.ops.watchdog`` (celery beat)."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ovdiff_web.runs.models import Run
from ovdiff_web.runs.liveness import _last_sign, broker_view, check_run  # noqa: F401  (check_run: ops' name for it)


def sweep() -> dict[str, int]:
    """One watchdog pass over every unfinished run quiet for OVDIFF_STALL_AFTER_S."""
    cutoff = timezone.now() - timedelta(seconds=settings.OVDIFF_STALL_AFTER_S)
    candidates = [r for r in Run.objects.exclude(status__in=Run.FINISHED)
                  .only("heartbeat_at", "started_at", "created_at") if _last_sign(r) < cutoff]
    counts = {"checked": len(candidates), "stalled": 0}
    if not candidates:
        return counts
    try:
        view = broker_view()
    except Exception:
        return {**counts, "unknown": 1}
    for run in candidates:
        counts["stalled"] += check_run(run.pk, view=view) == "stalled"
    return counts
