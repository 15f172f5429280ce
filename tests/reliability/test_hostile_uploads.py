"""Hostile uploads: every archive below is refused with a 4xx and a message naming the problem, and nothing is
left behind, neither outside MEDIA_ROOT nor inside it (no dataset row, no extracted folder, no staging dir)."""
from __future__ import annotations

import io
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def _demo_tree(replace: dict[str, bytes]) -> dict[str, bytes]:
    """The files of a one-image demo dataset, some replaced by hostile content."""
    from engine.evaluation.demo_data import write_demo_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(write_demo_dataset(Path(tmp) / "ds", n_images=1, size=32, seed=0))
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    files.update(replace)
    return files


def _zip(files: dict[str, bytes], *, symlinks: dict[str, str] | None = None, raw_names: dict[bytes, bytes] | None = None,
         method: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
        for raw, data in (raw_names or {}).items():
            zf.writestr(_RawNameInfo(raw), data)
    buf.seek(0)
    buf.name = "upload.zip"
    return buf


class _RawNameInfo(zipfile.ZipInfo):
    """A zip entry whose name is stored as these exact bytes with no UTF-8 flag (as old archivers write)."""

    def __init__(self, raw: bytes) -> None:
        super().__init__(raw.decode("cp437"))
        self._raw = raw

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's own hook
        return self._raw, self.flag_bits


def _png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG header declaring 10^10 pixels, with a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _snapshot(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


CASES: dict[str, Any] = {
    "zip slip (..)": (lambda: _zip({"demo/../../../evil.txt": b"owned"}), 400, "'..' in archive path"),
    "zip slip (absolute)": (lambda: _zip({"/tmp/evil.txt": b"owned"}), 400, "absolute path"),
    "zip slip (windows drive)": (lambda: _zip({"C:\\evil.txt": b"owned"}), 400, "absolute path"),
    "symlink": (lambda: _zip(_demo_tree({}), symlinks={"images/passwd.png": "/etc/passwd"}), 400, "symbolic link"),
    "decompression bomb": (lambda: _zip({"zeros.bin": b"\0" * (64 * 1024 * 1024)}), 400, "zip bomb"),
    "10,000 tiny files": (lambda: _zip({**{f"images/t{i:05d}.png": b"x" for i in range(5000)},
                                        **{f"masks/t{i:05d}.png": b"x" for i in range(5000)}},
                                       method=zipfile.ZIP_STORED), 400, "usable image"),
    "PNG bomb": (lambda: _zip(_demo_tree({"images/demo_000.png": _png_bomb()})), 400, "pixels"),
    "non-UTF-8 names": (lambda: _zip(_demo_tree({}), raw_names={b"images/caf\xe9.png": b"x"}), 400,
                        "not valid UTF-8"),
    "HTML posing as an image": (lambda: _zip(_demo_tree({"images/demo_000.png": HTML})), 400, "demo_000.png"),
    "HTML posing as a mask": (lambda: _zip(_demo_tree({"masks/demo_000.png": HTML})), 400, "demo_000.png"),
    "not a zip at all": (lambda: io.BytesIO(HTML), 400, "not a readable zip"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_upload_refused(case: str, api: Any, media_root: Path, tmp_path: Path) -> None:
    from ovdiff_web.core.models import Dataset

    make, status, fragment = CASES[case]
    upload = make()
    upload.name = "upload.zip"
    outside_before = _snapshot(tmp_path) - _snapshot(media_root)
    response = api.post("/api/datasets/", {"name": "hostile", "format": "folder", "file": upload}, format="multipart")
    assert response.status_code == status, response.content[:500]
    message = response.json()["file"][0]
    assert fragment in message, message
    # Nothing kept: no dataset, nothing under MEDIA_ROOT but empty folders, nothing new outside it.
    assert Dataset.objects.count() == 0
    assert [p for p in media_root.rglob("*") if p.is_file()] == []
    assert _snapshot(tmp_path) - _snapshot(media_root) == outside_before
    assert not Path("/tmp/evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_hostile_image_next_to_good_ones_is_reported_not_used(api: Any, media_root: Path) -> None:
    """A dataset with some good samples is accepted; each hostile file is named in ingest_errors and left out."""
    files = _demo_tree({})
    good_image, good_mask = files["images/demo_000.png"], files["masks/demo_000.png"]
    files.update({"images/bomb.png": _png_bomb(), "masks/bomb.png": good_mask,
                  "images/page.png": HTML, "masks/page.png": good_mask,
                  "images/ok.png": good_image, "masks/ok.png": good_mask})
    response = api.post("/api/datasets/", {"name": "mixed", "format": "folder", "file": _zip(files)},
                        format="multipart")
    assert response.status_code == 201, response.content[:500]
    body = response.json()
    assert body["status"] == "ready" and body["image_count"] == 2
    assert {e["sample"] for e in body["ingest_errors"]} == {"bomb", "page"}
