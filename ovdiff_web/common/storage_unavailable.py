"""Object storage down -> 503 naming the setting to check, like a broker outage (``queue.QueueUnavailable``).

``engine.storage.object_store.ObjectStoreUnavailable`` can rise from any request that publishes or fetches media (or reads
an artifact) when OVDIFF_MEDIA_URL / OVDIFF_STORE_URL point at a bucket that is down or refuses; the services have
already kept nothing half-stored. The API answers ``{"detail": ...}`` (``api.errors.api_exception_handler`` for
DRF views, this middleware for the rest), the dashboard a page with the message, never a 500."""
from __future__ import annotations

import logging
from typing import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from engine.storage.object_store import ObjectStoreUnavailable

log = logging.getLogger("ovdiff.storage")
STATUS = 503


def unavailable_response(request: HttpRequest, exc: ObjectStoreUnavailable) -> HttpResponse:
    """The 503 for ``exc``: JSON under /api/, the dashboard's page elsewhere."""
    log.warning("object storage unavailable on %s %s: %s", request.method, request.path, exc)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(exc)}, status=STATUS)
    return render(request, "ovdiff/common/storage_unavailable.html", {"message": str(exc)}, status=STATUS)


class ObjectStoreUnavailableMiddleware:
    """Answers ``ObjectStoreUnavailable`` raised by any view with ``unavailable_response``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ObjectStoreUnavailable):
            return unavailable_response(request, exception)
        return None
