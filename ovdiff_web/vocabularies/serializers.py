"""DRF serializers of the vocabularies room. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

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


class BulkClassesSerializer(serializers.Serializer):
    names = serializers.CharField(help_text="class names, one per line or comma separated")


class BulkClassesResultSerializer(serializers.Serializer):
    created = VocabularyClassSerializer(many=True)
    skipped = serializers.ListField(child=serializers.CharField())


class SetLabelSerializer(serializers.Serializer):
    is_stuff = serializers.BooleanField()
    expected_version = serializers.IntegerField(required=False, min_value=1)
