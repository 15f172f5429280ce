"""sha256 of model weight files, so a run can say exactly which weights produced it.

Hugging Face cache snapshots link each large file to ``blobs/<sha256>``: that name is the hash, read for free.
Other files are hashed once per process (memoised on path, size and mtime); a 4 GB UNet takes ~10 s.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt", ".pkl")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_memo: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path | str) -> str:
    """Hex sha256 of one file (the blob name when it is a hub-cache link to an LFS blob)."""
    p = Path(path)
    target = p.resolve()
    if p.is_symlink() and target.parent.name == "blobs" and _SHA.match(target.name):
        return target.name
    st = target.stat()
    key = (str(target), st.st_size, st.st_mtime_ns)
    if key not in _memo:
        h = hashlib.sha256()
        with open(target, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _memo[key] = h.hexdigest()
    return _memo[key]


def weights_sha256(path: Path | str) -> dict[str, str]:
    """relative path -> sha256 of every weight file under ``path`` (or of ``path`` itself when it is a file)."""
    root = Path(path)
    if root.is_file():
        return {root.name: file_sha256(root)}
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix in WEIGHT_SUFFIXES)
    return {str(f.relative_to(root)): file_sha256(f) for f in files}


def weights_digest(path: Path | str) -> str:
    """One short hash over every weight file's name and sha256 (identifies a model directory's weights)."""
    files = weights_sha256(path)
    blob = "\n".join(f"{name}:{sha}" for name, sha in sorted(files.items()))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
