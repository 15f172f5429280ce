"""Support sets, their images and prototype banks: content-addressed by the engine's keys and SHARED between
vocabularies and runs (never deleted with a vocabulary). App label ``core``.
"""
from __future__ import annotations


from django.db import models

from engine.profiles import is_random_profile
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.vocabularies.models import VocabularyClass


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
        app_label = "core"
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
    measures = models.JSONField(default=dict, blank=True,
                                help_text="what the flags read: fg_fraction, border_share of the fg mask")
    excluded = models.CharField(max_length=300, blank=True, help_text="reason, when a person excluded it")
    mask_choice = models.CharField(max_length=32, blank=True)

    class Meta:
        app_label = "core"
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
        app_label = "core"
        ordering = ["support_set_id", "extractor"]

    def __str__(self) -> str:
        return f"{self.support_set.class_name}/{self.extractor} [{self.key[:10]}]"
