"""REST API views: thin. Validation in serializers, logic in ``ovdiff_web.core.services``."""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ovdiff_web.core import access, audit
from ovdiff_web.core.api import filters, serializers as s
from ovdiff_web.core.api.curation_views import ClassCurationMixin, VocabularyReviewMixin
from ovdiff_web.core.api.mixins import (
    HistoryMixin,
    ScopedMixin,
    ShareMixin,
    conflict,
    input_error,
    version_mismatch,
)
from ovdiff_web.core.api.parsers import StrictJSONParser
from ovdiff_web.core.models import Dataset, PrototypeBank, SupportSet, Vocabulary, VocabularyClass
from ovdiff_web.core.services import cleanup, quotas
from ovdiff_web.core.services import datasets as dataset_service
from ovdiff_web.core.services import runs as run_service
from ovdiff_web.core.services import vocab as vocab_service
from ovdiff_web.core.services.paths import PathNotAllowed
from ovdiff_web.core.services.queue import QueueUnavailable
from ovdiff_web.core.services.uploads import ZipRejected


class VocabularyViewSet(ScopedMixin, ShareMixin, HistoryMixin, VocabularyReviewMixin, viewsets.ModelViewSet):
    """Vocabularies; ``names`` on create pastes classes; ``expected_version`` on update guards concurrent edits."""

    queryset = Vocabulary.objects.select_related("owner").prefetch_related("classes__label_changed_by")
    serializer_class = s.VocabularySerializer
    filterset_class = filters.VocabularyFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    search_fields = ["name", "description"]

    def perform_create(self, serializer: s.VocabularySerializer) -> None:
        names = serializer.validated_data.pop("names", "")
        serializer.validated_data.pop("expected_version", None)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    vocabulary = serializer.save(owner=self.request.user)
            except IntegrityError:  # a parallel create took the name after validation
                raise ValidationError({"name": ["a vocabulary with this name already exists"]}) from None
            audit.record(self.request.user, vocabulary, "create", {"name": [None, vocabulary.name]})
            if names:
                try:
                    vocab_service.add_classes(vocabulary, names, user=self.request.user, initial=True)
                except quotas.QuotaExceeded as exc:
                    raise ValidationError({"names": [str(exc)]}) from None

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Compare-and-swap on ``expected_version`` under a row lock: of two concurrent editors one gets 409."""
        with transaction.atomic():
            vocabulary = self.get_object()
            current = Vocabulary.objects.select_for_update().values_list("version", flat=True).get(pk=vocabulary.pk)
            refused = version_mismatch(request, current)
            if refused is not None:
                return refused
            before = {"name": vocabulary.name, "description": vocabulary.description}
            response = super().update(request, *args, **kwargs)
            vocabulary.refresh_from_db()
            audit.record(request.user, vocabulary, "update", {k: [v, getattr(vocabulary, k)] for k, v in
                                                              before.items() if getattr(vocabulary, k) != v},
                         from_version=current)
            vocabulary.bump_version()
        response.data["version"] = vocabulary.version
        return response

    def perform_update(self, serializer: s.VocabularySerializer) -> None:
        serializer.validated_data.pop("names", None)
        serializer.validated_data.pop("expected_version", None)
        serializer.save()

    def perform_destroy(self, instance: Vocabulary) -> None:
        audit.record(self.request.user, instance, "delete", from_version=instance.version)
        class_ids = list(instance.classes.values_list("pk", flat=True))
        instance.delete()
        cleanup.remove_class_files(class_ids)  # the classes' own support images go with them

    @extend_schema(request=s.BulkClassesSerializer, responses={201: s.BulkClassesResultSerializer})
    @action(detail=True, methods=["post"], url_path="classes/bulk")
    def bulk_classes(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Paste class names; each new class is labelled thing/stuff by the engine's labeller."""
        vocabulary = self.get_object()
        body = s.BulkClassesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        names = vocab_service.parse_names(body.validated_data["names"])
        if not names:
            return Response({"names": ["no class names found"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            created, skipped = vocab_service.add_classes(vocabulary, names, user=request.user)
        except quotas.QuotaExceeded as exc:
            return input_error(exc)
        data = {"created": s.VocabularyClassSerializer(created, many=True).data, "skipped": skipped}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.VocabularyClassSerializer(many=True))
    @action(detail=True, methods=["get"])
    def classes(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The vocabulary's classes (paginated, in order)."""
        vocabulary = self.get_object()
        page = self.paginate_queryset(vocabulary.classes.select_related("label_changed_by"))
        return self.get_paginated_response(s.VocabularyClassSerializer(page, many=True).data)


class VocabularyClassViewSet(ScopedMixin, HistoryMixin, ClassCurationMixin, viewsets.ModelViewSet):
    """Classes; ``set_label`` records a person's thing/stuff decision; ``regenerate`` rebuilds artifacts."""

    queryset = VocabularyClass.objects.select_related("vocabulary", "label_changed_by")
    serializer_class = s.VocabularyClassSerializer
    filterset_class = filters.VocabularyClassFilter
    ordering_fields = ["order", "name", "vocabulary"]
    search_fields = ["name", "prompt"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        fields.pop("expected_version", None)
        vocabulary = fields.pop("vocabulary", None)
        if vocabulary is None:
            return Response({"vocabulary": ["This field is required."]}, status=status.HTTP_400_BAD_REQUEST)
        access.check_edit(request.user, vocabulary)
        try:
            obj = vocab_service.create_class(vocabulary, **fields)
        except ValueError as exc:
            return Response({"name": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        audit.record(request.user, obj, "create", {"name": [None, obj.name]})
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Compare-and-swap on ``expected_version`` under a row lock: of two concurrent editors one gets 409."""
        with transaction.atomic():
            obj = self.get_object()
            current = VocabularyClass.objects.select_for_update().values_list("version", flat=True).get(pk=obj.pk)
            refused = version_mismatch(request, current)
            if refused is not None:
                return refused
            return super().update(request, *args, **kwargs)

    def perform_update(self, serializer: s.VocabularyClassSerializer) -> None:
        from django.db.models import F
        from django.utils import timezone

        data = serializer.validated_data
        data.pop("vocabulary", None)  # a class never moves between vocabularies
        data.pop("expected_version", None)
        if data.get("is_stuff") is None:
            data.pop("is_stuff", None)
        elif data["is_stuff"] != serializer.instance.is_stuff:  # a person's label decision, as in set_label
            data.update(label_source="person", label_changed_by=self.request.user, label_changed_at=timezone.now())
        tracked = ("name", "prompt", "is_stuff", "order", "user_support_dir")
        changes = {f: [getattr(serializer.instance, f), data[f]] for f in tracked
                   if f in data and data[f] != getattr(serializer.instance, f)}
        from_version = serializer.instance.version
        obj = serializer.save()
        audit.record(self.request.user, obj, "update", changes, from_version=from_version)
        VocabularyClass.objects.filter(pk=obj.pk).update(version=F("version") + 1)  # every edit moves the version
        obj.refresh_from_db(fields=["version"])
        obj.vocabulary.bump_version()
        vocab_from = obj.vocabulary.version - 1
        if "is_stuff" in changes:
            vocab_service.record_flip(obj, changes["is_stuff"][0], user=self.request.user,
                                      at=data["label_changed_at"], vocabulary_from_version=vocab_from)
            obj.refresh_from_db(fields=["label_note"])

    def perform_destroy(self, instance: VocabularyClass) -> None:
        audit.record(self.request.user, instance, "delete", {"name": [instance.name, None]},
                     from_version=instance.version)
        vocabulary, pk = instance.vocabulary, instance.pk
        instance.delete()
        cleanup.remove_class_files([pk])
        vocabulary.bump_version()

    @extend_schema(request=s.SetLabelSerializer,
                   responses={200: s.VocabularyClassSerializer, 409: OpenApiResponse(description="version conflict")})
    @action(detail=True, methods=["post"])
    def set_label(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        obj = self.get_object()
        body = s.SetLabelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            obj = vocab_service.set_label(obj, is_stuff=body.validated_data["is_stuff"], user=request.user,
                                          expected_version=body.validated_data.get("expected_version"))
        except vocab_service.VersionConflict as exc:
            return conflict(exc.current)
        return Response(self.get_serializer(obj).data)

    @extend_schema(request=s.RegenerateSerializer, responses={202: s.QueuedSerializer})
    @action(detail=True, methods=["post"])
    def regenerate(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Queue (re)building this class's support set and banks, optionally with other settings (e.g. seed)."""
        obj = self.get_object()
        body = s.RegenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            task_id = run_service.queue_regenerate(obj, body.validated_data.get("profile"),
                                                   body.validated_data.get("settings") or {}, user=request.user)
        except (run_service.RunInputError, quotas.QuotaExceeded) as exc:
            return input_error(exc, "settings")
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response({"queued": True, "task_id": task_id}, status=status.HTTP_202_ACCEPTED)


class SupportSetViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = SupportSet.objects.prefetch_related("banks")
    serializer_class = s.SupportSetSerializer
    filterset_class = filters.SupportSetFilter
    ordering_fields = ["class_name", "created_at", "n_images"]
    search_fields = ["class_name", "prompt"]

    @extend_schema(responses=s.SupportImageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def images(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        support = self.get_object()
        page = self.paginate_queryset(support.images.all())
        data = s.SupportImageSerializer(page, many=True).data
        response = self.get_paginated_response(data)
        response.data.update(run_service.random_weights_fields(support.profile))
        return response


class PrototypeBankViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PrototypeBank.objects.select_related("support_set")
    serializer_class = s.PrototypeBankSerializer
    filterset_class = filters.PrototypeBankFilter
    ordering_fields = ["created_at", "extractor"]


class DatasetViewSet(ScopedMixin, ShareMixin, HistoryMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                     viewsets.ReadOnlyModelViewSet):
    """Datasets: create by zip upload (multipart ``file``) or by server ``path`` inside OVDIFF_DATASET_ROOTS."""

    queryset = Dataset.objects.select_related("created_by")
    serializer_class = s.DatasetSerializer
    filterset_class = filters.DatasetFilter
    ordering_fields = ["name", "created_at", "image_count"]
    search_fields = ["name"]
    parser_classes = [MultiPartParser, FormParser, StrictJSONParser]

    @extend_schema(request=s.DatasetCreateSerializer, responses={201: s.DatasetSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.DatasetCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            dataset = dataset_service.create_dataset(
                name=data["name"], fmt=data["format"], split=data["split"], protocol=data["protocol"],
                user=request.user, upload=data.get("file") or None, path=data.get("path"))
        except ZipRejected as exc:
            return Response({"file": [str(exc)]}, status=exc.status)
        except PathNotAllowed as exc:
            return Response({"path": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        except dataset_service.NameTaken as exc:
            return Response({"name": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        except dataset_service.DatasetRefused as exc:  # nothing usable: refused, nothing kept
            errors = exc.errors if request.user.is_staff else dataset_service.relative_errors(exc.errors, exc.root)
            summary = "; ".join(f"{e.get('item', '')}: {e.get('error', '')}" for e in errors[:5])
            return Response({"file": [f"no usable image/mask pair in the dataset ({summary})"],
                             "ingest_errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(s.DatasetSerializer(dataset, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Dataset) -> None:
        """The row and, for uploads, its extracted files."""
        audit.record(self.request.user, instance, "delete", {"name": [instance.name, None]})
        dataset_service.discard(instance)


class WorkersView(APIView):
    """Celery workers answering a ping within a short timeout, their queues and active tasks."""

    @extend_schema(responses={200: s.WorkersSerializer, 503: s.WorkersSerializer})
    def get(self, request: Request) -> Response:
        from ovdiff_web.core.services.workers import worker_status

        data = worker_status()
        code = status.HTTP_200_OK if data["broker"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(data, status=code)


@extend_schema(responses={200: s.HealthSerializer, 503: s.HealthSerializer}, auth=[])
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def health(request: Request) -> Response:
    """Liveness + database reachability; no authentication, no secrets."""
    from django.conf import settings

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        db = "ok"
    except Exception:  # report, don't raise: this is what health checks are for
        db = "unavailable"
    code = status.HTTP_200_OK if db == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
    return Response({"status": "ok" if db == "ok" else "degraded", "database": db,
                     "profile": settings.OVDIFF_PROFILE}, status=code)


@extend_schema(request=None, responses={204: None})
@api_view(["POST"])
def revoke_token(request: Request) -> Response:
    """Delete the caller's API token (a new one can be obtained at /api/auth/token/)."""
    Token.objects.filter(user=request.user).delete()
    return Response(status=status.HTTP_204_NO_CONTENT)
