"""Serializers for who may see what: primary keys limited to readable objects, sharing fields and the
``share/`` body, audit entries, and the staff check for server internals (``ovdiff_web.accounts.access``)."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ovdiff_web.accounts.models import Visibility
from ovdiff_web.accounts import access


class ReadableRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key the requesting user may read (``access.scope``); others are "does not exist" (400)."""

    def get_queryset(self) -> Any:

        request = self.context.get("request")
        return access.scope(super().get_queryset(), getattr(request, "user", None))


class ShareSerializer(serializers.Serializer):
    """Who may see and edit an object; ``users``/``groups`` (names) replace the current lists when given.
    Names are resolved by ``services.sharing.share`` (an unknown name is a 400 naming the field)."""

    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    users = serializers.ListField(child=serializers.CharField(max_length=150), required=False, max_length=1000)
    groups = serializers.ListField(child=serializers.CharField(max_length=150), required=False, max_length=1000)


SHARE_FIELDS = ["visibility", "shared_with", "shared_groups"]


class SharingFieldsMixin(serializers.Serializer):
    """Read-only ``visibility``, ``shared_with`` (usernames) and ``shared_groups`` (names); change via share/."""

    visibility = serializers.CharField(read_only=True)
    shared_with = serializers.SlugRelatedField(slug_field=get_user_model().USERNAME_FIELD, many=True, read_only=True,
                                               source="shared_users")
    shared_groups = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)


def is_staff(context: dict[str, Any]) -> bool:
    request = context.get("request")
    return bool(getattr(getattr(request, "user", None), "is_staff", False))


class AuditEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    user = serializers.CharField(source="username")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    changes = serializers.DictField(help_text="field -> [old, new]")
    from_version = serializers.IntegerField(allow_null=True)
