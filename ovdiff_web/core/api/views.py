"""REST API views: thin. Validation in serializers, logic in ``ovdiff_web.core.services``."""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ovdiff_web.core import access, audit
from ovdiff_web.core.api import filters, serializers as s
from ovdiff_web.core.api.parsers import StrictJSONParser
from ovdiff_web.core.models import Dataset, ImageResult, PrototypeBank, Run, SupportSet, Vocabulary, VocabularyClass
from ovdiff_web.core.services import datasets as dataset_service
from ovdiff_web.core.services import cleanup, quotas
from ovdiff_web.core.services import runs as run_service
from ovdiff_web.core.services import vocab as vocab_service
from ovdiff_web.core.services.paths import PathNotAllowed
from ovdiff_web.core.services.uploads import ZipRejected


def _input_error(exc: Exception, default_field: str = "detail") -> Response:
    """400 (or the quota's 429) naming the field at fault, with a one-line ``detail`` too."""
    field = getattr(exc, "field", None) or default_field
    code = getattr(exc, "status", status.HTTP_400_BAD_REQUEST)
    body: dict[str, Any] = {"detail": f"{field}: {exc}" if field != "detail" else str(exc)}
    if field != "detail":
        body[field] = [str(exc)]
    return Response(body, status=code)


def _conflict(current: int) -> Response:
    return Response({"detail": "version conflict: someone else changed this since you loaded it (now at version "
                               f"{current}); reload and retry", "current_version": current},
                    status=status.HTTP_409_CONFLICT)


def _version_mismatch(request: Request, current: int) -> Response | None:
    """A 409 when the body's ``expected_version`` is given and differs from the stored version; a 400 when it is
    not a positive integer (a malformed request, not a conflict)."""
    expected = request.data.get("expected_version") if hasattr(request.data, "get") else None
    if expected is None or expected == "":
        return None
    digits = isinstance(expected, str) and expected.isascii() and expected.isdigit()
    if isinstance(expected, bool) or not (isinstance(expected, int) or digits) or int(expected) < 1:
        return Response({"expected_version": ["must be a positive integer (the version you loaded)"]},
                        status=status.HTTP_400_BAD_REQUEST)
    if int(expected) != current:
        return _conflict(current)
    return None


class ScopedMixin:
    """Every viewset: rows narrowed to what the caller may read; writes need edit access (``access``)."""

    permission_classes = [access.ObjectAccess]

    def get_queryset(self) -> Any:
        return access.scope(super().get_queryset(), self.request.user)  # type: ignore[misc]


