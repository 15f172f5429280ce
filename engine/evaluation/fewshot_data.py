"""User-style support images for the demo dataset's classes, for the few-shot (``dinov2-small``) profile.

A user who brings examples of "brick" photographs some brick, not the evaluation images. Each support image here
is one class's texture (scikit-image's bundled brick, grass or gravel photo, tinted as in ``engine.demo_data``)
cropped at a different zoom than the evaluation images (1x instead of 2x downscaled, from a separate seed), pasted
as an ellipse on a smooth background: MaskCut has to find it (no mask is given unless ``with_masks``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from engine.evaluation.demo_data import _TINTS, DEMO_CLASSES, _background, _texture_patch, _textures
from engine.errors import BadInputError

SUPPORT_ZOOM_OUT = 1.0  # evaluation images use 2.0: support crops show the material at another scale
SUPPORT_SEED_OFFSET = 1_000  # support crops never reuse the evaluation images' random stream
GREY_TINTS = {name: (0.85, 0.85, 0.85) for name in _TINTS}  # one colour for all: only texture separates classes


def make_support_image(name: str, size: int, rng: np.random.Generator, textures: dict[str, np.ndarray],
                       tints: dict[str, tuple[float, float, float]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 (size, size, 3), object mask bool (size, size)): one textured ellipse on a gradient."""
    if name not in _TINTS:
        raise BadInputError(f"no texture for class {name!r}; choose one of {', '.join(_TINTS)}")
    image = _background(size, rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.4, 0.6, 2) * size
    ry, rx = rng.uniform(0.22, 0.32, 2) * size
    mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    patch = _texture_patch(textures[name], size, rng, (tints or _TINTS)[name], zoom_out=SUPPORT_ZOOM_OUT)
    image[mask] = patch[mask]
    return np.clip(np.round(image), 0, 255).astype(np.uint8), mask


def write_support_folders(root: Path, n_per_class: int = 4, size: int = 224, seed: int = 0,
                          with_masks: bool = False, classes: tuple[str, ...] = DEMO_CLASSES[1:],
                          tints: dict[str, tuple[float, float, float]] | None = None) -> dict[str, Path]:
    """One folder of support images per class under ``root`` (the layout ``engine prototypes --images`` reads);
    ``with_masks`` also writes ``masks/<stem>.png``. Same seed -> same bytes."""
    if n_per_class < 1 or size < 28:
        raise BadInputError(f"need n_per_class >= 1 and size >= 28, got {n_per_class} and {size}")
    rng = np.random.default_rng(seed + SUPPORT_SEED_OFFSET)
    textures = _textures()
    out = {}
    for name in classes:
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            image, mask = make_support_image(name, size, rng, textures, tints)
            Image.fromarray(image).save(folder / f"{name}_{i:02d}.png")
            if with_masks:
                (folder / "masks").mkdir(exist_ok=True)
                Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "masks" / f"{name}_{i:02d}.png")
        out[name] = folder
    return out


def with_support_folders(classes: list, folders: dict[str, Path]) -> list:
    """``ClassSpec`` s with ``user_support_dir`` set from ``folders`` (class name -> folder); others unchanged."""
    return [dataclasses.replace(c, user_support_dir=str(folders[c.name])) if c.name in folders else c
            for c in classes]


def support_folders(root: Path | str) -> dict[str, Path]:
    """Class name -> its support folder, for every sub-folder of ``root`` (``engine segment --support-root``)."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError("support root is not a directory", str(root))
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
