"""A real-photo few-shot set: photographs that installed packages ship, with hand-drawn masks of several classes.

The photos come from scikit-image (``skimage.data``), scikit-learn (``load_sample_image``) and matplotlib's
sample data, read at run time (never stored in the repository, nothing downloaded); the masks are polygons in
``engine/data/photo_set.json``, painted in order (a later region over an earlier one); ``ignore`` regions are not
scored, every other pixel is background. A *view* is a photo or a box of it (a photo whose class appears nowhere
else is cut into two views that do not overlap); views are the targets.

Protocol (``support_views``): the support crops of a class for a target view come from views of *other* photos
(the stereo partner counts as another photo); only a class no other photo shows takes them from the other views of
the same photo. A support crop is the class's bounding box in that view with a margin (as a person would crop an
example), with the class's mask as fg and everything but the class and the ignored pixels as bg.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from engine.errors import BadInputError

SET_FILE = Path(__file__).resolve().parents[1] / "data" / "photo_set.json"
IGNORE = 255
BACKGROUND = "background"
CROP_MARGIN = 0.15  # of the class box's side, each way
DESCRIPTION = (
    "Real photographs shipped by installed packages (scikit-image: astronaut, rocket, chelsea, coffee, the "
    "Middlebury stereo motorcycle pair; scikit-learn: china.jpg, flower.jpg; matplotlib: grace_hopper.jpg), read "
    "from those packages at run time; masks hand-drawn for ovdiff (engine/data/photo_set.json). Support crops of a "
    "class come from other photos than the target (or, for a class only one photo shows, from the other half of "
    "that photo)."
)


@dataclass(frozen=True)
class View:
    """A target (or support-only) image: a photo or a box of it, with its label map over ``PhotoSet.classes``."""

    name: str
    photo: str
    source: str
    image: np.ndarray  # uint8 (H, W, 3)
    labels: np.ndarray  # uint8 (H, W): 0 background, i + 1 = PhotoSet.classes[i], IGNORE not scored
    classes: tuple[str, ...]  # the classes this view is segmented with (its vocabulary)
    support_only: bool = False


@dataclass(frozen=True)
class PhotoSet:
    classes: tuple[str, ...]  # every class, in first-appearance order (label i + 1)
    views: tuple[View, ...]
    licences: dict[str, str]  # photo source -> licence

    @property
    def targets(self) -> list[View]:
        return [v for v in self.views if not v.support_only]

    def view(self, name: str) -> View:
        for v in self.views:
            if v.name == name:
                return v
        raise BadInputError("no such view in the photo set", name)

    def class_mask(self, view: View, cls: str) -> np.ndarray:
        return view.labels == self.classes.index(cls) + 1


def read_photo(source: str) -> np.ndarray:
    """uint8 (H, W, 3) of ``package:name[:index]``; a missing package is a ``BadInputError`` naming it."""
    package, _, rest = source.partition(":")
    try:
        if package == "skimage":
            from skimage import data

            name, _, index = rest.partition(":")
            out = getattr(data, name)()
            image = out[int(index)] if index else out
        elif package == "sklearn":
            from sklearn.datasets import load_sample_image

            image = load_sample_image(rest)
        elif package == "matplotlib":
            import matplotlib.cbook

            with Image.open(matplotlib.cbook.get_sample_data(rest)) as im:
                image = np.asarray(im.convert("RGB"))
        else:
            raise BadInputError("unknown photo package (skimage, sklearn, matplotlib)", source)
    except (ImportError, FileNotFoundError) as exc:
        raise BadInputError(f"photo not available: install {package} ({exc})", source) from exc
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


def paint(regions: list, classes: list[str], height: int, width: int) -> np.ndarray:
    """Label map of ``regions`` ([name, polygon] in painting order); adds unseen names to ``classes``."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for name, polygon in regions:
        if name == "ignore":
            value = IGNORE
        else:
            if name not in classes:
                classes.append(name)
            value = classes.index(name) + 1
        draw.polygon([tuple(p) for p in polygon], fill=value)
    return np.asarray(canvas, dtype=np.uint8)


def load_photo_set(path: Path | str = SET_FILE, only: tuple[str, ...] | None = None) -> PhotoSet:
    """Every view of the set (or the named ones and the support views their protocol needs are still loaded)."""
    spec: dict[str, Any] = json.loads(Path(path).read_text())
    classes: list[str] = []
    photos, labels, licences = {}, {}, {}
    for name, entry in spec["photos"].items():
        photos[name] = read_photo(entry["source"])
        labels[name] = paint(entry["regions"], classes, *photos[name].shape[:2])
        licences[entry["source"]] = entry["licence"]
    views = []
    for name, entry in spec["views"].items():
        image, lab = photos[entry["photo"]], labels[entry["photo"]]
        x0, y0, x1, y1 = entry.get("box") or (0, 0, image.shape[1], image.shape[0])
        views.append(View(name, entry["photo"], spec["photos"][entry["photo"]]["source"],
                          image[y0:y1, x0:x1].copy(), lab[y0:y1, x0:x1].copy(), tuple(entry["classes"]),
                          bool(entry.get("support_only"))))
    if only is not None:
        unknown = set(only) - {v.name for v in views}
        if unknown:
            raise BadInputError("no such view in the photo set", ", ".join(sorted(unknown)))
    return PhotoSet(tuple(classes), tuple(views), licences)


