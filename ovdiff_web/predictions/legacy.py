"""The read-only records of the earlier one-image segment jobs (``LegacySegmentation``): who may see one, and the
result a worker stored for it under ``MEDIA_ROOT/segment/<token>/`` (mask, explanation arrays, support images)."""
from __future__ import annotations

import json
from typing import Any

from ovdiff_web.common.paths import media_path
from ovdiff_web.predictions.models import SEGMENT_DIR, LegacySegmentation
from ovdiff_web.predictions.segment_page import explain_arrays


def owner_id(token: str) -> int | None:
    """The user id that made segmentation ``token`` (None when unknown or not a token)."""
    if not token.isalnum():
        return None
    return LegacySegmentation.objects.filter(token=token).values_list("user_id", flat=True).first()


def record(token: str, user: Any) -> LegacySegmentation:
    """The record if ``user`` made it (or is staff); LookupError (a 404) otherwise, anonymous included."""
    if not getattr(user, "is_authenticated", False) or not token.isalnum():
        raise LookupError("no such segmentation")
    found = LegacySegmentation.objects.filter(token=token).first()
    if found is None or not (getattr(user, "is_staff", False) or found.user_id == user.pk):
        raise LookupError("no such segmentation")
    return found


def stored_result(token: str) -> dict[str, Any]:
    """The stored result of a finished segmentation; LookupError when it does not exist."""
    if not token.isalnum():
        raise LookupError("no such segmentation")
    path = media_path(f"{SEGMENT_DIR}/{token}/meta.json")  # fetched when the worker was elsewhere
    if not path.is_file():
        raise LookupError("no such segmentation")
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(token=token, image=f"{SEGMENT_DIR}/{token}/image.png", labels=f"{SEGMENT_DIR}/{token}/labels.png")
    return meta


def explain_stored_pixel(token: str, x: int, y: int) -> dict[str, Any]:
    """Which prototype decided pixel (x, y) of a stored segmentation, and the support region it came from."""
    import numpy as np

    from engine.images import load_label_png

    meta = stored_result(token)
    arrays = np.load(media_path(f"{SEGMENT_DIR}/{token}/explain.npz"))
    winners = {k[2:]: arrays[k] for k in arrays.files if k.startswith("w_")}
    scores = {k[2:]: arrays[k] for k in arrays.files if k.startswith("s_")}

    def support_image(cls: str, index: int) -> str | None:
        return meta["support"].get(cls, {}).get(str(index))

    labels = load_label_png(media_path(f"{SEGMENT_DIR}/{token}/labels.png"))
    return explain_arrays(labels, meta["class_names"], winners, scores,
                          meta["prototype_index"], x, y, meta["profile"], support_image)
