"""Dataset registration and ingestion: open with the engine reader, check every sample, keep the good ones.

A bad file (unreadable image, mask missing or of another size) is reported in ``ingest_errors`` and left
out of ``image_ids``; the rest of the dataset stays usable.
"""
from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction

from ovdiff_web.datasets.models import Dataset
from ovdiff_web.common import engine_bridge, media_store
from ovdiff_web.common.paths import confine
from ovdiff_web.common.uploads import extract_zip
from engine.errors import BadInputError
from django.db import IntegrityError
from ovdiff_web.common.broker import queue
import shutil
from ovdiff_web.common.errors import ServiceError

MAX_REPORTED_ERRORS = 500


def ingest(dataset: Dataset) -> Dataset:
    """Read the dataset with the engine, validate each sample, and store classes, ids and per-file errors.

    Never leaves the row "ingesting": any unexpected error fails the dataset with its message."""
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.INGESTING)
    try:
        return _ingest(dataset)
    except Exception as exc:  # a reader bug or an odd file must not leave a row stuck (and a 500)
        return _finish(dataset, status=Dataset.Status.FAILED,
                       errors=[{"item": dataset.root, "error": f"unreadable dataset ({type(exc).__name__}: {exc})"}])


def _ingest(dataset: Dataset) -> Dataset:

    local_root = engine_bridge.dataset_root(dataset)  # a big upload is ingested on a worker, maybe elsewhere
    try:
        seg = engine_bridge.open_dataset(dataset.format, local_root, dataset.split, dataset.protocol,
                                         check_files=False)
    except BadInputError as exc:
        return _finish(dataset, status=Dataset.Status.FAILED, errors=[{"item": exc.item or dataset.root,
                                                                          "error": exc.detail}])
    good: list[str] = []
    errors: list[dict[str, str]] = []
    root = Path(local_root).resolve()
    for sample in seg.samples:
        outside = [p for p in (sample.image_path, sample.label_path) if not Path(p).resolve().is_relative_to(root)]
        if outside:  # a symlink inside the root that points elsewhere on the server: never read
            errors.append({"item": str(outside[0]), "sample": sample.id,
                           "error": "a symbolic link that leaves the dataset folder; refused"})
            continue
        try:
            seg.load(sample)
        except BadInputError as exc:
            errors.append({"item": exc.item or sample.id, "sample": sample.id, "error": exc.detail})
        except OSError as exc:
            errors.append({"item": str(sample.image_path), "sample": sample.id, "error": str(exc)})
        else:
            good.append(sample.id)
    dataset.class_names = list(seg.class_names)
    dataset.prompts = list(seg.prompts)
    dataset.has_background = bool(seg.has_background)
    dataset.protocol = seg.protocol or dataset.protocol or ""
    dataset.image_ids = good
    dataset.image_count = len(good)
    status = Dataset.Status.READY if good else Dataset.Status.FAILED
    if not good:
        errors.append({"item": dataset.root, "error": "no usable image/mask pair"})
    return _finish(dataset, status=status, errors=errors)


def _finish(dataset: Dataset, *, status: str, errors: list[dict[str, str]]) -> Dataset:
    dataset.status = status
    dataset.ingest_errors = errors[:MAX_REPORTED_ERRORS]
    dataset.save()
    return dataset


def register_server_path(*, name: str, fmt: str, path: str, split: str, protocol: str, user: Any) -> Dataset:
    """Register a dataset already on the server; the path must lie inside OVDIFF_DATASET_ROOTS."""
    root = confine(path, settings.OVDIFF_DATASET_ROOTS, field="path")
    return _create_row(name=name, format=fmt, source=Dataset.Source.SERVER, root=str(root), split=split,
                       protocol=protocol, created_by=_user(user))


def create_from_upload(*, name: str, fmt: str, upload: IO[bytes], split: str, protocol: str, user: Any) -> Dataset:
    """Extract a zip safely under MEDIA_ROOT/datasets and create the row (ingestion follows); with media on object
    storage the folder is published first, so a worker on any machine can ingest or segment it."""
    root = extract_zip(upload, Path(settings.MEDIA_ROOT) / "datasets")
    try:
        media_store.publish(media_store.upload_folder(root))
        return _create_row(name=name, format=fmt, source=Dataset.Source.UPLOAD, root=str(root), split=split,
                           protocol=protocol, created_by=_user(user))
    except BaseException:  # a parallel upload took the name meanwhile (or the bucket failed): keep nothing of this one
        _remove_upload_folder(root)
        raise


