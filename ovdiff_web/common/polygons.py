"""Label maps as polygons, for the exports teams import (COCO polygons, YOLO segmentation labels).

Contours are scikit-image's (``measure.find_contours`` at level 0.5, simplified by ``measure.approximate_polygon``
within half a pixel), not a tracer of ours. Coordinates are COCO's: pixel (column c, row r) covers
[c, c+1) x [r, r+1), so a polygon rasterised by pycocotools (``frPyObjects``) or any even-odd filler gives back the
region's pixels.

- One polygon per 4-connected region of a class (diagonal-only contact splits regions, as ``find_contours`` does).
- Regions under ``min_area`` pixels are left out (speckle, not objects).
- Holes: a hole of at least ``min_area`` pixels is cut into its region's polygon by a zero-width bridge from the
  hole's boundary to the nearest point of the outer boundary, so the single ring, filled even-odd (pycocotools,
  OpenCV ``fillPoly``, scikit-image ``draw.polygon``), leaves the hole empty; formats that take one ring per object
  (YOLO) keep it too. Smaller holes are filled, like the small regions they mirror.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable

from ovdiff_web.common.errors import InputError

if TYPE_CHECKING:
    import numpy as np

MIN_AREA = 16  # pixels: the default smallest region (and hole) kept
MAX_MIN_AREA = 1_000_000
SIMPLIFY_TOLERANCE = 0.25  # pixels: how far a simplified edge may stray from the contour (0.5 would shave corners)


@dataclass
class RegionPolygon:
    """One region: its ring as [x0, y0, x1, y1, ...] (COCO pixel coordinates), the pixels it covers (region plus
    filled small holes) and its bounding box [x, y, w, h]."""

    coords: list[float]
    area: int
    bbox: list[float]


def _ring(mask: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """The outer boundary of a padded single-component boolean mask as (x, y) points (closed: last = first)."""
    import numpy as np
    from skimage import measure

    contours = measure.find_contours(mask.astype(float), 0.5)
    contour = max(contours, key=len)  # a filled component has one closed contour; the longest is it
    simple = measure.approximate_polygon(contour, SIMPLIFY_TOLERANCE)
    if len(simple) >= 4:  # 3 distinct points and the closing one
        contour = simple

    rows, cols = contour[:, 0] + offset[0] - 1 + 0.5, contour[:, 1] + offset[1] - 1 + 0.5
    return np.stack([cols, rows], axis=1)


def _bridge(outer: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``outer`` with ``hole`` spliced in at their nearest points (there and back along one zero-width edge)."""
    import numpy as np

    hole = hole[:-1] if len(hole) > 1 and np.allclose(hole[0], hole[-1]) else hole
    d = ((outer[:, None, :] - hole[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(int(d.argmin()), d.shape)
    turned = np.roll(hole, -j, axis=0)
    return np.concatenate([outer[:i + 1], turned, turned[:1], outer[i:]])


def region_polygons(mask: np.ndarray, min_area: int = MIN_AREA) -> list[RegionPolygon]:
    """The polygons of a boolean mask's regions (see the module's notes), largest region first."""
    import numpy as np
    from skimage import measure

    regions = measure.label(np.asarray(mask, dtype=bool), connectivity=1)
    out: list[RegionPolygon] = []
    for prop in measure.regionprops(regions):
        if prop.area < max(1, min_area):
            continue
        r0, c0, _, _ = prop.bbox
        comp = np.pad(prop.image, 1)  # the region alone, with a border of background
        outside = measure.label(~comp, connectivity=2)  # background 8-connected, as find_contours sees it
        border = outside[0, 0]
        filled = comp.copy()
        holes = []
        for hole in measure.regionprops(outside):
            if hole.label == border:
                continue
            hole_mask = outside == hole.label
            if hole.area >= max(1, min_area):
                holes.append(hole_mask)
            else:
                filled |= hole_mask
        ring = _ring(filled | np.any(holes, axis=0) if holes else filled, (r0, c0))
        for hole_mask in sorted(holes, key=lambda m: -int(m.sum())):
            ring = _bridge(ring, _ring(hole_mask, (r0, c0)))
        xs, ys = ring[:, 0], ring[:, 1]
        out.append(RegionPolygon(
            coords=[round(float(v), 2) for v in ring.ravel()], area=int(filled.sum()),
            bbox=[float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())]))
    out.sort(key=lambda p: -p.area)
    return out


def drop_small_regions(mask: np.ndarray, min_area: int = MIN_AREA) -> np.ndarray:
    """The boolean mask without its 4-connected regions under ``min_area`` pixels (what the polygon exports leave
    out; the COCO RLE export uses it too, its holes kept exactly)."""
    import numpy as np
    from skimage import measure

    regions = measure.label(np.asarray(mask, dtype=bool), connectivity=1)
    sizes = np.bincount(regions.ravel())
    keep = sizes >= max(1, min_area)
    keep[0] = False
    return keep[regions]


def label_regions(label_map: np.ndarray, values: dict[int, int], min_area: int = MIN_AREA,
                  ) -> list[tuple[int, RegionPolygon]]:
    """(``values[v]``, polygon) of every region of each label value ``v`` in ``values`` (others, e.g. background,
    are left out), value by value."""
    import numpy as np

    out = []
    for value in np.unique(label_map).tolist():
        if value in values:
            out.extend((values[value], p) for p in region_polygons(label_map == value, min_area))
    return out


def yolo_line(class_id: int, polygon: RegionPolygon, width: int, height: int) -> str:
    """One YOLO segmentation line: ``class x1 y1 x2 y2 ...``, coordinates normalised to [0, 1], ring not repeated
    at its end."""
    coords = polygon.coords[:-2] if polygon.coords[:2] == polygon.coords[-2:] else polygon.coords
    scaled = [min(1.0, max(0.0, v / (width if i % 2 == 0 else height))) for i, v in enumerate(coords)]
    return " ".join([str(class_id), *(f"{v:.6f}" for v in scaled)])


def yolo_data_yaml(names: list[str], comment: str) -> str:
    """``data.yaml`` of a YOLO segmentation label set: class ids 0..n-1 and their names (JSON-quoted, valid YAML)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += ["path: .", "train: images", "val: images", f"nc: {len(names)}", "names:"]
    lines += [f"  {i}: {json.dumps(name)}" for i, name in enumerate(names)]
    return "\n".join(lines) + "\n"


HOLES_NOTE = ("one polygon per region of a class; regions under min_area pixels are left out; a hole of at least "
              "min_area pixels is cut into its region's polygon by a zero-width bridge (even-odd filling, as "
              "pycocotools and OpenCV fillPoly do, leaves it empty); smaller holes are filled")
# (image id, width, height, label map or None when its file is gone), in export order
LabelledImage = tuple[str, int, int, "np.ndarray | None"]
# (label value, class name, is stuff) of every class exported
ExportClass = tuple[int, str, bool]


def coco_polygons_document(images: Iterable[LabelledImage], classes: list[ExportClass], area: int,
                           info: dict[str, Any]) -> dict[str, Any]:
    """COCO instances-style JSON: images, categories (``id`` = the label value) and one polygon annotation per
    region ([x0, y0, x1, y1, ...] in COCO pixel coordinates) with its area and bbox."""
    categories = [{"id": i, "name": n, "supercategory": "stuff" if s else "thing", "isthing": 0 if s else 1}
                  for i, n, s in classes]
    values = {i: i for i, _, _ in classes}
    out_images, annotations = [], []
    for number, (image_id, width, height, labels) in enumerate(images, start=1):
        out_images.append({"id": number, "file_name": image_id, "width": width, "height": height})
        if labels is None:
            continue
        for category, polygon in label_regions(labels, values, area):
            annotations.append({"id": len(annotations) + 1, "image_id": number, "category_id": category,
                                "segmentation": [polygon.coords], "area": polygon.area, "bbox": polygon.bbox,
                                "iscrowd": 0})
    return {"info": {**info, "min_area": area, "regions": HOLES_NOTE},
            "images": out_images, "categories": categories, "annotations": annotations}


def export_name(folder: str, image_id: str, suffix: str, taken: set[str]) -> str:
    """``<folder>/<image path without its extension><suffix>``: the name tools look up for ``images/<image path>``
    (``labels/astronaut.png`` for ``astronaut.jpg``). When two images differ only by extension (``a.jpg`` and
    ``a.png``), the second keeps its own extension in front of ``suffix`` (``labels/a.png.png``) so no file is lost;
    ``taken`` holds the names given so far (compared case-insensitively)."""
    path = PurePosixPath(image_id.replace("\\", "/").lstrip("/"))
    name = f"{folder}/{path.with_suffix(suffix).as_posix()}"
    if name.lower() in taken:
        name = f"{folder}/{path.as_posix()}{suffix}"
    taken.add(name.lower())
    return name


def yolo_label_name(image_id: str, taken: set[str]) -> str:
    """``labels/<image path without extension>.txt`` (the name YOLO looks up for ``images/<image path>``); when
    two images share that name, the second keeps its extension (``labels/a.jpg.txt``)."""
    return export_name("labels", image_id, ".txt", taken)


def yolo_zip(images: Iterable[LabelledImage], classes: list[ExportClass], area: int, title: str) -> bytes:
    """``data.yaml`` (class ids 0..n-1 in ``classes`` order, names) and ``labels/<image>.txt`` (one line per
    region: class id, then the polygon normalised to the image's width and height; an empty file for an image
    with nothing found)."""
    values = {i: k for k, (i, _, _) in enumerate(classes)}
    taken: set[str] = set()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for image_id, _, _, labels in images:
            if labels is None:
                continue
            height, width = labels.shape[:2]
            lines = [yolo_line(k, polygon, width, height) for k, polygon in label_regions(labels, values, area)]
            zf.writestr(yolo_label_name(image_id, taken), "".join(f"{line}\n" for line in lines))
        comment = (f"{title}: YOLO segmentation labels, min_area {area} px.\n"
                   "Put the images under images/ (same relative paths) next to labels/.\n"
                   f"Regions: {HOLES_NOTE}.")
        zf.writestr("data.yaml", yolo_data_yaml([n for _, n, _ in classes], comment))
    return buf.getvalue()


def parse_min_area(raw: str | None) -> int:
    """An export's ``?min_area=`` (pixels; default ``MIN_AREA``); an ``InputError`` naming ``min_area``."""
    if raw is None or raw == "":
        return MIN_AREA
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{raw!r} is not a whole number of pixels", "min_area") from None
    if not 1 <= value <= MAX_MIN_AREA:
        raise InputError(f"{value} is outside 1..{MAX_MIN_AREA} pixels", "min_area")
    return value
