"""The state of a queued task, read back from the result backend for the dashboard."""
from __future__ import annotations

from typing import Any
from celery.result import AsyncResult
from ovdiff_web.celery import app

# Celery state -> the run-status words the dashboard's badges and poller already use
TASK_STATUS = {"PENDING": "queued", "RECEIVED": "queued", "STARTED": "running", "RETRY": "running",
               "PROGRESS": "running",
               "SUCCESS": "succeeded", "FAILURE": "failed", "REVOKED": "cancelled"}
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
TASK_STATE_LABELS = {
    "PENDING": "queued (waiting for a worker)",
    "RECEIVED": "queued (a worker took it)",
    "STARTED": "running",
    "PROGRESS": "running",
    "RETRY": "retrying",
    "SUCCESS": "done",
    "FAILURE": "failed",
    "REVOKED": "cancelled",
}


def task_state(task_id: str) -> dict[str, Any]:
    """``{"state": "SUCCESS", "status": "succeeded", "label": "done", "error": "", "finished": True}`` for a
    queued task; state "UNKNOWN" when the result backend cannot be read (the page still renders)."""


    try:
        result = AsyncResult(task_id, app=app)
        state = result.state
        error = str(result.result)[:500] if state == "FAILURE" else ""
        info = result.info if state == "PROGRESS" and isinstance(result.info, dict) else {}
    except Exception as exc:
        return {"state": "UNKNOWN", "status": "unknown", "finished": False, "error": "",
                "label": f"unknown (result backend unreachable: {type(exc).__name__})"}
    status = TASK_STATUS.get(state, state.lower())
    label = TASK_STATE_LABELS.get(state, state.lower())
    if info:  # a task reporting progress: "running: banks 2/3"
        label = f"running: {info.get('stage', '')} {info.get('done', 0)}/{info.get('total', 0)}"
    return {"state": state, "status": status, "finished": status in FINISHED_STATUSES, "error": error,
            "label": label, "progress": info}
