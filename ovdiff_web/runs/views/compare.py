"""Compare runs side by side: mIoU, per-class IoU (with the support-set version each run used, so the effect of a
curation shows as before/after), and the settings that differ."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ovdiff_web.accounts import access
from ovdiff_web.runs.models import Run
from ovdiff_web.runs import compare as compare_service
from ovdiff_web.runs import kinds, report as run_report
from ovdiff_web.common.views import ui_login_required

MAX_COMPARED = 6


@ui_login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """``?runs=3&runs=5`` (or ``?runs=3,5``): shown oldest first whatever the order given; missing runs are
    reported, not an error page. ``&image=<id>`` shows that image side by side in the runs, with its ground truth
    and each run's per-image IoU."""
    raw = [part for value in request.GET.getlist("runs") for part in value.split(",")]
    ids = list(dict.fromkeys(int(v) for v in raw if v.strip().isdigit()))[:MAX_COMPARED]
    found = {r.pk: r for r in access.scope(Run.objects.filter(pk__in=ids), request.user).select_related("dataset", "vocabulary")}
    # chronological whatever the URL / picker order, so "change" is always newer - older
    runs = sorted(found.values(), key=lambda r: (r.created_at, r.pk))
    missing = [i for i in ids if i not in found]
    class_rows = compare_service.class_rows(runs)
    show_all = request.GET.get("all") == "1"
    diff = run_report.settings_diff(runs) if runs else []
    context = {
        "runs": runs, "missing": missing, "class_rows": class_rows, "mismatches": compare_service.mismatches(runs),
        "settings_rows": diff if show_all else [row for row in diff if row["differs"]],
        "n_same": sum(1 for row in diff if not row["differs"]), "show_all": show_all,
        "choices": access.scope(Run.objects.filter(status=Run.Status.SUCCEEDED, kind__in=kinds.scored_kinds()), request.user).select_related("dataset")[:100],
        "selected": ids,
    }
    table = compare_service.image_table(runs)
    image_id = request.GET.get("image", "")
    panels = compare_service.side_by_side(runs, table, image_id) if image_id else []
    context.update(image_ids=compare_service.in_all(runs, table), changes=compare_service.largest_changes(runs, table),
                   image=image_id, panels=panels, image_change=compare_service.panel_change(panels), image_missing=bool(image_id) and not panels,
                   same_dataset=bool(table) or (len(runs) > 1 and len({r.dataset_id for r in runs}) == 1))
    return render(request, "ovdiff/runs/compare.html", context)
