"""Media files written by workers (support images, attribution maps, masks, predictions), for signed-in users.

This is the ONE route that serves MEDIA_ROOT (in DEBUG too): every file follows the object it belongs to
(``access.media_readable``). A file URL is not a page: anonymous users and users who may not read the object get
the same 404, never a login redirect that would reveal the file exists."""
from __future__ import annotations

import mimetypes
import posixpath

from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from ovdiff_web.core import access
from ovdiff_web.core.services.paths import PathNotAllowed, media_path, media_relative

SERVED_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif", "application/json"}


@require_GET
def media_file(request: HttpRequest, path: str) -> FileResponse:
    """A file under MEDIA_ROOT the user may read; anything else is 404. The check runs on the normalised path
    before anything is read (or fetched from object storage), and again on the file it resolves to."""
    relative = posixpath.normpath(path)
    if relative.startswith(("/", "..")) or not access.media_readable(request.user, relative):
        raise Http404("no such file")
    try:
        target = media_path(relative)
    except PathNotAllowed:
        raise Http404("no such file") from None
    content_type = mimetypes.guess_type(target.name)[0]
    if not target.is_file() or content_type not in SERVED_TYPES:
        raise Http404("no such file")
    if not access.media_readable(request.user, media_relative(target)):  # a link into another object's folder
        raise Http404("no such file")
    response = FileResponse(open(target, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
