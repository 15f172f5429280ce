"""Every file a prediction job reads or writes, in one module so the media storage can be pointed elsewhere.

Layout under ``MEDIA_ROOT/runs/<id>/`` (so ``access.media_readable`` follows the job): ``images/`` (uploaded
images, re-encoded as PNG after validation), the engine's ``pred/`` + ``overlay/`` (``write_prediction``),
``labels/`` (legend indices) and ``explain/<id>.npz`` (which prototype decided each pixel).
Uploads are validated into a staging folder first and moved into place only once the job row exists: a refused
upload leaves nothing behind. With media on object storage (``media_store``), what is written here is published and
what is read is fetched on a local miss, so the web and the workers need not share ``MEDIA_ROOT``."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from django.conf import settings

from engine.storage.atomic import atomic_write
from ovdiff_web.common import media_store
from ovdiff_web.common.paths import media_path
from ovdiff_web.runs.shards import run_dir as shard_run_dir
from engine.errors import BadInputError
from ovdiff_web.common.uploads import extract_zip
from ovdiff_web.common.paths import confine
from ovdiff_web.runs.images import load_dataset_image
from ovdiff_web.runs.legend import write_shown_labels
from ovdiff_web.predictions.segment_page import stored_prototype_index
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.polygons import export_name

if TYPE_CHECKING:
    import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
EXPLAIN_DIR = "explain"


class ImageRefused(ServiceError, ValueError):
    """One input image (named by ``item``) is unusable; nothing of the request is kept."""

    code = "image_refused"
    field = "files"

    def __init__(self, item: str, message: str, status: int = 400) -> None:
        super().__init__(f"{item}: {message}")
        self.item = item
        self.status = status
        self.extra = {"item": item}


def run_dir(run_id: int) -> Path:

    return shard_run_dir(run_id)


def _staging() -> Path:
    root = Path(settings.MEDIA_ROOT) / "tmp" / f"predict-{uuid.uuid4().hex}"
    root.mkdir(parents=True)
    return root


def _safe_stem(name: str) -> str:
    """A file stem fit for an image id: the upload's base name, other characters than ``[\\w.-]`` replaced."""
    stem = PurePosixPath(name.replace("\\", "/")).stem or "image"
    return re.sub(r"[^\w.-]+", "_", stem).strip("._")[:100] or "image"


def _keep_image(source: Path, item: str, staging: Path, taken: set[str]) -> str:
    """Decode ``source`` (bounded pixels, no model) and store it as ``staging/<id>``; returns the id."""
    from PIL import Image

    from engine.images import load_image

    if source.stat().st_size == 0:
        raise ImageRefused(item, "empty file (0 bytes)")
    try:
        image = load_image(source, settings.OVDIFF_PREDICT_MAX_PIXELS, limit_setting="OVDIFF_PREDICT_MAX_PIXELS")
    except BadInputError as exc:
        raise ImageRefused(item, exc.detail.replace(str(source), item)) from None  # the name once, as item
    stem, n = _safe_stem(item), 1
    image_id = f"{stem}.png"
    while image_id.lower() in taken:
        n += 1
        image_id = f"{stem}-{n}.png"
    taken.add(image_id.lower())
    Image.fromarray(image).save(staging / image_id, format="PNG")
    return image_id


