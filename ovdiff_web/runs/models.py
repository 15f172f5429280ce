"""Runs and their results: a run, its stages (progress), per-image results and segmentation shards.

Imported at the end of ``ovdiff_web.core.models`` (the app's model module), so ``from ovdiff_web.core.models
import Run`` keeps working; state changes live in ``services/run_state.py``.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from engine.profiles import profile_note, random_weights_note
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.accounts.models import Shareable
from engine.class_specs import class_specs
from ovdiff_web.common.media_store import fetch_support_folders


class Run(Shareable):
    """An evaluation (dataset) or segmentation job and its results.

    The vocabulary may be edited or deleted later: ``vocabulary_snapshot`` keeps the class names and labels
    the run used. ``settings`` holds the complete ``OVDiffConfig.to_dict()``.
    """

    class Kind(models.TextChoices):
        EVALUATION = "evaluation"
        SEGMENTATION = "segmentation"  # a prediction job: images without ground truth (services/predictions.py)

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    OWNER_FIELD = "created_by"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EVALUATION)
    name = models.CharField(max_length=200, blank=True, help_text="a team's own label for the run")
    notes = models.TextField(blank=True)
    vocabulary = models.ForeignKey(Vocabulary, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    vocabulary_snapshot = models.JSONField(default=list, blank=True)
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    profile = models.CharField(max_length=32, choices=PROFILE_CHOICES)
    settings = models.JSONField(default=dict, blank=True)
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="evaluate only the first N images")
    image_root = models.CharField(max_length=500, blank=True,
                                  help_text="prediction jobs: the folder of unlabelled images (ids are paths in it)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    is_random_weights = models.BooleanField(default=False)
    celery_ids = models.JSONField(default=list, blank=True)
    # evaluation classes in label order (index 0 = background when the dataset has one)
    class_names = models.JSONField(default=list, blank=True)
    label_map = models.JSONField(default=dict, blank=True, help_text="engine class name -> dataset label index")
    image_ids = models.JSONField(default=list, blank=True)
    skipped_classes = models.JSONField(default=list, blank=True, help_text="classes whose artifacts were cached")
    support_mask_choices = models.JSONField(
        default=dict, blank=True, help_text="class name -> {support image id: \"candidate:K\"}: the proposed masks "
        "chosen with the whole vocabulary in view (masks.user_fg_rule=vocabulary) instead of the class page's")
    miou = models.FloatField(null=True, blank=True)
    pixel_accuracy = models.FloatField(null=True, blank=True)
    per_class_iou = models.JSONField(default=dict, blank=True)
    confusion = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="runs")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life from a worker")
    stalled_since = models.DateTimeField(null=True, blank=True,
                                         help_text="set by the watchdog when no worker or queue holds its tasks")

    class Meta:
        app_label = "core"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="run_newest"),
                   models.Index(fields=["status", "-created_at"], name="run_status_newest")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.kind}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def classes_label(self) -> str:
        """Where the run's classes came from when no vocabulary is linked, for pages: an evaluation without one
        scores its dataset's classes; a prediction job kept the class names it was given (typed, or those of a
        vocabulary deleted since: its snapshot)."""
        return "classes given with the job" if self.kind == self.Kind.SEGMENTATION else "dataset classes"

    @property
    def input_label(self) -> str:
        """What the run read, for pages: its dataset's name; a prediction job without one names its uploaded
        images or its server folder (by the folder's last part only); "(deleted)" when the dataset was deleted."""
        if self.dataset_id is not None and self.dataset is not None:
            return self.dataset.name
        if self.kind == self.Kind.SEGMENTATION and self.image_root:
            n = len(self.image_ids or [])
            images = f"{n} image{'s' if n != 1 else ''}"
            root = self.image_root.replace("\\", "/").rstrip("/")
            if root.endswith(f"runs/{self.pk}/images"):
                return f"{images} uploaded with the job"
            return f"{images} of server folder {root.rsplit('/', 1)[-1]}"
        return "(deleted)"

    @property
    def random_weights_note(self) -> str:
        return random_weights_note(self.profile) if self.is_random_weights else ""

    @property
    def profile_note(self) -> str:
        """How to read this run's numbers when its profile is neither random nor the paper's (else empty)."""
        return profile_note(self.profile)

    def results(self) -> dict[str, Any]:
        """The run's results JSON, built once: the API's ``results`` action and the dashboard's export use it."""
        out: dict[str, Any] = {
            "run": self.pk, "status": self.status, "miou": self.miou, "pixel_accuracy": self.pixel_accuracy,
            "per_class_iou": self.per_class_iou, "class_names": self.class_names, "confusion": self.confusion,
            "image_count": self.image_results.count()}
        if self.is_random_weights:
            out.update(random_weights=True, random_weights_note=self.random_weights_note)
        return out

    def class_specs(self) -> list[Any]:
        """The engine ``ClassSpec``s of the run's vocabulary snapshot (engine imported lazily); users' support
        folders are on this machine afterwards (``media_store``)."""

        fetch_support_folders(self.vocabulary_snapshot or [])
        return class_specs(self.vocabulary_snapshot, support_root=django_settings.MEDIA_ROOT)


class RunStage(models.Model):
    """Progress of one stage of a run (support, banks, segment, metrics): done/total give percent and ETA.

    Workers update ``done`` with F() expressions so concurrent shards never lose increments.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=32)
    order = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="units served from the artifact cache")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "core"
        ordering = ["run_id", "order"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="uniq_stage_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.name} {self.done}/{self.total}"

    @property
    def percent(self) -> float:
        if self.status == self.Status.DONE:
            return 100.0
        if not self.total:
            return 0.0
        return round(min(100.0, 100.0 * self.done / self.total), 1)

    def eta_seconds(self, now: Any = None) -> float | None:
        """Linear extrapolation from the rate so far; None until something is done (no rate yet)."""
        if self.status == self.Status.DONE:
            return 0.0
        if not self.started_at or not self.total or self.done <= 0:
            return None
        elapsed = ((now or timezone.now()) - self.started_at) / timedelta(seconds=1)
        remaining = max(0, self.total - self.done)
        return round(elapsed / self.done * remaining, 1)


class ImageResult(models.Model):
    """Per-image output of a run; unique (run, image_id) so a re-delivered shard updates instead of duplicating."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="image_results")
    image_id = models.CharField(max_length=500)
    iou = models.FloatField(null=True, blank=True, help_text="mean IoU over classes present in this image")
    pixel_accuracy = models.FloatField(null=True, blank=True)
    prediction = models.CharField(max_length=500, blank=True, help_text="label PNG relative to MEDIA_ROOT")
    overlay = models.CharField(max_length=500, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    classes_present = models.JSONField(default=list, blank=True)  # dataset classes in the prediction
    gt_classes = models.JSONField(null=True, blank=True,
                                  help_text="dataset classes in the ground truth (null: scored before this was kept)")
    kept_classes = models.JSONField(default=list, blank=True, help_text="classes the pre-filter kept (predictions)")
    pixel_share = models.JSONField(default=dict, blank=True, help_text="class name -> fraction of the image's pixels")
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "core"
        ordering = ["run_id", "image_id"]
        constraints = [models.UniqueConstraint(fields=["run", "image_id"], name="uniq_image_per_run")]
        indexes = [models.Index(fields=["run", "iou", "image_id"], name="result_run_iou")]  # gallery sorts

    def __str__(self) -> str:
        return f"{self.run_id}/{self.image_id}"


class RunShard(models.Model):
    """One segmentation shard: its images and confusion matrix (merged by finalize_metrics)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    image_ids = models.JSONField(default=list)
    confusion = models.JSONField(null=True, blank=True, help_text="square int matrix, rows = ground truth")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "core"
        ordering = ["run_id", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="uniq_shard_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id}/shard {self.index}"
