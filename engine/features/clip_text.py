"""Raw CLIP image-text cosine similarities (the pre-filter's classifier, docs/METHOD.md#category-pre-filter)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import BadInputError
from engine.features.common import CLIP_MEAN, CLIP_STD, normalise, resize


def _embedding(out: Any) -> torch.Tensor:
    """get_*_features returns a tensor in older transformers and an output object in newer ones."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def clip_text_image_similarity(
    registry: Any, image: np.ndarray, prompts: list[str], antialias: bool = True, precision: str | None = None
) -> torch.Tensor:
    """Cosine similarity (no logit scale) of ``image`` to each prompt: float32 (len(prompts),) on the CPU.

    ``image`` is (H, W, 3) uint8 or float in [0, 1]; it is squashed to CLIP's square input size and normalised with
    CLIP's statistics (bilinear; ``antialias=False`` is the authors' torchvision 0.13 tensor resize). Prompts longer
    than the text encoder's limit are truncated. ``precision``: CLIP's (``ModelRegistry.clip_in``); None = the
    CLIP role's. Embeddings are normalised and compared in float32.
    """
    check_image(image)
    if not prompts:
        return torch.zeros(0, dtype=torch.float32)
    return clip_text_embeddings(registry, prompts, precision) @ clip_image_embedding(registry, image, antialias,
                                                                                      precision)


def _clip(registry: Any, precision: str | None) -> tuple[Any, Any]:
    return registry.clip() if precision is None else registry.clip_in(precision)


def check_image(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise BadInputError(f"expected an (H, W, 3) image, got shape {arr.shape}", item="image")
    return arr


@torch.inference_mode()
def clip_image_embedding(registry: Any, image: np.ndarray, antialias: bool = True,
                         precision: str | None = None) -> torch.Tensor:
    """Unit-norm CLIP embedding of an image: float32 (D,) on the CPU (``antialias`` as in
    ``clip_text_image_similarity``)."""
    arr = check_image(image)
    model, _ = _clip(registry, precision)
    param = next(model.parameters())
    pixels = torch.from_numpy(arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0))
    side = int(model.config.vision_config.image_size)
    x = resize(pixels.permute(2, 0, 1)[None].to(param.device), (side, side), antialias=antialias)
    x = normalise(x, CLIP_MEAN, CLIP_STD).to(param.dtype)
    img = _embedding(model.get_image_features(pixel_values=x))
    return F.normalize(img.float(), dim=-1)[0].cpu()


@torch.inference_mode()
def clip_text_embeddings(registry: Any, prompts: list[str], precision: str | None = None) -> torch.Tensor:
    """Unit-norm CLIP embeddings of prompts: float32 (len(prompts), D) on the CPU (long prompts truncated)."""
    model, tokenizer = _clip(registry, precision)
    param = next(model.parameters())
    tokens = tokenizer(
        list(prompts), padding=True, truncation=True, max_length=tokenizer.model_max_length, return_tensors="pt"
    ).to(param.device)
    txt = _embedding(model.get_text_features(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask))
    return F.normalize(txt.float(), dim=-1).cpu()
