"""JSON error pages for /api/: a URL that matches no route answers in the API's media type, not HTML."""
from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework.response import Response
from rest_framework.views import exception_handler

from engine.storage.object_store import ObjectStoreUnavailable
from ovdiff_web.common.errors import ServiceError


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django refuses before any view (e.g. more form fields than DATA_UPLOAD_MAX_NUMBER_FIELDS)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request: the request body could not be read (too many fields, or too "
                                       "large)."}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


def service_error_response(exc: ServiceError, default_field: str = "detail") -> Response:
    """The one mapping of a service error to an API answer: its status, ``detail``, ``code`` and the field."""
    return Response(exc.body(default_field), status=exc.status)


def api_exception_handler(exc: Exception, context: dict) -> HttpResponse | None:
    """DRF's handler, with one body shape for every error: a bare list of messages (a ValidationError raised
    with a list, e.g. by a query filter) becomes ``{"detail": "..."}`` as the schema documents; object storage
    down becomes a 503 (``storage_unavailable``); a service's refusal (``ServiceError``) its status and body;
    a row another request deleted while this one ran (``ObjectDoesNotExist`` past the view's own lookup) a 404."""
    if isinstance(exc, ServiceError):
        return service_error_response(exc)
    if isinstance(exc, ObjectDoesNotExist):
        return Response({"detail": "Not found: it was deleted while this request ran."}, status=404)
    if isinstance(exc, ObjectStoreUnavailable):
        return Response({"detail": str(exc)}, status=503)

    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": " ".join(str(item) for item in response.data)}
    return response
