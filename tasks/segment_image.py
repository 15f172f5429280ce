"""The retired one-image segment task, kept under its name so a message queued by the previous version is
acknowledged cleanly after a deploy: migration 0013 turned its job into a read-only ``LegacySegmentation`` record
(failed with the reason when it had not finished). New one-image work is a prediction job (``tasks.workflow``)."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from ovdiff_web.predictions.models import LegacySegmentation


@shared_task(name="tasks.segment_image.segment_image", acks_late=False)
def segment_image(job_id: int) -> dict[str, Any]:
    """Nothing left to compute: report what became of the job (its record's status) and return."""
    status = LegacySegmentation.objects.filter(pk=job_id).values_list("status", flat=True).first()
    return {"skipped": "one-image segment jobs are prediction jobs now", "job": job_id, "record": status}
