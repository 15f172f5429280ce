"""A stored prototype bank's files, read without torch: a cached ``prototypes`` call copies them as they are.

``save_bank`` writes ``prototypes.safetensors`` (fg, bg float32) and ``bank.json``; the safetensors header is a
little-endian u64 length followed by JSON holding each tensor's shape, so counts and width need no tensor library.
"""
from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

BANK_FILES: tuple[str, ...] = ("prototypes.safetensors", "bank.json")


def bank_shape(dirpath: Path | str) -> tuple[int, int, int]:
    """(fg prototypes, bg prototypes, dimension) of a saved bank, from the safetensors header."""
    with open(Path(dirpath) / "prototypes.safetensors", "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    fg, bg = header["fg"]["shape"], header["bg"]["shape"]
    return int(fg[0]), int(bg[0]), int(fg[1])


def copy_bank(src: Path | str, dst: Path | str) -> Path:
    """Copy a saved bank's files (not the store's marker) into ``dst``; the result loads with ``load_bank``."""
    out = Path(dst)
    out.mkdir(parents=True, exist_ok=True)
    for name in BANK_FILES:
        shutil.copyfile(Path(src) / name, out / name)
    return out
