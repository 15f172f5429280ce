"""/api/integrations/: a user's Label Studio connections (create: the token is shown once; rotate it; import a
Label Studio JSON export; list the annotations received) and the FiftyOne export of a run or prediction job.
Connections are their owner's alone (staff see all): anyone else gets 404, anonymous callers 401."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from ovdiff_web.integrations import core_bridge as core
from ovdiff_web.integrations import ls_client, ls_corrections
from ovdiff_web.integrations.fiftyone_export import export_zip
from ovdiff_web.integrations.models import LabelStudioAnnotation, LabelStudioConnection, hash_token, new_token


class ConnectionSerializer(serializers.ModelSerializer):
    access_token = serializers.CharField(write_only=True, max_length=500,
                                         help_text="Label Studio API token (Account & Settings): a personal access "
                                         "token (exchanged for short-lived access tokens) or a legacy token")
    profile = serializers.ChoiceField(choices=[c[0] for c in core.PROFILE_CHOICES], required=False)
    support_classes = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                            max_length=1000)
    ml_backend_url = serializers.SerializerMethodField()

    class Meta:
        model = LabelStudioConnection
        fields = ["id", "name", "label_studio_url", "access_token", "profile", "settings", "support_classes",
                  "vocabulary", "dataset", "warmed_version", "ml_backend_url", "created_at"]
        read_only_fields = ["vocabulary", "dataset", "warmed_version", "created_at"]

    def get_ml_backend_url(self, obj: LabelStudioConnection) -> str:
        path = reverse("ls-health", args=[obj.pk]).removesuffix("health")
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def validate_label_studio_url(self, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise serializers.ValidationError("an http(s) URL of the Label Studio server")
        return value.rstrip("/")

    def validate_settings(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("settings overrides must be an object")
        try:
            core.build_config(self.initial_data.get("profile") or settings.OVDIFF_PROFILE, value)
        except (ValueError, TypeError) as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class ImportSerializer(serializers.Serializer):
    export = serializers.JSONField(help_text="Label Studio's JSON export: a list of tasks with their annotations")
    to_support = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list,
                                       help_text="classes whose corrected regions join their support set")


class LabelStudioConnectionViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                                   mixins.DestroyModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Label Studio connections: ovdiff as the ML backend of a Label Studio project."""

    serializer_class = ConnectionSerializer
    queryset = LabelStudioConnection.objects.all()

    def get_queryset(self) -> Any:
        rows = super().get_queryset().select_related("vocabulary", "dataset")
        user = self.request.user
        return rows if (user.is_staff and user.is_active) else rows.filter(owner=user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        token = new_token()
        connection = body.save(owner=request.user, token_hash=hash_token(token),
                               profile=body.validated_data.get("profile") or settings.OVDIFF_PROFILE)
        out = dict(self.get_serializer(connection).data)
        out["token"] = token  # shown once: only its hash is kept
        return Response(out, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: Any) -> None:
        serializer.save(warmed_version="")  # another profile or settings: setup queues the builds again

    @extend_schema(request=None, responses={200: inline_serializer("ConnectionToken", {
        "id": serializers.IntegerField(), "token": serializers.CharField(help_text="shown once; only its hash is kept")})})
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request: Request, pk: Any = None, **kwargs: Any) -> Response:
        connection = self.get_object()
        token = new_token()
        LabelStudioConnection.objects.filter(pk=connection.pk).update(token_hash=hash_token(token))
        return Response({"id": connection.pk, "token": token})

    @extend_schema(request=ImportSerializer, responses={201: inline_serializer("ImportedAnnotations", {
        "imported": serializers.JSONField()}), 400: OpenApiResponse(description="a bad payload; nothing kept"),
        409: OpenApiResponse(description="a replayed annotation; nothing kept"),
        503: OpenApiResponse(description="Label Studio unreachable")})
    @action(detail=True, methods=["post"], url_path="import", serializer_class=ImportSerializer)
    def import_export(self, request: Request, pk: Any = None, **kwargs: Any) -> Response:
        connection = self.get_object()
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            stored = ls_corrections.import_export(connection, body.validated_data["export"], user=request.user,
                                                  to_support=list(body.validated_data["to_support"]))
        except ls_corrections.CorrectionRefused as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        except ls_client.LabelStudioUnavailable as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        return Response({"imported": stored}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: inline_serializer("ReceivedAnnotation", {
        "annotation": serializers.IntegerField(), "task": serializers.IntegerField(),
        "revision": serializers.CharField(), "image_id": serializers.CharField(), "classes": serializers.JSONField(),
        "support_added": serializers.JSONField(), "source": serializers.CharField(),
        "completed_by": serializers.CharField(), "received_at": serializers.DateTimeField()},
        many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def annotations(self, request: Request, pk: Any = None, **kwargs: Any) -> Response:
        connection = self.get_object()
        rows = LabelStudioAnnotation.objects.filter(connection=connection)[:500]
        return Response([{"annotation": r.annotation_id, "task": r.task_id, "revision": r.revision,
                          "image_id": r.image_id, "classes": r.classes, "support_added": r.support_added,
                          "source": r.source, "completed_by": r.completed_by,
                          "received_at": r.received_at.isoformat()} for r in rows])


@extend_schema(responses={(200, "application/zip"): OpenApiResponse(
    OpenApiTypes.BINARY, description="FiftyOne ImageSegmentationDirectory layout: data/, labels/, ground_truth/, "
    "mask_targets.json, iou.json"), 404: OpenApiResponse(description="no such run, or not yours to read"),
    409: OpenApiResponse(description="the run has not succeeded yet")})
@api_view(["GET"])
def fiftyone_export(request: Request, run_id: int) -> HttpResponse:
    """A zip in FiftyOne's ImageSegmentationDirectory layout of a run or prediction job the caller may read."""
    run = core.access.scope(core.Run.objects.all(), request.user).filter(pk=run_id).first()
    if run is None:
        raise NotFound("no such run")
    if run.status != "succeeded":
        return HttpResponse(f'{{"detail": "run {run.pk} is {run.status}; export it once it succeeded"}}',
                            status=409, content_type="application/json")
    response = HttpResponse(export_zip(run), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="ovdiff-run-{run.pk}-fiftyone.zip"'
    return response
