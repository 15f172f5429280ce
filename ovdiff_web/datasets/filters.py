"""django-filter sets for the datasets room's list endpoints."""
from __future__ import annotations

import django_filters as df
from ovdiff_web.datasets.models import Dataset


class DatasetFilter(df.FilterSet):
    name = df.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Dataset
        fields = ["name", "format", "status", "source"]
