"""Per-user limits on queued work and on the size of what one user builds, so one user cannot starve the rest.

Staff are exempt. The limits are settings (README: "Limits")."""
from __future__ import annotations

from typing import Any

from django.conf import settings


class QuotaExceeded(ValueError):
    """A per-user limit would be exceeded; ``field`` names the request field, ``status`` is 429 for queue limits
    (try again later) and 400 for size limits (the request itself is too big)."""

    def __init__(self, message: str, field: str, status: int) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def _exempt(user: Any) -> bool:
    return bool(getattr(user, "is_staff", False))


def active_jobs(user: Any) -> int:
    """The user's runs and image segmentations that are queued or running."""
    from ovdiff_web.core.jobs import SegmentJob
    from ovdiff_web.core.models import Run

    runs = Run.objects.filter(created_by=user, status__in=(Run.Status.QUEUED, Run.Status.RUNNING)).count()
    return runs + SegmentJob.objects.filter(user=user, status__in=SegmentJob.ACTIVE).count()


def check_can_queue(user: Any) -> None:
    """QuotaExceeded (429) when the user already has OVDIFF_MAX_ACTIVE_PER_USER jobs queued or running."""
    limit = settings.OVDIFF_MAX_ACTIVE_PER_USER
    if _exempt(user) or not getattr(user, "is_authenticated", False):
        return
    n = active_jobs(user)
    if n >= limit:
        raise QuotaExceeded(f"you have {n} runs or segmentations queued or running; the limit is {limit} per user: "
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
