"""Real photos bundled with scikit-image and hand-drawn outlines of their main object (tests/data/real_photos.json).

Used to check that MaskCut on real DINOv2 features finds the object (tests) and to choose its block
(scripts/measure_dinov2_layers.py). No download: ``skimage.data`` ships these images in its wheel.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

DEFAULT_OUTLINES = Path(__file__).resolve().parents[2] / "data" / "real_photos.json"


@dataclass(frozen=True)
class Photo:
    name: str
    image: np.ndarray  # uint8 (H, W, 3)
    mask: np.ndarray  # bool (H, W): the hand-drawn main object


def polygon_mask(polygon: list[list[float]], height: int, width: int) -> np.ndarray:
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in polygon], fill=1)
    return np.asarray(canvas, dtype=bool)


def load_photos(outlines: Path = DEFAULT_OUTLINES) -> list[Photo]:
    """Every photo named in ``outlines`` (grayscale ones as RGB) with its object mask."""
    from skimage import data

    spec = json.loads(Path(outlines).read_text())["photos"]
    out = []
    for name, entry in spec.items():
        image = np.asarray(getattr(data, name)())
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        out.append(Photo(name, image[..., :3].astype(np.uint8), polygon_mask(entry["polygon"], *image.shape[:2])))
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
