"""Files of a run: dataset image, prediction / ground-truth overlays as transparent PNGs, and exports."""
from __future__ import annotations

import json

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ovdiff_web.common import images as overlay
from ovdiff_web.accounts import access
from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.runs import pixel_layers, images as run_images, report as run_report
from ovdiff_web.common.views import ui_login_required, with_min_area

OVERLAY_KINDS = ("pred", "gt", "cell", "error")


def _result(request: HttpRequest, run_pk: int, result_pk: int) -> ImageResult:
    return access.get_readable(ImageResult.objects.select_related("run__dataset"), request.user, pk=result_pk,
                               run_id=run_pk)


def _png(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response


@ui_login_required
@require_GET
def run_image(request: HttpRequest, pk: int, result_pk: int) -> HttpResponse:
    """The dataset image behind one result, re-encoded as PNG (any source format, bounded size)."""
    result = _result(request, pk, result_pk)
    try:
        image = run_images.load_dataset_image(result.run, result.image_id)
    except (LookupError, OSError, ValueError) as exc:
        raise Http404(str(exc)) from None
    return _png(overlay.png_bytes(image))


@ui_login_required
@require_GET
def run_overlay(request: HttpRequest, pk: int, result_pk: int, kind: str) -> HttpResponse:
    """Prediction or ground truth in the label palette; ``?hide=1,3`` makes those classes transparent."""
    if kind not in OVERLAY_KINDS:
        raise Http404("unknown overlay")
    result = _result(request, pk, result_pk)
    try:
        if kind == "cell":  # ?gt=&pred=: the pixels behind one confusion cell, highlighted
            gt, pred = int(request.GET.get("gt", "")), int(request.GET.get("pred", ""))
            return _png(pixel_layers.cell_mask_png(result, gt, pred))
        if kind == "error":
            return _png(pixel_layers.error_mask_png(result))
        labels = run_images.load_prediction(result, shown=True) if kind == "pred" else \
            run_images.load_ground_truth(result.run, result.image_id)
    except (LookupError, OSError, ValueError) as exc:
        raise Http404(str(exc)) from None
    return _png(overlay.mask_rgba_png(labels, overlay.parse_hidden(request.GET.get("hide"))))


@ui_login_required
@require_GET
def export_metrics(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """metrics.json (everything, incl. settings and per-image IoU) or metrics.csv (per class and per image)."""
    run = access.get_readable(Run.objects.select_related("dataset", "vocabulary"), request.user, pk=pk)
    if fmt == "json":
        body = json.dumps(run_report.metrics_payload(run), indent=2, default=str)
        response = HttpResponse(body, content_type="application/json")
    elif fmt == "csv":
        response = HttpResponse(run_report.metrics_csv(run), content_type="text/csv; charset=utf-8")
    else:
        raise Http404("unknown export format")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-metrics.{fmt}"'
    return response


@ui_login_required
@require_GET
def export_predictions(request: HttpRequest, pk: int) -> FileResponse:
    """Palette PNG predictions of every image plus metrics.json, as one zip."""
    run = access.get_readable(Run.objects.select_related("dataset", "vocabulary"), request.user, pk=pk)
    path = run_report.predictions_zip(run)
    handle = open(path, "rb")
    path.unlink()  # the open handle keeps the data readable; nothing is left behind on disk (POSIX)
    return FileResponse(handle, as_attachment=True, filename=f"run-{run.pk}-predictions.zip",
                        content_type="application/zip")


@ui_login_required
@require_GET
@with_min_area
def export_polygons(request: HttpRequest, pk: int, fmt: str, area: int) -> HttpResponse:
    """The predictions as COCO polygons (``coco-polygons.json``) or YOLO segmentation labels (``yolo.zip``);
    ``?min_area=`` pixels (default 16)."""
    run = access.get_readable(Run.objects.select_related("dataset"), request.user, pk=pk)
    if fmt not in ("coco-polygons.json", "yolo.zip"):
        raise Http404("unknown export format")
    if fmt == "yolo.zip":
        response = HttpResponse(run_report.yolo_zip(run, area), content_type="application/zip")
    else:
        response = HttpResponse(json.dumps(run_report.coco_polygons(run, area)), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-{fmt}"'
    return response
