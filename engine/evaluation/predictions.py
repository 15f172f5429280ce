"""Prediction files of one evaluated image: a palette label PNG (dataset ids) and an overlay PNG.

Both are written atomically (temp file + rename), so a killed worker never leaves a half file, and both
roads (``python -m engine evaluate`` and the service's shard task) write the same bytes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.storage.atomic import atomic_write
from engine.images import save_label_png
from engine.palette import class_palette

UNMATCHED_VALUE = 255  # "no dataset label" pixels in a label PNG: the palette's grey ignore colour


def prediction_name(image_id: str) -> str:
    """The file name of an image's prediction: its id with path separators flattened."""
    return image_id.replace("/", "_").replace("\\", "_") + ".png"


def write_prediction(out_dir: Path, image_id: str, image: np.ndarray, pred: np.ndarray,
                     num_classes: int) -> dict[str, Path]:
    """``out_dir/pred/<id>.png`` (dataset ids, "no dataset label" as 255) and ``out_dir/overlay/<id>.png``
    (the image blended half and half with the label colours); returns both paths."""
    name = prediction_name(image_id)
    paths = {"prediction": Path(out_dir) / "pred" / name, "overlay": Path(out_dir) / "overlay" / name}
    palette = class_palette(256)  # the one class palette of every coloured label map
    labels = np.where(pred >= num_classes, UNMATCHED_VALUE, pred).astype(np.uint8)
    atomic_write(paths["prediction"], lambda tmp: save_label_png(labels, tmp, palette))
    blended = (0.5 * image.astype(np.float32) + 0.5 * palette[labels].astype(np.float32)).clip(0, 255)
    atomic_write(paths["overlay"],
                 lambda tmp: Image.fromarray(blended.astype(np.uint8)).save(tmp, format="PNG"))
    return paths
