"""Read-only records of the earlier one-image "segment an image" jobs. New work is a prediction job (a Run of kind
segmentation, ``predictions.services``); migration 0013 turned every old ``SegmentJob`` row into one of these:
finished ones keep their stored result, unfinished ones are failed with the reason. Nothing writes them any more;
their old pages (``/segment/<token>/``) still show them to their owner."""
from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models


SEGMENT_DIR = "segment"  # MEDIA_ROOT/segment/<token>/: what a worker stored for one job


class LegacySegmentation(models.Model):
    """One image segmented by the earlier path; files live in ``MEDIA_ROOT/segment/<token>/``. Read-only."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    token = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    profile = models.CharField(max_length=32)
    class_names = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FAILED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "core"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"segmentation {self.token[:8]} ({self.status})"
