"""Versions of a class's support-set curation: which images a person excluded (and why), which proposed mask they
chose as foreground, which images they added. Imported at the end of ``ovdiff_web.core.models``.

Every edit appends a version (never changes one); the class points at the version in use
(``VocabularyClass.support_version``, 0 = as built, nothing reviewed), so going back is choosing an older one.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.db import models

from ovdiff_web.vocabularies.models import VocabularyClass


class SupportCuration(models.Model):
    """One version of a class's review, as the engine's curation data plus who made it and what changed."""

    vocab_class = models.ForeignKey(VocabularyClass, on_delete=models.CASCADE, related_name="curations")
    number = models.PositiveIntegerField()
    excluded = models.JSONField(default=dict, blank=True, help_text="image id -> reason")
    masks = models.JSONField(default=dict, blank=True, help_text='image id -> "instance:J" | "attribution"')
    extra_seeds = models.JSONField(default=list, blank=True)
    extra_dirs = models.JSONField(default=list, blank=True, help_text="folders of added images, MEDIA_ROOT-relative")
    summary = models.CharField(max_length=300, blank=True, help_text="what this version changed")
    based_on = models.PositiveIntegerField(default=0)
    support_key = models.CharField(max_length=64, blank=True, help_text="engine key once built")
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "core"
        ordering = ["vocab_class_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["vocab_class", "number"], name="uniq_curation_number")]

    def __str__(self) -> str:
        return f"{self.vocab_class_id} v{self.number}"

    def data(self) -> dict[str, Any]:
        """The engine's curation dict (``engine.support.curation.curation_from_dict``)."""
        return {"excluded": dict(self.excluded), "masks": dict(self.masks), "extra_seeds": list(self.extra_seeds),
                "extra_dirs": list(self.extra_dirs)}
