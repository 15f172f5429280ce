"""A Label Studio connection and what it remembers: the tasks it pre-annotated (which prediction job, which model
version) and the annotations it received back (replays are refused, every import is attributable).

The connection owns a vocabulary (the labelling config's labels), a dataset (the team's corrected images with
their ground truth) and a secret token (only its SHA-256 is stored; Label Studio sends it as Basic auth)."""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings as django_settings
from django.db import models

from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import Run
from ovdiff_web.vocabularies.models import Vocabulary


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "ovls_" + secrets.token_urlsafe(32)


class LabelStudioConnection(models.Model):
    """One Label Studio project (or several sharing one labelling config) served by ovdiff as its ML backend."""

    owner = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="label_studio_connections")
    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the connection token")
    label_studio_url = models.URLField(max_length=500, help_text="where ovdiff fetches task images")
    access_token = models.CharField(max_length=500, help_text="Label Studio API token (legacy token)")
    profile = models.CharField(max_length=32, choices=PROFILE_CHOICES)
    settings = models.JSONField(default=dict, blank=True, help_text="settings overrides of the prediction jobs")
    vocabulary = models.OneToOneField(Vocabulary, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="label_studio_connection")
    dataset = models.OneToOneField(Dataset, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="label_studio_connection")
    label_config = models.TextField(blank=True, help_text="the last labelling config received by /setup")
    support_classes = models.JSONField(default=list, blank=True,
                                       help_text="classes whose corrected regions join the class's support set")
    warmed_version = models.CharField(max_length=200, blank=True,
                                      help_text="model version whose banks setup last queued")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Label Studio connection {self.pk} ({self.name})"

    def check_token(self, token: str) -> bool:
        return secrets.compare_digest(self.token_hash, hash_token(token))


class LabelStudioTask(models.Model):
    """A Label Studio task ovdiff segmented: the prediction job and image that answer it for one model version."""

    connection = models.ForeignKey(LabelStudioConnection, on_delete=models.CASCADE, related_name="tasks")
    task_id = models.BigIntegerField()
    image_url = models.CharField(max_length=2000)
    model_version = models.CharField(max_length=200)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    image_id = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connection_id", "task_id", "-created_at"]
        indexes = [models.Index(fields=["connection", "task_id", "model_version"], name="ls_task_version")]


class LabelStudioAnnotation(models.Model):
    """One submitted annotation received (webhook or export import): who, when, where it went."""

    connection = models.ForeignKey(LabelStudioConnection, on_delete=models.CASCADE, related_name="annotations")
    annotation_id = models.BigIntegerField()
    task_id = models.BigIntegerField()
    revision = models.CharField(max_length=100, help_text="the annotation's updated_at: a replay repeats it")
    image_id = models.CharField(max_length=500, help_text="image id in the connection's dataset")
    classes = models.JSONField(default=list, blank=True)
    support_added = models.JSONField(default=list, blank=True, help_text="classes it added a support image to")
    source = models.CharField(max_length=16, default="webhook")
    completed_by = models.CharField(max_length=200, blank=True)
    received_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connection_id", "-received_at"]
        constraints = [models.UniqueConstraint(fields=["connection", "annotation_id", "revision"],
                                               name="uniq_ls_annotation_revision")]
