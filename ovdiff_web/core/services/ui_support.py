"""Read-side helpers the dashboard needs and the API does not: label-map PNGs for overlays, the images behind a
confusion cell, exports, settings diffs, and which runs a thing/stuff label change makes stale.

Nothing here changes state the worker owns; writes go through the other service modules.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from django.conf import settings
from django.db.models import F
from PIL import Image

from ovdiff_web.core.models import ImageResult, Run, VocabularyClass, is_random_profile
from ovdiff_web.core.services.paths import PathNotAllowed, media_path

IGNORE_INDEX = 255
MAX_CELL_SCAN = 400  # images scanned to answer "which images are behind this confusion cell"


# --- datasets and label maps --------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _open(fmt: str, root: str, split: str, protocol: str) -> Any:
    from ovdiff_web.core.services.engine_bridge import open_dataset

    return open_dataset(fmt, root, split, protocol or None, check_files=False)


def dataset_sample(run: Run, image_id: str) -> tuple[Any, Any]:
    """(SegDataset, Sample) of one image of a run; LookupError when the dataset or the sample is gone."""
    ds = run.dataset
    if ds is None:
        raise LookupError("the run's dataset was deleted")
    seg = _open(ds.format, ds.root, ds.split or "val", ds.protocol or "")
    for sample in seg.samples:
        if sample.id == image_id:
            return seg, sample
    raise LookupError(f"image {image_id!r} is not in dataset {ds.name!r}")


def load_prediction(result: ImageResult) -> np.ndarray:
    """The stored prediction (dataset label indices) of one image."""
    from engine.images import load_label_png

    if not result.prediction:
        raise LookupError(f"no prediction stored for {result.image_id!r}")
    try:
        path = media_path(result.prediction)
    except PathNotAllowed as exc:
        raise LookupError(str(exc)) from None
    if not path.is_file():
        raise LookupError(f"prediction file of {result.image_id!r} is missing")
    return load_label_png(path)


def load_ground_truth(run: Run, image_id: str) -> np.ndarray:
    seg, sample = dataset_sample(run, image_id)
    return seg.load(sample)[1]


def load_dataset_image(run: Run, image_id: str) -> np.ndarray:
    seg, sample = dataset_sample(run, image_id)
    from engine.images import load_image

    return load_image(sample.image_path, seg.max_pixels, apply_exif=seg.exif_transpose)


def parse_hidden(raw: str | None, limit: int = 65536) -> set[int]:
    """``"1,4,7"`` -> {1, 4, 7}; anything that is not a small non-negative int is ignored."""
    out: set[int] = set()
    for part in (raw or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) < limit:
            out.add(int(part))
    return out


def mask_rgba_png(labels: np.ndarray, hidden: Iterable[int] = ()) -> bytes:
    """Label map -> transparent PNG in the VOC palette; ignored and hidden classes are fully transparent."""
    from engine.images import colorize

    labels = np.asarray(labels).astype(np.int64)
    rgba = np.zeros(labels.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = colorize(labels)
    visible = labels != IGNORE_INDEX
    for idx in hidden:
        visible &= labels != idx
    rgba[..., 3] = np.where(visible, 255, 0).astype(np.uint8)
    return png_bytes(rgba)


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def palette_hex(n: int) -> list[str]:
    """CSS colours of the first ``n`` label indices (legend swatches)."""
    from engine.images import voc_palette

    return ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in voc_palette(256)[:n]]


def images_in_cell(run: Run, gt: int, pred: int, limit: int = 60) -> tuple[list[tuple[ImageResult, int]], int]:
    """Images with pixels of ground-truth ``gt`` predicted as ``pred``: [(result, pixel count)] most first,
    and how many images were scanned (bounded by MAX_CELL_SCAN so the page stays fast)."""
    found: list[tuple[ImageResult, int]] = []
    scanned = 0
    for result in run.image_results.exclude(prediction="").order_by("iou", "image_id")[:MAX_CELL_SCAN]:
        scanned += 1
        try:
            p = load_prediction(result)
            g = load_ground_truth(run, result.image_id)
        except (LookupError, OSError, ValueError):
            continue
        if p.shape != g.shape:
            continue
        count = int(((g == gt) & (p == pred)).sum())
        if count:
            found.append((result, count))
    found.sort(key=lambda item: -item[1])
    return found[:limit], scanned


# --- runs: labels changed since, settings, exports ------------------------------------------------------------

def changed_labels(run: Run) -> list[dict[str, Any]]:
    """Classes whose thing/stuff label differs now from what the run used: the run's results are stale."""
    ids = [e.get("class_id") for e in run.vocabulary_snapshot or [] if e.get("class_id")]
    if not ids:
        return []
    current = {c.pk: c for c in VocabularyClass.objects.filter(pk__in=ids).select_related("label_changed_by")}
    out = []
    for entry in run.vocabulary_snapshot:
        cls = current.get(entry.get("class_id"))
        if cls is not None and bool(entry.get("is_stuff")) != cls.is_stuff:
            out.append({"name": cls.name, "was_stuff": bool(entry.get("is_stuff")), "is_stuff": cls.is_stuff,
                        "by": cls.label_changed_by, "at": cls.label_changed_at})
    return out


