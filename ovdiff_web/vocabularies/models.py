"""Vocabularies and their classes: names, generator prompts, thing/stuff labels (app label ``core``)."""
from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from ovdiff_web.accounts.models import Shareable
from engine.class_specs import class_specs
from ovdiff_web.common.media_store import fetch_support_folders


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
        app_label = "core"
        ordering = ["name"]
        verbose_name_plural = "vocabularies"

    def __str__(self) -> str:
        return self.name

    def bump_version(self) -> None:
        """Atomically increment the version (F expression) and refresh it. A vocabulary another request deleted
        meanwhile (deleting its class raced deleting it) has no version left to move: nothing happens."""
        if not Vocabulary.objects.filter(pk=self.pk).update(version=models.F("version") + 1,
                                                            updated_at=timezone.now()):
            return
        try:
            self.refresh_from_db(fields=["version", "updated_at"])
        except Vocabulary.DoesNotExist:
            return


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
        app_label = "core"
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
