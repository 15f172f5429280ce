"""/api/predictions/: segment new images with a vocabulary on the workers (``services/predictions.py``).

create answers 202 with the job; ``results`` lists per-image results, ``image``/``label``/``overlay``/``explain``
serve one image (``?image=<id>``), ``labels.zip`` and ``coco.json`` export the job; cancel/resume/progress are
the run's (a prediction job is a run of kind ``segmentation``)."""
from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ovdiff_web.accounts import audit
from ovdiff_web.predictions import serializers as ps
from ovdiff_web.accounts.api_mixins import ScopedMixin, input_error
from ovdiff_web.common.api.parsers import StrictJSONParser
from ovdiff_web.runs.api.views import MIN_AREA_PARAM, RunViewSet
from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.predictions import exports as prediction_exports, results as prediction_results, services as predictions
from ovdiff_web.common import polygons
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.predictions.segment_page import link_support_images
from ovdiff_web.runs.legend import shown_labels_path
from ovdiff_web.common.paths import media_path
from ovdiff_web.runs.api import job_links

IMAGE_PARAM = OpenApiParameter("image", str, required=True, description="image id (from results)")


def _image_id(request: Request) -> str:
    image_id = request.query_params.get("image", "")
    if not image_id:
        raise ValidationError({"image": ["give ?image=<image id> (see results)"]})
    return image_id


def _point(request: Request) -> tuple[int, int]:
    try:
        return int(request.query_params.get("x", "")), int(request.query_params.get("y", ""))
    except ValueError:
        raise ValidationError({"x": ["x and y must be integers (pixel column and row)"]}) from None


class PredictionViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Prediction jobs of the caller (and those shared with them)."""

    queryset = Run.objects.filter(kind=Run.Kind.SEGMENTATION).select_related("created_by").prefetch_related("stages")
    serializer_class = ps.PredictionSerializer
    parser_classes = [MultiPartParser, FormParser, StrictJSONParser]
    ordering_fields = ["created_at", "status"]

    def get_queryset(self) -> Any:
        return job_links.with_link_facts(super().get_queryset(), self.request.user)

    @extend_schema(request={"multipart/form-data": ps.PredictionCreateSerializer,
                            "application/json": ps.PredictionCreateSerializer},
                   responses={202: ps.PredictionSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ps.PredictionCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            run = predictions.create_prediction(
                user=request.user, files=data.get("files") or [], archive=data.get("archive"),
                dataset=data.get("dataset"), folder=data.get("folder", ""), vocabulary=data.get("vocabulary"),
                classes=data.get("classes") or [], stuff=data.get("stuff") or [], profile=data.get("profile"),
                overrides=data.get("settings"))
        except ServiceError as exc:  # its status and the field at fault (files, archive, folder, classes ...)
            return input_error(exc)
        audit.record(request.user, run, "create")
        return Response(ps.PredictionSerializer(run, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)

    cancel = RunViewSet.cancel
    resume = RunViewSet.resume
    progress = RunViewSet.progress

    @extend_schema(responses=ps.PredictionImageSerializer(many=True),
                   parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)])
    @action(detail=True, methods=["get"], filter_backends=[])
    def results(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Per-image results (classes present, pre-filter kept classes, pixel share), paginated; the legend."""
        run = self.get_object()
        page = self.paginate_queryset(ImageResult.objects.filter(run=run).order_by("image_id"))
        response = self.get_paginated_response(ps.PredictionImageSerializer(page, many=True).data)
        response.data["legend"] = prediction_results.legend(run)
        return response

    def _result(self, request: Request) -> tuple[Run, str]:
        run = self.get_object()
        image_id = _image_id(request)
        try:
            prediction_results.image_result(run, image_id)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        return run, image_id

    @extend_schema(parameters=[IMAGE_PARAM], responses={(200, "image/png"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="label.png", filter_backends=[])
    def label(self, request: Request, pk: str | None = None, **kwargs: Any) -> HttpResponse:
        """The label PNG of one image (palette; index = ``legend``: 0 background, then the vocabulary)."""

        run, image_id = self._result(request)
        row = prediction_results.image_result(run, image_id)
        return HttpResponse(media_path(shown_labels_path(row.prediction)).read_bytes(), content_type="image/png")

    @extend_schema(parameters=[IMAGE_PARAM], responses={(200, "image/png"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="overlay.png", filter_backends=[])
    def overlay(self, request: Request, pk: str | None = None, **kwargs: Any) -> HttpResponse:
        """The image blended with its label colours."""

        run, image_id = self._result(request)
        row = prediction_results.image_result(run, image_id)
        return HttpResponse(media_path(row.overlay).read_bytes(), content_type="image/png")

    @extend_schema(parameters=[IMAGE_PARAM, OpenApiParameter("x", int, required=True),
                               OpenApiParameter("y", int, required=True)],
                   responses=ps.PixelExplanationSerializer)
    @action(detail=True, methods=["get"], filter_backends=[])
    def explain(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Which prototype decided pixel (x, y), and the support image region it came from."""
        run, image_id = self._result(request)
        x, y = _point(request)
        try:
            data = prediction_results.explain(run, image_id, x, y)
        except LookupError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(link_support_images(
            data, lambda rel: request.build_absolute_uri(reverse("ui:media", args=[rel]))))

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="labels.zip", filter_backends=[])
    def labels_zip(self, request: Request, pk: str | None = None, **kwargs: Any) -> HttpResponse:
        """Every label PNG of the job and legend.json."""
        run = self.get_object()
        response = HttpResponse(prediction_results.labels_zip(run), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="prediction-{run.pk}-labels.zip"'
        return response

    @extend_schema(parameters=[MIN_AREA_PARAM], responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="coco.json", filter_backends=[])
    def coco(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """COCO-style JSON: one RLE segmentation per class present in each image, with area and bbox (regions
        under ``min_area`` pixels left out)."""
        run = self.get_object()
        area = polygons.parse_min_area(request.query_params.get("min_area"))  # a 400 via the API handler
        return Response(prediction_results.coco_document(run, area))

    @extend_schema(parameters=[MIN_AREA_PARAM], responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="coco-polygons.json", filter_backends=[])
    def coco_polygons(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """COCO-style JSON with polygons: one annotation per region of a class present (regions under
        ``min_area`` pixels left out, holes of at least ``min_area`` pixels cut in, smaller holes filled)."""
        run = self.get_object()
        area = polygons.parse_min_area(request.query_params.get("min_area"))  # a 400 via the API handler
        return Response(prediction_exports.coco_polygons_document(run, area))

    @extend_schema(parameters=[MIN_AREA_PARAM], responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="yolo.zip", filter_backends=[])
    def yolo_zip(self, request: Request, pk: str | None = None, **kwargs: Any) -> HttpResponse:
        """YOLO segmentation labels: ``labels/<image>.txt`` (class id, then the normalised polygon of each
        region) and ``data.yaml`` naming the classes."""
        run = self.get_object()
        area = polygons.parse_min_area(request.query_params.get("min_area"))  # a 400 via the API handler
        response = HttpResponse(prediction_exports.yolo_zip(run, area), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="prediction-{run.pk}-yolo.zip"'
        return response
