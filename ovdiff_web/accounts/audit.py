"""Append-only audit trail: who changed what, when, and from which version.

Entries are only ever inserted (``record``); saving an existing entry or deleting one raises, and the admin shows
them read-only. Views and services call ``record`` after a successful edit."""
from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.db import models


class AppendOnlyError(RuntimeError):
    """Audit entries cannot be changed or deleted."""


class AuditEntry(models.Model):
    """One edit: ``changes`` maps each changed field to ``[old, new]``."""

    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="kept when the user is deleted")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=32)
    changes = models.JSONField(default=dict, blank=True)
    from_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        app_label = "core"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit entries are append-only")


def record(user: Any, obj: models.Model, action: str, changes: dict[str, Any] | None = None,
           from_version: int | None = None) -> AuditEntry:
    """Append one entry for ``obj`` (``changes``: field -> [old, new], values made JSON-safe)."""
    real = user if getattr(user, "is_authenticated", False) else None
    safe = {k: [_plain(v) for v in pair] for k, pair in (changes or {}).items()}
    return AuditEntry.objects.create(user=real, username=getattr(real, "username", "") or "",
                                     object_type=type(obj).__name__, object_id=str(obj.pk),
                                     object_repr=str(obj)[:200], action=action, changes=safe,
                                     from_version=from_version)


def diff(obj: models.Model, new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields of ``new_values`` that differ from ``obj``'s current values."""
    out: dict[str, list[Any]] = {}
    for field, new in new_values.items():
        old = getattr(obj, field, None)
        if old != new:
            out[field] = [old, new]
    return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
