"""Queueing from dashboard forms: check the broker first (a clear message, never a 500 or a long hang) and read
the state of a queued task back from the result backend for display."""
from __future__ import annotations

from typing import Any

from django.conf import settings

# Celery state -> the run-status words the dashboard's badges and poller already use
TASK_STATUS = {"PENDING": "queued", "RECEIVED": "queued", "STARTED": "running", "RETRY": "running",
               "SUCCESS": "succeeded", "FAILURE": "failed", "REVOKED": "cancelled"}
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
TASK_STATE_LABELS = {
    "PENDING": "queued (waiting for a worker)",
    "RECEIVED": "queued (a worker took it)",
    "STARTED": "running",
    "RETRY": "retrying",
    "SUCCESS": "done",
    "FAILURE": "failed",
    "REVOKED": "cancelled",
}


class BrokerUnavailable(RuntimeError):
    """The message broker (Redis) cannot be reached: nothing was queued."""


def broker_error(timeout: float | None = None) -> str | None:
    """None when the broker answers within ``timeout`` seconds, else a short reason for the user."""
    from ovdiff_web.celery import app

    timeout = settings.OVDIFF_WORKER_PING_TIMEOUT if timeout is None else timeout
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # every transport error means the same thing to the user
        return f"cannot reach the broker ({type(exc).__name__})"
    return None


def queue_regeneration(cls: Any, profile: str, overrides: dict[str, Any]) -> str:
    """Queue ``tasks.artifacts.regenerate_class`` for one class; BrokerUnavailable when Redis does not answer,
    ``runs.RunInputError`` for settings the engine refuses. Returns the Celery task id."""
    from ovdiff_web.core.services import runs

    reason = broker_error()
    if reason:
        raise BrokerUnavailable(reason)
    try:
        return runs.queue_regenerate(cls, profile, overrides)
    except runs.RunInputError:
        raise
    except Exception as exc:  # the broker went away between the check and the send (runs.QueueUnavailable)
        raise BrokerUnavailable(str(exc) or f"could not queue the task ({type(exc).__name__})") from None


def task_state(task_id: str) -> dict[str, Any]:
    """``{"state": "SUCCESS", "status": "succeeded", "label": "done", "error": "", "finished": True}`` for a
    queued task; state "UNKNOWN" when the result backend cannot be read (the page still renders)."""
    from celery.result import AsyncResult

    from ovdiff_web.celery import app

    try:
        result = AsyncResult(task_id, app=app)
        state = result.state
        error = str(result.result)[:500] if state == "FAILURE" else ""
    except Exception as exc:
        return {"state": "UNKNOWN", "status": "unknown", "finished": False, "error": "",
                "label": f"unknown (result backend unreachable: {type(exc).__name__})"}
    status = TASK_STATUS.get(state, state.lower())
    return {"state": state, "status": status, "finished": status in FINISHED_STATUSES, "error": error,
            "label": TASK_STATE_LABELS.get(state, state.lower())}
