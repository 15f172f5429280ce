"""Media files on S3-compatible object storage, for web and GPU machines that share no directory.

Media are the files under ``MEDIA_ROOT``: uploaded datasets and support images (written by the web), run outputs
and support-set PNGs (written by workers, served by the dashboard). With ``OVDIFF_MEDIA_URL=s3://bucket/prefix``
the bucket is their source of truth and each machine's ``MEDIA_ROOT`` is its local copy (a read cache); unset,
every function here does nothing and ``MEDIA_ROOT`` is the only copy, as before.

The rules, the artifact store's (``engine.storage.object_store``):
- writers keep writing under ``MEDIA_ROOT`` (atomically), then ``publish`` the file or folder: a folder's files
  are uploaded and its ``.complete`` marker LAST, so a reader never takes a partial folder;
- readers ask for a file by its MEDIA_ROOT-relative path (``paths.media_path`` calls ``fetch`` on a local miss)
  or for a whole folder (``fetch_tree``: a dataset, a user's support images); downloads land in a temp file or
  directory renamed into place, so a local copy is complete or absent;
- ``remove`` deletes a file's or folder's objects (the marker first: the folder stops being visible at once).
Objects are named ``<prefix>/<MEDIA_ROOT-relative path>``. boto3 loads only when a media URL is configured.

A bucket that cannot be reached or refuses raises ``engine.storage.object_store.ObjectStoreUnavailable`` naming
OVDIFF_MEDIA_URL / AWS_ENDPOINT_URL (the API and the dashboard answer 503 with it); calls time out quickly
(``object_store_options``). A writer that fails to publish deletes what it wrote locally.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from django.conf import settings

from engine.storage.object_store import is_missing, s3_client, unavailable_on_error

MARKER = ".complete"
HINT = "OVDIFF_MEDIA_URL"
_CLIENTS: dict[tuple[Any, ...], Any] = {}  # one boto3 client per process, endpoint and options (thread-safe)
_UPLOAD_KEY = re.compile(r"[0-9a-f]{32}")  # the folder ``uploads.extract_zip`` creates per upload


def object_store_options() -> dict[str, Any]:
    """``engine.storage.object_store.s3_client``'s bounded timeouts and attempts, from the settings."""
    return {"connect_timeout": settings.OVDIFF_OBJECT_STORE_CONNECT_TIMEOUT_S,
            "read_timeout": settings.OVDIFF_OBJECT_STORE_READ_TIMEOUT_S,
            "max_attempts": settings.OVDIFF_OBJECT_STORE_MAX_ATTEMPTS}


def configured() -> bool:
    """True when media live in a bucket (``OVDIFF_MEDIA_URL``)."""
    return bool(getattr(settings, "OVDIFF_MEDIA_URL", ""))


def _bucket() -> tuple[str, str]:
    bucket, _, prefix = settings.OVDIFF_MEDIA_URL[len("s3://"):].partition("/")
    return bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""


def _client() -> Any:
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    options = object_store_options()
    key = (endpoint, *sorted(options.items()))
    if key not in _CLIENTS:
        _CLIENTS[key] = s3_client(endpoint, **options)
    return _CLIENTS[key]


def _relative(rel: str | Path) -> str:
    """A clean MEDIA_ROOT-relative POSIX path (absolute paths under MEDIA_ROOT accepted); never ``..``."""
    path = Path(rel)
    if path.is_absolute():
        path = path.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve())
    posix = PurePosixPath(path.as_posix())
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise ValueError(f"{rel}: not a path inside MEDIA_ROOT")
    return posix.as_posix()


def _names(key_prefix: str) -> list[str]:
    bucket, _ = _bucket()
    names: list[str] = []
    for page in _client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        names += [obj["Key"] for obj in page.get("Contents", [])]
    return names


def _exists(key: str) -> bool:
    """Whether the object exists; a missing BUCKET is an outage, not a miss (HEAD says 404 for both)."""
    bucket, _ = _bucket()
    client = _client()
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except client.exceptions.ClientError as exc:
        if not is_missing(exc):
            raise
    client.head_bucket(Bucket=bucket)
    return False


def publish(rel: str | Path) -> None:
    """Upload a file under MEDIA_ROOT, or a folder (every file, then its marker last)."""
    if not configured():
        return
    rel = _relative(rel)
    bucket, prefix = _bucket()
    local = Path(settings.MEDIA_ROOT) / rel
    with unavailable_on_error("nothing was stored", HINT):
        client = _client()
        if local.is_file():
            client.upload_file(str(local), bucket, prefix + rel)
            return
        for path in sorted(p for p in local.rglob("*") if p.is_file() and p.name != MARKER):
            client.upload_file(str(path), bucket, f"{prefix}{rel}/{path.relative_to(local).as_posix()}")
        client.put_object(Bucket=bucket, Key=f"{prefix}{rel}/{MARKER}", Body=b"")