def runs_affected_by(cls: VocabularyClass) -> list[Run]:
    """Runs that used a different thing/stuff label for this class than the current one."""
    runs = Run.objects.filter(vocabulary_id=cls.vocabulary_id).only("id", "vocabulary_snapshot", "status", "created_at")
    out = []
    for run in runs:
        for entry in run.vocabulary_snapshot or []:
            if entry.get("class_id") == cls.pk and bool(entry.get("is_stuff")) != cls.is_stuff:
                out.append(run)
                break
    return out


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings -> {"a.b.c": value} (lists kept whole): easy to show and to diff."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def settings_diff(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Every flattened setting with its value per run and whether the runs disagree."""
    flats = [flatten({"profile": r.profile, "limit": r.limit, **(r.settings or {})}) for r in runs]
    keys = sorted(set().union(*[f.keys() for f in flats])) if flats else []
    missing = object()
    rows = []
    for key in keys:
        values = [f.get(key, missing) for f in flats]
        shown = ["—" if v is missing else json.dumps(v) if not isinstance(v, str) else v for v in values]
        rows.append({"key": key, "values": shown, "differs": len(set(shown)) > 1})
    return rows


def per_class_rows(run: Run) -> list[dict[str, Any]]:
    """[{index, name, iou}] in label order; IoU None for classes absent from prediction and ground truth."""
    per = run.per_class_iou or {}
    return [{"index": i, "name": name, "iou": per.get(name)} for i, name in enumerate(run.class_names or [])]


def metrics_payload(run: Run) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "run": run.pk, "status": run.status, "profile": run.profile, "dataset": run.dataset.name if run.dataset else None,
        "vocabulary": run.vocabulary.name if run.vocabulary else None, "miou": run.miou,
        "pixel_accuracy": run.pixel_accuracy, "class_names": run.class_names, "per_class_iou": run.per_class_iou,
        "confusion": run.confusion, "settings": run.settings,
        "images": [{"image_id": r.image_id, "iou": r.iou, "pixel_accuracy": r.pixel_accuracy}
                   for r in run.image_results.order_by("image_id")],
    }
    if run.is_random_weights:
        payload["random_weights"] = True
        payload["random_weights_note"] = run.random_weights_note
    return payload


def metrics_csv(run: Run) -> str:
    """Per-class IoU then per-image IoU; a comment line first when the output is from random weights."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    if run.is_random_weights:
        writer.writerow([f"# {run.random_weights_note}"])
    writer.writerow(["kind", "name", "iou"])
    writer.writerow(["mean", "mIoU", "" if run.miou is None else f"{run.miou:.6f}"])
    for row in per_class_rows(run):
        writer.writerow(["class", row["name"], "" if row["iou"] is None else f"{row['iou']:.6f}"])
    for r in run.image_results.order_by("image_id"):
        writer.writerow(["image", r.image_id, "" if r.iou is None else f"{r.iou:.6f}"])
    return buf.getvalue()


def predictions_zip(run: Run) -> Path:
    """A zip of the run's palette PNG predictions (+ metrics.json) in a temp file under MEDIA_ROOT/tmp."""
    tmp_dir = Path(settings.MEDIA_ROOT) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    target = tmp_dir / f"run-{run.pk}-predictions-{np.random.default_rng().integers(1 << 62):x}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for r in run.image_results.exclude(prediction="").order_by("image_id"):
            try:
                path = media_path(r.prediction)
            except PathNotAllowed:
                continue
            if path.is_file():
                zf.write(path, arcname=f"predictions/{Path(r.image_id).name}.png")
        zf.writestr("metrics.json", json.dumps(metrics_payload(run), indent=2, default=str))
        if run.is_random_weights:
            zf.writestr("RANDOM_WEIGHTS.txt", run.random_weights_note + "\n")
    return target


# --- vocabulary classes: prompt renames, own support images, support sets ---------------------------------

def set_prompt(cls: VocabularyClass, *, prompt: str, expected_version: int) -> VocabularyClass:
    """Rename the generator prompt; compare-and-swap on ``version`` like ``vocab.set_label``."""
    from ovdiff_web.core.services.vocab import VersionConflict

    prompt = " ".join(prompt.split())
    if prompt == cls.name:
        prompt = ""
    updated = VocabularyClass.objects.filter(pk=cls.pk, version=expected_version).update(
        prompt=prompt, version=F("version") + 1)
    if not updated:
        raise VersionConflict(VocabularyClass.objects.values_list("version", flat=True).get(pk=cls.pk))
    cls.vocabulary.bump_version()
    cls.refresh_from_db()
    return cls


