"""A small SYNTHETIC labelled dataset in the folder format, built offline from textures shipped in scikit-image.

Each image is a smooth background with regions filled by brick, grass and gravel textures (tinted so they
read as such); the mask is known exactly because we paint it. It exercises the evaluation path end to end
without any download; its numbers say nothing about accuracy on real photos.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import BadInputError
from engine.images import save_label_png, voc_palette

DEMO_CLASSES: tuple[str, ...] = ("background", "brick", "grass", "gravel")
_TINTS = {"brick": (1.0, 0.55, 0.42), "grass": (0.45, 0.9, 0.35), "gravel": (0.9, 0.85, 0.75)}

README = """SYNTHETIC demo dataset written by engine.evaluation.demo_data.write_demo_dataset (seed={seed}).
Images are composed from the brick, grass and gravel textures that ship inside scikit-image
(skimage.data), tinted and pasted as ellipses, rectangles and half-planes over a smooth gradient
background. masks/ holds the exact per-pixel class indices (palette PNGs) in the order of classes.txt
(index 0 = background). It is for checking the pipeline, not for measuring segmentation quality.
"""


def _textures() -> dict[str, np.ndarray]:
    """Grayscale 512x512 textures bundled with the scikit-image wheel (no network fetch)."""
    from skimage import data

    return {"brick": data.brick(), "grass": data.grass(), "gravel": data.gravel()}


def _texture_patch(tex: np.ndarray, size: int, rng: np.random.Generator, tint: tuple[float, float, float],
                   zoom_out: float = 2.0) -> np.ndarray:
    """A random crop, downscaled ``zoom_out`` x so more structure fits, tinted to RGB float in [0, 255]."""
    crop = min(int(zoom_out * size), tex.shape[0], tex.shape[1])
    y = int(rng.integers(0, tex.shape[0] - crop + 1))
    x = int(rng.integers(0, tex.shape[1] - crop + 1))
    patch = Image.fromarray(tex[y:y + crop, x:x + crop]).resize((size, size), Image.BILINEAR)
    g = np.asarray(patch, dtype=np.float32)
    return np.clip(g[..., None] * np.asarray(tint, dtype=np.float32)[None, None], 0, 255)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    top = rng.uniform(150, 230, 3).astype(np.float32)
    bottom = rng.uniform(60, 140, 3).astype(np.float32)
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3)).copy()


def _shape_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """An ellipse, a rectangle or a half-plane covering a sizeable part of the image."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        cy, cx = rng.uniform(0.25, 0.75, 2) * size
        ry, rx = rng.uniform(0.18, 0.35, 2) * size
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    if kind == 1:
        y0, x0 = rng.uniform(0.05, 0.45, 2) * size
        h, w = rng.uniform(0.3, 0.5, 2) * size
        return (yy >= y0) & (yy < y0 + h) & (xx >= x0) & (xx < x0 + w)
    angle = rng.uniform(0, 2 * np.pi)
    offset = rng.uniform(-0.15, 0.15) * size
    c = size / 2.0
    return (xx - c) * np.cos(angle) + (yy - c) * np.sin(angle) > offset


def make_demo_sample(index: int, size: int, rng: np.random.Generator, textures: dict[str, np.ndarray],
                     tints: dict[str, tuple[float, float, float]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 (size, size, 3), labels uint8 (size, size)) for one demo image."""
    image = _background(size, rng)
    labels = np.zeros((size, size), dtype=np.uint8)
    objects = list(DEMO_CLASSES[1:])
    n = 1 + int(rng.integers(0, len(objects)))
    first = objects[index % len(objects)]  # every class appears across the first few images
    rest = [o for o in objects if o != first]
    chosen = [first] + [rest[i] for i in rng.permutation(len(rest))[: n - 1]]
    for name in reversed(chosen):  # "first" painted last so it stays visible
        region = _shape_mask(size, rng)
        patch = _texture_patch(textures[name], size, rng, (tints or _TINTS)[name])
        image[region] = patch[region]
        labels[region] = DEMO_CLASSES.index(name)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), labels


def write_demo_dataset(root: Path, n_images: int = 6, size: int = 96, seed: int = 0,
                       tints: dict[str, tuple[float, float, float]] | None = None) -> Path:
    """Write images/, masks/, classes.txt and README.txt under ``root``; same seed -> same bytes.
    ``tints`` replaces the per-class colours (e.g. one grey for all: only texture tells the classes apart)."""
    if n_images < 1 or size < 16:
        raise BadInputError(f"need n_images >= 1 and size >= 16, got {n_images} and {size}")
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    textures = _textures()
    palette = voc_palette(256)
    for i in range(n_images):
        image, labels = make_demo_sample(i, size, rng, textures, tints)
        stem = f"demo_{i:03d}"
        Image.fromarray(image).save(root / "images" / f"{stem}.png", format="PNG")
        save_label_png(labels, root / "masks" / f"{stem}.png", palette)
    (root / "classes.txt").write_text("\n".join(DEMO_CLASSES) + "\n", encoding="utf-8")
    (root / "README.txt").write_text(README.format(seed=seed), encoding="utf-8")
    return root
