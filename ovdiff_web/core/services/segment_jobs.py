"""Segment an uploaded image ("segment an image" on the dashboard) on a WORKER, never in the web process.

The request validates the image, stores it under ``MEDIA_ROOT/segment/<token>/``, creates a ``SegmentJob`` row and
queues ``tasks.segment_image.segment_image`` by name; the result page polls the row. The worker's ``compute``
writes labels, the explanation arrays and the support images the click-to-explain shows, then ``meta.json``."""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any, Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ovdiff_web.core.jobs import SegmentJob
from ovdiff_web.core.services import media_store
from ovdiff_web.core.services.paths import media_path

SEGMENT_DIR = "segment"


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


def queue(upload: Any, class_names: Sequence[str], profile: str, user: Any) -> SegmentJob:
    """Validate and store the image, create the row and queue the worker task after commit.

    ``engine.errors.BadInputError`` for an unusable image, ``quotas.QuotaExceeded`` when the user has too much
    queued, ``queue.QueueUnavailable`` when the broker is down; in every refusal nothing is left on disk."""
    from PIL import Image
    from engine.images import load_image
    from ovdiff_web.core.services import queue, quotas

    quotas.check_can_queue(user)
    queue.require_broker()
    token = uuid.uuid4().hex
    out = job_dir(token)
    out.mkdir(parents=True)
    try:
        raw = out / "upload"
        with open(raw, "wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        image = load_image(raw)  # decoding only (PIL, bounded pixels): no model
        raw.unlink()
        Image.fromarray(image).save(out / "image.png")
        media_store.publish(out / "image.png")  # the worker may be on another machine
        with transaction.atomic():
            job = SegmentJob.objects.create(token=token, user=user, profile=profile, class_names=list(class_names))
            transaction.on_commit(lambda: _send(job.pk))
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return job


def _send(job_id: int) -> None:
    from ovdiff_web.core.services import queue

    try:
        task_id = queue.enqueue(queue.SEGMENT_IMAGE, (job_id,), "gpu")
    except queue.QueueUnavailable as exc:  # broker went away after the check: say so on the job
        SegmentJob.objects.filter(pk=job_id).update(status=SegmentJob.Status.FAILED, finished_at=timezone.now(),
                                                    error=str(exc))
        return
    SegmentJob.objects.filter(pk=job_id).update(celery_id=task_id)


def compute(job: SegmentJob, ovd: Any, cancel: Any = None) -> None:
    """Worker side: segment the stored image with the job's classes and write what the result page shows."""
    import numpy as np
    from PIL import Image
    from engine.class_specs import class_specs
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
        "prototype_index": {e: [[owner, src.kind, src.mask, src.image_index, src.cluster, src.box, src.size]
                                for owner, src in entries] for e, entries in seg.prototype_index.items()},
    }
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    media_store.publish(out)  # the result page may be served by another machine


def discard(job: SegmentJob) -> None:
    """Delete a job's row and files."""
    shutil.rmtree(job_dir(job.token), ignore_errors=True)
    media_store.remove(f"{SEGMENT_DIR}/{job.token}")
    job.delete()
