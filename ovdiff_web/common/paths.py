"""Path confinement: every user-supplied path is resolved and must stay inside an allowed root."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from django.conf import settings
from ovdiff_web.common import media_store
from ovdiff_web.common.errors import ServiceError


class PathNotAllowed(ServiceError, ValueError):
    """A path escapes the roots it must stay in (``..``, symlinks, absolute elsewhere)."""

    code = "path_not_allowed"


def confine(path: str | os.PathLike[str], roots: Iterable[Path], field: str | None = None) -> Path:
    """Resolve ``path`` (following symlinks) and return it if it lies inside one of ``roots``; a refusal names
    ``field``, the request field that gave the path."""
    raw = str(path)
    if not raw or "\x00" in raw:
        raise PathNotAllowed(f"{raw!r}: not a usable path", field)
    resolved = Path(raw).expanduser().resolve()
    allowed = [Path(r).resolve() for r in roots]
    if not allowed:
        raise PathNotAllowed(f"{raw}: no server dataset roots are configured (set OVDIFF_DATASET_ROOTS)", field)
    for root in allowed:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise PathNotAllowed(f"{raw}: outside the allowed dataset roots ({', '.join(str(r) for r in allowed)})", field)


def media_path(relative: str) -> Path:
    """Absolute path of a MEDIA_ROOT-relative file, refusing anything that would escape MEDIA_ROOT.

    With media on object storage, a file only the bucket holds (a worker on another machine wrote it) is
    downloaded into this machine's MEDIA_ROOT first, so every reader keeps reading a local file."""
    path = confine(Path(settings.MEDIA_ROOT) / relative, [Path(settings.MEDIA_ROOT)])
    if settings.OVDIFF_MEDIA_URL and not path.exists():

        media_store.fetch(media_relative(path))
    return path


def media_relative(path: Path) -> str:
    """The MEDIA_ROOT-relative form stored in the database (POSIX separators)."""
    return Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()


def hide_server_paths(text: str, *roots: str | os.PathLike[str]) -> str:
    """A message fit for a user: paths under ``roots`` (a dataset folder) and the service's own folders
    (MEDIA_ROOT, the data dir) are shown relative, never as absolute server paths."""
    for root in [*roots, settings.MEDIA_ROOT, getattr(settings, "OVDIFF_DATA_DIR", "")]:
        if not root:
            continue
        for form in {str(root), str(Path(root).resolve())}:
            text = text.replace(form.rstrip("/") + "/", "").replace(form.rstrip("/"), "(dataset folder)")
    return text
