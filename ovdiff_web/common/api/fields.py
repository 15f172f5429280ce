"""Serializer pieces every room shares. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

from typing import Any
from rest_framework import serializers
from ovdiff_web.common.profiles import random_weights_fields


class RandomWeightsMixin(serializers.Serializer):
    """Adds ``random_weights`` (bool) and ``random_weights_note`` from the object's profile."""

    random_weights = serializers.SerializerMethodField()
    random_weights_note = serializers.SerializerMethodField()

    def _profile(self, obj: Any) -> str:
        return getattr(obj, "profile", "")

    def get_random_weights(self, obj: Any) -> bool:
        return bool(random_weights_fields(self._profile(obj)))

    def get_random_weights_note(self, obj: Any) -> str:
        return random_weights_fields(self._profile(obj)).get("random_weights_note", "")


class QueuedSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
    task_id = serializers.CharField()