def fetch(rel: str | Path) -> bool:
    """Make sure the file ``rel`` is under this machine's MEDIA_ROOT (downloaded if only the bucket has it).

    True when the file is there afterwards."""
    local = Path(settings.MEDIA_ROOT) / _relative(rel)
    if local.is_file():
        return True
    if not configured():
        return False
    bucket, prefix = _bucket()
    key = prefix + _relative(rel)
    with unavailable_on_error("the file could not be read", HINT):
        if not _exists(key):
            return False
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{local.name}-", dir=local.parent)
        os.close(fd)
        try:
            _client().download_file(bucket, key, tmp)
            os.replace(tmp, local)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return True


def fetch_tree(rel: str | Path) -> bool:
    """Make sure the published folder ``rel`` is under this machine's MEDIA_ROOT, complete.

    A local folder counts when it exists (the machine wrote it, or a previous fetch renamed it into place);
    otherwise the bucket's copy is downloaded if its marker exists. True when the folder is there afterwards."""
    rel = _relative(rel)
    local = Path(settings.MEDIA_ROOT) / rel
    if local.is_dir():
        return True
    if not configured():
        return False
    bucket, prefix = _bucket()
    base = f"{prefix}{rel}/"
    with unavailable_on_error("the folder could not be read", HINT):
        if not _exists(base + MARKER):
            return False
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{local.name}-", dir=local.parent))
        try:
            for key in _names(base):
                if key == base + MARKER:  # the bucket's publish marker, not part of the folder
                    continue
                target = tmp / key[len(base):]
                target.parent.mkdir(parents=True, exist_ok=True)
                _client().download_file(bucket, key, str(target))
            try:
                tmp.rename(local)
            except OSError:  # another process of this machine finished the same download first
                if not local.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return True


def remove(rel: str | Path) -> None:
    """Delete the bucket's copy of a file or folder (a folder's marker first). Local files are the caller's."""
    if not configured():
        return
    rel = _relative(rel)
    bucket, prefix = _bucket()
    with unavailable_on_error("nothing was removed from it", HINT):
        keys = [k for k in _names(f"{prefix}{rel}/") if k] or [prefix + rel]
        for key in sorted(keys, key=lambda k: not k.endswith("/" + MARKER)):
            _client().delete_object(Bucket=bucket, Key=key)


def upload_parts(root: str | Path) -> tuple[str, ...]:
    """An uploaded dataset's root from ``datasets/<key>`` on (``("datasets", key[, inner folder])``), whatever
    machine's MEDIA_ROOT it was extracted under; () when ``root`` is not an upload folder.

    The row keeps the absolute path the web extracted to; another machine's MEDIA_ROOT may differ, so this part
    is what every machine shares (``uploads.extract_zip``: a fresh 32-hex folder, at most one folder inside)."""
    parts = Path(root).parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "datasets" and _UPLOAD_KEY.fullmatch(parts[i + 1]) and len(parts) - i <= 3:
            return tuple(parts[i:])
    return ()


def upload_folder(root: str | Path) -> str:
    """``datasets/<key>``: the published folder holding an uploaded dataset's root ("" for any other path)."""
    return "/".join(upload_parts(root)[:2])


def local_dataset_root(root: str, uploaded: bool) -> str:
    """Where an uploaded dataset's files are on this machine (its folder fetched from the bucket when missing);
    a server-path dataset's root unchanged (those folders must exist on every machine)."""
    if not uploaded or not configured() or Path(root).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve()):
        return root  # no bucket, or the folder is this machine's own upload
    parts = upload_parts(root)
    if not parts:
        return root
    fetch_tree(upload_folder(root))
    return str(Path(settings.MEDIA_ROOT).joinpath(*parts))


def fetch_support_folders(entries: Iterable[dict[str, Any]]) -> None:
    """The users' support-image folders of vocabulary entries (``user_support_dir``) and the masks their curation
    painted (``painted_masks/<id>.png``), on this machine before the engine hashes or reads them (a worker
    elsewhere than the web that stored the upload)."""
    if configured():
        from engine.support.curation import painted_files

        for entry in entries:
            if entry.get("user_support_dir"):
                fetch_tree(entry["user_support_dir"])
            for rel in painted_files(entry.get("curation")):
                fetch(rel)
