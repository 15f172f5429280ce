"""Is an unfinished run still alive? Its task ids against the broker's queues and what live workers hold: a run
no queue or worker holds is stalled, and ended clearly (``state.mark_stalled``). The watchdog (``ops.watchdog``)
asks it for every quiet run; a cancel asks it at once for the run being cancelled."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterable

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from ovdiff_web.celery import app, queue_name
from ovdiff_web.runs import state as run_state
from ovdiff_web.runs.models import Run


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
    import redis  # the broker's client: only when a run is checked

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

    try:
        client = redis.Redis.from_url(app.conf.broker_url, socket_connect_timeout=2, socket_timeout=5)
        client.hdel("unacked", *tags)
        client.zrem("unacked_index", *tags)
    except Exception:  # best effort: the run is ended either way; a restored task finds it finished
        pass


def last_worker_heartbeat() -> Any:
    """When a worker last showed a sign of life from inside a running run (``heartbeat_at``, every ~20 s while a
    task works): a busy solo-pool worker answers no ping, but its heartbeats show it is online. None: no running
    run has one."""
    return Run.objects.filter(status=Run.Status.RUNNING).aggregate(last=Max("heartbeat_at"))["last"]
