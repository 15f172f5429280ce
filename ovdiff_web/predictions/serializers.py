"""Serializers of /api/predictions/: the multipart (or JSON) request of a prediction job and its answers."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ovdiff_web.accounts.serializers import ReadableRelatedField
from ovdiff_web.runs.api.serializers import RunSerializer, SettingsField
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.vocabularies.models import Vocabulary


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
class NamesField(serializers.Field):
    """Class names as a list, or as text (comma or newline separated); multipart sends repeated fields."""

    def get_value(self, dictionary: Any) -> Any:
        if hasattr(dictionary, "getlist"):
            values = dictionary.getlist(self.field_name)
            if not values:
                return serializers.empty
            return values if len(values) > 1 else values[0]
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> list[str] | str:
        if isinstance(data, str):
            return data
        if isinstance(data, list) and all(isinstance(v, str) for v in data):
            return data
        raise serializers.ValidationError("a list of class names, or text with one name per line or comma")

    def to_representation(self, value: Any) -> Any:
        return value


class PredictionCreateSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False, default=list,
                                  help_text="image files (multipart, repeat the field)")
    archive = serializers.FileField(required=False, allow_empty_file=True, help_text="a zip of images")
    dataset = ReadableRelatedField(queryset=Dataset.objects.all(), required=False, allow_null=True,
                                   help_text="a registered dataset: its images are segmented, masks ignored")
    folder = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                   help_text="a server folder of images (inside OVDIFF_DATASET_ROOTS)")
    vocabulary = ReadableRelatedField(queryset=Vocabulary.objects.all(), required=False, allow_null=True)
    classes = NamesField(required=False, help_text="ad-hoc class names (list, or one per line / comma separated)")
    stuff = NamesField(required=False, help_text="which of ``classes`` are stuff (sky, grass...); default: labeller")
    profile = serializers.ChoiceField(choices=PROFILE_CHOICES, required=False)
    settings = SettingsField(required=False, help_text="partial OVDiffConfig overrides: a JSON object of groups, "
                             "or group.field=value lines (or a list of them) as in the dashboard's forms")


class PredictionSerializer(RunSerializer):
    class Meta(RunSerializer.Meta):
        model = Run
        fields = ["id", "status", "profile", "vocabulary", "vocabulary_snapshot", "dataset", "class_names", "error",
                  "cancel_requested", "is_random_weights", "skipped_classes", "image_count", "created_by",
                  "created_at", "started_at", "finished_at", "stages", "random_weights", "random_weights_note",
                  "links", "settings"]  # settings: the job's whole configuration, overrides applied
        read_only_fields = fields


class PredictionImageSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImageResult
        fields = ["image_id", "width", "height", "classes_present", "kept_classes", "pixel_share"]


class PixelExplanationSerializer(serializers.Serializer):
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    class_name = serializers.CharField()
    explanations = serializers.ListField(child=serializers.DictField())
    random_weights = serializers.BooleanField()