class NameTaken(ServiceError, ValueError):
    """Another dataset has this name (two uploads raced; the database's unique constraint decided)."""

    code = "name_taken"
    field = "name"


def _create_row(**fields: Any) -> Dataset:

    try:
        with transaction.atomic():
            return Dataset.objects.create(**fields)
    except IntegrityError:
        raise NameTaken(f"a dataset named {fields['name']!r} already exists") from None


class DatasetRefused(ServiceError, ValueError):
    """Nothing in the dataset is usable: its row and files are already deleted; ``errors`` says why."""

    code = "dataset_refused"

    def __init__(self, errors: list[dict[str, str]], root: str = "") -> None:
        summary = "; ".join(f"{e.get('item', '')}: {e.get('error', '')}" for e in errors[:5])
        super().__init__(f"no usable image/mask pair in the dataset ({summary})")
        self.errors = errors
        self.root = root


def create_dataset(*, name: str, fmt: str, split: str, protocol: str, user: Any, upload: IO[bytes] | None = None,
                   path: str | None = None) -> Dataset:
    """Create a dataset from a zip ``upload`` or a server ``path`` and ingest it (now, or on a worker when big).

    The API and the dashboard both call this. Raises ``ZipRejected`` / ``PathNotAllowed`` for refused input and
    ``DatasetRefused`` (nothing kept) when no sample is usable."""
    common = {"name": name, "fmt": fmt, "split": split, "protocol": protocol, "user": user}
    if upload is not None:
        dataset = create_from_upload(upload=upload, **common)
    else:
        dataset = register_server_path(path=path or "", **common)
    dataset = ingest_now_or_later(dataset)
    if dataset.status == Dataset.Status.FAILED:
        errors = list(dataset.ingest_errors)
        discard(dataset)
        raise DatasetRefused(errors, dataset.root)
    return dataset


def relative_errors(errors: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    """Ingest errors with the dataset's server folder cut off (server paths are for staff only)."""
    prefix = root.rstrip("/") + "/"
    return [{k: str(v).replace(prefix, "").replace(root, ".") if isinstance(v, str) else v for k, v in e.items()}
            for e in errors]


def ingest_now_or_later(dataset: Dataset) -> Dataset:
    """Small datasets are ingested in the request (errors come back at once); big ones on the cpu queue."""
    root = Path(dataset.root)
    n_files = sum(1 for _ in root.rglob("*")) if root.is_dir() else 0
    if n_files <= settings.OVDIFF_INGEST_SYNC_MAX_FILES:
        return ingest(dataset)
    if not probe(dataset):  # a big archive of junk (e.g. 10,000 tiny non-images) is refused at once
        return dataset

    transaction.on_commit(lambda: queue.enqueue(queue.INGEST_DATASET, (dataset.pk,), "cpu"))
    return dataset


PROBE_SAMPLES = 20


def probe(dataset: Dataset, n: int = PROBE_SAMPLES) -> bool:
    """Read the first ``n`` samples in the request; if none is usable the dataset is marked failed (False)."""

    errors: list[dict[str, str]] = []
    try:
        seg = engine_bridge.open_dataset(dataset.format, dataset.root, dataset.split, dataset.protocol,
                                         check_files=False)
        for sample in seg.samples[:n]:
            try:
                seg.load(sample)
                return True
            except (BadInputError, OSError) as exc:
                errors.append({"item": getattr(exc, "item", None) or str(sample.image_path), "sample": sample.id,
                               "error": getattr(exc, "detail", None) or str(exc)})
    except BadInputError as exc:
        errors.append({"item": exc.item or dataset.root, "error": exc.detail})  # the item named once
    errors.append({"item": dataset.root, "error": f"none of the first {n} samples is a usable image/mask pair"})
    _finish(dataset, status=Dataset.Status.FAILED, errors=errors)
    return False


def discard(dataset: Dataset) -> None:
    """Delete a dataset row and, for uploads, its extracted folder (``MEDIA_ROOT/datasets/<id>``)."""
    if dataset.source == Dataset.Source.UPLOAD:
        _remove_upload_folder(Path(dataset.root))
    dataset.delete()


def _remove_upload_folder(root: Path) -> None:
    """The extracted folder of an upload (``MEDIA_ROOT/datasets/<id>``), never anything outside it."""

    base = (Path(settings.MEDIA_ROOT) / "datasets").resolve()
    root = root.resolve()
    if root.is_relative_to(base) and root != base:
        shutil.rmtree(base / root.relative_to(base).parts[0], ignore_errors=True)
    if media_store.upload_folder(root):
        media_store.remove(media_store.upload_folder(root))


def _user(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None
