"""Celery tasks of the ovdiff service: thin, idempotent wrappers around the engine.

Importing the package registers every task with the Celery app (``autodiscover_tasks(["tasks"])``).
"""
from tasks import artifacts, ingest, metrics, monitor, segment, segment_image, watchdog, workflow  # noqa: F401
