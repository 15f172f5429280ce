"""Evaluation datasets: uploaded (zip, copied under MEDIA_ROOT) or registered by a confined server path.
App label ``core``.
"""
from __future__ import annotations


from django.conf import settings as django_settings
from django.db import models

from ovdiff_web.accounts.models import Shareable


class Dataset(Shareable):
    """An evaluation dataset: uploaded (zip, copied under MEDIA_ROOT) or registered by a confined server path."""

    class Format(models.TextChoices):
        VOC = "voc"
        CONTEXT = "context"
        COCO_OBJECT = "coco_object"
        ADE20K = "ade20k"
        FOLDER = "folder"

    class Source(models.TextChoices):
        UPLOAD = "upload"
        SERVER = "server"

    class Status(models.TextChoices):
        PENDING = "pending"
        INGESTING = "ingesting"
        READY = "ready"
        FAILED = "failed"

    OWNER_FIELD = "created_by"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, help_text="what the data is and where it came from")
    format = models.CharField(max_length=16, choices=Format.choices)
    protocol = models.CharField(max_length=64, blank=True, help_text="evaluation protocol, e.g. with background")
    source = models.CharField(max_length=16, choices=Source.choices)
    root = models.CharField(max_length=1000, help_text="absolute directory of the dataset")
    split = models.CharField(max_length=64, blank=True, default="val")
    class_names = models.JSONField(default=list, blank=True)
    prompts = models.JSONField(default=list, blank=True, help_text="class text sent to the generator per class")
    has_background = models.BooleanField(default=False)
    image_count = models.PositiveIntegerField(default=0)
    image_ids = models.JSONField(default=list, blank=True, help_text="ids of the samples that passed ingestion")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    ingest_errors = models.JSONField(default=list, blank=True, help_text="[{item, error}] per rejected file")
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "core"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
