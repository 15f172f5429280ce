"""/api/datasets/: register (upload or confined server path), list, read, share and delete datasets."""
from __future__ import annotations

from typing import Any
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from ovdiff_web.accounts import audit
from ovdiff_web.datasets.serializers import DatasetCreateSerializer, DatasetSerializer
from ovdiff_web.accounts.api_mixins import (
    HistoryMixin,
    ScopedMixin,
    ShareMixin,
    input_error,
)
from ovdiff_web.common.api.parsers import StrictJSONParser
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.datasets import services as dataset_service
from ovdiff_web.datasets.filters import DatasetFilter
from ovdiff_web.common.errors import ServiceError


class DatasetViewSet(ScopedMixin, ShareMixin, HistoryMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                     viewsets.ReadOnlyModelViewSet):
    """Datasets: create by zip upload (multipart ``file``) or by server ``path`` inside OVDIFF_DATASET_ROOTS."""

    queryset = Dataset.objects.select_related("created_by")
    serializer_class = DatasetSerializer
    filterset_class = DatasetFilter
    ordering_fields = ["name", "created_at", "image_count"]
    search_fields = ["name"]
    parser_classes = [MultiPartParser, FormParser, StrictJSONParser]

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = DatasetCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            dataset = dataset_service.create_dataset(
                name=data["name"], fmt=data["format"], split=data["split"], protocol=data["protocol"],
                user=request.user, upload=data.get("file") or None, path=data.get("path"))
        except dataset_service.DatasetRefused as exc:  # nothing usable: refused, nothing kept; staff see paths
            errors = exc.errors if request.user.is_staff else dataset_service.relative_errors(exc.errors, exc.root)
            summary = "; ".join(f"{e.get('item', '')}: {e.get('error', '')}" for e in errors[:5])
            return Response({"file": [f"no usable image/mask pair in the dataset ({summary})"],
                             "ingest_errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        except ServiceError as exc:  # the upload is this request's ``file``
            return input_error(exc.named({"archive": "file"}))
        return Response(DatasetSerializer(dataset, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Dataset) -> None:
        """The row and, for uploads, its extracted files."""
        audit.record(self.request.user, instance, "delete", {"name": [instance.name, None]})
        dataset_service.discard(instance)
