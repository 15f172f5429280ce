"""The simple few-shot baseline the dinov2-small profile must beat (issue #24), on the same DINOv2-S features.

Per support crop: one foreground prototype (mean of its fg patches) and one background prototype (mean of its bg
patches); every patch of the target (short side ``short_side``, whole image) takes the label of its cosine-nearest
prototype, scores upsampled bilinearly to the image before the argmax. Masks are resized to the feature grid as
the banks do (``engine.prototypes.banks.grid_mask``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine.prototypes.banks import grid_mask
from engine.segment.matching import l2_normalise
from engine.segment.windows import resize_short_side

Extractor = Callable[[torch.Tensor], torch.Tensor]
Crop = tuple[np.ndarray, np.ndarray, np.ndarray]  # image uint8 (H, W, 3), fg bool, bg bool


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)[None]


def crop_prototypes(extractor: Extractor, crop: Crop) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(fg mean, bg mean) of one support crop's features; None for an empty side."""
    image, fg, bg = crop
    with torch.inference_mode():
        feats = extractor(_tensor(image))[0].float()  # (D, h, w)
    d, h, w = feats.shape
    flat = feats.reshape(d, h * w)
    out = []
    for mask in (fg, bg):
        cells = grid_mask(mask, (h, w)).reshape(-1) if mask is not None else None
        out.append(flat[:, cells].mean(1) if cells is not None and cells.any() else None)
    return out[0], out[1]


def baseline_labels(extractor: Extractor, image: np.ndarray, classes: Sequence[str],
                    crops: Mapping[str, Sequence[Crop]], short_side: int = 448) -> np.ndarray:
    """uint8 (H, W): 0 background, i + 1 = ``classes[i]`` by the cosine-nearest crop prototype."""
    protos, owner = [], []
    for i, cls in enumerate(classes):
        for crop in crops[cls]:
            fg, bg = crop_prototypes(extractor, crop)
            for vec, label in ((fg, i + 1), (bg, 0)):
                if vec is not None:
                    protos.append(vec)
                    owner.append(label)
    h0, w0 = image.shape[:2]
    with torch.inference_mode():
        x = _tensor(resize_short_side(image, short_side))
        feats = extractor(x)[0].float()
        d, h, w = feats.shape
        sim = l2_normalise(torch.stack(protos)) @ l2_normalise(feats.reshape(d, -1).T).T  # (P, h*w)
        owner_t = torch.tensor(owner)
        scores = torch.full((len(classes) + 1, h * w), -2.0)
        scores = scores.scatter_reduce(0, owner_t[:, None].expand(-1, h * w), sim, "amax")
        up = F.interpolate(scores.reshape(1, -1, h, w), size=(h0, w0), mode="bilinear", align_corners=False)[0]
    return up.argmax(0).numpy().astype(np.uint8)
