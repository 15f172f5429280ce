"""gpu task: the dashboard's "segment an image", run on a worker (the web process never loads a model)."""
from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from tasks.base import EngineTask, deadline_checker
from ovdiff_web.predictions.models import SegmentJob
from ovdiff_web.predictions import segment_jobs


@shared_task(bind=True, base=EngineTask, name="tasks.segment_image.segment_image", acks_late=False)
def segment_image(self: EngineTask, job_id: int) -> dict[str, Any]:
    """Segment one uploaded image; the job row records running / succeeded / failed (with the reason).

    Acknowledged on receipt (not late): a job that killed its worker is not delivered again to kill the next one;
    the watchdog marks it failed instead."""

    job = SegmentJob.objects.filter(pk=job_id, status=SegmentJob.Status.QUEUED).first()
    if job is None:
        return {"skipped": "job not queued"}
    SegmentJob.objects.filter(pk=job_id).update(status=SegmentJob.Status.RUNNING, started_at=timezone.now())
    try:
        segment_jobs.compute(job, self.ovdiff(job.profile, None), cancel=deadline_checker())
    except Exception as exc:  # every failure is shown on the result page; nothing is retried
        SegmentJob.objects.filter(pk=job_id).update(status=SegmentJob.Status.FAILED, finished_at=timezone.now(),
                                                    error=f"{type(exc).__name__}: {exc}"[:2000])
        return {"failed": type(exc).__name__}
    SegmentJob.objects.filter(pk=job_id).update(status=SegmentJob.Status.SUCCEEDED, finished_at=timezone.now())
    return {"token": job.token}
