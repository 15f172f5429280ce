"""Dashboard routes of the mask editor: the brush / eraser page of one support image (GET) and saving its mask
(POST, a multipart form with the PNG; JSON answer for the page's script), and the mask it starts from as a PNG.
Logic lives in ``service``; the page's script is ``static/ovdiff/js/mask_editor.js``."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from ovdiff_web.accounts import access
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.views import service_error_message, ui_login_required
from ovdiff_web.support import curation
from ovdiff_web.support.editor import service
from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.vocabularies.services import VersionConflict

MIN_DISPLAY = 480  # small support images are shown enlarged (whole-number zoom, pixels stay square)


def _image(cls: VocabularyClass, image_pk: int) -> object:
    image = service.class_image(cls, image_pk)
    if image is None:
        raise Http404("no such support image of this class")
    return image


@ui_login_required
@require_http_methods(["GET", "POST"])
def mask_editor(request: HttpRequest, pk: int, image_pk: int) -> HttpResponse:
    """The editor of one support image's foreground (only for those who may change the class)."""
    cls = access.get_editable(VocabularyClass.objects.select_related("vocabulary"), request.user, pk=pk)
    image = _image(cls, image_pk)
    if request.method == "POST":
        return _save(request, cls, image)
    try:
        height, width = service.natural_size(image)
    except ServiceError as exc:
        raise Http404(str(exc)) from None
    _, source = service.current_foreground(cls, image)
    zoom = max(1, min(8, MIN_DISPLAY // max(width, 1)))
    return render(request, "ovdiff/support/mask_editor.html", {
        "cls": cls, "image": image, "source": source, "width": width, "height": height,
        "display_width": width * zoom, "brush": max(1, min(width, height) // 16)})


def _answer(request: HttpRequest, cls: VocabularyClass, image: object, text: str, status: int,
            **extra: object) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"ok": status < 400, "message": text, "version": cls.version,
                             "support_version": cls.support_version, **extra}, status=status)
    (messages.success if status < 400 else messages.error)(request, text)
    if status < 400:
        return redirect(reverse("ui:class_detail", args=[cls.pk]) + "#review")
    return redirect("ui:mask_editor", pk=cls.pk, image_pk=image.pk)


def _save(request: HttpRequest, cls: VocabularyClass, image: object) -> HttpResponse:
    upload = request.FILES.get("mask")
    try:
        if upload is None:
            raise curation.CurationRefused("send the mask as a PNG file in the multipart field 'mask'", "mask")
        if upload.size > service.MAX_UPLOAD_BYTES:
            raise curation.CurationRefused(f"the mask is {upload.size} bytes; at most {service.MAX_UPLOAD_BYTES}",
                                           "mask")
        version = service.save_mask(cls, image.content_id, upload.read(), user=request.user,
                                    expected_version=curation.parse_version(request.POST.get("version")))
    except VersionConflict:
        cls.refresh_from_db()
        return _answer(request, cls, image, f"“{cls.name}” was changed by someone else since you opened the editor "
                       f"(now version {cls.version}): your mask was not saved. Reload to edit the current state.",
                       409)
    except ServiceError as exc:
        return _answer(request, cls, image, service_error_message(exc, "Not saved: "), exc.status)
    return _answer(request, cls, image, f"Saved: {version.summary} (support version {version.number}); "
                   "“Rebuild” on the class page builds the prototypes from it.", 200,
                   choice=version.masks.get(image.content_id, ""))


@ui_login_required
@require_GET
def current_mask(request: HttpRequest, pk: int, image_pk: int) -> HttpResponse:
    """The foreground the editor starts from, 0/255 at the image's natural size (the editor's own file: anonymous
    users go to the login page, 404 to anyone who may not read the class)."""
    cls = access.get_readable(VocabularyClass.objects.all(), request.user, pk=pk)
    image = _image(cls, image_pk)
    try:
        body = service.current_mask_png(cls, image)
    except ServiceError as exc:
        raise Http404(str(exc)) from None
    response = HttpResponse(body, content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response
