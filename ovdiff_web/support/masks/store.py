"""A folder of support images with their given masks under MEDIA_ROOT/user_support/<class id>/<uuid>/, in the
layout the engine reads for the CLI (``engine.support.io.load_user_support_folder``)::

    NNN.png                 RGB image
    masks/NNN.png           its foreground, 0 / 255 (only for images given a mask)
    masks/NNN_bg.png        its background, when one was given
    .masks.json             which images came with a mask: {"given": {content id: what it came from}, "source": ...}

The engine never reads the hidden ``.masks.json`` (nor hashes it into the support key); the class page reads it
to mark a foreground "given by user". Written in a hidden staging folder and renamed into place: a refused
upload leaves nothing behind.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from django.conf import settings

from ovdiff_web.common import media_store
from ovdiff_web.common.paths import PathNotAllowed, media_path, media_relative

if TYPE_CHECKING:
    import numpy as np

SIDECAR = ".masks.json"
USER_SUPPORT = "user_support"


@dataclass
class Entry:
    """One support image to store: its pixels, the foreground (and background) given for it, and where it came
    from (a file name, or "dataset demo, image 0007")."""

    image: "np.ndarray"
    origin: str
    fg: "np.ndarray | None" = None
    bg: "np.ndarray | None" = None


@dataclass
class Stored:
    rel: str
    n_images: int
    n_masks: int
    given: dict[str, str] = field(default_factory=dict)


def staging_dir(class_id: int) -> Path:
    """A fresh hidden folder under the class's upload folder (the class page never lists hidden folders)."""
    parent = Path(settings.MEDIA_ROOT) / USER_SUPPORT / str(class_id)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".upload-", dir=parent))


def write_folder(class_id: int, entries: list[Entry], source: str, staging: Path | None = None) -> Stored:
    """Write ``entries`` as a new upload folder of the class and publish it; returns it MEDIA_ROOT-relative.
    ``staging`` (from ``staging_dir``) is removed in every case."""
    import numpy as np
    from PIL import Image

    from engine.support.curation import image_id

    staging = staging or staging_dir(class_id)
    final: Path | None = None
    try:
        out = staging / "out"
        (out / "masks").mkdir(parents=True)
        given: dict[str, str] = {}
        for i, entry in enumerate(entries):
            name = f"{i:03d}"
            Image.fromarray(np.ascontiguousarray(entry.image, dtype=np.uint8)).save(out / f"{name}.png", format="PNG")
            if entry.fg is not None:
                _save_mask(entry.fg, out / "masks" / f"{name}.png")
                given[image_id(entry.image)] = entry.origin
            if entry.bg is not None:
                _save_mask(entry.bg, out / "masks" / f"{name}_bg.png")
        if not given:
            (out / "masks").rmdir()
        (out / SIDECAR).write_text(json.dumps({"source": source, "given": given}, indent=1))
        final = out.parent.parent / uuid.uuid4().hex
        out.rename(final)
        media_store.publish(final)  # workers on other machines build the class from it
    except BaseException:
        if final is not None:
            shutil.rmtree(final, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Stored(rel=media_relative(final), n_images=len(entries), n_masks=len(given), given=given)


def _save_mask(mask: "np.ndarray", path: Path) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.asarray(mask, dtype=bool).astype(np.uint8) * 255, mode="L").save(path, format="PNG")


def given_masks(class_id: int, folders: Iterable[str] = ()) -> dict[str, str]:
    """content id -> origin of every support image given with its mask in the class's upload folders (all of
    them, plus ``folders``: MEDIA_ROOT-relative)."""
    parent = Path(settings.MEDIA_ROOT) / USER_SUPPORT / str(class_id)
    rels = {f"{USER_SUPPORT}/{class_id}/{p.name}" for p in parent.iterdir() if p.is_dir()
            and not p.name.startswith(".")} if parent.is_dir() else set()
    out: dict[str, str] = {}
    for rel in sorted(rels | {f for f in folders if f}):
        try:
            path = media_path(f"{rel}/{SIDECAR}")
            data = json.loads(path.read_text()) if path.is_file() else {}
        except (PathNotAllowed, OSError, ValueError):
            continue
        given = data.get("given") if isinstance(data, dict) else None
        if isinstance(given, dict):
            out.update({str(k): str(v) for k, v in given.items()})
    return out


def mask_files(rel: str) -> dict[str, str]:
    """image file -> its given fg mask file (both MEDIA_ROOT-relative) in one upload folder."""
    folder = Path(settings.MEDIA_ROOT) / rel
    masks = folder / "masks"
    if not masks.is_dir():
        return {}
    return {f"{rel}/{p.name}": f"{rel}/masks/{p.name}" for p in sorted(folder.glob("*.png"))
            if (masks / p.name).is_file()}


def describe(stored: Stored) -> str:
    """"3 images (2 with their masks)" for messages and version summaries."""
    images = f"{stored.n_images} image{'s' if stored.n_images != 1 else ''}"
    return f"{images} ({stored.n_masks} with {'its' if stored.n_masks == 1 else 'their'} mask" \
           f"{'s' if stored.n_masks != 1 else ''})" if stored.n_masks else images


def relative(path: Any, root: Path) -> str:
    """``path`` (an engine error's item) relative to ``root`` when under it, else as given."""
    try:
        return Path(str(path)).relative_to(root).as_posix()
    except ValueError:
        return str(path)
