"""Runs never hang: the watchdog ends runs whose tasks no queue or live worker holds (stalled since their last
sign of life), leaves runs alone whose tasks wait in a queue, and resume and cancel work on stalled runs.

Real Redis (DB 15) on a private queue prefix; no worker runs, so "held by a live worker" is never true here
(tests/reliability/test_worker_kill.py covers a real SIGKILLed worker)."""
from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any, Iterator

import pytest
from django.utils import timezone

from ovdiff_web.core.models import Run, RunStage
from ovdiff_web.ops import watchdog

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(settings: Any) -> Iterator[Any]:
    import redis

    from ovdiff_web.celery import app

    client = redis.Redis.from_url(app.conf.broker_url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("local Redis is not running")
    prefix = f"wd{os.getpid()}-"
    settings.OVDIFF_QUEUE_PREFIX = prefix
    settings.OVDIFF_WORKER_PING_TIMEOUT = 0.3
    settings.OVDIFF_STALL_AFTER_S = 60
    tags: list[str] = []
    yield client, prefix, tags
    client.delete(f"{prefix}gpu", f"{prefix}cpu")
    if tags:
        client.hdel("unacked", *tags)
        client.zrem("unacked_index", *tags)


def _running_run(user: Any, quiet_for: timedelta, ids: list[str]) -> Run:
    then = timezone.now() - quiet_for
    run = Run.objects.create(profile="tiny", status=Run.Status.RUNNING, created_by=user, started_at=then,
                             heartbeat_at=then, celery_ids=ids)
    RunStage.objects.create(run=run, name="segment", order=0, total=16, done=11, status="running", started_at=then)
    Run.objects.filter(pk=run.pk).update(created_at=then)
    run.refresh_from_db()
    return run


def test_a_run_whose_tasks_are_gone_is_marked_stalled_and_can_be_resumed(broker: Any, user: Any, api: Any) -> None:
    run = _running_run(user, timedelta(minutes=5), ["lost-task-id"])
    recent = _running_run(user, timedelta(seconds=5), ["another-lost-id"])
    counts = watchdog.sweep()
    assert counts["stalled"] == 1
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.stalled_since == run.heartbeat_at
    assert "stalled" in run.error and "Resume" in run.error
    assert RunStage.objects.get(run=run).status == "failed"
    recent.refresh_from_db()
    assert recent.status == Run.Status.RUNNING and recent.stalled_since is None  # too recent to judge
    html = api.get(f"/api/runs/{run.pk}/").json()
    assert html["stalled_since"] is not None
    response = api.post(f"/api/runs/{run.pk}/resume/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    run.refresh_from_db()
    assert run.stalled_since is None


def test_a_run_whose_task_waits_in_the_queue_is_alive(broker: Any, user: Any) -> None:
    from ovdiff_web.celery import app

    client, prefix, _ = broker
    app.send_task("tasks.segment.segment_shard", args=(1, 0), queue=f"{prefix}gpu", task_id="waiting-task")
    run = _running_run(user, timedelta(minutes=30), ["waiting-task"])
    assert watchdog.check_run(run.pk) == "alive"
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING


def test_a_message_taken_by_a_dead_worker_is_stalled_and_forgotten(broker: Any, user: Any) -> None:
    """A SIGKILLed worker leaves its message in the broker's unacked set for the visibility timeout (hours)."""
    client, prefix, tags = broker
    tag = f"tag-{os.getpid()}"
    tags.append(tag)
    message = {"headers": {"id": "taken-by-dead-worker", "task": "tasks.segment.segment_shard"}, "body": ""}
    client.hset("unacked", tag, json.dumps([message, prefix + "gpu", prefix + "gpu"]))
    client.zadd("unacked_index", {tag: 0})
    run = _running_run(user, timedelta(minutes=5), ["taken-by-dead-worker"])
    assert watchdog.check_run(run.pk) == "stalled"
    assert not client.hexists("unacked", tag)  # it will not come back hours later


def test_cancel_works_on_a_stalled_run_at_once(broker: Any, user: Any, api: Any, ui_client: Any) -> None:
    run = _running_run(user, timedelta(seconds=1), ["gone"])
    response = api.post(f"/api/runs/{run.pk}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    other = _running_run(user, timedelta(minutes=10), ["gone-too"])
    response = ui_client.post(f"/runs/{other.pk}/cancel/")
    other.refresh_from_db()
    assert response.status_code == 302 and other.status == Run.Status.CANCELLED
    assert other.stalled_since is not None


def test_run_page_shows_stalled_since_and_a_resume_button(broker: Any, user: Any, ui_client: Any) -> None:
    run = _running_run(user, timedelta(minutes=7), ["gone"])
    watchdog.sweep()
    html = ui_client.get(f"/runs/{run.pk}/").content.decode()
    assert "Stalled since" in html and "data-resume-form" in html
    response = ui_client.post(f"/runs/{run.pk}/resume/")
    run.refresh_from_db()
    assert response.status_code == 302 and run.status == Run.Status.QUEUED


def test_the_watchdog_is_scheduled_by_celery_beat(settings: Any) -> None:
    import tasks  # noqa: F401  (what a worker imports: registers every task)
    from ovdiff_web.celery import app

    entry = app.conf.beat_schedule["watchdog"]
    assert entry["task"] == "tasks.watchdog.watchdog" and entry["schedule"] <= 60
    assert "tasks.watchdog.watchdog" in app.tasks
