"""A dataset's own images and ground truth (preview gallery, viewer), addressed by position in its image list."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ovdiff_web.common import images as overlay
from ovdiff_web.accounts import access
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.datasets.preview import image_and_labels
from ovdiff_web.common.views import ui_login_required

KINDS = ("image", "gt")


@ui_login_required
@require_GET
def dataset_image(request: HttpRequest, pk: int, index: int, kind: str) -> HttpResponse:
    """``image``: the image as PNG; ``gt``: its ground truth as a transparent overlay in the class palette."""
    dataset = access.get_readable(Dataset.objects.all(), request.user, pk=pk)
    ids = dataset.image_ids or []
    if kind not in KINDS or index >= len(ids):
        raise Http404("no such image")
    try:
        image, labels = image_and_labels(dataset, ids[index])
    except (LookupError, OSError, ValueError) as exc:
        raise Http404(str(exc)) from None
    data = overlay.png_bytes(image) if kind == "image" else overlay.mask_rgba_png(labels)
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
