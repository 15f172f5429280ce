"""Celery app: configuration from Django settings (``CELERY_*``), tasks discovered in the ``tasks`` package.

Queues: ``gpu`` (sampling, features, segmentation) and ``cpu`` (metrics, ingestion). Nothing here loads models:
workers build engine objects lazily on first use (see ``tasks.base``).
"""
from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ovdiff_web.settings")

app = Celery("ovdiff")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue its own direct exchange and routing key (a bare Queue("gpu") would bind to the default one).
_prefix = os.environ.get("OVDIFF_QUEUE_PREFIX", "").strip()  # same variable the settings read
app.conf.task_queues = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name)
                             for name in (f"{_prefix}gpu", f"{_prefix}cpu"))
# ``tasks`` is a top-level package (not a Django app): import it as a whole; it imports its task modules.
app.autodiscover_tasks(["tasks"], related_name=None)


def queue_name(kind: str) -> str:
    """The queue for ``kind`` ("gpu" or "cpu") under the current settings' prefix (read at call time)."""

    return f"{settings.OVDIFF_QUEUE_PREFIX}{kind}"
