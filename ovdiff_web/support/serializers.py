"""DRF serializers of the support room. Anything showing output of a random-weight profile carries ``random_weights`` + a note."""
from __future__ import annotations

from rest_framework import serializers
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.support.models import PrototypeBank, SupportImage, SupportSet
from ovdiff_web.accounts.serializers import (  # noqa: F401  (re-exported for the views)
    SHARE_FIELDS,
    AuditEntrySerializer,
    ReadableRelatedField,
    SharingFieldsMixin,
    ShareSerializer,
    is_staff,
)
from ovdiff_web.common.api.fields import RandomWeightsMixin


class SupportImageSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportImage
        fields = ["id", "index", "seed", "prompt", "image", "attribution", "fg_mask", "bg_mask", "overlay",
                  "content_id", "instances", "flags", "measures", "excluded", "mask_choice"]


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


class RegenerateSerializer(serializers.Serializer):
    profile = serializers.ChoiceField(choices=PROFILE_CHOICES, required=False)
    settings = serializers.DictField(required=False, default=dict,
                                     help_text="partial OVDiffConfig overrides, e.g. {'support': {'seed': 7}}")
