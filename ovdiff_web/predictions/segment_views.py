"""The old pages of the earlier one-image segment jobs (read-only ``LegacySegmentation`` records, migration 0013):
the mask and legend, and a clicked pixel's prototype and support-image region, for their owner only (404 for
anyone else). New work is a prediction job (``predictions.views``)."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from engine.profiles import random_weights_note

from ovdiff_web.common import images as overlay
from ovdiff_web.predictions import legacy
from ovdiff_web.predictions.segment_page import link_support_images
from ovdiff_web.common.views import ui_login_required
from ovdiff_web.common.paths import media_path


@ui_login_required
@require_GET
def segment_result(request: HttpRequest, token: str) -> HttpResponse:
    """The stored result; for a record that never produced one, why (a failed job, or one the upgrade ended)."""
    try:
        record = legacy.record(token, request.user)
        if record.status != record.Status.SUCCEEDED:
            return render(request, "ovdiff/predictions/segment_failed.html", {"job": record})
        result = legacy.stored_result(token)
    except LookupError:
        raise Http404("no such segmentation") from None
    names = result["class_names"]
    colours = overlay.palette_hex(len(names))
    legend = [{"index": i, "name": n, "colour": colours[i]} for i, n in enumerate(names)]
    note = random_weights_note(result["profile"])
    return render(request, "ovdiff/predictions/segment_result.html",
                  {"result": result, "legend": legend, "note": note})


@ui_login_required
@require_GET
def segment_overlay(request: HttpRequest, token: str) -> HttpResponse:
    from engine.images import load_label_png

    try:
        legacy.record(token, request.user)
        result = legacy.stored_result(token)
    except LookupError:
        raise Http404("no such segmentation") from None

    labels = load_label_png(media_path(result["labels"]))
    png = overlay.mask_rgba_png(labels, overlay.parse_hidden(request.GET.get("hide")))
    return HttpResponse(png, content_type="image/png")


@ui_login_required
@require_GET
def segment_explain(request: HttpRequest, token: str) -> JsonResponse:
    try:
        legacy.record(token, request.user)
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    try:
        x, y = int(request.GET.get("x", "")), int(request.GET.get("y", ""))
    except ValueError:
        return JsonResponse({"error": "x and y must be integers"}, status=400)
    try:
        data = legacy.explain_stored_pixel(token, x, y)
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    return JsonResponse(link_support_images(data, lambda rel: reverse("ui:media", args=[rel])))
