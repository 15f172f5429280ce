"""The artifact store on S3-compatible object storage, for GPU machines that share no filesystem.

Same contract as ``engine.storage.store.ArtifactStore``: an artifact is visible only when complete, and a complete one is a
cache hit for every process. Objects live under ``s3://bucket/prefix/<kind>/<key[:2]>/<key>/<file>``; a writer
fills a local temp directory, uploads every file, and uploads the ``COMPLETE`` marker LAST, so a reader (which
checks the marker) never sees a partial artifact; two writers of one key upload equal bytes (content-addressed),
and whoever's marker lands first is the one read. Readers get a local copy: ``path(kind, key)`` of a complete
remote artifact downloads it once into the local cache directory (itself published atomically, marker last),
so every loader that reads files keeps working unchanged.

A bucket that cannot be reached or refuses (endpoint down, wrong credentials, missing bucket, timeout) raises
``ObjectStoreUnavailable``, never a raw botocore error; the client has bounded connect/read timeouts and few
retries (``s3_client``), so a dead endpoint fails within seconds instead of hanging its caller for minutes.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from engine.storage.store import MARKER, ArtifactStore

CONNECT_TIMEOUT_S = 5.0  # a reachable endpoint accepts a connection far sooner; a dead one must fail fast
READ_TIMEOUT_S = 30.0  # longest wait for one response chunk (uploads and downloads stream in chunks)
MAX_ATTEMPTS = 2  # total tries per call (botocore's "standard" retry mode: the first one plus one retry)
_MISSING = {"404", "NoSuchKey", "NotFound"}


class ObjectStoreUnavailable(RuntimeError):
    """The bucket could not be reached or refused the request; the message names what to check."""


def s3_client(endpoint_url: str | None = None, *, connect_timeout: float = CONNECT_TIMEOUT_S,
              read_timeout: float = READ_TIMEOUT_S, max_attempts: int = MAX_ATTEMPTS) -> Any:
    """A boto3 S3 client whose every call gives up after bounded timeouts and ``max_attempts`` tries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"total_max_attempts": max_attempts, "mode": "standard"})
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def is_missing(exc: BaseException) -> bool:
    """True for a ClientError that only says "no such object" (a cache miss, not an outage)."""
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in _MISSING


@contextlib.contextmanager
def unavailable_on_error(what: str, settings_hint: str) -> Iterator[None]:
    """Turn any boto3/botocore failure inside the block into ``ObjectStoreUnavailable`` naming ``settings_hint``."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        reason = f"{type(exc).__name__}{f' {code}' if code else ''}"
        raise ObjectStoreUnavailable(f"the object store is unavailable, so {what} ({reason}); check "
                                     f"{settings_hint}, AWS_ENDPOINT_URL and the AWS credentials, then try again"
                                     ) from exc


class ObjectArtifactStore(ArtifactStore):
    """``ArtifactStore`` whose source of truth is a bucket; ``root`` is this machine's local read cache."""

    HINT = "OVDIFF_STORE_URL"

    def __init__(self, cache_root: Path | str, bucket: str, prefix: str = "", client: Any = None,
                 endpoint_url: str | None = None, **client_options: Any) -> None:
        super().__init__(cache_root)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.s3 = client if client is not None else s3_client(endpoint_url, **client_options)

    def _object(self, kind: str, key: str, name: str = "") -> str:
        super().path(kind, key)  # validates kind and key
        return f"{self.prefix}{kind}/{key[:2]}/{key}/{name}"

    # --- reading --------------------------------------------------------------------------------------------
    def exists(self, kind: str, key: str) -> bool:
        """True only for a complete artifact (its marker object exists)."""
        if (super().path(kind, key) / MARKER).is_file():  # the local cache holds complete artifacts only
            return True
        with unavailable_on_error("the artifact could not be looked up", self.HINT):
            return self._remote_complete(kind, key)

    def path(self, kind: str, key: str) -> Path:
        """The local copy of an artifact, downloaded first when only the bucket holds it complete."""
        local = super().path(kind, key)
        with unavailable_on_error("the artifact could not be read", self.HINT):
            if not (local / MARKER).is_file() and self._remote_complete(kind, key):
                self._cache_locally(local, lambda tmp: self._download(kind, key, tmp))
        return local

    def _cache_locally(self, final: Path, fill: Any) -> None:
        """Fill a temp dir next to ``final`` and rename it into place, marker last (the local store's rule)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
        try:
            fill(tmp)
            (tmp / MARKER).write_text(f"{time.time():.3f}\n")
            self._publish(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _remote_complete(self, kind: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._object(kind, key, MARKER))
            return True
        except self.s3.exceptions.ClientError as exc:
            if is_missing(exc):
                return False
            raise

    def _download(self, kind: str, key: str, into: Path) -> None:
        base = self._object(kind, key)
        for name in self._names(base):
            if name != MARKER:
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.bucket, base + name, str(target))

    def _names(self, base: str) -> list[str]:
        names = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
            names += [obj["Key"][len(base):] for obj in page.get("Contents", [])]
        return names

    def keys(self, kind: str) -> list[str]:
        """Keys of the complete artifacts of one kind in the bucket."""
        super().path(kind, "xx")
        base, out = f"{self.prefix}{kind}/", set()
        with unavailable_on_error("the artifacts could not be listed", self.HINT):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for obj in page.get("Contents", []):
                    parts = obj["Key"][len(base):].split("/")
                    if len(parts) == 3 and parts[2] == MARKER:
                        out.add(parts[1])
        return sorted(out)

    # --- writing --------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, kind: str, key: str) -> Iterator[Path]:
        """Yield a temp dir to fill; on success its files are uploaded, the marker last, and cached locally."""
        base = self._object(kind, key)
        tmp = Path(tempfile.mkdtemp(prefix="ovdiff-upload-"))
        try:
            yield tmp
            with unavailable_on_error("the artifact was not stored", self.HINT):
                if not self._remote_complete(kind, key):  # someone else finished first: a cache hit
                    files = sorted(p for p in tmp.rglob("*") if p.is_file())
                    for f in files:
                        self.s3.upload_file(str(f), self.bucket, base + f.relative_to(tmp).as_posix())
                    self.s3.put_object(Bucket=self.bucket, Key=base + MARKER,
                                       Body=f"{time.time():.3f}\n".encode())
            self._cache_locally(super().path(kind, key), lambda d: shutil.copytree(tmp, d, dirs_exist_ok=True))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, kind: str, key: str) -> bool:
        """Delete an artifact from the bucket (marker first, so it stops being visible at once) and the cache."""
        base = self._object(kind, key)
        with unavailable_on_error("the artifact was not removed", self.HINT):
            names = self._names(base)
            for name in sorted(names, key=lambda n: n != MARKER):
                self.s3.delete_object(Bucket=self.bucket, Key=base + name)
        local = super().path(kind, key)
        if local.exists():
            self._discard(local)
        return bool(names) or local.exists()


def open_store(location: str, cache_root: Path | str | None = None, endpoint_url: str | None = None,
               **client_options: Any) -> ArtifactStore:
    """``s3://bucket/prefix`` -> ``ObjectArtifactStore`` (local cache under ``cache_root``); a path -> local store.

    ``client_options``: ``s3_client``'s timeouts and attempts."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://"):].partition("/")
        cache = cache_root or Path(tempfile.gettempdir()) / "ovdiff-store-cache" / bucket
        return ObjectArtifactStore(cache, bucket, prefix, endpoint_url=endpoint_url, **client_options)
    return ArtifactStore(location)
