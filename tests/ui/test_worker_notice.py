"""The "waiting for a GPU worker" notice: a busy solo-pool worker answers no ping while it runs a task, so a
heartbeat from a running run within the window counts as a worker online; the notice says what was observed
("no worker ... answered or sent a heartbeat in the last 60 s"), never "none is online"."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ovdiff_web.common.broker import workers
from ovdiff_web.core.models import Run

pytestmark = pytest.mark.django_db


def test_the_window_decision() -> None:
    now = timezone.now()
    assert workers.seen_recently(now - timedelta(seconds=20), now)
    assert workers.seen_recently(now - timedelta(seconds=workers.SEEN_WINDOW_S), now)
    assert not workers.seen_recently(now - timedelta(seconds=workers.SEEN_WINDOW_S + 1), now)
    assert not workers.seen_recently(None, now)


def test_a_busy_worker_that_misses_a_ping_is_not_called_offline(ui: Any, user: Any, settings: Any) -> None:
    settings.OVDIFF_QUEUE_PREFIX = "nobody-consumes-"  # no ping answers for this queue: the worker is busy
    settings.OVDIFF_WORKER_PING_TIMEOUT = 0.2
    queued = Run.objects.create(kind=Run.Kind.SEGMENTATION, profile="tiny", status=Run.Status.QUEUED, created_by=user)
    running = Run.objects.create(kind=Run.Kind.SEGMENTATION, profile="tiny", status=Run.Status.RUNNING,
                                 created_by=user, heartbeat_at=timezone.now() - timedelta(seconds=20))
    for url in ("/segment/", f"/segment/jobs/{queued.pk}/"):
        assert "data-gpu-notice" not in ui.get(url).content.decode(), url
    Run.objects.filter(pk=running.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))  # long silent
    for url in ("/segment/", f"/segment/jobs/{queued.pk}/"):
        page = ui.get(url).content.decode()
        assert "data-gpu-notice" in page and "in the last 60 s" in page and "none is online" not in page, url
