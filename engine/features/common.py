"""Shared plumbing of the feature extractors: input checks, normalisation, capturing one layer's facet."""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import BadInputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FACETS = ("key", "query", "value", "token")
_PROJ = {"key": ("k_proj", "key"), "query": ("q_proj", "query"), "value": ("v_proj", "value")}


def check_images(images: torch.Tensor, who: str) -> None:
    """Extractors take (B, 3, H, W) floats in [0, 1]; anything else is the caller's error."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise BadInputError(f"{who} expects images of shape (B, 3, H, W), got {shape}", item="images")
    if not images.is_floating_point():
        raise BadInputError(f"{who} expects float images in [0, 1], got {images.dtype}", item="images")


def normalise(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    m = torch.tensor(mean, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images - m) / s


def resize(images: torch.Tensor, size: tuple[int, int], antialias: bool = True) -> torch.Tensor:
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=antialias)


def transformer_blocks(model: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
    """(block, attention) pairs of a ViT-like model in depth order: a block is a module whose child has k_proj/key."""
    pairs: list[tuple[nn.Module, nn.Module]] = []
    for _, module in model.named_modules():
        for child in module.children():
            if any(isinstance(getattr(child, n, None), nn.Linear) for n in ("k_proj", "key")):
                pairs.append((module, child))
                break
    return pairs


def facet_module(model: nn.Module, layer: int, facet: str, who: str) -> nn.Module:
    """The module whose output is the wanted facet of transformer block ``layer`` (negative counts from the end)."""
    if facet not in FACETS:
        raise BadInputError(f"{who}: unknown facet; choose one of {', '.join(FACETS)}", item=repr(facet))
    blocks = transformer_blocks(model)
    if not -len(blocks) <= layer < len(blocks):
        raise BadInputError(f"{who}: layer out of range for a {len(blocks)}-block model", item=str(layer))
    block, attention = blocks[layer]
    if facet == "token":
        return block
    for name in _PROJ[facet]:
        proj = getattr(attention, name, None)
        if isinstance(proj, nn.Linear):
            return proj
    raise BadInputError(f"{who}: the model's attention has no {facet} projection", item=facet)


class _Stop(Exception):
    """Raised by a hook once the wanted output is captured: later layers are not computed."""


def run_and_capture(module: nn.Module, forward: Callable[[], Any]) -> torch.Tensor:
    """Run ``forward`` until ``module`` has produced its output, and return that output."""
    captured: list[torch.Tensor] = []

    def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
        captured.append(out[0] if isinstance(out, (tuple, list)) else out)
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        forward()
    except _Stop:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError("the hooked layer did not run")
    return captured[0]


def tokens_to_grid(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, N, D) with the h*w patch tokens last (after CLS/registers) -> (B, D, h, w) float32."""
    patches = tokens[:, tokens.shape[1] - h * w :, :]
    return patches.transpose(1, 2).reshape(tokens.shape[0], -1, h, w).float().contiguous()