def stage_uploads(files: Iterable[Any], archive: Any | None) -> tuple[Path, list[str]]:
    """Validate uploaded image files and/or one zip of images into a new staging folder: (folder, image ids).

    ``ImageRefused`` names the first unusable image, ``uploads.ZipRejected`` a hostile archive; either way the
    staging folder is already gone."""

    staging = _staging()
    taken: set[str] = set()
    ids: list[str] = []
    budget = settings.OVDIFF_MAX_UPLOAD_MB * 1024 * 1024
    try:
        for upload in files:
            name = PurePosixPath((getattr(upload, "name", "") or "upload").replace("\\", "/")).name
            budget -= int(getattr(upload, "size", 0) or 0)
            if budget < 0:
                raise ImageRefused(name,
                                   f"the uploaded files together exceed {settings.OVDIFF_MAX_UPLOAD_MB} MB "
                                   "(OVDIFF_MAX_UPLOAD_MB)", status=413)
            raw = staging / f".upload-{uuid.uuid4().hex}"
            with open(raw, "wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            ids.append(_keep_image(raw, name, staging, taken))
            raw.unlink()
        if archive is not None:
            extracted = extract_zip(archive, staging / ".zip")
            for path in sorted(p for p in extracted.rglob("*") if p.is_file()):
                rel = path.relative_to(extracted).as_posix()
                if path.suffix.lower() not in IMAGE_EXTS:
                    raise ImageRefused(rel, f"not an image (expected one of {', '.join(IMAGE_EXTS)})")
                ids.append(_keep_image(path, rel, staging, taken))
            shutil.rmtree(staging / ".zip")
        limit = settings.OVDIFF_PREDICT_MAX_IMAGES
        if len(ids) > limit:
            raise ImageRefused("files", f"{len(ids)} images; at most {limit} per prediction job")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, ids


def commit_uploads(staging: Path, run_id: int) -> str:
    """Move validated uploads into ``runs/<id>/images`` and return that folder (the job's ``image_root``)."""
    target = run_dir(run_id) / "images"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    try:
        media_store.publish(target)  # workers on other machines fetch it (marker last)
    except BaseException:  # bucket down: the caller rolls the row back, so the moved images go too
        discard(target)
        raise
    return str(target)


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def folder_images(root: Path) -> list[str]:
    """Image files under a server folder (relative POSIX paths, sorted): a folder of images without masks."""
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    return found


def load_input_image(run: Any, image_id: str) -> np.ndarray:
    """The image a prediction job segments: from its folder (uploads, server folder) or its registered dataset."""
    from engine.images import load_image

    if not run.image_root:
        return load_dataset_image(run, image_id)
    root = Path(run.image_root)
    if media_store.configured() and root.parts[-3:] == ("runs", str(run.pk), "images"):  # uploaded: this machine's copy
        media_store.fetch_tree(f"runs/{run.pk}/images")
        root = run_dir(run.pk) / "images"
    return load_image(confine(root / image_id, [root]), settings.OVDIFF_PREDICT_MAX_PIXELS)


def write_outputs(run_id: int, image_id: str, image: np.ndarray, seg: Any) -> dict[str, str]:
    """Label PNG + overlay (the engine's prediction files), legend-index labels and the explanation arrays;
    returns the MEDIA_ROOT-relative ``prediction`` and ``overlay`` paths. Atomic: a re-delivery rewrites them."""
    import numpy as np
    from engine.evaluation.predictions import prediction_name, write_prediction

    out = run_dir(run_id)
    paths = write_prediction(out, image_id, image, seg.labels, len(seg.label_names))
    shown = write_shown_labels(out, image_id, seg.labels)
    index = stored_prototype_index(seg)
    arrays = {**{f"w_{k}": v for k, v in seg.winners.items()}, **{f"s_{k}": v for k, v in seg.winner_scores.items()},
              "index": np.array(json.dumps(index))}
    name = prediction_name(image_id).removesuffix(".png") + ".npz"
    atomic_write(out / EXPLAIN_DIR / name, lambda tmp: _save_npz(tmp, arrays))
    for path in (*paths.values(), shown, out / EXPLAIN_DIR / name):
        media_store.publish(path)  # the dashboard may run on another machine
    media = Path(settings.MEDIA_ROOT)
    return {k: p.relative_to(media).as_posix() for k, p in paths.items()}


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import numpy as np

    with open(path, "wb") as fh:  # a file object: numpy would append ".npz" to the temp name
        np.savez_compressed(fh, **arrays)


def read_explain(run_id: int, image_id: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """(winners, winner scores, prototype index) stored for one image; LookupError when absent."""
    import numpy as np
    from engine.evaluation.predictions import prediction_name

    path = media_path(f"runs/{run_id}/{EXPLAIN_DIR}/{prediction_name(image_id).removesuffix('.png')}.npz")
    if not path.is_file():
        raise LookupError(f"no explanation stored for {image_id!r}")
    with np.load(path) as arrays:
        winners = {k[2:]: arrays[k] for k in arrays.files if k.startswith("w_")}
        scores = {k[2:]: arrays[k] for k in arrays.files if k.startswith("s_")}
        index = json.loads(str(arrays["index"]))
    return winners, scores, index


def write_support_keys(run_id: int, keys: dict[str, str]) -> None:
    """``support_keys.json``: class -> support-set key, so an explanation finds the support image it points to."""
    path = atomic_write(run_dir(run_id) / "support_keys.json", lambda tmp: tmp.write_text(json.dumps(keys)))
    media_store.publish(path)


def read_support_keys(run_id: int) -> dict[str, str]:
    path = media_path(f"runs/{run_id}/support_keys.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def labels_zip(entries: Iterable[tuple[str, str]], legend: dict[str, Any]) -> bytes:
    """A zip of label PNGs (``(archive name, MEDIA_ROOT-relative path)``) plus ``legend.json``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, rel in entries:
            path = media_path(rel)
            if path.is_file():
                zf.write(path, arcname)
        zf.writestr("legend.json", json.dumps(legend, indent=2))
    return buf.getvalue()


def iter_label_files(results: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """(archive name, relative path) of each result's label PNG: ``labels/<image name without extension>.png``
    (``labels/a.png.png`` for the second of ``a.jpg`` and ``a.png``, see ``polygons.export_name``)."""
    taken: set[str] = set()
    for r in results:
        if r.prediction:
            yield export_name("labels", r.image_id, ".png", taken), r.prediction
