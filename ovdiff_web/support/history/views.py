"""History pages: ``/vocabularies/<pk>/history/`` and ``/classes/<pk>/history/`` (readers of the vocabulary may
see them; anyone else gets a 404, anonymous users the login page)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ovdiff_web.accounts import access
from ovdiff_web.common.views import paginate, ui_login_required
from ovdiff_web.support.history import timeline
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass

PER_PAGE = 50


@ui_login_required
@require_GET
def vocabulary_history(request: HttpRequest, pk: int) -> HttpResponse:
    vocab = access.get_readable(Vocabulary.objects.all(), request.user, pk=pk)
    page = paginate(request, timeline.vocabulary_rows(vocab, request.user), PER_PAGE)
    return render(request, "ovdiff/support/history.html",
                  {"vocab": vocab, "cls": None, "page": page, "show_about": True})


@ui_login_required
@require_GET
def class_history(request: HttpRequest, pk: int) -> HttpResponse:
    cls = access.get_readable(VocabularyClass.objects.select_related("vocabulary"), request.user, pk=pk)
    page = paginate(request, timeline.class_rows(cls, request.user), PER_PAGE)
    return render(request, "ovdiff/support/history.html",
                  {"vocab": cls.vocabulary, "cls": cls, "page": page, "show_about": False})
