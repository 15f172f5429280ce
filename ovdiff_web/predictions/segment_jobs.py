"""The earlier single-image "segment an image" jobs (``SegmentJob``, ``MEDIA_ROOT/segment/<token>/``), superseded
by prediction jobs (``services/predictions.py``): their rows and pages stay readable, and a job still queued when
the service was upgraded is finished by ``tasks.segment_image`` (``compute``) on a worker."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings

from ovdiff_web.predictions.models import SEGMENT_DIR, SegmentJob
from ovdiff_web.common import media_store
from ovdiff_web.common.paths import media_path
from engine.class_specs import class_specs
from ovdiff_web.predictions.segment_page import stored_prototype_index


def job_dir(token: str) -> Path:
    """The folder of one segmentation; LookupError for a token that cannot be one (no path tricks)."""
    if not token.isalnum():
        raise LookupError("no such segmentation")
    return Path(settings.MEDIA_ROOT) / SEGMENT_DIR / token


def job_owner(token: str) -> int | None:
    """The user id that queued segmentation ``token`` (None when unknown)."""
    return SegmentJob.objects.filter(token=token).values_list("user_id", flat=True).first()


def get_job(token: str, user: Any) -> SegmentJob:
    """The job if ``user`` queued it (or is staff); LookupError (a 404) otherwise."""
    job = SegmentJob.objects.filter(token=token).first() if token.isalnum() else None
    if job is None or not (getattr(user, "is_staff", False) or job.user_id == getattr(user, "pk", None)):
        raise LookupError("no such segmentation")
    return job


def check_owner(token: str, user: Any) -> None:
    get_job(token, user)


def compute(job: SegmentJob, ovd: Any, cancel: Any = None) -> None:
    """Worker side: segment the stored image with the job's classes and write what the result page shows."""
    import numpy as np
    from PIL import Image
    from engine.images import load_image, save_label_png

    out = job_dir(job.token)
    image = load_image(media_path(f"{SEGMENT_DIR}/{job.token}/image.png"))  # fetched when the web is elsewhere
    classes = class_specs(job.class_names)
    for spec in classes:  # the slow part (sampling, masks, prototypes), interruptible: cached for the segmenter
        ovd.banks(spec, cancel=cancel)
    seg = ovd.segment(image, classes, explain=True)
    save_label_png(seg.labels, out / "labels.png")
    np.savez_compressed(out / "explain.npz", **{f"w_{k}": v for k, v in seg.winners.items()},
                        **{f"s_{k}": v for k, v in seg.winner_scores.items()})
    support_urls: dict[str, dict[int, str]] = {}
    for spec in classes:
        sset = ovd.support_set(spec, cancel=cancel)
        support_urls[spec.name] = {}
        for im in sset.images:
            rel = f"{SEGMENT_DIR}/{job.token}/support/{len(support_urls)}_{im.index}.png"
            (out / "support").mkdir(exist_ok=True)
            Image.fromarray(im.image).save(Path(settings.MEDIA_ROOT) / rel)
            support_urls[spec.name][im.index] = rel
    meta = {
        "profile": job.profile, "user_id": job.user_id, "class_names": seg.label_names, "selected": seg.selected,
        "support": support_urls,
        "prototype_index": stored_prototype_index(seg),
    }
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    media_store.publish(out)  # the result page may be served by another machine


def discard(job: SegmentJob) -> None:
    """Delete a job's row and files."""
    media_store.remove(f"{SEGMENT_DIR}/{job.token}")  # first: with the bucket down the job stays whole
    shutil.rmtree(job_dir(job.token), ignore_errors=True)
    job.delete()
