"""DRF serializers of the ops room. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

from rest_framework import serializers
from ovdiff_web.accounts.serializers import (  # noqa: F401  (re-exported for the views)
    SHARE_FIELDS,
    AuditEntrySerializer,
    ReadableRelatedField,
    SharingFieldsMixin,
    ShareSerializer,
    is_staff,
)


class WorkersSerializer(serializers.Serializer):
    broker = serializers.CharField(help_text="'ok' or 'unavailable'")
    detail = serializers.CharField(allow_blank=True)
    workers = serializers.ListField(child=serializers.DictField())


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField()
    profile = serializers.CharField()
