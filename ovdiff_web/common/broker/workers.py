"""Celery worker status for the API: ping + active tasks with a short timeout; a clear message when the
broker cannot be reached (no exception leaks to the user, no hang)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from ovdiff_web.celery import app
from ovdiff_web.celery import queue_name


def worker_status(timeout: float | None = None) -> dict[str, Any]:

    timeout = settings.OVDIFF_WORKER_PING_TIMEOUT if timeout is None else timeout
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            inspect = app.control.inspect(timeout=timeout, connection=conn)
            pings = inspect.ping() or {}
            active = inspect.active() or {} if pings else {}
            queues = inspect.active_queues() or {} if pings else {}
    except Exception as exc:  # any transport error means the same thing to the user
        return {"broker": "unavailable", "detail": f"cannot reach the broker: {type(exc).__name__}", "workers": []}
    workers = []
    for name in sorted(pings):
        workers.append({
            "name": name,
            "ok": pings[name].get("ok") == "pong",
            "queues": sorted(q.get("name", "") for q in queues.get(name, [])),
            "active": [{"id": t.get("id"), "name": t.get("name"), "args": t.get("args")} for t in active.get(name, [])],
        })
    detail = "" if workers else "no worker answered within the timeout"
    return {"broker": "ok", "detail": detail, "workers": workers}


def gpu_worker_online(timeout: float | None = None) -> bool:
    """Whether any live worker consumes the ``gpu`` queue (where class builds and segmentation run)."""

    gpu = queue_name("gpu")
    return any(w["ok"] and gpu in w["queues"] for w in worker_status(timeout)["workers"])


# A worker counts as online when it answered a ping just now, or sent a heartbeat within this window (a solo-pool
# worker running a task answers no ping; tasks heartbeat every ~20 s, so three heartbeats fit in the window).
SEEN_WINDOW_S = 60


def seen_recently(last_heartbeat: datetime | None, now: datetime | None = None,
                  window_s: float = SEEN_WINDOW_S) -> bool:
    """Whether a worker's last heartbeat falls within the last ``window_s`` seconds."""
    if last_heartbeat is None:
        return False
    now = timezone.now() if now is None else now
    return now - last_heartbeat <= timedelta(seconds=window_s)


def waiting_for_gpu_notice(waiting: bool, last_heartbeat: datetime | None = None) -> str:
    """The notice a page shows when jobs wait for a GPU worker and no worker showed a sign of life: no answer to
    a ping now and no heartbeat (``last_heartbeat``, from a running task) within ``SEEN_WINDOW_S`` seconds. It
    says what was observed, not that no worker exists (asked only when some wait)."""
    if not waiting or seen_recently(last_heartbeat) or gpu_worker_online():
        return ""
    return (f"Jobs are waiting for a GPU worker, and no worker consuming the gpu queue answered or sent a "
            f"heartbeat in the last {SEEN_WINDOW_S} s: they start as soon as one is running (see the Workers page).")
