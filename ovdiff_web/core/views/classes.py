"""Class page: its support sets as a gallery (attribution and fg/bg masks as overlays), prototype counts per
extractor, and uploading your own support images."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ovdiff_web.core.forms import SupportUploadForm
from ovdiff_web.core.models import SupportImage, VocabularyClass
from ovdiff_web.core.services import ui_support
from ovdiff_web.core.services.paths import PathNotAllowed, media_path
from ovdiff_web.core.views.common import ui_login_required


@ui_login_required
@require_http_methods(["GET", "POST"])
def class_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cls = get_object_or_404(VocabularyClass.objects.select_related("vocabulary", "label_changed_by"), pk=pk)
    form = SupportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        from engine.errors import BadInputError

        try:
            n = ui_support.save_user_support_images(cls, form.cleaned_data["images"])
        except BadInputError as exc:
            form.add_error("images", str(exc))
        else:
            messages.success(request, f"{n} support image{'s' if n != 1 else ''} stored for “{cls.name}”; "
                                      "the next run builds its prototypes from them.")
            return redirect("ui:class_detail", pk=cls.pk)
    support_sets = list(ui_support.support_sets_for(cls))
    return render(request, "ovdiff/classes/detail.html",
                  {"cls": cls, "support_sets": support_sets, "form": form},
                  status=400 if form.errors else 200)


@ui_login_required
@require_GET
def support_layer(request: HttpRequest, image_pk: int, layer: str) -> HttpResponse:
    """Attribution heat map or fg/bg mask of one support image as a transparent PNG overlay."""
    if layer not in ui_support.SUPPORT_LAYERS:
        raise Http404("unknown layer")
    image = get_object_or_404(SupportImage, pk=image_pk)
    rel = getattr(image, layer)
    try:
        path = media_path(rel) if rel else None
    except PathNotAllowed:
        path = None
    if path is None or not path.is_file():
        raise Http404(f"no {layer} stored for this image")
    response = HttpResponse(ui_support.support_layer_png(path, layer), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
