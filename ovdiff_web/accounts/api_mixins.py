"""What every API viewset shares: access scoping (``ovdiff_web.accounts.access``), ``share/`` and ``history/``
actions, and the 400/409 answers for bad input and version conflicts."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ovdiff_web.accounts import access, audit
from ovdiff_web.accounts.serializers import AuditEntrySerializer, ShareSerializer
from ovdiff_web.accounts import sharing
from ovdiff_web.common.api.errors import service_error_response
from ovdiff_web.common.errors import InputError, ServiceError


def input_error(exc: Exception, default_field: str = "detail") -> Response:
    """The service error's answer (``ServiceError.body``) where a view names the field a refusal is about; an
    uncaught ``ServiceError`` gets the same answer from the API's exception handler. An engine refusal
    (``BadInputError``) is a 400 of the same shape."""
    if not isinstance(exc, ServiceError):
        exc = InputError(str(exc), getattr(exc, "field", None))
    return service_error_response(exc, default_field)


def conflict(current: int) -> Response:
    return Response({"detail": "version conflict: someone else changed this since you loaded it (now at version "
                               f"{current}); reload and retry", "current_version": current},
                    status=status.HTTP_409_CONFLICT)


def version_mismatch(request: Request, current: int) -> Response | None:
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
        return conflict(current)
    return None


class ScopedMixin:
    """Every viewset: rows narrowed to what the caller may read; writes need edit access (``access``)."""

    permission_classes = [access.ObjectAccess]

    def get_queryset(self) -> Any:
        return access.scope(super().get_queryset(), self.request.user)  # type: ignore[misc]


class ShareMixin:
    """``POST <id>/share/`` {visibility, users, groups}: only the owner (or staff) changes who may see or edit."""

    @extend_schema(request=ShareSerializer, responses={200: ShareSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:

        obj = self.get_object()
        body = ShareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            after = sharing.share(request.user, obj, visibility=data.get("visibility"),
                                  usernames=data.get("users"), groupnames=data.get("groups"))
        except sharing.ShareRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except sharing.ShareError as exc:
            return input_error(exc)
        return Response(after)


class HistoryMixin:
    """``GET <id>/history/``: the object's append-only audit entries, newest first (readers may see them)."""

    @extend_schema(responses=AuditEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        obj = self.get_object()
        entries = audit.AuditEntry.objects.filter(object_type=type(obj).__name__, object_id=str(obj.pk))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)
