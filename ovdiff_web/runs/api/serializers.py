"""DRF serializers of the runs room. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

import json
from typing import Any
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ovdiff_web.runs.api import job_links
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.common.settings_catalog import parse_overrides
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import ImageResult, Run, RunStage
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.accounts.serializers import (  # noqa: F401  (re-exported for the views)
    SHARE_FIELDS,
    AuditEntrySerializer,
    ReadableRelatedField,
    SharingFieldsMixin,
    ShareSerializer,
    is_staff,
)
from ovdiff_web.common.api.fields import RandomWeightsMixin


@extend_schema_field({"type": "object", "description": job_links.DESCRIPTION,
                      "properties": {name: {"type": "string", "format": "uri" if name != "explain" else "uri-template",
                                            "description": text} for name, text in job_links.RUN_LINKS.items()},
                      "required": ["self", "page", "progress", "results"], "additionalProperties": False})
class JobLinksField(serializers.Field):
    """Where the job's exports are (``runs/api/job_links.py``): only those that exist and the caller may read."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, run: Run) -> dict[str, str]:
        request = self.context.get("request")
        return job_links.job_links(run, getattr(request, "user", None),
                                   request.build_absolute_uri if request is not None else str)


class RunStageSerializer(serializers.ModelSerializer):
    percent = serializers.FloatField(read_only=True)
    eta_seconds = serializers.SerializerMethodField()

    def get_eta_seconds(self, obj: RunStage) -> float | None:
        return obj.eta_seconds()

    class Meta:
        model = RunStage
        fields = ["name", "status", "done", "total", "skipped", "percent", "eta_seconds", "started_at", "finished_at"]


class RunSerializer(SharingFieldsMixin, RandomWeightsMixin, serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field=get_user_model().USERNAME_FIELD, read_only=True,
                                                    allow_null=True)
    stages = RunStageSerializer(many=True, read_only=True)
    image_count = serializers.SerializerMethodField()
    links = JobLinksField()

    def get_image_count(self, obj: Run) -> int:
        return len(obj.image_ids or [])

    class Meta:
        model = Run
        fields = ["id", "kind", "vocabulary", "vocabulary_snapshot", "dataset", "profile", "limit", "status", "error",
                  "cancel_requested", "is_random_weights", "class_names", "label_map", "skipped_classes",
                  "image_count", "miou", "pixel_accuracy", "per_class_iou", "created_by", "created_at", "started_at",
                  "finished_at", "heartbeat_at", "stalled_since", "stages", "random_weights", "random_weights_note",
                  "links", *SHARE_FIELDS]
        read_only_fields = fields


class RunDetailSerializer(RunSerializer):
    class Meta(RunSerializer.Meta):
        fields = RunSerializer.Meta.fields + ["settings", "traceback", "confusion", "celery_ids", "support_mask_choices"]
        read_only_fields = fields

    def to_representation(self, instance: Run) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not is_staff(self.context):  # tracebacks show server internals: staff only
            data["traceback"] = ""
        return data


@extend_schema_field({"oneOf": [{"type": "object", "additionalProperties": True}, {"type": "string"}]})
class SettingsField(serializers.Field):
    """Setting overrides: a JSON object of groups (in multipart: its text), or as the dashboard's forms take them,
    ``group.field=value`` text (one per line) or a list of such strings."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, list) and all(isinstance(x, str) for x in data):
            data = "\n".join(data)
            if not data.strip():
                return {}
        if isinstance(data, str) and data.strip() and not data.strip().startswith("{"):

            try:
                return parse_overrides(data)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None
        if isinstance(data, str):
            if not data.strip():
                return {}
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise serializers.ValidationError(f"not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object of setting groups, e.g. {\"support\": {\"seed\": 1}}, "
                                              "or group.field=value lines, e.g. segment.pamr=true")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class RunCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Run.Kind.choices, default=Run.Kind.EVALUATION)
    dataset = ReadableRelatedField(queryset=Dataset.objects.all())
    vocabulary = ReadableRelatedField(queryset=Vocabulary.objects.all(), required=False, allow_null=True)
    profile = serializers.ChoiceField(choices=PROFILE_CHOICES, required=False)
    settings = SettingsField(required=False, default=dict,
                             help_text="partial OVDiffConfig overrides: a JSON object of groups, e.g. {'support': "
                             "{'n_images': 4}}, or group.field=value lines (or a list of them) as in the dashboard's forms")
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1_000_000)


class ImageResultSerializer(RandomWeightsMixin, serializers.ModelSerializer):
    def _profile(self, obj: ImageResult) -> str:
        return obj.run.profile

    class Meta:
        model = ImageResult
        fields = ["id", "image_id", "iou", "pixel_accuracy", "prediction", "overlay", "width", "height",
                  "classes_present", "gt_classes", "random_weights", "random_weights_note"]


class RunResultsSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    status = serializers.CharField()
    miou = serializers.FloatField(allow_null=True)
    pixel_accuracy = serializers.FloatField(allow_null=True)
    per_class_iou = serializers.DictField(child=serializers.FloatField(allow_null=True))
    class_names = serializers.ListField(child=serializers.CharField())
    confusion = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    image_count = serializers.IntegerField()
    random_weights = serializers.BooleanField(required=False)
    random_weights_note = serializers.CharField(required=False)


class StageProgressSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    skipped = serializers.IntegerField()
    percent = serializers.FloatField()
    eta_seconds = serializers.FloatField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class RunProgressSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    status = serializers.CharField()
    percent = serializers.FloatField()
    eta_seconds = serializers.FloatField(allow_null=True)
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    stages = StageProgressSerializer(many=True)
    random_weights = serializers.BooleanField(required=False)
    random_weights_note = serializers.CharField(required=False)