class ShareMixin:
    """``POST <id>/share/`` {visibility, users, groups}: only the owner (or staff) changes who may see or edit."""

    @extend_schema(request=s.ShareSerializer, responses={200: s.ShareSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        obj = self.get_object()
        if not access.can_share(request.user, obj):
            return Response({"detail": "only the owner (or staff) may change sharing"},
                            status=status.HTTP_403_FORBIDDEN)
        body = s.ShareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        before = {"visibility": obj.visibility, "users": sorted(obj.shared_users.values_list("username", flat=True)),
                  "groups": sorted(obj.shared_groups.values_list("name", flat=True))}
        access.share(obj, visibility=data.get("visibility"), users=data.get("users"), groups=data.get("groups"))
        after = {"visibility": obj.visibility, "users": sorted(obj.shared_users.values_list("username", flat=True)),
                 "groups": sorted(obj.shared_groups.values_list("name", flat=True))}
        audit.record(request.user, obj, "share", {k: [v, after[k]] for k, v in before.items() if after[k] != v})
        return Response(s.ShareSerializer(obj).data)


class HistoryMixin:
    """``GET <id>/history/``: the object's append-only audit entries, newest first (readers may see them)."""

    @extend_schema(responses=s.AuditEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        obj = self.get_object()
        entries = audit.AuditEntry.objects.filter(object_type=type(obj).__name__, object_id=str(obj.pk))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(s.AuditEntrySerializer(page, many=True).data)


class VocabularyViewSet(ScopedMixin, ShareMixin, HistoryMixin, viewsets.ModelViewSet):
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
                    vocab_service.add_classes(vocabulary, names, user=self.request.user)
                except quotas.QuotaExceeded as exc:
                    raise ValidationError({"names": [str(exc)]}) from None

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Compare-and-swap on ``expected_version`` under a row lock: of two concurrent editors one gets 409."""
        with transaction.atomic():
            vocabulary = self.get_object()
            current = Vocabulary.objects.select_for_update().values_list("version", flat=True).get(pk=vocabulary.pk)
            conflict = _version_mismatch(request, current)
            if conflict is not None:
                return conflict
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
            return _input_error(exc)
        data = {"created": s.VocabularyClassSerializer(created, many=True).data, "skipped": skipped}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.VocabularyClassSerializer(many=True))
    @action(detail=True, methods=["get"])
    def classes(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The vocabulary's classes (paginated, in order)."""
        vocabulary = self.get_object()
        page = self.paginate_queryset(vocabulary.classes.select_related("label_changed_by"))
        return self.get_paginated_response(s.VocabularyClassSerializer(page, many=True).data)


class VocabularyClassViewSet(ScopedMixin, HistoryMixin, viewsets.ModelViewSet):
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
            conflict = _version_mismatch(request, current)
            if conflict is not None:
                return conflict
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
            return _conflict(exc.current)
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
                                                   body.validated_data.get("settings") or {})
        except run_service.RunInputError as exc:
            return _input_error(exc, "settings")
        except run_service.QueueUnavailable as exc:
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
        common = {"name": data["name"], "fmt": data["format"], "split": data["split"], "protocol": data["protocol"],
                  "user": request.user}
        try:
            if data.get("file"):
                dataset = dataset_service.create_from_upload(upload=data["file"], **common)
            else:
                dataset = dataset_service.register_server_path(path=data["path"], **common)
        except ZipRejected as exc:
            return Response({"file": [str(exc)]}, status=exc.status)
        except PathNotAllowed as exc:
            return Response({"path": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        except dataset_service.NameTaken as exc:
            return Response({"name": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        dataset = dataset_service.ingest_now_or_later(dataset)
        if dataset.status == Dataset.Status.FAILED:  # nothing usable: refuse the upload, keep nothing of it
            errors = list(dataset.ingest_errors)
            if not request.user.is_staff:
                errors = s.relative_errors(errors, dataset.root)
            dataset_service.discard(dataset)
            summary = "; ".join(f"{e.get('item', '')}: {e.get('error', '')}" for e in errors[:5])
            return Response({"file": [f"no usable image/mask pair in the dataset ({summary})"],
                             "ingest_errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(s.DatasetSerializer(dataset, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Dataset) -> None:
        """The row and, for uploads, its extracted files."""
        audit.record(self.request.user, instance, "delete", {"name": [instance.name, None]})
        dataset_service.discard(instance)


class RunViewSet(ScopedMixin, ShareMixin, HistoryMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Runs: create queues an evaluation; ``cancel``, ``results``, ``images`` (sortable by iou), ``progress``."""

    queryset = Run.objects.select_related("created_by").prefetch_related("stages")
    filterset_class = filters.RunFilter
    ordering_fields = ["created_at", "miou", "status"]

    def get_serializer_class(self) -> type:
        if self.action == "retrieve":
            return s.RunDetailSerializer
        return s.RunSerializer

    @extend_schema(request=s.RunCreateSerializer, responses={201: s.RunSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.RunCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            run = run_service.create_run(user=request.user, dataset=data["dataset"], vocabulary=data.get("vocabulary"),
                                         profile=data.get("profile"), overrides=data.get("settings"),
                                         limit=data.get("limit"), kind=data["kind"])
        except (run_service.RunInputError, quotas.QuotaExceeded) as exc:
            return _input_error(exc)
        return Response(s.RunSerializer(run, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: s.RunSerializer, 409: OpenApiResponse(description="already finished")})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        run = self.get_object()
        if run.is_finished:
            return Response({"detail": f"run already {run.status}"}, status=status.HTTP_409_CONFLICT)
        run = run_service.request_cancel(run)
        audit.record(request.user, run, "cancel")
        return Response(s.RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.RunSerializer,
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
        return Response(s.RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=s.RunResultsSerializer)
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return Response(self.get_object().results())

    @extend_schema(responses=s.ImageResultSerializer(many=True),
                   parameters=[OpenApiParameter("ordering", str, description="iou, -iou, image_id, pixel_accuracy"),
                               OpenApiParameter("iou_min", float), OpenApiParameter("iou_max", float),
                               OpenApiParameter("page", int), OpenApiParameter("page_size", int)])
    @action(detail=True, methods=["get"], filter_backends=[])
    def images(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Per-image results, paginated; ``?ordering=iou`` or ``-iou`` sorts by IoU (NULLs last)."""
        run = self.get_object()
        qs = ImageResult.objects.filter(run=run).select_related("run")
        image_filter = filters.ImageResultFilter(request.query_params, queryset=qs)
        if not image_filter.is_valid():
            raise ValidationError(image_filter.errors)
        qs = image_filter.qs
        qs = filters.order_images(qs, request.query_params.get("ordering", "image_id"))
        page = self.paginate_queryset(qs)
        response = self.get_paginated_response(s.ImageResultSerializer(page, many=True).data)
        response.data.update(run_service.random_weights_fields(run.profile))
        return response

    @extend_schema(responses=s.RunProgressSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return Response(run_service.run_progress(self.get_object()))


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
