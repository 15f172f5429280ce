"""DINO features: a ViT's (or DINOv2's) last-block KEY features, heads concatenated, stride = patch size."""
from __future__ import annotations

from typing import Any

import torch

from engine.config import FeatureConfig
from engine.features.common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    check_images,
    facet_module,
    normalise,
    resize,
    run_and_capture,
    tokens_to_grid,
)


class DinoKeyExtractor:
    """(B, 3, H, W) in [0, 1] -> (B, D, H // p, W // p); D = hidden size (768 for ViT-B/8), p = patch size.

    Sides that are not multiples of the patch size are resized down to the nearest multiple (at least one patch),
    or cropped to it with ``cfg.dino_fit="crop"`` (the authors' code: its patch convolution drops the remainder).
    ``cfg.dino_max_side`` > 0 first scales an input whose long side exceeds it down to that long side (bilinear, no
    antialias: the code's ``TF.resize(img, 448, max_size=800)`` on tensors, predict.py:176-188).
    Layer and facet come from ``cfg.dino_layer`` / ``cfg.dino_facet`` (paper: last block, key).
    """

    def __init__(self, model: Any, cfg: FeatureConfig, name: str = "dino", onnx: Any = None) -> None:
        """``onnx``: an ``engine.features.dino_onnx.OnnxFacet`` of the same model, layer and facet, which then runs
        the backbone (normalisation included) instead of torch (``runtime.dino_backend``)."""
        self.model = model
        self.onnx = onnx
        self.name = name
        self.patch = int(model.config.patch_size)
        self.dim = int(model.config.hidden_size)
        self._module = facet_module(model, cfg.dino_layer, cfg.dino_facet, "dino extractor")
        self.backend = "torch" if onnx is None else f"onnx-{onnx.precision}"
        self._interpolate = {"interpolate_pos_encoding": True} if model.config.model_type == "vit" else {}
        self.max_side, self.fit = int(cfg.dino_max_side), cfg.dino_fit
        self.antialias = bool(cfg.resize_antialias)

    def capped(self, height: int, width: int) -> tuple[int, int]:
        """Input size after the ``dino_max_side`` cap (torchvision's max_size rule: int() of the short side)."""
        long, short = max(height, width), min(height, width)
        if self.max_side <= 0 or long <= self.max_side:
            return height, width
        new_short = max(1, int(self.max_side * short / long))
        return (self.max_side, new_short) if height >= width else (new_short, self.max_side)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Feature grid of an input size."""
        height, width = self.capped(height, width)
        return max(1, height // self.patch), max(1, width // self.patch)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, "dino extractor")
        h, w = self.grid(images.shape[-2], images.shape[-1])
        param = next(self.model.parameters())
        x = images.to(param.device, torch.float32)
        size = self.capped(x.shape[-2], x.shape[-1])
        if size != tuple(x.shape[-2:]):
            x = resize(x, size, antialias=False)
        if self.fit == "crop" and size[0] >= self.patch and size[1] >= self.patch:
            x = x[..., : h * self.patch, : w * self.patch]
        x = resize(x, (h * self.patch, w * self.patch), self.antialias)
        if self.onnx is not None:
            return tokens_to_grid(self.onnx(x), h, w)
        x = normalise(x, IMAGENET_MEAN, IMAGENET_STD).to(param.dtype)
        tokens = run_and_capture(self._module, lambda: self.model(pixel_values=x, **self._interpolate))
        return tokens_to_grid(tokens, h, w)
