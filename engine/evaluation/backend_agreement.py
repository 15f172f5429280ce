"""Do two DINO backends (``runtime.dino_backend``) give the same labels? Few-shot segmentation of real photos.

``compare_on_photo_set`` (the check the profile's CPU runtime is held to): the real-photo set
(``engine.evaluation.photo_set``, several classes per photo) under its own protocol, support crops from other photos
with their hand-drawn masks (``engine.evaluation.photo_eval.target_classes``); every target is segmented with its
own classes by each backend, and the figures are the share of scored pixels (ignored ones left out) whose labels
agree, each backend's mIoU over the set (``photo_set.Scores``) and the token cosine on each target's first window.

``compare_backends`` (the earlier check, kept for its outline files) protocol (an agreement check between backends, not a quality figure): every photo's outlined object is a class;
its support image is the object's box cropped from the photo with a margin, with its mask (user support with masks
given, so MaskCut plays no part); every photo is then segmented with the whole vocabulary at the profile's windows.
Each backend builds its own prototype banks from its own features (as a user running that backend would) and
segments every photo; the figures are the share of pixels whose labels agree, the mIoU of each backend against
the outlines (background + one class per photo) and the cosine of the facet tokens on each photo.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

from engine.evaluation.metrics import ConfusionMatrix
from engine.pipeline import build_ovdiff
from engine.profiles import default_config
from engine.types import ClassSpec

SUPPORT_MARGIN = 0.15  # of the object's box side, on each side of the support crop


@dataclasses.dataclass(frozen=True)
class LabelledPhoto:
    name: str  # class name of its object
    image: np.ndarray  # uint8 (H, W, 3)
    mask: np.ndarray  # bool (H, W)


def outlined_photos(outlines: Sequence[Path | str]) -> list[LabelledPhoto]:
    """Photos bundled with scikit-image and their outlined object, from outline files in the format of
    tests/data/real_photos.json (``{"photos": {skimage.data name: {"polygon": [[x, y], ...]}}}``); more files,
    more photos. Grayscale photos become RGB. Nothing downloads: the photos ship in scikit-image's wheel."""
    from skimage import data

    out = []
    for path in outlines:
        for name, entry in json.loads(Path(path).read_text())["photos"].items():
            image = np.asarray(getattr(data, name)())
            image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
            canvas = Image.new("L", (image.shape[1], image.shape[0]), 0)
            ImageDraw.Draw(canvas).polygon([tuple(p) for p in entry["polygon"]], fill=1)
            out.append(LabelledPhoto(name, image.astype(np.uint8), np.asarray(canvas, dtype=bool)))
    return out


