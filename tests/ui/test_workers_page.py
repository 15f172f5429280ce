"""Workers page: answers from Redis without waiting on workers, shows busy workers, queue lengths per configured
queue, running and failed tasks recorded by the worker-side signals, and the last answer with its age."""
from __future__ import annotations

import os
import threading
from typing import Any, Iterator

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def prefix(settings: Any) -> Iterator[str]:
    """A private queue prefix: this test's monitor keys and queues never meet another session's."""
    import redis

    from ovdiff_web.celery import app

    settings.OVDIFF_QUEUE_PREFIX = f"wtest{os.getpid()}-"
    client = redis.Redis.from_url(app.conf.broker_url)
    yield settings.OVDIFF_QUEUE_PREFIX
    for key in client.keys(f"{settings.OVDIFF_QUEUE_PREFIX}*"):
        client.delete(key)


def test_busy_worker_queues_and_failures_without_waiting_on_workers(ui: Any, prefix: str,
                                                                    monkeypatch: Any) -> None:
    import redis
    from celery.signals import task_failure, task_prerun

    import tasks  # noqa: F401  (registers the tasks and the worker-side monitor signals, as a worker does)
    from ovdiff_web.celery import app
    from ovdiff_web.common.broker import workers as workers_service

    release = threading.Event()
    asked = threading.Event()

    def slow_status(timeout: float | None = None) -> dict[str, Any]:  # a worker round that takes "forever"
        asked.set()
        release.wait(10)
        return {"broker": "ok", "detail": "", "workers": []}

    monkeypatch.setattr(workers_service, "worker_status", slow_status)
    task = app.tasks["tasks.segment.segment_shard"]
    task.push_request(hostname="gpu-host-1")
    try:  # what a worker's signals send when it starts one task and another fails for good
        task_prerun.send(sender=task, task_id="t-running", task=task, args=(7, 0), kwargs={})
        task_failure.send(sender=task, task_id="t-failed", exception=RuntimeError("CUDA out of memory"),
                          args=(8, 1), kwargs={}, traceback=None, einfo=None)
    finally:
        task.pop_request()
    redis.Redis.from_url(app.conf.broker_url).rpush(f"{prefix}gpu", b"{}", b"{}")

    response = ui.get("/workers/")  # returns while the worker round is still blocked
    assert not release.is_set()
    html = response.content.decode()
    assert response.status_code == 200 and asked.wait(5)
    release.set()
    assert 'data-worker="gpu-host-1"' in html and ">busy<" in html and "segment_shard" in html
    assert f'data-queue-length="{prefix}gpu">2<' in html and f'data-queue-length="{prefix}cpu">0<' in html
    assert "CUDA out of memory" in html and "Asking the workers" in html


def test_hint_names_the_configured_queues(ui: Any, prefix: str) -> None:
    import json
    import time

    import redis

    from ovdiff_web.celery import app

    redis.Redis.from_url(app.conf.broker_url).set(
        f"{prefix}ovdiff:monitor:inspect", json.dumps({"broker": "ok", "detail": "no worker answered within the "
                                                       "timeout", "workers": [], "at": time.time() - 2}))
    html = ui.get("/workers/").content.decode()
    assert f"-Q {prefix}gpu,{prefix}cpu" in html and "Last answer 2s ago" in html
