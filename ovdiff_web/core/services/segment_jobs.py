"""Segmentations of uploaded images ("segment an image" on the dashboard): who owns each one.

Each segmentation lives in ``MEDIA_ROOT/segment/<token>/``; ``meta.json`` records its owner's user id."""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

SEGMENT_DIR = "segment"


def job_dir(token: str) -> Path:
    """The folder of one segmentation; LookupError for a token that cannot be one (no path tricks)."""
    if not token.isalnum():
        raise LookupError("no such segmentation")
    return Path(settings.MEDIA_ROOT) / SEGMENT_DIR / token


def job_owner(token: str) -> int | None:
    """The user id that queued segmentation ``token`` (None when unknown)."""
    try:
        meta = json.loads((job_dir(token) / "meta.json").read_text(encoding="utf-8"))
    except (LookupError, OSError, ValueError):
        return None
    owner = meta.get("user_id")
    return owner if isinstance(owner, int) else None


def check_owner(token: str, user: object) -> None:
    """LookupError (shown as 404) unless ``user`` queued this segmentation or is staff."""
    if getattr(user, "is_staff", False):
        return
    if job_owner(token) != getattr(user, "pk", None):
        raise LookupError("no such segmentation")