def support_views(ps: PhotoSet, target: View, cls: str, n: int = 2) -> list[View]:
    """Up to ``n`` views that support ``cls`` for ``target`` under the set's protocol (see the module doc)."""
    has = [v for v in ps.views if v.name != target.name and cls in v.classes and ps.class_mask(v, cls).any()]
    other = [v for v in has if v.photo != target.photo]
    return (other or has)[:n]


def class_crop(ps: PhotoSet, view: View, cls: str, margin: float = CROP_MARGIN) -> tuple[np.ndarray, ...]:
    """(image, fg, bg) of ``cls``'s box in ``view`` grown by ``margin``; bg leaves out the class and ignored pixels."""
    fg = ps.class_mask(view, cls)
    ys, xs = np.nonzero(fg)
    if ys.size == 0:
        raise BadInputError(f"class {cls!r} has no pixel in this view", view.name)
    h, w = fg.shape
    my, mx = int(margin * (ys.max() - ys.min() + 1)), int(margin * (xs.max() - xs.min() + 1))
    y0, y1 = max(0, ys.min() - my), min(h, ys.max() + 1 + my)
    x0, x1 = max(0, xs.min() - mx), min(w, xs.max() + 1 + mx)
    box = (slice(y0, y1), slice(x0, x1))
    bg = ~fg & (view.labels != IGNORE)
    return view.image[box].copy(), fg[box].copy(), bg[box].copy()


def write_support_folders(ps: PhotoSet, target: View, root: Path | str, n: int = 2,
                          masks: bool = True) -> dict[str, Path]:
    """One user support folder per class of ``target``: the crops, with ``masks`` also ``masks/<stem>.png`` (fg)
    and ``masks/<stem>_bg.png``; without, the crops alone (the proposer makes the masks)."""
    out = {}
    for cls in target.classes:
        folder = Path(root) / target.name / cls
        folder.mkdir(parents=True, exist_ok=True)
        for v in support_views(ps, target, cls, n):
            image, fg, bg = class_crop(ps, v, cls)
            Image.fromarray(image).save(folder / f"{v.name}.png")
            if not masks:
                continue
            (folder / "masks").mkdir(exist_ok=True)
            Image.fromarray(fg.astype(np.uint8) * 255).save(folder / "masks" / f"{v.name}.png")
            Image.fromarray(bg.astype(np.uint8) * 255).save(folder / "masks" / f"{v.name}_bg.png")
        out[cls] = folder
    return out


def global_labels(ps: PhotoSet, target: View, local: np.ndarray) -> np.ndarray:
    """A prediction over ``target.classes`` (0 background, i + 1 = target.classes[i]) in the set's label space."""
    lut = np.array([0] + [ps.classes.index(c) + 1 for c in target.classes], dtype=np.int64)
    return lut[np.asarray(local, dtype=np.int64)]


class Scores:
    """Dataset-level confusion over background + every class (ignored pixels left out); IoU per class seen."""

    def __init__(self, ps: PhotoSet) -> None:
        self.names = (BACKGROUND, *ps.classes)
        self.cm = np.zeros((len(self.names), len(self.names)), dtype=np.int64)

    def add(self, truth: np.ndarray, pred: np.ndarray) -> None:
        keep = truth != IGNORE
        k = len(self.names)
        self.cm += np.bincount(truth[keep].astype(np.int64) * k + pred[keep], minlength=k * k).reshape(k, k)

    def per_class(self) -> dict[str, float]:
        tp = np.diag(self.cm).astype(float)
        union = self.cm.sum(0) + self.cm.sum(1) - tp
        return {n: float(tp[i] / union[i]) for i, n in enumerate(self.names) if self.cm[i].sum() > 0}

    @property
    def miou(self) -> float:
        vals = list(self.per_class().values())
        return float(np.mean(vals)) if vals else 0.0


def write_folder_dataset(ps: PhotoSet, root: Path | str, targets: tuple[str, ...]) -> list[str]:
    """The named views as a folder dataset (images/, masks/ of class indices, classes.txt with background first)
    over the union of their classes; returns the class list (background first)."""
    root = Path(root)
    views = [ps.view(t) for t in targets]
    names = [c for c in ps.classes if any(c in v.classes for v in views)]
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    lut = np.full(256, IGNORE, dtype=np.uint8)
    lut[0] = 0
    for i, c in enumerate(ps.classes):
        if c in names:
            lut[i + 1] = names.index(c) + 1
    for v in views:
        Image.fromarray(v.image).save(root / "images" / f"{v.name}.png")
        Image.fromarray(lut[v.labels]).save(root / "masks" / f"{v.name}.png")
    (root / "classes.txt").write_text("\n".join([BACKGROUND, *names]) + "\n")
    return [BACKGROUND, *names]
