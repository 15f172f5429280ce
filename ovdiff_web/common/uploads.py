"""Safe zip ingestion: limits and path checks BEFORE anything is written, extraction into a fresh temp dir
under MEDIA_ROOT, and a rename into place only when every check passed (a rejected upload leaves nothing)."""
from __future__ import annotations

import os
import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings
from ovdiff_web.common.errors import ServiceError

_JUNK_PREFIXES = ("__MACOSX/",)
_JUNK_NAMES = {".DS_Store", "Thumbs.db"}
_CHUNK = 1 << 20


class ZipRejected(ServiceError, ValueError):
    """The upload is refused as a whole; ``status`` is the HTTP status the API should answer with."""

    code = "upload_rejected"
    field = "archive"

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ZipLimits:
    max_bytes: int
    max_files: int
    max_uncompressed: int
    max_ratio: int

    @classmethod
    def from_settings(cls) -> "ZipLimits":
        mb = 1024 * 1024
        return cls(settings.OVDIFF_MAX_UPLOAD_MB * mb, settings.OVDIFF_ZIP_MAX_FILES,
                   settings.OVDIFF_ZIP_MAX_UNCOMPRESSED_MB * mb, settings.OVDIFF_ZIP_MAX_RATIO)


def decode_name(info: zipfile.ZipInfo) -> str:
    """Entry name as text: zipfile decodes non-UTF-8-flagged names as cp437; many tools wrote UTF-8 anyway.
    Names whose bytes are not UTF-8 are refused: guessing a legacy code page would give files names nobody
    typed (and mismatched image/mask pairs)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeEncodeError:
        return info.filename
    except UnicodeDecodeError:
        raise ZipRejected(f"{info.filename!r}: entry name is not valid UTF-8; re-create the archive with UTF-8 "
                          "file names") from None


def safe_member_path(name: str) -> PurePosixPath:
    """A relative, normalised path for a zip entry, or ZipRejected for absolute / ``..`` / odd names."""
    if "\x00" in name:
        raise ZipRejected(f"{name!r}: NUL byte in entry name")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise ZipRejected(f"{name}: absolute path in archive")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ZipRejected(f"{name}: '..' in archive path")
    if not parts:
        raise ZipRejected(f"{name!r}: empty entry name")
    return PurePosixPath(*parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


SUSPICIOUS_BUDGET = 4 * 1024 * 1024  # bytes of members compressed beyond max_ratio (real images never are)


def plan_members(zf: zipfile.ZipFile, limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Check every entry against the limits and return the files to extract (no I/O on disk)."""
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise ZipRejected(f"archive has {len(infos)} entries; the limit is {limits.max_files}")
    total = 0
    compressed = 0
    plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    suspicious = 0
    for info in infos:
        name = decode_name(info)
        if name.startswith(_JUNK_PREFIXES) or PurePosixPath(name).name in _JUNK_NAMES:
            continue
        if _is_symlink(info):
            raise ZipRejected(f"{name}: symbolic links are not allowed in uploads")
        rel = safe_member_path(name)
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise ZipRejected(f"{name}: encrypted entries are not supported")
        total += info.file_size
        compressed += info.compress_size
        if total > limits.max_uncompressed:
            raise ZipRejected(f"archive expands beyond {limits.max_uncompressed // (1024 * 1024)} MB", status=413)
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ZipRejected(f"{name}: compression ratio above {limits.max_ratio} (zip bomb?)")
        if info.file_size > limits.max_ratio * max(info.compress_size, 1):
            # Padding defeats a whole-archive ratio (incompressible bytes next to many bomb-like members just
            # under the per-file threshold): the bytes of such members together stay under a small budget.
            suspicious += info.file_size
            if suspicious > SUSPICIOUS_BUDGET:
                raise ZipRejected(f"{name}: too many members with a compression ratio above {limits.max_ratio} "
                                  f"(together over {SUSPICIOUS_BUDGET // (1024 * 1024)} MB: zip bomb?)")
        plan.append((info, rel))
    if total > 1024 * 1024 and total > limits.max_ratio * max(compressed, 1):
        raise ZipRejected(f"archive compression ratio above {limits.max_ratio} (zip bomb?)")
    if not plan:
        raise ZipRejected("archive holds no files")
    return plan


def _copy_bounded(src: IO[bytes], dst: IO[bytes], budget: int, name: str) -> int:
    """Copy at most ``budget`` bytes: declared sizes in a zip header can lie."""
    written = 0
    while chunk := src.read(_CHUNK):
        written += len(chunk)
        if written > budget:
            raise ZipRejected(f"{name}: expands beyond its declared size or the archive limit", status=413)
        dst.write(chunk)
    return written


def extract_zip(upload: IO[bytes], dest_parent: Path, limits: ZipLimits | None = None) -> Path:
    """Validate and extract ``upload`` into a new directory under ``dest_parent`` (inside MEDIA_ROOT).

    Returns the final directory (its single top-level folder when the archive wraps everything in one).
    """
    limits = limits or ZipLimits.from_settings()
    media = Path(settings.MEDIA_ROOT).resolve()
    dest_parent = Path(dest_parent).resolve()
    if not dest_parent.is_relative_to(media):
        raise ZipRejected(f"{dest_parent}: uploads must be stored under MEDIA_ROOT", status=500)
    size = _size_of(upload)
    if size > limits.max_bytes:
        raise ZipRejected(f"upload is {size // (1024 * 1024)} MB; the limit is {limits.max_bytes // (1024 * 1024)} MB",
                          status=413)
    try:
        zf = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ZipRejected(f"not a readable zip archive ({exc})") from None
    staging_root = media / "tmp"
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = staging_root / f"upload-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        with zf:
            plan = plan_members(zf, limits)
            budget = limits.max_uncompressed
            for info, rel in plan:
                target = staging.joinpath(*rel.parts)
                if not target.resolve().is_relative_to(staging.resolve()):  # belt and braces
                    raise ZipRejected(f"{rel}: escapes the extraction directory")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as dst:
                    budget -= _copy_bounded(src, dst, min(budget, info.file_size), str(rel))
        dest_parent.mkdir(parents=True, exist_ok=True)
        final = dest_parent / uuid.uuid4().hex
        os.replace(staging, final)
    except FileExistsError:
        shutil.rmtree(staging, ignore_errors=True)
        raise ZipRejected("archive holds the same file twice") from None
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ZipRejected(f"corrupt zip archive ({exc})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return unwrap_single_folder(final)


def unwrap_single_folder(root: Path) -> Path:
    """Archives made by zipping a folder hold one top-level directory: the dataset is inside it."""
    entries = [p for p in root.iterdir() if p.name not in _JUNK_NAMES]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return root


def _size_of(upload: IO[bytes]) -> int:
    size = getattr(upload, "size", None)
    if isinstance(size, int):
        return size
    pos = upload.tell()
    upload.seek(0, os.SEEK_END)
    end = upload.tell()
    upload.seek(pos)
    return end
