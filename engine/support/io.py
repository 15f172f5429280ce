"""Support sets on disk: save/load a ``SupportSet`` (PNGs + manifest.json) and read a user's folder of images.

Saved layout (``save_support_set``)::

    manifest.json              class, prompt, source, key, per image: index, seed, prompt, file names
    images/NNN.png             RGB
    attribution/NNN.png        16-bit grayscale, value / 65535 = attribution in [0, 1] (precision 1.5e-5)
    masks/NNN_fg.png, NNN_bg.png, NNN_inst_J.png    0 / 255

User folder (``load_user_support_folder``): every visible file at the top level must be a readable image
(jpg, png, webp, bmp, tif, gif); optional masks live in ``masks/`` with the image's stem: ``<stem>.png``
(non-zero = fg) or ``<stem>_fg.png`` / ``<stem>_bg.png``. A pixel of a mask is set when any of its colour
channels (or its palette index) is non-zero; alpha is ignored.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import BadInputError
from engine.images import load_image
from engine.types import SupportImage, SupportSet

MANIFEST = "manifest.json"
FORMAT = 1
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
MASK_DIR = "masks"


def _name(index: int) -> str:
    return f"{index:03d}"


def _save_mask(mask: np.ndarray, path: Path) -> None:
    Image.fromarray(np.asarray(mask, dtype=bool).astype(np.uint8) * 255, mode="L").save(path)


def _save_attribution(attr: np.ndarray, path: Path) -> None:
    q = np.round(np.clip(np.asarray(attr, dtype=np.float64), 0.0, 1.0) * 65535).astype(np.uint16)
    Image.fromarray(q).save(path)  # mode I;16


def read_mask(path: Path) -> np.ndarray:
    """bool (H, W): non-zero colour (or palette index) = set; names the file when unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
                    img = img.convert("RGB" if img.mode != "LA" else "L")
                arr = np.asarray(img)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInputError(f"not a readable mask image ({exc})", str(path)) from exc
    return arr.any(axis=2) if arr.ndim == 3 else arr != 0


def _read_attribution(path: Path) -> np.ndarray:
    npy = path.with_suffix(".npy")
    if npy.is_file():
        return np.load(npy).astype(np.float32)
    try:
        with Image.open(path) as img:
            arr = np.asarray(img).astype(np.float32)
            scale = 255.0 if img.mode in ("L", "P") else 65535.0
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"not a readable attribution map ({exc})", str(path)) from exc
    return arr / scale


def save_support_set(support: SupportSet, dirpath: Path | str) -> Path:
    """Write ``support`` under ``dirpath`` (created); returns the manifest path."""
    root = Path(dirpath)
    for sub in ("images", "attribution", MASK_DIR):
        (root / sub).mkdir(parents=True, exist_ok=True)
    entries = []
    for im in support.images:
        n = _name(im.index)
        e: dict = {"index": im.index, "seed": im.seed, "prompt": im.prompt, "image": f"images/{n}.png"}
        Image.fromarray(np.ascontiguousarray(im.image, dtype=np.uint8)).save(root / e["image"])
        if im.attribution is not None:
            e["attribution"] = f"attribution/{n}.png"
            _save_attribution(im.attribution, root / e["attribution"])
        for side, mask in (("fg", im.fg_mask), ("bg", im.bg_mask)):
            if mask is not None:
                e[side] = f"{MASK_DIR}/{n}_{side}.png"
                _save_mask(mask, root / e[side])
        e["instances"] = []
        for j, m in enumerate(im.instance_masks):
            rel = f"{MASK_DIR}/{n}_inst_{j}.png"
            _save_mask(m, root / rel)
            e["instances"].append(rel)
        if im.excluded is not None:
            e["excluded"] = im.excluded
        if im.mask_choice:
            e["mask_choice"] = im.mask_choice
        entries.append(e)
    manifest = {
        "format": FORMAT,
        "class_name": support.class_name,
        "prompt": support.prompt,
        "source": support.source,
        "key": support.key,
        "images": entries,
    }
    path = root / MANIFEST
    path.write_text(json.dumps(manifest, indent=1))
    return path


