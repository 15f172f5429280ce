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

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
