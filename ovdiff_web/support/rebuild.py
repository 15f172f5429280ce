"""Rebuilding one class's support set and prototype banks on a worker (the class page's and the API's
"regenerate", the review's "rebuild"): same settings = a cache hit, another seed = a new set."""
from __future__ import annotations

from typing import Any

from django.conf import settings

from ovdiff_web.accounts import quotas
from ovdiff_web.common import engine_bridge
from ovdiff_web.common.broker import queue


def queue_regenerate(cls: Any, profile: str | None, overrides: dict[str, Any], user: Any = None) -> str:
    """Queue a rebuild of one class's artifacts (same settings = cache hit; e.g. another seed = new set).

    API and dashboard both call this: ``InputError`` for refused settings (400), ``quotas.QuotaExceeded`` (429)
    when ``user`` has too many jobs queued or running (a rebuild counts as one), ``queue.QueueUnavailable`` when the
    broker does not answer (503, its message shown as is)."""
    profile = profile or settings.OVDIFF_PROFILE
    quotas.check_can_queue(user)
    config = engine_bridge.checked_config(profile, overrides)
    task_id = queue.enqueue(queue.REGENERATE_CLASS, (cls.pk, profile, config.to_dict()), "gpu", check_broker=True)
    quotas.note_regeneration(user, task_id)
    return task_id
