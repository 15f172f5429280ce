"""Periodic (celery beat) housekeeping: end runs whose tasks are gone (``services.watchdog``) and sweep what
interrupted requests left behind (``services.cleanup``), also once when a worker starts."""
from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from ovdiff_web.ops import cleanup
from ovdiff_web.ops import watchdog as service


@shared_task(name="tasks.watchdog.watchdog", acks_late=False, ignore_result=True)
def watchdog() -> dict[str, Any]:

    return {"runs": service.sweep(), "cleanup": cleanup.sweep()}


@worker_ready.connect
def _sweep_on_start(**kwargs: Any) -> None:
    """A (re)started worker first clears what a killed process left behind."""

    try:
        cleanup.sweep()
    except Exception:  # housekeeping must never keep a worker from starting
        pass
