"""Rows for the dashboard's "segment an image" jobs: the work runs on a worker, the page polls this row."""
from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models


SEGMENT_DIR = "segment"  # MEDIA_ROOT/segment/<token>/: what a worker stored for one job


class SegmentJob(models.Model):
    """One uploaded image segmented on a worker; files live in ``MEDIA_ROOT/segment/<token>/``."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    token = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    profile = models.CharField(max_length=32)
    class_names = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    celery_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "core"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"segment {self.token[:8]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
