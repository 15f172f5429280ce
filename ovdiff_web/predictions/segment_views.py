"""Results of the earlier single-image "segment an image" jobs (``SegmentJob``), kept readable: the mask and
legend, and a clicked pixel's prototype and support-image region. New work is a prediction job (views/predictions)."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from engine.profiles import random_weights_note

from ovdiff_web.common import images as overlay
from ovdiff_web.predictions import segment_jobs, segment_page
from ovdiff_web.common.views import ui_login_required
from ovdiff_web.common.paths import media_path


@ui_login_required
@require_GET
def segment_result(request: HttpRequest, token: str) -> HttpResponse:
    """The result when the worker is done; until then a page that reloads itself (and the reason if it failed)."""
    try:
        job = segment_jobs.get_job(token, request.user)
        if job.status != job.Status.SUCCEEDED:
            return render(request, "ovdiff/predictions/segment_pending.html", {"job": job})
        result = segment_page.segment_result(token)
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
        segment_jobs.check_owner(token, request.user)
        result = segment_page.segment_result(token)
    except LookupError:
        raise Http404("no such segmentation") from None

    labels = load_label_png(media_path(result["labels"]))
    png = overlay.mask_rgba_png(labels, overlay.parse_hidden(request.GET.get("hide")))
    return HttpResponse(png, content_type="image/png")


@ui_login_required
@require_GET
def segment_explain(request: HttpRequest, token: str) -> JsonResponse:
    try:
        segment_jobs.check_owner(token, request.user)
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    try:
        x, y = int(request.GET.get("x", "")), int(request.GET.get("y", ""))
    except ValueError:
        return JsonResponse({"error": "x and y must be integers"}, status=400)
    try:
        data = segment_page.explain_stored_pixel(token, x, y)
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    return JsonResponse(segment_page.link_support_images(data, lambda rel: reverse("ui:media", args=[rel])))