def import_dataset_classes(vocabulary: Any, dataset: Any) -> tuple[list[VocabularyClass], list[str]]:
    """Add a dataset's classes (not its background) with the dataset's generator prompts."""
    from ovdiff_web.core.services.vocab import add_classes

    names = list(dataset.class_names or [])
    prompts = list(dataset.prompts or names)
    start = 1 if dataset.has_background and names and names[0] == "background" else 0
    prompt_of = {n.lower(): p for n, p in zip(names[start:], prompts[start:])}
    created, skipped = add_classes(vocabulary, names[start:])
    for cls in created:
        prompt = prompt_of.get(cls.name.lower(), "")
        if prompt and prompt != cls.name:
            VocabularyClass.objects.filter(pk=cls.pk).update(prompt=prompt)
            cls.prompt = prompt
    return created, skipped


MAX_SUPPORT_UPLOADS = 64


def save_user_support_images(cls: VocabularyClass, files: Sequence[Any]) -> int:
    """Validate each upload with the engine's image loader, store them as PNGs in a fresh folder under
    MEDIA_ROOT/user_support and point the class at it (its support key changes, so artifacts rebuild).

    Raises ``engine.errors.BadInputError`` naming the first unusable file; nothing is kept in that case.
    """
    import shutil
    import tempfile
    import uuid

    from engine.errors import BadInputError
    from engine.images import load_image
    from ovdiff_web.core.services.paths import media_relative

    if not files:
        raise BadInputError("no images uploaded")
    if len(files) > MAX_SUPPORT_UPLOADS:
        raise BadInputError(f"{len(files)} images; at most {MAX_SUPPORT_UPLOADS} per upload")
    media = Path(settings.MEDIA_ROOT)
    parent = media / "user_support" / str(cls.pk)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=parent))
    try:
        for i, upload in enumerate(files):
            raw = staging / f"raw-{i}"
            with open(raw, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                array = load_image(raw)
            except BadInputError as exc:
                raise BadInputError(str(exc).split(": ", 1)[-1], item=getattr(upload, "name", f"file {i}")) from None
            raw.unlink()
            Image.fromarray(array).save(staging / f"{i:03d}.png", format="PNG")
        final = parent / uuid.uuid4().hex
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    VocabularyClass.objects.filter(pk=cls.pk).update(user_support_dir=media_relative(final),
                                                     version=F("version") + 1)
    cls.vocabulary.bump_version()
    cls.refresh_from_db()
    return len(files)


def support_sets_for(cls: VocabularyClass) -> Any:
    """Support sets built for this class's name and text (any profile), newest first, with images and banks.

    A generated set stores the generator prompt (the profile's template around the class text, e.g. "A good photo
    of a cat"); a user folder stores the bare text. Both forms are matched."""
    from ovdiff_web.core.models import PROFILE_CHOICES, SupportSet
    from ovdiff_web.core.services.engine_bridge import build_config

    prompts = {cls.text}
    for profile, _ in PROFILE_CHOICES:
        prompts.add(build_config(profile).support.prompt_template.format(cls.text.strip()))
    return (SupportSet.objects.filter(class_name=cls.name, prompt__in=prompts)
            .prefetch_related("images", "banks").order_by("-created_at"))


SUPPORT_LAYERS = ("attribution", "fg_mask", "bg_mask")


def support_layer_png(path: Path, layer: str) -> bytes:
    """A transparent overlay from a stored grayscale PNG: attribution as a heat map, fg red, bg blue."""
    grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
    rgba = np.zeros(grey.shape + (4,), dtype=np.uint8)
    if layer == "attribution":
        rgba[..., 0] = np.clip(grey * 2.0, 0, 1) * 255
        rgba[..., 1] = np.clip(grey * 2.0 - 1.0, 0, 1) * 255
        rgba[..., 2] = np.clip(1.0 - grey * 2.0, 0, 1) * 96
        rgba[..., 3] = (60 + 195 * grey).astype(np.uint8)
    else:
        colour = (255, 40, 40) if layer == "fg_mask" else (40, 90, 255)
        rgba[..., :3] = colour
        rgba[..., 3] = np.where(grey > 0.5, 255, 0).astype(np.uint8)
    return png_bytes(rgba)


# --- segment one uploaded image, keep what the click-to-explain needs ----------------------------------------

SEGMENT_DIR = "segment"


@lru_cache(maxsize=2)
def _engine_for(profile: str) -> Any:
    """One OVDiff per profile per web process: models load once, artifacts come from the shared store."""
    from ovdiff_web.core.services import engine_bridge

    config = engine_bridge.build_config(profile)
    return engine_bridge.make_ovdiff(config, engine_bridge.make_registry(profile), engine_bridge.make_store())


def segment_upload(upload: Any, class_names: Sequence[str], profile: str) -> str:
    """Segment an uploaded image with ``class_names`` (labeller thing/stuff) and store image, labels and
    explanation under MEDIA_ROOT/segment/<id>/; returns the id. BadInputError names unusable input."""
    import uuid

    from engine.images import load_image, save_label_png
    from engine.types import ClassSpec
    from ovdiff_web.core.services.vocab import label_class

    token = uuid.uuid4().hex
    out = Path(settings.MEDIA_ROOT) / SEGMENT_DIR / token
    out.mkdir(parents=True)
    raw = out / "upload"
    with open(raw, "wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    image = load_image(raw)
    raw.unlink()
    Image.fromarray(image).save(out / "image.png")
    classes = [ClassSpec(name=n, is_stuff=label_class(n)[0]) for n in class_names]
    ovd = _engine_for(profile)
    seg = ovd.segment(image, classes, explain=True)
    save_label_png(seg.labels, out / "labels.png")
    np.savez_compressed(out / "explain.npz", **{f"w_{k}": v for k, v in seg.winners.items()},
                        **{f"s_{k}": v for k, v in seg.winner_scores.items()})
    support_urls: dict[str, dict[int, str]] = {}
    for spec in classes:
        sset = ovd.support_set(spec)
        support_urls[spec.name] = {}
        for im in sset.images:
            rel = f"{SEGMENT_DIR}/{token}/support/{len(support_urls)}_{im.index}.png"
            (out / "support").mkdir(exist_ok=True)
            Image.fromarray(im.image).save(Path(settings.MEDIA_ROOT) / rel)
            support_urls[spec.name][im.index] = rel
    meta = {
        "profile": profile, "class_names": seg.class_names, "selected": seg.selected, "support": support_urls,
        "prototype_index": {e: [[owner, src.kind, src.mask, src.image_index, src.cluster, src.box, src.size]
                                for owner, src in entries] for e, entries in seg.prototype_index.items()},
    }
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def segment_result(token: str) -> dict[str, Any]:
    """The stored result of ``segment_upload``; LookupError when it does not exist."""
    if not token.isalnum():
        raise LookupError("no such segmentation")
    out = Path(settings.MEDIA_ROOT) / SEGMENT_DIR / token
    if not (out / "meta.json").is_file():
        raise LookupError("no such segmentation")
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    meta.update(token=token, image=f"{SEGMENT_DIR}/{token}/image.png", labels=f"{SEGMENT_DIR}/{token}/labels.png")
    return meta


def explain_stored_pixel(token: str, x: int, y: int) -> dict[str, Any]:
    """Which prototype decided pixel (x, y) of a stored segmentation, and the support region it came from."""
    from engine.errors import BadInputError
    from engine.segment.explain import explain_pixel
    from engine.images import load_label_png
    from engine.types import ProtoSource, Segmentation

    meta = segment_result(token)
    out = Path(settings.MEDIA_ROOT) / SEGMENT_DIR / token
    labels = load_label_png(out / "labels.png")
    arrays = np.load(out / "explain.npz")
    winners = {k[2:]: arrays[k] for k in arrays.files if k.startswith("w_")}
    scores = {k[2:]: arrays[k] for k in arrays.files if k.startswith("s_")}
    index = {e: [(owner, ProtoSource(kind=kind, mask=mask, image_index=img, cluster=cl,
                                     box=tuple(box) if box else None, size=size))
                 for owner, kind, mask, img, cl, box, size in entries]
             for e, entries in meta["prototype_index"].items()}
    seg = Segmentation(labels=labels, class_names=meta["class_names"], winners=winners, prototype_index=index,
                       winner_scores=scores)
    try:
        explanations = explain_pixel(seg, x, y)
    except BadInputError as exc:
        raise LookupError(str(exc)) from None
    items = []
    for e in explanations:
        rel = meta["support"].get(e.prototype_class, {}).get(str(e.source.image_index)) \
            if e.source.image_index is not None else None
        items.append({"extractor": e.extractor, "score": e.score, "prototype_class": e.prototype_class,
                      "prototype_index": e.prototype_index, "kind": e.source.kind, "mask": e.source.mask,
                      "image_index": e.source.image_index, "box": e.source.box, "support_image": rel})
    return {"x": x, "y": y, "class_name": meta["class_names"][int(labels[y, x])], "explanations": items,
            "random_weights": is_random_profile(meta["profile"])}
