"""The ops room's worker side.

Periodic (celery beat) housekeeping: end runs whose tasks are gone (``ovdiff_web.ops.watchdog``) and sweep what
interrupted requests left behind (``ovdiff_web.ops.cleanup``), also once when a worker starts; its public name
stays ``tasks.watchdog.watchdog``. And the task monitor: Celery signals record which task runs on which worker
and which tasks failed for good (``ovdiff_web.ops.task_monitor``), so the Workers page can show them without
asking busy workers.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import task_failure, task_postrun, task_prerun, worker_ready
from ovdiff_web.ops import cleanup, task_monitor
from ovdiff_web.ops import watchdog as service

log = logging.getLogger(__name__)


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


# --- task monitor (worker side of ovdiff_web.ops.task_monitor) ----------------------------------------------

def _ours(task: Any) -> bool:
    return str(getattr(task, "name", "") or "").startswith("tasks.")


def _safely(fn: Any, *args: Any) -> None:
    """Monitoring must never fail a task: a Redis hiccup is logged and ignored."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        log.warning("task monitor: %s", exc)


@task_prerun.connect
def _started(task_id: str = "", task: Any = None, args: Any = None, **_: Any) -> None:

    if _ours(task):
        _safely(task_monitor.task_started, task_id, task.name, args, getattr(task.request, "hostname", "") or "?")


@task_postrun.connect
def _finished(task_id: str = "", task: Any = None, **_: Any) -> None:

    if _ours(task):
        _safely(task_monitor.task_finished, task_id)


@task_failure.connect
def _failed(sender: Any = None, task_id: str = "", exception: BaseException | None = None, args: Any = None,
            **_: Any) -> None:

    if _ours(sender):
        _safely(task_monitor.task_failed, task_id, sender.name, args,
                getattr(sender.request, "hostname", "") or "?", f"{type(exception).__name__}: {exception}")
