"""django-filter sets for the list endpoints."""
from __future__ import annotations

import datetime as _dt
from typing import Any

import django_filters as df
from django.db.models import F, QuerySet

from rest_framework.exceptions import ValidationError

from ovdiff_web.runs.images import CLASS_WHERE
from ovdiff_web.runs.models import ImageResult, Run












class UtcDateTimeFilter(df.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC: PostgreSQL refuses a zone offset beyond +-15:59 (ISO allows up to
    +-23:59), so the value is converted first; one that leaves the representable range is a 400, never a 500."""

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(_dt.timezone.utc)
            except OverflowError:
                raise ValidationError({self.field_name: [f"{value.isoformat()}: out of range"]}) from None
        return super().filter(qs, value)


class RunFilter(df.FilterSet):
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Run
        fields = ["status", "kind", "profile", "dataset", "vocabulary", "is_random_weights"]


class ImageResultFilter(df.FilterSet):
    iou_min = df.NumberFilter(field_name="iou", lookup_expr="gte")
    iou_max = df.NumberFilter(field_name="iou", lookup_expr="lte")
    image_id = df.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ImageResult
        fields = ["image_id"]


IMAGE_ORDERINGS = {"iou", "image_id", "pixel_accuracy"}


def order_images(qs: QuerySet[ImageResult], ordering: str) -> QuerySet[ImageResult]:
    """Order by one whitelisted field (``-`` for descending); NULL scores always last; unknown -> image_id."""
    field = ordering.lstrip("-")
    if field not in IMAGE_ORDERINGS:
        field, ordering = "image_id", "image_id"
    expr = F(field).desc(nulls_last=True) if ordering.startswith("-") else F(field).asc(nulls_last=True)
    return qs.order_by(expr, "image_id")


def class_where(run: Run, class_name: str, where: str) -> str:
    """``where`` (``class_in``) when ``class_name`` is a class of ``run`` and ``where`` a known place; else a 400
    naming the parameter."""
    names = list(run.class_names or [])
    if class_name not in names:
        raise ValidationError({"class": [f"{class_name!r} is not a class of run {run.pk}; its classes: "
                                         + ", ".join(names)]})
    if where not in CLASS_WHERE:
        raise ValidationError({"class_in": [f"{where!r}: give one of {', '.join(CLASS_WHERE)}"]})
    return where
