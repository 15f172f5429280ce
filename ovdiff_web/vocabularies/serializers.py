"""DRF serializers of the vocabularies room. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass
from ovdiff_web.accounts.serializers import (  # noqa: F401  (re-exported for the views)
    SHARE_FIELDS,
    AuditEntrySerializer,
    ReadableRelatedField,
    SharingFieldsMixin,
    ShareSerializer,
    is_staff,
)
from django.conf import settings
from ovdiff_web.common.paths import PathNotAllowed, confine
from ovdiff_web.vocabularies.services import new_vocabulary_names


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
