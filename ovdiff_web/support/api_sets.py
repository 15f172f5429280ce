"""/api/support-sets/ and /api/banks/: read-only views of the shared, content-addressed artifacts."""
from __future__ import annotations

from typing import Any
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from ovdiff_web.support.serializers import PrototypeBankSerializer, SupportImageSerializer, SupportSetSerializer
from ovdiff_web.accounts.api_mixins import (
    ScopedMixin,
)
from ovdiff_web.support.models import PrototypeBank, SupportSet
from ovdiff_web.common.profiles import random_weights_fields
from ovdiff_web.support.filters import PrototypeBankFilter, SupportSetFilter


class SupportSetViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = SupportSet.objects.prefetch_related("banks")
    serializer_class = SupportSetSerializer
    filterset_class = SupportSetFilter
    ordering_fields = ["class_name", "created_at", "n_images"]
    search_fields = ["class_name", "prompt"]

    @extend_schema(responses=SupportImageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def images(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        support = self.get_object()
        page = self.paginate_queryset(support.images.all())
        data = SupportImageSerializer(page, many=True).data
        response = self.get_paginated_response(data)
        response.data.update(random_weights_fields(support.profile))
        return response


class PrototypeBankViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PrototypeBank.objects.select_related("support_set")
    serializer_class = PrototypeBankSerializer
    filterset_class = PrototypeBankFilter
    ordering_fields = ["created_at", "extractor"]
