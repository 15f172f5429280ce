"""REST API views: thin. Validation in serializers, logic in each room's services."""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ovdiff_web.accounts import access, audit
from ovdiff_web.common.api.fields import QueuedSerializer
from ovdiff_web.ops.serializers import HealthSerializer, WorkersSerializer
from ovdiff_web.support.serializers import RegenerateSerializer
from ovdiff_web.vocabularies.serializers import BulkClassesResultSerializer, BulkClassesSerializer, SetLabelSerializer, VocabularyClassSerializer, VocabularySerializer
from ovdiff_web.vocabularies.filters import VocabularyClassFilter, VocabularyFilter
from ovdiff_web.support.api import ClassCurationMixin, VocabularyReviewMixin
from ovdiff_web.support.editor.api import ClassMaskEditMixin
from ovdiff_web.accounts.api_mixins import (
    HistoryMixin,
    ScopedMixin,
    ShareMixin,
    conflict,
    input_error,
    version_mismatch,
)
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass
from ovdiff_web.ops import cleanup
from ovdiff_web.accounts import quotas
from ovdiff_web.common.errors import InputError
from ovdiff_web.support import rebuild
from ovdiff_web.vocabularies import services as vocab_service
from ovdiff_web.common.broker.queue import QueueUnavailable
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from ovdiff_web.common.broker.workers import worker_status


class VocabularyViewSet(ScopedMixin, ShareMixin, HistoryMixin, VocabularyReviewMixin, viewsets.ModelViewSet):
    """Vocabularies; ``names`` on create pastes classes; ``expected_version`` on update guards concurrent edits."""

    queryset = Vocabulary.objects.select_related("owner").prefetch_related("classes__label_changed_by")
    serializer_class = VocabularySerializer
    filterset_class = VocabularyFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    search_fields = ["name", "description"]

    def perform_create(self, serializer: VocabularySerializer) -> None:
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

    def perform_update(self, serializer: VocabularySerializer) -> None:
        serializer.validated_data.pop("names", None)
        serializer.validated_data.pop("expected_version", None)
        serializer.save()

    def perform_destroy(self, instance: Vocabulary) -> None:
        audit.record(self.request.user, instance, "delete", from_version=instance.version)
        class_ids = list(instance.classes.values_list("pk", flat=True))
        instance.delete()
        cleanup.remove_class_files(class_ids)  # the classes' own support images go with them

    @extend_schema(request=BulkClassesSerializer, responses={201: BulkClassesResultSerializer})
    @action(detail=True, methods=["post"], url_path="classes/bulk")
    def bulk_classes(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Paste class names; each new class is labelled thing/stuff by the engine's labeller."""
        vocabulary = self.get_object()
        body = BulkClassesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        names = vocab_service.parse_names(body.validated_data["names"])
        if not names:
            return Response({"names": ["no class names found"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            created, skipped = vocab_service.add_classes(vocabulary, names, user=request.user)
        except quotas.QuotaExceeded as exc:
            return input_error(exc)
        data = {"created": VocabularyClassSerializer(created, many=True).data, "skipped": skipped}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=VocabularyClassSerializer(many=True))
    @action(detail=True, methods=["get"])
    def classes(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The vocabulary's classes (paginated, in order)."""
        vocabulary = self.get_object()
        page = self.paginate_queryset(vocabulary.classes.select_related("label_changed_by"))
        return self.get_paginated_response(VocabularyClassSerializer(page, many=True).data)


class VocabularyClassViewSet(ScopedMixin, HistoryMixin, ClassCurationMixin, ClassMaskEditMixin, viewsets.ModelViewSet):
    """Classes; ``set_label`` records a person's thing/stuff decision; ``regenerate`` rebuilds artifacts."""

    queryset = VocabularyClass.objects.select_related("vocabulary", "label_changed_by")
    serializer_class = VocabularyClassSerializer
    filterset_class = VocabularyClassFilter
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

    def perform_update(self, serializer: VocabularyClassSerializer) -> None:

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

    @extend_schema(request=SetLabelSerializer,
                   responses={200: VocabularyClassSerializer, 409: OpenApiResponse(description="version conflict")})
    @action(detail=True, methods=["post"])
    def set_label(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        obj = self.get_object()
        body = SetLabelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            obj = vocab_service.set_label(obj, is_stuff=body.validated_data["is_stuff"], user=request.user,
                                          expected_version=body.validated_data.get("expected_version"))
        except vocab_service.VersionConflict as exc:
            return conflict(exc.current)
        return Response(self.get_serializer(obj).data)

    @extend_schema(request=RegenerateSerializer, responses={202: QueuedSerializer})
    @action(detail=True, methods=["post"])
    def regenerate(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Queue (re)building this class's support set and banks, optionally with other settings (e.g. seed)."""
        obj = self.get_object()
        body = RegenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            task_id = rebuild.queue_regenerate(obj, body.validated_data.get("profile"),
                                                   body.validated_data.get("settings") or {}, user=request.user)
        except (InputError, quotas.QuotaExceeded) as exc:
            return input_error(exc, "settings")
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response({"queued": True, "task_id": task_id}, status=status.HTTP_202_ACCEPTED)








class WorkersView(APIView):
    """Celery workers answering a ping within a short timeout, their queues and active tasks."""

    @extend_schema(responses={200: WorkersSerializer, 503: WorkersSerializer})
    def get(self, request: Request) -> Response:

        data = worker_status()
        code = status.HTTP_200_OK if data["broker"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(data, status=code)


@extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, auth=[])
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def health(request: Request) -> Response:
    """Liveness + database reachability; no authentication, no secrets."""

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
