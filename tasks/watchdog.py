"""Periodic (celery beat) housekeeping: end runs whose tasks are gone (``services.watchdog``)."""
from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="tasks.watchdog.watchdog", acks_late=False, ignore_result=True)
def watchdog() -> dict[str, Any]:
    from ovdiff_web.core.services import watchdog as service

    return {"runs": service.sweep()}
