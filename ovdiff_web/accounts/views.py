"""Dashboard "Sharing" form on vocabulary, dataset and run pages: the owner (or staff) sets the visibility and the
users and groups the object is shared with, through the same service function as the API's ``share/``."""
from __future__ import annotations


from django.apps import apps
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ovdiff_web.accounts import access
from ovdiff_web.accounts import sharing
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.views import report_service_error, ui_login_required

# kind in the URL -> (model of the ``core`` app, its page). Named, not imported: the shareable objects live in the
# rooms above this one (docs/ARCHITECTURE.md).
KINDS: dict[str, tuple[str, str]] = {"vocabulary": ("Vocabulary", "ui:vocabulary_detail"),
                                     "dataset": ("Dataset", "ui:dataset_detail"), "run": ("Run", "ui:run_detail")}


@ui_login_required
@require_POST
def share(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """404 for an object the user cannot read, 403 (``ShareRefused``) for one they may not share."""
    if kind not in KINDS:
        raise Http404("unknown kind")
    model_name, detail = KINDS[kind]
    model = apps.get_model("core", model_name)
    obj = access.get_readable(model.objects.all(), request.user, pk=pk)
    try:
        after = sharing.share(request.user, obj, visibility=request.POST.get("visibility") or None,
                              usernames=sharing.parse_names(request.POST.get("users", "")),
                              groupnames=sharing.parse_names(request.POST.get("groups", "")))
    except ServiceError as exc:
        report_service_error(request, exc, "Sharing not changed: ", ".")
    else:
        who = ", ".join(after["users"] + [f"group {g}" for g in after["groups"]]) or "nobody"
        messages.success(request, f"Sharing saved: {after['visibility']}; shared with {who}.")
    return redirect(reverse(detail, args=[obj.pk]) + "#sharing-h")
