"""Media files written by workers (support images, attribution maps, masks, predictions), for signed-in users.

This is the ONE route that serves MEDIA_ROOT (in DEBUG too): every file follows the object it belongs to
(``media_readable``). A file URL is not a page: anonymous users and users who may not read the object get
the same 404, never a login redirect that would reveal the file exists."""
from __future__ import annotations

import mimetypes
import posixpath
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from ovdiff_web.accounts import access
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.predictions import legacy
from ovdiff_web.runs.models import Run
from ovdiff_web.support.models import SupportSet
from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.common.paths import PathNotAllowed, media_path, media_relative


def media_readable(user: Any, relative: str) -> bool:
    """Whether ``user`` may fetch a MEDIA_ROOT file: it follows the object the file belongs to (run outputs,
    own support images, segmentations, uploaded datasets, a support set's PNGs under ``support/<xx>/<key>/``);
    a file no object claims is nobody's (staff only)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if access.is_staff(user):
        return True
    parts = Path(relative).parts
    if len(parts) < 2:
        return False
    head, key = parts[0], parts[1]
    if head == "support":
        return len(parts) > 3 and access.scope(SupportSet.objects.filter(key=parts[2]), user).exists()
    if head == "runs" and key.isdigit():
        return access.scope(Run.objects.filter(pk=int(key)), user).exists()
    if head == "user_support" and key.isdigit():
        return access.scope(VocabularyClass.objects.filter(pk=int(key)), user).exists()
    if head == "segment":
        return legacy.owner_id(key) == user.pk
    if head == "datasets":
        folder = str(Path(settings.MEDIA_ROOT) / "datasets" / key)
        owned = Dataset.objects.filter(Q(root=folder) | Q(root__startswith=folder + "/"))
        return access.scope(owned, user).exists()
    return False


SERVED_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif", "application/json"}


@require_GET
def media_file(request: HttpRequest, path: str) -> FileResponse:
    """A file under MEDIA_ROOT the user may read; anything else is 404. The check runs on the normalised path
    before anything is read (or fetched from object storage), and again on the file it resolves to."""
    relative = posixpath.normpath(path)
    if relative.startswith(("/", "..")) or not media_readable(request.user, relative):
        raise Http404("no such file")
    try:
        target = media_path(relative)
    except PathNotAllowed:
        raise Http404("no such file") from None
    content_type = mimetypes.guess_type(target.name)[0]
    if not target.is_file() or content_type not in SERVED_TYPES:
        raise Http404("no such file")
    if not media_readable(request.user, media_relative(target)):  # a link into another object's folder
        raise Http404("no such file")
    response = FileResponse(open(target, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
