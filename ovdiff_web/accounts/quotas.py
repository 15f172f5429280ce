"""Per-user limits on queued work and on the size of what one user builds, so one user cannot starve the rest.

Staff are exempt. The limits are settings (README: "Limits")."""
from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache

from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.broker.task_state import task_state


class QuotaExceeded(ServiceError, ValueError):
    """A per-user limit would be exceeded; ``field`` names the request field, ``status`` is 429 for queue limits
    (try again later) and 400 for size limits (the request itself is too big)."""

    code = "quota_exceeded"


def _exempt(user: Any) -> bool:
    return bool(getattr(user, "is_staff", False))


def _regen_key(user: Any) -> str:
    return f"quota:regenerations:{user.pk}"


def note_regeneration(user: Any, task_id: str) -> None:
    """Remember a class rebuild ``user`` queued, so it counts in their limit until its task finishes.

    Kept in the cache (Redis) no longer than Celery keeps results: past that an unknown id would read as queued."""
    if not getattr(user, "is_authenticated", False):
        return
    try:
        ids = [i for i in cache.get(_regen_key(user), []) if i != task_id] + [task_id]
        cache.set(_regen_key(user), ids[-100:], timeout=getattr(settings, "CELERY_RESULT_EXPIRES", 24 * 3600))
    except Exception:  # a cache outage never refuses the rebuild itself
        return


def active_regenerations(user: Any) -> int:
    """The user's class rebuilds whose tasks are still queued or running (finished ones are forgotten)."""
    try:
        ids = cache.get(_regen_key(user), [])
    except Exception:
        return 0
    active = [i for i in ids if not task_state(i)["finished"]]
    if len(active) != len(ids):
        try:
            cache.set(_regen_key(user), active, timeout=getattr(settings, "CELERY_RESULT_EXPIRES", 24 * 3600))
        except Exception:
            pass
    return len(active)


def active_jobs(user: Any) -> int:
    """The user's runs (evaluations and prediction jobs) and class rebuilds that are queued or running."""
    # Counted by name: the job model lives in a room above this one (docs/ARCHITECTURE.md).
    Run = apps.get_model("core", "Run")  # noqa: N806
    runs = Run.objects.filter(created_by=user, status__in=(Run.Status.QUEUED, Run.Status.RUNNING)).count()
    return runs + active_regenerations(user)


def check_can_queue(user: Any) -> None:
    """QuotaExceeded (429) when the user already has OVDIFF_MAX_ACTIVE_PER_USER jobs (runs, class rebuilds)
    queued or running."""
    limit = settings.OVDIFF_MAX_ACTIVE_PER_USER
    if _exempt(user) or not getattr(user, "is_authenticated", False):
        return
    n = active_jobs(user)
    if n >= limit:
        raise QuotaExceeded(f"you have {n} runs or class rebuilds queued or running; the limit is {limit} per user: "
                            "wait for one to finish or cancel one", field="detail", status=429)


def check_class_count(vocabulary: Any, adding: int, user: Any = None) -> None:
    """QuotaExceeded (400) when ``vocabulary`` would hold more than OVDIFF_MAX_CLASSES_PER_VOCABULARY classes."""
    limit = settings.OVDIFF_MAX_CLASSES_PER_VOCABULARY
    if adding <= 0 or _exempt(user):
        return
    have = vocabulary.classes.count()
    if have + adding > limit:
        raise QuotaExceeded(f"a vocabulary holds at most {limit} classes; it has {have} and {adding} would be added",
                            field="names", status=400)
