"""django-filter sets for the vocabularies room's list endpoints."""
from __future__ import annotations

import django_filters as df
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass


class VocabularyFilter(df.FilterSet):
    name = df.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Vocabulary
        fields = ["name", "owner"]


class VocabularyClassFilter(df.FilterSet):
    name = df.CharFilter(lookup_expr="icontains")

    class Meta:
        model = VocabularyClass
        fields = ["vocabulary", "name", "is_stuff", "label_source"]
