"""Label maps and images as PNG bytes for the dashboard's overlays: the class palette, transparent masks with
hidden classes, plain images (numpy and Pillow are imported on use: web start-up stays free of them)."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Iterable

from engine.palette import palette_hex as engine_palette_hex

if TYPE_CHECKING:
    import numpy as np

IGNORE_INDEX = 255


def parse_hidden(raw: str | None, limit: int = 65536) -> set[int]:
    """``"1,4,7"`` -> {1, 4, 7}; anything that is not a small non-negative int is ignored."""
    out: set[int] = set()
    for part in (raw or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) < limit:
            out.add(int(part))
    return out


def mask_rgba_png(labels: np.ndarray, hidden: Iterable[int] = ()) -> bytes:
    """Label map -> transparent PNG in the class palette; ignored and hidden classes are fully transparent."""
    import numpy as np
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
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def palette_hex(n: int) -> list[str]:
    """CSS colours of the first ``n`` label indices (legend swatches): the engine's one class palette."""
    return engine_palette_hex(n)
