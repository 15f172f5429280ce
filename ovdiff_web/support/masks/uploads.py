"""Support images uploaded with their masks: multipart ``images`` + ``masks`` (a mask per image, matched by file
stem) or one zip in the CLI's layout (``x.jpg`` + ``masks/x.png``, or ``images/x.jpg`` + ``masks/x.png``).

Matching is the engine's own rule for a CLI folder (``engine.support.io.load_user_support_folder``: ``<stem>.png``
or ``<stem>_fg.png`` / ``<stem>_bg.png``; a mask naming no image, a second mask for one image or a mask of another
size is refused), on top of which a mask must look like one: a palette PNG (any non-zero index is foreground) or a
grey / colour image with at most two values, one of them 0 (background), and at least one foreground pixel. The
first unusable file is named in a ``BadInputError`` and nothing is kept.
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Sequence

from engine.errors import BadInputError
from ovdiff_web.common.uploads import ZipRejected, extract_zip
from ovdiff_web.support.masks.store import Entry, Stored, relative, staging_dir, write_folder

MAX_SUPPORT_UPLOADS = 64
MASK_DIR = "masks"


def store_upload(class_id: int, images: Sequence[Any] = (), masks: Sequence[Any] = (),
                 archive: Any = None) -> Stored:
    """Check and store one upload as a new folder of the class (``store.write_folder``); ``BadInputError``
    naming the first unusable file (``ZipRejected`` for an unusable archive), nothing kept in either case."""
    if archive is not None and (images or masks):
        raise BadInputError("send either a zip or image (and mask) files, not both", "archive")
    if archive is None and not images:
        raise BadInputError("no images uploaded", "images")
    if len(images) > MAX_SUPPORT_UPLOADS:
        raise BadInputError(f"{len(images)} images; at most {MAX_SUPPORT_UPLOADS} per upload", "images")
    if len(masks) > len(images):
        raise BadInputError(f"{len(masks)} masks for {len(images)} images: each mask belongs to one image", "masks")
    staging = staging_dir(class_id)
    try:
        if archive is not None:
            folder, shown = _from_archive(archive, staging)
        else:
            folder, shown = staging / "raw", None
            _write_files(images, folder, "images")
            _write_files(masks, folder / MASK_DIR, "masks")
        entries = _read(folder, shown)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return write_folder(class_id, entries, "archive" if archive is not None else "upload", staging=staging)


def _safe_name(upload: Any, index: int, field: str) -> str:
    name = Path(str(getattr(upload, "name", "") or "")).name.strip()
    if not name or name.startswith(".") or "\x00" in name or "\\" in name:
        raise BadInputError("a file name that does not start with a dot is needed", name or f"{field} file {index}")
    return name


def _write_files(uploads: Sequence[Any], folder: Path, field: str) -> None:
    """Each upload under its own (base) name; an image without an image suffix gets ``.png`` (the content is
    what decides)."""
    from engine.support.io import IMAGE_EXTS

    folder.mkdir(parents=True, exist_ok=True)
    for i, upload in enumerate(uploads):
        name = _safe_name(upload, i, field)
        if field == "images" and Path(name).suffix.lower() not in IMAGE_EXTS:
            name += ".png"
        try:
            with open(folder / name, "xb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
        except FileExistsError:
            raise BadInputError(f"two {field} files share this name", name) from None


def _from_archive(archive: Any, staging: Path) -> tuple[Path, str | None]:
    """The image folder of an extracted zip (its masks moved under it, where the engine looks) and the prefix
    its images had in the archive ("images/" or "")."""
    root = extract_zip(archive, staging)
    images = root / "images"
    if not images.is_dir():
        return root, None
    for entry in root.iterdir():
        if entry.name not in ("images", MASK_DIR):
            raise ZipRejected(f"{entry.name}: with an images/ folder the archive holds only images/ and masks/")
    if (images / MASK_DIR).exists():
        raise ZipRejected("images/masks: put the masks next to images/, in masks/")
    if (root / MASK_DIR).is_dir():
        (root / MASK_DIR).rename(images / MASK_DIR)
    return images, "images/"


def _read(folder: Path, prefix: str | None) -> list[Entry]:
    """The engine reads the folder as the CLI would; every mask is checked to be one first."""
    from engine.support.io import IMAGE_EXTS, load_user_support_folder

    def shown(path: Any) -> str:
        rel = relative(path, folder)
        return rel if prefix is None or rel.startswith(f"{MASK_DIR}/") else prefix + rel

    mdir = folder / MASK_DIR
    for path in sorted(mdir.iterdir()) if mdir.is_dir() else []:
        if path.is_dir():
            raise BadInputError("masks/ holds files only", shown(path))
        if path.suffix.lower() in IMAGE_EXTS and not path.name.startswith("."):
            check_mask(path, shown(path))
    for path in folder.iterdir():
        if path.is_dir() and path.name != MASK_DIR:
            raise BadInputError("a folder among the images (only masks/ is read)", shown(path))
    try:
        support = load_user_support_folder(folder, "upload")
    except BadInputError as exc:
        message = str(exc).split(": ", 1)[-1] if exc.item else str(exc)
        raise BadInputError(message, shown(exc.item) if exc.item else None) from None
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [Entry(image=im.image, origin=f"uploaded with {prefix or ''}{name}", fg=im.fg_mask, bg=im.bg_mask)
            for im, name in zip(support.images, names)]


def check_mask(path: Path, name: str) -> None:
    """``BadInputError`` naming ``name`` unless the file is a mask: readable, a palette image or one with at
    most two grey levels / colours (one of them 0), with at least one foreground pixel."""
    import numpy as np
    from PIL import Image

    from engine.images import DEFAULT_MAX_PIXELS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.size[0] * img.size[1] > DEFAULT_MAX_PIXELS:
                    raise BadInputError(f"{img.size[0]}x{img.size[1]} pixels; at most {DEFAULT_MAX_PIXELS}", name)
                img.load()
                mode, arr = img.mode, np.asarray(img)
    except BadInputError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"not a readable mask image ({exc.__class__.__name__})", name) from None
    if mode in ("P", "PA"):
        fg = (arr[..., 0] if arr.ndim == 3 else arr) != 0
    else:
        values = arr[..., :3].reshape(-1, 3) if arr.ndim == 3 and mode not in ("LA", "La") else \
            (arr[..., 0] if arr.ndim == 3 else arr).reshape(-1, 1)
        distinct = np.unique(values, axis=0)
        zero = (distinct == 0).all(axis=1).any()
        if len(distinct) > 2:
            raise BadInputError(f"not a mask: {len(distinct)} different values; a mask has 0 (background) and "
                                "one other value (foreground, e.g. 255), or is a palette PNG", name)
        if len(distinct) == 2 and not zero:
            raise BadInputError("not a mask: no pixel is 0 (background); use 0 and 255", name)
        fg = values.any(axis=1).reshape(arr.shape[:2])
    if not fg.any():
        raise BadInputError("empty mask: every pixel is 0 (background), no foreground", name)
