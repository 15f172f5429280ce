"""Dashboard pages of a user's Label Studio connections: the list, and one connection (its vocabulary, its dataset
of corrected images, the annotations received, the evaluation runs on that dataset) with "compare before/after":
the last evaluation run on the connection's dataset created before the newest correction arrived, against the
newest one created after it, on the compare page (per-class IoU of both, the support-set versions each used).
Connections are their owner's alone (staff see all): anyone else gets 404."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from ovdiff_web.common.views import ui_login_required
from ovdiff_web.integrations import core_bridge as core
from ovdiff_web.integrations.models import LabelStudioAnnotation, LabelStudioConnection


@dataclass
class BeforeAfter:
    """The two runs to compare, or why there are not two yet (``missing``)."""

    imported_at: datetime | None
    before: Any
    after: Any
    missing: str

    @property
    def compare_url(self) -> str:
        if self.before is None or self.after is None:
            return ""
        return f"{reverse('ui:compare')}?runs={self.before.pk},{self.after.pk}"


def connections_of(user: Any) -> Any:
    rows = LabelStudioConnection.objects.select_related("vocabulary", "dataset", "owner")
    return rows if core.access.is_staff(user) else rows.filter(owner=user)


def evaluation_runs(connection: LabelStudioConnection, user: Any) -> Any:
    """Succeeded evaluation runs on the connection's dataset that ``user`` may read, newest first."""
    if connection.dataset_id is None:
        return core.Run.objects.none()
    runs = core.Run.objects.filter(dataset_id=connection.dataset_id, kind=core.Run.Kind.EVALUATION,
                                   status=core.Run.Status.SUCCEEDED)
    return core.access.scope(runs, user).order_by("-created_at", "-id")


def before_after(connection: LabelStudioConnection, user: Any) -> BeforeAfter:
    """The last run before the newest correction and the newest run after it (see the module docstring)."""
    newest = LabelStudioAnnotation.objects.filter(connection=connection).order_by("-received_at", "-id").first()
    if newest is None:
        return BeforeAfter(None, None, None, "no correction received from Label Studio yet")
    runs = evaluation_runs(connection, user)
    before = runs.filter(created_at__lt=newest.received_at).first()
    after = runs.filter(created_at__gte=newest.received_at).first()
    missing = ""
    if before is None:
        missing = ("no evaluation run on the connection's dataset finished from before the newest correction "
                   f"({newest.received_at:%Y-%m-%d %H:%M}); evaluate the dataset before importing the next ones")
    elif after is None:
        missing = ("no evaluation run on the connection's dataset since the newest correction "
                   f"({newest.received_at:%Y-%m-%d %H:%M}): re-run run {before.pk} to see the change")
    return BeforeAfter(newest.received_at, before, after, missing)


@ui_login_required
@require_GET
def connection_list(request: HttpRequest) -> HttpResponse:
    return render(request, "ovdiff/integrations/connections.html", {"connections": connections_of(request.user)})


@ui_login_required
@require_GET
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = connections_of(request.user).filter(pk=pk).first()
    if connection is None:
        raise Http404("no such Label Studio connection")
    ml_backend_url = request.build_absolute_uri(reverse("ls-health", args=[connection.pk]).removesuffix("health"))
    return render(request, "ovdiff/integrations/connection.html", {
        "connection": connection, "ml_backend_url": ml_backend_url,
        "annotations": LabelStudioAnnotation.objects.filter(connection=connection).order_by("-received_at")[:50],
        "n_annotations": LabelStudioAnnotation.objects.filter(connection=connection).count(),
        "runs": evaluation_runs(connection, request.user)[:20], "before_after": before_after(connection, request.user),
    })
