"""Media files written by workers (support images, attribution maps, masks, predictions), for signed-in users."""
from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from ovdiff_web.core import access
from ovdiff_web.core.services.paths import PathNotAllowed, media_path
from ovdiff_web.core.views.common import ui_login_required

SERVED_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif", "application/json"}


@ui_login_required
@require_GET
def media_file(request: HttpRequest, path: str) -> FileResponse:
    """A file under MEDIA_ROOT the user may read (``access.media_readable``); anything else is 404."""
    if not access.media_readable(request.user, path):
        raise Http404("no such file")
    try:
        target = media_path(path)
    except PathNotAllowed:
        raise Http404("no such file") from None
    content_type = mimetypes.guess_type(target.name)[0]
    if not target.is_file() or content_type not in SERVED_TYPES:
        raise Http404("no such file")
    response = FileResponse(open(target, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
