"""DRF serializers of the datasets room. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

from typing import Any
from django.contrib.auth import get_user_model
from rest_framework import serializers
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.datasets import services as dataset_service
from ovdiff_web.accounts.serializers import (  # noqa: F401  (re-exported for the views)
    SHARE_FIELDS,
    AuditEntrySerializer,
    ReadableRelatedField,
    SharingFieldsMixin,
    ShareSerializer,
    is_staff,
)


class DatasetSerializer(SharingFieldsMixin, serializers.ModelSerializer):
    root = serializers.CharField(read_only=True, allow_null=True,
                                 help_text="absolute server directory of the dataset (staff only; null for others)")
    created_by = serializers.SlugRelatedField(slug_field=get_user_model().USERNAME_FIELD, read_only=True,
                                                    allow_null=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "format", "protocol", "source", "root", "split", "class_names", "prompts",
                  "has_background", "image_count", "status", "ingest_errors", "created_by", "created_at",
                  *SHARE_FIELDS]
        read_only_fields = fields

    def to_representation(self, instance: Dataset) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not is_staff(self.context):  # where the files live on the server is for staff only
            data["root"] = None
            data["ingest_errors"] = dataset_service.relative_errors(list(instance.ingest_errors or []), instance.root)
        return data


class DatasetCreateSerializer(serializers.Serializer):
    """Either ``file`` (a zip, multipart) or ``path`` (a server directory inside OVDIFF_DATASET_ROOTS)."""

    name = serializers.CharField(max_length=200)
    format = serializers.ChoiceField(choices=Dataset.Format.choices, default=Dataset.Format.FOLDER)
    protocol = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    split = serializers.CharField(max_length=64, required=False, default="val")
    file = serializers.FileField(required=False)
    path = serializers.CharField(required=False, max_length=1000)

    def validate_name(self, value: str) -> str:
        if Dataset.objects.filter(name=value).exists():
            raise serializers.ValidationError("a dataset with this name exists")
        return value

    def validate_split(self, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise serializers.ValidationError("letters, digits, '-' and '_' only")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("path")):
            raise serializers.ValidationError("give exactly one of 'file' (zip upload) or 'path' (server directory)")
        if attrs.get("file") and attrs["format"] not in (Dataset.Format.FOLDER, Dataset.Format.VOC):
            raise serializers.ValidationError({"format": "uploads support the folder and voc layouts"})
        return attrs
