"""Reviewing support sets on the dashboard: one edit on a class (exclude, include, choose a mask, add a seed, go
back to a version, rebuild), the vocabulary-wide review page (suspicious images first, keyboard driven), and the
proposed instance masks as overlays. Logic lives in ``services/curation.py``."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ovdiff_web.accounts import access
from ovdiff_web.support.models import SupportImage
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass
from ovdiff_web.support import curation, images as support_images
from ovdiff_web.common.paths import PathNotAllowed, media_path
from ovdiff_web.vocabularies.services import VersionConflict
from ovdiff_web.support.class_views import remember_job
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.views import service_error_message, ui_login_required

MAX_REVIEW_ITEMS = 400  # images per page of the vocabulary review (flagged images come first)


def _answer(request: HttpRequest, cls: VocabularyClass, text: str, status: int) -> HttpResponse:
    """JSON for the review page's keyboard requests, else a message and back to where the form was."""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"ok": status < 400, "message": text, "version": cls.version,
                             "support_version": cls.support_version}, status=status)
    (messages.success if status < 400 else messages.error)(request, text)
    if request.POST.get("back") == "review":
        return redirect(reverse("ui:vocabulary_review", args=[cls.vocabulary_id]))
    return redirect(reverse("ui:class_detail", args=[cls.pk]) + "#review")


@ui_login_required
@require_POST
def class_curate(request: HttpRequest, pk: int) -> HttpResponse:
    """One curation edit of a class (``action`` + its fields; ``version`` = the class version the page showed)."""
    cls = access.get_editable(VocabularyClass.objects.select_related("vocabulary"), request.user, pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "rebuild":
            task_id = curation.queue_rebuild(cls, request.user)
            remember_job(request, cls, task_id, None, curation.rebuild_profile(cls))
            return _answer(request, cls, f"Rebuild of “{cls.name}” (version {cls.support_version}) queued.", 202
                           if "application/json" in request.headers.get("Accept", "") else 200)
        text = curation.apply(cls, action, request.POST, user=request.user,
                              expected_version=curation.parse_version(request.POST.get("version")))
    except VersionConflict:  # told apart: the page reloads the class's current state
        cls.refresh_from_db()
        return _answer(request, cls, f"“{cls.name}” was changed by someone else meanwhile; nothing was lost, "
                                     "here is its current state.", 409)
    except ServiceError as exc:  # refused (400), over quota (429), queue down (503)
        return _answer(request, cls, service_error_message(exc, f"{cls.name}: "), exc.status)
    return _answer(request, cls, f"“{cls.name}”: {text} (version {cls.support_version}).", 200)


@ui_login_required
@require_GET
def vocabulary_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Every support image of the vocabulary, suspicious ones first, reviewable with the keyboard."""
    vocab = access.get_readable(Vocabulary.objects.all(), request.user, pk=pk)
    items = curation.suspicious(vocab)
    flagged = sum(1 for item in items if item["flags"])
    shown = {item["cls"].pk for item in items}
    unbuilt = [c for c in vocab.classes.all() if c.pk not in shown]
    pages = max(1, -(-len(items) // MAX_REVIEW_ITEMS))
    raw = request.GET.get("page", "1")
    page = min(max(int(raw), 1), pages) if raw.isascii() and raw.isdigit() else 1
    start = (page - 1) * MAX_REVIEW_ITEMS
    return render(request, "ovdiff/vocabularies/review.html", {
        "vocab": vocab, "items": items[start:start + MAX_REVIEW_ITEMS], "n_items": len(items), "n_flagged": flagged,
        "can_edit": access.can_edit(request.user, vocab), "limit": MAX_REVIEW_ITEMS, "unbuilt": unbuilt,
        "page": page, "pages": pages, "first_index": start + 1})


@require_GET
def support_instance(request: HttpRequest, image_pk: int, index: int) -> HttpResponse:
    """Proposed instance mask ``index`` of one support image as a transparent overlay; 404 to anyone who may not
    read its support set, anonymous users included."""
    image = access.get_readable(SupportImage.objects.all(), request.user, pk=image_pk)
    instances = image.instances or []
    if index >= len(instances):
        raise Http404("no such proposed mask")
    try:
        path = media_path(instances[index])
    except PathNotAllowed:
        path = None
    if path is None or not path.is_file():
        raise Http404("mask file missing")
    response = HttpResponse(support_images.support_layer_png(path, "instance"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
