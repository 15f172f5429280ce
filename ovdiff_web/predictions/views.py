"""The dashboard's "Segment" page: prediction jobs (``services/predictions.py``) -- upload one or many images,
pick a vocabulary or type classes, watch progress, browse results with overlay/opacity/legend, click a pixel for
its explanation, download the exports. Every view reads the job through ``access`` (others' jobs are 404)."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from ovdiff_web.common import images as overlay
from ovdiff_web.accounts import access, audit
from ovdiff_web.predictions.forms import PredictionForm
from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.predictions import exports as prediction_exports, results as prediction_results, services as predictions
from ovdiff_web.common.broker import workers
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.forms import add_service_error
from ovdiff_web.predictions.segment_page import link_support_images
from ovdiff_web.common.views import paginate, ui_login_required, with_min_area
from ovdiff_web.runs.liveness import last_worker_heartbeat
from ovdiff_web.runs.report import mask_choice_rows


def _gpu_notice(waiting: bool) -> str:
    """Jobs wait and no GPU worker answered a ping or sent a heartbeat lately (the heartbeat read only then)."""
    return workers.waiting_for_gpu_notice(waiting, last_worker_heartbeat() if waiting else None)


JOBS = Run.objects.filter(kind=Run.Kind.SEGMENTATION)


def _job(request: HttpRequest, pk: int) -> Run:
    return access.get_readable(JOBS.prefetch_related("stages"), request.user, pk=pk)


def _image(request: HttpRequest, run: Run) -> ImageResult:
    try:
        return prediction_results.image_result(run, request.GET.get("image", ""))
    except LookupError:
        raise Http404("no such image in this job") from None


@ui_login_required
@require_http_methods(["GET", "POST"])
def segment(request: HttpRequest) -> HttpResponse:
    """The list of the user's prediction jobs and the form that queues one."""
    form = PredictionForm(request.POST or None, request.FILES or None, user=request.user)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = predictions.create_prediction(
                user=request.user, files=data["images"], archive=data["archive"], vocabulary=data["vocabulary"],
                classes=data["classes"] if not data["vocabulary"] else [], stuff=data["stuff"],
                profile=data["profile"], overrides=data["overrides"])
        except ServiceError as exc:
            status = add_service_error(form, exc, {"files": "images", "folder": "images", "settings": "overrides"})
        else:
            audit.record(request.user, run, "create")
            messages.success(request, f"Prediction job {run.pk} queued ({len(run.image_ids)} images).")
            return redirect("ui:prediction", pk=run.pk)
    if form.errors and status == 200:
        status = 400
    jobs = predictions.predictions(request.user).select_related("vocabulary")
    page = paginate(request, jobs, 20)
    waiting = jobs.filter(status=Run.Status.QUEUED).exists()
    return render(request, "ovdiff/predictions/list.html",
                  {"form": form, "page": page, "gpu_notice": _gpu_notice(waiting)}, status=status)


@ui_login_required
@require_GET
def prediction(request: HttpRequest, pk: int) -> HttpResponse:
    """One job: progress while it runs, then its images (tiles) and downloads."""
    run = _job(request, pk)
    page = paginate(request, ImageResult.objects.filter(run=run).order_by("image_id"), 48)
    waiting = run.status == Run.Status.QUEUED
    return render(request, "ovdiff/predictions/detail.html", {
        "run": run, "page": page, "legend": prediction_results.legend(run),
        "gpu_notice": _gpu_notice(waiting), "mask_choices": mask_choice_rows(run, request.user)})


@ui_login_required
@require_GET
def prediction_image(request: HttpRequest, pk: int) -> HttpResponse:
    """One image: the overlay with opacity and legend toggles; click a pixel for its explanation."""
    run = _job(request, pk)
    row = _image(request, run)
    prefilter = bool(((run.settings or {}).get("segment") or {}).get("category_prefilter", True))
    return render(request, "ovdiff/predictions/image.html", {
        "run": run, "row": row, "legend": prediction_results.legend(run), "prefilter": prefilter,
        "kept": row.kept_classes if prefilter else [],  # with the pre-filter off nothing was "kept" by it
        "share": sorted(row.pixel_share.items(), key=lambda kv: -kv[1])})


@ui_login_required
@require_GET
def prediction_input(request: HttpRequest, pk: int) -> HttpResponse:
    """The input image (PNG), whatever its source (upload, server folder, dataset)."""
    run = _job(request, pk)
    row = _image(request, run)
    try:
        image = prediction_results.input_image(run, row.image_id)
    except (LookupError, OSError, ValueError):
        raise Http404("the input image is gone") from None
    return HttpResponse(overlay.png_bytes(image), content_type="image/png")


@ui_login_required
@require_GET
def prediction_overlay(request: HttpRequest, pk: int) -> HttpResponse:
    """The label map as a transparent overlay, hidden classes (``?hide=1,2``) left out."""
    run = _job(request, pk)
    row = _image(request, run)
    try:
        labels = prediction_results.labels(run, row.image_id)
    except LookupError:
        raise Http404("no label map stored for this image") from None
    png = overlay.mask_rgba_png(labels, overlay.parse_hidden(request.GET.get("hide")))
    return HttpResponse(png, content_type="image/png")


@ui_login_required
@require_GET
def prediction_explain(request: HttpRequest, pk: int) -> JsonResponse:
    run = _job(request, pk)
    row = _image(request, run)
    try:
        x, y = int(request.GET.get("x", "")), int(request.GET.get("y", ""))
    except ValueError:
        return JsonResponse({"error": "x and y must be integers"}, status=400)
    try:
        data = prediction_results.explain(run, row.image_id, x, y)
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(link_support_images(data, lambda rel: reverse("ui:media", args=[rel])))


@ui_login_required
@require_GET
def prediction_labels_zip(request: HttpRequest, pk: int) -> HttpResponse:
    run = _job(request, pk)
    response = HttpResponse(prediction_results.labels_zip(run), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="prediction-{run.pk}-labels.zip"'
    return response


@ui_login_required
@require_GET
@with_min_area
def prediction_coco(request: HttpRequest, pk: int, area: int) -> HttpResponse:
    """COCO RLE: one annotation per class present in an image (regions under ``?min_area=`` pixels, default 16,
    left out)."""
    run = _job(request, pk)
    response = JsonResponse(prediction_results.coco_document(run, area))
    response["Content-Disposition"] = f'attachment; filename="prediction-{run.pk}-coco.json"'
    return response


@ui_login_required
@require_GET
@with_min_area
def prediction_coco_polygons(request: HttpRequest, pk: int, area: int) -> HttpResponse:
    """COCO polygons: one polygon annotation per region (``?min_area=`` pixels, default 16)."""
    run = _job(request, pk)
    response = JsonResponse(prediction_exports.coco_polygons_document(run, area))
    response["Content-Disposition"] = f'attachment; filename="prediction-{run.pk}-coco-polygons.json"'
    return response


@ui_login_required
@require_GET
@with_min_area
def prediction_yolo_zip(request: HttpRequest, pk: int, area: int) -> HttpResponse:
    """YOLO segmentation labels (labels/<image>.txt and data.yaml) in one zip."""
    run = _job(request, pk)
    response = HttpResponse(prediction_exports.yolo_zip(run, area), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="prediction-{run.pk}-yolo.zip"'
    return response
