"""Nothing left behind: sweep what an interrupted request or a killed process leaves (staging folders, temp
uploads, rows stuck "ingesting"), and remove an object's files with it.

Runs at start (``manage.py ovdiff_cleanup`` before the web server, a worker's ``worker_ready``) and with every
watchdog pass (celery beat). Only things older than OVDIFF_STALE_AFTER_S are touched: never work in progress."""
from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterable

from django.conf import settings
from django.utils import timezone

from ovdiff_web.common import media_store
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.datasets import services as datasets


def _old(path: Path, cutoff: float) -> bool:
    try:
        return path.lstat().st_mtime < cutoff
    except OSError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def staging_entries() -> Iterable[Path]:
    """Temp upload files, zip staging folders and support-image staging folders."""
    media = Path(settings.MEDIA_ROOT)
    for folder in (media / "tmp", Path(settings.FILE_UPLOAD_TEMP_DIR)):
        if folder.is_dir():
            yield from folder.iterdir()
    support = media / "user_support"
    if support.is_dir():
        yield from support.glob("*/.upload-*")


def sweep(max_age_s: float | None = None) -> dict[str, int]:
    """Remove stale staging files; end datasets stuck ingesting."""

    age = settings.OVDIFF_STALE_AFTER_S if max_age_s is None else max_age_s
    cutoff = time.time() - age
    counts = {"files": 0, "datasets": 0}
    for entry in list(staging_entries()):
        if _old(entry, cutoff):
            _remove(entry)
            counts["files"] += 1
    stale = timezone.now() - timedelta(seconds=age)
    for dataset in Dataset.objects.filter(status__in=(Dataset.Status.INGESTING, Dataset.Status.PENDING),
                                          created_at__lt=stale):
        datasets.discard(dataset)  # its ingest died with its process: the row, the name and the files go
        counts["datasets"] += 1
    return counts


def remove_class_files(class_ids: Iterable[Any]) -> None:
    """A deleted class's own support images (``MEDIA_ROOT/user_support/<id>``)."""
    base = Path(settings.MEDIA_ROOT) / "user_support"
    for pk in class_ids:
        folder = base / str(int(pk))
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        media_store.remove(f"user_support/{int(pk)}")
