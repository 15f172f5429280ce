"""What Flower would show, kept in the broker's Redis so every web process sees the same thing:
tasks running now (with their worker, so a busy solo worker that cannot answer a ping still shows as busy),
recent final failures, queue lengths, and the last answer of a background ``inspect`` with its age.

Workers write through ``tasks.ops`` (Celery signals); the web side only reads, plus at most one background
``inspect`` per ``INSPECT_MAX_AGE_S`` across all web processes, so the Workers page never waits on workers.
Every Redis call has a short timeout; a broker that is down is reported, never raised.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any
from ovdiff_web.celery import app
from django.conf import settings
from ovdiff_web.common.broker import workers
from ovdiff_web.celery import queue_name

RUNNING_TTL_S = 7 * 24 * 3600
FAILED_KEEP = 50
INSPECT_MAX_AGE_S = 5.0
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")  # kombu's Redis priority lists of one queue


def _client() -> Any:
    import redis


    return redis.Redis.from_url(app.conf.broker_url, socket_timeout=0.3, socket_connect_timeout=0.3)


def _key(name: str) -> str:

    return f"{settings.OVDIFF_QUEUE_PREFIX}ovdiff:monitor:{name}"


# --- written by workers (tasks.ops) ----------------------------------------------------------------------

def task_started(task_id: str, name: str, args: Any, worker: str) -> None:
    entry = {"id": task_id, "name": name, "args": repr(args)[:200], "worker": worker, "started": time.time()}
    client = _client()
    client.hset(_key("running"), task_id, json.dumps(entry))
    client.expire(_key("running"), RUNNING_TTL_S)


def task_finished(task_id: str) -> None:
    _client().hdel(_key("running"), task_id)


def task_failed(task_id: str, name: str, args: Any, worker: str, error: str) -> None:
    entry = {"id": task_id, "name": name, "args": repr(args)[:200], "worker": worker, "at": time.time(),
             "error": error[:500]}
    client = _client()
    client.hdel(_key("running"), task_id)
    client.lpush(_key("failed"), json.dumps(entry))
    client.ltrim(_key("failed"), 0, FAILED_KEEP - 1)


# --- read by the Workers page -------------------------------------------------------------------------------

def _ask_workers() -> None:
    """Background thread body: one ``inspect`` round, stored with its time (the page shows its age)."""

    answer = workers.worker_status()
    try:
        _client().set(_key("inspect"), json.dumps({**answer, "at": time.time()}), ex=3600)
    except Exception:  # noqa: BLE001 - the broker went away meanwhile: the next page view says so
        pass


def snapshot(now: float | None = None) -> dict[str, Any]:
    """Everything the Workers page shows, from Redis only (fast); starts a background ``inspect`` when the
    last answer is older than ``INSPECT_MAX_AGE_S`` and no other process is already asking."""

    now = time.time() if now is None else now
    queues = [queue_name("gpu"), queue_name("cpu")]
    try:
        client = _client()
        pipe = client.pipeline()
        for q in queues:
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(q + suffix)
        pipe.hvals(_key("running"))
        pipe.lrange(_key("failed"), 0, 19)
        pipe.get(_key("inspect"))
        out = pipe.execute()
    except Exception as exc:  # noqa: BLE001 - any transport error means the same thing to the user
        return {"broker": "unavailable", "detail": f"cannot reach the broker: {type(exc).__name__}",
                "queues": [{"name": q, "length": None} for q in queues], "running": [], "failed": [],
                "workers": [], "answer_age": None, "asking": False}
    k = len(PRIORITY_SUFFIXES)
    lengths = [{"name": q, "length": sum(out[i * k:(i + 1) * k])} for i, q in enumerate(queues)]
    running = sorted((json.loads(v) for v in out[-3]), key=lambda e: e["started"])
    for entry in running:
        entry["age"] = max(0.0, now - entry["started"])
    failed = [json.loads(v) for v in out[-2]]
    for entry in failed:
        entry["age"] = max(0.0, now - entry["at"])
    answer = json.loads(out[-1]) if out[-1] else None
    age = None if answer is None else max(0.0, now - answer["at"])
    asking = False
    if age is None or age > INSPECT_MAX_AGE_S:
        try:
            asking = bool(client.set(_key("asking"), "1", nx=True, ex=int(INSPECT_MAX_AGE_S)))
        except Exception:  # noqa: BLE001
            asking = False
        if asking:
            threading.Thread(target=_ask_workers, name="ovdiff-inspect", daemon=True).start()
    return {"broker": "ok", "detail": "", "queues": lengths, "running": running, "failed": failed,
            "workers": merge_workers(answer, running), "answer_age": age, "asking": asking or age is None,
            "answer_detail": (answer or {}).get("detail", "")}


def merge_workers(answer: dict[str, Any] | None, running: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Workers that answered the last ``inspect``, plus busy workers that did not (a solo pool running a task
    answers control messages only between tasks): each with its tasks running now."""
    by_name: dict[str, dict[str, Any]] = {}
    for w in (answer or {}).get("workers", []):
        by_name[w["name"]] = {"name": w["name"], "answered": True, "queues": w.get("queues", []), "running": []}
    for entry in running:
        worker = by_name.setdefault(entry["worker"], {"name": entry["worker"], "answered": False, "queues": [],
                                                      "running": []})
        worker["running"].append(entry)
    return [by_name[k] for k in sorted(by_name)]