def write_support(photos: Sequence[LabelledPhoto], root: Path) -> list[ClassSpec]:
    """One support folder per photo (its object's box with a margin, and the mask); the class specs."""
    classes = []
    for p in photos:
        ys, xs = np.nonzero(p.mask)
        h, w = p.mask.shape
        my, mx = int(SUPPORT_MARGIN * (ys.max() - ys.min() + 1)), int(SUPPORT_MARGIN * (xs.max() - xs.min() + 1))
        y0, y1 = max(0, ys.min() - my), min(h, ys.max() + 1 + my)
        x0, x1 = max(0, xs.min() - mx), min(w, xs.max() + 1 + mx)
        folder = Path(root) / p.name
        (folder / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(p.image[y0:y1, x0:x1]).save(folder / "support.png")
        Image.fromarray(p.mask[y0:y1, x0:x1].astype(np.uint8) * 255).save(folder / "masks" / "support.png")
        classes.append(ClassSpec(name=p.name, user_support_dir=str(folder)))
    return classes


def _token_cosine(a: Any, b: Any, image: np.ndarray) -> np.ndarray:
    """Per-token cosine between two extractors' features of one photo (its first window size, square crop)."""
    import torch

    side = min(image.shape[:2])
    x = torch.from_numpy(np.ascontiguousarray(image[:side, :side])).permute(2, 0, 1)[None].float() / 255.0
    x = torch.nn.functional.interpolate(x, size=(448, 448), mode="bilinear", align_corners=False)
    fa, fb = a(x).flatten(2)[0], b(x).flatten(2)[0]
    return torch.nn.functional.cosine_similarity(fa, fb, dim=0).numpy()


def compare_backends(photos: Sequence[LabelledPhoto], workdir: Path, backends: Sequence[str],
                     profile: str = "dinov2-small", sources: dict[str, str] | None = None,
                     config: Any = None) -> dict[str, Any]:
    """Segment ``photos`` with each backend (the first is the reference); agreement, mIoU and token cosine.

    A backend is a ``runtime.dino_backend`` value, optionally with ``:<dino_int8_keep_fp32>`` (``onnx-int8:read``).
    """
    config = config or default_config(profile)
    classes = write_support(photos, Path(workdir) / "support")
    names = ["background"] + [p.name for p in photos]
    labels: dict[str, list[np.ndarray]] = {}
    out: dict[str, Any] = {"backends": list(backends), "photos": [p.name for p in photos], "miou": {},
                           "seconds": {}}
    extractors = {}
    for backend in backends:
        name, _, keep = backend.partition(":")
        runtime = dataclasses.replace(config.runtime, dino_backend=name)
        cfg = config.replace(runtime=dataclasses.replace(runtime, dino_int8_keep_fp32=keep) if keep else runtime)
        ovd = build_ovdiff(profile, Path(workdir) / f"store-{backend.replace(':', '-')}", config=cfg, sources=sources)
        segmenter = ovd.segmenter(classes)
        cm = ConfusionMatrix(len(names))
        t0 = time.perf_counter()
        labels[backend] = []
        for i, p in enumerate(photos):
            seg = segmenter(p.image)
            ids = np.array([names.index(n) for n in seg.label_names])[seg.labels]
            labels[backend].append(ids)
            cm.update(ids, np.where(p.mask, i + 1, 0))
        out["seconds"][backend] = time.perf_counter() - t0
        out["miou"][backend] = cm.miou()
        extractors[backend] = ovd.registry.extractor("dino", cfg.features)
    ref = backends[0]
    for backend in backends[1:]:
        same = sum(int((a == b).sum()) for a, b in zip(labels[ref], labels[backend]))
        total = sum(a.size for a in labels[ref])
        cos = np.concatenate([_token_cosine(extractors[ref], extractors[backend], p.image) for p in photos])
        out[backend] = {"label_agreement": same / total, "miou_diff": out["miou"][backend] - out["miou"][ref],
                        "token_cosine_min": float(cos.min()), "token_cosine_mean": float(cos.mean()),
                        "per_photo_agreement": {p.name: float((a == b).mean()) for p, a, b in
                                                zip(photos, labels[ref], labels[backend])}}
    return out


def _runtime_config(config: Any, backend: str) -> Any:
    name, _, keep = backend.partition(":")
    runtime = dataclasses.replace(config.runtime, dino_backend=name)
    return config.replace(runtime=dataclasses.replace(runtime, dino_int8_keep_fp32=keep) if keep else runtime)


def compare_on_photo_set(ps: Any, workdir: Path, backends: Sequence[str], profile: str = "dinov2-small",
                         sources: dict[str, str] | None = None, config: Any = None,
                         targets: Sequence[str] | None = None,
                         computed: dict[str, tuple[float, list[np.ndarray]]] | None = None) -> dict[str, Any]:
    """Segment the photo set's targets (or the named ones) with each backend (the first is the reference).

    ``computed`` maps a backend to ``(mIoU, labels per target)`` already made under this protocol (e.g. by
    ``photo_eval.profile_scores(masks=True)`` on that backend, with ``labels_out``): it is not segmented again."""
    import torch

    from engine.evaluation.photo_eval import target_classes
    from engine.evaluation.photo_set import IGNORE, Scores, global_labels
    from engine.pipeline import build_ovdiff
    from engine.profiles import default_config
    from engine.segment.windows import crop_batch, resize_short_side, window_boxes

    config = config or default_config(profile)
    views = [v for v in ps.targets if targets is None or v.name in targets]
    out: dict[str, Any] = {"backends": list(backends), "targets": [v.name for v in views], "miou": {},
                           "seconds": {}}
    labels: dict[str, list[np.ndarray]] = {}
    extractors = {}
    for backend in backends:
        cfg = _runtime_config(config, backend)
        ovd = build_ovdiff(profile, Path(workdir) / f"store-{backend.replace(':', '-')}", config=cfg, sources=sources)
        extractors[backend] = ovd.registry.extractor("dino", cfg.features)
        if computed and backend in computed:
            out["miou"][backend], labels[backend] = computed[backend][0], list(computed[backend][1])
            continue
        scores = Scores(ps)
        labels[backend] = []
        t0 = time.perf_counter()
        for v in views:
            classes = target_classes(ps, v, Path(workdir) / "support", masks=True)
            pred = global_labels(ps, v, ovd.segment(v.image, classes).labels)
            scores.add(v.labels, pred)
            labels[backend].append(pred)
        out["seconds"][backend] = time.perf_counter() - t0
        out["miou"][backend] = scores.miou
    ref = backends[0]
    first_windows = []
    for v in views:
        work = resize_short_side(v.image, config.segment.short_side, config.segment.short_side_rounding)
        img_t = torch.from_numpy(work).permute(2, 0, 1).float().div_(255.0)
        first_windows.append(crop_batch(img_t, window_boxes(work.shape[0], work.shape[1], config.segment)[:1]))
    for backend in backends[1:]:
        scored = [v.labels != IGNORE for v in views]
        same = sum(int(((a == b) & k).sum()) for a, b, k in zip(labels[ref], labels[backend], scored))
        total = sum(int(k.sum()) for k in scored)
        cos = []
        with torch.inference_mode():
            for x in first_windows:
                fa, fb = extractors[ref](x).flatten(2)[0], extractors[backend](x).flatten(2)[0]
                cos.append(torch.nn.functional.cosine_similarity(fa, fb, dim=0).numpy())
        allcos = np.concatenate(cos)
        out[backend] = {"label_agreement": same / total, "miou_diff": out["miou"][backend] - out["miou"][ref],
                        "token_cosine_min": float(allcos.min()), "token_cosine_mean": float(allcos.mean()),
                        "per_target_agreement": {v.name: float(((a == b) & k).sum() / k.sum()) for v, a, b, k in
                                                 zip(views, labels[ref], labels[backend], scored)}}
    return out
