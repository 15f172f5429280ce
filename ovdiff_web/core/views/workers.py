"""Workers: who is online, their queues and what they run now; says so plainly when the broker is down."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ovdiff_web.core import access
from ovdiff_web.core.models import Run
from ovdiff_web.core.services.workers import worker_status
from ovdiff_web.core.views.common import ui_login_required


@ui_login_required
@require_GET
def workers(request: HttpRequest) -> HttpResponse:
    status = worker_status()
    active = Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
    active_runs = access.scope(active, request.user).select_related("dataset")[:50]
    return render(request, "ovdiff/workers.html", {"status": status, "active_runs": active_runs})
