"""Runs: the list with live progress and the queue form, one run's results, progress JSON, cancel."""
from __future__ import annotations

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ovdiff_web.accounts import access, audit
from ovdiff_web.runs.forms import GalleryFilterForm, RunForm
from ovdiff_web.runs.models import Run, RunStage
from ovdiff_web.runs import images as run_images, kinds, lifecycle, report as run_report
from ovdiff_web.runs.legend import EXTRA_COLUMN_LABEL, missing_from_dataset, run_legend
from ovdiff_web.runs.reproduction import run_reproduction
from ovdiff_web.runs.services import create_run, request_cancel, resume_run, run_progress
from ovdiff_web.common.settings_catalog import known_settings
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.forms import add_service_error
from ovdiff_web.common.views import choice, paginate, report_service_error, ui_login_required
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils import timezone

GALLERY_PAGE = 24


def _runs_queryset(request: HttpRequest):
    stages = Prefetch("stages", queryset=RunStage.objects.order_by("order"))
    runs = Run.objects.select_related("dataset", "vocabulary", "created_by").prefetch_related(stages)
    return access.scope(runs, request.user)


@ui_login_required
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest) -> HttpResponse:
    """All runs, newest first, with per-stage progress; POST queues a new evaluation."""
    form = RunForm(request.POST or None, initial=_clone_initial(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = create_run(user=request.user, dataset=data["dataset"], vocabulary=data["vocabulary"],
                             profile=data["profile"], overrides=data["overrides"], limit=data["limit"])
        except ServiceError as exc:  # bad input, over quota
            add_service_error(form, exc, {"settings": "overrides"})
        else:
            if data["name"] or data["notes"]:
                lifecycle.set_run_label(run, name=data["name"], notes=data["notes"], user=request.user)
            messages.success(request, f"Run {run.pk} queued.")
            missing = missing_from_dataset(run) if data["vocabulary"] else []
            if missing:
                messages.warning(request, f"The dataset {data['dataset'].name!r} has no label for "
                                          f"{len(missing)} vocabulary class(es): {', '.join(missing)}. Their pixels "
                                          "count in the confusion matrix's \"no dataset label\" column.")
            return redirect("ui:run_detail", pk=run.pk)
    status = request.GET.get("status", "")
    runs = _runs_queryset(request)
    if status in Run.Status.values:
        runs = runs.filter(status=status)
    page = paginate(request, runs, 25)
    return render(request, "ovdiff/runs/list.html",
                  {"form": form, "page": page, "status": status, "statuses": Run.Status.choices,
                   "known_settings": known_settings()},
                  status=400 if form.errors else 200)


def _clone_initial(request: HttpRequest) -> dict[str, object] | None:
    """``?clone=<run>``: the queue form filled with that run's choices and its non-default settings, to edit."""
    raw = request.GET.get("clone", "")
    runs = access.scope(Run.objects.select_related("dataset", "vocabulary"), request.user)
    run = runs.filter(pk=int(raw)).first() if raw.isdigit() else None
    if run is None:
        return None
    return {"dataset": run.dataset_id, "vocabulary": run.vocabulary_id, "profile": run.profile, "limit": run.limit,
            "overrides": lifecycle.changed_settings(run), "name": f"clone of {run.name or f'run {run.pk}'}",
            "notes": run.notes}


@ui_login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything about one run: progress, error, per-class IoU, confusion, gallery, settings, exports."""
    run = access.get_readable(_runs_queryset(request), request.user, pk=pk)
    page = kinds.kind_of(run).page
    if page != "ui:run_detail":  # e.g. a prediction job: its own page (images, legend, exports)
        return redirect(page, pk=run.pk)
    csort = choice(request, "csort", ("iou", "-iou", "name", "index"), "iou")
    rows = run_report.per_class_rows(run)
    if csort in ("iou", "-iou"):
        present = [r for r in rows if r["iou"] is not None]
        absent = [r for r in rows if r["iou"] is None]
        rows = sorted(present, key=lambda r: r["iou"], reverse=csort == "-iou") + absent
    elif csort == "name":
        rows = sorted(rows, key=lambda r: r["name"].lower())
    filters = GalleryFilterForm(request.GET, list(run.class_names or []))
    query = filters.query()
    ids, unknown = run_images.gallery_ids(run, query)
    gallery = paginate(request, ids, GALLERY_PAGE, "gpage")
    gallery.object_list = run_images.results_in_order(list(gallery.object_list))
    legend = run_legend(run)
    context = {
        "run": run, "stages": list(run.stages.all()), "class_rows": rows, "csort": csort, "filters": filters,
        "query": query, "gt_unknown": unknown, "matching": len(ids),
        "backfill_batch": run_images.MAX_GT_BACKFILL,
        "gallery": gallery, "legend": legend, "settings_rows": sorted(run_report.flatten(run.settings or {}).items()),
        "changed_labels": run_report.changed_labels(run), "image_count": run.image_results.count(),
        "elapsed": _elapsed(run), "reproduction": run_reproduction(run),
        "mask_choices": run_report.mask_choice_rows(run, request.user),
    }
    return render(request, "ovdiff/runs/detail.html", context, status=400 if filters.errors else 200)


@ui_login_required
@require_GET
def run_progress_json(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled by the progress bars: per-stage percent and ETA, and whether polling can stop."""
    run = access.get_readable(Run.objects.all(), request.user, pk=pk)
    data = run_progress(run)
    for stage in data["stages"]:
        stage["eta"] = stage.get("eta_seconds")
    data.update(finished=run.is_finished, miou=run.miou, elapsed_seconds=_elapsed(run))
    return JsonResponse(data, encoder=DjangoJSONEncoder)


@ui_login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.get_editable(Run.objects.all(), request.user, pk=pk)
    if run.is_finished:
        messages.info(request, f"Run {run.pk} had already finished ({run.status}).")
    else:
        request_cancel(run)
        audit.record(request.user, run, "cancel")
        messages.success(request, f"Cancel requested for run {run.pk}.")
    if _safe_next(request):
        return redirect(request.POST["next"])
    return redirect("ui:run_detail", pk=run.pk)


@ui_login_required
@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a failed, stalled or cancelled run again; finished classes and shards are kept."""
    run = access.get_editable(Run.objects.all(), request.user, pk=pk)
    try:
        resume_run(run)
    except ServiceError as exc:
        report_service_error(request, exc)
    else:
        audit.record(request.user, run, "resume")
        messages.success(request, f"Run {run.pk} queued again.")
    return redirect("ui:run_detail", pk=run.pk)


def _safe_next(request: HttpRequest) -> bool:

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                            require_https=request.is_secure())


@ui_login_required
@require_GET
def confusion_cell(request: HttpRequest, pk: int, gt: int, pred: int) -> HttpResponse:
    """The images behind one confusion-matrix cell: ground truth ``gt`` predicted as ``pred``."""
    run = access.get_readable(Run.objects.select_related("dataset"), request.user, pk=pk)
    names = run.class_names or []
    if gt >= len(names) or pred > len(names):  # pred == len(names): the "no dataset label" column
        return render(request, "ovdiff/404.html", {"what": "confusion cell"}, status=404)
    found, scanned = run_images.images_in_cell(run, gt, pred)
    legend = run_legend(run)
    extras = [c["name"] for c in legend if not c["in_dataset"]]
    pred_name = names[pred] if pred < len(names) else EXTRA_COLUMN_LABEL
    return render(request, "ovdiff/runs/cell.html", {
        "run": run, "gt": gt, "pred": pred, "gt_name": names[gt], "pred_name": pred_name, "found": found,
        "scanned": scanned, "legend": legend, "extras": extras if pred == len(names) else [],
        "cell_value": _cell(run.confusion, gt, pred)})


def _elapsed(run: Run) -> float | None:
    """Seconds since the run started (or was queued), up to when it finished; None before it was queued."""

    start = run.started_at or run.created_at
    if start is None:
        return None
    return max(0.0, ((run.finished_at or timezone.now()) - start).total_seconds())


def _cell(confusion: list, gt: int, pred: int) -> int | None:
    try:
        return int(confusion[gt][pred])
    except (IndexError, TypeError, ValueError):
        return None

