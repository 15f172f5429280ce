"""Ownership and visibility of the objects users create (vocabularies, datasets, runs).

Who may do what is decided in ONE place, ``ovdiff_web.accounts.access``; this module only holds the fields.
"""
from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models


class Visibility(models.TextChoices):
    PRIVATE = "private", "private (owner only)"
    SHARED = "shared", "shared with named users or groups (they may edit)"
    PUBLIC = "public", "public: every signed-in user may read"


class Shareable(models.Model):
    """Abstract: a visibility and the users/groups an object is shared with (they may edit it).

    The owner field differs per model (``Vocabulary.owner``, ``Dataset.created_by``, ``Run.created_by``):
    subclasses name it in ``OWNER_FIELD``."""

    OWNER_FIELD = "owner"

    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    shared_users = models.ManyToManyField(django_settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                          help_text="users who may read and edit (visibility 'shared' or 'public')")
    shared_groups = models.ManyToManyField("auth.Group", blank=True, related_name="+",
                                           help_text="groups whose members may read and edit")

    class Meta:
        abstract = True

    @property
    def owner_id_value(self) -> int | None:
        return getattr(self, f"{self.OWNER_FIELD}_id")
