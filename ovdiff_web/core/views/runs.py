"""Runs: the list with live progress and the queue form, one run's results, progress JSON, cancel."""
from __future__ import annotations

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ovdiff_web.core.forms import RunForm
from ovdiff_web.core.models import Run, RunStage
from ovdiff_web.core.services import run_images, run_report
from ovdiff_web.core.services.runs import RunInputError, create_run, request_cancel, run_progress
from ovdiff_web.core.views.common import choice, paginate, ui_login_required

GALLERY_PAGE = 24
GALLERY_SORTS = {"iou": (F("iou").asc(nulls_last=True), "image_id"),
                 "-iou": (F("iou").desc(nulls_last=True), "image_id"),
                 "name": ("image_id",)}


def _runs_queryset():
    stages = Prefetch("stages", queryset=RunStage.objects.order_by("order"))
    return Run.objects.select_related("dataset", "vocabulary", "created_by").prefetch_related(stages)


@ui_login_required
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest) -> HttpResponse:
    """All runs, newest first, with per-stage progress; POST queues a new evaluation."""
    form = RunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = create_run(user=request.user, dataset=data["dataset"], vocabulary=data["vocabulary"],
                             profile=data["profile"], overrides=data["overrides"], limit=data["limit"])
        except RunInputError as exc:
            field = "overrides" if str(exc).startswith("settings:") else None
            form.add_error(field, str(exc))
        else:
            messages.success(request, f"Run {run.pk} queued.")
            return redirect("ui:run_detail", pk=run.pk)
    status = request.GET.get("status", "")
    runs = _runs_queryset()
    if status in Run.Status.values:
        runs = runs.filter(status=status)
    page = paginate(request, runs, 25)
    return render(request, "ovdiff/runs/list.html",
                  {"form": form, "page": page, "status": status, "statuses": Run.Status.choices},
                  status=400 if form.errors else 200)


@ui_login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything about one run: progress, error, per-class IoU, confusion, gallery, settings, exports."""
    run = get_object_or_404(_runs_queryset(), pk=pk)
    csort = choice(request, "csort", ("iou", "-iou", "name", "index"), "iou")
    rows = run_report.per_class_rows(run)
    if csort in ("iou", "-iou"):
        present = [r for r in rows if r["iou"] is not None]
        absent = [r for r in rows if r["iou"] is None]
        rows = sorted(present, key=lambda r: r["iou"], reverse=csort == "-iou") + absent
    elif csort == "name":
        rows = sorted(rows, key=lambda r: r["name"].lower())
    gsort = choice(request, "gsort", tuple(GALLERY_SORTS), "iou")
    results = run.image_results.order_by(*GALLERY_SORTS[gsort])
    gallery = paginate(request, results, GALLERY_PAGE, "gpage")
    colours = run_images.palette_hex(len(run.class_names or []))
    legend = [{"index": i, "name": n, "colour": colours[i]} for i, n in enumerate(run.class_names or [])]
    context = {
        "run": run, "stages": list(run.stages.all()), "class_rows": rows, "csort": csort, "gsort": gsort,
        "gallery": gallery, "legend": legend, "settings_rows": sorted(run_report.flatten(run.settings or {}).items()),
        "changed_labels": run_report.changed_labels(run), "image_count": run.image_results.count(),
    }
    return render(request, "ovdiff/runs/detail.html", context)


@ui_login_required
@require_GET
def run_progress_json(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled by the progress bars: per-stage percent and ETA, and whether polling can stop."""
    run = get_object_or_404(Run, pk=pk)
    data = run_progress(run)
    for stage in data["stages"]:
        stage["eta"] = stage.get("eta_seconds")
    data.update(finished=run.is_finished, miou=run.miou)
    return JsonResponse(data, encoder=DjangoJSONEncoder)


@ui_login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run, pk=pk)
    if run.is_finished:
        messages.info(request, f"Run {run.pk} had already finished ({run.status}).")
    else:
        request_cancel(run)
        messages.success(request, f"Cancel requested for run {run.pk}.")
    if _safe_next(request):
        return redirect(request.POST["next"])
    return redirect("ui:run_detail", pk=run.pk)


def _safe_next(request: HttpRequest) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                            require_https=request.is_secure())


@ui_login_required
@require_GET
def confusion_cell(request: HttpRequest, pk: int, gt: int, pred: int) -> HttpResponse:
    """The images behind one confusion-matrix cell: ground truth ``gt`` predicted as ``pred``."""
    run = get_object_or_404(Run.objects.select_related("dataset"), pk=pk)
    names = run.class_names or []
    if gt >= len(names) or pred >= len(names):
        return render(request, "ovdiff/404.html", {"what": "confusion cell"}, status=404)
    found, scanned = run_images.images_in_cell(run, gt, pred)
    colours = run_images.palette_hex(len(names))
    legend = [{"index": i, "name": n, "colour": colours[i]} for i, n in enumerate(names)]
    return render(request, "ovdiff/runs/cell.html", {
        "run": run, "gt": gt, "pred": pred, "gt_name": names[gt], "pred_name": names[pred], "found": found,
        "scanned": scanned, "legend": legend,
        "cell_value": _cell(run.confusion, gt, pred)})


def _cell(confusion: list, gt: int, pred: int) -> int | None:
    try:
        return int(confusion[gt][pred])
    except (IndexError, TypeError, ValueError):
        return None

