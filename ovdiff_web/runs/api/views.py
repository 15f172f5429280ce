"""/api/runs/: create queues an evaluation; cancel, resume, results, images (sortable by IoU), progress, and the
exports (report, report.csv, labels.zip) that the run's ``links`` name."""
from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ovdiff_web.accounts import audit
from ovdiff_web.runs.api.serializers import ImageResultSerializer, RunCreateSerializer, RunDetailSerializer, RunProgressSerializer, RunResultsSerializer, RunSerializer
from ovdiff_web.runs.api import filters
from ovdiff_web.accounts.api_mixins import HistoryMixin, ScopedMixin, ShareMixin, input_error
from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.runs import services as run_service
from ovdiff_web.runs import images as run_images, report as run_report
from ovdiff_web.runs.api import job_links
from ovdiff_web.common import polygons

MIN_AREA_PARAM = OpenApiParameter("min_area", int, description="smallest region (and hole) kept, in pixels "
                                  f"(default {polygons.MIN_AREA}, 1..{polygons.MAX_MIN_AREA})")


class RunViewSet(ScopedMixin, ShareMixin, HistoryMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Runs: create queues an evaluation; ``cancel``, ``results``, ``images`` (sortable by iou), ``progress``."""

    queryset = Run.objects.select_related("created_by").prefetch_related("stages")
    filterset_class = filters.RunFilter
    ordering_fields = ["created_at", "miou", "status"]

    def get_queryset(self) -> Any:
        return job_links.with_link_facts(super().get_queryset(), self.request.user)

    def get_serializer_class(self) -> type:
        if self.action == "retrieve":
            return RunDetailSerializer
        return RunSerializer

    @extend_schema(request=RunCreateSerializer, responses={201: RunSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = RunCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            run = run_service.create_run(user=request.user, dataset=data["dataset"], vocabulary=data.get("vocabulary"),
                                         profile=data.get("profile"), overrides=data.get("settings"),
                                         limit=data.get("limit"), kind=data["kind"])
        except ServiceError as exc:  # bad input (naming the field), a quota, no broker
            return input_error(exc)
        return Response(RunSerializer(run, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: RunSerializer, 409: OpenApiResponse(description="already finished")})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        run = self.get_object()
        if run.is_finished:
            return Response({"detail": f"run already {run.status}"}, status=status.HTTP_409_CONFLICT)
        run = run_service.request_cancel(run)
        audit.record(request.user, run, "cancel")
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: RunSerializer,
                                            409: OpenApiResponse(description="run is not failed or cancelled")})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Queue a failed or cancelled run again; cached classes and finished shards are not recomputed."""
        run = self.get_object()
        try:
            run = run_service.resume_run(run)
        except run_service.ResumeRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        audit.record(request.user, run, "resume")
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=RunResultsSerializer)
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return Response(self.get_object().results())

    @extend_schema(responses=ImageResultSerializer(many=True),
                   parameters=[OpenApiParameter("ordering", str, description="iou, -iou, image_id, pixel_accuracy"),
                               OpenApiParameter("iou_min", float), OpenApiParameter("iou_max", float),
                               OpenApiParameter("class", str, description="a class of the run (`class_names`) "
                                                "present in the image"),
                               OpenApiParameter("class_in", str, enum=list(run_images.CLASS_WHERE),
                                                description="where `class` must be present: gt (ground truth, "
                                                "the default), pred (prediction) or either"),
                               OpenApiParameter("page", int), OpenApiParameter("page_size", int)])
    @action(detail=True, methods=["get"], filter_backends=[])
    def images(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Per-image results, paginated; ``?ordering=iou`` or ``-iou`` sorts by IoU (NULLs last); ``?class=``
        keeps the images with that class in their ground truth (``class_in=pred``: prediction, ``either``)."""
        run = self.get_object()
        qs = ImageResult.objects.filter(run=run).select_related("run")
        image_filter = filters.ImageResultFilter(request.query_params, queryset=qs)
        if not image_filter.is_valid():
            raise ValidationError(image_filter.errors)
        qs = image_filter.qs
        qs = filters.order_images(qs, request.query_params.get("ordering", "image_id"))
        class_name = request.query_params.get("class", "")
        if class_name:
            where = filters.class_where(run, class_name, request.query_params.get("class_in", "gt"))
            ids, _ = run_images.with_class(run, qs, class_name, where)
            page = run_images.results_in_order(list(self.paginate_queryset(ids)))
        else:
            page = self.paginate_queryset(qs)
        response = self.get_paginated_response(ImageResultSerializer(page, many=True).data)
        response.data.update(run_service.random_weights_fields(run.profile))
        return response

    @extend_schema(responses=RunProgressSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return Response(run_service.run_progress(self.get_object()))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="report.json", filter_backends=[])
    def report(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The full report (the dashboard's metrics.json): results, settings, reproduction, per-image scores."""
        return Response(run_report.metrics_payload(self.get_object()))

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="report.csv", filter_backends=[])
    def report_csv(self, request: Request, pk: str | None = None, **kwargs: Any) -> HttpResponse:
        """Per-class then per-image IoU as CSV (the dashboard's metrics.csv)."""
        run = self.get_object()
        response = HttpResponse(run_report.metrics_csv(run), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-metrics.csv"'
        return response

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="labels.zip", filter_backends=[])
    def labels_zip(self, request: Request, pk: str | None = None, **kwargs: Any) -> FileResponse:
        """Every prediction as a palette label PNG, plus metrics.json, in one zip (the dashboard's export)."""
        run = self.get_object()
        path = run_report.predictions_zip(run)
        handle = open(path, "rb")
        path.unlink()  # the open handle keeps the data readable; nothing is left behind on disk (POSIX)
        return FileResponse(handle, as_attachment=True, filename=f"run-{run.pk}-predictions.zip",
                            content_type="application/zip")

    @extend_schema(parameters=[MIN_AREA_PARAM], responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="coco-polygons.json", filter_backends=[])
    def coco_polygons(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The predictions as COCO-style JSON with polygons: one annotation per region of a class (regions under
        ``min_area`` pixels left out, holes of at least ``min_area`` pixels cut in, smaller holes filled)."""
        run = self.get_object()
        area = polygons.parse_min_area(request.query_params.get("min_area"))  # a 400 via the API handler
        return Response(run_report.coco_polygons(run, area))

    @extend_schema(parameters=[MIN_AREA_PARAM], responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="yolo.zip", filter_backends=[])
    def yolo_zip(self, request: Request, pk: str | None = None, **kwargs: Any) -> HttpResponse:
        """The predictions as YOLO segmentation labels: ``labels/<image>.txt`` and ``data.yaml``."""
        run = self.get_object()
        area = polygons.parse_min_area(request.query_params.get("min_area"))  # a 400 via the API handler
        response = HttpResponse(run_report.yolo_zip(run, area), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-yolo.zip"'
        return response
