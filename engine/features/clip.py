"""CLIP features: second-to-last block KEY features of CLIP's vision tower on a square resize of the crop."""
from __future__ import annotations

from typing import Any

import torch

from engine.config import FeatureConfig
from engine.features.common import (
    CLIP_MEAN,
    CLIP_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    check_images,
    facet_module,
    normalise,
    resize,
    run_and_capture,
    tokens_to_grid,
)


class ClipKeyExtractor:
    """(B, 3, H, W) in [0, 1] -> (B, D, s // p, s // p) with s = ``cfg.clip_input_size`` (448), p = patch (16).

    Inputs are squashed to s x s, normalised with ImageNet statistics (the authors' code; ``cfg.clip_normalisation``
    = "clip" for CLIP's own), and position encodings are interpolated to the larger grid.
    """

    def __init__(self, model: Any, cfg: FeatureConfig, name: str = "clip") -> None:
        self.vision = model.vision_model if hasattr(model, "vision_model") else model
        self.name = name
        vcfg = self.vision.config
        self.patch = int(vcfg.patch_size)
        self.dim = int(vcfg.hidden_size)
        self.side = int(cfg.clip_input_size) // self.patch * self.patch
        if self.side < self.patch:
            self.side = self.patch
        imagenet = cfg.clip_normalisation == "imagenet"
        self.mean, self.std = (IMAGENET_MEAN, IMAGENET_STD) if imagenet else (CLIP_MEAN, CLIP_STD)
        self.antialias = bool(cfg.resize_antialias)
        self._module = facet_module(self.vision, cfg.clip_layer, cfg.clip_facet, "clip extractor")

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Feature grid (independent of the input size: inputs are squashed to a square)."""
        return self.side // self.patch, self.side // self.patch

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, "clip extractor")
        param = next(self.vision.parameters())
        x = resize(images.to(param.device, torch.float32), (self.side, self.side), self.antialias)
        x = normalise(x, self.mean, self.std).to(param.dtype)
        tokens = run_and_capture(
            self._module, lambda: self.vision(pixel_values=x, interpolate_pos_encoding=True)
        )
        g = self.side // self.patch
        return tokens_to_grid(tokens, g, g)
