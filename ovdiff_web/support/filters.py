"""django-filter sets for the support room's list endpoints."""
from __future__ import annotations

import django_filters as df
from ovdiff_web.support.models import PrototypeBank, SupportSet


class SupportSetFilter(df.FilterSet):
    class_name = df.CharFilter(lookup_expr="icontains")

    class Meta:
        model = SupportSet
        fields = ["class_name", "status", "profile", "source", "key"]


class PrototypeBankFilter(df.FilterSet):
    class Meta:
        model = PrototypeBank
        fields = ["support_set", "extractor", "key"]