def load_support_set(dirpath: Path | str) -> SupportSet:
    """Inverse of ``save_support_set`` (attribution to within 1/65535)."""
    root = Path(dirpath)
    mpath = root / MANIFEST
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise BadInputError(f"unreadable support-set manifest ({exc})", str(mpath)) from exc
    images = []
    for e in manifest["images"]:
        images.append(
            SupportImage(
                index=int(e["index"]),
                image=load_image(root / e["image"], apply_exif=False),
                attribution=_read_attribution(root / e["attribution"]) if e.get("attribution") else None,
                seed=e.get("seed"),
                prompt=e.get("prompt"),
                fg_mask=read_mask(root / e["fg"]) if e.get("fg") else None,
                bg_mask=read_mask(root / e["bg"]) if e.get("bg") else None,
                instance_masks=[read_mask(root / p) for p in e.get("instances", [])],
                excluded=e.get("excluded"),
                mask_choice=e.get("mask_choice", ""),
            )
        )
    return SupportSet(
        class_name=manifest["class_name"],
        prompt=manifest["prompt"],
        source=manifest["source"],
        images=images,
        key=manifest.get("key", ""),
    )


def _visible_files(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))


def _user_masks(folder: Path, stems: set[str]) -> dict[str, dict[str, Path]]:
    """stem -> {"fg": path, "bg": path}; a mask naming no image is an error (likely a typo)."""
    out: dict[str, dict[str, Path]] = {}
    mdir = folder / MASK_DIR
    if not mdir.is_dir():
        return out
    for p in _visible_files(mdir):
        if p.suffix.lower() not in IMAGE_EXTS:
            raise BadInputError("mask files must be images (png recommended)", str(p))
        stem, side = p.stem, "fg"
        if stem not in stems:
            for suffix in ("_fg", "_bg"):
                if stem.endswith(suffix) and stem[: -len(suffix)] in stems:
                    stem, side = stem[: -len(suffix)], suffix[1:]
                    break
            else:
                raise BadInputError("mask has no image with the same name in the folder", str(p))
        if side in out.get(stem, {}):
            raise BadInputError(f"a second {side} mask for image {stem!r}", str(p))
        out.setdefault(stem, {})[side] = p
    return out


def load_user_support_folder(folder: Path | str, class_name: str, prompt: str | None = None) -> SupportSet:
    """A user's support images (+ optional masks) as a ``SupportSet`` with source "user", in file-name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError("support folder not found", str(folder))
    files = _visible_files(folder)
    for p in files:
        if p.suffix.lower() not in IMAGE_EXTS:
            raise BadInputError(f"not an image file (expected one of {', '.join(sorted(IMAGE_EXTS))})", str(p))
    if not files:
        raise BadInputError("support folder contains no images", str(folder))
    stems = [p.stem for p in files]
    if len(set(stems)) != len(stems):
        dup = sorted({s for s in stems if stems.count(s) > 1})
        raise BadInputError(f"several images share the name {dup[0]!r}", str(folder / dup[0]))
    masks = _user_masks(folder, set(stems))
    images = []
    for i, p in enumerate(files):
        img = load_image(p)
        fg = bg = None
        for side, mpath in masks.get(p.stem, {}).items():
            m = read_mask(mpath)
            if m.shape != img.shape[:2]:
                raise BadInputError(
                    f"mask is {m.shape[1]}x{m.shape[0]} but its image {p.name} is {img.shape[1]}x{img.shape[0]}",
                    str(mpath),
                )
            if side == "fg":
                fg = m
            else:
                bg = m
        if bg is not None and fg is None:
            fg = ~bg  # only a bg mask given: everything else is the object
        images.append(SupportImage(index=i, image=img, attribution=None, fg_mask=fg, bg_mask=bg))
    return SupportSet(class_name=class_name, prompt=prompt or class_name, source="user", images=images)


def folder_content_hash(folder: Path | str) -> str:
    """sha256 over names and bytes of the folder's top-level files and ``masks/``: a cache key for user sets."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError("support folder not found", str(folder))
    h = hashlib.sha256()
    paths = _visible_files(folder)
    if (folder / MASK_DIR).is_dir():
        paths += _visible_files(folder / MASK_DIR)
    for p in paths:
        rel = p.relative_to(folder).as_posix().encode()
        h.update(len(rel).to_bytes(4, "little") + rel)
        data = p.read_bytes()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()
