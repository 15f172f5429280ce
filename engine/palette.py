"""The one class palette of every coloured label map (run predictions, overlays, legends, segment page, exports).

PASCAL VOC's colour map draws index 0 black and several classes near-black, so a class can vanish on a dark image.
Here index i gets hue i times the golden angle with alternating saturation and value: neighbouring indices
differ strongly, no colour is darker than value 0.55 or lighter than a light grey, and index 255 (ignore) is grey.
Reading VOC masks still uses ``engine.images.voc_palette``; this palette is for showing labels.
"""
from __future__ import annotations

import colorsys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

IGNORE_COLOUR = (128, 128, 128)
_GOLDEN = 0.618033988749895
_SATURATION = (0.85, 0.55, 0.95)
_VALUE = (0.95, 0.8, 0.7, 0.88)


def class_palette(n: int = 256, ignore_index: int | None = 255) -> np.ndarray:
    """(n, 3) uint8 colours, one per label index; ``ignore_index`` (if < n) is grey."""
    import numpy as np  # here, not at import: the dashboard's legends load this module at web start-up

    pal = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        hue = (0.07 + i * _GOLDEN) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, _SATURATION[i % 3], _VALUE[(i // 3) % 4])
        pal[i] = (round(r * 255), round(g * 255), round(b * 255))
    if ignore_index is not None and 0 <= ignore_index < n:
        pal[ignore_index] = IGNORE_COLOUR
    return pal


def palette_hex(n: int) -> list[str]:
    """CSS colours of the first ``n`` label indices (legend swatches, confusion headers)."""
    return ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in class_palette(max(n, 0))]
