"""Celery tasks of the ovdiff service: thin, idempotent wrappers around the engine, one module per room of the
web app (``support``, ``datasets``, ``runs``, ``ops``; ``base`` holds what they share). A task's public name
(``name=``) is the one it had before the modules were named after the rooms and never changes (docs/ARCHITECTURE.md).

Importing the package registers every task with the Celery app (``autodiscover_tasks(["tasks"])``).
"""
from tasks import datasets, ops, runs, segment_image, support  # noqa: F401
