"""Workers: queue lengths, tasks running now (busy workers included), recent failures, and the last answer of the
workers with its age. Answers from Redis only (no waiting on workers); says so plainly when the broker is down."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ovdiff_web.accounts import access
from ovdiff_web.runs.models import Run
from ovdiff_web.ops.task_monitor import snapshot
from ovdiff_web.common.views import ui_login_required


@ui_login_required
@require_GET
def workers(request: HttpRequest) -> HttpResponse:
    status = snapshot()
    active = Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
    active_runs = access.scope(active, request.user).select_related("dataset")[:50]
    queues = ",".join(q["name"] for q in status["queues"])
    return render(request, "ovdiff/ops/workers.html", {"status": status, "active_runs": active_runs, "queues": queues})
