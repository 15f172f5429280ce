"""The datasets room's task (cpu): validate a (large) dataset after upload or registration. Public name:
``tasks.ingest.ingest_dataset``."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from tasks.base import TRANSIENT_ERRORS
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.datasets.services import ingest


@shared_task(name="tasks.ingest.ingest_dataset", autoretry_for=TRANSIENT_ERRORS, retry_backoff=2, max_retries=5,
             acks_late=True)
def ingest_dataset(dataset_id: int) -> dict[str, Any]:

    dataset = Dataset.objects.get(pk=dataset_id)
    dataset = ingest(dataset)
    return {"status": dataset.status, "images": dataset.image_count, "errors": len(dataset.ingest_errors)}
