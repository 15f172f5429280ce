"""The one place the service sends Celery tasks: by task NAME, so services never import task modules (tasks
import services, never the other way round). A broker that cannot take the task raises ``QueueUnavailable``
with the message both the API (503 ``detail``) and the dashboard (503 page) show."""
from __future__ import annotations

from typing import Any, Sequence

from django.conf import settings
from ovdiff_web.celery import app
from ovdiff_web.celery import queue_name
from ovdiff_web.common.errors import Unavailable

START_RUN = "tasks.workflow.start_run"
REGENERATE_CLASS = "tasks.artifacts.regenerate_class"
INGEST_DATASET = "tasks.ingest.ingest_dataset"


class QueueUnavailable(Unavailable, RuntimeError):
    """The broker could not take the task: nothing was queued."""

    code = "queue_unavailable"


def _unavailable(reason: str) -> QueueUnavailable:
    return QueueUnavailable(f"the task queue is unavailable, so nothing was queued ({reason}); start Redis and a "
                            "worker (see the Workers page), then try again")


def broker_error(timeout: float | None = None) -> str | None:
    """None when the broker answers within ``timeout`` seconds, else a short reason for the user."""

    timeout = settings.OVDIFF_WORKER_PING_TIMEOUT if timeout is None else timeout
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # every transport error means the same thing to the user
        return f"cannot reach the broker ({type(exc).__name__})"
    return None


def require_broker() -> None:
    """QueueUnavailable unless the broker answers now (for callers that must know before doing any work)."""
    reason = broker_error()
    if reason:
        raise _unavailable(reason)


def enqueue(task: str, args: Sequence[Any], queue: str, *, check_broker: bool = False) -> str:
    """Send ``task`` (a registered task name) to the (prefixed) ``queue`` ("gpu" or "cpu"); returns its id.

    ``check_broker`` pings first, so a request fails fast with a clear message instead of retrying a dead broker.
    """

    if check_broker:
        require_broker()
    try:
        result = app.send_task(task, args=list(args), queue=queue_name(queue), retry=True,
                               retry_policy={"max_retries": 2})
    except Exception as exc:  # every transport error means the same thing to the user
        raise _unavailable(type(exc).__name__) from None
    return str(result.id)
