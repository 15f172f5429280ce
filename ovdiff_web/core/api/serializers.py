"""DRF serializers. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ovdiff_web.core.models import (
    PROFILE_CHOICES,
    Dataset,
    ImageResult,
    PrototypeBank,
    Run,
    RunStage,
    SupportImage,
    SupportSet,
    Vocabulary,
    VocabularyClass,
)
from ovdiff_web.core.services import datasets as dataset_service
from ovdiff_web.core.services import job_links
from ovdiff_web.core.api.access_serializers import (  # noqa: F401  (re-exported for the views)
    SHARE_FIELDS,
    AuditEntrySerializer,
    ReadableRelatedField,
    SharingFieldsMixin,
    ShareSerializer,
    is_staff,
)
from ovdiff_web.core.services.runs import random_weights_fields


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


class VocabularyClassSerializer(serializers.ModelSerializer):
    vocabulary = ReadableRelatedField(queryset=Vocabulary.objects.all(), required=False)
    label_changed_by = serializers.SlugRelatedField(slug_field=get_user_model().USERNAME_FIELD, read_only=True,
                                                    allow_null=True)
    is_stuff = serializers.BooleanField(required=False, allow_null=True, default=None)
    expected_version = serializers.IntegerField(
        write_only=True, required=False, min_value=1,
        help_text="update only if the class is still at this version (else 409: someone else edited it)")

    class Meta:
        model = VocabularyClass
        fields = ["id", "vocabulary", "name", "prompt", "is_stuff", "label_source", "label_note", "label_changed_by",
                  "label_changed_at", "order", "user_support_dir", "version", "expected_version"]
        read_only_fields = ["label_source", "label_note", "label_changed_by", "label_changed_at",
                            "version"]

    def validate_user_support_dir(self, value: str) -> str:
        from django.conf import settings

        from ovdiff_web.core.services.paths import PathNotAllowed, confine

        if not value:
            return value
        try:
            resolved = confine(settings.MEDIA_ROOT / value, [settings.MEDIA_ROOT])
        except PathNotAllowed:
            raise serializers.ValidationError("must be a folder inside MEDIA_ROOT") from None
        if not resolved.is_dir():
            raise serializers.ValidationError("folder does not exist")
        return value

    def validate_name(self, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError("must not be blank")
        return value


class VocabularySerializer(SharingFieldsMixin, serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field=get_user_model().USERNAME_FIELD, read_only=True,
                                                    allow_null=True)
    classes = VocabularyClassSerializer(many=True, read_only=True)
    class_count = serializers.IntegerField(read_only=True, source="classes.count")
    names = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                  help_text="optional pasted class names (one per line or comma separated)")
    expected_version = serializers.IntegerField(
        write_only=True, required=False, min_value=1,
        help_text="update only if the vocabulary is still at this version (else 409: someone else edited it)")

    class Meta:
        model = Vocabulary
        fields = ["id", "name", "description", "owner", "version", "created_at", "updated_at", "class_count",
                  "classes", "names", "expected_version", *SHARE_FIELDS]
        read_only_fields = ["owner", "version", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """On create, ``names`` (text) or ``classes`` (a list of names) must hold real, distinct names: empty,
        blank or repeated names are a 400 naming the problem, and nothing is created."""
        from ovdiff_web.core.services.vocab import new_vocabulary_names

        attrs = super().validate(attrs)
        if self.instance is not None:
            return attrs
        data = self.initial_data
        given_classes = "classes" in data
        if given_classes and "names" in data:
            raise serializers.ValidationError({"classes": ["give the class names as `names` or `classes`, not both"]})
        if given_classes:
            field = "classes"
            value = data.getlist("classes") if hasattr(data, "getlist") else data["classes"]
            if not isinstance(value, list):
                raise serializers.ValidationError({field: ["a list of class names (strings)"]})
        elif "names" in data:
            field, value = "names", attrs.get("names", "")
        else:
            return attrs  # no classes given: an empty vocabulary to fill later (bulk-classes)
        try:
            attrs["names"] = new_vocabulary_names(value)
        except ValueError as exc:
            raise serializers.ValidationError({field: [str(exc)]}) from None
        return attrs


class BulkClassesSerializer(serializers.Serializer):
    names = serializers.CharField(help_text="class names, one per line or comma separated")


class BulkClassesResultSerializer(serializers.Serializer):
    created = VocabularyClassSerializer(many=True)
    skipped = serializers.ListField(child=serializers.CharField())


class SetLabelSerializer(serializers.Serializer):
    is_stuff = serializers.BooleanField()
    expected_version = serializers.IntegerField(required=False, min_value=1)


class SupportImageSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportImage
        fields = ["id", "index", "seed", "prompt", "image", "attribution", "fg_mask", "bg_mask", "overlay",
                  "content_id", "instances", "flags", "excluded", "mask_choice"]


class PrototypeBankSerializer(RandomWeightsMixin, serializers.ModelSerializer):
    class_name = serializers.CharField(source="support_set.class_name", read_only=True)

    def _profile(self, obj: PrototypeBank) -> str:
        return obj.support_set.profile

    class Meta:
        model = PrototypeBank
        fields = ["id", "support_set", "class_name", "extractor", "key", "fg_count", "bg_count", "store_path",
                  "created_at", "random_weights", "random_weights_note"]


class SupportSetSerializer(RandomWeightsMixin, serializers.ModelSerializer):
    banks = serializers.SlugRelatedField(slug_field="extractor", many=True, read_only=True)

    class Meta:
        model = SupportSet
        fields = ["id", "key", "class_name", "prompt", "status", "n_images", "profile", "source", "store_path",
                  "created_at", "banks", "random_weights", "random_weights_note"]


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


class RunStageSerializer(serializers.ModelSerializer):
    percent = serializers.FloatField(read_only=True)
    eta_seconds = serializers.SerializerMethodField()

    def get_eta_seconds(self, obj: RunStage) -> float | None:
        return obj.eta_seconds()

    class Meta:
        model = RunStage
        fields = ["name", "status", "done", "total", "skipped", "percent", "eta_seconds", "started_at", "finished_at"]


@extend_schema_field({"type": "object", "description": job_links.DESCRIPTION,
                      "properties": {name: {"type": "string", "format": "uri" if name != "explain" else "uri-template",
                                            "description": text} for name, text in job_links.RUN_LINKS.items()},
                      "required": ["self", "page", "progress", "results"], "additionalProperties": False})
class JobLinksField(serializers.Field):
    """Where the job's exports are (``services/job_links.py``): only those that exist and the caller may read."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, run: Run) -> dict[str, str]:
        request = self.context.get("request")
        return job_links.job_links(run, getattr(request, "user", None),
                                   request.build_absolute_uri if request is not None else str)


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
        fields = RunSerializer.Meta.fields + ["settings", "traceback", "confusion", "celery_ids"]
        read_only_fields = fields

    def to_representation(self, instance: Run) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not is_staff(self.context):  # tracebacks show server internals: staff only
            data["traceback"] = ""
        return data


class RunCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Run.Kind.choices, default=Run.Kind.EVALUATION)
    dataset = ReadableRelatedField(queryset=Dataset.objects.all())
    vocabulary = ReadableRelatedField(queryset=Vocabulary.objects.all(), required=False, allow_null=True)
    profile = serializers.ChoiceField(choices=PROFILE_CHOICES, required=False)
    settings = serializers.DictField(required=False, default=dict,
                                     help_text="partial OVDiffConfig overrides, e.g. {'support': {'n_images': 4}}")
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1_000_000)


class ImageResultSerializer(RandomWeightsMixin, serializers.ModelSerializer):
    def _profile(self, obj: ImageResult) -> str:
        return obj.run.profile

    class Meta:
        model = ImageResult
        fields = ["id", "image_id", "iou", "pixel_accuracy", "prediction", "overlay", "width", "height",
                  "classes_present", "random_weights", "random_weights_note"]


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


class WorkersSerializer(serializers.Serializer):
    broker = serializers.CharField(help_text="'ok' or 'unavailable'")
    detail = serializers.CharField(allow_blank=True)
    workers = serializers.ListField(child=serializers.DictField())


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField()
    profile = serializers.CharField()


class RegenerateSerializer(serializers.Serializer):
    profile = serializers.ChoiceField(choices=PROFILE_CHOICES, required=False)
    settings = serializers.DictField(required=False, default=dict,
                                     help_text="partial OVDiffConfig overrides, e.g. {'support': {'seed': 7}}")


class QueuedSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
    task_id = serializers.CharField()
