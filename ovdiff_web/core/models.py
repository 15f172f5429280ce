"""Data model of the ovdiff service: everything a user sees lives here (Celery results are not the truth).

Artifacts (support sets, prototype banks) are content-addressed by the engine and SHARED between
vocabularies and runs: their rows are keyed by the engine key and never deleted with a vocabulary.
File fields are plain paths relative to ``MEDIA_ROOT`` (written by workers, served by the dashboard).
"""
from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from engine.profiles import is_random_profile
from ovdiff_web.core.sharing import Shareable

PROFILE_CHOICES = [("tiny", "tiny (random weights)"), ("paper", "paper"), ("paper-shape", "paper-shape (random weights)"),
                   ("sdov", "sdov (the authors' code's configuration: docs/SDOV_PROFILE.md)"),
                   ("dinov2-small", "dinov2-small (few-shot: real DINOv2 features, your support images)")]


class Vocabulary(Shareable):
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
    DATASET = "dataset", "the dataset's thing/stuff table"
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
    support_version = models.PositiveIntegerField(default=0, help_text="curation version in use; 0 = as built")

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
        """The engine's ``ClassSpec`` for this class (imported lazily: Django never loads torch at startup); its
        user's support folder is on this machine afterwards (``media_store``)."""
        from engine.class_specs import class_specs
        from ovdiff_web.core.services.media_store import fetch_support_folders

        fetch_support_folders([self.snapshot()])
        return class_specs([self.snapshot()], support_root=django_settings.MEDIA_ROOT)[0]

    def snapshot(self) -> dict[str, Any]:
        """What a run remembers about this class even if the vocabulary is later edited or deleted."""
        out = {"name": self.name, "prompt": self.prompt, "is_stuff": self.is_stuff, "label_source": self.label_source,
               "user_support_dir": self.user_support_dir, "class_id": self.pk, "support_version": self.support_version}
        if self.support_version:
            version = self.curations.filter(number=self.support_version).first()
            if version is not None:
                out["curation"] = version.data()
        return out


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
    restricted = models.BooleanField(default=False, help_text="built from a user's uploads or a curated review: "
                                     "readable only by those who may read a class or run using it")
    classes = models.ManyToManyField(VocabularyClass, blank=True, related_name="support_sets",
                                     help_text="classes whose artifacts were built (or found) as this set")
    runs = models.ManyToManyField("core.Run", blank=True, related_name="support_sets",
                                  help_text="runs that used this set")
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
    content_id = models.CharField(max_length=32, blank=True, db_index=True, help_text="engine image_id (pixels)")
    instances = models.JSONField(default=list, blank=True, help_text="proposed instance mask PNGs")
    flags = models.JSONField(default=list, blank=True, help_text="why a reviewer should look (engine review)")
    excluded = models.CharField(max_length=300, blank=True, help_text="reason, when a person excluded it")
    mask_choice = models.CharField(max_length=32, blank=True)

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
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


# Runs live in their own module (kept under ~300 lines each); imported last: they refer to the models above.
from ovdiff_web.core.run_models import ImageResult, Run, RunShard, RunStage  # noqa: E402,F401
from ovdiff_web.core.audit import AuditEntry  # noqa: E402,F401  (registered with the app)
from ovdiff_web.core.jobs import SegmentJob  # noqa: E402,F401
from ovdiff_web.core.curation_models import SupportCuration  # noqa: E402,F401
